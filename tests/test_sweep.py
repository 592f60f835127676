"""Sweeps: axis grammar, agreement with one-at-a-time estimates, the frontier, and the command line."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qwenfeas.commands.sweep import Sweep, frontiers, parse_axis
from qwenfeas.errors import QwenfeasError
from qwenfeas.estimates import estimate
from qwenfeas.scenario import load

CONFIGS = Path(__file__).parent.parent / "configs"
# Llama-2-70B (presets.md, from its config.json): 68,976,648,192 parameters, 327,680 KV bytes per
# token at bf16 (80 layers x 8 KV heads x 128 x 2 (K and V) x 2 B). H200: 141 GB (datasheet).
LLAMA_SERVING = """
name: llama-serving
model: {preset: llama-2-70b}
context: 4096
hardware: {preset: h200}
inference: {accelerators: 2}
"""


def _write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, text=True, input=stdin,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


# --- axis grammar -------------------------------------------------------------------------------

def test_lists_ranges_and_units():
    axis = parse_axis("context=32K,128K,1M")  # numeric values are a numpy array (a 10M-point axis is 80 MB)
    assert (axis.key, tuple(axis.values), axis.numeric) == ("context", (32e3, 128e3, 1e6), True)
    assert parse_axis("context=1M..100M:log:3").values == pytest.approx((1e6, 1e7, 1e8), rel=1e-12)
    assert parse_axis("hardware.mfu=0.3..0.5:3").values == pytest.approx((0.3, 0.4, 0.5), rel=1e-12)
    assert parse_axis("hardware.mfu=0.3..0.5:lin:5").values == pytest.approx((0.3, 0.35, 0.4, 0.45, 0.5))
    assert tuple(parse_axis("hardware.memory=80GB,141GB").values) == (80e9, 141e9)
    # integer keys are rounded, then repeated values dropped: 1, 1.78, 3.16, 5.62, 10 -> 1, 2, 3, 6, 10
    assert tuple(parse_axis("parallel.tensor=1..10:log:5").values) == (1.0, 2.0, 3.0, 6.0, 10.0)
    assert parse_axis("hardware.preset=h200, b200").values == ("h200", "b200")
    assert not parse_axis("hardware.preset=h200,b200").numeric


@pytest.mark.parametrize("text, message", [
    ("context", "cannot read"),
    ("contxt=1M", "not a scenario key"),
    ("context=1M..100M:log", "cannot read the range"),
    ("context=1M..100M:cubic:4", "cannot read the range"),
    ("context=1M..100M:1", "cannot read the range"),
    ("hardware.mfu=0..0.5:log:3", "log range needs positive ends"),
    ("hardware.mfu=0.4,1.5", "must be at most 1"),
    ("context=1M,,2M", "an empty value"),
    ("hardware.memory=80 parsecs", "cannot read"),
    ("expect=1", "cannot be swept"),
])
def test_bad_axes_are_input_errors(text, message):
    with pytest.raises(QwenfeasError) as caught:
        parse_axis(text)
    assert message in str(caught.value)
    assert str(caught.value).startswith("--vary")


def test_misspelt_axis_gets_did_you_mean():
    with pytest.raises(QwenfeasError, match="did you mean 'context'"):
        parse_axis("contxt=1M")


# --- a sweep equals one estimate per point ------------------------------------------------------

def _assert_rows_match_estimates(path, axes, sets=(), points=1 << 16, anchor=None):
    """Every output at every point of the sweep equals `estimate` of that point alone, to 1e-12; and
    `anchor` = (output name, hand formula of the point) pins one output to arithmetic, not the program."""
    grid = Sweep(path, axes, list(sets))
    checked = 0
    for chunk in grid.chunks(points):
        at = grid.axis_values(np.arange(chunk.start, chunk.start + chunk.size))
        for i in range(chunk.size):
            point = {k: v[i].item() for k, v in at.items()}
            single = estimate(load(path, [*sets, *(f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in point.items())]))
            for name, metric in single.metrics.items():
                got = chunk.column(name)[i]
                if isinstance(metric.value, (str, bool)):  # a choice (layout.schedule) or a flag (layout.searched)
                    assert got == metric.value, (name, point)
                    continue
                assert got == pytest.approx(metric.value, rel=1e-12, abs=0), (name, point)
            if anchor is not None:
                name, by_hand = anchor
                assert chunk.column(name)[i] == pytest.approx(by_hand(point), rel=1e-12), (name, point)
            checked += 1
    assert checked == grid.size


def test_three_axis_sweep_equals_estimates_point_by_point():
    axes = [parse_axis("hardware.preset=h200,b200"), parse_axis("context=64K..1M:log:3"),
            parse_axis("hardware.mfu=0.25,0.45")]
    # configs/default.yaml's model: 94 layers, 8 KV heads of 128, a bf16 cache: K and V per token
    per_token = 2 * 94 * 8 * 128 * 2
    _assert_rows_match_estimates(str(CONFIGS / "default.yaml"), axes,
                                 anchor=("kv_cache.bytes_per_sequence", lambda point: per_token * point["context"]))


def test_sweep_over_architecture_and_layout_with_full_recompute():
    """Keys the loader derives from (layers, tensor degree) and full recomputation's replayed layer."""
    axes = [parse_axis("parallel.tensor=4,8"), parse_axis("model.layers=40,80"), parse_axis("inference.batch=1,64")]
    _assert_rows_match_estimates(str(CONFIGS / "dense-70b-pretrain.yaml"), axes, ["training.recompute=full"])


def test_hybrid_model_sweep_across_chunk_boundaries():
    """Qwen3-Next (linear + full attention) with chunks of 5 points that cut through the grid."""
    axes = [parse_axis("context=32K,1M,10M"), parse_axis("precision.kv_cache=bf16,fp8"),
            parse_axis("model.linear_attention.layers=24,36")]
    # Qwen3-Next: the 48 - linear softmax layers keep K and V of 2 KV heads x 256 (config.json)
    _assert_rows_match_estimates(str(CONFIGS / "long-context-100m.yaml"), axes,
                                 ["model.preset=qwen3-next-80b-a3b"], points=5,
                                 anchor=("kv_cache.bytes_per_token", lambda point: 2 * (
                                     48 - point["model.linear_attention.layers"]) * 2 * 256 * {
                                     "bf16": 2, "fp8": 1}[point["precision.kv_cache"]]))


def test_a_swept_value_that_breaks_a_rule_is_located_at_vary(tmp_path):
    with pytest.raises(QwenfeasError) as caught:
        Sweep(str(CONFIGS / "reasoning-1m.yaml"), [parse_axis("test_time=64K,2M")])
    problem = caught.value.problems[0]
    assert (problem.file, problem.key) == ("--vary", "test_time")
    with pytest.raises(QwenfeasError, match="--vary: hardware.preset: unknown preset 'h300'"):
        Sweep(str(CONFIGS / "default.yaml"), [parse_axis("hardware.preset=h200,h300")])


# --- feasibility and the frontier ---------------------------------------------------------------

def test_frontier_is_the_longest_context_that_fits(tmp_path):
    """Hand arithmetic: 2 H200s hold 2 x 141 GB x 0.9 = 253.8 GB; the weights take 68,976,648,192 x 2 B,
    leaving 115,846,703,616 B, or 353,536 tokens at 327,680 B each. On 4 H200s 1,128,072 tokens fit."""
    path = _write(tmp_path, LLAMA_SERVING)
    grid = Sweep(path, [parse_axis("inference.accelerators=2,4"), parse_axis("context=100K..1M:10")])
    feasible = np.concatenate([chunk.verdict()[0] for chunk in grid.chunks()])
    # (2 x 141e9 x 0.9 - 68,976,648,192 x 2) // 327,680 = 353,536 tokens: 300K fits on 2 H200s, 400K does not
    context, accelerators = frontiers(grid, feasible)[::-1]
    assert context.axis == "context"
    assert context.rows == [
        {"inference.accelerators": 2, "min_feasible": 100_000, "max_feasible": 300_000, "feasible_points": 3},
        {"inference.accelerators": 4, "min_feasible": 100_000, "max_feasible": 1_000_000, "feasible_points": 10}]
    # along the other axis: the fewest accelerators for each context (none of the two hold 400K on 2)
    assert accelerators.rows[2] == {"context": 300_000, "min_feasible": 2, "max_feasible": 4, "feasible_points": 2}
    assert accelerators.rows[3] == {"context": 400_000, "min_feasible": 4, "max_feasible": 4, "feasible_points": 1}


def test_frontier_of_a_single_axis(tmp_path):
    """With nothing else swept the frontier is one row: 353,536 tokens fit on 2 H200s (see above)."""
    path = _write(tmp_path, LLAMA_SERVING)
    grid = Sweep(path, [parse_axis("context=100K..1M:10")])
    (frontier,) = frontiers(grid, np.concatenate([chunk.verdict()[0] for chunk in grid.chunks()]))
    assert frontier.rows == [{"min_feasible": 100_000, "max_feasible": 300_000, "feasible_points": 3}]


def test_binding_names_the_failing_check(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    chunk = next(Sweep(path, [parse_axis("context=100K,1M")]).chunks())
    assert chunk.column("feasible").tolist() == [True, False]
    assert chunk.column("binding").tolist() == ["memory", "memory"]


# --- the command line ---------------------------------------------------------------------------

def test_csv_stream_has_every_point_and_parses(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "context=4K..1M:log:7", "-v", "inference.accelerators=2,4,8", "-f", "csv",
                  "--columns", "context,inference.accelerators,kv_cache.bytes_per_sequence,feasible,binding")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 21
    assert rows[0]["context"] == "4000" and rows[0]["inference.accelerators"] == "2"
    # 4,000 tokens x 327,680 B
    assert float(rows[0]["kv_cache.bytes_per_sequence"]) == 4000 * 327_680
    assert {r["feasible"] for r in rows} == {"true", "false"}


def test_where_keeps_only_matching_rows_and_jsonl_parses(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "context=4K..1M:log:7", "-v", "inference.accelerators=2,4,8", "-f", "jsonl",
                  "--where", "kv_cache.bytes_per_sequence < 100GB", "--feasible")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(r["kv_cache.bytes_per_sequence"] < 100e9 and r["feasible"] is True for r in rows)
    # contexts under 100e9 / 327,680 = 305,175 tokens: 4K, 10K, 40K, 100K... of the log range, on all three
    assert sorted({r["context"] for r in rows}) == [c for c in parse_axis("context=4K..1M:log:7").values
                                                   if c * 327_680 < 100e9]


def test_json_format_is_one_array(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "context=4K,8K,16K", "-f", "json", "-c", "context,feasible")
    assert json.loads(result.stdout) == [{"context": 4000, "feasible": True}, {"context": 8000, "feasible": True},
                                         {"context": 16000, "feasible": True}]


def test_frontier_json_and_table(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "inference.accelerators=2,4", "-v", "context=100K..1M:10", "--frontier",
                  "-f", "json")
    found = {f["axis"]: f for f in json.loads(result.stdout)}
    assert found["context"]["rows"][0]["max_feasible"] == 300_000
    table = _run("sweep", path, "-v", "inference.accelerators=2,4", "-v", "context=100K..1M:10", "--frontier")
    assert "Feasible context for each inference.accelerators" in table.stdout
    assert "300,000" in table.stdout


def test_table_shows_the_first_rows_and_the_count(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "context=4K..1M:log:30", "--limit", "5")
    assert result.returncode == 0
    assert "5 of 30 rows" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["-c", "kv_cache.bytes_per_sequense"], "did you mean 'kv_cache.bytes_per_sequence'"),
    (["--where", "training.seconds < 3d"], "not an output of this scenario"),
    (["--where", "kv_cache.bytes_per_sequence < lots"], "cannot read"),
    (["-v", "context=1K"], "swept twice"),
    (["--plot", "--y", "nothing.here"], "not an output"),
])
def test_mistakes_exit_2_before_any_output(tmp_path, args, message):
    path = _write(tmp_path, LLAMA_SERVING)
    result = _run("sweep", path, "-v", "context=4K,8K", "-f", "csv", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_head_closes_the_pipe_cleanly(tmp_path):
    path = _write(tmp_path, LLAMA_SERVING)
    command = (f"{sys.executable} -m qwenfeas sweep {path} -v inference.batch=1..300:300 -v hardware.mfu=0.1..0.9:300 "
               "-f csv | head -3")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == ""


def test_sweep_reads_stdin(tmp_path):
    result = _run("sweep", "-", "-v", "context=4K,8K", "-f", "csv", "-c", "context", stdin=LLAMA_SERVING)
    assert result.stdout == "context\n4000\n8000\n"


def test_synthetic_data_and_capital_cost_sweep(tmp_path):
    """The roadmap sections (a named generator model, capex and its budget) broadcast like the rest."""
    path = _write(tmp_path, """
name: data-and-capex
model: {preset: llama-2-70b}
context: 4096
tokens: 2T
hardware: {preset: a100-sxm-80gb, count: 2048}
parallel: {tensor: 8, pipeline: 4}
synthetic: {tokens: 1T, generator: qwen3-235b-a22b, keep: 0.5}
capex: {accelerator: 15K, network: 3K}
limits: {capex: 100M}
""")
    axes = [parse_axis("synthetic.context=1K,8K"), parse_axis("capex.accelerator=10K,40K"),
            parse_axis("hardware.count=1024,4096")]
    _assert_rows_match_estimates(path, axes)


def test_plot_file_writes_a_png_and_a_bad_path_fails_before_output(tmp_path):
    pytest.importorskip("matplotlib")
    path = _write(tmp_path, LLAMA_SERVING)
    png = tmp_path / "kv.png"
    result = _run("sweep", path, "-v", "context=4K..1M:log:8", "-v", "inference.accelerators=2,4", "-f", "csv",
                  "--y", "kv_cache.bytes_per_sequence", "--plot-file", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(result.stdout.splitlines()) == 17  # the rows still stream
    bad = _run("sweep", path, "-v", "context=4K,8K", "-f", "csv", "--plot-file", str(tmp_path / "kv.jpeg"))
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "cannot tell the plot format" in bad.stderr
