"""Sweep benchmark for `make bench`: printed, never asserted (machines are shared and noisy).

Targets (issue 6): at least 1,000,000 points per second evaluated in memory on one core; at
least 500,000 rows per second streaming a 5-column CSV; flat peak memory, under 200 MB, for
a 10,000,000-point CSV stream. The scenario is the bundled Qwen3-235B serving plan.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "configs" / "qwen3-235b-serving-128k.yaml")
CLI = str(Path(sys.executable).with_name("qwenfeas"))
AXES = ["context=4K..128K:log:100", "hardware.mfu=0.2..0.6:100", "inference.batch=1..100:100"]  # 1M points
COLUMNS = "context,hardware.mfu,inference.batch,inference.batch_tokens_per_second,feasible"


def in_memory(repeats: int = 3) -> tuple[float, int]:
    """Best points per second computing the default columns (verdict included) of a 1M-point sweep."""
    from qwenfeas.commands.sweep import Sweep, column_names, parse_axis

    grid = Sweep(SCENARIO, [parse_axis(a) for a in AXES])
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        names = None
        for chunk in grid.chunks():
            names = names or column_names(chunk, None)
            for name in names:
                chunk.column(name)
        best = max(best, grid.size / (time.perf_counter() - start))
    return best, grid.size


def _sweep_command(axes: list[str]) -> list[str]:
    return [CLI, "sweep", SCENARIO, *(arg for axis in axes for arg in ("-v", axis)), "-f", "csv", "-c", COLUMNS]


def csv_stream() -> tuple[float, int]:
    """Rows per second of the whole command (start-up included) writing 1M CSV rows to /dev/null."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(_sweep_command(AXES), stdout=sink, stderr=subprocess.DEVNULL, check=True)
    return 1_000_000 / (time.perf_counter() - start), 1_000_000


def peak_memory_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of a 10M-point CSV stream, and of a 10K-point one for comparison."""
    def peak(axes):
        code = ("import resource, subprocess, sys; "
                "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", code, *_sweep_command(axes)], capture_output=True, text=True,
                             check=True)
        return int(out.stdout) / 1024  # ru_maxrss is in KB on Linux
    ten_million = ["context=4K..128K:log:100", "hardware.mfu=0.2..0.6:100", "inference.batch=1..1000:1000"]
    ten_thousand = ["context=4K..128K:log:100", "hardware.mfu=0.2..0.6:100"]
    return peak(ten_million), peak(ten_thousand)


def main() -> None:
    points, size = in_memory()
    print(f"sweep in memory: {points:,.0f} points/s ({size:,} points, default columns, best of 3; target >= 1,000,000)")
    rows, _ = csv_stream()
    print(f"sweep CSV to /dev/null: {rows:,.0f} rows/s (1,000,000 rows x 5 columns, whole command; "
          "target >= 500,000)")
    big, small = peak_memory_mb()
    print(f"peak memory, 10,000,000-point CSV stream: {big:.0f} MB (10,000 points: {small:.0f} MB; "
          "target flat, < 200 MB)")


if __name__ == "__main__":
    main()
