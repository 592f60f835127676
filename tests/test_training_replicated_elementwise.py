"""Without sequence parallelism every tensor-parallel rank runs the layer's norms and residual adds whole.

Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models"
(arXiv 2205.05198), sec. 4.2.2: in Megatron's tensor parallelism the layer-norms and the dropouts after
the attention and MLP blocks are not split across the tensor-parallel ranks; sequence parallelism splits
them along the sequence. Megatron-LM in 2021 (Narayanan et al. 2021's runs, MT-NLG, GPT-3 175B) had no
sequence parallelism.

Hand arithmetic: per token and layer the two norms (read h, write h) and two residual adds (read 2h,
write h) move 10 h values in the forward, three times that with the backward, 2 B each (BF16); A100 SXM
80GB HBM 2,039 GB/s, element-wise kernels at 0.85 of it.
"""

from __future__ import annotations

import pytest

SCENARIO = """
model: {layers: 8, hidden: 4096, heads: 32, kv_heads: 32, ffn_hidden: 16384, ffn_gated: false, vocab: 32000}
context: 2048
tokens: 1B
training: {sequence: 2048, batch_tokens: 64K, recompute: RECOMPUTE}
hardware: {preset: a100-sxm-80gb, count: 4}
parallel: {tensor: 4, pipeline: 1, data: 1, zero: 1, micro_batch: 1, schedule: 1f1b, sequence_parallel: SP}
"""
BANDWIDTH = 2039e9 * 0.85


def _elementwise(run, recompute, sequence_parallel):
    text = SCENARIO.replace("RECOMPUTE", recompute).replace("SP", sequence_parallel)
    return run(text).terms["step_elementwise_seconds"].value


@pytest.mark.parametrize("recompute, replay", [("none", 1.0), ("full", 4.0 / 3.0)])
def test_each_rank_moves_the_whole_norms_and_residual_adds_without_sequence_parallelism(run, recompute, replay):
    split = _elementwise(run, recompute, "true")
    whole = _elementwise(run, recompute, "false")
    tokens, t, layers, h = 2048, 4, 8, 4096
    # the other t - 1 ranks' shares of 3 x 10 h values x 2 B per token and layer, replayed with the forward
    extra = (t - 1) * tokens / t * layers * 3 * 10 * h * 2 * replay / BANDWIDTH
    assert whole - split == pytest.approx(extra, rel=1e-9)


def test_one_rank_has_nothing_to_replicate(run):
    text = SCENARIO.replace("RECOMPUTE", "none").replace("count: 4", "count: 1").replace("tensor: 4", "tensor: 1")
    split, whole = (run(text.replace("SP", sp)).terms["step_elementwise_seconds"].value for sp in ("true", "false"))
    assert whole == split
