"""Training memory per accelerator: Korthikanti et al. 2022 activations, ZeRO model states, the smallest layout."""

from __future__ import annotations

import pytest

from qwenfeas.formulas.training_memory import activation_bytes_per_layer, model_state_bytes

# GPT-3 175B layer (Korthikanti et al. 2022 use it in Table 2): s 2048, h 12288, a 96, micro-batch 1, t 8.
S, H, A, T = 2048, 12288, 96, 8
SBH = S * 1 * H


@pytest.mark.parametrize(("sequence_parallel", "recompute", "expected"), [
    (False, "none", SBH * (10 + 24 / T + 5 * A * S / (H * T))),  # Table 2, tensor parallelism
    (True, "none", SBH * (34 / T + 5 * A * S / (H * T))),        # + sequence parallelism
    (True, "selective", SBH * 34 / T),                             # + selective recomputation
    (False, "selective", SBH * (10 + 24 / T)),
    (False, "full", 2 * SBH),                                      # full: the layer input only
    (True, "full", 2 * SBH / T),
])
def test_activations_reproduce_korthikanti_table_2_for_a_gpt_layer(sequence_parallel, recompute, expected):
    # Korthikanti's Megatron-LM of 2022 ran attention unfused: its scores sit in memory
    got = activation_bytes_per_layer(S, 1, H, A, H, H, 4 * H, False, T, sequence_parallel, recompute,
                                     unfused_attention=True)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("sequence_parallel", "expected"), [
    (False, SBH * (10 + 24 / T)),  # Table 2's "tensor parallelism" row without the 5as/(ht) scores
    (True, SBH * 34 / T),
])
def test_a_fused_kernel_without_recomputation_stores_no_attention_scores(sequence_parallel, expected):
    # FlashAttention (Dao et al. 2022, sec. 3.1) never writes the a x s x s scores to memory: the GPT-3
    # layer keeps 10 + 24/8 = 13 (or 34/8 = 4.25 with sequence parallelism) bytes per s*b*h, not
    # 13 + 5 x 96 x 2048 / (12288 x 8) = 23 -- what selective recomputation would also keep.
    got = activation_bytes_per_layer(S, 1, H, A, H, H, 4 * H, False, T, sequence_parallel, "none")
    assert got == pytest.approx(expected, rel=1e-12)
    fused = activation_bytes_per_layer(S, 1, H, A, H, H, 4 * H, False, T, sequence_parallel, "none",
                                       unfused_attention=False)
    assert fused == got


@pytest.mark.parametrize(("recompute", "scores"), [
    ("selective", 0.0), ("full", 0.0),       # the attention forward is replayed: no scores kept
    ("modules", 5 * A * S / (H * T)),        # norms and activations replayed; unfused scores stay
])
def test_only_replaying_the_attention_drops_unfused_scores(recompute, scores):
    unfused = activation_bytes_per_layer(S, 1, H, A, H, H, 4 * H, False, T, True, recompute, unfused_attention=True)
    fused = activation_bytes_per_layer(S, 1, H, A, H, H, 4 * H, False, T, True, recompute)
    assert unfused - fused == pytest.approx(SBH * scores, rel=1e-12)


def test_a_gated_ffn_and_grouped_query_attention():
    # SwiGLU of width f: up and gate outputs (2 x 2f bytes per token) plus the product (2f): 6f/h per sbh.
    # GQA: Q and the output-projection input are q = 8192 wide, K and V kv = 1024: 4(q + kv)/h = 4.5, not 8.
    f = 28672
    got = activation_bytes_per_layer(4096, 1, 8192, 64, 8192, 1024, f, True, 1, False, "selective")
    assert got == pytest.approx(4096 * 8192 * (10 + 4.5 + 6 * f / 8192), rel=1e-12)


def test_an_moe_layer_keeps_k_copies_of_each_token():
    # 8 experts per token: 4 x 8 sbh more (inputs and outputs of the copies), over t = 8.
    plain = activation_bytes_per_layer(4096, 1, 4096, 64, 8192, 512, 8 * 1536, True, 8, True, "selective")
    routed = activation_bytes_per_layer(4096, 1, 4096, 64, 8192, 512, 8 * 1536, True, 8, True, "selective", 8)
    assert routed - plain == pytest.approx(4096 * 4096 * 4 * 8 / 8, rel=1e-12)


@pytest.mark.parametrize(("stage", "expected"), [
    (0, (2, 4, 12)), (1, (2, 4, 12 / 64)), (2, (2, 4 / 64, 12 / 64)), (3, (2 / 64, 4 / 64, 12 / 64)),
])
def test_zero_stages_shard_states_over_data_parallel_replicas(stage, expected):
    assert model_state_bytes(1.0, 2, 4, 12, 64, stage) == pytest.approx(expected)


LLAMA2_70B = """
model: {preset: llama-2-70b}
context: 4096
tokens: 2T
hardware: {preset: a100-sxm-80gb, count: %d}
parallel: {%s}
"""
PARAMS = 68_976_648_192  # tests/test_published_models.py


def test_70b_on_too_few_accelerators_names_the_overflowing_term_and_the_smallest_count(run):
    r = run(LLAMA2_70B % (2048, "tensor: 1"))
    usable = 80e9 - 4e9  # the training reserve: a few GB for the runtime (formulas.training_memory)
    weights, grads, optimizer = PARAMS * 2, PARAMS * 4, PARAMS * 12 / 2048  # ZeRO-1 over 2,048 replicas
    acts = 80 * 4096 * 8192 * (10 + 4.5 + 6 * 28672 / 8192)                # selective, no tensor parallelism
    logits = 4096 * 32000 * 4                                              # one micro-batch's FP32 logits
    assert r["training_memory.gradients_bytes"] == pytest.approx(grads)
    assert r["training_memory.total_bytes"] == pytest.approx(weights + grads + optimizer + acts + logits)
    assert r["training_memory.fill"] == pytest.approx((weights + grads + optimizer + acts + logits) / usable)
    assert "overflows" in r.metrics["training_memory.fill"].label
    assert "largest: gradients" in r.metrics["training_memory.fill"].label
    n = r["training_memory.min_accelerators"]
    layout = {k: int(r[f"training_memory.min_{k}_parallel"]) for k in ("tensor", "pipeline", "context", "data")}
    assert layout["tensor"] * layout["pipeline"] * layout["context"] * layout["data"] == n
    # 70B x 18 B of model state alone (1.24 TB) needs at least 17 accelerators of 76 GB
    assert n >= PARAMS * 18 / usable


def test_the_smallest_layout_fits_when_plugged_back_and_smaller_ones_do_not(run):
    """TP8 PP2 needs 2 replicas: the first stage holds half the layers and the embedding, split 8 ways;
    ZeRO-1 shards only the 12 B of optimizer state per parameter over the replicas; 1F1B keeps 2
    micro-batches in flight on it (976 sequences of the 4M-token batch, Llama 2 sec. 2.2)."""
    usable = 80e9 - 4e9
    stage = ((PARAMS - 2 * 32000 * 8192) / 2 + 32000 * 8192) / 8  # parameters on one accelerator
    layer = 4096 * 8192 * (10 + 4.5 + 6 * 28672 / 8192) / 8  # selective, sequence-parallel over 8
    activations = 2 * 40 * layer  # more than one micro-batch's plus its logits (4096 x 32000 x 4 / 8)
    for count, replicas in ((32, 2), (16, 1)):
        need = stage * (2 + 4 + 12 / replicas) + activations  # 63.6 GB on 32, 89.5 GB on 16
        r = run(LLAMA2_70B % (count, "tensor: 8, pipeline: 2"))
        assert r["layout.data"] == replicas and r["training_memory.total_bytes"] == pytest.approx(need, rel=1e-12)
        assert (need <= usable) == (count == 32)
        # 1.18x on 16: an overflow (not "fits"), with the fewest accelerators that would fit
        assert ("overflows" in r.metrics["training_memory.fill"].label) == (count == 16)
        assert ("training_memory.min_accelerators" in r.metrics) == (count == 16)
    fits = run(LLAMA2_70B % (32, "tensor: 8, pipeline: 2"))
    assert fits["training_memory.fill"] <= 1
    assert "training_memory.min_accelerators" not in fits.metrics  # no search when it fits
    for layout in ("tensor: 8, pipeline: 2", "tensor: 8, pipeline: 1", "tensor: 4, pipeline: 4", "pipeline: 16"):
        assert run(LLAMA2_70B % (16, layout))["training_memory.fill"] > 1, layout


def test_a_layout_that_does_not_tile_the_count_leaves_accelerators_idle(run, write):
    import qwenfeas
    from qwenfeas.errors import QwenfeasError

    r = run(LLAMA2_70B % (100, "tensor: 8"))
    assert r["layout.data"] == 12  # floor(100 / 8) replicas
    assert r["layout.idle_accelerators"] == 100 - 96
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write(LLAMA2_70B % (4, "tensor: 8")))
    assert info.value.problems[0].key == "parallel.tensor"
    assert "exceeds hardware.count (4)" in info.value.problems[0].message
