"""MoE-specific costs of the step model against hand arithmetic: the routed experts' grouped GEMMs,
issued as one GEMM launch per local expert (Transformer Engine's multi-stream cuBLAS path)."""

from __future__ import annotations

import pytest
from test_training_mechanisms import MOE, _layout

from qwenfeas.formulas import grouped_gemm as G
from qwenfeas.training import step_time as ST

# TransformerEngine pull request #3134: 8 expert GEMMs of 128 tokens in 0.267 ms through the multi-stream path
PER_EXPERT_GEMM = 0.267e-3 / 8


def test_one_expert_gemm_costs_the_measured_33_microseconds():
    assert G.EXPERT_GEMM_DISPATCH_SECONDS == pytest.approx(33.375e-6, rel=1e-12)


@pytest.mark.parametrize(("preset", "seconds"), [
    ("h100-sxm", PER_EXPERT_GEMM), ("b200", PER_EXPERT_GEMM), ("gb300", PER_EXPERT_GEMM), ("a100-sxm-80gb", PER_EXPERT_GEMM),
    ("ascend-910c", 0.0), ("tpu-v5p", 0.0), ("mi300x", 0.0), (None, 0.0),
])
def test_the_launch_cost_is_charged_where_transformer_engine_runs(preset, seconds):
    # TE's per-expert cuBLAS loop runs on NVIDIA GPUs; Ascend, TPU and unmeasured stacks issue one operator
    assert G.dispatch_seconds(preset) == seconds


@pytest.mark.parametrize(("gated", "up", "down"), [(1.0, 2 / 3, 1 / 3), (0.0, 1 / 2, 1 / 2)])
def test_the_up_projection_carries_the_gate(gated, up, down):
    # SwiGLU: up and gate h x 2f against down f x h, 2:1 of the FLOPs; a plain FFN 1:1
    assert G.expert_weight_shares(gated) == pytest.approx((up, down), rel=1e-12)


def test_few_rows_per_expert_wait_on_the_launches():
    # 2 MoE layers x 16 local experts x 33.375 us = 1.068 ms per grouped GEMM, against 1 ms of device time
    # for all six grouped GEMMs (at most 0.222 ms each): every one waits on its launches
    floor = 2 * 16 * PER_EXPERT_GEMM
    assert G.expert_gemm_seconds(1e-3, (2 / 3, 1 / 3), 3.0, 16.0, 2.0, PER_EXPERT_GEMM) == pytest.approx(6 * floor, rel=1e-12)


def test_many_rows_per_expert_run_at_device_speed():
    # 1 s of device time over six GEMMs is far above their 1.068 ms of launches: the device time stands
    assert G.expert_gemm_seconds(1.0, (2 / 3, 1 / 3), 3.0, 16.0, 2.0, PER_EXPERT_GEMM) == pytest.approx(1.0, rel=1e-12)


def test_each_weight_meets_the_floor_on_its_own():
    # 4 layers x 4 experts x 33.375 us = 0.534 ms per GEMM. 6 ms of device: the up projection's GEMMs take
    # 6 x 2/3 / 3 = 1.333 ms each, the down projection's 6 x 1/3 / 3 = 0.667 ms, both above the floor.
    # 3 ms of device: the up's 0.667 ms GEMMs stay device-bound, the down's 0.333 ms ones wait on the floor
    floor = 4 * 4 * PER_EXPERT_GEMM
    assert G.expert_gemm_seconds(6e-3, (2 / 3, 1 / 3), 3.0, 4.0, 4.0, PER_EXPERT_GEMM) == pytest.approx(6e-3, rel=1e-12)
    expected = 3 * 3e-3 * (2 / 3) / 3 + 3 * floor
    assert G.expert_gemm_seconds(3e-3, (2 / 3, 1 / 3), 3.0, 4.0, 4.0, PER_EXPERT_GEMM) == pytest.approx(expected, rel=1e-12)


def test_the_floor_over_arrays_of_layouts():
    import numpy as np
    local = np.array([1.0, 8.0, 32.0])  # EP256, EP32, EP8 of 256 experts
    got = G.expert_gemm_seconds(np.array([3e-3, 3e-3, 3e-3]), (1 / 2, 1 / 2), 3.0, local, 1.0, PER_EXPERT_GEMM)
    # per GEMM: device 3 ms x 1/2 / 3 = 0.5 ms against 33 us, 267 us and 1.068 ms of launches
    assert list(got) == pytest.approx([3e-3, 3e-3, 6 * 32 * PER_EXPERT_GEMM], rel=1e-12)


def test_qwen3_30b_a3b_on_a_b200_waits_on_its_launches():
    """Qwen3-30B-A3B (HF config: hidden 2048, 128 experts of 768, top 8) on 8 B200s, EP8, micro-batch 1 x 4096:
    each of the 16 local experts gets its share of all 8 ranks' routed copies, 4096 x 8 x 8 / 128 = 2048 rows. Its up projection is 2 x 2048 x 2048 x 1536 = 12.9 GFLOP, 3.75 us at the B200's FP8 3433 TFLOP/s
    (ml-engineering's measured maximum), 60 us for the 16: far under their 16 x 33 us = 534 us of launches."""
    rows, h, f = 4096 * 8 * 8 / 128, 2048, 768
    device_layer = 3 * 2 * rows * h * 3 * f * 16 / 3433e12  # three GEMMs per weight, up (2f) and down (f)
    per_layer = G.expert_gemm_seconds(device_layer, G.expert_weight_shares(1.0), 3.0, 16.0, 1.0,
                                       G.dispatch_seconds("b200"))
    assert per_layer == pytest.approx(6 * 16 * PER_EXPERT_GEMM, rel=1e-12)  # 3.2 ms per MoE layer and micro-batch
    assert per_layer > 10 * device_layer




def _moe_layout(**degrees):
    """The MOE scenario's stated layout (DP8 EP8) with the given changes."""
    return _layout(**{"data": 8, "expert": 8, **degrees})


@pytest.mark.parametrize(("layout", "grouped_gemms"), [
    (_moe_layout(), 2 * 3 * 4 * 8),                          # 2 weights x 3 GEMMs x 4 MoE layers x 64/8 local experts
    (_moe_layout(recompute=3), 2 * 4 * 4 * 8),               # full recompute issues the forward twice: 4 GEMMs
    (_moe_layout(pipeline=2, data=4), 2 * 3 * 2 * 8),        # PP2: 2 of the 4 layers on the slowest stage
    (_moe_layout(data=8, expert=4), 2 * 3 * 4 * 16),         # EP4: 16 local experts
])
def test_the_step_issues_one_gemm_per_local_expert(run, layout, grouped_gemms):
    # with launches far slower than any device time, each added second of launch time adds one second per
    # expert GEMM the micro-batch issues
    work = run(MOE).training_work
    work.expert_dispatch = 1.0
    one = ST.evaluate(work, layout)
    work.expert_dispatch = 2.0
    two = ST.evaluate(work, layout)
    assert two["gemm_seconds"] - one["gemm_seconds"] == pytest.approx(grouped_gemms, rel=1e-9)
    assert two["expert_launch_seconds"] - one["expert_launch_seconds"] == pytest.approx(grouped_gemms, rel=1e-9)


def test_without_launch_cost_the_experts_run_at_device_speed(run):
    work = run(MOE).training_work
    work.expert_dispatch = 0.0
    assert ST.evaluate(work, _moe_layout())["expert_launch_seconds"] == pytest.approx(0.0, abs=1e-15)


def test_dense_models_have_no_expert_launches(run):
    dense = MOE.replace(",\n        moe: {experts: 64, top_k: 4, expert_ffn_hidden: 1024}", "").replace(
        "expert: 8, ", "")
    result = ST.evaluate(run(dense).training_work, _moe_layout(expert=1))
    assert "expert_launch_seconds" not in result


def test_an_ascend_fleet_pays_no_per_expert_launch(run):
    work = run(MOE.replace("h100-sxm", "ascend-910c")).training_work
    assert ST.evaluate(work, _moe_layout())["expert_launch_seconds"] == pytest.approx(0.0, abs=1e-15)


def test_a_fused_grouped_gemm_pays_no_per_expert_launch(run):
    # Transformer Engine's fused grouped MLP issues each grouped GEMM as one launch: the experts run at device speed
    fused = run(MOE.replace("schedule: 1f1b", "schedule: 1f1b, fused_grouped_gemm: true")).training_work
    assert fused.expert_dispatch == 0.0
    looped = run(MOE).training_work
    assert looped.expert_dispatch == pytest.approx(PER_EXPERT_GEMM, rel=1e-12)
    assert ST.evaluate(fused, _moe_layout())["expert_launch_seconds"] == pytest.approx(0.0, abs=1e-15)


def test_the_explanation_names_the_launch_floor(run):
    r = run(MOE)
    term = r.terms["step_expert_launch_seconds"]
    assert term.function is G.expert_gemm_seconds
    assert "33.4 us" in term.formula  # 0.267 ms / 8


def _spy(monkeypatch, module, name):
    """Record the positional arguments of every call of module.name, still calling it."""
    calls, original = [], getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_expert_tensor_parallelism_splits_each_experts_width(run, monkeypatch):
    # EP8 with the experts also split over TP2 (Megatron's expert_tensor_parallel_size): each rank holds
    # 1024 / 2 = 512 of every expert's FFN columns, so its grouped GEMMs are h x 2 x 512 (gate and up) and
    # 512 x h (down), over 64 / 8 = 8 local experts, on 4096 / 2 x 2 x 4 x 8 / 64 = 2048 rows each
    work = run(MOE).training_work
    work.expert_tensor_split = True
    shapes = _spy(monkeypatch, ST.K, "layer_quantization")
    ST.evaluate(work, _moe_layout(tensor=2, data=4))
    expert = [call for call in shapes if len(call) == 4]
    assert len(expert) == 1
    rows, weights, _sms, groups = expert[0]
    assert rows == pytest.approx(2048, rel=1e-12) and groups == 8
    assert [tuple(w) for w in weights] == [(2048, 2 * 512, 1.0), (512, 2048, 1.0)]


def test_full_recomputation_replays_the_experts_forward(run, monkeypatch):
    # full recomputation runs each forward GEMM twice: 4 of the 3 GEMMs' worth per weight, 8/6 of the FLOPs
    # (Korthikanti et al. 2022, sec. 5), the experts' as much as the rest, at the same efficiency
    work = run(MOE).training_work
    device = _spy(monkeypatch, ST.G, "expert_gemm_seconds")
    ST.evaluate(work, _moe_layout())
    ST.evaluate(work, _moe_layout(recompute=3))
    (selective, _shares, three, *_), (full, _, four, *_) = device
    assert (three, four) == (3.0, 4.0)
    assert full == pytest.approx(selective * 8 / 6, rel=1e-12)
