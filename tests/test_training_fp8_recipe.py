"""FP8 scaling recipes (precision.fp8_recipe) against hand arithmetic from their sources.

NVIDIA Transformer Engine docs, "Low precision training" (TE @ d0067d0): delayed scaling reads the
BF16 source once and writes the FP8 copy and, before Blackwell, a transposed copy for the backward GEMM;
current scaling reads the source twice ("one to compute amax and one to apply the scaling factor");
on Blackwell one layout serves both GEMM operands of a per-tensor-scaled tensor; MXFP8 writes a
rowwise and a columnwise copy, each with one E8M0 (1 B) scale per 32 values; blockwise (DeepSeek-V3,
arXiv 2412.19437 sec. 3.3) one FP32 (4 B) scale per 128 values. Under sequence parallelism current
scaling all-reduces each gathered tensor's amax over the tensor-parallel group (TE linear.py,
layernorm_linear.py: column-parallel inputs forward, row-parallel output gradients backward).
"""

from __future__ import annotations

import pytest

import qwenfeas
from qwenfeas.errors import QwenfeasError
from qwenfeas.formulas import kernel_efficiency as K
from qwenfeas.formulas.accelerators import mxfp8_unsupported

# --- bytes of one cast, per recipe ---------------------------------------------------------------------

@pytest.mark.parametrize(("recipe", "blackwell", "expected"), [
    ("delayed", False, 2 + 1 + 1),              # read BF16, write FP8 and its transpose
    ("delayed", True, 2 + 1),                   # Blackwell: no transposed copy
    ("current", False, 2 + 2 + 1 + 1),          # the amax pass reads the source once more
    ("current", True, 2 + 2 + 1),
    ("mxfp8", True, 2 + 2 * (1 + 1 / 32)),      # rowwise and columnwise copies, 1 B scale per 32
    ("mxfp8", False, 2 + 2 * (1 + 1 / 32)),     # both copies whatever the layout
    ("blockwise", False, 2 + 2 * (1 + 4 / 128)),  # 1x128 and 128x1 tiles, 4 B scale per 128
    ("blockwise", True, 2 + 2 * (1 + 4 / 128)),
])
def test_bytes_one_value_moves_when_cast_to_fp8(recipe, blackwell, expected):
    assert K.fp8_cast_bytes(recipe, blackwell) == pytest.approx(expected, rel=1e-15)


def test_without_a_layout_named_a_per_tensor_cast_keeps_its_transposed_copy():
    assert K.fp8_cast_bytes("delayed") == 2 + 1 + 1


def test_a_wider_source_is_read_as_often_as_the_recipe_reads_it():
    # an FP32 source (4 B) under current scaling: two reads of 4 B, two FP8 copies
    assert K.fp8_cast_bytes("current", False, 4.0) == 4 + 4 + 1 + 1
    assert K.fp8_cast_bytes("delayed", False, 4.0) == 4 + 1 + 1


def test_casts_of_one_token_in_one_layer_llama3_70b():
    # Llama 3 70B (h 8192, q 64 x 128 = 8192, kv 8 x 128 = 1024, SwiGLU f 28,672): forward, the inputs of
    # QKV (h), the attention output (q), FFN up (h) and down (f); backward, the gradients of their
    # outputs: QKV's q + 2 kv, the attention output's h, FFN up's gate and up halves 2 f, FFN down's h.
    # Current scaling on H100: 6 B per value.
    forward = 8192 + 8192 + 8192 + 28672  # 53,248 values
    backward = (8192 + 2 * 1024) + 8192 + 2 * 28672 + 8192  # 83,968 values
    assert K.fp8_cast_bytes_per_token_layer(8192, 8192, 1024, 28672, True, 6.0) == 6 * (forward + backward)
    # full recompute replays the forward: its casts again, not the backward's
    assert K.fp8_cast_bytes_per_token_layer(8192, 8192, 1024, 28672, True, 6.0, 2.0) == 6 * (2 * forward + backward)


def test_mxfp8_needs_block_scaled_tensor_cores():
    assert mxfp8_unsupported("h100-sxm") and mxfp8_unsupported("h800") and mxfp8_unsupported("mi300x")
    assert not mxfp8_unsupported("b200") and not mxfp8_unsupported("gb300") and not mxfp8_unsupported("mi355x")
    assert not mxfp8_unsupported(None)  # custom hardware: taken at its word


# --- in the step model ------------------------------------------------------------------------------------

SCENARIO = """
model: {{layers: 4, hidden: 4096, heads: 32, kv_heads: 8, ffn_hidden: 14336, vocab: 32000}}
context: 4096
tokens: 4096M
training: {{sequence: 4096, batch_tokens: 4096K, recompute: none}}
precision: {{compute: fp8{recipe}}}
hardware: {{preset: {preset}, count: 8}}
parallel: {{tensor: 4, pipeline: 1, data: 2, zero: 1, micro_batch: 1, schedule: 1f1b}}
"""


def _run(run, recipe, preset="h100-sxm", *overrides):
    text = SCENARIO.format(recipe=f", fp8_recipe: {recipe}" if recipe else "", preset=preset)
    return run(text, *overrides)


@pytest.mark.parametrize(("recipe", "preset", "bandwidth", "cast"), [
    ("delayed", "h100-sxm", 3.35e12, 4.0),
    ("current", "h100-sxm", 3.35e12, 6.0),
    ("blockwise", "h100-sxm", 3.35e12, 4.0625),
    ("current", "b200", 8e12, 5.0),
    ("mxfp8", "b200", 8e12, 4.0625),
])
def test_cast_time_of_one_micro_batch(run, recipe, preset, bandwidth, cast):
    report = _run(run, recipe, preset)
    # under TP4 with sequence parallelism each rank casts 4,096 / 4 tokens' share of every GEMM input:
    # its sequence slice of the h-wide inputs (then gathered in FP8), its heads' q / 4 and its f / 4 of
    # all 4,096 tokens (the same count); 4 layers, each token's casts c (2h + q + f) bytes forward
    # and c (2h + q + 2 kv + 2f) backward (SwiGLU: the gradient of FFN up's gate and up halves)
    tokens = 4096 / 4
    values = (2 * 4096 + 32 * 128 + 14336) + (2 * 4096 + 32 * 128 + 2 * 8 * 128 + 2 * 14336)
    expected = tokens * 4 * cast * values / (0.85 * bandwidth)
    assert report.terms["step_fp8_cast_seconds"].value == pytest.approx(expected, rel=1e-12)


def test_full_recompute_casts_the_forward_inputs_again_not_the_gradients(run):
    # the replayed forward casts its GEMM inputs (c (2h + q + f) per token and layer) once more; the
    # backward's gradient casts run once: delayed scaling on H100, 4 B per value, the scenario above
    report = _run(run, "delayed", "h100-sxm", "training.recompute=full")
    forward = 2 * 4096 + 32 * 128 + 14336
    backward = 2 * 4096 + 32 * 128 + 2 * 8 * 128 + 2 * 14336
    expected = 4096 / 4 * 4 * 4.0 * (2 * forward + backward) / (0.85 * 3.35e12)
    assert report.terms["step_fp8_cast_seconds"].value == pytest.approx(expected, rel=1e-12)


def test_the_default_recipe_is_delayed_scaling(run):
    stated, default = _run(run, "delayed"), _run(run, None)
    assert default["training.step_seconds"] == stated["training.step_seconds"]


def test_current_scaling_all_reduces_amax_over_the_tensor_group(run):
    current, delayed = _run(run, "current"), _run(run, "delayed")
    # per micro-batch: 2 per attention block + 2 per dense FFN, 4 layers = 16 all-reduces over TP4 inside
    # one NVLink domain, each NCCL's 8.4 us + 2 passes x 3 ring steps x 0.6 us (formulas.communication)
    one = 8.4e-6 + 2 * 3 * 0.6e-6
    assert current.terms["step_amax_reduction_seconds"].value == pytest.approx(16 * one, rel=1e-12)
    micro_batches = 4096e3 / (4096 * 1 * 2)  # 4096K tokens per step, 4,096-token micro-batches, DP2
    steps = 4096e6 / 4096e3
    extra = current["communication.tensor_seconds"] - delayed["communication.tensor_seconds"]
    assert extra == pytest.approx(steps * micro_batches * 16 * one, rel=1e-9)


def test_amax_all_reduces_replay_with_the_forward_under_full_recompute(run):
    report = _run(run, "current", "h100-sxm", "training.recompute=full")
    one = 8.4e-6 + 2 * 3 * 0.6e-6
    # forward 8 replayed, backward 8: 24
    assert report.terms["step_amax_reduction_seconds"].value == pytest.approx(24 * one, rel=1e-12)


def test_no_amax_all_reduce_without_sequence_parallelism_or_with_overlap_hiding_the_rest(run):
    plain = _run(run, "current", "h100-sxm", "parallel.sequence_parallel=false")
    assert plain.terms["step_amax_reduction_seconds"].value == 0
    overlapped = _run(run, "current", "h100-sxm", "parallel.tp_overlap=true")
    delayed = _run(run, "delayed", "h100-sxm", "parallel.tp_overlap=true")
    one = 8.4e-6 + 2 * 3 * 0.6e-6
    steps, micro_batches = 4096e6 / 4096e3, 4096e3 / (4096 * 2)  # K and M are decimal
    # the cast waits on its amax: exposed even when the tensor-parallel collectives overlap the GEMMs
    exposed = overlapped["training.exposed_communication_seconds"] - delayed["training.exposed_communication_seconds"]
    assert exposed == pytest.approx(steps * micro_batches * 16 * one, rel=1e-6)


def test_explain_names_the_recipes_terms_and_where_they_sit_in_the_step(run):
    """--explain shows the casts and, under current scaling, the amax all-reduces: seconds, what each
    is, the formula and the function that holds the convention; the step's formula says where they go."""
    from qwenfeas.formulas.kernel_efficiency import fp8_cast_bytes
    from qwenfeas.training.step_time import amax_reductions

    current = _run(run, "current")
    cast, amax = current.terms["step_fp8_cast_seconds"], current.terms["step_amax_reduction_seconds"]
    assert (cast.unit, amax.unit) == ("s", "s")
    assert cast.label == "casts to FP8 (current scaling), one micro-batch (in the element-wise work)"
    assert cast.formula.startswith("tokens × layers × 6 B × (forward passes × (2 h + q + f)")  # 2 + 2 + 1 + 1
    assert cast.function is fp8_cast_bytes and amax.function is amax_reductions
    assert amax.label == ("amax all-reduces of current scaling, one micro-batch (exposed, in the "
                          "tensor-parallel time)")
    assert amax.formula == ("(attention blocks + split FFNs) × 2 × one all-reduce's latency over the "
                            "tensor-parallel group, when sequence-parallel")
    step = current.metrics["training.step_seconds"].formula
    assert step.endswith("; compute holds micro-batches × {step_fp8_cast_seconds} of casts to FP8 (current "
                         "scaling), exposed holds micro-batches × {step_amax_reduction_seconds} of amax all-reduces")
    delayed = _run(run, "delayed")
    assert "step_amax_reduction_seconds" not in delayed.terms
    assert delayed.metrics["training.step_seconds"].formula.endswith(
        "; compute holds micro-batches × {step_fp8_cast_seconds} of casts to FP8 (delayed scaling)")
    bf16 = _run(run, None, "h100-sxm", "precision.compute=bf16")
    assert "FP8" not in bf16.metrics["training.step_seconds"].formula


def test_mxfp8_before_blackwell_is_a_clear_error(run):
    with pytest.raises(QwenfeasError) as error:
        _run(run, "mxfp8", "h100-sxm")
    assert "precision.fp8_recipe" in str(error.value) and "h100-sxm" in str(error.value)


def test_a_recipe_without_fp8_gemms_is_a_warning_and_changes_nothing(run, write):
    text = SCENARIO.format(recipe=", fp8_recipe: current", preset="h100-sxm")
    scenario = qwenfeas.load(write(text), ["precision.compute=bf16"])
    assert any("precision.fp8_recipe" in w and "not used" in w for w in scenario.warnings)
    report = qwenfeas.estimate(scenario)
    plain = _run(run, None, "h100-sxm", "precision.compute=bf16")
    assert report["training.step_seconds"] == plain["training.step_seconds"]
    assert "step_fp8_cast_seconds" not in report.terms


def test_mxfp8_before_blackwell_exits_2_naming_file_and_line(write):
    from typer.testing import CliRunner

    from qwenfeas.cli import app

    path = write(SCENARIO.format(recipe=", fp8_recipe: mxfp8", preset="h100-sxm"))
    result = CliRunner().invoke(app, ["estimate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:6: precision.fp8_recipe: mxfp8 needs" in result.output  # the precision line
