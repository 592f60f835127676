"""An unfused expert epilogue (GPT-OSS's clamped GLU and expert output bias) against hand arithmetic.

Megatron-Core core_v0.15.0 (NeMo 25.11) runs a clamped, biased GLU expert in TEGroupedMLP as PyTorch
operators around its fused activation (megatron/core/fusions/fused_bias_geglu.py,
weighted_bias_quick_geglu_impl; megatron/core/transformer/moe/experts.py, _apply_bias). Counted per
routed token copy, each operator reading its inputs and writing its output:
- clamp, forward: gate half clamped (read f, write f), linear half clamped (f, f), the halves
  concatenated (read 2f, write 2f) = 8f; backward: two clamp gradients (read gradient and input, write:
  3f each) and the chunk's gradient concatenated (2f, 2f) = 10f;
- bias, forward: bias x probability written (h), added to the output (read 2h, write h), experts'
  slices concatenated (h, h) = 6h; backward: bias gradient and probability gradient (product written
  and read, gradient read: 3h each) and the split output's gradients concatenated (h, h) = 8h.
"""

from __future__ import annotations

import pytest

from qwenfeas.formulas import kernel_efficiency as K
from qwenfeas.training import step_time as ST

# Two MoE layers on one accelerator with no preset: 2 TB/s of HBM, element-wise work at 0.85 of it
# (formulas.kernel_efficiency.ELEMENTWISE_BANDWIDTH); 8 experts, top-2, expert FFN width 512, hidden 1024
MOE = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000,
        moe: {experts: 8, top_k: 2, expert_ffn_hidden: 512}}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: %s%s}
hardware: {count: 1, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W}
parallel: {tensor: 1, zero: 1, micro_batch: 1, schedule: 1f1b}
"""
BANDWIDTH, ELEMENTWISE = 2e12, 0.85
TOKENS, LAYERS, TOP_K, FFN, HIDDEN = 2048, 2, 2, 512, 1024


def test_the_formula_counts_clamp_and_bias_passes():
    # k 2, 2 B: 4 x (18 x 100 + 14 x 10) = 7,760 B; the activation replayed: 4 x (26 x 100 + 140);
    # the whole layer replayed: 4 x (2,600 + 20 x 10); FP8-wide values (1 B) halve the first
    assert K.unfused_expert_epilogue_bytes(100, 10, 2) == pytest.approx(4 * (1800 + 140))
    assert K.unfused_expert_epilogue_bytes(100, 10, 2, activation_passes=2.0) == pytest.approx(4 * (2600 + 140))
    assert K.unfused_expert_epilogue_bytes(100, 10, 2, 2.0, 2.0) == pytest.approx(4 * (2600 + 200))
    assert K.unfused_expert_epilogue_bytes(100, 10, 2, activation_bytes=1.0) == pytest.approx(2 * (1800 + 140))


def test_gpt_oss_pays_about_as_much_again_as_its_fused_moe_layer():
    # GPT-OSS 120B (HF config: hidden 2880, expert width 2880, top-4): 4 x 2 x 32 x 2,880 = 737,280 B
    assert K.unfused_expert_epilogue_bytes(2880, 2880, 4) == pytest.approx(737280)


@pytest.mark.parametrize(("recompute", "clamp", "bias"), [
    ("none", 18, 14), ("selective", 18, 14), ("modules", 26, 14), ("full", 26, 20)])
def test_the_step_adds_the_epilogue_traffic_of_each_moe_layer(run, recompute, clamp, bias):
    # modules replays the activation (its clamp, 8f more); full replays the layer (the bias too, 6h more)
    fused = run(MOE % (recompute, ""))
    unfused = run(MOE % (recompute, ", expert_epilogue: unfused"))
    extra = TOKENS * LAYERS * TOP_K * 2 * (clamp * FFN + bias * HIDDEN) / (ELEMENTWISE * BANDWIDTH)
    got = unfused.terms["step_elementwise_seconds"].value - fused.terms["step_elementwise_seconds"].value
    assert got == pytest.approx(extra, rel=1e-9)
    assert "unfused expert clamp and bias" in unfused.terms["step_elementwise_seconds"].label
    assert "unfused" not in fused.terms["step_elementwise_seconds"].label


def test_only_the_moe_layers_pay_it(run):
    # three layers, the first dense: the two MoE layers' epilogues, as in the two-layer model
    text = MOE.replace("layers: 2", "layers: 3").replace("expert_ffn_hidden: 512}", "expert_ffn_hidden: 512, dense_layers: 1}")
    fused, unfused = run(text % ("none", "")), run(text % ("none", ", expert_epilogue: unfused"))
    extra = TOKENS * 2 * TOP_K * 2 * (18 * FFN + 14 * HIDDEN) / (ELEMENTWISE * BANDWIDTH)
    got = unfused.terms["step_elementwise_seconds"].value - fused.terms["step_elementwise_seconds"].value
    assert got == pytest.approx(extra, rel=1e-9)


def test_tensor_and_pipeline_split_it(run):
    # TP2 PP2 on 4 accelerators: each rank's element-wise work covers 2048 / 2 tokens (the element-wise
    # convention of step_time.evaluate) on the slowest stage's 1 of the 2 layers: a quarter
    text = MOE.replace("count: 1", "count: 4").replace("tensor: 1", "tensor: 2, pipeline: 2")
    fused, unfused = run(text % ("none", "")), run(text % ("none", ", expert_epilogue: unfused"))
    assert (unfused["layout.tensor"], unfused["layout.pipeline"], unfused["layout.data"]) == (2, 2, 1)
    extra = TOKENS / 2 * 1 * TOP_K * 2 * (18 * FFN + 14 * HIDDEN) / (ELEMENTWISE * BANDWIDTH)
    got = unfused.terms["step_elementwise_seconds"].value - fused.terms["step_elementwise_seconds"].value
    assert got == pytest.approx(extra, rel=1e-9)


def test_fused_is_the_default(run):
    default = run(MOE % ("selective", ""))
    stated = run(MOE % ("selective", ", expert_epilogue: fused"))
    assert default["training.step_seconds"] == stated["training.step_seconds"]


def test_a_dense_model_has_no_expert_epilogue(run):
    dense = MOE.replace(",\n        moe: {experts: 8, top_k: 2, expert_ffn_hidden: 512}", "")
    assert dense != MOE
    stated = run(dense % ("selective", ", expert_epilogue: unfused"))
    assert stated["training.step_seconds"] == run(dense % ("selective", ""))["training.step_seconds"]
    assert "unfused" not in stated.terms["step_elementwise_seconds"].label


def test_arrays_of_layouts_match_each_layout_alone(run):
    import numpy as np
    work = run(MOE % ("selective", ", expert_epilogue: unfused")).training_work
    base = {"tensor": 1.0, "pipeline": 1.0, "data": 1.0, "expert": 1.0, "context": 1.0, "micro_batch": 1.0,
            "virtual_stages": 1.0, "schedule": 0.0, "zero": 1.0}
    together = ST.evaluate(work, {**base, "recompute": np.array([0.0, 1.0, 2.0, 3.0])})["elementwise_seconds"]
    for index, recompute in enumerate((0.0, 1.0, 2.0, 3.0)):
        alone = ST.evaluate(work, {**base, "recompute": recompute})["elementwise_seconds"]
        assert together[index] == pytest.approx(alone, rel=1e-12)


def test_an_unknown_epilogue_exits_2_naming_the_key_and_the_choices(write):
    from typer.testing import CliRunner

    from qwenfeas.cli import app
    result = CliRunner().invoke(app, ["estimate", str(write(MOE % ("full", ", expert_epilogue: partial")))])
    assert result.exit_code == 2
    assert "training.expert_epilogue" in result.output and "fused, unfused" in result.output
