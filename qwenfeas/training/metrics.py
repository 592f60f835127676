"""Training metrics: FLOPs and time, memory per accelerator, the smallest layout, communication."""

from __future__ import annotations

from ..formulas import communication as C
from ..formulas import flops as F
from ..formulas import time as T
from ..formulas import training_memory as TM
from ..formulas._array import any_true, is_array, maximum, minimum, show, where
from ..scenario.fields import PRECISION_BYTES


def add_training(b, s: dict, layers) -> None:
    """Training FLOPs and time, memory per accelerator, and communication, onto the builder `b`."""
    _training(b, s, layers)
    _training_memory(b, s, layers)
    _communication(b, s)


_KEYS_PER_TOKEN = {"none": "0", "causal": "({training.sequence} + 1) / 2", "noncausal": "{training.sequence}"}


def _training(b, s: dict, layers) -> None:
    r = b.report
    dense = b.put("training.dense_flops", F.training_dense_flops(r["model.matmul_params"], s["tokens"]), "FLOP",
                  "weight matmuls (6ND)", "6 × {model.matmul_params} × {tokens}", F.training_dense_flops)
    convention = s["training.attention_term"]
    T_ = s["training.sequence"]
    attention = F.training_attention_flops(r["model.attention_flops_per_key"], T_, s["tokens"], convention)
    formula = "3 × {model.attention_flops_per_key} × " + _KEYS_PER_TOKEN[convention] + " × {tokens}"
    if any_true(layers.sliding):
        attention = attention + F.training_attention_flops(
            r["model.sliding_attention_flops_per_key"], T_, s["tokens"], convention, layers.window)
        formula += " + sliding-window layers (keys capped at {model.attention.sliding_window})"
    if any_true(layers.linear) and convention != "none":
        attention = attention + 3 * r["model.linear_attention_flops_per_token"] * s["tokens"]
        formula += " + 3 × {model.linear_attention_flops_per_token} × {tokens}"
    attention = b.put("training.attention_flops", attention, "FLOP", f"attention scores ({convention})", formula,
                      F.training_attention_flops)
    model_flops = b.put("training.flops", dense + attention, "FLOP", "model FLOPs",
                        "{training.dense_flops} + {training.attention_flops}")
    full = s["training.recompute"] == "full"
    b.put("training.hardware_flops", F.hardware_flops(model_flops, s["training.recompute"]), "FLOP",
          f"hardware FLOPs (recompute: {s['training.recompute']})",
          "{training.flops} × 4/3 (full recomputation)" if full else "{training.flops} (no recomputation)",
          F.hardware_flops)
    if "hardware.hfu" in s:
        seconds = b.put("training.seconds", T.compute_seconds(r["training.hardware_flops"], s["hardware.count"],
                                                              s["hardware.peak_flops"], s["hardware.hfu"]),
                        "s", "wall-clock time",
                        "{training.hardware_flops} / ({hardware.count} × {hardware.peak_flops} × {hardware.hfu})",
                        T.compute_seconds)
    else:
        seconds = b.put("training.seconds", T.compute_seconds(model_flops, s["hardware.count"],
                                                              s["hardware.peak_flops"], s["hardware.mfu"]),
                        "s", "wall-clock time",
                        "{training.flops} / ({hardware.count} × {hardware.peak_flops} × {hardware.mfu})",
                        T.compute_seconds)
    b.put("training.mfu", model_flops / (seconds * s["hardware.count"] * s["hardware.peak_flops"]), "fraction",
          "model FLOPs utilisation", "{training.flops} / ({training.seconds} × {hardware.count} × "
          "{hardware.peak_flops})")
    b.put("training.gpu_hours", T.accelerator_hours(s["hardware.count"], seconds), "h", "accelerator-hours",
          "{hardware.count} × {training.seconds} / 3600", T.accelerator_hours)


# Candidate degrees for the layout search. Tensor parallelism stays inside one scale-up domain
# (8 GPUs on an HGX board, the default when a preset gives none: NVIDIA DGX/HGX datasheets), as
# Megatron-LM recommends (Narayanan et al. 2021, sec. 3.3); context parallelism keeps chunks of at
# least _CONTEXT_CHUNK tokens, below which ring attention no longer hides its K/V exchange.
_LAYOUT_TENSOR = (1, 2, 4, 8)
_LAYOUT_CONTEXT = (1, 2, 4, 8, 16, 32, 64)
_CONTEXT_CHUNK = 1024
_DEFAULT_SCALE_UP = 8.0
_TERMS = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer states",
          "activations": "activations"}


class _Shape:
    """What training memory and traffic need to know about the model, computed once."""

    def __init__(self, r, s: dict) -> None:
        L = s["model.layers"]
        self.moe = "model.moe.experts" in s
        self.dense_layers = s["model.moe.dense_layers"] if self.moe else L
        self.moe_layers = L - self.dense_layers
        self.routed = r.terms["routed_expert_params"].value if self.moe else 0.0
        self.shared = r["model.params"] - self.routed
        self.q_dim = s["model.heads"] * s["model.head_dim"]
        self.kv_dim = s["model.kv_heads"] * s["model.head_dim"]


def _micro_batches(s: dict, dp):
    """Micro-batches each data-parallel replica runs per optimizer step."""
    return s["training.batch_tokens"] / (s["training.sequence"] * s["parallel.micro_batch"] * dp)


def _training_memory(b, s: dict, layers) -> None:
    """Per-accelerator training memory of the scenario's layout, and the smallest layout that fits."""
    r = b.report
    shape = _Shape(r, s)
    h, gated = s["model.hidden"], s["model.ffn_gated"]
    bytes_w = PRECISION_BYTES[s["precision.weights"]]
    grad, optimizer, zero = s["training.grad_bytes"], s["training.optimizer_bytes"], s["parallel.zero"]
    ep = s["parallel.expert"]

    def states(tp, pp, dp, cp):
        group = dp * cp  # Megatron's distributed optimizer shards over data x context ranks
        dense = TM.model_state_bytes(shape.shared / (tp * pp), bytes_w, grad, optimizer, group, zero)
        expert = TM.model_state_bytes(shape.routed / (ep * tp * pp), bytes_w, grad, optimizer, group / ep, zero)
        return tuple(a + e for a, e in zip(dense, expert, strict=True))

    def activations(tp, pp, dp, cp, in_flight=None):
        def per_layer(width, top_k=0, recompute=s["training.recompute"]):
            return TM.activation_bytes_per_layer(
                s["training.sequence"] / cp, s["parallel.micro_batch"], h, s["model.heads"], shape.q_dim, shape.kv_dim,
                width, gated, tp, s["parallel.sequence_parallel"], recompute, top_k)
        has_dense = any_true(shape.dense_layers)
        total = shape.dense_layers * per_layer(s["model.ffn_hidden"]) if has_dense else 0.0
        if shape.moe:
            width = (s["model.moe.top_k"] * s["model.moe.expert_ffn_hidden"]
                     + s["model.moe.shared_experts"] * s["model.moe.shared_expert_ffn_hidden"])
            total = total + shape.moe_layers * per_layer(width, s["model.moe.top_k"])
        if s["training.recompute"] == "full":  # the one layer being replayed holds its full activations
            replayed = per_layer(width, s["model.moe.top_k"], recompute="selective") if shape.moe else 0.0
            if has_dense:
                dense = per_layer(s["model.ffn_hidden"], recompute="selective")
                replayed = where(shape.dense_layers > 0, maximum(dense, replayed), replayed)
            total = total + replayed
        # 1F1B: the first stage keeps min(pp, m) micro-batches of L/pp layers
        fraction = in_flight if in_flight is not None else minimum(maximum(_micro_batches(s, dp), 1.0) / pp, 1.0)
        return total * fraction

    tp, pp, dp, cp = (s[f"parallel.{k}"] for k in ("tensor", "pipeline", "data", "context"))
    weights, grads, opt = states(tp, pp, dp, cp)
    acts = activations(tp, pp, dp, cp)
    micro = _micro_batches(s, dp)
    if any_true(micro < 1):
        r.notes.append(f"the global batch ({show(s['training.batch_tokens'] / s['training.sequence'], '.3g')} "
                       f"sequences) is smaller than the {show(dp)} data-parallel replicas: some would sit idle")
    elif any_true(micro < pp):
        r.notes.append(f"only {show(micro, '.3g')} micro-batches per step reach a {show(pp)}-stage pipeline: its "
                       f"bubble idles up to {show((pp - 1) / micro, '.0%')} of compute time, which the MFU must absorb")
    b.put("training_memory.weights_bytes", weights, "B", "weights",
          "dense params / ({parallel.tensor} × {parallel.pipeline}) + routed experts / ({parallel.expert} × "
          "{parallel.tensor} × {parallel.pipeline}), × {bytes_per_weight}; ZeRO-{parallel.zero} shards over "
          "{parallel.data} × {parallel.context}", TM.model_state_bytes)
    b.put("training_memory.gradients_bytes", grads, "B", "gradients", "params share × {training.grad_bytes}",
          TM.model_state_bytes)
    b.put("training_memory.optimizer_bytes", opt, "B", "optimizer states",
          "params share × {training.optimizer_bytes}", TM.model_state_bytes)
    b.put("training_memory.activations_bytes", acts, "B", f"activations (recompute: {s['training.recompute']})",
          "{model.layers} × per-layer activations at sequence {training.sequence} / {parallel.context}, "
          "micro-batch {parallel.micro_batch}, tensor {parallel.tensor}, × min(1, micro-batches / "
          "{parallel.pipeline})", TM.activation_bytes_per_layer)
    total = b.put("training_memory.total_bytes", weights + grads + opt + acts, "B", "total",
                  "{training_memory.weights_bytes} + {training_memory.gradients_bytes} + "
                  "{training_memory.optimizer_bytes} + {training_memory.activations_bytes}")
    usable = r.terms["usable_memory"].value
    fill = total / usable
    if is_array(fill):  # a sweep: one label for every point, and no per-point layout search
        verdict = "share of usable memory (above 1 overflows)"
    elif fill <= 1:
        verdict = f"fits ({fill:.0%} of usable memory)"
    else:
        largest = max(zip((weights, grads, opt, acts), _TERMS.values(), strict=True))[1]
        verdict = f"overflows {fill:.2g}x; largest: {largest}"
    b.put("training_memory.fill", fill, "fraction", verdict, "{training_memory.total_bytes} / {usable_memory}")
    if not is_array(fill) and fill > 1:
        _smallest_training_layout(b, s, states, activations, usable)


def _smallest_training_layout(b, s: dict, states, activations, usable) -> None:
    """Search tensor x pipeline x context degrees at once; the data-parallel degree follows in closed form.

    Constraints: tensor-parallel degree within the scale-up domain and dividing the query heads;
    at least one micro-batch per replica in the global batch. Activations are taken with a full
    pipeline in flight, so the layout found fits whatever the micro-batch count.
    """
    import numpy as np

    cap = s.get("hardware.scale_up_size", _DEFAULT_SCALE_UP)
    tensors = [t for t in _LAYOUT_TENSOR if t <= cap and s["model.heads"] % t == 0]
    pipelines = [2.0**k for k in range(12) if 2**k <= s["model.layers"]]
    contexts = [c for c in _LAYOUT_CONTEXT if c == 1 or s["training.sequence"] / c >= _CONTEXT_CHUNK]
    tp, pp, cp = (g.ravel() for g in np.meshgrid(np.array(tensors, float), np.array(pipelines),
                                                 np.array(contexts, float), indexing="ij"))
    ep = s["parallel.expert"]
    at_d = sum(states(tp, pp, ep, cp)) + activations(tp, pp, ep, cp, in_flight=1.0)  # fixed + sharded / ep
    at_2d = sum(states(tp, pp, 2 * ep, cp)) + activations(tp, pp, 2 * ep, cp, in_flight=1.0)
    sharded = 2 * ep * (at_d - at_2d)
    fixed = at_d - sharded / ep
    dp = TM.smallest_data_parallel(fixed, sharded, usable, ep)
    most_replicas = s["training.batch_tokens"] / (s["training.sequence"] * s["parallel.micro_batch"])
    dp = np.where(dp <= most_replicas, dp, np.inf)
    count = tp * pp * cp * dp
    if not np.isfinite(count).any():
        b.report.notes.append(
            "no layout of tensor (within the scale-up domain), pipeline and context parallelism fits with at least one "
            "micro-batch per replica; shard more of the model state (parallel.zero), recompute more "
            "(training.recompute) or shrink the micro-batch")
        return
    best = np.lexsort((tp, cp, pp, count))[0]  # fewest accelerators, then fewest pipeline stages, ...
    n = b.put("training_memory.min_accelerators", count[best], "count", "fewest accelerators that fit",
              "searched over tensor × pipeline × context degrees, with ZeRO-{parallel.zero} and the "
              "fewest data-parallel replicas that fit", TM.smallest_data_parallel)
    for key, grid in (("tensor", tp), ("pipeline", pp), ("context", cp), ("data", dp)):
        b.put(f"training_memory.min_{key}_parallel", grid[best], "count", f"  {key}-parallel degree",
              f"the layout of training_memory.min_accelerators ({key})")
    b.put("training_memory.min_seconds", b.report["training.seconds"] * s["hardware.count"] / n, "s",
          "training time on them (same MFU)",
          "{training.seconds} × {hardware.count} / {training_memory.min_accelerators}")


def _communication(b, s: dict) -> None:
    """Bytes and seconds each accelerator spends on tensor-, context-, expert- and data-parallel traffic."""
    r = b.report
    if "hardware.scale_up_bandwidth" not in s or "hardware.scale_out_bandwidth" not in s:
        r.notes.append("communication is not estimated: the accelerator has no scale_up_bandwidth and "
                       "scale_out_bandwidth (set them under hardware:)")
        return
    shape = _Shape(r, s)
    tp, pp, dp, ep, cp = (s[f"parallel.{k}"] for k in ("tensor", "pipeline", "data", "expert", "context"))
    h, L, act = s["model.hidden"], s["model.layers"], 2.0  # 16-bit activations
    domain = s.get("hardware.scale_up_size", _DEFAULT_SCALE_UP)
    up, out = s["hardware.scale_up_bandwidth"], s["hardware.scale_out_bandwidth"]

    def link(span):  # ranks ordered tensor, context, expert, data: a group spanning <= domain stays on NVLink
        return where(span <= domain, up, out)

    replays = 1.5 if s["training.recompute"] == "full" else 1.0  # full recompute replays the forward collectives
    tokens = s["tokens"] / (dp * cp)  # tokens one accelerator's replica shard processes
    parts = [b.put("communication.tensor_seconds", replays * C.tensor_parallel_bytes(L / pp, tokens, h, act, tp)
                   / link(tp), "s", "tensor-parallel all-reduces",
                   "4 × {model.layers} / {parallel.pipeline} × tokens / (data × context) × {model.hidden} × 2 B × "
                   "2 ({parallel.tensor} - 1) / {parallel.tensor} / link", C.tensor_parallel_bytes)]
    if any_true(cp > 1):
        kv_layer = r.terms["full_kv_bytes_per_token"].value / maximum(r.terms["full_attention_layers"].value, 1.0)
        parts.append(b.put("communication.context_seconds", C.context_parallel_bytes(
            r.terms["full_attention_layers"].value / pp, tokens, kv_layer / tp, cp) / link(tp * cp), "s",
            "context-parallel K/V ring", "3 × attention layers / {parallel.pipeline} × tokens × K,V bytes / "
            "{parallel.tensor} × ({parallel.context} - 1) / link", C.context_parallel_bytes))
    if shape.moe:
        parts.append(b.put("communication.expert_seconds", replays * C.expert_parallel_bytes(
            shape.moe_layers / pp, tokens / tp, h, act, s["model.moe.top_k"], ep) / link(tp * cp * ep),
            "s", "expert-parallel all-to-alls",
            "4 × MoE layers / {parallel.pipeline} × tokens × {model.moe.top_k} × {model.hidden} × 2 B × "
            "({parallel.expert} - 1) / {parallel.expert} / link", C.expert_parallel_bytes))
    steps = s["tokens"] / s["training.batch_tokens"]
    w, g, zero, group = PRECISION_BYTES[s["precision.weights"]], s["training.grad_bytes"], s["parallel.zero"], dp * cp
    data = (C.data_parallel_bytes(shape.shared / (tp * pp), g, w, steps, group, zero) / link(tp * cp * dp)
            + C.data_parallel_bytes(shape.routed / (ep * tp * pp), g, w, steps, group / ep, zero)
            / link(tp * cp * dp))
    parts.append(b.put("communication.data_seconds", data, "s", "data-parallel gradient reduction",
                       "{tokens} / {training.batch_tokens} steps × params share × (gradient + weight bytes) × "
                       "({parallel.data} × {parallel.context} - 1) / ({parallel.data} × {parallel.context}) / link",
                       C.data_parallel_bytes))
    ratio = sum(parts) / r["training.seconds"]
    verdict = ("above 1 is communication-bound" if is_array(ratio)
               else "can hide under compute if overlapped" if ratio < 1
               else "exceeds compute time: communication-bound")
    b.put("communication.fraction_of_compute", ratio, "fraction", f"all of it, over compute time: {verdict}",
          "(sum of the traffic times above) / {training.seconds}")
