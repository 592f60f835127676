"""The serving outputs' contract: each key's unit, the table it is printed in, the function --explain
cites for it, and the labels and formulas that say where a layout degree came from.

A unit is part of the output contract (SCENARIO.md, "Output names": every key ends with its unit unless
it is a plain count; its tables give `inference.*`, `serving_layout.*` and `inference.flops_per_token`).
The units expected below are read off the key's name by that rule, not from the program.
"""

from __future__ import annotations

import pytest

from qwenfeas.formulas import flops as F
from qwenfeas.formulas import power as W
from qwenfeas.formulas import serving as S
from qwenfeas.serving import metrics as SM
from qwenfeas.serving.batching import smallest_replica
from qwenfeas.serving.prefill import prefill_seconds, prefill_seconds_per_request
from tests.test_serving import small

# test_serving's small dense model, with a reasoning query and an MTP draft
SMALL, _ = small()
EXTRAS = ("test_time=1024", "inference.speculative.kind=mtp", "inference.speculative.draft_tokens=1",
          "inference.speculative.acceptance=0.5")

# key: the function --explain cites (the unit comes from the naming rule below)
OUTPUTS = {
    "inference.accelerators": smallest_replica,
    "serving_layout.tensor": None,
    "serving_layout.attention_data": None,
    "serving_layout.expert": None,
    "serving_layout.replicas": None,
    "serving_layout.disaggregated": None,
    "serving_layout.batch": None,
    "inference.concurrency": None,
    "inference.max_batch": SM._max_batch_doc,
    "inference.accepted_tokens_per_step": S.accepted_tokens_per_step,
    "inference.step_seconds": SM._step_doc,
    "inference.prefill_pass_seconds": SM._prefill_pass_doc,
    "inference.prefill_seconds_per_request": prefill_seconds_per_request,
    "inference.ttft_seconds": SM._point_doc,
    "inference.tpot_seconds": S.steady_state,
    "inference.tokens_per_second_per_user": SM._point_doc,
    "inference.tokens_per_second_per_accelerator": SM._point_doc,
    "inference.output_tokens_per_second": SM._point_doc,
    "inference.batch_tokens_per_second": SM._step_doc,
    "inference.prefill_flops": F.forward_flops,
    "inference.prefill_seconds": prefill_seconds,
    "inference.flops_per_token": F.forward_flops,
    "inference.bytes_per_token": None,
    "inference.decode_seconds_per_token": SM._step_doc,
    "inference.decode_tokens_per_second": None,
    "inference.cost_per_million_output_tokens_usd": S.cost_per_million_tokens_usd,
    "inference.cost_per_million_input_tokens_usd": S.cost_per_million_tokens_usd,
    "inference.energy_per_million_output_tokens_kwh": W.energy_kwh,
    "test_time.prompt_tokens": None,
    "test_time.flops": F.forward_flops,
    "test_time.read_bytes": None,
    "test_time.seconds": None,
    "test_time.energy_kwh": W.energy_kwh,
    "test_time.cost_usd": W.rental_cost_usd,
}
STEP_PARTS = ("weights", "experts", "attention", "tensor_collectives", "expert_collectives", "elementwise",
              "kernels", "drafts")


def _unit_by_name(key: str) -> str:
    """SCENARIO.md's rule: the key ends with its unit unless it is a plain count."""
    last = key.rpartition(".")[2]
    for ending, unit in (("_usd", "USD"), ("_kwh", "kWh"), ("seconds", "s"), ("_bytes", "B"), ("flops", "FLOP"),
                         ("tokens_per_second", "tokens/s"), ("_per_user", "tokens/s"),
                         ("_per_accelerator", "tokens/s"), ("flops_per_token", "FLOP"),
                         ("bytes_per_token", "B"), ("seconds_per_token", "s"), ("seconds_per_request", "s"),
                         ("disaggregated", "bool")):
        if last.endswith(ending):
            return unit
    return "count"


def test_every_serving_output_has_its_unit_table_and_function(run):
    r = run(SMALL, *EXTRAS)
    serving = [k for k in r.metrics if k.split(".")[0] in ("inference", "serving_layout", "test_time")]
    assert set(OUTPUTS) <= set(serving)
    for key in serving:  # every serving output, these and any added later, follows the rule
        metric = r.metrics[key]
        assert (metric.name, metric.unit, metric.table) == (key, _unit_by_name(key), key.split(".")[0]), key
    for key, function in OUTPUTS.items():
        assert r.metrics[key].function is function, key
    for part in STEP_PARTS:
        term = r.terms[f"decode_{part}_seconds"]
        assert (term.unit, term.function, term.formula) == ("s", SM._step_doc, f"see serving.decode ({part})")
        assert term.label.startswith("decode step: ")
    # the step is the sum of its parts, one draft pass included
    assert r["inference.step_seconds"] == pytest.approx(sum(r.terms[f"decode_{p}_seconds"].value
                                                            for p in STEP_PARTS), rel=1e-12)


def test_the_batch_is_written_into_the_step_labels(run):
    r = run(SMALL, "inference.batch=16")
    assert r.metrics["inference.step_seconds"].label == "decode step at batch 16"
    assert r.metrics["inference.batch_tokens_per_second"].label == (
        "decode throughput of one replica at batch 16 (no prefill)")


def test_a_layout_degree_says_whether_it_was_given_defaulted_or_searched(run):
    # defaulted: no fleet, so one replica of the fewest accelerators that hold the model (one, here)
    r = run(SMALL.replace(", count: 1}", "}"))
    labels = {"tensor": "tensor-parallel degree (attention, dense layers)",
              "attention_data": "attention data-parallel ranks per replica",
              "expert": "expert-parallel degree (routed experts)", "replicas": "replicas"}
    for key, label in labels.items():
        metric = r.metrics[f"serving_layout.{key}"]
        assert (metric.label, metric.formula) == (label + " (default)", SM._DEFAULTS[key]), key
    accelerators = r.metrics["inference.accelerators"]
    assert accelerators.formula.startswith("{serving_layout.tensor} × {serving_layout.attention_data} (the fewest")
    assert accelerators.label == "accelerators per replica"
    # given: each degree stated, and the replica size stated
    given = run(SMALL, "hardware.count=4", "serving_layout.tensor=2", "serving_layout.attention_data=1",
                "serving_layout.expert=1", "serving_layout.replicas=2", "inference.accelerators=2")
    for key, label in labels.items():
        metric = given.metrics[f"serving_layout.{key}"]
        assert (metric.label, metric.formula) == (label, f"{{serving_layout.{key}}} (given)"), key
    given_replica = given.metrics["inference.accelerators"]
    assert (given_replica.value, given_replica.formula, given_replica.function) == (
        2, "{inference.accelerators} (given)", None)
    # searched: a fleet with no layout
    searched = run(SMALL, "hardware.count=4")
    for key, label in labels.items():
        metric = searched.metrics[f"serving_layout.{key}"]
        assert (metric.label, metric.formula) == (label + " (searched)", "chosen for {hardware.count}"), key
    assert searched.metrics["inference.accelerators"].formula == (
        "{serving_layout.tensor} × {serving_layout.attention_data} (searched)")


def test_the_concurrency_formula_names_where_it_came_from(run):
    assert run(SMALL).metrics["inference.concurrency"].formula == "{inference.batch} × {serving_layout.replicas}"
    given = run(SMALL, "inference.concurrency=8")
    assert given.metrics["inference.concurrency"].formula == "{inference.concurrency}"
    assert given["inference.concurrency"] == 8
