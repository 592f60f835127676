"""Serving metrics: the layout, prefill, decode, continuous batching, latency, cost and a reasoning query.

The layout is the scenario's `serving_layout` (or `inference.accelerators` as one tensor-parallel
replica); a serving scenario on `hardware.count` accelerators with no layout gets the best one the
search finds. The operating point comes from batching.operating_point, the function the search
and the frontier call, so a layout they name gives these same figures when written back.
"""

from __future__ import annotations

from ..architecture import Layers, attention_work
from ..formulas import flops as F
from ..formulas import memory as M
from ..formulas import power as W
from ..formulas import serving as S
from ..formulas import time as T
from ..formulas._array import any_true, is_array, maximum, show, where
from ..report import Builder
from .batching import Point, operating_point, smallest_replica
from .decode import decode_step
from .deployment import Device, Model, read_device, read_model

_LAYOUT = ("tensor", "attention_data", "expert", "replicas", "disaggregated")


def add_serving(b: Builder, s: dict, layers: Layers) -> None:
    """Inference on the serving layout and, when the scenario has `test_time`, one reasoning query."""
    r = b.report
    m, d = read_model(r, s, layers), read_device(r, s)
    layout = _layout(b, s, m, d)
    point = _operating_point(b, s, m, d, layout)
    _single_sequence(b, s, layers, m, d, layout)
    _economics(b, s, point)
    if "test_time" in s:
        _test_time(b, s, layers, point)


def resolve_layout(r, s: dict, m: Model, d: Device) -> dict:
    """The layout degrees: stated, derived from inference.accelerators, or searched for hardware.count.

    Returns {"tensor", "attention_data", "expert", "replicas", "disaggregated", "concurrency", "searched"}.
    """
    stated = any(f"serving_layout.{k}" in s for k in _LAYOUT)
    searchable = ("hardware.count" in s and not stated and "inference.accelerators" not in s and "tokens" not in s
                  and not any(is_array(v) for v in s.values()))
    if searchable:
        from .layout_search import best, candidates, passing

        c = candidates(m, d, s["hardware.count"], s.get("inference.concurrency"), s["inference.batch"])
        chosen = best(c, passing(c, s.get("limits.ttft"), s.get("limits.tpot")))
        if chosen is None:
            chosen = best(c, passing(c))
        if chosen is not None:
            return {"tensor": float(c.tensor[chosen]), "attention_data": float(c.attention_data[chosen]),
                    "expert": float(c.expert[chosen]), "replicas": float(c.replicas[chosen]),
                    "disaggregated": bool(c.disaggregated[chosen]), "concurrency": float(c.concurrency[chosen]),
                    "searched": True}
    replica = s.get("inference.accelerators", smallest_replica(m, d, r["memory.min_accelerators"]))
    a = s.get("serving_layout.attention_data", 1.0)
    t = s.get("serving_layout.tensor", replica / a)
    e = s.get("serving_layout.expert", 1.0)
    if "serving_layout.replicas" in s:
        replicas = s["serving_layout.replicas"]
    elif "hardware.count" in s and "tokens" not in s:
        replicas = maximum(M.floor_div(s["hardware.count"], t * a), 1.0)
    else:
        replicas = 1.0
    concurrency = s.get("inference.concurrency", s["inference.batch"] * replicas)
    return {"tensor": t, "attention_data": a, "expert": e, "replicas": replicas,
            "disaggregated": s.get("serving_layout.disaggregated", False), "concurrency": concurrency,
            "searched": False}


def _layout(b: Builder, s: dict, m: Model, d: Device) -> dict:
    r = b.report
    layout = resolve_layout(r, s, m, d)
    how = " (searched)" if layout["searched"] else ""
    t, a = layout["tensor"], layout["attention_data"]
    if "inference.accelerators" in s:
        b.put("inference.accelerators", s["inference.accelerators"], "count", "accelerators per replica",
              "{inference.accelerators} (given)")
    else:
        b.put("inference.accelerators", t * a, "count", "accelerators per replica",
              "{serving_layout.tensor} × {serving_layout.attention_data}" + (how or " (the fewest that hold the "
              "weights and one sequence, KV heads replicated past the tensor degree)"), smallest_replica)
    if any_true(t * a != r["inference.accelerators"]):
        r.notes.append(f"serving_layout tensor × attention_data ({show(t * a)}) is not inference.accelerators "
                       f"({show(r['inference.accelerators'])}); the layout's degrees are used")
    labels = {"tensor": "tensor-parallel degree (attention, dense layers)",
              "attention_data": "attention data-parallel ranks per replica",
              "expert": "expert-parallel degree (routed experts)", "replicas": "replicas"}
    for key, label in labels.items():
        given = f"serving_layout.{key}" in s
        b.put(f"serving_layout.{key}", layout[key], "count", label + ("" if given else how or " (default)"),
              f"{{serving_layout.{key}}} (given)" if given else "chosen for {hardware.count}" if layout["searched"]
              else _DEFAULTS[key])
    return layout


def _where_true(values, condition):
    """The values of a sweep where a condition holds (the value itself for one scenario)."""
    if is_array(values) or is_array(condition):
        import numpy as np

        return np.broadcast_to(values, np.shape(condition))[condition]
    return values


_DEFAULTS = {"tensor": "{inference.accelerators} / {serving_layout.attention_data}",
             "attention_data": "1 (attention tensor-parallel over the replica)",
             "expert": "1 (routed experts tensor-parallel)",
             "replicas": "floor({hardware.count} / {inference.accelerators}), else 1"}


def _operating_point(b: Builder, s: dict, m: Model, d: Device, layout: dict) -> Point:
    r = b.report
    t, a, e = layout["tensor"], layout["attention_data"], layout["expert"]
    split = layout["disaggregated"]
    b.put("serving_layout.disaggregated", split, "bool", "prefill on separate accelerators",
          "{serving_layout.disaggregated}")
    point = operating_point(m, d, t, a, e, layout["replicas"], layout["concurrency"], split)
    b.put("inference.concurrency", layout["concurrency"], "count", "requests in flight, whole deployment",
          "{inference.concurrency}" if "inference.concurrency" in s else
          "{inference.batch} × {serving_layout.replicas}")
    b.put("inference.max_batch", point.max_batch, "count",
          "largest batch per replica whose caches fit (at prompt + output tokens)",
          "{serving_layout.attention_data} × floor(({usable_memory} - weights per device) / KV per device "
          "per sequence)", _max_batch_doc)
    batch = b.put("serving_layout.batch", point.batch, "count", "sequences decoding per replica",
                  "min({inference.concurrency} / {serving_layout.replicas}, {inference.max_batch})")
    wanted = layout["concurrency"] / layout["replicas"]
    if any_true(wanted > point.max_batch):
        over = _where_true(wanted, wanted > point.max_batch)
        if "inference.concurrency" in s:
            r.notes.append(f"concurrency {show(over * layout['replicas'])} exceeds what the caches hold "
                           f"({show(point.max_batch * layout['replicas'])} sequences at prompt + output tokens); "
                           "the rest wait in the queue, counted in the time to first token")
        else:
            r.notes.append(f"inference.batch {show(over)} does not fit: at most {show(point.max_batch)} sequences' "
                           "caches fit per replica at prompt + output tokens; the throughput shown is at that batch")
    step = decode_step(m, d, t, a, e, point.batch)
    for part, label in (("weights", "weight matmuls"), ("experts", "routed experts (busiest device)"),
                        ("attention", "attention over the cache"),
                        ("tensor_collectives", "tensor-parallel all-reduces"),
                        ("expert_collectives", "expert dispatch and combine"),
                        ("elementwise", "element-wise work (norms, residuals, activation, logits)"),
                        ("kernels", "kernel floor"), ("drafts", "speculative draft passes")):
        b.term(f"decode_{part}_seconds", getattr(step, part), "s", f"decode step: {label}",
               f"see serving.decode ({part})", _step_doc)
    b.put("inference.step_seconds", point.step_seconds, "s", f"decode step at batch {show(batch, '.4g')}",
          "sum of {decode_weights_seconds}, {decode_experts_seconds}, {decode_attention_seconds}, "
          "{decode_tensor_collectives_seconds}, {decode_expert_collectives_seconds}, "
          "{decode_elementwise_seconds}, {decode_kernels_seconds}, {decode_drafts_seconds}", _step_doc)
    if m.draft_tokens is not None and any_true(m.draft_tokens > 0):
        b.put("inference.accepted_tokens_per_step", m.accepted, "count", "tokens per step per sequence (speculative)",
              "(1 - {inference.speculative.acceptance} ^ ({inference.speculative.draft_tokens} + 1)) / "
              "(1 - {inference.speculative.acceptance})", S.accepted_tokens_per_step)
    from .prefill import prefill_seconds_per_request

    b.put("inference.prefill_pass_seconds", point.prefill_seconds, "s",
          "one prefill pass at this batch (prompts batched up to the token budget)",
          "prompts per pass × {inference.prompt_tokens} tokens at achievable rates", _prefill_pass_doc)
    b.put("inference.prefill_seconds_per_request", point.prefill_per_request, "s",
          "replica-time of prefill per request (batched)", "{inference.prefill_pass_seconds} / prompts per pass",
          prefill_seconds_per_request)
    b.put("inference.ttft_seconds", point.ttft, "s", "time to first token",
          "{inference.prefill_pass_seconds} + one decode step + queueing", _point_doc)
    b.put("inference.tpot_seconds", point.tpot, "s", "time per output token",
          "{inference.step_seconds} / accepted tokens, stretched by the prefills interleaved", S.steady_state)
    b.put("inference.tokens_per_second_per_user", point.per_user, "tokens/s", "output tokens/s per user",
          "{inference.output_tokens} / request latency", _point_doc)
    b.put("inference.tokens_per_second_per_accelerator", point.per_accelerator, "tokens/s",
          "output tokens/s per accelerator", "output tokens/s of the deployment / accelerators in use",
          _point_doc)
    b.put("inference.output_tokens_per_second", point.output_rate, "tokens/s", "output tokens/s, whole deployment",
          "requests/s × {inference.output_tokens} × {serving_layout.replicas}", _point_doc)
    b.put("inference.batch_tokens_per_second", point.batch * m.accepted / point.step_seconds, "tokens/s",
          f"decode throughput of one replica at batch {show(batch, '.4g')} (no prefill)",
          "{serving_layout.batch} × accepted tokens / {inference.step_seconds}", _step_doc)
    return point


def _single_sequence(b: Builder, s: dict, layers: Layers, m: Model, d: Device, layout: dict) -> None:
    """The per-request figures: prefill of the prompt, one sequence's decode, FLOPs and bytes per token."""
    r = b.report
    t, a, e = layout["tensor"], layout["attention_data"], layout["expert"]
    N, C, P = r["model.matmul_params"], s["context"], s["inference.prompt_tokens"]
    attention, _ = attention_work(r, layers, 0, P)
    b.put("inference.prefill_flops", F.forward_flops(N, P, 1.0, attention), "FLOP", "prefill of the prompt",
          "2 × {model.matmul_params} × {inference.prompt_tokens} + attention over {inference.prompt_tokens} × "
          "({inference.prompt_tokens} + 1) / 2 keys at {model.attention_flops_per_key}", F.forward_flops)
    from .prefill import prefill_seconds

    b.put("inference.prefill_seconds", prefill_seconds(m, d, t, a, e), "s", "prefill of one prompt on the replica",
          "weight matmuls + experts + attention at achievable rates + collectives + kernel floor", prefill_seconds)
    attention, read = attention_work(r, layers, C, 1)
    b.put("inference.flops_per_token", F.forward_flops(N, 1, 1.0, attention), "FLOP",
          "one decoded token, context cached",
          "2 × {model.matmul_params} + {model.attention_flops_per_key} × ({context} + 1)", F.forward_flops)
    b.put("inference.bytes_per_token", N * r.terms["bytes_per_weight"].value + read, "B",
          "memory read per decoded token, one sequence",
          "{model.matmul_params} × {bytes_per_weight} + {kv_cache.bytes_per_token} × ({context} + 1)")
    one = decode_step(m, d, t, a, e, 1.0).seconds / m.accepted
    b.put("inference.decode_seconds_per_token", one, "s", "time per token, one sequence alone",
          "decode step at batch 1 / accepted tokens per step", _step_doc)
    b.put("inference.decode_tokens_per_second", 1.0 / one, "tokens/s", "decode speed, one sequence alone",
          "1 / {inference.decode_seconds_per_token}")


def _economics(b: Builder, s: dict, point: Point) -> None:
    """Cost per million tokens at the rental price; energy per million output tokens at sustained power."""
    if "datacenter.gpu_hour" in s:  # no price known: accounting warns, no silent default
        price = s["datacenter.gpu_hour"]
        b.put("inference.cost_per_million_output_tokens_usd",
              S.cost_per_million_tokens_usd((1 - point.prefill_share) * point.accelerators, price, point.output_rate),
              "USD",
              "rental cost per million output tokens",
              "(1 - prefill share) × accelerators × {datacenter.gpu_hour} / 3600 / output tokens/s × 1e6", S.cost_per_million_tokens_usd, table="inference")
        input_rate = maximum(point.input_rate, 1e-300)
        b.put("inference.cost_per_million_input_tokens_usd",
              where(point.input_rate > 0, S.cost_per_million_tokens_usd(point.prefill_share * point.accelerators, price,
                                                                        input_rate), 0.0), "USD",
              "rental cost per million input tokens",
              "prefill share × accelerators × {datacenter.gpu_hour} / 3600 / input tokens/s × 1e6",
              S.cost_per_million_tokens_usd, table="inference")
    watts = W.facility_watts(W.it_watts(point.accelerators, s["hardware.system_power"] * s["inference.power_fraction"]),
                             s["datacenter.pue"])
    b.put("inference.energy_per_million_output_tokens_kwh", W.energy_kwh(watts, 1e6 / point.output_rate), "kWh",
          "facility energy per million output tokens (sustained power)",
          "accelerators × {hardware.system_power} × {inference.power_fraction} × "
          "{datacenter.pue} × 1e6 / output tokens/s / 3.6e6", W.energy_kwh)


def _test_time(b: Builder, s: dict, layers: Layers, point: Point) -> None:
    """One reasoning query of `test_time` tokens at the deployment's operating point."""
    r = b.report
    N, steps = r["model.matmul_params"], s["test_time"]
    prompt = b.put("test_time.prompt_tokens", s["context"] - steps, "count", "prompt before the reasoning",
                   "{context} - {test_time}")
    w_bytes = r.terms["bytes_per_weight"].value
    attention, _ = attention_work(r, layers, 0, prompt)
    prefill_flops = F.forward_flops(N, prompt, 1.0, attention)
    attention, read = attention_work(r, layers, prompt, steps)
    b.put("test_time.flops", prefill_flops + F.forward_flops(N, steps, 1.0, attention), "FLOP", "FLOPs per query",
          "prefill of {test_time.prompt_tokens} tokens + 2 × {model.matmul_params} × {test_time} + "
          "{model.attention_flops_per_key} × ({test_time} × {test_time.prompt_tokens} + {test_time} × "
          "({test_time} + 1) / 2)", F.forward_flops)
    b.put("test_time.read_bytes", r["memory.weights_bytes"] * (prompt > 0) + N * w_bytes * steps + read, "B",
          "memory read per query (alone)", "{memory.weights_bytes} (prefill) + {test_time} × {model.matmul_params} "
          "× {bytes_per_weight} + {kv_cache.bytes_per_token} × attended keys")
    b.put("test_time.seconds", point.ttft + steps * point.tpot, "s",
                    "time per query at the operating point",
                    "{inference.ttft_seconds} + {test_time} × {inference.tpot_seconds}")
    queries = point.output_rate / s["inference.output_tokens"]  # requests/s of the deployment
    watts = W.facility_watts(W.it_watts(point.accelerators, s["hardware.system_power"] * s["inference.power_fraction"]),
                             s["datacenter.pue"])
    b.put("test_time.energy_kwh", W.energy_kwh(watts, 1.0 / queries), "kWh",
          "facility energy per query (its share of the deployment)",
          "accelerators × {hardware.system_power} × {inference.power_fraction} × "
          "{datacenter.pue} / queries per second / 3.6e6", W.energy_kwh)
    if "datacenter.gpu_hour" in s:
        b.put("test_time.cost_usd", W.rental_cost_usd(T.accelerator_hours(point.accelerators, 1.0 / queries),
                                                      s["datacenter.gpu_hour"]), "USD",
              "rental cost per query (its share of the deployment)",
              "accelerators / queries per second / 3600 × {datacenter.gpu_hour}", W.rental_cost_usd)


def _step_doc():
    """A decode step on the busiest device.

    Formula: weight matmuls + routed experts + attention (each max(FLOPs / achievable peak,
             bytes / achievable bandwidth)) + 2 L tensor all-reduces + 2 L_moe dispatch/combine
             + element-wise bytes at 0.85 of bandwidth + kernels x 4 us, plus d / L of it per draft token
    Convention: phases back to back; the busiest expert-parallel device sets the pace; KV heads
    replicated when the tensor degree exceeds them; MLA decode in its absorbed form; with
    inference.graph_padding the batch computed is the next captured CUDA-graph size (tech blog 20); with
    inference.decode_attention per-query-head each query head re-reads its KV head's cache, n_q / n_kv times
    the grouped read (TensorRT-LLM's masked multi-head attention before XQA: formulas.serving.decode_kv_read_share).
    Source: achievable fractions: DeepGEMM README @ a9967bc, FlashMLA README @ 066b5ba6,
    stas00/ml-engineering matmul table; B200: FP4 GEMMs deepseek-ai/DeepGEMM PR #348, decode attention
    flashinfer-ai/flashinfer PR #1415; collectives: NVIDIA/nccl tuning.cc, nccl-tests issue #212;
    kernel time: susun-blog.com pegainfer (3) (4-6 us per launch).
    """


def _point_doc():
    """The continuous-batching steady state of the deployment.

    Formula: X = D / (O + D * P) with D = b * accepted / step, P the batched prefill per request;
             TPOT = b / (X * O); TTFT = one prefill pass + step + queue;
             per user = X * O * replicas / concurrency; per accelerator = X * O * replicas / accelerators
    Convention: finished sequences are replaced at once; their prefills stall the replica (aggregated)
    or run on a prefill pool sized to keep up (disaggregated); requests past the cache capacity queue.
    Source: Little's law; Agrawal et al. 2024 (Sarathi-Serve); Zhong et al. 2024 (DistServe).
    """


def _prefill_pass_doc():
    """One prefill pass of the replica: the prompts scheduled together, and how long they wait.

    Formula: k = max(min(b / a, max(8192 / P, 1)), 1) prompts per attention rank; pass = weights, experts,
             attention of k P tokens at achievable rates + collectives + kernel floor
    Convention: aggregated: attention-data-parallel ranks prefill in turn (no balancing scheduler);
    disaggregated: every rank of the prefill pool in the same pass, not bounded by the decode batch.
    Source: NVIDIA/TensorRT-LLM builder.py BuildConfig.max_num_tokens = 8192; TensorRT-LLM tech blog 10
    "ADP Balance Strategy"; Agrawal et al. 2024 (Sarathi-Serve).
    """


def _max_batch_doc():
    """Sequences whose caches fit in a replica at their full length.

    Formula: a * floor((usable - W_dense / t - W_routed / (t a)) / (KV(P + O) / min(t, n_kv)))
    Convention: engines reserve each request's cache to its full length (TensorRT-LLM's guaranteed-no-evict
    scheduler); KV heads replicated past the tensor degree; MLA's latent on every tensor rank.
    Source: Kwon et al. 2023 (PagedAttention, SOSP); vLLM get_num_kv_heads.
    """
