"""Write the JSON and CSV output of every bundled scenario into tests/golden/ (`make golden`).

These snapshots guard against *unintended* output changes (a refactoring must leave them
byte-identical). They check stability, not correctness: the values themselves are checked by
hand-computed tests elsewhere. After a deliberate change to the numbers or the output, rerun
`make golden` and say so in the commit message, so the diff of the snapshots shows what moved.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
FORMATS = ("json", "csv")


def scenarios() -> list[Path]:
    """Every bundled scenario, relative to the repository."""
    return sorted(p.relative_to(ROOT) for p in (ROOT / "configs").rglob("*.yaml"))


def snapshot_path(scenario: Path, output_format: str) -> Path:
    return GOLDEN / f"{scenario.with_suffix('').as_posix().replace('/', '__')}.{output_format}"


def render(scenario: Path, output_format: str) -> str:
    """`qwenfeas estimate SCENARIO --format FORMAT`'s stdout, run from the repository root."""
    import os

    from qwenfeas.cli import app

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, ["estimate", scenario.as_posix(), "--format", output_format],
                                    env={"NO_COLOR": "1", "COLUMNS": "160"})
    finally:
        os.chdir(here)
    if result.exit_code != 0:
        raise RuntimeError(f"qwenfeas estimate {scenario} exited {result.exit_code}: {result.output}")
    return result.stdout


def main() -> None:
    """Render every snapshot first, then write each whole (atomic rename) and drop stale ones: a run
    that fails part-way leaves the snapshots as they were, never half of them new."""
    from qwenfeas.output.render import write_atomically

    snapshots = {snapshot_path(scenario, output_format): render(scenario, output_format)
                 for scenario in scenarios() for output_format in FORMATS}
    for path, text in snapshots.items():
        write_atomically(str(path), text)
    for old in GOLDEN.glob("*__*.*"):
        if old.suffix.lstrip(".") in FORMATS and old not in snapshots:
            old.unlink()
    sys.stdout.write(f"wrote {len(snapshots)} snapshots to {GOLDEN.relative_to(ROOT)}/\n")


if __name__ == "__main__":
    main()
