"""Regenerate every command output shown in README.md (`make readme`), or report drift (the tests).

Two kinds of regenerated text:

* a ```text fence whose first line is `$ COMMAND`: the command is run from the repository root
  through the shell, exactly as written (pipes included), with the installed `qwenfeas` first on
  PATH, 80 columns and no colour, and the block's body becomes its output. Standard error is shown
  only when the command itself says `2>&1`;
* a region between `<!-- make readme: NAME -->` and `<!-- end make readme -->`: a Markdown table
  made from the program's own results (NAME `validate`: every validation case; NAME `scorecard`: the
  cases of tests/scorecard/; NAME `configs`: the bundled scenarios, whose first two columns, file and
  question, are kept as written).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `make readme` runs this file directly: import the checkout's qwenfeas
README = ROOT / "README.md"
BLOCK = re.compile(r"^```text\n\$ (?P<command>[^\n]+)\n(?P<body>.*?)^```$", re.M | re.S)
REGION = re.compile(r"^<!-- make readme: (?P<name>\w+) -->\n(?P<body>.*?)^<!-- end make readme -->$", re.M | re.S)


def output_of(command: str) -> str:
    """What `command` prints on an 80-column pipe, as a reader would see it."""
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
           "NO_COLOR": "1", "COLUMNS": "80", "LC_ALL": "C.UTF-8", "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode not in (0, 1, 2) or (result.returncode == 2 and "2>&1" not in command):
        raise SystemExit(f"README command failed ({result.returncode}): {command}\n{result.stderr}")
    return result.stdout


def validation_table(_: str) -> str:
    """`qwenfeas validate`: every case, its published value, qwenfeas's error and the source."""
    from qwenfeas.commands import validation

    results = validation.run(None)
    failed = sum(not r.passed for r in results)
    lines = [f"`qwenfeas validate` reruns {len(results)} cases from `qwenfeas/commands/validation_cases.yaml`. "
             "Each gives the inputs its source states, the published value, a tolerance and the citation. "
             + ("All of them pass:" if not failed else f"{failed} of them fail:"), ""]
    return "\n".join(lines + _result_rows(results)) + "\n"


def _result_rows(results, miss: str = "fails") -> list[str]:
    """A Markdown table of validation results: case, published, qwenfeas, error against tolerance, source."""
    from qwenfeas.scenario.units import format_quantity

    lines = ["| case | published | qwenfeas | error (tolerance) | source |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        error = f"{r.error:+.2%} (±{r.tolerance:.1%})".replace("-", "−")
        lines.append(f"| `{r.case}` | {format_quantity(r.published, r.unit)} | {format_quantity(r.computed, r.unit)} "
                     f"| {error}{'' if r.passed else f' **{miss}**'} | {r.source.replace('|', '/')} |")
    return lines


def scorecard_table(_: str) -> str:
    """`make score`: the scorecard's cases (tests/scorecard/cases.yaml) and how many are within tolerance."""
    from qwenfeas.commands import validation

    results = validation.run(None, ROOT / "tests" / "scorecard" / "cases.yaml")
    within = sum(r.passed for r in results)
    return "\n".join(_result_rows(results, "outside") + ["", f"{within} of {len(results)} within tolerance."]) + "\n"


# The headline of a bundled scenario: the first three of these it computes, in this order.
_HEADLINE = (("training.seconds", "s"), ("test_time.seconds", "s"), ("inference.prefill_seconds", "s"),
             ("power.facility_watts", "W"), ("training.cost_usd", "USD"), ("test_time.cost_usd", "USD"),
             ("kv_cache.bytes_per_sequence", "B"), ("memory.min_accelerators", "count"))


def configs_table(body: str) -> str:
    """The bundled scenarios: file and question as written, then what qwenfeas says about each now."""
    from qwenfeas.errors import QwenfeasError
    from qwenfeas.estimates import estimate
    from qwenfeas.output.render import binding_label
    from qwenfeas.scenario.load import load
    from qwenfeas.scenario.units import format_quantity
    from qwenfeas.verdict import judge

    lines = ["| file | what it asks | what qwenfeas says (`qwenfeas estimate`, `qwenfeas check`) |", "| --- | --- | --- |"]
    for row in body.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        figures = []
        for name in re.findall(r"`([^`]+\.yaml)`", cells[0]):
            try:
                report = estimate(load(ROOT / "configs" / name))
            except QwenfeasError as error:
                raise SystemExit(f"README.md's scenario table names configs/{name}:\n{error}") from None
            verdict = judge(report)
            shown = [f"`{output}` {format_quantity(report[output], unit)}"
                     for output, unit in _HEADLINE if output in report.metrics][:3]
            binding = f" ({binding_label(verdict.binding)})" if verdict.binding else ""
            figures.append(f"{'feasible' if verdict.feasible else 'infeasible'}{binding}: " + ", ".join(shown))
        lines.append(f"| {cells[0]} | {cells[1]} | {'; '.join(figures).replace('|', '/')} |")
    return "\n".join(lines) + "\n"


REGIONS = {"validate": validation_table, "scorecard": scorecard_table, "configs": configs_table}


def regenerate(text: str) -> str:
    """The README with every `$ COMMAND` block's output and every generated region made afresh."""
    text = BLOCK.sub(lambda m: f"```text\n$ {m['command']}\n{output_of(m['command'])}```", text)
    return REGION.sub(lambda m: f"<!-- make readme: {m['name']} -->\n{REGIONS[m['name']](m['body'])}"
                      "<!-- end make readme -->", text)


def commands(text: str) -> list[str]:
    """The commands and generated regions the README shows."""
    return [m["command"] for m in BLOCK.finditer(text)] + [m["name"] for m in REGION.finditer(text)]


if __name__ == "__main__":
    from qwenfeas.output.render import write_atomically

    write_atomically(str(README), regenerate(README.read_text(encoding="utf-8")))  # whole, or not at all
    print(f"README.md: regenerated the output of {len(commands(README.read_text(encoding='utf-8')))} commands")
