"""Serving: prefill, decode and a reasoning query on one replica."""

from __future__ import annotations

from ..architecture import Layers, attention_work
from ..formulas import flops as F
from ..formulas import memory as M
from ..formulas import power as W
from ..formulas import time as T
from ..formulas._array import any_true, show
from ..report import Builder
from ..scenario.fields import PRECISION_BYTES


def add_serving(b: Builder, s: dict, layers: Layers) -> None:
    """Inference on one replica and, when the scenario has `test_time`, one reasoning query."""
    _inference(b, s, layers)
    if "test_time" in s:
        _test_time(b, s, layers)


def _inference(b: Builder, s: dict, layers: Layers) -> None:
    r = b.report
    if "inference.accelerators" in s:
        n = b.put("inference.accelerators", s["inference.accelerators"], "count", "accelerators per replica",
                  "{inference.accelerators} (given)")
    else:
        n = b.put("inference.accelerators", r["memory.min_accelerators"], "count", "accelerators per replica",
                  "{memory.min_accelerators} (fewest that hold the weights and the cache)")
    peak, mfu, bw = s["hardware.peak_flops"], s["hardware.mfu"], s["hardware.bandwidth"]
    N, C = r["model.matmul_params"], s["context"]
    attention, _ = attention_work(r, layers, 0, C)
    prefill = b.put("inference.prefill_flops", F.forward_flops(N, C, 1.0, attention), "FLOP",
                    "prefill of the context", "2 × {model.matmul_params} × {context} + attention over "
                    "{context} × ({context} + 1) / 2 keys at {model.attention_flops_per_key}", F.forward_flops)
    b.put("inference.prefill_seconds", T.roofline_seconds(prefill, r["memory.weights_bytes"], n, peak, mfu, bw), "s",
          "time to first token", "max({inference.prefill_flops} / ({inference.accelerators} × {hardware.peak_flops} "
          "× {hardware.mfu}), {memory.weights_bytes} / ({inference.accelerators} × {hardware.bandwidth}))",
          T.roofline_seconds)
    attention, read = attention_work(r, layers, C, 1)
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


def _batched_decode(b: Builder, s: dict, n, step_flops, kv_read, w_bytes) -> None:
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


def _test_time(b: Builder, s: dict, layers: Layers) -> None:
    r = b.report
    n, peak, mfu, bw = r["inference.accelerators"], s["hardware.peak_flops"], s["hardware.mfu"], s["hardware.bandwidth"]
    N, steps = r["model.matmul_params"], s["test_time"]
    prompt = b.put("test_time.prompt_tokens", s["context"] - steps, "count", "prompt before the reasoning",
                   "{context} - {test_time}")
    w_bytes = PRECISION_BYTES[s["precision.weights"]]
    attention, _ = attention_work(r, layers, 0, prompt)
    prefill_flops = F.forward_flops(N, prompt, 1.0, attention)
    prefill_bytes = r["memory.weights_bytes"] * (prompt > 0)
    attention, read = attention_work(r, layers, prompt, steps)
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
    watts = W.facility_watts(W.it_watts(n, s["hardware.system_power"]), s["datacenter.pue"])
    b.put("test_time.energy_kwh", W.energy_kwh(watts, seconds), "kWh", "facility energy per query (rated power)",
          "{inference.accelerators} × {hardware.system_power} × {datacenter.pue} × "
          "{test_time.seconds} / 3.6e6", W.energy_kwh)
    if "datacenter.gpu_hour" in s:  # no price known: accounting says so (no silent default)
        b.put("test_time.cost_usd", W.rental_cost_usd(T.accelerator_hours(n, seconds), s["datacenter.gpu_hour"]),
              "USD", "rental cost per query (whole replica)",
              "{inference.accelerators} × {test_time.seconds} / 3600 × {datacenter.gpu_hour}", W.rental_cost_usd)
