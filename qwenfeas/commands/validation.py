"""Published figures that qwenfeas must reproduce: the cases behind `qwenfeas validate`.

Each case in validation_cases.yaml is a scenario (the inputs its source states),
the output name to compare, the published value, a relative tolerance and the
citation. Cases run through the same loader and estimator as `qwenfeas estimate`.
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


def cases(path: Path | None = None) -> list[dict]:
    """The case definitions, as plain data (from CASES_FILE unless a path is given)."""
    import yaml

    return yaml.safe_load((path or CASES_FILE).read_text(encoding="utf-8"))


def run(selected: list[str] | None = None, path: Path | None = None) -> list[Result]:
    """Evaluate the cases (all, or those named) and compare each with its published value."""
    from ..errors import QwenfeasError, did_you_mean
    from ..estimates import estimate
    from ..scenario.load import loads

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
        report = estimate(loads(case["scenario"], f"validation case {case['id']}"))
        metric = report.metrics[case["metric"]]
        results.append(Result(case["id"], case["metric"], metric.unit, float(case["published"]), float(metric.value),
                              float(case["tolerance"]), case["source"]))
    return results
