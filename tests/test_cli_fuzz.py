"""A bounded fuzzer of the whole command line: file contents, paths, options and grid sizes.

Whatever it throws, the contract must hold (issue 15): exit 0, 1 or 2 only (never 70), no
traceback, no "internal error", and no special file (FIFO, symbolic link, /dev/null) replaced
by a regular file. Cases come from a fixed seed, so a failure reproduces; each case names its
arguments in the assertion message. Nothing is timed: a per-case alarm exists only so that a
hang fails the test instead of stalling the suite.

Run `python tests/test_cli_fuzz.py [CASES] [SEED]` to fuzz longer and print statistics.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import sys
import time
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.scenario.fields import all_keys

ROOT = Path(__file__).parent.parent
CONFIGS = sorted(str(p) for p in (ROOT / "configs").glob("*.yaml"))
VALID = (ROOT / "configs" / "default.yaml").read_text()
KEYS = sorted(all_keys())
VALUES = ["0", "-1", "1", "4096", "128K", "1e400", "7e10", "no", "~", "null", "''", "[1, 2]", "{a: 1}", "0.5",
          "40%", "3.35TB/s", "989T", "$52B", "90d", "h200", "H200", "nope", "fp8", "fp4", "mla", "1" * 400,
          "\u00e9\u4e2d", "-0", "nan", "inf", "1..2", "*x", "&x 1", "!!python/object 1", "\t1", "'\\x00'"]
NAMES = ["training.seconds", "model.params", "kv_cache.bytes_per_sequence", "feasible", "binding", "nope.x", "",
         "all", "context", "hardware.count", "model", ".", "training.seconds,memory.weights_bytes"]
FORMATS = ["table", "json", "jsonl", "csv", "yaml", "junit", "", "JSON", "x" * 50]
COUNTS = [1, 2, 10, 1000, 100_000, 10_000_000, 10**9, 10**12, 10**13]
SWEPT = ["context", "hardware.count", "hardware.mfu", "tokens", "hardware.preset", "precision.compute",
         "model.params", "model.layers", "nope", "expect", "limits.deadline"]
ALLOWED_EXITS = {0, 1, 2}


class Hang(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a regression
    raise Hang("the command did not finish")


class Fuzzer:
    """Builds cases in a folder of ordinary and special files, runs them in-process, checks the contract."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder, self.random = folder, random.Random(seed)
        self.stats: Counter = Counter()
        self.slowest: tuple[float, str] = (0.0, "")  # reported by the __main__ run, never asserted
        os.mkfifo(folder / "fifo.yaml")
        os.symlink("loop-b.yaml", folder / "loop-a.yaml")
        os.symlink("loop-a.yaml", folder / "loop-b.yaml")
        os.symlink("target.xml", folder / "link.xml")
        (folder / "target.xml").write_text("keep the link")
        (folder / "dir.yaml").mkdir()
        (folder / "valid.yaml").write_text(VALID)
        self.specials = {"fifo.yaml": stat.S_ISFIFO, "link.xml": stat.S_ISLNK, "loop-a.yaml": stat.S_ISLNK}

    # --- generators -------------------------------------------------------------------------------

    def content(self) -> bytes:
        r = self.random
        kind = r.choice(["bytes", "yaml", "mutated", "aliases", "json"])
        self.stats[f"content:{kind}"] += 1
        if kind == "bytes":
            return bytes(r.randrange(256) for _ in range(r.randrange(0, 400)))
        if kind == "yaml":
            lines = [f"{' ' * r.choice([0, 0, 2, 1])}{r.choice(KEYS + ['extends', 'x', '<<'])}: {r.choice(VALUES)}"
                     for _ in range(r.randrange(1, 12))]
            if r.random() < 0.3:
                lines.append(f"extends: {r.choice(['valid.yaml', 'fifo.yaml', 'loop-a.yaml', '/dev/zero', 'dir.yaml', 'missing.yaml'])}")
            return "\n".join(lines).encode()
        if kind == "aliases":
            width, depth = r.randrange(2, 12), r.randrange(1, 9)
            lines = ["a0: &a0 {k: 1}"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]"
                                          for i in range(1, depth + 1)]
            return ("\n".join(lines) + f"\nexpect: *a{depth}\nmodel: {{preset: llama-2-70b}}\ncontext: 1K\n").encode()
        if kind == "json":
            return r.choice([b'{"context": 4096}', b'{"model": {"preset": "x"}}', b"[1, 2", b'{"a": "\\ud83d\\ude00"}',
                             b"{}", b'"text"'])
        text = bytearray(VALID.encode())
        for _ in range(r.randrange(1, 6)):
            position = r.randrange(len(text))
            action = r.randrange(3)
            if action == 0:
                del text[position:position + r.randrange(1, 40)]
            elif action == 1:
                text[position:position] = r.choice(VALUES).encode()
            else:
                text[position:position] = r.choice([b"\n", b":", b"  ", b"\t", b"&a", b"*a", b"-", b"{", b"["])
        return bytes(text)

    def path(self) -> str:
        """A scenario argument: a fresh file with fuzzed contents most of the time, else a hard path."""
        r = self.random
        if r.random() < 0.7:
            name = r.choice(["plan.yaml", "plan.json", "plan.yml", "plan"])
            (self.folder / name).write_bytes(self.content())
            return name
        choice = r.choice(["fifo.yaml", "loop-a.yaml", "dir.yaml", "missing.yaml", "/dev/null", "/dev/zero", "",
                           "x" * 300, "valid.yaml", "default", "roadmap", "*.yaml", "-", *CONFIGS[:2]])
        self.stats[f"path:{choice[:20]}"] += 1
        return choice

    def option(self) -> list[str]:
        r = self.random
        kind = r.choice(["set", "format", "field", "junit", "hf", "columns", "where", "explain"])
        self.stats[f"option:{kind}"] += 1
        if kind == "set":
            return ["--set", r.choice([f"{r.choice(KEYS)}={r.choice(VALUES)}", "extends=valid.yaml", "=", "a",
                                       "hardware.preset=H200", "limits.accelerators=1"])]
        if kind == "format":
            return ["--format", r.choice(FORMATS)]
        if kind == "field":
            return ["--field", r.choice(NAMES)]
        if kind == "junit":
            return ["--junit", r.choice(["report.xml", "dir.yaml", "missing/report.xml", "fifo.yaml", "link.xml",
                                         "/dev/null", "", "x" * 300])]
        if kind == "hf":
            return ["--hf-config", r.choice(["plan.json", "/dev/zero", "fifo.yaml", "dir.yaml", "missing.json"])]
        if kind == "columns":
            return ["--columns", r.choice(NAMES)]
        if kind == "where":
            return ["--where", r.choice(["training.seconds < 90d", "x <", "feasible == 1", "model.params > 1e400"])]
        return ["--explain"]

    def grid(self) -> list[str]:
        """A sweep over random axes; sizes from one point to 10**13 (refused past 10M, before starting)."""
        r = self.random
        args, size = [], 1
        for _ in range(r.randrange(1, 4)):
            key, count = r.choice(SWEPT), r.choice(COUNTS)
            if key in ("hardware.preset", "precision.compute"):
                values = ",".join(r.choice(["h200", "b200", "H100-SXM", "nope", "fp8", "bf16"]) for _ in range(3))
                args += ["-v", f"{key}={values}"]
                continue
            low, high = r.choice([("1K", "1M"), ("0.1", "0.5"), ("1", "1e12"), ("8", "100K")])
            args += ["-v", f"{key}={low}..{high}:{r.choice(['', 'log:'])}{count}"]
            size *= count
        large = 100_000 < size <= 10_000_000  # evaluated whole by these outputs: kept in bounds for the suite
        output = r.choice(["table", "table"] if large else ["table", "csv", "jsonl", "json", "frontier", "plot"])
        self.stats[f"grid:{'refused-size' if size > 10_000_000 else output}"] += 1
        if output == "frontier":
            return [*args, "--frontier"]
        if output == "plot":
            return [*args, "--plot"]
        return [*args, "-f", output]

    def case(self) -> tuple[list[str], bytes | None]:
        r = self.random
        command = r.choices(["estimate", "sweep", "check", "compare", "roadmap", "presets", "validate", "show",
                             "serve"], weights=[30, 25, 15, 10, 2, 3, 2, 3, 5])[0]
        self.stats[f"command:{command}"] += 1
        if command == "estimate":
            args = ["estimate", *(self.path() for _ in range(r.randrange(1, 3)))]
        elif command == "sweep":
            args = ["sweep", self.path(), *self.grid()]
        elif command == "check":
            args = ["check", self.path()]
        elif command == "compare":
            args = ["compare", self.path(), self.path(), "--with", f"{r.choice(KEYS)}={r.choice(VALUES)}"]
        elif command == "roadmap":
            args = ["roadmap", r.choice(["roadmap", str(ROOT / "configs" / "roadmap" / "params-1t-today.yaml")])]
        elif command == "presets":
            args = ["presets", "--kind", r.choice(["models", "grids", "nope"])]
        elif command == "validate":
            args = ["validate", "--case", r.choice(["nope", "gpt3-175b-training-compute"])]
        elif command == "serve":
            args = ["serve", r.choice([self.path(), *sorted(str(p) for p in (ROOT / "configs").glob("published/*.yaml"))[:1]]),
                    "--tpot", r.choice(["50ms", "0", "-1s", "fast", "1e400s"]), "-f", r.choice(["table", "csv", "json"])]
        else:
            args = ["presets", "show", r.choice(["h200", "H200", "NOPE", "../../etc/passwd", "", "x" * 300])]
        if command in ("estimate", "sweep", "check", "compare"):
            args += [part for _ in range(r.randrange(0, 3)) for part in self.option()]
        stdin = self.content() if "-" in args else None
        return args, stdin

    # --- running -----------------------------------------------------------------------------------

    def run(self, cases: int) -> Counter:
        runner = CliRunner()
        before = os.getcwd()
        os.chdir(self.folder)
        previous = signal.signal(signal.SIGALRM, _alarm)
        try:
            for _ in range(cases):
                args, stdin = self.case()
                signal.alarm(120)
                started = time.perf_counter()
                try:
                    columns = self.random.choice(["80", "80", "120", "1", "0", "abc", "400"])
                    result = runner.invoke(app, args, input=stdin, env={"COLUMNS": columns})
                finally:
                    signal.alarm(0)
                self.slowest = max(self.slowest, (time.perf_counter() - started, " ".join(args)[:120]))
                self.check(args, result)
        finally:
            signal.signal(signal.SIGALRM, previous)
            os.chdir(before)
        return self.stats

    def check(self, args, result) -> None:
        shown = " ".join(repr(a) if " " in a or not a else a for a in args)[:300]
        error = result.exception
        if error is not None and not isinstance(error, SystemExit):
            raise AssertionError(f"{shown}: {type(error).__name__}: {error}") from error
        self.stats[f"exit:{result.exit_code}"] += 1
        assert result.exit_code in ALLOWED_EXITS, f"{shown}: exit {result.exit_code}: {result.stderr[-500:]}"
        assert "Traceback" not in result.output and "internal error" not in result.stderr, shown
        for name, is_kind in self.specials.items():
            assert is_kind(os.lstat(self.folder / name).st_mode), f"{shown}: {name} was replaced"
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode), f"{shown}: /dev/null was replaced"


def test_fuzzed_command_lines_keep_the_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    stats = Fuzzer(tmp_path, seed=15).run(cases=int(os.environ.get("QWENFEAS_FUZZ_CASES", "250")))
    assert sum(v for k, v in stats.items() if k.startswith("exit:")) == int(os.environ.get("QWENFEAS_FUZZ_CASES",
                                                                                              "250"))
    assert stats["exit:2"] and (stats["exit:0"] or stats["exit:1"])  # both refusals and successes were reached


if __name__ == "__main__":  # python tests/test_cli_fuzz.py [CASES] [SEED]: a longer run, with statistics
    import tempfile

    os.environ.update(NO_COLOR="1", COLUMNS="80", _TYPER_FORCE_DISABLE_TERMINAL="1")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    import resource

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        fuzzer = Fuzzer(Path(folder), seed)
        found = fuzzer.run(count)
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} cases, seed {seed}, {elapsed:.1f} s: no traceback, no exit 70, no special file replaced")
    print(f"slowest case {fuzzer.slowest[0]:.2f} s ({fuzzer.slowest[1]}); peak memory of the run {peak:.0f} MB")
    for key in sorted(found):
        print(f"  {key}: {found[key]}")
