"""What a fuzzing pass over the command line found (paths, streams, options, files), one test each.

Every case was an internal error, a traceback, a silent wrong answer or a wall of repeated text;
each now exits 0, 1 or 2 with one located line per mistake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import on_a_terminal
from typer.testing import CliRunner

from qwenfeas.cli import app

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")


def shell(command: str) -> subprocess.CompletedProcess:
    """`python -m qwenfeas COMMAND` through sh, so a test can close a stream (>&-, 2>&-)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1"}
    return subprocess.run(["sh", "-c", f"'{sys.executable}' -m qwenfeas {command}"], capture_output=True, text=True,
                          env=env, cwd=ROOT)


@pytest.mark.parametrize("args", ["--version", "--help", f"estimate {DEFAULT}", f"estimate {DEFAULT} -f json"])
def test_a_closed_stdout_is_one_line_and_exit_2(args):
    """Started with stdout closed (>&-), Python has no sys.stdout: that was a traceback (exit 1)."""
    result = shell(f"{args} >&-")
    assert result.returncode == 2
    assert result.stderr == "qwenfeas: cannot write the output: standard output is closed\n"


def test_a_closed_stderr_still_gives_the_results():
    """With stderr closed (2>&-) the warnings had nowhere to go: exit 1 and no JSON at all."""
    result = shell("estimate configs/roadmap/context-100m-gqa.yaml -f json 2>&-")
    assert result.returncode == 0
    assert '"kv_cache"' in result.stdout and result.stdout.endswith("}\n")
    assert shell("estimate nothere.yaml 2>&-").returncode == 2


@pytest.mark.parametrize("args", [["estimate", "-", "-"], ["check", "-", "-"], ["compare", "-", "-"],
                                  ["compare", "-", "-", "--with", "hardware.mfu=0.3"]], ids=" ".join)
def test_stdin_named_twice_is_an_error_not_an_empty_second_scenario(args):
    text = Path(DEFAULT).read_text()
    result = CliRunner().invoke(app, args, input=text)
    assert result.exit_code == 2
    assert "'-' is named more than once" in result.stderr and "the scenario is empty" not in result.stderr


def test_a_section_lists_its_known_keys_once(tmp_path):
    """Three unknown top-level keys printed the 19 known keys three times."""
    path = tmp_path / "plan.yaml"
    path.write_text("foo: 1\nbar: 2\nbaz: 3\nmodel: {preset: llama-2-70b, qux: 1, quux: 2}\n")
    result = CliRunner().invoke(app, ["estimate", str(path)])
    assert result.exit_code == 2
    for line, key in ((1, "foo"), (2, "bar"), (3, "baz"), (4, "model.qux"), (4, "model.quux")):
        assert f"plan.yaml:{line}: {key}: unknown key" in result.stderr
    assert result.stderr.count("known keys here: name, extends, model") == 1
    assert result.stderr.count("known keys here: preset, hf_config") == 1


@pytest.mark.parametrize("output", ["json", "csv", "table"])
def test_a_malformed_expectation_is_bad_input_in_every_format(tmp_path, output):
    """JSON and CSV never read expect: lines, so 'training.seconds <' passed with exit 0; the table
    printed every section before exit 2. Now: exit 2 and nothing on stdout, whatever the format."""
    path = tmp_path / "plan.yaml"
    path.write_text(f"extends: {DEFAULT}\nexpect: ['training.seconds <']\n")
    result = CliRunner().invoke(app, ["estimate", str(path), "-f", output])
    assert result.exit_code == 2 and result.stdout == ""
    assert "plan.yaml:2: expect[0]: cannot read 'training.seconds <'" in result.stderr


@pytest.mark.parametrize("limit", ["0", "-1s", "0ms"])
def test_a_latency_limit_must_be_longer_than_zero(limit):
    result = CliRunner().invoke(app, ["serve", DEFAULT, "--tpot", limit])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"--tpot: must be longer than 0, got '{limit}'" in result.stderr


def test_a_bad_with_is_named_as_with():
    result = CliRunner().invoke(app, ["compare", DEFAULT, "--with", "x"])
    assert result.exit_code == 2 and result.stderr.startswith("--with: expected KEY=VALUE, got 'x'")


def test_a_duplicate_key_in_json_is_refused_like_in_yaml(tmp_path):
    """The json module keeps the last of two equal keys; the YAML reader already refused them."""
    path = tmp_path / "plan.json"
    path.write_text('{\n "model": {"preset": "llama-2-70b"},\n "context": 4096,\n "hardware": {"preset": "h200"},\n'
                    ' "context": 8192\n}\n')
    result = CliRunner().invoke(app, ["estimate", str(path)])
    assert result.exit_code == 2
    assert "plan.json:5: context: duplicate key (first written on line 3)" in result.stderr


def test_extends_names_a_bundled_scenario_and_refuses_an_empty_path(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("extends: default\nhardware: {mfu: 0.4}\n")
    bundled = CliRunner().invoke(app, ["estimate", str(path), "--field", "hardware.count"])
    assert bundled.exit_code == 0, bundled.output
    assert bundled.stdout == "20480\n"  # configs/default.yaml: 20,480 accelerators
    path.write_text("extends: ''\n")
    empty = CliRunner().invoke(app, ["estimate", str(path)])
    assert empty.exit_code == 2 and "plan.yaml:1: extends: must be a file path" in empty.stderr


@pytest.mark.parametrize("assignment", ["hardwre.count=", "a=null", "limits.speed=~"])
def test_removing_an_unknown_key_with_set_is_an_error_not_a_silent_no_op(assignment):
    result = CliRunner().invoke(app, ["estimate", DEFAULT, "--set", assignment])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"--set: {assignment.partition('=')[0]}: unknown key" in result.stderr


@pytest.mark.parametrize("assignment", ["limits=", "hardware.peak_flops.fp8=null", "test_time=null"])
def test_removing_a_known_key_or_section_with_set_still_works(assignment):
    result = CliRunner().invoke(app, ["estimate", DEFAULT, "--set", assignment, "--field", "hardware.count"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "20480\n"


def test_the_help_lists_every_exit_code_and_each_command_in_a_line_or_two():
    from qwenfeas.errors import ExitCode

    text = " ".join(CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout.split())
    for code in ExitCode:
        assert f" {int(code)} " in text.split("Exit status:")[1] + " ", code
    # typer lists each command by the first paragraph of its docstring: one sentence, not a page
    for command in app.registered_commands:
        first = (command.callback.__doc__ or "").strip().split("\n\n")[0]
        assert len(" ".join(first.split())) <= 110, command.callback.__name__


def test_presets_show_names_its_argument_as_its_errors_do():
    usage = CliRunner().invoke(app, ["presets", "show", "--help"], env={"COLUMNS": "80"}).stdout
    assert "{NAME}" in usage
    assert CliRunner().invoke(app, ["presets", "show", "nope"]).stderr.startswith("NAME: no preset is called")


def test_extends_reads_a_home_path_and_says_why_a_url_or_a_cycle_fails(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "base.yaml").write_text(Path(DEFAULT).read_text())
    plan = tmp_path / "plan.yaml"
    plan.write_text("extends: ~/base.yaml\n")
    result = CliRunner().invoke(app, ["estimate", str(plan), "--field", "hardware.count"], env={"HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert result.stdout == "20480\n"
    plan.write_text("extends: https://example.com/base.yaml\n")
    url = CliRunner().invoke(app, ["estimate", str(plan)])
    assert url.exit_code == 2 and "hint: extends: takes a local file path, not a URL" in url.stderr
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    cycle = CliRunner().invoke(app, ["estimate", str(tmp_path / "a.yaml")])
    assert cycle.exit_code == 2 and "makes a cycle" in cycle.stderr and "hint: a base file must not extend" in cycle.stderr


def _on_a_terminal(*args: str, **env: str) -> str:
    """stdout of the command on a pseudo-terminal, raw (escape codes kept)."""
    return on_a_terminal(args, {"TERM": "xterm", "COLUMNS": "120", **env})


def test_colour_on_a_terminal_and_none_with_no_color_or_the_flag():
    import re

    colour = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")  # a foreground colour, not bold or dim
    assert colour.search(_on_a_terminal("validate", "--case", "gpt3-175b-training-compute"))
    assert not colour.search(_on_a_terminal("validate", "--case", "gpt3-175b-training-compute", NO_COLOR="1"))
    assert not colour.search(_on_a_terminal("validate", "--case", "gpt3-175b-training-compute", "--no-color"))


def test_shell_completion_is_not_offered():
    text = CliRunner().invoke(app, ["--help"]).stdout
    assert "--install-completion" not in text and "--show-completion" not in text
