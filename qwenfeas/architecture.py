"""The model itself: parameter counts, attention work, KV cache and weight memory.

Every later wing (training, serving, accounting) reads these counts from the report.
Straight-line arithmetic over the scenario's values, so the same code serves one
scenario and a numpy sweep.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import QwenfeasError
from .formulas import flops as F
from .formulas import memory as M
from .formulas import params as P
from .formulas._array import any_true, is_array, minimum
from .report import Builder, Report
from .scenario.fields import PRECISION_BYTES
from .scenario.load import Scenario
from .scenario.units import format_quantity


class Layers(NamedTuple):
    """How many layers of each attention kind a model has."""

    full: float  # softmax attention over the whole context
    sliding: float  # softmax attention over the last `window` tokens
    linear: float  # linear attention: a constant-size state
    window: float  # the sliding window in tokens (infinite when none)


def attention_layers(s: dict) -> Layers:
    linear = s.get("model.linear_attention.layers", 0.0)
    sliding = s.get("model.attention.sliding_layers", 0.0)
    return Layers(s["model.layers"] - linear - sliding, sliding, linear,
                   s.get("model.attention.sliding_window", F.UNBOUNDED))


def add_architecture(b: Builder, s: dict, layers: Layers) -> None:
    """Parameter counts, attention FLOPs per key, KV cache and weight memory, onto the builder `b`."""
    _model(b, s, layers)
    _kv_and_memory(b, s, layers)


def _model(b: Builder, s: dict, layers: Layers) -> None:
    h, L, nq, d, V = s["model.hidden"], s["model.layers"], s["model.heads"], s["model.head_dim"], s["model.vocab"]
    tied = s["model.tied_embeddings"]
    b.term("full_attention_layers", layers.full, "count", "layers with full attention",
           "{model.layers}" + (" - {model.linear_attention.layers}" if any_true(layers.linear) else "")
           + (" - {model.attention.sliding_layers}" if any_true(layers.sliding) else ""))
    if s["model.attention.kind"] == "mla":
        attn = b.term("attention_params", P.mla_attention_params(
            h, nq, d, s["model.attention.rope_head_dim"], s["model.attention.v_head_dim"],
            s["model.attention.kv_lora_rank"], s["model.attention.q_lora_rank"], s["model.attention.output_gate"]),
            "count", "attention weights per layer (MLA)",
            "MLA({model.hidden}, {model.heads}, {model.head_dim}, {model.attention.rope_head_dim}, "
            "{model.attention.v_head_dim}, {model.attention.kv_lora_rank}, {model.attention.q_lora_rank}, "
            "gate {model.attention.output_gate})", P.mla_attention_params)
    else:
        attn = b.term("attention_params", P.attention_params(
            h, nq, s["model.kv_heads"], d, s["model.qkv_bias"], s["model.qk_norm"], s["model.attention.output_gate"]),
            "count", "attention weights per softmax-attention layer",
            "{model.hidden} × {model.head_dim} × ((2 + {model.attention.output_gate}) × {model.heads} + 2 × "
            "{model.kv_heads}) [+ bias, QK-norm]", P.attention_params)
    attention_total = (L - layers.linear) * attn
    attention_formula = "({model.layers} - {model.linear_attention.layers}) × {attention_params}"
    if any_true(layers.linear):
        count, formula, function = _linear_attention_params(s)
        linear = b.term("linear_attention_params", count, "count", "weights per linear-attention layer", formula,
                        function)
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
            s["model.moe.shared_expert_gate"], s.get("model.moe.expert_hidden"))
        moe_layers = L - dense_layers
        b.term("moe_params", moe_all, "count", "MoE FFN weights per MoE layer (all experts)",
               "{model.hidden} × {model.moe.experts} + {model.moe.experts} × FFN(expert) "
               "+ {model.moe.shared_experts} × FFN(shared)", P.moe_ffn_params)
        b.term("moe_active_params", moe_active, "count", "MoE FFN weights one token uses per MoE layer",
               "{model.hidden} × {model.moe.experts} + {model.moe.top_k} × FFN(expert) "
               "+ {model.moe.shared_experts} × FFN(shared)", P.moe_ffn_params)
        latent = "{model.moe.expert_hidden}" if "model.moe.expert_hidden" in s else "{model.hidden}"
        expert = b.term("expert_params", P.ffn_params(s.get("model.moe.expert_hidden", h),
                                                      s["model.moe.expert_ffn_hidden"], gated), "count",
                        "weights of one routed expert", "(2 + {model.ffn_gated}) × " + latent + " × "
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
    if any_true(s.get("model.mtp_layers", 0) > 0):
        ffn = "{moe_params}" if moe else "{dense_ffn_params}"
        b.put("model.mtp_params", P.mtp_params(s["model.mtp_layers"], attn, moe_all if moe else dense_ffn, h), "count",
              "multi-token-prediction weights (not in the total)",
              "{model.mtp_layers} × ({attention_params} + " + ffn + " + 2 × {model.hidden}² + 5 × {model.hidden})",
              P.mtp_params)
        active_ffn = "{moe_active_params}" if moe else "{dense_ffn_params}"
        b.term("mtp_active_params", P.mtp_params(s["model.mtp_layers"], attn, moe_active if moe else dense_ffn, h),
               "count", "multi-token-prediction weights one token uses (its top-k experts)",
               "{model.mtp_layers} × ({attention_params} + " + active_ffn + " + 2 × {model.hidden}² + 5 × "
               "{model.hidden})", P.mtp_params)
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
    b.term("attention_kernel_head_dim", (qk + v) / 2, "count",
           "head dim an attention kernel runs at: the mean of the query-key and value dims (MLA: 160), so its "
           "FLOPs per key match an equal-dim kernel's (formulas.attention_kernels)", "(qk + v) / 2")
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


def _linear_attention_params(s: dict):
    """(weights of one linear-attention layer, formula text, function) for the block's kind."""
    h, heads, value_heads = s["model.hidden"], s["model.linear_attention.key_heads"], s["model.linear_attention.value_heads"]
    dk, dv, kernel = (s["model.linear_attention.key_head_dim"], s["model.linear_attention.value_head_dim"],
                      s["model.linear_attention.conv_kernel"])
    kind = s["model.linear_attention.kind"]
    if kind == "lightning":
        return (P.lightning_attention_params(h, value_heads, dv),
                "Lightning({model.hidden}, {model.linear_attention.value_heads} × {model.linear_attention.value_head_dim})",
                P.lightning_attention_params)
    if kind == "kda":
        return (P.kda_params(h, value_heads, dk, kernel, s.get("model.linear_attention.full_rank_gate", False)),
                "KDA({model.hidden}, {model.linear_attention.value_heads} × {model.linear_attention.key_head_dim}, "
                "kernel {model.linear_attention.conv_kernel}, full-rank gate {model.linear_attention.full_rank_gate})",
                P.kda_params)
    return (P.linear_attention_params(h, heads, value_heads, dk, dv, kernel),
            "GatedDeltaNet({model.hidden}, {model.linear_attention.key_heads} × {model.linear_attention.key_head_dim}, "
            "{model.linear_attention.value_heads} × {model.linear_attention.value_head_dim}, "
            "kernel {model.linear_attention.conv_kernel})", P.linear_attention_params)


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


def attention_work(r: Report, layers: Layers, start, steps):
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


def _kv_and_memory(b: Builder, s: dict, layers: Layers) -> None:
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
    if "routed_expert_params" in report.terms and s["precision.expert_weights"] != s["precision.weights"]:
        e_bytes = b.term("bytes_per_expert_weight", PRECISION_BYTES[s["precision.expert_weights"]], "B",
                         "bytes per routed-expert weight", "{precision.expert_weights}")
        routed = report.terms["routed_expert_params"].value
        active_routed = routed * s["model.moe.top_k"] / s["model.moe.experts"]
        weights = b.put("memory.weights_bytes", M.weights_bytes(report["model.params"] - routed, w_bytes)
                        + M.weights_bytes(routed, e_bytes), "B", "weights, all parameters",
                        "({model.params} - {routed_expert_params}) × {bytes_per_weight} + {routed_expert_params} × "
                        "{bytes_per_expert_weight}", M.weights_bytes)
        b.put("memory.active_weights_bytes", M.weights_bytes(report["model.active_params"] - active_routed, w_bytes)
              + M.weights_bytes(active_routed, e_bytes), "B", "weights one token touches",
              "({model.active_params} - routed experts used) × {bytes_per_weight} + {routed_expert_params} × "
              "{model.moe.top_k} / {model.moe.experts} × {bytes_per_expert_weight}", M.weights_bytes)
        b.put("memory.routed_expert_bytes", M.weights_bytes(routed, e_bytes), "B", "routed experts, all layers",
              "{routed_expert_params} × {bytes_per_expert_weight}", M.weights_bytes)
    else:
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
