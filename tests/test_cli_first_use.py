"""What a new user meets first: help piped without padding, reports within 80 columns whatever the
path, absurd sizes and meaningless option pairs refused with exit 2 before any work, and clear words
for a config.json without its model_type."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import on_a_terminal

from qwenfeas.cli import app
from qwenfeas.commands.piped_help import TrimmedLines, may_print_help

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def piped(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m qwenfeas ARGS` with stdout and stderr to pipes (not terminals)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS")}
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **env})


@pytest.mark.parametrize("args", [(), ("--help",), ("presets",), ("presets", "show", "-h")]
                         + [(name, "--help") for name in COMMANDS])
def test_piped_help_has_no_trailing_blanks(args):
    result = piped(*args)
    assert result.stdout.count("\n") > 5, result.stderr  # help was printed
    padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
    assert padded == []


def test_help_on_a_terminal_keeps_its_look():
    # the same text; on the terminal rich's padding stays (lines run out to the 80th column)
    shown = ANSI.sub("", on_a_terminal(["estimate", "--help"], {"TERM": "xterm"}, width=80)).replace("\r\n", "\n")
    assert any(len(line) == 80 and line.endswith(" ") for line in shown.splitlines())
    assert [line.rstrip() for line in shown.splitlines()] == piped("estimate", "--help", COLUMNS="80").stdout.splitlines()


def test_trimmed_lines_drop_blanks_before_the_end_and_before_closing_colour_codes():
    class Sink:
        def __init__(self):
            self.text, self.flushed = "", False

        def write(self, text):
            self.text += text

        def flush(self):
            self.flushed = True

        def isatty(self):
            return False

    sink = Sink()
    out = TrimmedLines(sink)
    text = "a  \nb \x1b[0m\n  c"
    assert out.write(text) == len(text)
    assert sink.text == "a\nb\x1b[0m\n"  # the unfinished line waits for its end
    out.write("  ")
    out.flush()
    assert (sink.text, sink.flushed, out.isatty()) == ("a\nb\x1b[0m\n  c", True, False)


@pytest.mark.parametrize(("argv", "expected"), [
    (["qwenfeas"], True), (["qwenfeas", "presets"], True), (["qwenfeas", "estimate", "-h"], True),
    (["qwenfeas", "estimate", "x.yaml", "--help"], True), (["qwenfeas", "estimate", "x.yaml"], False),
    (["qwenfeas", "roadmap"], False), (["qwenfeas", "estimate", "--", "--help"], False),
])
def test_help_is_expected_only_where_typer_prints_it(argv, expected):
    assert may_print_help(argv, {"estimate", "roadmap"}) is expected


def _deep_copy_of_default(tmp_path) -> Path:
    folder = tmp_path / "a-very-long-directory-name-for-scenarios" / "another-deep-level-of-folders"
    folder.mkdir(parents=True)
    path = folder / "my-frontier-training-plan-v2.yaml"
    path.write_text((ROOT / "configs" / "default.yaml").read_text())
    return path


def test_a_long_scenario_path_keeps_the_table_report_within_80_columns(tmp_path):
    path = _deep_copy_of_default(tmp_path)
    assert len(str(path)) > 80
    result = piped("estimate", str(path), COLUMNS="80")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and max(len(line) for line in lines) <= 80
    # the name alone, then the file on its own line: its leading folders shortened, its name whole
    assert lines[:2] == ["qwen3-max-class-pretrain",
                         "  (…/another-deep-level-of-folders/my-frontier-training-plan-v2.yaml)"]
    wide = piped("estimate", str(path), COLUMNS="200").stdout.splitlines()
    assert wide[0] == f"qwen3-max-class-pretrain  ({path})"  # room enough: one line, the whole path


def test_a_title_narrower_than_the_file_name_folds_it():
    from qwenfeas.output.tables import _title

    shown = [line.plain for line in _title("plan", "plans/" + "x" * 30 + ".yaml", 20)]
    assert shown == ["plan", "  (…/xxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxx.yaml", ")"]


@pytest.mark.parametrize("value", ["1e9", "10001"])
def test_an_absurd_depth_is_refused_before_the_layout_search(value):
    # a billion layers made the overflow remedies search 1.2M layouts with up to 4,096 pipeline stages
    result = piped("estimate", "default", "--set", f"model.layers={value}", "--format", "json")
    assert result.returncode == 2 and result.stdout == ""
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith("--set: model.layers: must be at most 10,000, got ")
    assert "DeepNet" in hint and "1,000 layers" in hint


def test_the_depth_limit_names_the_file_and_line(write):
    import qwenfeas
    from qwenfeas.errors import QwenfeasError

    rest = "context: 2048\nhardware: {preset: h100-sxm, count: 8}\n"
    path = write("model: {hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 1000}\n" + rest)
    assert qwenfeas.load(path, ["model.layers=10000"])["model.layers"] == 10_000  # the limit itself is allowed
    with pytest.raises(QwenfeasError) as caught:
        qwenfeas.load(write("model: {layers: 20000, hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 1000}\n"
                            + rest), [])
    assert str(caught.value).startswith(f"{path}:1: model.layers: must be at most 10,000, got 20000")


@pytest.mark.parametrize("args", [("check",), ("estimate", "--explain")])
def test_check_and_explain_keep_a_long_path_within_80_columns(tmp_path, args):
    path = _deep_copy_of_default(tmp_path)
    result = piped(args[0], str(path), *args[1:], COLUMNS="80")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and max(len(line) for line in lines) <= 80
    # the file name stays whole where the path is shown
    assert any("my-frontier-training-plan-v2.yaml" in line for line in lines)


@pytest.mark.parametrize(("room", "expected"), [
    (200, "a-long-folder/deeper/plan.yaml"), (30, "a-long-folder/deeper/plan.yaml"),
    (29, "…/deeper/plan.yaml"), (18, "…/deeper/plan.yaml"), (17, "…/plan.yaml"), (3, "…/plan.yaml"),
])
def test_a_short_path_keeps_the_file_name_and_the_folders_that_fit(room, expected):
    from qwenfeas.output.tables import short_path

    assert short_path("a-long-folder/deeper/plan.yaml", room) == expected


def test_explain_with_csv_is_refused_not_dropped():
    # CSV has a column per output: formulas and sources have nowhere to go, so say so (exit 2)
    result = piped("estimate", "default", "--format", "csv", "--explain")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == ["--explain: CSV has one column per output and no room for formulas and "
                                          "sources", "  hint: use --explain with --format table, json, jsonl or yaml"]


@pytest.mark.parametrize(("text", "message"), [
    ('{"num_hidden_layers": 32, "hidden_size": 4096}', "model_type: missing: a config.json names its architecture there"),
    ('{"model_type": null, "num_hidden_layers": 32}', "model_type: empty (null)"),
])
def test_a_config_json_without_its_model_type_says_so(tmp_path, text, message):
    from typer.testing import CliRunner

    config = tmp_path / "config.json"
    config.write_text(text)
    result = CliRunner().invoke(app, ["estimate", "default", "--hf-config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{config}:1: {message}"
    assert result.stderr.splitlines()[1].startswith("  hint: supported: qwen2, ")


def test_a_swept_context_names_the_points_test_time_does_not_fit():
    # default.yaml generates 64,000 tokens per query: contexts 32,000 and 48,000 cannot hold them,
    # 64,000 can (the old message gave the whole axis, "32000 to 64000 ...; got 64000")
    result = piped("sweep", "default", "--vary", "context=32K..64K:3", "--format", "csv")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == ("--vary: test_time: must fit in the context (32,000 to 48,000 tokens); "
                                             "got 64,000")


@pytest.mark.parametrize(("extra", "first", "hint"), [
    (("--explain",), "--field: prints one bare number, so --explain has no effect on it",
     """  hint: drop --explain, or see the formula with --explain --format json | jq '.explain["training.seconds"]'"""),
    (("--format", "json"), "--field: prints one bare number, so --format has no effect on it",
     "  hint: drop --field, or use --format json | jq '.training.seconds'"),
])
def test_field_with_an_option_it_ignores_is_refused(extra, first, hint):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["estimate", "default", "--field", "training.seconds", *extra])
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (2, "", [first, hint])


def test_a_narrow_terminal_lists_the_rows_that_cannot_stand_side_by_side():
    # at 60 columns the Training section's label, value and output name (up to 39 characters, never cut)
    # cannot share a line: each row is its label, then its value and name indented under it
    result = piped("estimate", "default", COLUMNS="60")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and max(len(line) for line in lines) <= 60
    at = lines.index("weight matmuls (6ND)")
    assert lines[at + 1].startswith("  ") and lines[at + 1].endswith("  training.dense_flops")
    # a section that fits keeps its columns
    assert any(line.startswith("parameters") and line.endswith("  model.params") for line in lines)


def test_a_listed_row_puts_a_cell_that_does_not_fit_on_its_own_line():
    from qwenfeas.output.layout import Column, table

    columns = [Column("label", wrap=True), Column("value", "right"), Column("name")]
    rows = [["a long label that wraps", "12 s", "training.exposed_communication_seconds"]]
    shown = [line.plain for line in table(columns, rows, 30, keep=0, show_header=False)]
    assert shown == ["a long label that wraps", "  12 s", "  training.exposed_communication_seconds"]
    wider = [line.plain for line in table(columns, rows, 50, keep=0, show_header=False)]
    assert wider == ["a long label that wraps", "  12 s  training.exposed_communication_seconds"]


def test_an_absurd_mtp_depth_is_refused_like_an_absurd_layer_count(write):
    # each MTP depth is one more layer of the layout search (step_inputs.Work.layers = L + D), so
    # a billion depths made the same slow search model.layers' limit prevents
    import qwenfeas
    from qwenfeas.errors import QwenfeasError

    rest = "context: 2048\nhardware: {preset: h100-sxm, count: 8}\n"
    model = "model: {layers: 2, hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 1000, mtp_layers: %s}\n"
    assert qwenfeas.load(write(model % "10000" + rest), [])["model.mtp_layers"] == 10_000  # the limit itself
    path = write(model % "1e9" + rest)
    with pytest.raises(QwenfeasError) as caught:
        qwenfeas.load(path, [])
    assert str(caught.value).startswith(f"{path}:1: model.mtp_layers: must be at most 10,000, got 1e+09")
    hint = str(caught.value).split("hint: ", 1)[1]
    assert "DeepSeek-V3" in hint and "model.layers" in hint


def test_a_warning_printed_with_the_results_wraps_at_the_width():
    # palm-540b on TPU v4 has no rental price: the warning runs to 121 characters unwrapped
    result = piped("estimate", "tests/scorecard/palm-540b-tpuv4-6144-step.yaml", "--explain", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("warning: no rental price is known for tpu-v4"))
    assert lines[start + 1].startswith("  ") and "datacenter.gpu_hour" in lines[start] + lines[start + 1]
    assert max(len(line) for line in lines) <= 80
