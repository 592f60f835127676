"""QK-norm's element-wise traffic in the training step, against hand arithmetic.

A QK-norm model (OLMo 2, arXiv 2501.00656, sec. 3.1; Qwen3, arXiv 2505.09388, sec. 2) normalises the
projected queries and keys before RoPE: one norm kernel reads and writes each, 2 (q + kv) values per
token and layer forward, the backward about twice the forward (as the block's other element-wise work).
"""

from __future__ import annotations

import pytest

# Two layers on one accelerator with no preset: 2 TB/s of HBM, element-wise work at 0.85 of it
# (formulas.kernel_efficiency.ELEMENTWISE_BANDWIDTH); 8 query heads and 2 key heads of 128: q 1024, kv 256
DENSE = """
model: {layers: 2, hidden: 1024, heads: 8, kv_heads: 2, head_dim: 128, ffn_hidden: 4096, vocab: 1000%s}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: %s}
hardware: {count: 1, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W}
parallel: {tensor: 1, zero: 1, micro_batch: 1, schedule: 1f1b}
"""
BANDWIDTH, ELEMENTWISE = 2e12, 0.85
TOKENS, LAYERS, Q, KV = 2048, 2, 1024, 256


@pytest.mark.parametrize(("recompute", "forward_passes"), [("none", 1), ("selective", 1), ("full", 2)])
def test_each_layer_reads_and_writes_its_queries_and_keys_once_more(run, recompute, forward_passes):
    # forward 2 x (1024 + 256) = 2,560 values, backward 2 x 2,560, 2 B each; full recompute replays the forward
    plain = run(DENSE % ("", recompute))
    normed = run(DENSE % (", qk_norm: true", recompute))
    extra = TOKENS * LAYERS * 2 * 2 * (Q + KV) * (forward_passes + 2) / (ELEMENTWISE * BANDWIDTH)
    got = normed.terms["step_elementwise_seconds"].value - plain.terms["step_elementwise_seconds"].value
    assert got == pytest.approx(extra, rel=1e-9)


def test_moe_layers_pay_it_too(run):
    text = DENSE.replace("vocab: 1000", "vocab: 1000, moe: {experts: 8, top_k: 2, expert_ffn_hidden: 512}")
    plain, normed = run(text % ("", "none")), run(text % (", qk_norm: true", "none"))
    extra = TOKENS * LAYERS * 2 * 2 * (Q + KV) * 3 / (ELEMENTWISE * BANDWIDTH)
    got = normed.terms["step_elementwise_seconds"].value - plain.terms["step_elementwise_seconds"].value
    assert got == pytest.approx(extra, rel=1e-9)
