"""Print branch coverage per group of modules from the combined .coverage file; exit 1 below the bar.

`make coverage` runs the suite under pytest-cov (CLI subprocesses included, see
[tool.coverage.run] in pyproject.toml), then this. The groups are the ones issue 16 holds to 95%:
the numeric wings, the scenario loader and the verdict. Everything else is printed for information.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]

GROUPS = {
    "numeric wings": ["qwenfeas/formulas/*", "qwenfeas/training/*", "qwenfeas/serving/*", "qwenfeas/accounting.py"],
    "scenario loader": ["qwenfeas/scenario/load.py", "qwenfeas/scenario/files.py", "qwenfeas/scenario/defaults.py",
                        "qwenfeas/scenario/source.py", "qwenfeas/scenario/units.py"],
    "verdict": ["qwenfeas/verdict.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--fail-under", type=float, default=95.0)
    args = parser.parse_args()
    cov = coverage.Coverage(data_file=str(ROOT / ".coverage"), config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    failed = []
    totals = {}
    for name, include in GROUPS.items():
        print(f"\n== {name}")
        totals[name] = cov.report(include=[str(ROOT / pattern) for pattern in include], skip_covered=True,
                                  show_missing=True)
    print("\n== whole package (for information)")
    whole = cov.report(skip_covered=True, show_missing=False)
    print()
    for name, percent in totals.items():
        mark = "ok" if percent >= args.fail_under else f"below {args.fail_under:g}%"
        print(f"{name:<16} {percent:6.2f}% branch coverage  {mark}")
        if percent < args.fail_under:
            failed.append(name)
    print(f"{'whole package':<16} {whole:6.2f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
