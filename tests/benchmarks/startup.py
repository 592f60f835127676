"""Start-up benchmark for `make bench`: printed, never asserted (machines are shared and noisy).

Median wall time of each command over N fresh processes, run round-robin so
drift in machine load hits every command alike. The baseline is the import
cost of the CLI's two unavoidable dependencies, `python -c "import typer, yaml"`;
targets (issue 2): JSON output at most 1.3x the baseline, table output at most 2x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "configs" / "default.yaml")
RUNS = int(os.environ.get("BENCH_RUNS", "21"))
PY = sys.executable
CLI = [str(Path(PY).with_name("qwenfeas"))]  # the installed console script, as users run it

COMMANDS = {
    'python -c "import typer, yaml" (baseline)': [PY, "-c", "import typer, yaml"],
    "qwenfeas --version": [*CLI, "--version"],
    "qwenfeas estimate default.yaml --format json": [*CLI, "estimate", SCENARIO, "--format", "json"],
    "qwenfeas estimate default.yaml (table)": [*CLI, "estimate", SCENARIO],
}
TARGETS = {"qwenfeas estimate default.yaml --format json": 1.3, "qwenfeas estimate default.yaml (table)": 2.0}


def measure() -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    # A wheel install byte-compiles the package; an editable one does not, and with
    # PYTHONDONTWRITEBYTECODE set nothing ever would. Compile, so we time what users run.
    import compileall

    compileall.compile_dir(str(ROOT / "qwenfeas"), quiet=1)
    import resource

    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    env = dict(os.environ, NO_COLOR="1")
    for command in COMMANDS.values():  # warm the page cache and .pyc files
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)
    for _ in range(RUNS):
        for name, command in COMMANDS.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu


_OVER_BASELINE = """\
import os, sys, time
import typer, yaml
start = time.perf_counter()
sys.argv = ["qwenfeas", *sys.argv[1:]]
from qwenfeas.cli import main
try:
    main()
except SystemExit:
    pass
os.write(2, f"\\n{(time.perf_counter() - start) * 1e3:.3f}\\n".encode())
"""


def over_baseline(runs: int = RUNS) -> dict[str, float]:
    """What each command adds to the baseline, measured inside the process after `import typer, yaml`
    (the fastest of `runs`): interpreter start-up and machine load cancel out, so this moves only
    when qwenfeas's own imports and work do."""
    added = {}
    for name, command in list(COMMANDS.items())[1:]:
        samples = []
        for _ in range(runs):
            result = subprocess.run([PY, "-c", _OVER_BASELINE, *command[1:]], capture_output=True, text=True,
                                    check=True, env=dict(os.environ, NO_COLOR="1"))
            samples.append(float(result.stderr.split()[-1]))
        added[name] = min(samples)
    return added


def heaviest_imports(limit: int = 8) -> list[tuple[int, str]]:
    """The slowest top-level imports of the JSON path (python -X importtime)."""
    code = "import sys; from qwenfeas.cli import main; sys.argv[0] = 'qwenfeas'; main()"
    result = subprocess.run([PY, "-X", "importtime", "-c", code, "estimate", SCENARIO, "-f", "json"],
                            capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not name.startswith(" "):
            rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:limit]


def main() -> None:
    times, cpu = measure()
    baseline = statistics.median(next(iter(times.values())))
    cpu_baseline = statistics.median(next(iter(cpu.values())))
    print(f"median wall time over {RUNS} runs each ({os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}); CPU = user + system time of the process, which a busy "
          "machine inflates less than wall time")
    print(f"{'command':48} {'median ms':>10} {'min ms':>8} {'x baseline':>11} {'CPU ms':>7} {'x CPU':>6} {'target':>7}")
    for name, samples in times.items():
        median, used = statistics.median(samples), statistics.median(cpu[name])
        target = f"<={TARGETS[name]}x" if name in TARGETS else ""
        print(f"{name:48} {median * 1e3:10.1f} {min(samples) * 1e3:8.1f} {median / baseline:11.2f} "
              f"{used * 1e3:7.1f} {used / cpu_baseline:6.2f} {target:>7}")
    print("\nms each command adds to `import typer, yaml`, inside the process (fastest run; far less"
          " sensitive to machine load than wall time):")
    for name, ms in over_baseline().items():
        print(f"  {name:48} {ms:7.1f}")
    print("\nslowest top-level imports of the JSON path (cumulative µs):")
    for micros, module in heaviest_imports():
        print(f"  {micros:>8}  {module}")


if __name__ == "__main__":
    main()
