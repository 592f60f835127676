"""Human output at 80 and 120 columns: nothing over the width, no trailing padding, no name ever broken.

Each command is run as a user would, piped (COLUMNS gives the width) and through a pseudo-terminal
(the terminal gives it). The checks do not depend on today's numbers or on how many rows there are:
they take the names that must appear whole from the program's own listings (the JSON outputs) and
look for each of them, whole, in the human output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from terminal import on_a_terminal

from qwenfeas.output.layout import Column, table, wrap_items, wrap_prose

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")
SERVING = str(ROOT / "configs" / "qwen3-235b-serving-128k.yaml")
WIDTHS = (80, 120)


def piped(width: int, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", "COLUMNS": str(width)}
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)


def in_terminal(width: int, *args: str, stream: str = "stdout") -> str:
    """stdout (or stderr) of the command run on a pseudo-terminal of `width` columns (COLUMNS unset)."""
    text = on_a_terminal(args, {"NO_COLOR": "1", "TERM": "xterm"}, width, stream).replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)  # bold and dim stay on (NO_COLOR drops colour only)


def assert_fits(text: str, width: int) -> list[str]:
    lines = text.splitlines()
    assert lines, "no output"
    for line in lines:
        assert cell_len(line) <= width, f"over {width} columns: {line!r}"
        assert line == line.rstrip(), f"trailing padding: {line!r}"
    return lines


def words(text: str) -> set[str]:
    """Every whitespace-separated token, and the same without brackets, quotes and commas around it."""
    tokens = set(text.split())
    return tokens | {t.strip("()[]\"',:;") for t in tokens}


def listed(*args: str):
    result = piped(200, *args, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("width", WIDTHS)
def test_estimate_shows_every_output_name_whole(width):
    names = [f"{section}.{key}" for section, values in listed("estimate", DEFAULT).items()
             if isinstance(values, dict) for key in values]
    for text in (piped(width, "estimate", DEFAULT, "--explain").stdout,
                 in_terminal(width, "estimate", DEFAULT, "--explain")):
        assert_fits(text, width)
        missing = [n for n in names if n not in words(text)]
        assert not missing, missing


@pytest.mark.parametrize("width", WIDTHS)
def test_explain_formulas_wrap_under_their_equals_sign(width):
    text = piped(width, "estimate", DEFAULT, "--explain").stdout
    lines = assert_fits(text, width)
    start = next(i for i, line in enumerate(lines) if line.startswith("  model.params = "))
    indent = len("  model.params = ")
    following = lines[start + 1]
    assert following.startswith(" " * (indent - 2)) and following.strip(), following  # not back at column 0


@pytest.mark.parametrize("width", WIDTHS)
def test_roadmap_reads_at_this_width(width):
    targets = listed("roadmap")["targets"]
    for text in (piped(width, "roadmap").stdout, in_terminal(width, "roadmap")):
        assert_fits(text, width)
        found = words(text)
        for target in targets:
            assert target["name"] in found, target["name"]  # every scenario, whole
            if target["binding"]:
                assert target["binding"] in text or target["rule"] in text
        assert "…" not in text


def test_roadmap_wide_keeps_one_row_per_scenario():
    text = piped(80, "roadmap", "--wide").stdout
    targets = listed("roadmap")["targets"]
    for target in targets:
        row = next(line for line in text.splitlines() if line.startswith(target["name"] + " "))
        assert ("ok" if target["feasible"] else "fails") in row


@pytest.mark.parametrize("width", WIDTHS)
def test_presets_and_validate_never_split_a_name(width):
    names = [row["name"] for rows in listed("presets").values() for row in rows]
    cases = [(row["case"], row["metric"]) for row in listed("validate")]
    for text in (piped(width, "presets").stdout, in_terminal(width, "presets")):
        assert_fits(text, width)
        assert not [n for n in names if n not in words(text)]
    for text in (piped(width, "validate").stdout, in_terminal(width, "validate")):
        assert_fits(text, width)
        assert not [c for case in cases for c in case if c not in words(text)]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("columns", [None, "all", "training.seconds,kv_cache.bytes_per_sequence,"
                                     "communication.fraction_of_compute,training_memory.total_bytes"])
def test_sweep_headers_are_whole_or_in_a_key(width, columns):
    args = ["sweep", DEFAULT, "-v", "hardware.count=8192,16384", "-v", "hardware.mfu=0.3,0.4"]
    if columns:
        args += ["-c", columns]
    result = piped(width, *args)
    assert result.returncode == 0, result.stderr
    lines = assert_fits(result.stdout, width)
    names = json.loads(piped(200, *args, "-f", "jsonl").stdout.splitlines()[0])
    found = words(result.stdout)
    assert not [n for n in names if n not in found]  # every column name, whole, in a header or the key
    assert all("…" not in line for line in lines)
    for line in lines:  # no zero-width column: every header cell has text
        if set(line.strip()) <= {"─", " "} and line.strip():
            assert all(part for part in line.split("  ") if part != "")


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_names_scenarios_whole(width):
    args = ["compare", DEFAULT, "--with", "hardware.preset=b200", "--with", "precision.compute=fp8"]
    data = listed(*args)
    text = piped(width, *args).stdout
    assert_fits(text, width)
    for scenario in data["scenarios"]:
        assert scenario["name"] in text.replace("\n", " ") or all(
            part in words(text) for part in scenario["name"].split())
    assert not [name for name in data["outputs"] if name not in words(text)]


@pytest.mark.parametrize("width", WIDTHS)
def test_check_and_frontier_tables_fit(width):
    assert_fits(piped(width, "check", "configs/").stdout, width)
    frontier = piped(width, "sweep", SERVING, "-v", "context=32K..10M:log:6", "-v", "hardware.preset=h200,b200",
                     "--frontier")
    assert_fits(frontier.stdout, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_serve_frontier_fits(width):
    published = ROOT / "configs" / "published"
    plans = [p for p in sorted(published.glob("*.yaml")) if "latency" in p.stem or "throughput" in p.stem]
    if not plans:
        pytest.skip("no published serving scenario bundled")
    for text in (piped(width, "serve", str(plans[0])).stdout, in_terminal(width, "serve", str(plans[0]))):
        lines = assert_fits(text, width)
        assert "TTFT" in words(text) and "TPOT" in words(text)  # headers whole (or numbered, with a key)
        assert len(lines) > 3


def unwrapped(text: str) -> list[str]:
    """The messages of wrapped stderr text, one string each: continuation lines start with spaces."""
    messages: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and messages:
            messages[-1] += " " + line.strip()
        else:
            messages.append(line)
    return messages


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("args", [["estimate", "configs/roadmap/context-100m-gqa.yaml", "-f", "json"],
                                  ["sweep", SERVING, "-v", "context=32K,1M,10M", "-f", "csv"],
                                  ["compare", "configs/roadmap/context-100m-gqa.yaml", "--with", "hardware.mfu=0.3"]],
                         ids=["estimate", "sweep", "compare"])
def test_warnings_and_notes_wrap_at_the_width_and_keep_every_word(width, args):
    """Warnings and notes on stderr wrap like the tables (at spaces, two-space continuation), piped at
    COLUMNS and on a terminal of that width; unwrapped, they are the very messages printed at 1,000 columns."""
    whole = piped(1000, *args).stderr.splitlines()
    assert whole and all(line.startswith(("warning: ", "note: ")) for line in whole)
    assert max(cell_len(line) for line in whole) > width  # the check has something to wrap
    for text in (piped(width, *args).stderr, in_terminal(width, *args, stream="stderr")):
        assert_fits(text, width)
        assert unwrapped(text) == whole


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["b200", "deepseek-v3", "glm-4.5", "us"])
def test_presets_show_folds_the_yaml_to_the_width_and_it_still_loads_as_the_preset(width, name):
    """`presets show` printed preset files verbatim, up to 156 columns; folded, the YAML loads to
    the same data as the file (`--format yaml` prints the file as it is)."""
    import yaml

    exact = piped(width, "presets", "show", name, "--format", "yaml").stdout
    assert max(cell_len(line) for line in exact.splitlines()) > 80  # something to fold
    for text in (piped(width, "presets", "show", name).stdout, in_terminal(width, "presets", "show", name)):
        assert_fits(text, width)
        assert yaml.safe_load(text) == yaml.safe_load(exact)
        assert words(text) >= {w for w in words(exact) if cell_len(w) <= width and w != "#"}


def test_fold_yaml_keeps_every_bundled_preset_the_same_data():
    import yaml

    from qwenfeas.output.prose import fold_yaml

    for path in sorted((ROOT / "qwenfeas" / "presets").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for width in (40, 80, 120):
            folded = fold_yaml(text, width)
            assert yaml.safe_load(folded) == yaml.safe_load(text), (path.name, width)
            long_words = [line for line in folded.splitlines() if cell_len(line) > width and len(line.split()) > 2]
            assert not long_words, (path.name, width, long_words)


def test_piped_output_without_columns_is_80_wide():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1"}
    text = subprocess.run([sys.executable, "-m", "qwenfeas", "presets"], capture_output=True, text=True, env=env,
                          cwd=ROOT).stdout
    assert_fits(text, 80)
    assert max(cell_len(line) for line in text.splitlines()) > 60  # it uses the width it has


# The layout rules themselves, on made-up tables.

def test_a_table_that_fits_keeps_its_headers():
    lines = table([Column("name"), Column("value", "right")], [["a", "1"], ["bb", "22"]], 80)
    assert [line.plain for line in lines] == ["name  value", "────  ─────", "a         1", "bb       22"]


def test_long_headers_move_to_a_key_before_any_column_is_split():
    columns = [Column("a_very_long_output.name_here", "right"), Column("another.long_name_of_an_output", "right")]
    lines = [line.plain for line in table(columns, [["1", "2"]], 20)]
    assert lines[0].split() == ["[1]", "[2]"]
    assert "[1] a_very_long_output.name_here" in lines and "[2] another.long_name_of_an_output" in lines


def test_too_many_columns_split_into_blocks_that_repeat_the_first():
    columns = [Column("axis")] + [Column(f"c{i}", "right") for i in range(30)]
    lines = [line.plain for line in table(columns, [["x"] + ["123456"] * 30], 40)]
    assert all(len(line) <= 40 for line in lines)
    assert sum(line.startswith("axis") for line in lines) > 1
    assert all(f"c{i}" in " ".join(lines).split() for i in range(30))


def test_prose_wraps_at_spaces_and_never_splits_a_word():
    lines = table([Column("name"), Column("source", wrap=True)],
                  [["h200", "NVIDIA H200 datasheet https://example.invalid/a/very/long/url/that/stays/whole ok"]], 40)
    text = "\n".join(line.plain for line in lines)
    assert "https://example.invalid/a/very/long/url/that/stays/whole" in text
    assert wrap_prose("one two three", 8, "  ") == ["  one", "  two", "  three"]
    assert wrap_items(["a b", "c d", "e f"], 12, "") == ["a b · c d", "e f"]
