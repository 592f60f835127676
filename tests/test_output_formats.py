"""One JSON writer and one CSV writer for every command (output/render.py: json_text, csv_text).

Each command's machine output goes through them, so a number, a missing value or a true/false is
written the same way by estimate, compare, sweep --frontier, serve, check and validate.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.output.render import csv_cell, csv_text, json_text

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def test_json_text_is_indented_with_a_final_newline_or_one_compact_line_per_item():
    assert json_text({"a": [1, 2.5]}) == '{\n  "a": [\n    1,\n    2.5\n  ]\n}\n'
    assert json_text([{"a": 1}, {"b": True}], lines=True) == '{"a": 1}\n{"b": true}\n'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_number_that_is_not_finite_is_null_never_invalid_json(bad):
    text = json_text({"x": bad, "nested": [{"y": bad}], "ok": 1.5})
    assert json.loads(text) == {"x": None, "nested": [{"y": None}], "ok": 1.5}
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(json_text([{"x": bad}], lines=True)) == {"x": None}


def test_csv_cells_are_written_one_way():
    assert [csv_cell(v) for v in (8.0, 2.5, 1e300, None, True, False, "a,b", 7)] == [
        "8", "2.5", "1e+300", "", "true", "false", "a,b", "7"]
    assert csv_text(["name", "x"], [["a,b", 0.1], ["c", None]]) == 'name,x\n"a,b",0.1\nc,\n'


def test_booleans_read_the_same_in_estimate_serve_and_sweep_csv():
    """estimate's CSV wrote Python's True/False where sweep and serve wrote true/false."""
    rows = list(csv.DictReader(io.StringIO(invoke("estimate", DEFAULT, "-f", "csv"))))
    flags = {k: v for k, v in rows[0].items() if v.lower() in ("true", "false")}
    assert flags and set(flags.values()) <= {"true", "false"}
    swept = list(csv.DictReader(io.StringIO(invoke("sweep", DEFAULT, "-v", "hardware.mfu=0.3,0.4", "-f", "csv"))))
    assert {row["feasible"] for row in swept} <= {"true", "false"}


def test_validate_writes_csv_with_the_fields_of_its_json():
    rows = json.loads(invoke("validate", "-f", "json"))
    table = list(csv.DictReader(io.StringIO(invoke("validate", "-f", "csv"))))
    assert len(table) == len(rows) > 0
    assert list(table[0]) == list(rows[0])
    for row, line in zip(rows, table, strict=True):
        assert line["case"] == row["case"] and line["source"] == row["source"]
        assert float(line["published"]) == row["published"] and float(line["error"]) == row["error"]
        assert line["passed"] == ("true" if row["passed"] else "false")
    # GPT-3 175B: Brown et al. 2020, Table D.1 gives 3.14E+23 FLOP of training compute
    gpt3 = next(line for line in table if line["case"] == "gpt3-175b-training-compute")
    assert float(gpt3["published"]) == 3.14e23


def test_compare_and_frontier_csv_parse_with_their_headers():
    compare = list(csv.reader(io.StringIO(invoke("compare", DEFAULT, "--set", "hardware.mfu=0.4", "--with",
                                                 "hardware.count=40960", "-f", "csv"))))
    assert compare[0][:2] == ["output", "unit"] and len({len(row) for row in compare}) == 1
    seconds = next(row for row in compare if row[0] == "training.seconds")
    # time = FLOPs / (count x peak x MFU): twice the 20,480 accelerators at a given MFU is half the time
    assert float(seconds[-1]) == pytest.approx(0.5, rel=1e-12)
    frontier = list(csv.reader(io.StringIO(invoke("sweep", DEFAULT, "-v", "hardware.count=8192..81920:4",
                                                  "--frontier", "-f", "csv"))))
    assert frontier[0][0] == "axis" and frontier[0][-3:] == ["min_feasible", "max_feasible", "feasible_points"]


def test_a_file_is_written_whole_or_left_as_it_was(tmp_path):
    """--junit, --plot-file, make golden and make readme write through atomic_file: a failure half-way
    leaves the old file and no temporary file; success replaces it and keeps its mode."""
    import os
    import stat

    from qwenfeas.output.render import atomic_file, write_atomically

    target = tmp_path / "report.xml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), atomic_file(str(target)) as stream:
        stream.write(b"half of the new")
        raise RuntimeError("the disk went away")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]
    write_atomically(str(target), "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]
