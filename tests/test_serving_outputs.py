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


def _units_follow_the_rule(r):
    """Check every serving output's unit (these and any added later) and table; return their keys."""
    serving = [k for k in r.metrics if k.split(".")[0] in ("inference", "serving_layout", "test_time")]
    for key in serving:
        metric = r.metrics[key]
        assert (metric.name, metric.unit, metric.table) == (key, _unit_by_name(key), key.split(".")[0]), key
    return serving


def test_every_serving_output_has_its_unit_table_and_function(run):
    r = run(SMALL, *EXTRAS)
    assert set(OUTPUTS) <= set(_units_follow_the_rule(r))
    for key, function in OUTPUTS.items():
        assert r.metrics[key].function is function, key
    # one draft accepted half the time: 1.5 tokens a step (formulas.serving.accepted_tokens_per_step)
    step = r["inference.step_seconds"]  # at batch 1, the scenario's
    assert r["inference.accepted_tokens_per_step"] == 1.5
    assert r["inference.decode_seconds_per_token"] == pytest.approx(step / 1.5, rel=1e-12)
    assert r["inference.decode_tokens_per_second"] == pytest.approx(1.5 / step, rel=1e-12)
    assert r["inference.batch_tokens_per_second"] == pytest.approx(1.5 / step, rel=1e-12)
    batched = run(SMALL, *EXTRAS, "inference.batch=16")
    assert batched["inference.batch_tokens_per_second"] == pytest.approx(
        16 * 1.5 / batched["inference.step_seconds"], rel=1e-12)
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
    # four significant digits: a batch of 12,340 (360 GB usable of 400 GB hold 19,069 caches) is written 1.234e+04
    large = run(SMALL, "hardware.memory=400GB", "inference.batch=12340")
    assert large["serving_layout.batch"] == 12340
    assert large.metrics["inference.step_seconds"].label == "decode step at batch 1.234e+04"
    assert large.metrics["inference.batch_tokens_per_second"].label == (
        "decode throughput of one replica at batch 1.234e+04 (no prefill)")


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
    assert "inference.accelerators" in _units_follow_the_rule(given)
    assert (given_replica.value, given_replica.formula, given_replica.function) == (
        2, "{inference.accelerators} (given)", None)
    # searched: a fleet with no layout
    searched = run(SMALL, "hardware.count=4")
    assert "serving_layout.tensor" in _units_follow_the_rule(searched)
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


def test_a_replica_size_given_with_a_fleet_is_not_searched(run):
    # inference.accelerators = 2 on 4 accelerators: tensor 2 (the replica over one attention rank), and
    # floor(4 / 2) = 2 replicas, not a searched layout (the search would take 1-accelerator replicas)
    r = run(SMALL, "hardware.count=4", "inference.accelerators=2")
    assert [r[f"serving_layout.{k}"] for k in ("tensor", "attention_data", "expert", "replicas")] == [2, 1, 1, 2]
    assert r.metrics["serving_layout.tensor"].label.endswith(" (default)")
    assert r.metrics["inference.accelerators"].formula == "{inference.accelerators} (given)"


def test_a_query_that_is_all_reasoning_reads_no_weights_for_a_prefill(run):
    # test_time = context leaves no prompt: the query reads the matmul weights once per reasoning token
    # and the cache of the keys it attends (0 + 1, ..., 0 + 2304); one prompt token costs a prefill that
    # reads every weight once (the small model: 35,607,552 parameters, 1,024,000 in the input embedding)
    params, embedding, kv = 2 * (1024 * 128 * 32 + 3 * 1024 * 4096 + 2 * 1024) + 2 * 1000 * 1024 + 1024, 1000 * 1024, \
        2 * 2 * 8 * 128 * 2

    def read(prompt, steps):
        keys = steps * prompt + steps * (steps + 1) / 2
        return params * 2 * (prompt > 0) + (params - embedding) * 2 * steps + kv * keys

    alone = run(SMALL, "test_time=2304")
    assert alone["test_time.prompt_tokens"] == 0
    assert alone["test_time.read_bytes"] == pytest.approx(read(0, 2304), rel=1e-12)
    one = run(SMALL, "test_time=2303")
    assert one["test_time.prompt_tokens"] == 1
    assert one["test_time.read_bytes"] == pytest.approx(read(1, 2303), rel=1e-12)


def test_a_searched_layout_carries_every_degree_of_the_best_candidate(run):
    # one sequence per replica on 4 accelerators: the search's best candidate (test_serving_search checks
    # the search itself) gives all five degrees and the concurrency, the disaggregated flag included
    from qwenfeas.serving.layout_search import best, candidates, passing
    from qwenfeas.serving.limits import _figures

    r = run(SMALL, "hardware.count=4")
    s, m, d = _figures(r)
    c = candidates(m, d, 4.0, None, 1.0)
    i = best(c, passing(c))
    assert [r[f"serving_layout.{k}"] for k in ("tensor", "attention_data", "expert", "replicas")] == [
        c.tensor[i], c.attention_data[i], c.expert[i], c.replicas[i]]
    assert r["serving_layout.disaggregated"] is bool(c.disaggregated[i]) is True
    assert r["inference.concurrency"] == c.concurrency[i] == c.replicas[i] * 1.0
    # 3 one-accelerator decode replicas; their prefill pools share the fourth accelerator
    assert r["serving_layout.replicas"] == 3 and r["inference.accelerators"] == 1


def test_unstated_degrees_default_from_the_replica_and_the_fleet(run):
    # 4 accelerators per replica over 2 attention ranks: tensor 4 / 2 = 2; 8 accelerators hold
    # floor(8 / 4) = 2 replicas; 16 sequences each make a concurrency of 16 x 2 = 32
    r = run(SMALL, "hardware.count=8", "inference.accelerators=4", "serving_layout.attention_data=2",
            "inference.batch=16")
    assert [r[f"serving_layout.{k}"] for k in ("tensor", "attention_data", "expert", "replicas")] == [2, 2, 1, 2]
    assert r["inference.concurrency"] == 32 and r["serving_layout.batch"] == 16
    assert r["serving_layout.disaggregated"] is False
    assert not [n for n in r.notes if "is not inference.accelerators" in n]  # 2 x 2 is the replica's 4


def test_a_swept_scenario_on_a_fleet_is_not_searched(write):
    # the search picks one layout for one scenario; a sweep keeps the default layout at every point:
    # one-accelerator replicas (the fewest that hold the small model), floor(4 / 1) = 4 of them
    from qwenfeas.commands.sweep import Sweep, parse_axis

    grid = Sweep(str(write(SMALL)), [parse_axis("inference.batch=1,16")], ["hardware.count=4"])
    chunk = next(iter(grid.chunks()))
    assert chunk.column("serving_layout.tensor").tolist() == [1.0, 1.0]
    assert chunk.column("serving_layout.replicas").tolist() == [4.0, 4.0]
    assert chunk.column("inference.concurrency").tolist() == [4.0, 64.0]
    assert chunk.report.metrics["serving_layout.tensor"].label.endswith(" (default)")


def test_input_tokens_cost_their_prefill_even_below_one_token_a_second(run):
    # one-token prompts before 10,000 output tokens: under one input token a second, yet each costs its
    # prefill: cost = (X P) x price / 3600 / (X x 1 token) x 1e6 = P x price / 3600 x 1e6, the rate X
    # cancelling; P = one pass of one 1-token prompt (test_serving.batched_prefill_pass)
    from tests.test_serving import batched_prefill_pass

    r = run(SMALL, "context=10001", "inference.output_tokens=10000", "inference.prompt_tokens=1")
    prefill = batched_prefill_pass(1, P=1)
    assert r["inference.prefill_seconds_per_request"] == pytest.approx(prefill, rel=1e-12)
    assert r["inference.output_tokens_per_second"] / 10000 < 1  # requests/s, each with one input token
    assert r["inference.cost_per_million_input_tokens_usd"] == pytest.approx(prefill * 2 / 3600 * 1e6, rel=1e-9)
    # no prompt at all (every token of the context is output): nothing is billed as input
    none = run(SMALL, "inference.output_tokens=2304")
    assert none.scenario["inference.prompt_tokens"] == 0
    assert none["inference.cost_per_million_input_tokens_usd"] == 0


def test_no_price_no_cost(run):
    # without datacenter.gpu_hour there is no rental cost to show (accounting warns); energy still shows
    r = run(SMALL.replace(", gpu_hour: 2 $/h", ""), "test_time=1024")
    assert "datacenter.gpu_hour" not in r.scenario
    assert not [k for k in r.metrics if k.endswith("_usd")]
    assert "inference.energy_per_million_output_tokens_kwh" in r.metrics and "test_time.energy_kwh" in r.metrics


def test_a_concurrency_is_queued_only_past_what_the_caches_hold(run):
    # 3,810 sequences fit in one replica (test_serving: floor((72 GB - weights) / 18,874,368 B)); 4 replicas
    # of one accelerator hold 15,240: asking exactly that queues nothing, one more is noted
    at = run(SMALL, "hardware.count=4", "serving_layout.tensor=1", "inference.concurrency=15240")
    assert at["serving_layout.batch"] == 3810 and not [n for n in at.notes if "exceeds what the caches hold" in n]
    over = run(SMALL, "hardware.count=4", "serving_layout.tensor=1", "inference.concurrency=20000")
    assert [n for n in over.notes if n.startswith("concurrency 20000 exceeds what the caches hold (15240 sequences")]
    # a batch (not a concurrency) past the caches is noted as a batch, per replica
    batch = run(SMALL, "hardware.count=4", "serving_layout.tensor=1", "inference.batch=5000")
    assert [n for n in batch.notes if n.startswith("inference.batch 5000 does not fit: at most 3810 sequences'")]


def test_a_model_without_drafts_shows_no_accepted_tokens(run):
    assert "inference.accepted_tokens_per_step" not in run(SMALL).metrics
    zero = run(SMALL, "inference.speculative.kind=mtp", "inference.speculative.draft_tokens=0",
               "inference.speculative.acceptance=0.5")
    assert "inference.accepted_tokens_per_step" not in zero.metrics


def test_a_swept_batch_notes_the_batches_past_the_caches_and_not_the_one_that_just_fits(write):
    # 3,810 sequences fit (test_serving); of the batches 3,810, 3,811 and 5,000 the last two do not fit
    from qwenfeas.commands.sweep import Sweep, parse_axis

    grid = Sweep(str(write(SMALL)), [parse_axis("inference.batch=3810,3811,5000")])
    chunk = next(iter(grid.chunks()))
    assert chunk.column("inference.max_batch").tolist() == [3810.0] * 3
    assert [n for n in chunk.report.notes if "does not fit" in n] == [
        "inference.batch 3811 to 5000 does not fit: at most 3810 sequences' caches fit per replica at prompt + "
        "output tokens; the throughput shown is at that batch"]


def test_a_layout_over_attention_ranks_unlike_the_stated_replica_names_its_size(run):
    # tensor 2 x attention_data 2 is a replica of 4, not the 2 stated
    r = run(SMALL, "hardware.count=8", "inference.accelerators=2", "serving_layout.tensor=2",
            "serving_layout.attention_data=2")
    assert [n for n in r.notes if n.startswith("serving_layout tensor × attention_data (4) is not "
                                               "inference.accelerators (2)")]
