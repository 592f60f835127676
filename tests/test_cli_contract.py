"""The command-line contract (issue 15): formats, exit codes, messages, CI reports, packaging paths.

One test (or one parametrised case) per reported break; each reproduces the report first.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenfeas.cli import app

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")
SERVING = str(ROOT / "configs" / "qwen3-235b-serving-128k.yaml")
PRETRAIN = str(ROOT / "configs" / "dense-70b-pretrain.yaml")


def invoke(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def run(*args, cwd=ROOT, stdout=subprocess.PIPE, env=None):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, cwd=cwd, env=base)


def errors(result) -> list[str]:
    """stderr lines that are not warnings or notes (nor their wrapped continuation lines)."""
    lines, in_message = [], False
    for line in result.stderr.splitlines():
        in_message = line.startswith(("warning:", "note:")) or (in_message and line.startswith("  "))
        if not in_message:
            lines.append(line)
    return lines


# --- each command accepts only the formats it writes -------------------------------------------

@pytest.mark.parametrize("args", [
    ["compare", DEFAULT, PRETRAIN, "-f", "yaml"], ["compare", DEFAULT, PRETRAIN, "-f", "jsonl"],
    ["roadmap", "-f", "csv"], ["roadmap", "-f", "yaml"], ["presets", "-f", "csv"], ["presets", "-f", "jsonl"],
    ["validate", "-f", "yaml"], ["check", DEFAULT, "-f", "csv"],
    ["check", DEFAULT, "-f", "yaml"], ["presets", "show", "h200", "-f", "csv"], ["sweep", DEFAULT, "-v",
                                                                               "hardware.mfu=0.3,0.4", "-f", "yaml"],
])
def test_a_format_a_command_does_not_write_is_a_usage_error(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""


def test_the_formats_a_command_offers_are_what_it_writes():
    rows = list(csv.DictReader(io.StringIO(invoke("compare", DEFAULT, PRETRAIN, "-f", "csv").stdout)))
    assert rows[0]["output"] and "unit" in rows[0]
    assert isinstance(json.loads(invoke("presets", "-f", "json").stdout), dict)
    lines = invoke("check", DEFAULT, "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["qwen3-max-class-pretrain"]


# --- sweeps ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["csv", "jsonl", "table"])
def test_swept_axes_are_always_in_the_rows(output):
    result = invoke("sweep", DEFAULT, "-v", "hardware.count=8192,16384", "-v", "hardware.mfu=0.3,0.4",
                    "-c", "training.seconds", "-f", output)
    assert result.exit_code == 0, result.output
    if output == "csv":
        assert result.stdout.splitlines()[0] == "hardware.count,hardware.mfu,training.seconds"
    elif output == "jsonl":
        assert list(json.loads(result.stdout.splitlines()[0])) == ["hardware.count", "hardware.mfu",
                                                                    "training.seconds"]
    else:
        assert "hardware.count" in result.stdout and "hardware.mfu" in result.stdout


@pytest.mark.parametrize("key", ["model.params", "model.active_params"])
def test_sweeping_a_given_parameter_count_is_refused_with_a_hint(key):
    result = invoke("sweep", DEFAULT, "-v", f"{key}=100B..10T:log:5")
    assert result.exit_code == 2
    assert "cannot be swept" in result.stderr and "hint: sweep the architecture" in result.stderr


def test_the_sweep_help_examples_do_not_sweep_a_given_count():
    assert "model.params=" not in invoke("sweep", "--help").stdout


@pytest.mark.parametrize("axes", [
    ["-v", "hardware.count=1..1e12:1000000000000"],
    ["-v", "context=1..1e12:10000000", "-v", "hardware.mfu=0.1..0.5:10000000000000", "-f", "json"],
    ["-v", "hardware.count=1K..10K:10000", "-v", "hardware.mfu=0.1..0.5:10000", "-v", "tokens=1T..10T:10000",
     "--frontier"],
])
def test_a_sweep_larger_than_memory_is_refused_before_it_starts(axes):
    result = invoke("sweep", DEFAULT, *axes)
    assert result.exit_code == 2
    assert "the sweep is too large" in result.stderr and "10,000,000" in result.stderr and "hint:" in result.stderr
    assert result.stdout == ""


def test_a_table_of_a_large_sweep_stops_at_its_rows():
    """5M points, 20 shown: the table knows the total without evaluating every point."""
    result = invoke("sweep", DEFAULT, "-v", "hardware.mfu=0.1..0.5:5000000", "-n", "3")
    assert result.exit_code == 0, result.output
    assert "3 of 5,000,000 rows" in " ".join(result.stdout.split())


def test_plot_file_to_a_folder_fails_before_any_output(tmp_path):
    folder = tmp_path / "chart.png"
    folder.mkdir()
    result = invoke("sweep", SERVING, "-v", "context=32K..1M:log:3", "-f", "csv", "--plot-file", str(folder))
    assert result.exit_code == 2 and result.stdout == ""
    assert "is a folder" in result.stderr


# --- messages ------------------------------------------------------------------------------------

def test_compare_prints_each_note_once():
    gqa = str(ROOT / "configs" / "roadmap" / "context-100m-gqa.yaml")  # a note and a warning in every variant
    result = invoke("compare", gqa, "--with", "hardware.mfu=0.3", "--with", "hardware.mfu=0.4")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith(("note:", "warning:"))]
    assert notes and len(notes) == len(set(notes))


def test_a_bad_set_is_reported_once_for_many_files():
    result = invoke("estimate", DEFAULT, PRETRAIN, SERVING, "--set", "hardware.count=lots")
    assert result.exit_code == 2
    assert len([line for line in result.stderr.splitlines() if "hardware.count" in line]) == 1


def test_the_window_warning_names_only_contexts_past_the_window():
    """Qwen3-235B-A22B's window is 131,072 tokens (its config.json, max_position_embeddings)."""
    result = invoke("sweep", SERVING, "-v", "context=32000,100000,200000,10M", "-f", "csv")
    warning = next(line for line in result.stderr.splitlines() if "window" in line)
    assert "context 200,000 to 10,000,000 exceeds" in warning and "32,000" not in warning


def test_an_unknown_preset_does_not_hide_the_other_mistakes(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("model: {preset: llama-2-70b, layrs: 3}\ncontext: 12x\nhardware: {preset: h2000}\n")
    result = invoke("estimate", str(path))
    assert result.exit_code == 2
    for expected in ("hardware.preset: unknown preset", "model.layrs: unknown key", "context: cannot read"):
        assert expected in result.stderr, expected


def test_preset_names_are_case_insensitive(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("model: {preset: Llama-2-70B}\ncontext: 4K\nhardware: {preset: H200}\n")
    result = invoke("estimate", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    # Llama-2-70B, fp16 KV: 2 x 80 layers x 8 KV heads x 128 x 2 B = 327,680 B per token (its config.json)
    assert json.loads(result.stdout)["kv_cache"]["bytes_per_token"] == 327_680
    assert invoke("presets", "show", "H200").stdout.startswith("# accelerator preset h200")


def test_a_synthetic_generator_preset_takes_any_case(tmp_path):
    """synthetic.generator names a model preset like model.preset does, so any case is the same model."""
    path = tmp_path / "plan.yaml"
    body = "model: {preset: llama-2-70b}\ncontext: 4K\ntokens: 1T\nhardware: {preset: h100-sxm, count: 64}\n"
    flops = []
    for name in ("Qwen3-8B", "qwen3-8b"):
        path.write_text(body + f"synthetic: {{tokens: 1T, keep: 0.5, context: 4K, generator: {name}}}\n")
        result = invoke("estimate", str(path), "--field", "synthetic.flops")
        assert result.exit_code == 0, result.output
        flops.append(float(result.stdout))
    # the lower-case run is the catalogue's own spelling: both name one generator
    assert flops[0] == flops[1] > 0


def test_an_expectation_is_quoted_where_it_binds(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(f"extends: {DEFAULT}\nexpect: ['kv_cache.bytes_per_sequence < 1GB']\n")
    result = invoke("check", str(path))
    assert result.exit_code == 1
    assert 'expect[0] "kv_cache.bytes_per_sequence < 1GB"' in " ".join(result.stdout.split())


# --- help and docs ---------------------------------------------------------------------------------

def test_help_examples_work_as_written():
    compare = json.loads(invoke("compare", DEFAULT, "--with", "precision.compute=fp8", "--format", "json").stdout)
    assert compare["outputs"]["training.seconds"]["values"][0] > 0  # jq '.outputs["training.seconds"]'
    estimate_help = invoke("estimate", "--help").stdout
    assert "days=$(" not in estimate_help  # --field prints seconds: the example says so
    assert "jq .outputs.training.seconds" not in invoke("compare", "--help").stdout
    assert "README.md." not in invoke("--help").stdout and "qwenfeas docs" in invoke("--help").stdout


def test_docs_prints_the_installed_readme():
    result = invoke("docs")
    assert result.exit_code == 0
    assert "qwenfeas" in result.stdout and "--format" in result.stdout


def test_bundled_scenarios_work_from_any_directory(tmp_path):
    estimate = run("estimate", "default", "--field", "training.seconds", cwd=tmp_path)
    assert estimate.returncode == 0, estimate.stderr
    assert float(estimate.stdout) > 0
    roadmap = run("roadmap", "--format", "json", cwd=tmp_path)
    assert roadmap.returncode in (0, 1), roadmap.stderr
    assert len(json.loads(roadmap.stdout)["targets"]) >= 8


# --- CI reports -----------------------------------------------------------------------------------

def test_limits_given_with_set_are_reported_on_the_scenario_file(tmp_path):
    junit = tmp_path / "report.xml"
    result = run("check", DEFAULT, "--set", "limits.accelerators=10", "--junit", str(junit),
                 env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    annotation = next(line for line in result.stderr.splitlines() if line.startswith("::error"))
    assert f"file={DEFAULT.replace(':', '%3A')}" in annotation and "--set" in annotation.split("::")[-1]
    cases = [c for c in ET.parse(junit).iter("testcase") if c.find("failure") is not None]
    assert cases and all(c.get("file") == DEFAULT for c in cases)
    assert all(c.get("file") != "--set" for c in ET.parse(junit).iter("testcase"))


@pytest.mark.parametrize("junit", ["missing-folder/report.xml", ".", "x" * 300 + ".xml", ""])
def test_a_junit_path_that_cannot_be_written_fails_before_any_work(tmp_path, junit):
    result = run("check", DEFAULT, "--junit", junit, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "--junit" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("junit", ["/proc/version", "/proc/qwenfeas-report.xml"])
def test_a_junit_file_whose_folder_takes_no_new_file_fails_before_any_work(junit):
    """/proc/version is a regular file root may open for writing, but no temporary file can be made
    beside it for the atomic rename: that was an internal error (exit 70) after the report was printed."""
    if not os.path.exists("/proc/version"):
        pytest.skip("no /proc on this system")
    result = run("check", DEFAULT, "--junit", junit)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and f"{junit}: --junit: cannot be written" in result.stderr
    assert "internal error" not in result.stderr


# --- output streams ----------------------------------------------------------------------------------

CLOSED_PIPE_COMMANDS = [
    ["estimate", DEFAULT], ["estimate", DEFAULT, "-f", "json"], ["estimate", DEFAULT, "-f", "csv"],
    ["estimate", DEFAULT, "-f", "yaml"], ["estimate", DEFAULT, "-f", "jsonl"], ["estimate", DEFAULT, "--explain"],
    ["roadmap"], ["roadmap", "-f", "json"], ["presets"], ["presets", "-f", "json"], ["validate"],
    ["check", "configs/"], ["check", "configs/", "-f", "json"], ["compare", DEFAULT, PRETRAIN],
    ["compare", DEFAULT, PRETRAIN, "-f", "csv"], ["sweep", DEFAULT, "-v", "hardware.mfu=0.1..0.5:200000", "-f", "csv"],
    ["sweep", DEFAULT, "-v", "hardware.mfu=0.1..0.5:20"], ["schema"], ["--help"], ["--version"],
    ["estimate", "--help"],
]


@pytest.mark.parametrize("args", CLOSED_PIPE_COMMANDS, ids=lambda a: " ".join(a)[:40])
def test_a_closed_pipe_ends_quietly_with_0(args):
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone before the first write (`| head -0`)
    try:
        result = run(*args, stdout=writer)
    finally:
        os.close(writer)
    assert result.returncode == 0, result.stderr
    assert errors(result) == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["estimate", DEFAULT], ["estimate", DEFAULT, "-f", "json"],
                                  ["roadmap"], ["schema"]], ids=lambda a: " ".join(a)[:30])
def test_a_full_disk_is_one_line_and_exit_2(args):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        result = run(*args, stdout=full)
    assert result.returncode == 2
    assert errors(result) == ["qwenfeas: cannot write the output: No space left on device"]


@pytest.mark.parametrize("args", [["--version"], ["estimate", DEFAULT, "--format", "json"], ["estimate", "/dev/zero"]])
def test_the_exit_handling_keeps_start_up_lazy(args):
    """Exit-code handling (commands/exits.py) is on every path: it must not pull in numpy or rich."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write(f\"\\nLOADED {'numpy' in sys.modules} {'rich' in sys.modules}\\n\"))\n"
            f"sys.argv = ['qwenfeas', *{args!r}]\n"
            "from qwenfeas.cli import main\nmain()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stderr.splitlines()[-1] == "LOADED False False"


def test_a_frontier_table_shows_limit_rows_and_says_how_many_more():
    """A 3-axis grid has a frontier row per combination of the other two axes: 100 x 100 = 10,000 rows
    along tokens. The table shows --limit of them (it took 91 s to print them all); CSV gives every row."""
    args = ["sweep", DEFAULT, "-v", "hardware.count=8192..81920:10", "-v", "hardware.mfu=0.2..0.5:10",
            "-v", "tokens=10T..100T:log:10", "--frontier"]
    table = invoke(*args, "-n", "4")
    assert table.exit_code == 0, table.output
    assert " ".join(table.stdout.split()).count("4 of 100 rows") == 3
    rows = invoke(*args, "-f", "csv").stdout.splitlines()
    assert len(rows) == 1 + 3 * 100


# --- start-up: the entry point builds only the command it runs ------------------------------------

@pytest.mark.parametrize("args", [["estimate", "--help"], ["presets", "show", "--help"], ["presets", "--help"],
                                  ["sweep"], ["check", "--bogus"], ["--help"], ["estimat", DEFAULT], ["--version"],
                                  ["--version", "estimate", DEFAULT], ["--version", "--bogus"]],
                         ids=lambda a: " ".join(a)[:30])
def test_the_entry_point_prints_what_the_whole_app_prints(args):
    """main() hands typer only the invoked command (start-up time); help, usage errors and "did you
    mean" must read exactly as the whole app's (less the padding main() trims from piped help)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", "COLUMNS": "100",
           "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
    entry = run(*args, env=env)
    whole = CliRunner().invoke(app, args, env=env, prog_name="qwenfeas")
    trimmed = "\n".join(line.rstrip(" ") for line in whole.stdout.split("\n"))
    assert (entry.returncode, entry.stdout, entry.stderr) == (whole.exit_code, trimmed, whole.stderr)
    assert entry.stdout or entry.stderr


def test_the_entry_point_gives_typer_only_the_named_command():
    from qwenfeas.cli import _only_invoked_command

    only = _only_invoked_command(["qwenfeas", "estimate", DEFAULT])
    assert [c.callback.__name__ for c in only.registered_commands] == ["estimate"] and not only.registered_groups
    assert [g.name for g in _only_invoked_command(["qwenfeas", "presets"]).registered_groups] == ["presets"]
    assert _only_invoked_command(["qwenfeas", "--version"]).registered_commands == []
    assert _only_invoked_command(["qwenfeas", "--help"]) is app
    assert _only_invoked_command(["qwenfeas", "estimat"]) is app
    assert len(app.registered_commands) > 5  # the module's app itself is left whole
