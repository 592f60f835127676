"""Published figures that qwenfeas must reproduce: the cases behind `qwenfeas validate`.

Each case in validation_cases.yaml is a scenario (the inputs its source states),
the output name to compare, the published value, a relative tolerance and the
citation. Cases run through the same loader and estimator as `qwenfeas estimate`.
Another cases file (`qwenfeas validate --cases FILE`, e.g. the scorecard in
tests/scorecard/cases.yaml) may give each scenario as `file:`, a path relative to
the cases file, instead of inline `scenario:` text.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

CASES_FILE = Path(__file__).with_name("validation_cases.yaml")


class Result(NamedTuple):
    """One case, its published value, qwenfeas's value and whether they agree."""

    case: str
    metric: str
    unit: str
    published: float
    computed: float
    tolerance: float
    source: str

    @property
    def error(self) -> float:
        return self.computed / self.published - 1

    @property
    def passed(self) -> bool:
        return abs(self.error) <= self.tolerance


_KEYS = ("id", "metric", "published", "tolerance", "source")


def cases(path: Path | None = None) -> list[dict]:
    """The case definitions, as plain data (from CASES_FILE unless a path is given).

    A cases file that cannot be read, is not YAML, or lacks a key is a QwenfeasError naming it.
    """
    import yaml

    from ..errors import QwenfeasError
    from ..scenario.load import read_file

    label = str(path or CASES_FILE)
    try:
        every = yaml.safe_load(read_file(path or CASES_FILE))
    except yaml.YAMLError as exc:
        raise QwenfeasError(f"is not valid YAML ({exc})", file=label) from None
    if not isinstance(every, list):
        raise QwenfeasError("a cases file is a YAML list of cases", file=label,
                            hint="see qwenfeas/commands/validation_cases.yaml for the format")
    for number, case in enumerate(every, 1):
        missing = [key for key in _KEYS if not isinstance(case, dict) or key not in case]
        if missing or not ("scenario" in case or "file" in case):
            raise QwenfeasError(f"case {number} lacks {', '.join(missing) or 'scenario or file'}", file=label,
                                hint="each case gives id, scenario (or file), metric, published, tolerance, source")
    return every


def run(selected: list[str] | None = None, path: Path | None = None) -> list[Result]:
    """Evaluate the cases (all, or those named) and compare each with its published value."""
    from ..errors import QwenfeasError, did_you_mean
    from ..estimates import estimate
    from ..scenario.load import load, loads

    every = cases(path)
    names = [case["id"] for case in every]
    for name in selected or []:
        if name not in names:
            raise QwenfeasError(f"no validation case is called {name!r}", key="--case",
                                hint=did_you_mean(name, names) or "list them with: qwenfeas validate")
    results = []
    for case in every:
        if selected and case["id"] not in selected:
            continue
        if "file" in case:
            scenario = load((path or CASES_FILE).parent / case["file"])
        else:
            scenario = loads(case["scenario"], f"validation case {case['id']}")
        report = estimate(scenario)
        if case["metric"] not in report.metrics:
            raise QwenfeasError(f"case {case['id']} compares {case['metric']!r}, which its scenario does not compute",
                                file=str(path or CASES_FILE), key="metric",
                                hint=did_you_mean(case["metric"], list(report.metrics)))
        metric = report.metrics[case["metric"]]
        results.append(Result(case["id"], case["metric"], metric.unit, float(case["published"]), float(metric.value),
                              float(case["tolerance"]), case["source"]))
    return results
