"""What training/step.py reports around the step model: units and sources of the layout, the HFU
branch, the idle-replica note, the search notes, and the remedies of an overflowing layout.

Expected numbers are worked out here from the scenario (model sizes from its config) and the
formulas the docstrings cite, not read back from the program.
"""

from __future__ import annotations

import re

import pytest

from qwenfeas.formulas import time as T
from qwenfeas.formulas import training_memory as TM
from qwenfeas.training.step_time import evaluate

# A two-layer model on one accelerator (the same as test_training_step.py's ONE): parameters by hand
ONE = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: %s}
hardware: {count: %d, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W%s}
parallel: {%s}
"""
LAYER = 1024 * 128 * (2 * 8 + 2 * 8) + 3 * 1024 * 4096 + 2 * 1024
PARAMS = 2 * LAYER + 2 * 1000 * 1024 + 1024
TABLE = 1000 * 1024
STATED = "tensor: 1, zero: 1, micro_batch: 1, schedule: 1f1b"


def one(run, recompute="selective", count=1, hardware="", parallel=STATED):
    return run(ONE % (recompute, count, hardware, parallel))


def test_a_stated_layout_reports_counts_with_their_scenario_keys(run):
    r = one(run)
    for key in ("tensor", "pipeline", "data", "expert", "context", "micro_batch", "virtual_stages"):
        m = r.metrics[f"layout.{key}"]
        assert (m.unit, m.value) == ("count", 1)
        assert m.formula == f"{{parallel.{key}}} (as stated (defaults where silent))"
    assert r.metrics["layout.tensor"].label == "tensor degree"
    assert r.metrics["layout.virtual_stages"].label == "virtual stages degree"
    assert r.metrics["layout.micro_batch"].label == "sequences per micro-batch"
    for key, unit in (("schedule", ""), ("zero", "count"), ("recompute", ""), ("idle_accelerators", "count"),
                      ("searched", "")):
        assert r.metrics[f"layout.{key}"].unit == unit, key
    assert (r["layout.schedule"], r["layout.zero"], r["layout.recompute"]) == ("1f1b", 1, "selective")
    assert r.metrics["training.mfu"].unit == "fraction" and r.metrics["training.seconds"].unit == "s"


def test_a_searched_layout_says_so_and_names_the_search(run):
    r = one(run, parallel="micro_batch: 1")  # no degree written: every degree is searched for 1 accelerator
    assert r["layout.searched"] is True
    assert r.metrics["layout.tensor"].formula == "chosen by the layout search"
    assert r.metrics["layout.schedule"].formula == "chosen by the layout search"
    search = [n for n in r.notes if n.startswith("layout search: ")]
    assert len(search) == 1
    # one accelerator: TP1 PP1 DP1 EP1 CP1 is the only shape, run 1f1b (pipeline 1), micro-batch 1 (written)
    assert "fastest TP1 PP1 DP1 EP1 CP1, micro-batch 1, 1f1b, ZeRO-" in search[0]
    assert not any(n.startswith("runner-up") for n in r.notes)  # no other shape on one accelerator


@pytest.mark.parametrize("key", ["tensor", "pipeline", "expert", "context", "data"])
def test_no_search_note_when_a_degree_is_written(run, key):
    r = one(run, parallel=f"{key}: 1, micro_batch: 1")  # the rest of the way it runs is searched
    assert r["layout.searched"] is True
    assert not any(n.startswith("layout search: ") for n in r.notes)


def test_a_given_hfu_counts_the_recomputed_flops(run):
    # full recomputation: hardware FLOPs = 4/3 x 6ND (one more forward); time = that / (n x peak x HFU)
    r = one(run, recompute="full", hardware=", hfu: 0.4")
    flops = 6 * (PARAMS - TABLE) * 1e9
    assert r["training.hardware_flops"] == pytest.approx(flops * 4 / 3)
    assert r.metrics["training.hardware_flops"].formula == "{training.flops} × 4/3 (full recomputation)"
    seconds = r.metrics["training.seconds"]
    assert seconds.value == pytest.approx(flops * 4 / 3 / (1e15 * 0.4))
    assert (seconds.unit, seconds.function) == ("s", T.compute_seconds)
    assert seconds.label == "training time, uninterrupted (HFU given)"
    assert seconds.formula == "{training.hardware_flops} / ({hardware.count} × {hardware.peak_flops} × {hardware.hfu})"
    step = r.metrics["training.step_seconds"]
    assert step.value == pytest.approx(flops * 4 / 3 / (1e15 * 0.4) / (1e9 / 8192))
    assert step.formula == "{training.seconds} / steps (the given utilisation)" and step.function is evaluate
    assert r["training.mfu"] == pytest.approx(0.4 * 3 / 4)  # MFU counts the model FLOPs only
    assert "(given)" in r.metrics["training.mfu"].label
    assert "step_compute_seconds" not in r.terms  # the step's parts are the prediction's, not shown


def test_a_predicted_step_shows_its_parts(run):
    r = one(run)
    assert r.metrics["training.hardware_flops"].formula == "{training.flops}"  # selective: no replay counted
    compute = r.terms["step_compute_seconds"]
    assert compute.function is evaluate and compute.unit == "s" and compute.label == "compute, one step"
    # one accelerator, no pipeline, no communication: the step is compute plus the optimizer step
    parts = compute.value + r.terms["step_optimizer_seconds"].value
    assert r["training.step_seconds"] == pytest.approx(parts, rel=1e-12)
    assert r.metrics["training.step_seconds"].formula.startswith("{step_compute_seconds} + ")


@pytest.mark.parametrize(("count", "micro", "idle"), [
    (8, 1, 8),  # 8192 / 2048 = 4 sequences for 8 replicas x 1
    (4, 1, None),  # 4 sequences for 4 replicas: every replica has one
    (4, 2, 4),  # 4 sequences for 4 replicas x 2 per micro-batch
])
def test_a_batch_smaller_than_the_replicas_is_noted(run, count, micro, idle):
    r = one(run, count=count, parallel=f"tensor: 1, zero: 1, micro_batch: {micro}, schedule: 1f1b")
    assert r["layout.data"] == count
    notes = [n for n in r.notes if n.startswith("the global batch")]
    if idle is None:
        assert notes == []
    else:
        assert notes == [f"the global batch (4 sequences) is smaller than the {idle} data-parallel replicas: "
                         "some sit idle"]


# --- an overflowing stated layout: Llama 3.1 8B unsharded on one H100 ---------------------------------

OVER = """
model: {preset: llama-3.1-8b}
context: 4096
tokens: 1T
training: {batch_tokens: 4M, recompute: none}
hardware: {preset: h100-sxm, count: 8}
parallel: {tensor: 1, pipeline: 1, data: 8, zero: 0, micro_batch: 1, schedule: 1f1b}
"""
# Llama 3.1 8B (config.json): 32 layers, hidden 4096, 32 heads / 8 KV heads of 128, FFN 14336,
# vocabulary 128,256, untied embeddings
N_8B = 32 * (4096 * 128 * (32 + 8 + 8 + 32) + 3 * 4096 * 14336 + 2 * 4096) + 2 * 128256 * 4096 + 4096
PEAK_H100 = 989e12  # dense BF16


_DESCRIBED = re.compile(r"TP(\d+) PP(\d+) DP(\d+) EP(\d+) CP(\d+), micro-batch (\d+), ([\w-]+)(?: x(\d+))?, "
                        r"ZeRO-(\d), recompute (\w+)")


def stated(text: str, count, context=4096) -> str:
    """A scenario stating the layout a note describes, on `count` accelerators."""
    t, p, d, _e, c, mb, schedule, v, zero, recompute = _DESCRIBED.search(text).groups()
    return (f"model: {{preset: llama-3.1-8b}}\ncontext: {context}\ntokens: 1T\n"
            f"training: {{batch_tokens: 4M, recompute: {recompute}}}\n"
            f"hardware: {{preset: h100-sxm, count: {count:g}}}\n"
            f"parallel: {{tensor: {t}, pipeline: {p}, data: {d}, context: {c}, micro_batch: {mb}, "
            f"schedule: {schedule}, zero: {zero}" + (f", virtual_stages: {v}" if v else "") + "}\n")


def test_an_overflowing_layout_names_what_fits(run):
    r = run(OVER)
    # BF16 weights and gradients and FP32 Adam master and moments: at least 2 + 2 + 12 = 16 B a parameter,
    # unsharded on each of the 8: more than an 80 GB H100 holds
    assert 16 * N_8B > 80e9 and r["training_memory.fill"] > 1
    floor_seconds = 6 * N_8B * 1e12 / (8 * PEAK_H100)  # 6ND at the whole peak of the 8: no run is faster
    on_count = r.terms["training_layout_on_count"]
    assert on_count.unit == "s" and on_count.value > floor_seconds
    assert on_count.formula == "layout search over hardware.count"
    days = float(re.search(r"fits, ([\d,.]+) days", on_count.label)[1].replace(",", ""))
    assert on_count.value / 86400 == pytest.approx(days, abs=0.05)
    # the layout it names, stated on the 8, takes the time it claims
    again = run(stated(on_count.label, 8))
    assert again["training_memory.fill"] <= 1
    assert again["training.seconds"] == pytest.approx(on_count.value, rel=1e-9)

    fewest = r.metrics["training_memory.min_accelerators"]
    degrees = [r[f"training_memory.min_{k}_parallel"] for k in ("tensor", "pipeline", "context", "data")]
    assert fewest.value == degrees[0] * degrees[1] * degrees[2] * degrees[3]
    assert fewest.value >= 2  # 16 B x 8B parameters do not fit one 80 GB accelerator however it runs
    assert (fewest.unit, fewest.function) == ("count", TM.smallest_data_parallel)
    assert fewest.label == "fewest accelerators that fit"
    for k in ("tensor", "pipeline", "context", "data"):
        m = r.metrics[f"training_memory.min_{k}_parallel"]
        assert (m.unit, m.label) == ("count", f"  {k}-parallel degree")
        assert m.formula == f"the layout of training_memory.min_accelerators ({k})"
    least = r.metrics["training_memory.min_seconds"]
    assert least.unit == "s" and least.formula == "predicted step × steps"
    assert least.value > 6 * N_8B * 1e12 / (fewest.value * PEAK_H100)
    fewest_run = run(stated(least.label, fewest.value))
    assert fewest_run["training.seconds"] == pytest.approx(least.value, rel=1e-9)


SLOW = OVER.replace("recompute: none", "recompute: full").replace("zero: 0", "zero: 3")  # fits, slowly


def test_a_faster_layout_on_the_same_count_is_named_with_its_days(run):
    from qwenfeas.training.step import faster_on_count

    r = run(SLOW)
    assert r["training_memory.fill"] <= 1
    text = faster_on_count(r)
    assert text.startswith("on your 8: ")
    days = float(re.search(r"takes ([\d,.]+) days", text)[1].replace(",", ""))
    again = run(stated(text, 8))  # the layout it names, stated, is faster and takes those days
    assert again["training.seconds"] / 86400 == pytest.approx(days, abs=0.05)
    assert again["training.seconds"] < r["training.seconds"]
    assert faster_on_count(again) == ""  # the fastest layout has nothing faster
    given = run(SLOW.replace("count: 8}", "count: 8, mfu: 0.5}"))
    assert faster_on_count(given) == ""  # a given MFU is not comparable with a predicted step


def test_the_search_on_the_users_count_runs_once_per_report(run):
    from qwenfeas.training.step import _search_on_count

    r = run(SLOW)
    first = _search_on_count(r, r.training_work)
    assert first is not None and _search_on_count(r, r.training_work) is first


def test_describe_names_the_virtual_stages_of_an_interleaved_schedule():
    from qwenfeas.formulas import pipeline as PL
    from qwenfeas.training.step import describe

    layout = {"tensor": 8.0, "pipeline": 16.0, "data": 64.0, "expert": 1.0, "context": 1.0, "micro_batch": 1.0,
              "schedule": float(PL.INTERLEAVED), "virtual_stages": 4.0, "zero": 1.0, "recompute": float(TM.FULL)}
    assert describe(layout) == "TP8 PP16 DP64 EP1 CP1, micro-batch 1, interleaved x4, ZeRO-1, recompute full"
    plain = {**layout, "schedule": float(PL.DUALPIPE), "virtual_stages": 1.0, "recompute": float(TM.NO_RECOMPUTE)}
    assert describe(plain) == "TP8 PP16 DP64 EP1 CP1, micro-batch 1, dualpipe, ZeRO-1, recompute none"


def test_idle_accelerators_show_in_the_given_utilisations_formula(run):
    # 3 accelerators, 2 data-parallel replicas: one idle, and the time is over the 2 used
    r = one(run, count=3, hardware=", hfu: 0.4", parallel="tensor: 1, data: 2, zero: 1, micro_batch: 1, schedule: 1f1b")
    assert r["layout.idle_accelerators"] == 1
    assert r["training.seconds"] == pytest.approx(6 * (PARAMS - TABLE) * 1e9 / (2 * 1e15 * 0.4))
    assert r.metrics["training.seconds"].formula == ("{training.hardware_flops} / (({hardware.count} - "
                                                     "{layout.idle_accelerators}) × {hardware.peak_flops} × {hardware.hfu})")


def test_units_and_formulas_of_the_time_memory_and_link_outputs(run):
    from qwenfeas.formulas import flops as F
    from qwenfeas.formulas import pipeline as PL
    from qwenfeas.formulas import reliability as R
    from qwenfeas.training.step import CHECKPOINT_BYTES_PER_SECOND, RESTART_SECONDS, reserved_hours

    r = run(SLOW)
    expect = {"training.dense_flops": ("FLOP", F.training_dense_flops),
              "training.attention_flops": ("FLOP", F.training_attention_flops),
              "training.hardware_flops": ("FLOP", F.hardware_flops), "training.bubble_fraction": ("fraction", PL.bubble_ratio),
              "training.goodput": ("fraction", R.goodput), "training.interruptions": ("count", R.interruptions),
              "training.gpu_hours": ("h", reserved_hours),
              "training_memory.weights_bytes": ("B", TM.model_state_bytes),
              "training_memory.optimizer_bytes": ("B", TM.model_state_bytes),
              "training_memory.activations_bytes": ("B", TM.activation_bytes_per_layer),
              "communication.fraction_of_compute": ("fraction", None), "communication.exposed_fraction": ("fraction", None)}
    for name, (unit, function) in expect.items():
        assert (r.metrics[name].unit, r.metrics[name].function) == (unit, function), name
    assert r.metrics["training_memory.total_bytes"].label == "total"
    assert r.metrics["training.exposed_communication_seconds"].formula.endswith(" = steps × {step_exposed_seconds}")
    for key in ("gemm", "attention", "elementwise", "bubble", "exposed", "optimizer"):
        term = r.terms[f"step_{key}_seconds"]
        assert (term.unit, term.formula, term.function) == ("s", "step_time.evaluate", evaluate)
        assert term.label.split(",")[0] in ("GEMMs", "attention kernels", "element-wise work", "pipeline bubble",
                                            "exposed communication", "optimizer step")
    checkpoint = r.terms["checkpoint_seconds"]
    assert (checkpoint.unit, checkpoint.label) == ("s", "writing one checkpoint")
    assert f"/ ({2e12 / 16384 / 1e9:.3g} GB/s per accelerator" in checkpoint.formula  # 2 TB/s over 16,384 GPUs
    assert CHECKPOINT_BYTES_PER_SECOND == 2e12 / 16384
    assert r.metrics["training.goodput"].label.endswith(f"restart {RESTART_SECONDS / 60:g} min estimated)")
    assert "restart 10 min estimated)" in r.metrics["training.goodput"].label
    usable = r.terms["training_usable_memory"]
    assert (usable.unit, usable.label) == ("B", "memory per accelerator for training")
    assert usable.value == 80e9 - TM.TRAINING_RESERVE_BYTES
    assert usable.formula == f"{{hardware.memory}} - {TM.TRAINING_RESERVE_BYTES / 1e9:g} GB runtime reserve"
    fill = r["training_memory.fill"]
    assert r.metrics["training_memory.fill"].label == f"fits ({fill:.0%} of usable memory)"
    given = run(SLOW.replace("count: 8}", "count: 8, mfu: 0.5}"))
    assert not given.metrics["training.exposed_communication_seconds"].formula.endswith("{step_exposed_seconds}")


def test_an_overflow_names_its_largest_part(run):
    r = run(OVER)
    parts = {k: r[f"training_memory.{k}_bytes"] for k in ("weights", "gradients", "optimizer", "activations")}
    largest = max(parts, key=parts.get)
    label = {"optimizer": "optimizer states"}.get(largest, largest)
    assert r.metrics["training_memory.fill"].label == f"overflows {r['training_memory.fill']:.2g}x; largest: {label}"


def test_the_runner_up_note_gives_its_extra_step_time(run):
    searched = "\n".join(line for line in OVER.splitlines() if not line.startswith("parallel:"))  # all searched
    r = run(searched.replace("context: 4096", "context: 2048"))
    assert r["layout.searched"] is True
    fastest = next(n for n in r.notes if n.startswith("layout search: "))
    runner = next(n for n in r.notes if n.startswith("runner-up "))
    slower = float(re.search(r": ([+-][\d.]+)% step time, more ", runner)[1]) / 100
    # both layouts stated on the 8: the runner-up's step over the fastest's, less one
    best, second = run(stated(fastest, 8, 2048)), run(stated(runner, 8, 2048))
    assert second["training.step_seconds"] / best["training.step_seconds"] - 1 == pytest.approx(slower, abs=0.0005)
    assert slower > 0


def test_a_runner_up_as_fast_as_the_fastest_says_so(run):
    # Llama 3.1 8B at 4,096 tokens on 8 H100: CP2 at micro-batch 4 runs the same 8,192 tokens per rank
    # and micro-batch as CP1 at micro-batch 2, its K/V exchange hidden: the same step, so no "more X"
    searched = "\n".join(line for line in OVER.splitlines() if not line.startswith("parallel:"))
    r = run(searched)
    fastest = next(n for n in r.notes if n.startswith("layout search: "))
    runner = next(n for n in r.notes if n.startswith("runner-up "))
    assert runner.endswith(": +0.0% step time, as fast (ties go to more accelerators used, then fewer pipeline "
                           "stages)")
    best, second = run(stated(fastest, 8)), run(stated(runner, 8))
    assert second["training.step_seconds"] == pytest.approx(best["training.step_seconds"], rel=0.0005)


TRAIN = "model: {preset: %s}\ncontext: 4096\ntokens: 1T\nhardware: {preset: h100-sxm, count: 64}\n"


def test_the_attention_formula_names_the_sliding_and_linear_layers_it_adds(run):
    full = "3 × {model.attention_flops_per_key} × ({training.sequence} + 1) / 2 × {tokens}"
    causal = "training.attention_term=causal"
    sliding = run(TRAIN % "gpt-oss-120b", causal).metrics["training.attention_flops"].formula
    assert sliding == full + " + sliding-window layers (keys capped at {model.attention.sliding_window})"
    linear = run(TRAIN % "qwen3-next-80b-a3b", causal).metrics["training.attention_flops"].formula
    assert linear == full + " + 3 × {model.linear_attention_flops_per_token} × {tokens}"


def test_no_attention_term_leaves_out_linear_attention_too(run):
    """attention_term none counts the weight matmuls only (6ND, Kaplan et al. 2020): Qwen3-Next's
    linear-attention layers add nothing either."""
    r = run(TRAIN % "qwen3-next-80b-a3b", "training.attention_term=none", "model.mtp_layers=0")
    assert r["training.attention_flops"] == 0
    assert r["training.flops"] == r["training.dense_flops"] == 6 * r["model.matmul_params"] * 1e12
