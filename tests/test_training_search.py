"""The layout search: the fastest layout that fits, on the user's own count, equal to a brute-force minimum."""

from __future__ import annotations

import itertools
import math

import pytest

import qwenfeas
from qwenfeas.formulas import pipeline as PL
from qwenfeas.formulas import training_memory as TM
from qwenfeas.training import layout_search as LS
from qwenfeas.training.step_time import evaluate
from qwenfeas.verdict import judge

# A 1T-class MoE (configs/default.yaml's model) on 20,000 H200, with no parallel section.
MOE_1T = """
model:
  layers: 94
  hidden: 7168
  heads: 64
  kv_heads: 8
  head_dim: 128
  vocab: 151936
  qk_norm: true
  moe: {experts: 256, top_k: 8, expert_ffn_hidden: 2048}
context: 4096
tokens: 36T
training: {sequence: 4096, batch_tokens: 63M%s}
hardware: {preset: h200, count: 20000}
%s
"""


def test_a_1t_moe_on_20000_h200_gets_a_layout_within_its_count_and_reports_the_idle_ones(work):
    report, _ = work(MOE_1T % ("", ""))
    used = report["layout.tensor"] * report["layout.pipeline"] * report["layout.context"] * report["layout.data"]
    assert used <= 20000
    assert report["layout.idle_accelerators"] == 20000 - used
    assert report["layout.searched"] is True
    assert report["layout.data"] % report["layout.expert"] == 0
    assert report["training_memory.fill"] <= 1
    assert report["training.seconds"] == pytest.approx(report["training.step_seconds"] * 36e12 / 63e6)


def test_the_search_equals_a_brute_force_minimum_on_a_reduced_space(work):
    """Every layout of a reduced space enumerated one by one, with the search's rules written out again:
    tensor within the 8-GPU board and dividing the 64 heads, expert degree dividing the 256 experts and
    the data degree, data = the most replicas that fit the count and the batch, DualPipe on even stages."""
    fixed = {"context": 1.0, "micro_batch": 1.0, "zero": 1.0, "recompute": float(TM.SELECTIVE)}
    _, w = work(MOE_1T % (", recompute: selective", "parallel: {zero: 1, micro_batch: 1}"))
    best = math.inf
    sequences = 63e6 / 4096
    for t, p, e, (schedule, v) in itertools.product((1, 2, 4, 8), (1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8, 16, 32, 64, 128, 256),
                                                   ((0, 1), (1, 2), (1, 4), (1, 8), (2, 1), (3, 1))):
        d = min(20000 // (t * p), sequences // 1)
        d = (d // e) * e
        if d < e or (p == 1 and schedule != 0) or (schedule == 1 and 94 / (p * v) < 1) or (schedule == 3 and p % 2):
            continue
        layout = {"tensor": float(t), "pipeline": float(p), "data": float(d), "expert": float(e), "virtual_stages": float(v),
                  "schedule": float(schedule), **fixed}
        result = evaluate(w, layout)
        if result["fill"] <= 1:
            best = min(best, result["step_seconds"])
    choice = LS.search(w, 20000.0, fixed)
    assert choice.result["step_seconds"] == pytest.approx(best, rel=1e-12)
    assert choice.runner_up_result["step_seconds"] >= best


def test_a_stated_layout_is_checked_as_stated_and_the_remedy_speaks_of_the_users_count_first(work):
    stated = "parallel: {tensor: 1, pipeline: 1, expert: 8, zero: 1}"  # far too little sharding for 1T
    report, _ = work(MOE_1T % (", recompute: selective", stated))
    assert report["layout.searched"] is False and report["layout.tensor"] == 1
    assert report["training_memory.fill"] > 1
    memory = next(c for c in judge(report).checks if c.name == "memory")
    assert not memory.passed
    assert memory.remedy.startswith("on your 20,000: TP")
    assert memory.remedy.index("on your 20,000") < memory.remedy.index("fits on")


def test_schedules_are_coded_in_order():
    assert PL.SCHEDULES[PL.DUALPIPE] == "dualpipe" and TM.RECOMPUTE[TM.MODULES] == "modules"


def test_a_missed_deadline_first_names_a_faster_layout_on_the_users_count(write):
    text = """model: {preset: llama-3.1-70b}
context: 8192
tokens: 15T
training: {sequence: 8192, batch_tokens: 16M}
hardware: {preset: h100-sxm, count: 1024}
parallel: {tensor: 8, pipeline: 8}
limits: {deadline: 30d}
"""
    report = qwenfeas.estimate(qwenfeas.load(write(text)))
    deadline = next(c for c in judge(report).checks if c.name == "limits.deadline")
    assert not deadline.passed
    first, _, rest = deadline.remedy.partition("; ")
    assert first.startswith("on your 1,024: TP") and rest.startswith("would pass with")
    days = float(first.rsplit("takes ", 1)[1].split(" days")[0].replace(",", ""))
    assert days < report["training.seconds"] / 86400  # faster than the stated layout, same accelerators


def test_an_overflowing_stated_layout_searches_the_users_count_once(work, monkeypatch):
    """The overflow remedy and the verdict's faster layout share one open search of hardware.count."""
    calls = []
    search = LS.search
    monkeypatch.setattr(LS, "search", lambda *args: calls.append(args[1:]) or search(*args))
    stated = "parallel: {tensor: 1, pipeline: 1, expert: 8}"  # stated as a whole: checked as stated
    report, _ = work(MOE_1T % (", recompute: selective", stated))
    assert report["layout.searched"] is False and report["training_memory.fill"] > 1
    judge(report)
    assert calls == [(20000, {}, "")]  # no utilisation given: the predicted step ranks


def test_why_slower_names_the_part_that_grew_most_not_the_largest():
    from qwenfeas.training.layout_search import why_slower

    # the bubble is the largest part of both steps, but only compute grew (by 1 s against 0.5 s of exposure)
    best = {"bubble_seconds": 10.0, "exposed_seconds": 1.0, "compute_seconds": 1.0, "optimizer_seconds": 0.0}
    other = {"bubble_seconds": 10.0, "exposed_seconds": 1.5, "compute_seconds": 2.0, "optimizer_seconds": 0.0}
    assert why_slower(best, other) == "more compute"
    assert why_slower(best, {**other, "compute_seconds": 1.0}) == "more exposed communication"
