"""The layout search's rules, each checked against layouts worked out by hand: which degrees are
candidates, how many replicas a count and a batch allow, which layout wins a tie, and the fewest
accelerators that fit memory (formulas.training_memory.smallest_data_parallel) for Llama 2 7B and
Mixtral 8x7B, from their published shapes and the memory formulas' conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import qwenfeas
from qwenfeas.formulas import pipeline as PL
from qwenfeas.formulas import training_memory as TM
from qwenfeas.training import layout_search as LS

# Llama 2 7B (Touvron et al. 2023, Table 1; meta-llama/Llama-2-7b-hf config.json): 32 layers, hidden
# 4096, 32 heads of 128 (MHA), SwiGLU FFN 11008, vocabulary 32000, untied embeddings. On an H100
# SXM board (8 GPUs on NVSwitch).
LLAMA2_7B = """
model: {layers: 32, hidden: 4096, heads: 32, kv_heads: 32, head_dim: 128, ffn_hidden: 11008, vocab: 32000}
context: 4096
tokens: 2T
training: {sequence: %d, batch_tokens: %d, recompute: %s}
hardware: {preset: h100-sxm, count: 64, memory: %s}
"""
L, H, F, V = 32, 4096, 11008, 32000
# two embedding tables; per layer Q, K, V, O (4 h^2), the gated FFN (3 h f), two RMSNorms; the final norm
LLAMA2_7B_PARAMS = 2 * V * H + L * (4 * H * H + 3 * H * F + 2 * H) + H
STATE_BYTES = 2 + 4 + 12  # BF16 weights, FP32 gradients, Adam's FP32 master, momentum, variance
# Korthikanti et al. 2022, Table 2, per layer in units of s*b*h, selective recomputation, no tensor
# parallelism: 10 (norm and matmul inputs, dropout masks) + 4 (q + kv) / h (Q, K, V and the output
# projection's input) + 6 f / h (a gated FFN's up and gate outputs and their product)
LLAMA_SELECTIVE = 10 + 4 * (H + H) / H + 6 * F / H
FIXED = {"tensor": 1.0, "pipeline": 1.0, "expert": 1.0, "context": 1.0, "micro_batch": 1.0,
         "schedule": float(PL.ONE_F_ONE_B), "virtual_stages": 1.0, "zero": 3.0}

# Mixtral 8x7B (Jiang et al. 2024; mistralai/Mixtral-8x7B-v0.1 config.json): Llama's shape with 8 KV
# heads and 8 experts of SwiGLU 14336 per layer, 2 routed per token.
MIXTRAL = """
model:
  layers: 32
  hidden: 4096
  heads: 32
  kv_heads: 8
  head_dim: 128
  vocab: 32000
  moe: {experts: %d, top_k: 2, expert_ffn_hidden: 14336}
context: 4096
tokens: 2T
training: {sequence: 4096, batch_tokens: 4194304, recompute: full}
hardware: {preset: h100-sxm, count: 64, memory: 84GB}
"""


def llama(work, sequence=4096, sequences=1024, recompute="selective", memory="80GB"):
    report, w = work(LLAMA2_7B % (sequence, sequences * sequence, recompute, memory))
    assert report["model.params"] == LLAMA2_7B_PARAMS == 6_738_415_616  # the published count
    return w


def rows(grid, *keys):
    """The distinct rows of a candidate grid over some keys, as tuples of ints."""
    return set(zip(*(grid[key].astype(int).tolist() for key in keys), strict=True))


# --- which degrees are candidates


def test_tensor_stays_on_the_board_and_divides_the_heads_pipeline_keeps_a_layer_a_stage(work):
    grid = LS.candidates(llama(work), 64.0, {})
    assert set(grid["tensor"]) == {1, 2, 4, 8}  # 16 and 32 divide the 32 heads but leave the 8-GPU board
    assert set(grid["pipeline"]) == {1, 2, 4, 8, 16, 32}  # 32 layers: one a stage at the most
    assert set(grid["expert"]) == {1}  # a dense model
    _, qwen = work("model: {preset: qwen2.5-7b}\ncontext: 4096\ntokens: 18T\nhardware: {preset: h100-sxm, count: 64}\n")
    grid = LS.candidates(qwen, 64.0, {})
    assert set(grid["tensor"]) == {1, 2, 4}  # Qwen2.5-7B's 28 query heads: 8 does not divide them
    assert set(grid["pipeline"]) == {1, 2, 4, 8, 16}  # 28 layers: 32 stages would leave some empty


@pytest.mark.parametrize(("sequence", "context"), [(4096, {1, 2, 4}), (2048, {1, 2}), (512, {1})])
def test_context_parallelism_keeps_chunks_of_at_least_1024_tokens(work, sequence, context):
    grid = LS.candidates(llama(work, sequence=sequence), 64.0, {})
    assert set(grid["context"]) == context  # 4096 / 4 = 1024, the least; a 512-token sequence is not split


@pytest.mark.parametrize(("experts", "degrees"), [(8, {1, 2, 4, 8}), (60, {1, 2, 4})])
def test_expert_degrees_divide_the_experts(work, experts, degrees):
    # 8 experts (Mixtral): up to one expert per rank; 60 (Qwen1.5-MoE-A2.7B's count): 8 does not divide 60
    _, w = work(MIXTRAL % experts)
    assert set(LS.candidates(w, 1024.0, {})["expert"]) == degrees


def test_replicas_take_what_the_count_leaves_then_what_the_batch_allows(work):
    held = {"tensor": 2.0, "pipeline": 2.0, "context": 2.0, "micro_batch": 1.0}
    grid = LS.candidates(llama(work), 64.0, held)
    assert set(grid["data"]) == {64 / (2 * 2 * 2)}  # 8 replicas of 8 accelerators
    grid = LS.candidates(llama(work, sequences=6), 64.0, held)
    assert set(grid["data"]) == {6}  # a batch of 6 sequences: one micro-batch each for 6 replicas
    grid = LS.candidates(llama(work, sequences=6), 64.0, {**held, "micro_batch": 2.0})
    assert set(grid["data"]) == {3}  # micro-batches of 2 sequences: 3 replicas
    _, mixtral = work(MIXTRAL % 8)
    grid = LS.candidates(mixtral, 20.0, {"tensor": 1.0, "pipeline": 1.0, "context": 1.0, "expert": 8.0})
    assert set(grid["data"]) == {16}  # 20 accelerators, rounded down to whole groups of 8 expert ranks


def test_a_stated_data_degree_keeps_the_layouts_within_the_count_and_the_experts_it_can_hold(work):
    grid = LS.candidates(llama(work), 64.0, {"data": 16.0})
    # 16 replicas of 64 accelerators leave tensor x pipeline x context <= 4, each a power of two
    assert rows(grid, "tensor", "pipeline", "context") == {
        (1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 1, 2), (4, 1, 1), (1, 4, 1), (1, 1, 4), (2, 2, 1), (2, 1, 2), (1, 2, 2)}
    _, mixtral = work(MIXTRAL % 8)
    assert set(LS.candidates(mixtral, 64.0, {"data": 4.0})["expert"]) == {1, 2, 4}  # 4 replicas hold 4 groups


def test_schedules_other_than_1f1b_need_stages_and_interleaving_a_layer_per_chunk(work):
    grid = LS.candidates(llama(work), 64.0, {"micro_batch": 1.0, "zero": 1.0, "recompute": float(TM.SELECTIVE)})
    by_stages = rows(grid, "pipeline", "schedule")
    assert {s for p, s in by_stages if p == 1} == {PL.ONE_F_ONE_B}  # one stage: no pipeline schedule to pick
    assert {s for p, s in by_stages if p == 2} == {PL.ONE_F_ONE_B, PL.INTERLEAVED, PL.ZERO_BUBBLE, PL.DUALPIPE}
    interleaved = grid["schedule"] == PL.INTERLEAVED
    chunks = set(zip(grid["pipeline"][interleaved].astype(int).tolist(),
                     grid["virtual_stages"][interleaved].astype(int).tolist(), strict=True))
    # p x v chunks of the 32 layers, at least one layer each (v = 2, 4, 8): 4 x 8 = 32 is the edge
    assert chunks == {(p, v) for p in (2, 4, 8, 16, 32) for v in (2, 4, 8) if p * v <= 32}
    assert (4, 8) in chunks and (8, 8) not in chunks


def test_stated_degrees_and_schedule_are_held(work):
    w = llama(work)
    grid = LS.candidates(w, 64.0, {"tensor": 2.0, "context": 2.0, "schedule": float(PL.INTERLEAVED),
                                   "virtual_stages": 4.0})
    assert set(grid["tensor"]) == {2} and set(grid["context"]) == {2}
    assert set(grid["schedule"]) == {PL.INTERLEAVED} and set(grid["virtual_stages"]) == {4}
    grid = LS.candidates(w, 64.0, {"schedule": float(PL.INTERLEAVED)})
    assert set(grid["virtual_stages"]) == {2, 4, 8}  # the virtual stages left open are searched
    grid = LS.candidates(w, 64.0, {"schedule": float(PL.ZERO_BUBBLE)})
    assert set(grid["schedule"]) == {PL.ZERO_BUBBLE} and set(grid["virtual_stages"]) == {1}


# --- which layout wins: hand-made step times (every other layout overflows), the search's own rules


def _steps(seconds: dict):
    """A stand-in for step_time.evaluate: the layouts (tensor, pipeline, context) named fit memory and
    take the seconds given; every other layout overflows."""
    def evaluate(w, grid):
        keys = list(zip(grid["tensor"].astype(int).tolist(), grid["pipeline"].astype(int).tolist(),
                        grid["context"].astype(int).tolist(), strict=True))
        return {"step_seconds": np.array([seconds.get(k, 99.0) for k in keys]),
                "fill": np.array([0.5 if k in seconds else 2.0 for k in keys])}
    return evaluate


# one way of running, so each (tensor, pipeline, context) is one layout; 24 accelerators, 4 sequences
ONE_WAY = {"expert": 1.0, "micro_batch": 1.0, "schedule": float(PL.ONE_F_ONE_B), "virtual_stages": 1.0,
           "zero": 1.0, "recompute": float(TM.SELECTIVE)}


def _shape(layout):
    return tuple(int(layout[k]) for k in ("tensor", "pipeline", "context", "data"))


def test_equal_steps_go_to_more_accelerators_used_then_fewer_stages(work, monkeypatch):
    w = llama(work, sequences=4)
    # replicas = min(24 / (t p c), 4 sequences): TP1 CP4 runs 4 (16 used), TP2 runs 4 (8 used)
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 1, 4): 1.0, (2, 1, 1): 1.0}))
    assert _shape(LS.search(w, 24.0, ONE_WAY).layout) == (1, 1, 4, 4)
    # PP8 runs 3 replicas (24 used), TP2 4 (8 used)
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 8, 1): 1.0, (2, 1, 1): 1.0}))
    assert _shape(LS.search(w, 24.0, ONE_WAY).layout) == (1, 8, 1, 3)
    # TP4 and PP4 both run 4 replicas of 4 (16 used): fewer stages
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 4, 1): 1.0, (4, 1, 1): 1.0}))
    assert _shape(LS.search(w, 24.0, ONE_WAY).layout) == (4, 1, 1, 4)


def test_the_runner_up_is_the_next_fastest_layout(work, monkeypatch):
    w = llama(work, sequences=4)
    every = len(LS.candidates(w, 24.0, ONE_WAY)["tensor"])
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 1, 1): 1.0, (2, 1, 1): 2.0, (4, 1, 1): 3.0}))
    choice = LS.search(w, 24.0, ONE_WAY)
    assert _shape(choice.layout) == (1, 1, 1, 4) and _shape(choice.runner_up) == (2, 1, 1, 4)
    assert (choice.candidates, choice.fitting) == (every, 3)


def test_a_given_utilisation_ranks_by_the_accelerators_used_the_predicted_step_breaking_ties(work, monkeypatch):
    """Under a given MFU the time is FLOPs / (used x peak x MFU): PP8 with 3 replicas (24 used) beats TP2
    with 4 (8 used) although its predicted step is twice as long; with no MFU given, TP2 wins."""
    w = llama(work, sequences=4)
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 8, 1): 2.0, (2, 1, 1): 1.0}))
    assert _shape(LS.search(w, 24.0, ONE_WAY).layout) == (2, 1, 1, 4)
    assert _shape(LS.search(w, 24.0, ONE_WAY, "mfu").layout) == (1, 8, 1, 3)
    # PP8 and PP4 x CP2 both run min(24 / 8, 4) = 3 replicas (24 used): the shorter predicted step wins
    monkeypatch.setattr(LS, "evaluate", _steps({(1, 8, 1): 2.0, (1, 4, 2): 1.5}))
    assert _shape(LS.search(w, 24.0, ONE_WAY, "mfu").layout) == (1, 4, 2, 3)


def test_given_time_falls_with_the_accelerators_and_under_a_given_hfu_rises_with_full_recomputation():
    full, selective = float(TM.RECOMPUTE.index("full")), float(TM.RECOMPUTE.index("selective"))
    assert LS.given_time(992.0, full, "mfu") == pytest.approx(1 / 992)  # MFU counts model FLOPs only
    assert LS.given_time(1000.0, selective, "hfu") == pytest.approx(1 / 1000)
    # HFU counts the replayed forward: 8N instead of 6N per token (Narayanan et al. 2021, sec. 5.1)
    assert LS.given_time(1000.0, full, "hfu") == pytest.approx(8 / 6 / 1000)
    grid = np.array([992.0, 1000.0])
    np.testing.assert_allclose(LS.given_time(grid, np.array([selective, full]), "hfu"), [1 / 992, 4 / 3 / 1000])


# --- the fewest accelerators that fit, at any count


def _llama_activations(recompute, micro_batch=1):
    """Activation bytes of Llama 2 7B's single stage, 4096-token sequences, no tensor parallelism:
    every layer's input (full) or its selective set (Korthikanti Table 2), the replayed layer at its
    selective size under full recomputation, and one micro-batch's FP32 logits (s x V x 4 bytes)."""
    sbh = 4096 * micro_batch * H
    layers = L * 2 * sbh + LLAMA_SELECTIVE * sbh if recompute == "full" else L * LLAMA_SELECTIVE * sbh
    return layers + 4096 * micro_batch * V * 4


def test_fewest_replicas_of_llama2_7b_under_zero3_on_40gb(work):
    states = STATE_BYTES * LLAMA2_7B_PARAMS  # 121.3 GB, all sharded over the replicas under ZeRO-3
    activations = _llama_activations("full")  # 2.17 GB, not sharded
    usable = 40e9 - TM.TRAINING_RESERVE_BYTES
    d = math.ceil(states / (usable - activations))  # 121.3 / 33.8 = 3.59: 4 replicas
    # a data degree in `fixed` is not held: the fewest replicas are what is sought
    layout, result = LS.fewest(llama(work, recompute="full", memory="40GB"),
                               {**FIXED, "recompute": float(TM.FULL), "data": 64.0})
    assert layout == {**FIXED, "recompute": float(TM.FULL), "data": d} and d == 4
    assert result["total_bytes"] == pytest.approx(activations + states / d, rel=1e-12)
    assert result["fill"] == pytest.approx((activations + states / d) / usable, rel=1e-12)


def test_fewest_replicas_when_memory_holds_them_to_the_byte(work):
    """8 bytes above what 4 replicas need: 4 fit (not 5), and no rounding tolerance turns them away."""
    states, activations = STATE_BYTES * LLAMA2_7B_PARAMS, _llama_activations("full")
    memory = TM.TRAINING_RESERVE_BYTES + activations + states / 4 + 8
    layout, result = LS.fewest(llama(work, recompute="full", memory=repr(memory)), {**FIXED, "recompute": 3.0})
    assert layout["data"] == 4
    assert 1 - 1e-9 < result["fill"] <= 1


def test_fewest_replicas_are_bounded_by_the_batch(work):
    fixed = {**FIXED, "recompute": float(TM.FULL)}
    # the 4 replicas above need 4 sequences, one micro-batch each
    assert LS.fewest(llama(work, sequences=4, recompute="full", memory="40GB"), fixed)[0]["data"] == 4
    assert LS.fewest(llama(work, sequences=3, recompute="full", memory="40GB"), fixed) is None
    # micro-batches of 2: twice the activations, 121.3 / (36 - 4.34) = 3.83, still 4 replicas, and 6
    # sequences make only 3 micro-batches of 2
    usable = 40e9 - TM.TRAINING_RESERVE_BYTES
    assert math.ceil(STATE_BYTES * LLAMA2_7B_PARAMS / (usable - _llama_activations("full", 2))) == 4
    assert LS.fewest(llama(work, sequences=6, recompute="full", memory="40GB"), {**fixed, "micro_batch": 2.0}) is None


def test_fewest_accelerators_over_open_degrees(work):
    """Tensor, pipeline and context open: one H100 cannot hold 7B's 121 GB of states, two can with
    tensor parallelism, which splits states and (with sequence parallelism) activations in two."""
    states, activations = STATE_BYTES * LLAMA2_7B_PARAMS, _llama_activations("selective")
    usable = 80e9 - TM.TRAINING_RESERVE_BYTES
    assert states + activations > usable and states / 2 + activations / 2 <= usable  # 70.1 of 76 GB
    fixed = {k: v for k, v in FIXED.items() if k not in ("tensor", "pipeline", "context")}
    layout, result = LS.fewest(llama(work), {**fixed, "recompute": float(TM.SELECTIVE)})
    assert layout["tensor"] * layout["pipeline"] * layout["context"] * layout["data"] == 2
    assert result["fill"] <= 1


def test_fewest_replicas_are_rounded_up_to_the_expert_degree(work):
    """Mixtral 8x7B over 8 expert-parallel ranks, ZeRO-3: states fall as 1/d whatever the expert degree
    (the experts' 1/e share is sharded over d/e replicas), so d = ceil(18 P / (usable - activations)),
    rounded up to a multiple of 8."""
    experts, ffn, kv = 8, 14336, 8 * 128
    attention = H * (H + 2 * kv) + H * H
    params = 2 * V * H + L * (attention + 2 * H + H * experts + experts * 3 * H * ffn) + H  # router h x E
    sbh = 4096 * H
    # the MoE layer's selective set: 10 + 4 (q + kv) / h + 6 k f / h + k (2 + 2) for the 2 routed copies
    moe_layer = 10 + 4 * (H + kv) / H + 6 * 2 * ffn / H + 2 * (2 + 2)
    activations = L * 2 * sbh + moe_layer * sbh + 4096 * V * 4
    usable = 84e9 - TM.TRAINING_RESERVE_BYTES
    raw = math.ceil(STATE_BYTES * params / (usable - activations))  # 840.6 / 77.3 = 10.9: 11
    report, w = work(MIXTRAL % experts)
    assert report["model.params"] == params == 46_702_792_704  # the published count
    held = {**FIXED, "expert": 8.0, "recompute": float(TM.FULL)}
    layout, result = LS.fewest(w, {**held, "data": 1.0})  # a stated data degree of 1 could hold no 8 groups
    assert raw % 8 and layout == {**held, "data": math.ceil(raw / 8) * 8} and layout["data"] == 16
    assert result["total_bytes"] == pytest.approx(activations + STATE_BYTES * params / 16, rel=1e-12)


@pytest.mark.parametrize(("memory", "fits"), [("9GB", True), ("8.5GB", False)])
def test_fewest_never_offers_a_layout_that_overflows(work, memory, fits):
    """Llama 2 7B on 8 pipeline stages with a batch of 8 sequences: at most 8 replicas. At 8, each
    replica runs one micro-batch, so the first stage holds one micro-batch's activations (its 4 layers'
    selective set, at least that plus the logits: 1F1B, Narayanan et al. 2021 sec. 2.2) and 1/8 of its
    states; fewer replicas hold more of both. 4.93 GB fits 5 GB of usable memory, not 4.5 GB, though
    fewest's two-point estimate of the states (at 1 and 2 replicas, where 8 and 4 micro-batches are in
    flight) reaches 8 replicas in both cases."""
    stage_params = (LLAMA2_7B_PARAMS - 2 * V * H) / 8 + V * H  # 4 layers, and the embedding on the first stage
    stage_activations = (L / 8) * LLAMA_SELECTIVE * 4096 * H
    need = STATE_BYTES * stage_params / 8 + stage_activations + 4096 * V * 4
    usable = float(memory.removesuffix("GB")) * 1e9 - TM.TRAINING_RESERVE_BYTES
    assert (need <= usable) == fits
    held = {**FIXED, "pipeline": 8.0, "recompute": float(TM.SELECTIVE)}
    found = LS.fewest(llama(work, sequences=8, memory=memory), held)
    if fits:
        assert found[0] == {**held, "data": 8.0} and found[1]["total_bytes"] == pytest.approx(need, rel=1e-12)
    else:
        assert found is None


# --- which layout a scenario runs (training/layout.py)

# 8 layers of 1024 (8 heads of 128, MHA), gated FFN 4096, vocabulary 1000
CHOICE = """
model: {layers: 8, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
training: {sequence: 2048, batch_tokens: 1M}
hardware: {preset: h100-sxm, count: %d, memory: %s}
%s
"""
CHOICE_PARAMS = 8 * (4 * 1024 * 1024 + 3 * 1024 * 4096 + 2 * 1024) + 2 * 1000 * 1024 + 1024


@pytest.mark.parametrize(("how", "key", "value"), [("schedule: zero-bubble", "schedule", "zero-bubble"),
                                                   ("zero: 2", "zero", 2), ("virtual_stages: 2", "pipeline", 2)])
def test_a_degree_and_part_of_how_it_runs_written_searches_the_rest(run, how, key, value):
    """Pipeline 2 written with one key of how it runs: the rest of how it runs is searched (the
    layout's degrees held), not taken from the documented defaults."""
    r = run(CHOICE % (16, "80GB", "parallel: {pipeline: 2, " + how + "}"))
    assert r["layout.searched"] is True and r["layout.pipeline"] == 2
    assert r[f"layout.{key}"] == value


def test_stated_virtual_stages_are_held(run):
    r = run(CHOICE % (16, "80GB", "parallel: {pipeline: 2, schedule: interleaved, virtual_stages: 4}"))
    # 8 layers in 2 x 4 chunks of one layer
    assert (r["layout.schedule"], r["layout.pipeline"], r["layout.virtual_stages"]) == ("interleaved", 2, 4)


def test_a_sweep_runs_the_stated_layout_with_a_note(write):
    import qwenfeas

    scenario = qwenfeas.load(write(CHOICE % (16, "80GB", "")), vary={"hardware.count": np.array([16.0, 32.0])})
    r = qwenfeas.estimate(scenario)
    assert r["layout.searched"] is False
    assert "a sweep is estimated on the stated layout (defaults where it is silent): the layout search runs on " \
           "one scenario at a time" in r.notes


def test_when_no_layout_fits_the_count_the_stated_one_is_shown_with_a_note(run):
    # one accelerator of 5 GB (1 GB usable) cannot hold 18 B x 136M parameters (2.45 GB) in any layout
    assert STATE_BYTES * CHOICE_PARAMS > 5e9 - TM.TRAINING_RESERVE_BYTES
    r = run(CHOICE % (1, "5GB", ""))
    assert r["model.params"] == CHOICE_PARAMS
    assert r["layout.searched"] is False and r["training_memory.fill"] > 1
    assert "no layout of the accelerators fits memory: the stated layout is shown" in r.notes


def test_fewest_times_only_the_smallest_counts_and_picks_what_the_whole_grid_would(work, monkeypatch):
    """Every degree and way of running open: the fewest accelerators and, among them, the fastest, as
    ranking every candidate of the whole grid by (count, step) gives; the step is asked of the
    candidates at the smallest count only (two whole-grid memory passes, then that few)."""
    import numpy as np

    w = llama(work, memory="40GB")
    grid = LS.candidates(w, np.inf, {})
    at_e = LS.evaluate(w, {**grid, "data": grid["expert"]})["total_bytes"]
    at_2e = LS.evaluate(w, {**grid, "data": 2 * grid["expert"]})["total_bytes"]
    sharded = 2 * grid["expert"] * (at_e - at_2e)
    d = TM.smallest_data_parallel(at_e - sharded / grid["expert"], sharded, w.usable, grid["expert"])
    d = np.where(d <= w.batch_tokens / (w.sequence * grid["micro_batch"]), d, np.inf)
    count = grid["tensor"] * grid["pipeline"] * grid["context"] * d
    whole = LS.evaluate(w, {**grid, "data": np.where(np.isfinite(d), d, 1.0)})
    ok = np.isfinite(count) & (whole["fill"] <= 1 + 1e-9)
    expected = int(np.lexsort((whole["step_seconds"], np.where(ok, count, np.inf)))[0])
    sizes = []
    evaluate = LS.evaluate
    monkeypatch.setattr(LS, "evaluate", lambda w, lay: sizes.append(lay["tensor"].size) or evaluate(w, lay))
    layout, result = LS.fewest(w, {})
    assert layout == {key: float(grid[key][expected]) if key != "data" else float(d[expected]) for key in LS.KEYS}
    assert result["step_seconds"] == whole["step_seconds"][expected]
    assert sizes[:2] == [grid["tensor"].size] * 2 and len(sizes) == 3
    assert sizes[2] == int((count == count[expected]).sum()) < grid["tensor"].size / 10


def test_a_default_batch_too_small_for_the_cluster_is_named():
    # Llama 2 7B with no batch on 2,048 H100: the default 4M tokens is 4e6 / 4096 = 976.6 sequences of 4,096,
    # under one per accelerator, so the note says so; with a stated 16M (3,906 sequences) it is silent
    text = LLAMA2_7B.replace("batch_tokens: %d, ", "").replace("count: 64", "count: 2048")
    notes = qwenfeas.estimate(qwenfeas.loads(text % (4096, "selective", "80GB"), "p.yaml")).notes
    named = [n for n in notes if n.startswith("training.batch_tokens is not given")]
    assert named == ["training.batch_tokens is not given: the default 4M tokens (Llama 2's) is 977 sequences for "
                     "2,048 accelerators, so the layout search spends them on model parallelism; state the run's "
                     "batch (Llama 3 405B: 16M tokens, DeepSeek-V3: 63M)"]
    stated = qwenfeas.estimate(qwenfeas.loads(LLAMA2_7B.replace("count: 64", "count: 2048")
                                              % (4096, 16_000_000, "selective", "80GB"), "p.yaml")).notes
    assert not [n for n in stated if n.startswith("training.batch_tokens")]
    # 64 accelerators hold the 977 sequences: no note either
    small = qwenfeas.estimate(qwenfeas.loads(LLAMA2_7B.replace("batch_tokens: %d, ", "")
                                             % (4096, "selective", "80GB"), "p.yaml")).notes
    assert not [n for n in small if n.startswith("training.batch_tokens")]
    # exactly one sequence per accelerator (4M / 4,000 = 1,000 on 1,000) is enough: no note
    even_text = LLAMA2_7B.replace("batch_tokens: %d, ", "").replace("count: 64", "count: 1000")
    even = qwenfeas.estimate(qwenfeas.loads(even_text % (4000, "selective", "80GB"), "p.yaml")).notes
    assert not [n for n in even if n.startswith("training.batch_tokens")]
    # a stated layout is checked as stated (its idle replicas have their own note): no search, no note
    fixed = qwenfeas.estimate(qwenfeas.loads(text % (4096, "selective", "80GB") + "parallel: {tensor: 8}\n",
                                             "p.yaml")).notes
    assert not [n for n in fixed if n.startswith("training.batch_tokens")]


def test_an_estimate_at_a_given_mfu_uses_the_most_accelerators_that_fit_and_times_them():
    """Llama 2 7B, 1,024 sequences of 4,096 on 1,000 H100 at a given MFU of 0.4: the layout uses the most
    accelerators any fitting candidate uses, and the time is FLOPs / (used x 989 TFLOP/s x 0.4)."""
    from qwenfeas.training.step_inputs import Work, attention_forward_per_token

    text = LLAMA2_7B.replace("count: 64", "count: 1000, mfu: 0.4") % (4096, 1024 * 4096, "selective", "80GB")
    scenario = qwenfeas.loads(text, "p.yaml")
    report = qwenfeas.estimate(scenario)
    used = 1000 - report["layout.idle_accelerators"]
    w = Work(report, scenario.values, attention_forward_per_token(report, scenario.values, None))
    grid = LS.candidates(w, 1000.0, {})
    fits = LS.evaluate(w, grid)["fill"] <= 1
    most = (grid["tensor"] * grid["pipeline"] * grid["context"] * grid["data"])[fits].max()
    assert used == most
    assert report["training.seconds"] == pytest.approx(report["training.flops"] / (used * 989e12 * 0.4))
    assert report["training.mfu"] == pytest.approx(0.4)
    assert any(n.startswith("layout search:") and "fastest at the given MFU (the most accelerators used)" in n
               for n in report.notes)


# Llama 2 7B stated as 64 plain replicas (ZeRO-0, no recomputation) on 40 GB: 18 B x 6.74B parameters of
# state per GPU overflow, so the estimate offers a layout on the user's 64 and the fewest that fit.
OVERFLOWING = (LLAMA2_7B % (4096, 1024 * 4096, "none", "40GB")
               + "parallel: {tensor: 1, pipeline: 1, data: 64, zero: 0}\n")


def _overflowing(given=""):
    text = OVERFLOWING.replace("count: 64", "count: 64" + (", " + given if given else ""))
    scenario = qwenfeas.loads(text, "p.yaml")
    report = qwenfeas.estimate(scenario)
    from qwenfeas.training.step_inputs import Work, attention_forward_per_token
    return report, Work(report, scenario.values, attention_forward_per_token(report, scenario.values, None))


def _used(layout):
    return layout["tensor"] * layout["pipeline"] * layout["context"] * layout["data"]


@pytest.mark.parametrize("given", ["mfu: 0.4", "hfu: 0.5"])
def test_overflow_remedies_at_a_given_utilisation_take_its_time(given):
    """Under a given MFU the time on u accelerators is FLOPs / (u x peak x MFU), so a layout's time is
    the stated layout's x 64 / u; under a given HFU, x 4/3 more when it recomputes in full (8N per token
    against 6N, Narayanan et al. 2021 sec. 5.1) and the stated layout does not."""
    report, w = _overflowing(given)
    assert report["layout.searched"] is False and report["training_memory.fill"] > 1
    stated = report["training.seconds"]
    full = TM.RECOMPUTE.index("full")
    hfu = given.startswith("hfu")

    def expected(layout):
        return stated * 64 / _used(layout) * (4 / 3 if hfu and layout["recompute"] == full else 1.0)

    fewest, _ = LS.fewest(w, {})
    assert report["training_memory.min_seconds"] == pytest.approx(expected(fewest))
    formula = report.metrics["training_memory.min_seconds"].formula
    assert formula == ("{training.seconds} at the given " + given[:3].upper()
                       + ", scaled to the accelerators this layout uses" + (" and its recomputation" if hfu else ""))
    on_count = LS.search(w, 64.0, {}, given[:3])
    assert report.terms["training_layout_on_count"].value == pytest.approx(expected(on_count.layout))


def test_overflow_remedies_without_a_given_utilisation_take_the_predicted_step():
    report, w = _overflowing()
    fewest, result = LS.fewest(w, {})
    assert report["training_memory.min_seconds"] == pytest.approx(result["step_seconds"] * w.steps)
    assert report.metrics["training_memory.min_seconds"].formula == "predicted step × steps"
    assert report["training_memory.min_accelerators"] == _used(fewest)


def test_the_runner_up_note_at_a_given_mfu_compares_the_accelerators_used():
    """Llama 2 7B on 1,000 H100 at a given MFU, selective recomputation stated: the chosen layout and the
    runner-up both use all 1,000 (TP8 x 125 replicas and the like), so the given MFU gives them the same
    time and the note says the predicted step broke the tie."""
    from qwenfeas.training.step import describe
    from qwenfeas.training.step_inputs import Work, attention_forward_per_token

    text = LLAMA2_7B.replace("count: 64", "count: 1000, mfu: 0.4") % (4096, 1024 * 4096, "selective", "80GB")
    scenario = qwenfeas.loads(text, "p.yaml")
    report = qwenfeas.estimate(scenario)
    w = Work(report, scenario.values, attention_forward_per_token(report, scenario.values, None))
    choice = LS.search(w, 1000.0, {"recompute": float(TM.SELECTIVE)}, "mfu")
    assert _used(choice.layout) == _used(choice.runner_up) == 1000
    predicted = choice.runner_up_result["step_seconds"] / choice.result["step_seconds"] - 1
    note = next(n for n in report.notes if n.startswith("runner-up "))
    assert note == (f"runner-up {describe(choice.runner_up)}: as long at the given MFU; the predicted step "
                    f"({predicted:+.1%}) breaks the tie")


@pytest.mark.parametrize(("given", "expected"), [("mfu", 1 / 128), ("hfu", 4 / 3 / 128)])
def test_a_layouts_time_at_a_given_utilisation_counts_every_degree(given, expected):
    # TP2 PP4 CP2 DP8 = 128 accelerators, full recomputation: 1/128 at a given MFU, (8N/6N)/128 at an HFU
    from qwenfeas.training.step import _given_time

    layout = {"tensor": 2.0, "pipeline": 4.0, "context": 2.0, "data": 8.0, "recompute": float(TM.FULL)}
    assert _given_time(layout, given) == pytest.approx(expected)


def test_a_stated_batch_under_one_sequence_per_accelerator_gets_no_default_batch_note():
    # the same 4M tokens (977 sequences of 4,096 on 2,048 H100), but written by the user: the layout search
    # still spends accelerators on model parallelism, and the note about the default batch stays silent
    text = LLAMA2_7B.replace("count: 64", "count: 2048") % (4096, 4_000_000, "selective", "80GB")
    notes = qwenfeas.estimate(qwenfeas.loads(text, "p.yaml")).notes
    assert not [n for n in notes if n.startswith("training.batch_tokens")]
