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
_HINT = "each case gives id, scenario (or file), metric, published, tolerance, source"


def cases(path: Path | None = None) -> list[dict]:
    """The case definitions, as plain data (from CASES_FILE unless a path is given).

    A cases file that cannot be read, is not YAML, or has a case with a missing or mistyped key is
    a QwenfeasError naming the file, the line and the key of every such mistake.
    """
    import yaml

    from ..errors import Problem, QwenfeasError
    from ..scenario.load import read_file
    from ..scenario.source import load_text

    label = str(path or CASES_FILE)
    text = read_file(path or CASES_FILE)
    not_a_list = QwenfeasError("a cases file is a YAML list of cases", file=label, line=1,
                               hint="see qwenfeas/commands/validation_cases.yaml for the format")
    if not any(line.strip() and not line.lstrip().startswith(("#", "---")) for line in text.splitlines()):
        raise not_a_list
    root = load_text(text, label)  # located, and bounded: size, depth, aliases, duplicate keys
    every = yaml.safe_load(text)
    if not isinstance(every, list):
        raise not_a_list
    problems, seen = [], {}
    for number, (case, node) in enumerate(zip(every, root.value, strict=True), 1):
        if not isinstance(case, dict):
            problems.append(Problem(f"case {number} is not a mapping of keys", label, node.line, None, _HINT))
            continue
        missing = [key for key in _KEYS if key not in case]
        if missing or not ("scenario" in case or "file" in case):
            problems.append(Problem(f"case {number} lacks {', '.join(missing) or 'scenario or file'}", label,
                                    node.line, None, _HINT))
            continue
        for key, wrong in _mistyped(case):
            problems.append(Problem(f"case {case['id']!s}: {wrong}", label, node.key_lines.get(key, node.line), key,
                                    _HINT if key != "published" else "the published figure, in the metric's base unit"))
        if isinstance(case["id"], str) and case["id"] in seen:
            problems.append(Problem(f"case {case['id']} is also on line {seen[case['id']]}", label,
                                    node.key_lines.get("id", node.line), "id", "give each case its own id"))
        seen.setdefault(str(case["id"]), node.key_lines.get("id", node.line))
    if problems:
        raise QwenfeasError(problems=problems)
    return every


def _mistyped(case: dict):
    """(key, what is wrong) for each value of a case that cannot be used."""
    import math

    for key in ("id", "metric", "source", "scenario", "file"):
        if key in case and (not isinstance(case[key], str) or not case[key].strip()):
            yield key, "must be text"
    for key, least in (("published", "greater than 0"), ("tolerance", "0 or more")):
        value = case[key]
        try:  # PyYAML reads 671e+9 (no dot) as text: a number all the same
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0 or (key == "published" and number == 0):
            yield key, f"must be a number {least}, not {value!r}"


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
