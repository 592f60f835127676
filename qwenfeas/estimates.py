"""The metric pipeline: a scenario's values in, a Report of named metrics out.

Straight-line arithmetic over the scenario's values, so the same code serves one
scenario and a numpy sweep. Training metrics live in training.py.
"""

from __future__ import annotations

from typing import NamedTuple

from . import training
from .errors import QwenfeasError
from .fields import PRECISION_BYTES
from .formulas import flops as F
from .formulas import memory as M
from .formulas import params as P
from .formulas import power as W
from .formulas import time as T
from .formulas._array import any_true, is_array, minimum, show
from .report import Metric, Report
from .scenario import Scenario
from .units import format_quantity


class _Builder:
    def __init__(self, scenario: Scenario) -> None:
        self.report = Report(scenario)

    def put(self, name, value, unit, label, formula, function=None, table=None):
        self.report.metrics[name] = Metric(name, value, unit, label, formula, function, table or name.split(".")[0])
        return value

    def term(self, name, value, unit, label, formula, function=None):
        """An intermediate quantity shown by --explain but not an output."""
        self.report.terms[name] = Metric(name, value, unit, label, formula, function)
        return value


class _Layers(NamedTuple):
    """How many layers of each attention kind a model has."""

    full: float  # softmax attention over the whole context
    sliding: float  # softmax attention over the last `window` tokens
    linear: float  # linear attention: a constant-size state
    window: float  # the sliding window in tokens (infinite when none)


def _layers(s: dict) -> _Layers:
    linear = s.get("model.linear_attention.layers", 0.0)
    sliding = s.get("model.attention.sliding_layers", 0.0)
    return _Layers(s["model.layers"] - linear - sliding, sliding, linear,
                   s.get("model.attention.sliding_window", F.UNBOUNDED))


def estimate(scenario: Scenario) -> Report:
    """Every estimate a scenario supports, as a Report."""
    s = scenario.values
    b = _Builder(scenario)
    layers = _layers(s)
    _model(b, s, layers)
    _kv_and_memory(b, s, layers)
    if "tokens" in s:
        training.add_training(b, s, layers)
    _inference(b, s, layers)
    if "test_time" in s:
        _test_time(b, s, layers)
    _power(b, s)
    if "synthetic.tokens" in s:
        _synthetic(b, s, layers)
    if "capex.accelerator" in s:
        _capex(b, s)
    _check_finite(b.report)
    return b.report


def _check_finite(report: Report) -> None:
    """Refuse to report an infinite or undefined number (a safety net behind the input bounds)."""
    import math

    for metric in report.metrics.values():
        value = metric.value
        if hasattr(value, "dtype"):  # a numpy sweep: numpy is already loaded
            import numpy as np

            finite = bool(np.all(np.isfinite(value)))
        else:
            finite = math.isfinite(value)
        if not finite:
            raise QwenfeasError(f"{metric.name} is not a finite number", file=report.scenario.file,
                                hint="an input is extremely large or small for what it describes: check its unit")


def _model(b: _Builder, s: dict, layers: _Layers) -> None:
    h, L, nq, d, V = s["model.hidden"], s["model.layers"], s["model.heads"], s["model.head_dim"], s["model.vocab"]
    tied = s["model.tied_embeddings"]
    b.term("full_attention_layers", layers.full, "count", "layers with full attention",
           "{model.layers}" + (" - {model.linear_attention.layers}" if any_true(layers.linear) else "")
           + (" - {model.attention.sliding_layers}" if any_true(layers.sliding) else ""))
    if s["model.attention.kind"] == "mla":
        attn = b.term("attention_params", P.mla_attention_params(
            h, nq, d, s["model.attention.rope_head_dim"], s["model.attention.v_head_dim"],
            s["model.attention.kv_lora_rank"], s["model.attention.q_lora_rank"]), "count",
            "attention weights per layer (MLA)",
            "MLA({model.hidden}, {model.heads}, {model.head_dim}, {model.attention.rope_head_dim}, "
            "{model.attention.v_head_dim}, {model.attention.kv_lora_rank}, {model.attention.q_lora_rank})",
            P.mla_attention_params)
    else:
        attn = b.term("attention_params", P.attention_params(
            h, nq, s["model.kv_heads"], d, s["model.qkv_bias"], s["model.qk_norm"], s["model.attention.output_gate"]),
            "count", "attention weights per softmax-attention layer",
            "{model.hidden} × {model.head_dim} × ((2 + {model.attention.output_gate}) × {model.heads} + 2 × "
            "{model.kv_heads}) [+ bias, QK-norm]", P.attention_params)
    attention_total = (L - layers.linear) * attn
    attention_formula = "({model.layers} - {model.linear_attention.layers}) × {attention_params}"
    if any_true(layers.linear):
        linear = b.term("linear_attention_params", P.linear_attention_params(
            h, s["model.linear_attention.key_heads"], s["model.linear_attention.value_heads"],
            s["model.linear_attention.key_head_dim"], s["model.linear_attention.value_head_dim"],
            s["model.linear_attention.conv_kernel"]), "count", "weights per linear-attention layer",
            "GatedDeltaNet({model.hidden}, {model.linear_attention.key_heads} × {model.linear_attention.key_head_dim}, "
            "{model.linear_attention.value_heads} × {model.linear_attention.value_head_dim}, "
            "kernel {model.linear_attention.conv_kernel})", P.linear_attention_params)
        attention_total = attention_total + layers.linear * linear
        attention_formula += " + {model.linear_attention.layers} × {linear_attention_params}"
    else:
        attention_formula = "{model.layers} × {attention_params}"
    b.term("attention_weights", attention_total, "count", "attention weights, all layers", attention_formula)
    embedding = b.term("embedding_params", V * h, "count", "embedding matrix", "{model.vocab} × {model.hidden}")
    gated = s["model.ffn_gated"]
    moe = "model.moe.experts" in s
    dense_layers = s["model.moe.dense_layers"] if moe else L
    dense_ffn = P.ffn_params(h, s["model.ffn_hidden"], gated) if "model.ffn_hidden" in s else 0.0
    b.term("dense_ffn_params", dense_ffn, "count", "dense FFN weights per layer",
           "(2 + {model.ffn_gated}) × {model.hidden} × {model.ffn_hidden}", P.ffn_params)
    if moe:
        moe_all, moe_active = P.moe_ffn_params(
            h, s["model.moe.experts"], s["model.moe.top_k"], s["model.moe.shared_experts"],
            s["model.moe.expert_ffn_hidden"], s["model.moe.shared_expert_ffn_hidden"], gated,
            s["model.moe.shared_expert_gate"])
        moe_layers = L - dense_layers
        b.term("moe_params", moe_all, "count", "MoE FFN weights per MoE layer (all experts)",
               "{model.hidden} × {model.moe.experts} + {model.moe.experts} × FFN(expert) "
               "+ {model.moe.shared_experts} × FFN(shared)", P.moe_ffn_params)
        b.term("moe_active_params", moe_active, "count", "MoE FFN weights one token uses per MoE layer",
               "{model.hidden} × {model.moe.experts} + {model.moe.top_k} × FFN(expert) "
               "+ {model.moe.shared_experts} × FFN(shared)", P.moe_ffn_params)
        expert = b.term("expert_params", P.ffn_params(h, s["model.moe.expert_ffn_hidden"], gated), "count",
                        "weights of one routed expert", "(2 + {model.ffn_gated}) × {model.hidden} × "
                        "{model.moe.expert_ffn_hidden}", P.ffn_params)
        b.term("routed_expert_params", moe_layers * s["model.moe.experts"] * expert, "count",
               "routed-expert weights, all layers",
               "({model.layers} - {model.moe.dense_layers}) × {model.moe.experts} × {expert_params}")
    else:
        moe_all = moe_active = moe_layers = 0.0

    def whole(moe_ffn):
        return P.transformer_params(embedding, tied, L, attention_total, dense_layers, dense_ffn, moe_layers,
                                    moe_ffn, h)

    structure = ("{embedding_params} × (2 - {model.tied_embeddings}) + {attention_weights} + {model.layers} × 2 × "
                 "{model.hidden} + " + ("{model.moe.dense_layers} × {dense_ffn_params} + "
                 "({model.layers} - {model.moe.dense_layers}) × {%s} + {model.hidden}" if moe
                 else "{model.layers} × {dense_ffn_params} + {model.hidden}"))
    if "model.params" in s:
        total = b.put("model.params", s["model.params"], "count", "parameters (total)", "{model.params} (given)")
    else:
        total = b.put("model.params", whole(moe_all), "count", "parameters (total)",
                      structure % "moe_params" if moe else structure, P.transformer_params)
    if "model.active_params" in s:
        active = b.put("model.active_params", s["model.active_params"], "count", "parameters active per token",
                       "{model.active_params} (given)")
    elif moe:
        active = b.put("model.active_params", whole(moe_active), "count", "parameters active per token",
                       structure % "moe_active_params", P.transformer_params)
    else:
        active = b.put("model.active_params", total, "count", "parameters active per token",
                       "{model.params} (dense)")
    _check_given_counts(b.report.scenario, total, active, embedding, tied)
    b.put("model.non_embedding_params", total - embedding * (2 - tied), "count", "parameters excluding embeddings",
          "{model.params} - {embedding_params} × (2 - {model.tied_embeddings})")
    b.put("model.matmul_params", F.matmul_params(active, embedding, tied), "count",
          "weights one token multiplies", "{model.active_params} - {embedding_params} × (1 - {model.tied_embeddings})",
          F.matmul_params)
    if s["model.attention.kind"] == "mla":
        qk, v = d + s["model.attention.rope_head_dim"], s["model.attention.v_head_dim"]
        dims = "({model.head_dim} + {model.attention.rope_head_dim} + {model.attention.v_head_dim})"
    else:
        qk = v = d
        dims = "(2 × {model.head_dim})"
    b.put("model.attention_flops_per_key", F.attention_flops_per_key(layers.full, nq, qk, v), "FLOP",
          "attention FLOPs per token per attended token", "2 × {full_attention_layers} × {model.heads} × " + dims,
          F.attention_flops_per_key)
    if any_true(layers.sliding):
        b.put("model.sliding_attention_flops_per_key", F.attention_flops_per_key(layers.sliding, nq, qk, v), "FLOP",
              "the same, sliding-window layers (keys within the window)",
              "2 × {model.attention.sliding_layers} × {model.heads} × " + dims, F.attention_flops_per_key)
    if any_true(layers.full):
        b.put("model.attention_crossover_tokens", F.attention_crossover_tokens(
            b.report["model.matmul_params"], b.report["model.attention_flops_per_key"]), "count",
            "context where causal attention FLOPs pass the weights' (prefill; one decode step at about half)",
            "4 × {model.matmul_params} / {model.attention_flops_per_key} - 1", F.attention_crossover_tokens)
    if any_true(layers.linear):
        b.put("model.linear_attention_flops_per_token", F.linear_attention_flops_per_token(
            layers.linear, s["model.linear_attention.value_heads"], s["model.linear_attention.key_head_dim"],
            s["model.linear_attention.value_head_dim"]), "FLOP", "linear-attention state FLOPs per token",
            "8 × {model.linear_attention.layers} × {model.linear_attention.value_heads} × "
            "{model.linear_attention.key_head_dim} × {model.linear_attention.value_head_dim}",
            F.linear_attention_flops_per_token)


def _check_given_counts(scenario: Scenario, total, active, embedding, tied) -> None:
    """A given params / active_params must be consistent with each other and the architecture."""
    if "model.params" not in scenario and "model.active_params" not in scenario:
        return  # both derived from the architecture: consistent by construction
    key = "model.active_params" if "model.active_params" in scenario else "model.params"
    def largest(x):  # a sweep's worst point, for the message
        return float(x.max()) if is_array(x) else x

    if any_true(active > total):
        raise QwenfeasError(f"{format_quantity(largest(active), 'count')} active parameters exceed the "
                            f"{format_quantity(largest(total), 'count')} total", **scenario.where(key),
                            hint="active_params counts the weights one token uses; it cannot exceed params")
    tables = embedding * (2 - tied)
    for name, count, least in (("model.params", total, tables), (key, active, tables)):
        if name in scenario and any_true(count <= least):
            raise QwenfeasError(
                f"{format_quantity(largest(count), 'count')} is not more than this architecture's embedding "
                f"matrices ({format_quantity(largest(least), 'count')})", **scenario.where(name),
                hint="give the whole count, or drop the key to derive it from the architecture")


def _attention_work(r: Report, layers: _Layers, start, steps):
    """(FLOPs, bytes read) of attention for `steps` tokens after `start` cached ones."""
    keys = F.attended_keys(start, steps)
    flops = r["model.attention_flops_per_key"] * keys
    read = r.terms["full_kv_bytes_per_token"].value * keys
    if any_true(layers.sliding):
        window_keys = F.attended_keys(start, steps, layers.window)
        flops = flops + r["model.sliding_attention_flops_per_key"] * window_keys
        read = read + r.terms["sliding_kv_bytes_per_token"].value * window_keys
    if any_true(layers.linear):
        flops = flops + r["model.linear_attention_flops_per_token"] * steps
        read = read + r["kv_cache.state_bytes_per_sequence"] * steps
    return flops, read


def _kv_and_memory(b: _Builder, s: dict, layers: _Layers) -> None:
    kv_bytes = PRECISION_BYTES[s["precision.kv_cache"]]
    w_bytes = PRECISION_BYTES[s["precision.weights"]]
    b.term("bytes_per_kv_value", kv_bytes, "B", "bytes per KV-cache value", "{precision.kv_cache}")
    b.term("bytes_per_weight", w_bytes, "B", "bytes per weight", "{precision.weights}")
    C = s["context"]
    if s["model.attention.kind"] == "mla":
        kv_function = M.mla_kv_cache_bytes_per_token
        kv_formula = ("{full_attention_layers} × ({model.attention.kv_lora_rank} + {model.attention.rope_head_dim})"
                      " × {bytes_per_kv_value}")
        full = kv_function(layers.full, s["model.attention.kv_lora_rank"], s["model.attention.rope_head_dim"],
                           kv_bytes)
    else:
        kv_function = M.kv_cache_bytes_per_token
        kv_formula = "2 × {full_attention_layers} × {model.kv_heads} × {model.head_dim} × {bytes_per_kv_value}"
        full = kv_function(layers.full, s["model.kv_heads"], s["model.head_dim"], kv_bytes)
    b.term("full_kv_bytes_per_token", full, "B", "KV cache per token, full-attention layers", kv_formula,
           kv_function)
    per_token, per_token_formula = full, kv_formula
    per_sequence, per_sequence_formula = full * C, "{full_kv_bytes_per_token} × {context}"
    if any_true(layers.sliding):
        sliding = b.term("sliding_kv_bytes_per_token", M.kv_cache_bytes_per_token(
            layers.sliding, s["model.kv_heads"], s["model.head_dim"], kv_bytes), "B",
            "KV cache per token, sliding-window layers",
            "2 × {model.attention.sliding_layers} × {model.kv_heads} × {model.head_dim} × {bytes_per_kv_value}",
            M.kv_cache_bytes_per_token)
        per_token, per_token_formula = per_token + sliding, "{full_kv_bytes_per_token} + {sliding_kv_bytes_per_token}"
        per_sequence = per_sequence + sliding * minimum(C, layers.window)
        per_sequence_formula += " + {sliding_kv_bytes_per_token} × min({context}, {model.attention.sliding_window})"
    b.put("kv_cache.bytes_per_token", per_token, "B", "per token, all layers", per_token_formula,
          None if any_true(layers.sliding) else kv_function)
    if any_true(layers.linear):
        state = b.put("kv_cache.state_bytes_per_sequence", M.linear_attention_state_bytes(
            layers.linear, s["model.linear_attention.key_heads"], s["model.linear_attention.value_heads"],
            s["model.linear_attention.key_head_dim"], s["model.linear_attention.value_head_dim"],
            s["model.linear_attention.conv_kernel"], PRECISION_BYTES[s["precision.state"]]), "B",
            "linear-attention state per sequence (any length)",
            "{model.linear_attention.layers} × ({model.linear_attention.value_heads} × "
            "{model.linear_attention.key_head_dim} × {model.linear_attention.value_head_dim} + conv) × "
            "{precision.state}", M.linear_attention_state_bytes)
        per_sequence, per_sequence_formula = per_sequence + state, per_sequence_formula + \
            " + {kv_cache.state_bytes_per_sequence}"
    per_sequence = b.put("kv_cache.bytes_per_sequence", per_sequence, "B", "per sequence at context",
                         per_sequence_formula)
    usable = b.term("usable_memory", s["hardware.memory"] * (1 - s["hardware.memory_reserve"]), "B",
                    "memory per accelerator for weights and cache",
                    "{hardware.memory} × (1 - {hardware.memory_reserve})")
    b.put("kv_cache.accelerators_per_sequence", per_sequence / usable, "count",
          "accelerators' usable memory one sequence fills", "{kv_cache.bytes_per_sequence} / {usable_memory}")
    b.put("kv_cache.min_accelerators", M.accelerators_to_hold(per_sequence, usable), "count",
          "accelerators to hold one sequence's cache alone",
          "ceil({kv_cache.bytes_per_sequence} / {usable_memory})", M.accelerators_to_hold)
    report = b.report
    weights = b.put("memory.weights_bytes", M.weights_bytes(report["model.params"], w_bytes), "B",
                    "weights, all parameters", "{model.params} × {bytes_per_weight}", M.weights_bytes)
    b.put("memory.active_weights_bytes", M.weights_bytes(report["model.active_params"], w_bytes), "B",
          "weights one token touches", "{model.active_params} × {bytes_per_weight}", M.weights_bytes)
    if "routed_expert_params" in report.terms:
        b.put("memory.routed_expert_bytes", M.weights_bytes(report.terms["routed_expert_params"].value, w_bytes),
              "B", "routed experts, all layers", "{routed_expert_params} × {bytes_per_weight}", M.weights_bytes)
    b.put("memory.min_accelerators", M.accelerators_to_hold(weights + per_sequence, usable), "count",
          "fewest accelerators holding weights + one sequence",
          "ceil(({memory.weights_bytes} + {kv_cache.bytes_per_sequence}) / {usable_memory})",
          M.accelerators_to_hold)


def _inference(b: _Builder, s: dict, layers: _Layers) -> None:
    r = b.report
    if "inference.accelerators" in s:
        n = b.put("inference.accelerators", s["inference.accelerators"], "count", "accelerators per replica",
                  "{inference.accelerators} (given)")
    else:
        n = b.put("inference.accelerators", r["memory.min_accelerators"], "count", "accelerators per replica",
                  "{memory.min_accelerators} (fewest that hold the weights and the cache)")
    peak, mfu, bw = s["hardware.peak_flops"], s["hardware.mfu"], s["hardware.bandwidth"]
    N, C = r["model.matmul_params"], s["context"]
    attention, _ = _attention_work(r, layers, 0, C)
    prefill = b.put("inference.prefill_flops", F.forward_flops(N, C, 1.0, attention), "FLOP",
                    "prefill of the context", "2 × {model.matmul_params} × {context} + attention over "
                    "{context} × ({context} + 1) / 2 keys at {model.attention_flops_per_key}", F.forward_flops)
    b.put("inference.prefill_seconds", T.roofline_seconds(prefill, r["memory.weights_bytes"], n, peak, mfu, bw), "s",
          "time to first token", "max({inference.prefill_flops} / ({inference.accelerators} × {hardware.peak_flops} "
          "× {hardware.mfu}), {memory.weights_bytes} / ({inference.accelerators} × {hardware.bandwidth}))",
          T.roofline_seconds)
    attention, read = _attention_work(r, layers, C, 1)
    step = b.put("inference.flops_per_token", F.forward_flops(N, 1, 1.0, attention), "FLOP",
                 "one decoded token, context cached",
                 "2 × {model.matmul_params} + {model.attention_flops_per_key} × ({context} + 1)", F.forward_flops)
    w_bytes = PRECISION_BYTES[s["precision.weights"]]
    step_bytes = b.put("inference.bytes_per_token", N * w_bytes + read, "B", "memory read per decoded token",
                       "{model.matmul_params} × {bytes_per_weight} + {kv_cache.bytes_per_token} × ({context} + 1)")
    seconds = b.put("inference.decode_seconds_per_token", T.roofline_seconds(step, step_bytes, n, peak, mfu, bw), "s",
                    "time per decoded token, one sequence", "max({inference.flops_per_token} / ({inference.accelerators} × "
                    "{hardware.peak_flops} × {hardware.mfu}), {inference.bytes_per_token} / "
                    "({inference.accelerators} × {hardware.bandwidth}))", T.roofline_seconds)
    b.put("inference.decode_tokens_per_second", 1.0 / seconds, "tokens/s", "decode speed, one sequence",
          "1 / {inference.decode_seconds_per_token}")
    _batched_decode(b, s, n, step, read, w_bytes)


def _batched_decode(b: _Builder, s: dict, n, step_flops, kv_read, w_bytes) -> None:
    """Decode throughput of one replica at inference.batch sequences, and the largest batch that fits."""
    r = b.report
    usable = r.terms["usable_memory"].value
    room = n * usable - r["memory.weights_bytes"]
    b.put("inference.max_batch", M.floor_div(room, r["kv_cache.bytes_per_sequence"]), "count",
          "largest batch whose caches fit at context",
          "floor(({inference.accelerators} × {usable_memory} - {memory.weights_bytes}) / "
          "{kv_cache.bytes_per_sequence})")
    batch = s["inference.batch"]
    if any_true(batch > r["inference.max_batch"]):
        r.notes.append(f"inference.batch {show(batch)} does not fit: at most {show(r['inference.max_batch'])} sequences' "
                       "caches fit beside the weights; the throughput shown assumes more memory")
    weights_read = r["model.matmul_params"] * w_bytes
    if "model.moe.experts" in s:
        E, k = s["model.moe.experts"], s["model.moe.top_k"]
        expert = r.terms["expert_params"].value * w_bytes
        moe_layers = s["model.layers"] - s["model.moe.dense_layers"]
        weights_read = weights_read + moe_layers * expert * (M.experts_touched(E, k, batch) - k)
    step_bytes = weights_read + batch * kv_read
    seconds = T.roofline_seconds(batch * step_flops, step_bytes, n, s["hardware.peak_flops"], s["hardware.mfu"],
                                 s["hardware.bandwidth"])
    b.put("inference.batch_tokens_per_second", batch / seconds, "tokens/s",
          f"decode throughput at batch {show(batch)}",
          "{inference.batch} / max({inference.batch} × {inference.flops_per_token} / ({inference.accelerators} × "
          "{hardware.peak_flops} × {hardware.mfu}), (weights read + {inference.batch} × KV read) / "
          "({inference.accelerators} × {hardware.bandwidth}))", M.experts_touched)


def _test_time(b: _Builder, s: dict, layers: _Layers) -> None:
    r = b.report
    n, peak, mfu, bw = r["inference.accelerators"], s["hardware.peak_flops"], s["hardware.mfu"], s["hardware.bandwidth"]
    N, steps = r["model.matmul_params"], s["test_time"]
    prompt = b.put("test_time.prompt_tokens", s["context"] - steps, "count", "prompt before the reasoning",
                   "{context} - {test_time}")
    w_bytes = PRECISION_BYTES[s["precision.weights"]]
    attention, _ = _attention_work(r, layers, 0, prompt)
    prefill_flops = F.forward_flops(N, prompt, 1.0, attention)
    prefill_bytes = r["memory.weights_bytes"] * (prompt > 0)
    attention, read = _attention_work(r, layers, prompt, steps)
    decode_flops = F.forward_flops(N, steps, 1.0, attention)
    decode_bytes = N * w_bytes * steps + read
    b.put("test_time.flops", prefill_flops + decode_flops, "FLOP", "FLOPs per query",
          "prefill of {test_time.prompt_tokens} tokens + 2 × {model.matmul_params} × {test_time} + "
          "{model.attention_flops_per_key} × ({test_time} × {test_time.prompt_tokens} + {test_time} × "
          "({test_time} + 1) / 2)", F.forward_flops)
    b.put("test_time.read_bytes", prefill_bytes + decode_bytes, "B", "memory read per query",
          "{memory.weights_bytes} (prefill) + {test_time} × {model.matmul_params} × {bytes_per_weight} + "
          "{kv_cache.bytes_per_token} × attended keys")
    seconds = b.put("test_time.seconds", T.roofline_seconds(prefill_flops, prefill_bytes, n, peak, mfu, bw)
                    + T.roofline_seconds(decode_flops, decode_bytes, n, peak, mfu, bw), "s", "time per query",
                    "roofline(prefill) + roofline(decode) on {inference.accelerators} accelerators",
                    T.roofline_seconds)
    watts = W.facility_watts(W.it_watts(n, s["hardware.tdp"], s["datacenter.overhead"]), s["datacenter.pue"])
    b.put("test_time.energy_kwh", W.energy_kwh(watts, seconds), "kWh", "facility energy per query (replica at TDP)",
          "{inference.accelerators} × {hardware.tdp} × (1 + {datacenter.overhead}) × {datacenter.pue} × "
          "{test_time.seconds} / 3.6e6", W.energy_kwh)
    b.put("test_time.cost_usd", W.rental_cost_usd(T.accelerator_hours(n, seconds), s["datacenter.gpu_hour"]), "USD",
          "rental cost per query (whole replica)",
          "{inference.accelerators} × {test_time.seconds} / 3600 × {datacenter.gpu_hour}",
          W.rental_cost_usd)



def _power(b: _Builder, s: dict) -> None:
    r = b.report
    if "hardware.count" in s:
        n = b.put("power.accelerators", s["hardware.count"], "count", "accelerators powered", "{hardware.count}")
    else:
        n = b.put("power.accelerators", r["inference.accelerators"], "count", "accelerators powered",
                  "{inference.accelerators} (no hardware.count: one serving replica)")
    b.put("power.accelerator_watts", n * s["hardware.tdp"], "W", "accelerators at TDP",
          "{power.accelerators} × {hardware.tdp}")
    it = b.put("power.it_watts", W.it_watts(n, s["hardware.tdp"], s["datacenter.overhead"]), "W", "IT load",
               "{power.accelerator_watts} × (1 + {datacenter.overhead})", W.it_watts)
    facility = b.put("power.facility_watts", W.facility_watts(it, s["datacenter.pue"]), "W", "facility power",
                     "{power.it_watts} × {datacenter.pue}", W.facility_watts)
    if "tokens" not in s:
        return
    energy = b.put("training.energy_kwh", W.energy_kwh(facility, r["training.seconds"]), "kWh",
                   "training energy (facility)", "{power.facility_watts} × {training.seconds} / 3.6e6",
                   W.energy_kwh, table="power")
    b.put("training.co2_kg", W.co2_kg(energy, s["datacenter.carbon"]), "kg", "training CO2e",
          "{training.energy_kwh} × {datacenter.carbon}", W.co2_kg, table="power")
    b.put("training.cost_usd", W.rental_cost_usd(r["training.gpu_hours"], s["datacenter.gpu_hour"]), "USD",
          "training rental cost", "{training.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd, table="power")
    b.put("training.electricity_cost_usd", W.electricity_cost_usd(energy, s["datacenter.electricity"]), "USD",
          "training electricity (owner-operator)", "{training.energy_kwh} × {datacenter.electricity}",
          W.electricity_cost_usd, table="power")


def _synthetic(b: _Builder, s: dict, layers: _Layers) -> None:
    """What generating the synthetic tokens costs on the scenario's fleet, next to training on them."""
    r = b.report
    C = s["synthetic.context"]
    generator = s.get("synthetic.generator")
    if generator is None:
        attention, _ = _attention_work(r, layers, 0, C)
        sequence = F.forward_flops(r["model.matmul_params"], C, 1.0, attention)
        who = "the scenario's model"
    else:
        sequence = _generator_report(generator, C)["inference.prefill_flops"]
        who = generator
    b.term("generated_sequence_flops", sequence, "FLOP", f"forward FLOPs of one {show(C, ',.0f')}-token sequence "
           f"({who})", "2 × N × {synthetic.context} + causal attention over it", F.forward_flops)
    generated = b.put("synthetic.generated_tokens", s["synthetic.tokens"] / s["synthetic.keep"], "count",
                      "tokens generated (before filtering)", "{synthetic.tokens} / {synthetic.keep}")
    flops = b.put("synthetic.flops", F.generation_flops(generated, sequence, C),
                  "FLOP", f"generation FLOPs ({who})",
                  "{synthetic.generated_tokens} × {generated_sequence_flops} / {synthetic.context}",
                  F.generation_flops)
    n = s["hardware.count"]
    seconds = b.put("synthetic.seconds", T.compute_seconds(flops, n, s["hardware.peak_flops"], s["synthetic.mfu"]),
                    "s", "generation time on the fleet",
                    "{synthetic.flops} / ({hardware.count} × {hardware.peak_flops} × {synthetic.mfu})",
                    T.compute_seconds)
    hours = b.put("synthetic.gpu_hours", T.accelerator_hours(n, seconds), "h", "accelerator-hours",
                  "{hardware.count} × {synthetic.seconds} / 3600", T.accelerator_hours)
    energy = b.put("synthetic.energy_kwh", W.energy_kwh(r["power.facility_watts"], seconds), "kWh",
                   "generation energy (facility)", "{power.facility_watts} × {synthetic.seconds} / 3.6e6", W.energy_kwh)
    b.put("synthetic.co2_kg", W.co2_kg(energy, s["datacenter.carbon"]), "kg", "generation CO2e",
          "{synthetic.energy_kwh} × {datacenter.carbon}", W.co2_kg)
    b.put("synthetic.cost_usd", W.rental_cost_usd(hours, s["datacenter.gpu_hour"]), "USD", "generation rental cost",
          "{synthetic.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd)
    if "training.flops" in r.metrics:
        b.put("synthetic.fraction_of_training", flops / r["training.flops"], "fraction",
              "generation FLOPs over training FLOPs", "{synthetic.flops} / {training.flops}")


def _generator_report(preset: str, context) -> Report:
    """The generator model's own estimate at the generation context (its FLOPs only are used)."""
    from .scenario import loads

    text = f"model: {{preset: {preset}}}\nhardware: {{peak_flops: 1, memory: 1, bandwidth: 1, tdp: 1}}\n"
    return estimate(loads(text, f"synthetic.generator {preset}", vary={"context": context}))


def _capex(b: _Builder, s: dict) -> None:
    """What building the fleet costs, all in, and what a capital budget (limits.capex) buys."""
    r = b.report
    it_each = s["hardware.tdp"] * (1 + s["datacenter.overhead"])
    each = b.put("capex.per_accelerator_usd", W.capex_per_accelerator_usd(
        s["capex.accelerator"], s["capex.server"], s["capex.network"], s["capex.facility_per_mw"], it_each), "USD",
        "all-in capital cost per accelerator", "{capex.accelerator} + {capex.server} + {capex.network} + "
        "{capex.facility_per_mw} × {hardware.tdp} × (1 + {datacenter.overhead}) / 1e6", W.capex_per_accelerator_usd)
    b.put("capex.fleet_usd", r["power.accelerators"] * each, "USD", "capital cost of the fleet",
          "{power.accelerators} × {capex.per_accelerator_usd}")
    if "limits.capex" in s:
        affordable = b.put("capex.affordable_accelerators", M.floor_div(s["limits.capex"], each), "count",
                           "accelerators the capital budget buys", "floor({limits.capex} / {capex.per_accelerator_usd})")
        b.put("capex.affordable_facility_watts", W.facility_watts(W.it_watts(affordable, s["hardware.tdp"],
              s["datacenter.overhead"]), s["datacenter.pue"]), "W", "facility power they draw",
              "{capex.affordable_accelerators} × {hardware.tdp} × (1 + {datacenter.overhead}) × {datacenter.pue}",
              W.facility_watts)

