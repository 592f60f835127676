"""Every bundled scenario's JSON and CSV output equals its snapshot in tests/golden/.

A refactoring (such as the move into wings) must leave these byte-identical. A deliberate change
of numbers or output regenerates them with `make golden`; the snapshots' diff then shows what moved.
"""

from __future__ import annotations

import pytest

from tests.golden.regenerate import FORMATS, render, scenarios, snapshot_path


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("scenario", scenarios(), ids=lambda p: p.as_posix())
def test_output_matches_its_snapshot(scenario, output_format):
    expected = snapshot_path(scenario, output_format)
    assert expected.exists(), f"no snapshot for {scenario}: run `make golden`"
    assert render(scenario, output_format) == expected.read_text(encoding="utf-8"), (
        f"{scenario} --format {output_format} changed; if on purpose, run `make golden`")


def test_every_snapshot_has_its_scenario():
    """A snapshot whose scenario was removed or renamed is stale."""
    wanted = {snapshot_path(s, f) for s in scenarios() for f in FORMATS}
    found = {p for p in snapshot_path(scenarios()[0], "json").parent.iterdir() if p.suffix in (".json", ".csv")}
    assert found == wanted
