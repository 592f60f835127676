"""Run mutmut over some modules, then print the mutation score and every surviving mutant.

Usage (from the repository root, in the project's virtual environment; `make mutants` does this):

    python tests/mutants/score.py [--fail-under 95] [--max-children 2] [--keep] PATH [PATH ...]

PATH is a module (qwenfeas/formulas/communication.py) or a package folder (qwenfeas/formulas).
Mutants listed in tests/mutants/equivalent.md (the same behaviour as the original, with the reason)
are left out of the score. mutmut itself is configured in pyproject.toml, [tool.mutmut]: what it
may mutate, the files its copy of the repository needs, and how pytest runs.

Strings with a space or a brace in them are not mutated: in these modules they are prose (a
metric's label, the formula text --explain shows, a note), checked by the CLI and --explain tests,
and "XXwall-clock timeXX" changes no number. Keys, conventions and units ("training.sequence",
"causal", "FLOP") are still mutated.

The score is killed / (all - equivalent): a mutant survives when every test that calls the mutated
function still passes, and counts against the score when no test calls it ("no tests") or when
its tests misbehave ("suspicious"). Timeouts count as killed, as mutmut counts them.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.md")
WORK = ROOT / "mutants"  # mutmut's copy of the repository, its results beside each file (*.meta)

# mutmut's exit codes (mutmut/stats.py, status_by_exit_code); anything else is "suspicious".
KILLED = {1, 3, 24, -24, 36, 152, 255, 37}  # failed tests, pytest internal error, timeouts, type check
SURVIVED, NO_TESTS, SKIPPED = {0}, {5, 33}, {34}
# One equivalence: - `module.function`: `original code` → `mutated code`: why they behave the same
ENTRY = re.compile(r"^- `(?P<function>[\w.]+)`: `(?P<before>[^`]+)` → `(?P<after>[^`]+)`\s*:\s*(?P<reason>\S.*)$")


def mutant_pattern(path: str) -> str:
    """The mutmut name glob of every mutant in a module or package path."""
    relative = Path(path).resolve().relative_to(ROOT)
    dotted = ".".join(relative.with_suffix("").parts if relative.suffix == ".py" else relative.parts)
    return dotted + ".*"


def function_of(mutant: str) -> str:
    """qwenfeas.formulas.flops.x_ring_factor__mutmut_3 -> qwenfeas.formulas.flops.ring_factor
    (methods: module.xǁClassǁmethod__mutmut_3 -> module.Class.method)."""
    module, _, name = mutant.rpartition(".")
    name = re.sub(r"__mutmut_\d+$", "", name)
    if name.startswith("xǁ"):  # a method: xǁClassǁmethod
        return f"{module}.{'.'.join(part for part in name[2:].split('ǁ') if part)}"
    return f"{module}.{name.removeprefix('x_')}"


def equivalents() -> dict[tuple[str, str, str], str]:
    """The listed equivalent mutants: (function, code before, code after) -> reason."""
    found = {}
    for number, line in enumerate(EQUIVALENT.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("- `"):
            match = ENTRY.match(line)
            if not match:
                sys.exit(f"{EQUIVALENT.relative_to(ROOT)}:{number}: cannot read this entry; write "
                         "- `module.function`: `before` → `after`: reason")
            found[match["function"], match["before"].strip(), match["after"].strip()] = match["reason"]
    return found


def change(diff: str) -> tuple[str, str]:
    """The code a mutant removes and adds, each joined to one line."""
    lines = diff.splitlines()
    before = " ".join(line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---"))
    after = " ".join(line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++"))
    return before, after


def diff_of(mutant: str, source: Path) -> str:
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
        return get_diff_for_mutant(mutant, path=source)
    except Exception:  # another mutmut version: ask its command line
        shown = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], capture_output=True, text=True)
        return shown.stdout.partition("\n")[2]


def mutmut_without_prose_mutants() -> None:
    """mutmut's command line, with string mutants only for strings that are not prose (see above)."""
    from mutmut.__main__ import cli
    from mutmut.configuration import config
    from mutmut.mutation import mutators

    # generate mutants only in the modules asked for: libcst takes seconds per module
    config().only_mutate = os.environ["QWENFEAS_MUTATE"].split(os.pathsep)

    def operator_string(node):
        value = node.evaluated_value if hasattr(node, "evaluated_value") else ""
        if isinstance(value, str) and any(c.isspace() or c in "{}" for c in value):
            return
        yield from mutators.operator_string(node)

    operators = mutators.mutation_operators  # file_mutation holds this same list: change it in place
    operators[:] = [(kind, operator_string if op is mutators.operator_string else op) for kind, op in operators]
    sys.argv = ["mutmut", *sys.argv[2:]]
    cli()


def run_mutmut(patterns: list[str], files: list[str], max_children: int) -> float:
    """Run mutmut, showing its progress line now and then; returns the seconds it took."""
    command = [sys.executable, __file__, "--mutmut", "run", "--max-children", str(max_children), *patterns]
    print("$ mutmut", " ".join(command[3:]), flush=True)
    started = time.monotonic()
    log = []
    env = {**os.environ, "QWENFEAS_MUTATE": os.pathsep.join(files)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=env) as proc:
        last_print, status = 0.0, ""
        buffer = b""
        while chunk := proc.stdout.read1(4096):
            buffer += chunk
            *parts, buffer = re.split(rb"[\r\n]", buffer)
            for part in parts:
                text = part.decode("utf-8", "replace").strip()
                if text:
                    log.append(text)
                    status = text
            if time.monotonic() - last_print > 30 and status:
                print(f"  [{time.monotonic() - started:4.0f} s] {status}", flush=True)
                last_print = time.monotonic()
    seconds = time.monotonic() - started
    WORK.mkdir(exist_ok=True)
    (WORK / "run.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    if proc.returncode != 0:
        print("\n".join(log[-40:]))
        sys.exit(f"mutmut failed (exit {proc.returncode}); its output is in {WORK / 'run.log'}")
    return seconds


def results(patterns: list[str]) -> dict[str, tuple[int | None, Path]]:
    """Each mutant matching a pattern: (mutmut exit code, source file)."""
    found = {}
    for meta in WORK.rglob("*.py.meta"):
        source = Path(str(meta.relative_to(WORK))[: -len(".meta")])
        for mutant, code in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(mutant, pattern) for pattern in patterns):
                found[mutant] = (code, source)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("paths", nargs="+", help="modules or package folders to mutate")
    parser.add_argument("--fail-under", type=float, default=95.0, help="exit 1 below this score (percent)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the results of the last run for functions that did not change")
    args = parser.parse_args()

    os.chdir(ROOT)
    patterns = [mutant_pattern(path) for path in args.paths]
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    files = [_glob_of(path) for path in args.paths]
    seconds = run_mutmut(patterns, files, args.max_children)

    listed = equivalents()
    used = set()
    mutants = results(patterns)
    by_module: dict[str, Counter] = {}
    survivors = []
    for mutant, (code, source) in sorted(mutants.items()):
        counts = by_module.setdefault(str(source), Counter())
        if code in KILLED:
            counts["killed"] += 1
            continue
        if code in SKIPPED:
            counts["skipped"] += 1
            continue
        diff = diff_of(mutant, source)
        key = (function_of(mutant), *change(diff))
        if key in listed:
            used.add(key)
            counts["equivalent"] += 1
            continue
        status = "survived" if code in SURVIVED else "no tests" if code in NO_TESTS else \
            "not run" if code is None else f"suspicious (exit {code})"
        counts["not killed"] += 1
        survivors.append((mutant, status, diff))

    for mutant, status, diff in survivors:
        print(f"\n# {mutant}: {status}\n{diff}")
    print(f"\n{'module':<48} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'alive':>6} {'score':>7}")
    total = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(_row(module, counts))
    print(_row("all", total))
    stale = sorted(key for key in set(listed) - used if any(fnmatch.fnmatchcase(key[0], p) for p in patterns))
    for function, before, after in stale:
        print(f"note: {EQUIVALENT.name} lists `{function}`: `{before}` → `{after}`, which no mutant of this run made")
    score = _score(total)
    print(f"\nmutation score {score:.1f}% ({total['killed']} killed of {_scored(total)}; "
          f"{total['equivalent']} equivalent left out) in {seconds:.0f} s with {args.max_children} workers")
    return 0 if score >= args.fail_under else 1


def _glob_of(path: str) -> str:
    """mutmut's only_mutate pattern for a module or a package folder."""
    relative = Path(path).resolve().relative_to(ROOT).as_posix()
    return relative if relative.endswith(".py") else relative + "/*"


def _scored(counts: Counter) -> int:
    return counts["killed"] + counts["not killed"]


def _score(counts: Counter) -> float:
    return 100.0 * counts["killed"] / _scored(counts) if _scored(counts) else 100.0


def _row(name: str, counts: Counter) -> str:
    every = sum(counts.values())
    return (f"{name:<48} {every:>8} {counts['killed']:>7} {counts['equivalent']:>7} {counts['not killed']:>6} "
            f"{_score(counts):>6.1f}%")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--mutmut"]:
        mutmut_without_prose_mutants()
    sys.exit(main())
