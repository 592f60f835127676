"""Layout-search benchmark for `make bench`: printed, never asserted (machines are shared and noisy).

Target (issue 12): the full search space (tensor x pipeline x expert x context x micro-batch x
schedule x ZeRO stage x recompute) for a 1T-class MoE on 20,000 H200 in under 1 s. The scenario
is configs/default.yaml's model without its parallel section.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(repeats: int = 5) -> None:
    import qwenfeas
    from qwenfeas.scenario.load import loads
    from qwenfeas.training import layout_search as LS
    from qwenfeas.training.step_inputs import Work, attention_forward_per_token

    text = (ROOT / "configs" / "default.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\nparallel:.*?\n(?=datacenter:)", "\n", text, flags=re.S).replace("count: 20480", "count: 20000")
    scenario = loads(text, "bench: configs/default.yaml without parallel")
    report = qwenfeas.estimate(scenario)
    work = Work(report, scenario.values, attention_forward_per_token(report, scenario.values, None))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        choice = LS.search(work, 20000.0, {})
        best = min(best, time.perf_counter() - start)
    print(f"layout search: {choice.candidates:,} layouts ({choice.fitting:,} fit) for 20,000 H200 in "
          f"{best * 1000:.0f} ms (best of {repeats}; target < 1000 ms)")


if __name__ == "__main__":
    main()
