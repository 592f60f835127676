"""The loader's consistency rules and unusual inputs, through the CLI: exit 2, FILE:LINE: key: message.

Each case writes a small scenario whose mistake sits on a known line and checks that the one
problem reported names that file, that line and that key (see test_cli_errors.py for the contract
and the helpers). A key the user left out is reported at the mapping that lacks it.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_errors import ENV, VALID, expect, here, input_error, invoke, only, write  # noqa: F401 (here)
from typer.testing import CliRunner

import qwenfeas
from qwenfeas.cli import app
from qwenfeas.errors import QwenfeasError

# every test runs in a fresh folder with the contract's environment (test_cli_errors.here)
pytestmark = pytest.mark.usefixtures("here")
HARDWARE = "context: 4096\nhardware: {preset: h100-sxm}\n"
SMALL = "model:\n  layers: 2\n  hidden: 1024\n  heads: 8\n  vocab: 100\n  ffn_hidden: 64\n"


def test_hidden_not_a_multiple_of_heads_without_head_dim():
    text = "model:\n  layers: 2\n  hidden: 1000\n  heads: 3\n  vocab: 100\n  ffn_hidden: 64\n" + HARDWARE
    expect(invoke(write("odd.yaml", text)), "odd.yaml", 1, "model.head_dim", "not a multiple of heads (3)",
           hint="model.head_dim")


def test_grouped_query_attention_without_kv_heads():
    text = SMALL + "  attention: {kind: gqa}\n" + HARDWARE
    expect(invoke(write("gqa.yaml", text)), "gqa.yaml", 1, "model.kv_heads", "missing", hint="add model.kv_heads")


@pytest.mark.parametrize(("extra", "message", "hint"), [
    ("  kv_heads: 3\n", "must divide model.heads (8); got 3", None),
    ("  kv_heads: 16\n", "must divide model.heads (8); got 16", None),
    ("  kv_heads: 4\n  attention: {kind: mha}\n", "MHA has kv_heads = heads (8); got 4", "kind: gqa"),
    ("  kv_heads: 2\n  attention: {kind: mqa}\n", "MQA has one KV head; got 2", "kind: gqa"),
])
def test_kv_heads_that_do_not_match_the_attention(extra, message, hint):
    # kv_heads is on line 7, after the six lines of SMALL
    expect(invoke(write("kv.yaml", SMALL + extra + HARDWARE)), "kv.yaml", 7, "model.kv_heads", message, hint=hint)


@pytest.mark.parametrize(("model", "line", "key", "message", "hint"), [
    ("  preset: qwen3-next-80b-a3b\n  linear_attention: {layers: 60}\n", 3, "model.linear_attention.layers",
     "must not exceed model.layers (48)", None),
    ("  preset: llama-2-70b\n  attention: {sliding_layers: 40}\n", 3, "model.attention.sliding_layers",
     "model.attention.sliding_window is not", "sliding_window: 4096"),
    ("  preset: llama-2-70b\n  attention:\n    sliding_window: 4096\n    sliding_layers: 90\n", 5,
     "model.attention.sliding_layers", "must not exceed the 80 softmax-attention layers", None),
    ("  preset: deepseek-v3\n  attention: {sliding_window: 4096}\n", 3, "model.attention.sliding_window",
     "sliding windows with MLA are not modelled", None),
])
def test_layer_kinds_that_do_not_add_up(model, line, key, message, hint):
    expect(invoke(write("layers.yaml", "model:\n" + model + HARDWARE)), "layers.yaml", line, key, message, hint=hint)


TRAINING = "model: {preset: %s}\ncontext: 4096\ntokens: 1T\nhardware: {preset: h100-sxm, count: 64}\nparallel:\n"


def test_data_parallel_degree_that_needs_more_accelerators_than_there_are():
    # 8 x 16 = 128 accelerators asked of 64
    text = TRAINING % "llama-2-70b" + "  tensor: 8\n  data: 16\n"
    expect(invoke(write("dp.yaml", text)), "dp.yaml", 7, "parallel.data", "= 128, more than hardware.count (64)",
           hint="multiply to at most hardware.count")


def test_expert_degree_that_does_not_divide_the_data_parallel_degree():
    text = TRAINING % "qwen3-30b-a3b" + "  tensor: 2\n  expert: 3\n  data: 16\n"
    expect(invoke(write("ep.yaml", text)), "ep.yaml", 7, "parallel.expert", "must divide the data-parallel degree (16)")


def test_model_parallel_degrees_above_the_accelerator_count():
    # tensor 8 x expert 16 = 128 > 64
    text = TRAINING % "qwen3-30b-a3b" + "  tensor: 8\n  expert: 16\n"
    expect(invoke(write("tp.yaml", text)), "tp.yaml", 6, "parallel.tensor",
           "tensor x pipeline x context x expert (128) exceeds hardware.count (64)")


def test_a_folder_with_no_yaml_files():
    Path("plans").mkdir()
    write("plans/readme.txt", "not a scenario\n")
    result = CliRunner().invoke(app, ["check", "plans"], env=ENV)
    problem = only(input_error(result))
    assert (problem.file, problem.line, problem.rest) == ("plans", None, "holds no *.yaml or *.yml files")


def test_a_glob_that_matches_nothing():
    result = CliRunner().invoke(app, ["check", "plans/*.yaml"], env=ENV)
    problem = only(input_error(result))
    assert (problem.file, problem.line, problem.rest) == ("plans/*.yaml", None, "no file matches this pattern")


def test_a_path_holding_a_nul_byte():
    problem = only(input_error(invoke("plan\x00.yaml")))
    assert problem.file == repr("plan\x00.yaml") and problem.line is None
    assert problem.rest.startswith("is not a usable file path")


def test_stdin_that_is_a_terminal(tmp_path):
    """`estimate -` with nothing piped in: the real program on a pseudo-terminal, not a hang."""
    controller, terminal = pty.openpty()
    try:
        env = {**os.environ, **ENV}
        env.pop("QWENFEAS_DEBUG", None)
        proc = subprocess.run([sys.executable, "-m", "qwenfeas", "estimate", "-"], stdin=terminal,
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("<stdin>: '-' reads a scenario from standard input, but nothing is piped in\n")
    assert "  hint: pipe a file in" in proc.stderr


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), "sweep"])
def test_a_non_finite_output_is_refused_with_the_scenario_named(tmp_path, bad):
    """The safety net behind the input bounds (1e-30 to 1e30 per input keep real scenarios from
    reaching it): a report holding an infinite or undefined number is refused, naming the metric
    and the scenario file. One metric of a real report is replaced to reach it."""
    import numpy as np

    from qwenfeas.estimates import _check_finite

    plan = tmp_path / "plan.yaml"
    plan.write_text(VALID)
    report = qwenfeas.estimate(qwenfeas.load(plan))
    _check_finite(report)  # the real report passes
    value = np.array([1.0, np.inf]) if bad == "sweep" else bad
    report.metrics["model.params"] = report.metrics["model.params"]._replace(value=value)
    with pytest.raises(QwenfeasError) as caught:
        _check_finite(report)
    problem = only_problem(caught.value)
    assert (problem.file, problem.message) == (str(plan), "model.params is not a finite number")
    assert "check its unit" in problem.hint


def only_problem(error: QwenfeasError):
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def test_expect_lines_hold_point_by_point_over_a_sweep():
    """`expect:` over a swept axis: each point is judged on its own value (hand arithmetic: the KV cache of
    Llama-2-70B is 327,680 B per token at bf16, so 4,096 tokens hold 1.342 GB and 8,192 hold 2.684 GB)."""
    text = VALID + "expect:\n  - kv_cache.bytes_per_sequence < 2 GB\n"
    result = CliRunner().invoke(app, ["sweep", write("plan.yaml", text), "--vary", "context=4096,8192",
                                      "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output  # a sweep maps the points; it does not fail on them
    rows = {row["context"]: row for row in json.loads(result.stdout)}
    assert rows[4096]["kv_cache.bytes_per_sequence"] == 327_680 * 4096
    assert rows[4096]["feasible"] is True
    assert rows[8192]["kv_cache.bytes_per_sequence"] == 327_680 * 8192
    assert (rows[8192]["feasible"], rows[8192]["binding"]) == (False, "expect[0]")


PLAN = "model: {preset: llama-2-70b}\ncontext: 4096\n"


@pytest.mark.parametrize(("text", "line", "key", "message", "hint"), [
    ("model:\n  preset: qwen3-30b-a3b\n  ffn_hidden: 6144\n  moe: {dense_layers: 60}\n" + HARDWARE, 4,
     "model.moe.dense_layers", "must not exceed model.layers (48)", None),
    ("model:\n  preset: qwen3-next-80b-a3b\n  linear_attention: {key_heads: null}\n" + HARDWARE, 3,
     "model.linear_attention.key_heads", "missing", "16 key heads"),
    (PLAN + "tokens: 1T\nhardware: {preset: h100-sxm}\nlimits: {budget: 1M}\n", 4, "hardware.count", "missing",
     "a training budget needs the number of accelerators"),
    (PLAN + "tokens: 1T\nhardware: {peak_flops: 1P, memory: 80GB, bandwidth: 3TB/s, tdp: 700W, count: 8}\n"
     "limits: {budget: 1M}\n", 5, "limits.budget", "needs a rental price", "datacenter.gpu_hour"),
    (PLAN + "tokens: 1T\nhardware: {preset: h100-sxm, count: 8}\nsynthetic: {keep: 0.5}\n", 5, "synthetic.tokens",
     "missing: the synthetic section needs the tokens to generate", "64T"),
    (PLAN + "hardware: {preset: h100-sxm}\nsynthetic: {tokens: 1T}\n", 3, "hardware.count", "missing",
     "synthetic data is generated on the scenario's fleet"),
    (PLAN + "hardware: {preset: h100-sxm}\ninference: {prompt_tokens: 4000, output_tokens: 200}\n", 4,
     "inference.prompt_tokens", "prompt (4000) + output (200) tokens exceed the context (4096)", "raise context"),
    (PLAN + "hardware: {preset: h100-sxm}\ninference: {output_tokens: 5000}\n", 4, "inference.output_tokens",
     "more than the context (4096 tokens)", "lower inference.output_tokens"),
])
def test_sections_that_need_what_the_scenario_lacks(text, line, key, message, hint):
    expect(invoke(write("plan.yaml", text)), "plan.yaml", line, key, message, hint=hint)


def test_a_bare_number_of_measured_days_is_read_as_seconds_with_a_warning():
    result = invoke(write("plan.yaml", PLAN + "tokens: 1T\nhardware: {preset: h100-sxm, count: 8}\n"
                                              "measured: {days: 30}\n"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "warning: plan.yaml: measured.days is 30 s, under an hour" in result.stderr
    assert json.loads(result.stdout)["training"]["seconds"] == 30


def test_mla_without_a_value_width_uses_the_head_width():
    """MLA's value width defaults to model.head_dim: 2 layers x 8 heads x ((64 + 16) + 64) x 2 FLOPs per key."""
    text = ("model: {layers: 2, hidden: 1024, heads: 8, head_dim: 64, vocab: 100, ffn_hidden: 64,\n"
            "        attention: {kind: mla, kv_lora_rank: 32, rope_head_dim: 16}}\n" + HARDWARE)
    result = invoke(write("mla.yaml", text), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"]["attention_flops_per_key"] == 2 * 2 * 8 * ((64 + 16) + 64)
