"""Training outputs of a layout: layout.*, step time and MFU, goodput and wall-clock, memory, communication."""

from __future__ import annotations

from ..formulas import flops as F
from ..formulas import pipeline as PL
from ..formulas import reliability as R
from ..formulas import time as T
from ..formulas import training_memory as TM
from ..formulas._array import is_array, maximum, show
from ..formulas.accelerators import gemm_ceiling
from ..formulas.attention_kernels import attention_efficiency
from ..formulas.communication import fp8_gather_bytes
from ..formulas.grouped_gemm import expert_gemm_seconds
from ..formulas.kernel_efficiency import BLOCK_SCALED_GEMM_RATE, fp8_cast_bytes, recipe_ceiling
from . import layout_search as LS
from .layout import given_utilisation, written
from .step_inputs import OVERLAP_ALL_TO_ALL_SMS
from .step_time import amax_reductions, evaluate

# Storage bandwidth per accelerator for checkpoints: Llama 3's Tectonic sustained 2 TB/s for a
# 16,384-GPU job (Dubey et al. 2024, sec. 3.3.1).
CHECKPOINT_BYTES_PER_SECOND = 2e12 / 16384
# Time to restart a job after a failure (reschedule, reload, warm up). No primary source gives it
# for a frontier run; 10 minutes is an estimate, shown as such.
RESTART_SECONDS = 600.0
_TERMS = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer states",
          "activations": "activations"}


def add_step(b, s: dict, work, chosen) -> None:
    layout = chosen.layout
    result = evaluate(work, layout)
    if not chosen.searched and not is_array(result["step_seconds"]):
        b.report.training_work = work  # for faster_on_count, when a verdict asks
    used = _layout(b, s, layout, chosen)
    sequences = s["training.batch_tokens"] / s["training.sequence"]
    idle = sequences < layout["data"] * layout["micro_batch"]
    if not is_array(used) and not is_array(idle) and idle:  # a swept batch or layout: no single-scenario note
        b.report.notes.append(f"the global batch ({sequences:,.3g} sequences) is smaller than the "
                              f"{layout['data']:,.0f} data-parallel replicas: some sit idle")
    count = s["hardware.count"]
    # published batches for scale: Llama 3 405B 16M tokens (Dubey et al. 2024, Table 4); DeepSeek-V3 63M,
    # 15,360 x 4,096 (arXiv 2412.19437, sec. 4.2)
    if chosen.searched and not written(b.report.scenario, "training.batch_tokens") \
            and not is_array(sequences * count) and sequences < count:
        b.report.notes.append(f"training.batch_tokens is not given: the default "
                              f"{s['training.batch_tokens'] / 1e6:,.3g}M tokens (Llama 2's) is {sequences:,.3g} "
                              f"sequences for {count:,.0f} accelerators, so the layout search spends them on "
                              "model parallelism; state the run's batch (Llama 3 405B: 16M tokens, DeepSeek-V3: 63M)")
    _time(b, s, work, layout, result, used)
    _memory(b, s, result)
    if not is_array(result["fill"]) and result["fill"] > 1:
        _what_fits(b, s, work, chosen)
    _communication(b, work, result)


def _text(table, code):
    return table[int(code)] if not is_array(code) else table[int(code.flat[0])]


def _layout(b, s, layout, chosen):
    src = "chosen by the layout search" if chosen.searched else "as stated (defaults where silent)"
    for key in ("tensor", "pipeline", "data", "expert", "context", "micro_batch", "virtual_stages"):
        b.put(f"layout.{key}", layout[key], "count", f"{key.replace('_', ' ')} degree" if key != "micro_batch"
              else "sequences per micro-batch", f"{{parallel.{key}}} ({src})" if not chosen.searched else src)
    b.put("layout.schedule", _text(PL.SCHEDULES, layout["schedule"]), "", "pipeline schedule", src)
    b.put("layout.zero", layout["zero"], "count", "ZeRO stage", src)
    b.put("layout.recompute", _text(TM.RECOMPUTE, layout["recompute"]), "", "activation recomputation", src)
    used = LS.used_accelerators(layout)
    b.put("layout.idle_accelerators", s["hardware.count"] - used, "count", "accelerators left idle",
          "{hardware.count} - tensor × pipeline × context × data")
    b.put("layout.searched", chosen.searched, "", "qwenfeas chose the layout", src)
    if chosen.searched and chosen.choice is not None and not any(
            written(b.report.scenario, f"parallel.{k}") for k in ("tensor", "pipeline", "expert", "context", "data")):
        c = chosen.choice
        given = given_utilisation(b.report.scenario)
        b.report.notes.append(f"layout search: {c.fitting:,} of {c.candidates:,} layouts fit memory; fastest "
                              + (f"at the given {given.upper()} (the most accelerators used) " if given else "")
                              + describe(c.layout))
        if c.runner_up is not None and given:
            slower = _given_time(c.runner_up, given) / _given_time(c.layout, given) - 1
            predicted = c.runner_up_result["step_seconds"] / c.result["step_seconds"] - 1
            b.report.notes.append(f"runner-up {describe(c.runner_up)}: " + (
                f"{slower:+.1%} training time at the given {given.upper()}" if slower >= 0.0005 else
                f"as long at the given {given.upper()}; the predicted step ({predicted:+.1%}) breaks the tie"))
        elif c.runner_up is not None:
            slower = c.runner_up_result["step_seconds"] / c.result["step_seconds"] - 1
            why = (LS.why_slower(c.result, c.runner_up_result) if slower >= 0.0005
                   else "as fast (ties go to more accelerators used, then fewer pipeline stages)")
            b.report.notes.append(f"runner-up {describe(c.runner_up)}: {slower:+.1%} step time, {why}")
    return used


def _given_time(layout: dict, given: str) -> float:
    """A layout's relative training time under the given utilisation (layout_search.given_time)."""
    return LS.given_time(LS.used_accelerators(layout), layout["recompute"], given)


def describe(layout: dict) -> str:
    """A layout in one line: "TP8 PP16 DP64 EP1 CP1, micro-batch 1, interleaved x4, ZeRO-1, recompute full"."""
    schedule = PL.SCHEDULES[int(layout["schedule"])]
    if schedule == "interleaved":
        schedule += f" x{layout['virtual_stages']:g}"
    return (f"TP{layout['tensor']:g} PP{layout['pipeline']:g} DP{layout['data']:g} EP{layout['expert']:g} "
            f"CP{layout['context']:g}, micro-batch {layout['micro_batch']:g}, {schedule}, ZeRO-{layout['zero']:g}, "
            f"recompute {TM.RECOMPUTE[int(layout['recompute'])]}")


def _used(s, used) -> str:
    """The accelerators the layout uses, as a formula term."""
    idle = s["hardware.count"] - used
    return "({hardware.count} - {layout.idle_accelerators})" if is_array(idle) or idle else "{hardware.count}"


def _time(b, s, work, layout, result, used) -> None:
    r = b.report
    scenario = r.scenario
    model_flops = r["training.flops"]
    recompute = _text(TM.RECOMPUTE, layout["recompute"])
    b.put("training.hardware_flops", F.hardware_flops(model_flops, recompute), "FLOP",
          f"hardware FLOPs (recompute: {recompute})",
          "{training.flops} × 4/3 (full recomputation)" if recompute == "full" else "{training.flops}",
          F.hardware_flops)
    steps = work.steps
    peak = s["hardware.peak_flops"]
    if written(scenario, "hardware.hfu"):
        run = b.put("training.seconds", T.compute_seconds(r["training.hardware_flops"], used, peak,
                                                                        s["hardware.hfu"]), "s",
                    "training time, uninterrupted (HFU given)",
                    "{training.hardware_flops} / (" + _used(s, used) + " × {hardware.peak_flops} × {hardware.hfu})",
                    T.compute_seconds)
    elif written(scenario, "hardware.mfu"):
        run = b.put("training.seconds", T.compute_seconds(model_flops, used, peak, s["hardware.mfu"]),
                    "s", "training time, uninterrupted (MFU given)",
                    "{training.flops} / (" + _used(s, used) + " × {hardware.peak_flops} × {hardware.mfu})",
                    T.compute_seconds)
    else:
        run = b.put("training.seconds", result["step_seconds"] * steps, "s",
                    "training time, uninterrupted (predicted)",
                    "{tokens} / {training.batch_tokens} steps × {training.step_seconds}")
    given = written(scenario, "hardware.mfu") or written(scenario, "hardware.hfu")
    step = b.put("training.step_seconds", run / steps, "s", "one optimizer step",
                 "{training.seconds} / steps (the given utilisation)" if given else
                 "{step_compute_seconds} + {step_bubble_seconds} + {step_exposed_seconds} + {step_optimizer_seconds}"
                 "; weight GEMMs at most {step_gemm_ceiling} of the peak" + _fp8_recipe_parts(work, result), evaluate)
    b.put("training.mfu", model_flops / (run * used * peak), "fraction",
          "model FLOPs utilisation" + (" (given)" if given else " (predicted)"),
          "{training.flops} / ({training.seconds} × " + _used(s, used) + " × {hardware.peak_flops})")
    if not given:
        b.term("step_compute_seconds", result["compute_seconds"], "s", "compute, one step",
               "micro-batches × ({step_gemm_seconds} + {step_attention_seconds} + {step_elementwise_seconds}), "
               f"/ (1 - {OVERLAP_ALL_TO_ALL_SMS} of {OVERLAP_ALL_TO_ALL_SMS / work.all_to_all_share:.0f} SMs) when "
               "all-to-alls overlap; "
               "plus what compute loses while overlapped collectives run (18.9% slower, Lee et al. 2025)", evaluate)
        if "expert_launch_seconds" in result:
            b.term("step_expert_launch_seconds", result["expert_launch_seconds"], "s",
                   "routed-expert GEMMs waiting on their launches, one micro-batch (in the GEMMs)",
                   "sum over expert weights of GEMMs x max(device time, MoE layers x local experts x "
                   f"{work.expert_dispatch * 1e6:.3g} us), less the device time", expert_gemm_seconds)
        for key, label in (("gemm_seconds", "GEMMs, one micro-batch on the last stage"),
                           ("attention_seconds", "attention kernels, one micro-batch"
                            + (" (unfused: scores through memory)" if work.unfused else "")),
                           ("elementwise_seconds", "element-wise work, one micro-batch"
                            + (" (unfused expert clamp and bias)" if work.unfused_epilogue else "")),
                           ("bubble_seconds", "pipeline bubble, one step"),
                           ("exposed_seconds", "exposed communication, one step"),
                           ("optimizer_seconds", "optimizer step")):
            b.term(f"step_{key}", result[key], "s", label, "step_time.evaluate", evaluate)
        _gemm_ceiling(b, s, work)
        if not work.unfused:  # the full-attention layers' kernel rates
            generation, head_dim = work.attention_kernel
            shape = f"{generation}, head dim {show(head_dim)}, causal, {{training.sequence}} keys"
            for index, name in ((1, "forward"), (2, "backward")):
                b.term(f"step_attention_{name}_efficiency", work.attention_parts[0][index], "fraction",
                       f"attention kernel {name}, share of the BF16 peak", f"grid at ({shape})", attention_efficiency)
        _fp8_recipe(b, work, result)
    scale = step / result["step_seconds"]  # 1 when predicted; the given MFU's step otherwise
    b.put("training.bubble_fraction", result["bubble_seconds"] * scale / step, "fraction",
          f"pipeline bubble over step time ({_text(PL.SCHEDULES, layout['schedule'])})",
          "bubble ratio × busy time / {training.step_seconds}", PL.bubble_ratio)
    b.put("training.exposed_communication_seconds", result["exposed_seconds"] * scale * steps, "s",
          "communication not hidden by compute, whole run",
          "steps × (micro-batches × exposed TP/EP/CP + "
          + ("blocking pipeline transfers (DeepSpeed: pipeline.blocking_transfers)" if work.deepspeed
             else "pipeline fill")
          + (" + DP after the last micro-batch, all of it" if work.dp_after_backward else " + DP last bucket") + ")"
          + ("" if given else " = steps × {step_exposed_seconds}"))
    rate = R.INTERRUPTIONS_PER_ACCELERATOR_HOUR
    mtbf = 1.0 / (used * rate) * 3600.0
    checkpoint = (result["weights_bytes"] + result["optimizer_bytes"]) / CHECKPOINT_BYTES_PER_SECOND
    b.term("checkpoint_seconds", checkpoint, "s", "writing one checkpoint",
           f"(weights + optimizer bytes per accelerator) / ({CHECKPOINT_BYTES_PER_SECOND / 1e9:.3g} GB/s "
           "per accelerator, Llama 3's storage)")
    goodput = b.put("training.goodput", R.goodput(checkpoint, RESTART_SECONDS, mtbf), "fraction",
                    f"useful time over wall-clock (interruptions, checkpoints; restart {RESTART_SECONDS / 60:g} min "
                    "estimated)",
                    f"1 / (1 + C/τ + (τ/2 + {RESTART_SECONDS:g} s) / MTBF), τ = sqrt(2 C MTBF), "
                    f"C = {{checkpoint_seconds}}, MTBF = 1 / (accelerators used × {rate:.2g} per hour)", R.goodput)
    wall = run / goodput
    b.put("training.interruptions", R.interruptions(used, wall), "count", "unexpected interruptions",
          f"accelerators used × {rate:.2g} per hour × {{training.wall_clock_seconds}}", R.interruptions)
    b.put("training.wall_clock_seconds", wall, "s", "wall-clock time, interruptions included",
          "{training.seconds} / {training.goodput}")
    b.put("training.gpu_hours", reserved_hours(s["hardware.count"], wall), "h",
          "accelerator-hours reserved (wall-clock, interruptions included)",
          "{hardware.count} × {training.wall_clock_seconds} / 3600", reserved_hours)


def _gemm_ceiling(b, s, work) -> None:
    """The measured GEMM ceiling the step's weight GEMMs run under, and where it comes from."""
    preset, compute = s.get("hardware.preset"), s["precision.compute"]
    per_tensor = gemm_ceiling(preset, compute)
    scaled = work.measured_ceiling != per_tensor
    b.term("step_gemm_ceiling", work.measured_ceiling, "fraction",
           f"best dense {compute} GEMM, share of the peak (before output writes, tiles and bandwidth)",
           f"measured maximum for {preset or 'no preset'} at {compute}"
           + (f" ({per_tensor:.4g}, per-tensor scales) × {BLOCK_SCALED_GEMM_RATE:.4g} ({work.fp8_recipe}: "
              "block-scaled over per-tensor FP8 GEMMs, Transformer Engine on B300)" if scaled else ""),
           recipe_ceiling if scaled else gemm_ceiling)


def _fp8_recipe_parts(work, result) -> str:
    """Where the FP8 recipe's costs sit in the step, for its formula."""
    if work.fp8_recipe is None:
        return ""
    text = f"; compute holds micro-batches × {{step_fp8_cast_seconds}} of casts to FP8 ({work.fp8_recipe} scaling)"
    if "amax_reduction_seconds" in result:
        text += ", exposed holds micro-batches × {step_amax_reduction_seconds} of amax all-reduces"
    return text


def _fp8_recipe(b, work, result) -> None:
    """What the FP8 scaling recipe costs: its casts (in the element-wise work) and, under current
    scaling, the amax all-reduces (in the exposed communication)."""
    if work.fp8_recipe is None:
        return
    b.term("step_fp8_cast_seconds", result["fp8_cast_seconds"], "s",
           f"casts to FP8 ({work.fp8_recipe} scaling), one micro-batch (in the element-wise work)",
           f"tokens × layers × {work.cast_bytes:.4g} B × (forward passes × (2 h + q + f) + 2 h + q + 2 kv + "
           "(1 + gated) × f) / (0.85 × bandwidth)",
           fp8_cast_bytes)
    if "amax_reduction_seconds" in result:
        b.term("step_amax_reduction_seconds", result["amax_reduction_seconds"], "s",
               "amax all-reduces of current scaling, one micro-batch (exposed, in the tensor-parallel time)",
               "(attention blocks + split FFNs) × 2 × one all-reduce's latency over the tensor-parallel group, "
               "when sequence-parallel", amax_reductions)


def reserved_hours(accelerators, wall_clock_seconds):
    """Accelerator-hours of a run as published: the job's whole fleet for its wall-clock time.

    Formula: n * wall-clock / 3600   (every accelerator reserved, idle ones and lost time included)
    Convention: published GPU-hours are reservation hours: DeepSeek-V3's 180K H800 GPU-hours per
    trillion tokens are "3.7 days on our cluster with 2048 H800 GPUs" (report sec. 1: 2,048 x 3.7 x
    24 = 182K), the fleet's wall-clock time; Llama 2's Table 2 and Llama 3.1's model card count
    "cumulative GPU time" the job held. A measured time (measured.*) overrides this.
    Source: DeepSeek-V3 report (arXiv 2412.19437) Table 1; Touvron et al. 2023b, Table 2.
    """
    return T.accelerator_hours(accelerators, wall_clock_seconds)


def _memory(b, s, result) -> None:
    for key, label in _TERMS.items():
        b.put(f"training_memory.{key}_bytes", result[f"{key}_bytes"], "B", label,
              "per accelerator at the layout (step_time.evaluate)", TM.model_state_bytes if key != "activations"
              else TM.activation_bytes_per_layer)
    total = b.put("training_memory.total_bytes", result["total_bytes"], "B", "total",
                  "{training_memory.weights_bytes} + {training_memory.gradients_bytes} + "
                  "{training_memory.optimizer_bytes} + {training_memory.activations_bytes}")
    usable = b.term("training_usable_memory", s["hardware.memory"] - TM.TRAINING_RESERVE_BYTES, "B",
                    "memory per accelerator for training",
                    f"{{hardware.memory}} - {TM.TRAINING_RESERVE_BYTES / 1e9:g} GB runtime reserve")
    fill = total / usable
    if is_array(fill):
        verdict = "share of usable memory (above 1 overflows)"
    elif fill <= 1:
        verdict = f"fits ({fill:.0%} of usable memory)"
    else:
        parts = [result[f"{k}_bytes"] for k in _TERMS]
        largest = max(zip(parts, _TERMS.values(), strict=True))[1]
        verdict = f"overflows {fill:.2g}x; largest: {largest}"
    b.put("training_memory.fill", fill, "fraction", verdict, "{training_memory.total_bytes} / {training_usable_memory}")


def faster_on_count(report) -> str:
    """The fastest layout that fits the user's own hardware.count, when it beats the stated one ("" if not)."""
    work = getattr(report, "training_work", None)
    if work is None or "(given)" in report.metrics["training.mfu"].label:  # a given MFU is not comparable
        return ""
    count = report.scenario["hardware.count"]
    choice = _search_on_count(report, work)
    if choice is None or choice.result["step_seconds"] >= report["training.step_seconds"] * (1 - 1e-9):
        return ""
    days = choice.result["step_seconds"] * work.steps / 86400
    return f"on your {count:,.0f}: {describe(choice.layout)} takes {days:,.1f} days"


def _search_on_count(report, work):
    """The layout search over the user's own hardware.count, run once per report (the overflow
    remedy and the verdict's faster layout both ask for it)."""
    if not hasattr(report, "training_search_on_count"):
        report.training_search_on_count = LS.search(work, report.scenario["hardware.count"], {},
                                                    given_utilisation(report.scenario))
    return report.training_search_on_count


def _what_fits(b, s, work, chosen) -> None:
    """When the layout overflows: the fastest layout that fits the user's own count, then the fewest
    accelerators that fit at all (any count)."""
    count = s["hardware.count"]
    given = given_utilisation(b.report.scenario)

    def seconds(layout, result):  # at the given utilisation when there is one, like the estimate's own time
        if given:
            return b.report["training.seconds"] * _given_time(layout, given) / _given_time(chosen.layout, given)
        return result["step_seconds"] * work.steps

    if not chosen.searched:
        choice = _search_on_count(b.report, work)
        if choice is not None:
            days = seconds(choice.layout, choice.result) / 86400
            b.term("training_layout_on_count", days * 86400, "s",
                   f"on your {count:,.0f}: {describe(choice.layout)} fits, {days:,.1f} days",
                   "layout search over hardware.count")
    found = LS.fewest(work, {})
    if found is None:
        b.report.notes.append("no layout of tensor, pipeline, expert and context parallelism fits memory at any "
                              "count: shard more of the model state, recompute more or shrink the micro-batch")
        return
    layout, result = found
    b.put("training_memory.min_accelerators", LS.used_accelerators(layout), "count", "fewest accelerators that fit",
              "searched over tensor × pipeline × expert × context and the way they run, with the fewest "
              "data-parallel replicas that fit", TM.smallest_data_parallel)
    for key in ("tensor", "pipeline", "context", "data"):
        b.put(f"training_memory.min_{key}_parallel", layout[key], "count", f"  {key}-parallel degree",
              f"the layout of training_memory.min_accelerators ({key})")
    b.put("training_memory.min_seconds", seconds(layout, result), "s", f"training time on them ({describe(layout)})",
          f"{{training.seconds}} at the given {given.upper()}, scaled to the accelerators this layout uses"
          + (" and its recomputation" if given == "hfu" else "") if given else "predicted step × steps")


def _communication(b, work, result) -> None:
    if not work.links:
        b.report.notes.append("communication is not estimated: the accelerator has no scale_up_bandwidth "
                              "(set it, and scale_out_bandwidth, under hardware:)")
        return
    if not work.out_known:
        _unestimated_scale_out(b, result)
    steps = work.steps
    gathered = ""
    if work.gather_bytes != work.w_bytes:  # training.fp8_param_gather
        b.term("step_weight_gather_bytes", work.gather_bytes, "B", "bytes per parameter of the weight all-gathers "
               f"(FP8, {work.fp8_recipe} scales)", "1 + scale bytes per value", fp8_gather_bytes)
        gathered = "; weights all-gathered at {step_weight_gather_bytes} per parameter"
    for key, label in (("tensor", "tensor-parallel collectives"), ("context", "context-parallel K/V ring"),
                       ("expert", "expert-parallel all-to-alls"), ("data", "data-parallel gradients and weights")):
        if key == "expert" and not work.moe:
            continue
        b.put(f"communication.{key}_seconds", result[f"{key}_seconds"] * steps, "s", label,
              "per step × {tokens} / {training.batch_tokens} steps, at the achieved link bandwidth"
              + (gathered if key == "data" else ""))
    up = b.put("communication.scale_up_seconds", result["scale_up_seconds"] * steps, "s",
               "busy time of the scale-up link (NVLink, ICI)", "sum of the traffic that stays in the domain")
    out = b.put("communication.scale_out_seconds", result["scale_out_seconds"] * steps, "s",
                "busy time of the scale-out network (InfiniBand, Ethernet)" if work.out_known else
                "busy time of the scale-out network: not estimated (no scale_out_bandwidth), latency only",
                "sum of the traffic between domains")
    compute = result["compute_seconds"] * steps
    b.put("communication.fraction_of_compute", maximum(up, out) / compute, "fraction",
          "busiest link over compute time (the link classes run at the same time)",
          "max({communication.scale_up_seconds}, {communication.scale_out_seconds}) / compute time")
    b.put("communication.exposed_fraction", result["exposed_seconds"] / result["step_seconds"], "fraction",
          "exposed communication over step time", "{training.exposed_communication_seconds} / "
          "({training.step_seconds} × steps)")


_CLASSES = {"tensor": "tensor-parallel", "context": "context-parallel", "expert": "expert all-to-all",
            "data": "data-parallel", "pipeline": "pipeline"}


def _unestimated_scale_out(b, result) -> None:
    """The note for traffic between scale-up domains when the scale-out bandwidth is unknown: which
    classes cross and how many bytes per step each accelerator would send."""
    crossing = {key: result.get(f"scale_out_bytes_{key}", 0.0) for key in _CLASSES}
    if any(is_array(value) for value in crossing.values()):
        return  # a sweep: no single-scenario note
    parts = [f"{_CLASSES[key]} {value / 1e9:,.3g} GB" for key, value in crossing.items() if value > 0]
    if parts:
        b.report.notes.append("communication between scale-up domains is not estimated (no scale_out_bandwidth): "
                              "per step each accelerator would send " + ", ".join(parts) + " over the scale-out "
                              "network; the traffic inside a domain is timed (set hardware.scale_out_bandwidth)")
