"""Serving against hand arithmetic: prompt-only prefill, KV replication, the per-step floor,
speculative decoding, continuous batching, memory remedies, latency limits and their plug-back.

The small dense model has round numbers (2 layers, hidden 1024, 8 heads of 128, FFN 4096 SwiGLU,
vocab 1000, untied) and the accelerator too (1000 TFLOP/s, 2 TB/s, 80 GB, 100 GB/s links), so every
expected value below is worked out from the constants' sources, not from the program's output:
weight streaming 0.76 and KV reads 0.90 of bandwidth, GEMMs 0.75 (no measured ceiling for this made-up
accelerator: formulas.kernel_efficiency.GEMM_CEILING_UNMEASURED), decode attention 0.67 of peak and prefill
attention at FlashAttention-3's causal forward for head dim 128 at 2,048 keys (521 of 989 TFLOP/s, Shah et
al. 2024, Figure 5e; no preset runs the H100 grid), NCCL's
6.6 us + 0.6 us per NVLink hop, 4 us per kernel, links at 0.8 of their bandwidth.
"""

from __future__ import annotations

import math
import re

import pytest

from qwenfeas.verdict import judge

SMALL = """
model: {layers: 2, hidden: 1024, heads: 8, kv_heads: %(kv)d, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2304
hardware: {peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W, scale_up_bandwidth: 100GB/s,
           scale_up_size: 8, count: %(count)d}
inference: {output_tokens: 256}
datacenter: {pue: 1.25, overhead: 0.2, gpu_hour: 2 $/h}
"""
H, L, HEADS, D, F, V = 1024, 2, 8, 128, 4096, 1000
PEAK, BW, LINK = 1000e12, 2e12, 100e9
KERNEL = 4e-6
GEMM = 0.75  # dense GEMMs on an accelerator without a measured ceiling
PREFILL_ATTENTION = 521 / 989  # FlashAttention-3 forward, causal, head dim 128, 2k (Shah et al. 2024, Fig. 5e)


def prefill_attention(P):
    """FlashAttention-3's causal forward rate, head dim 128, at a P-token prompt (Fig. 5e): 292 at 512 and
    below, 521 at 2k, log-interpolated between 602 at 8k and 616 at 16k."""
    return {1: 292 / 989, 2048: PREFILL_ATTENTION, 10000: (602 + (math.log2(10000) - 13) * (616 - 602)) / 989}[P]
KERNELS = 4 + L * 6 + L * 4  # per step: embedding, final norm, LM head, sampling; 6 attention + 4 FFN per layer


def small(kv=8, count=1, **keys):
    text = SMALL % {"kv": kv, "count": count}
    return text, [f"{k.replace('__', '.')}={v}" for k, v in keys.items()]


def params(kv):
    layer = H * D * (2 * HEADS + 2 * kv) + 3 * H * F + 2 * H
    return 2 * layer + 2 * V * H + H


def matmul(kv):
    return params(kv) - V * H  # the input embedding is a lookup


def elementwise(tokens, t=1):
    """Element-wise bytes of `tokens` tokens on one of t tensor ranks, at 0.85 of bandwidth (the
    forward of the operator count in formulas.kernel_efficiency, Korthikanti et al. 2022 sec. 4.1):
    per layer 2 B x (10 h for two norms and two residual adds on every rank, plus 2 (q + kv) of RoPE
    and 3 f of the SwiGLU activation split over t), plus 8 B x vocab of FP32 logits written and read."""
    per_rank = L * 2 * 10 * H + 8 * V + L * 2 * (2 * (HEADS * D + 8 * D) + 3 * F) / t
    return tokens * per_rank / (0.85 * BW)


def per_key():
    return 2 * L * HEADS * (D + D)


def kv_per_token(kv):
    return 2 * L * kv * D * 2  # K and V, bf16


def test_prefill_counts_the_prompt_only(run):
    text, sets = small()
    r = run(text, *sets)
    P = 2304 - 256  # the prompt: context less the output tokens
    flops = 2 * matmul(8) * P + per_key() * P * (P + 1) / 2
    assert r["inference.prefill_flops"] == pytest.approx(flops, rel=1e-12)
    # one accelerator: weights phase is compute-bound, attention at FA3's 2k causal rate, then the kernel floor
    weights = max(2 * matmul(8) * P / (PEAK * GEMM), matmul(8) * 2 / (BW * 0.76))
    attention = per_key() * P * (P + 1) / 2 / (PEAK * PREFILL_ATTENTION)
    assert r["inference.prefill_seconds"] == pytest.approx(weights + attention + elementwise(P) + KERNELS * KERNEL,
                                                           rel=1e-12)
    # a whole-context prefill (the old convention) would cost 12% more FLOPs for this request
    whole = 2 * matmul(8) * 2304 + per_key() * 2304 * 2305 / 2
    assert whole / flops > 1.12


def test_decode_step_has_a_floor_of_kernels_and_all_reduces(run):
    text, sets = small(count=2, serving_layout__tensor=2, serving_layout__replicas=1)
    r = run(text, *sets)
    t, kv = 2, 8
    mean_keys = (256 * 2048 + 256 * 257 / 2) / 256  # mean keys a decoded token attends to
    weights = max(2 * matmul(kv) / t / (PEAK * GEMM), matmul(kv) * 2 / t / (BW * 0.76))
    attention = max(per_key() * mean_keys / t / (PEAK * 0.67), kv_per_token(kv) * mean_keys / t / (BW * 0.90))
    alpha = 6.6e-6 + 2 * (t - 1) * 0.6e-6  # NCCL base + one NVLink hop per step of reduce-scatter and all-gather
    all_reduce = alpha + H * 2 * (2 * (t - 1) / t) / (0.8 * LINK)
    floor = 2 * L * all_reduce + KERNELS * KERNEL
    step = weights + attention + elementwise(1, t) + floor
    assert r["inference.step_seconds"] == pytest.approx(step, rel=1e-12)
    assert r["inference.decode_seconds_per_token"] == pytest.approx(step, rel=1e-12)
    assert floor / r["inference.step_seconds"] > 0.5  # a tiny model is all floor


def test_kv_heads_replicate_past_the_tensor_degree(run):
    # 2 KV heads on a tensor group of 8: each head lives on 4 devices, so each device holds 1/2 of a
    # sequence's cache, not 1/8, and the batch that fits shrinks 4x against perfect sharding.
    text, sets = small(kv=2, count=8, serving_layout__tensor=8, serving_layout__replicas=1)
    r = run(text, *sets)
    usable = 80e9 * 0.9
    per_sequence = kv_per_token(2) * 2304  # prompt + output
    weights = params(2) * 2 / 8
    assert r["inference.max_batch"] == math.floor((usable - weights) / (per_sequence / 2))
    assert r["inference.max_batch"] < math.floor((usable - weights) / (per_sequence / 8)) / 3.9


def test_mla_latent_sits_whole_on_every_tensor_rank(run):
    text = ("model: {preset: deepseek-v3}\ncontext: 3072\nprecision: {weights: fp8}\n"
            "hardware: {preset: h200, count: 8}\ninference: {prompt_tokens: 1024, output_tokens: 2048}\n")
    tp = run(text, "serving_layout.tensor=8")
    dp = run(text, "serving_layout.tensor=1", "serving_layout.attention_data=8", "serving_layout.expert=8")
    per_sequence = 61 * (512 + 64) * 1 * 3072  # fp8 latent, prompt + output
    usable = 141e9 * 0.9
    routed = 58 * 256 * 3 * 7168 * 2048
    dense = tp["model.params"] - routed
    assert tp["inference.max_batch"] == math.floor((usable - (dense + routed) / 8) / per_sequence)
    assert dp["inference.max_batch"] == 8 * math.floor((usable - dense - routed / 8) / per_sequence)


def test_speculative_decoding_accepts_a_geometric_run_of_drafts(run):
    from qwenfeas.formulas.serving import accepted_tokens_per_step

    # Leviathan et al. 2023, eq. 1: (1 - a^(d+1)) / (1 - a)
    assert accepted_tokens_per_step(3, 0.85) == pytest.approx(1 + 0.85 + 0.85**2 + 0.85**3, rel=1e-12)
    assert accepted_tokens_per_step(0, 0.85) == pytest.approx(1.0)
    text, sets = small()
    plain = run(text, *sets)
    mtp = run(text, *sets, "inference.speculative.kind=mtp", "inference.speculative.draft_tokens=3",
              "inference.speculative.acceptance=0.85")
    accepted = 1 + 0.85 + 0.85**2 + 0.85**3
    assert mtp["inference.accepted_tokens_per_step"] == pytest.approx(accepted)
    # each draft costs one layer's share of the step; the verify step carries 4 tokens
    assert mtp["inference.step_seconds"] > plain["inference.step_seconds"] * (1 + 3 / L) * 0.999
    assert mtp["inference.tpot_seconds"] == pytest.approx(mtp["inference.step_seconds"] / accepted, rel=1e-12)


def test_one_user_sees_the_step_and_pays_the_prefill_once(run):
    text, sets = small()
    r = run(text, *sets)
    step, prefill = r["inference.step_seconds"], r["inference.prefill_seconds"]
    assert r["inference.tpot_seconds"] == pytest.approx(step, rel=1e-12)
    assert r["inference.ttft_seconds"] == pytest.approx(prefill + step, rel=1e-12)
    latency = prefill + 256 * step
    assert r["inference.tokens_per_second_per_user"] == pytest.approx(256 / latency, rel=1e-12)
    # cost: the accelerator-time split between prefill (input) and decode (output)
    share = prefill / latency
    assert r["inference.cost_per_million_output_tokens_usd"] == pytest.approx(
        (1 - share) * 2 / 3600 * latency / 256 * 1e6, rel=1e-9)
    assert r["inference.cost_per_million_input_tokens_usd"] == pytest.approx(
        share * 2 / 3600 * latency / 2048 * 1e6, rel=1e-9)
    # energy at the sustained share of TDP (0.77, POLCA), facility overhead and PUE
    assert r["inference.energy_per_million_output_tokens_kwh"] == pytest.approx(
        500 * 0.77 * 1.2 * 1.25 * latency / 256 * 1e6 / 3.6e6, rel=1e-9)


def batched_prefill_pass(prompts, P=2048, kv=8):
    """One prefill pass of `prompts` prompts of P tokens on one accelerator of the small model, by hand."""
    weights = max(2 * matmul(kv) * prompts * P / (PEAK * GEMM), matmul(kv) * 2 / (BW * 0.76))
    attention = prompts * per_key() * P * (P + 1) / 2 / (PEAK * prefill_attention(P))
    return weights + attention + elementwise(prompts * P) + KERNELS * KERNEL


def test_prefills_are_batched_up_to_the_token_budget(run):
    # TensorRT-LLM packs context requests up to max_num_tokens = 8192 per iteration: 8192 / 2048 = 4
    # prompts of this scenario share one pass (the batch of 16 has that many waiting); a lone user's
    # prompt is a pass of one.
    text, sets = small(count=1, inference__concurrency=16)
    r = run(text, *sets)
    assert r["serving_layout.batch"] == 16
    assert r["inference.prefill_pass_seconds"] == pytest.approx(batched_prefill_pass(4), rel=1e-12)
    assert r["inference.prefill_seconds_per_request"] == pytest.approx(batched_prefill_pass(4) / 4, rel=1e-12)
    assert r["inference.prefill_seconds"] == pytest.approx(batched_prefill_pass(1), rel=1e-12)
    assert r["inference.ttft_seconds"] == pytest.approx(batched_prefill_pass(4) + r["inference.step_seconds"],
                                                        rel=1e-12)
    # with 2 sequences in the batch only 2 prompts can wait together
    two = run(text, *small(count=1, inference__concurrency=2)[1])
    assert two["inference.prefill_seconds_per_request"] == pytest.approx(batched_prefill_pass(2) / 2, rel=1e-12)
    # a prompt longer than the budget runs alone: 10,000 tokens, one per pass
    long = run(text, *sets, "context=10256", "inference.prompt_tokens=10000")
    assert long["inference.prefill_seconds_per_request"] == pytest.approx(batched_prefill_pass(1, P=10000),
                                                                          rel=1e-12)


def test_attention_data_ranks_prefill_in_turn_unless_disaggregated():
    # TensorRT-LLM tech blog 10 (ADP balance): without a balancing scheduler one rank's context phase
    # holds every rank, so a pass carries one rank's prompts; a disaggregated prefill pool runs all ranks.
    from qwenfeas.serving.prefill import prompts_per_pass

    class Prompt:
        prompt = 1024.0

    assert prompts_per_pass(Prompt, 8, 4096, 1) == (8.0, 8.0)  # 8192 / 1024 per rank, one rank at a time
    assert prompts_per_pass(Prompt, 8, float("inf"), 8) == (8.0, 64.0)
    assert prompts_per_pass(Prompt, 8, 16, 1) == (2.0, 2.0)  # 16 waiting over 8 ranks: 2 each
    assert prompts_per_pass(Prompt, 8, 1, 1) == (1.0, 1.0)  # never less than one prompt

    class OneToken:
        prompt = 1.0

    assert prompts_per_pass(OneToken, 1, 1e6, 1) == (8192.0, 8192.0)  # one-token prompts: the whole budget


def test_a_disaggregated_pool_shares_one_pass_over_every_rank_s_prompts(run):
    # Qwen3-30B-A3B (128 experts, top-8) on 4 H100 as 4 attention ranks with EP4: a pool pass carries
    # 8192 / 1024 = 8 prompts on each of the 4 ranks, so the routed experts see 32,768 tokens at once
    from qwenfeas.serving.limits import _figures
    from qwenfeas.serving.prefill import prefill_pass_seconds, prefill_seconds_per_request

    r = run("model: {preset: qwen3-30b-a3b}\ncontext: 2048\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "hardware: {preset: h100-sxm, count: 4}\ninference: {prompt_tokens: 1024, output_tokens: 1024}\n"
            "serving_layout: {tensor: 1, attention_data: 4, expert: 4, replicas: 1, disaggregated: true}\n")
    s, m, d = _figures(r)
    inf = float("inf")
    together = prefill_pass_seconds(m, d, 1.0, 4.0, 4.0, inf, 4.0)
    assert r["inference.prefill_seconds_per_request"] == pytest.approx(together / 32, rel=1e-12)
    assert r["inference.prefill_pass_seconds"] == pytest.approx(together, rel=1e-12)
    assert prefill_seconds_per_request(m, d, 1.0, 4.0, 4.0, inf, 4.0) == pytest.approx(together / 32, rel=1e-12)
    # the experts' pass over all ranks' tokens is not the pass of one rank's prompts alone
    assert together != pytest.approx(prefill_pass_seconds(m, d, 1.0, 4.0, 4.0, inf, 1.0), rel=1e-3)


def test_continuous_batching_by_littles_law(run):
    text, sets = small(count=4, serving_layout__tensor=1, inference__concurrency=64)
    r = run(text, *sets)
    assert r["serving_layout.replicas"] == 4 and r["serving_layout.batch"] == 16
    step, prefill = r["inference.step_seconds"], batched_prefill_pass(4) / 4  # 4 prompts of 2048 per pass
    decode_rate = 16 / step
    requests = decode_rate / (256 + decode_rate * prefill)  # per replica
    assert r["inference.output_tokens_per_second"] == pytest.approx(4 * 256 * requests, rel=1e-12)
    assert r["inference.tokens_per_second_per_user"] == pytest.approx(4 * 256 * requests / 64, rel=1e-12)
    assert r["inference.tpot_seconds"] == pytest.approx((16 / requests - prefill) / 256, rel=1e-12)
    assert r["inference.tokens_per_second_per_accelerator"] == pytest.approx(256 * requests, rel=1e-12)


def test_the_decode_step_grows_with_the_batch_and_throughput_with_it(run):
    text, sets = small()
    rows = [run(text, *sets, f"inference.batch={b}") for b in (1, 8, 64)]
    speeds = [r["inference.batch_tokens_per_second"] for r in rows]
    steps = [r["inference.step_seconds"] for r in rows]
    assert steps[0] < steps[1] < steps[2] and speeds[0] < speeds[1] < speeds[2]
    assert speeds[2] == pytest.approx(64 / steps[2], rel=1e-12)


def test_moe_busiest_device_sets_the_pace():
    from qwenfeas.formulas.serving import busiest_device_assignments, busiest_device_experts

    # 1 token, top-8 of 256 over 8 devices: 8 experts touched, 1 per device on average,
    # the busiest holds 1 + sqrt(2 ln 8) = 2.04 of them (Raab and Steger 1998)
    assert busiest_device_experts(256, 8, 1, 8) == pytest.approx(1 + math.sqrt(2 * math.log(8)))
    # thousands of tokens touch every expert: the busiest device holds its 32
    assert busiest_device_experts(256, 8, 4096, 8) == pytest.approx(32)
    assert busiest_device_assignments(1024, 8, 8) == pytest.approx(1024 + math.sqrt(2 * 1024 * math.log(8)))
    assert busiest_device_experts(256, 8, 1, 1) == pytest.approx(8)  # no expert parallelism: all on one


def test_a_batch_that_overflows_names_the_batch_that_fits_not_a_batch_one_figure(run):
    text = "model: {preset: qwen3-235b-a22b}\ncontext: 128K\nhardware: {preset: h200}\ninference: {accelerators: 8}\n"
    one = run(text)
    fits = int(one["inference.max_batch"])
    many = run(text, f"inference.batch={4 * fits}")
    check = judge(many).checks[0]
    assert not check.passed
    assert f"at most {fits:,} sequences per replica fit" in check.remedy
    longest = int(re.search(r"longest prompt \+ output that fits is ([\d,]+) tokens", check.remedy).group(1)
                  .replace(",", ""))
    assert longest < 128_000 / 3  # at 4x the batch, well under a third of 128K fits
    # and it does fit: that many tokens per sequence at this batch passes the memory check
    shorter = run(text, f"inference.batch={4 * fits}", f"context={longest}")
    assert judge(shorter).checks[0].passed
    assert "0 parameters" not in check.remedy


def test_no_model_of_zero_parameters_is_offered(run):
    # 100M tokens of GQA cache on 72 accelerators: nothing fits beside it, so no model size is offered
    text = ("model: {preset: qwen3-235b-a22b}\ncontext: 100M\nprecision: {kv_cache: fp8}\n"
            "hardware: {preset: gb200}\ninference: {accelerators: 72}\n")
    check = judge(run(text)).checks[0]
    assert not check.passed and "parameters" not in check.remedy


def test_sweeping_the_batch_notes_only_the_batches_that_do_not_fit(write):
    from qwenfeas.commands.sweep import Sweep, parse_axis

    path = write("model: {preset: qwen3-235b-a22b}\ncontext: 128K\nhardware: {preset: h200}\n"
                 "inference: {accelerators: 8}\n")
    grid = Sweep(str(path), [parse_axis("inference.batch=1,2,4,8,16,32,64,128")])
    chunk = next(iter(grid.chunks()))
    fits = chunk.column("inference.max_batch")[0]
    notes = [n for n in chunk.report.notes if "does not fit" in n]
    assert 8 < fits < 32 and notes
    assert notes[0].startswith("inference.batch 16 to 128 does not fit") or \
        notes[0].startswith("inference.batch 32 to 128 does not fit")
    speeds = chunk.column("inference.batch_tokens_per_second")
    steps = chunk.column("inference.step_seconds")
    assert speeds[3] == pytest.approx(8 / steps[3]) and speeds[3] > 2 * speeds[0]  # batched speed, not one sequence's


R1_MAX = "configs/published/r1-b200-throughput.yaml"


def _plugged(row_or_remedy) -> list[str]:
    """The --set assignments that write a frontier row or a remedy's layout back into the scenario."""
    if isinstance(row_or_remedy, dict):
        keys = ("tensor", "attention_data", "expert", "replicas")
        sets = [f"serving_layout.{k}={row_or_remedy[f'serving_layout.{k}']:g}" for k in keys]
        sets.append(f"serving_layout.disaggregated={'true' if row_or_remedy['serving_layout.disaggregated'] else 'false'}")
        return [*sets, f"inference.concurrency={row_or_remedy['inference.concurrency']:g}"]
    found = re.search(r"tensor (\S+), attention_data (\S+), expert (\S+), replicas (\S+), disaggregated (\S+) and "
                      r"inference.concurrency (\S+):", row_or_remedy)
    t, a, e, replicas, split, concurrency = found.groups()
    return [f"serving_layout.tensor={t}", f"serving_layout.attention_data={a}", f"serving_layout.expert={e}",
            f"serving_layout.replicas={replicas}", f"serving_layout.disaggregated={split}",
            f"inference.concurrency={concurrency}"]


def test_frontier_points_meet_the_target_and_none_dominates_another():
    import qwenfeas
    from qwenfeas.serving.frontier import serving_frontier

    report = qwenfeas.estimate(qwenfeas.load(R1_MAX))
    result = serving_frontier(report, tpot=0.050)
    rows = result.rows
    assert len(rows) >= 5
    user = [row["inference.tokens_per_second_per_user"] for row in rows]
    accel = [row["inference.tokens_per_second_per_accelerator"] for row in rows]
    for i in range(len(rows)):
        assert rows[i]["inference.tpot_seconds"] <= 0.050
        for j in range(len(rows)):
            if i != j:  # j dominates i if at least as good on both and better on one
                assert not (user[j] >= user[i] and accel[j] >= accel[i] and (user[j], accel[j]) != (user[i], accel[i]))
    best = rows[result.best]
    assert best["inference.tokens_per_second_per_accelerator"] == max(accel)
    # a frontier row written back into the scenario gives the figures it promised
    for row in (rows[0], best):
        again = qwenfeas.estimate(qwenfeas.load(R1_MAX, _plugged(row)))
        for name in ("inference.tpot_seconds", "inference.tokens_per_second_per_user",
                     "inference.tokens_per_second_per_accelerator"):
            assert again[name] == pytest.approx(row[name], rel=1e-9), name


def test_check_with_a_tpot_limit_fails_and_its_remedy_passes_when_plugged_back():
    from typer.testing import CliRunner

    from qwenfeas.cli import app

    failed = CliRunner().invoke(app, ["check", R1_MAX, "--format", "json"])
    assert failed.exit_code == 1
    import json

    check = next(c for c in json.loads(failed.stdout)[0]["checks"] if c["name"] == "limits.tpot")
    assert not check["passed"] and check["remedy"].startswith("would pass with serving_layout")
    sets = [arg for pair in _plugged(check["remedy"]) for arg in ("--set", pair)]
    passed = CliRunner().invoke(app, ["check", R1_MAX, *sets, "--format", "json"])
    assert passed.exit_code == 0, passed.stdout
    assert all(c["passed"] for c in json.loads(passed.stdout)[0]["checks"])


def test_serve_command_prints_the_frontier_as_json_and_marks_the_best():
    import json

    from typer.testing import CliRunner

    from qwenfeas.cli import app

    result = CliRunner().invoke(app, ["serve", R1_MAX, "--tpot", "50ms", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tpot_limit_seconds"] == pytest.approx(0.05) and data["accelerators"] == 8
    assert data["frontier"][data["best"]]["inference.tpot_seconds"] <= 0.05
    bad = CliRunner().invoke(app, ["serve", R1_MAX, "--tpot", "fast"])
    assert bad.exit_code == 2
    table = CliRunner().invoke(app, ["serve", R1_MAX, "--tpot", "50ms"])
    assert table.exit_code == 0 and "best" in table.stdout and "serving frontier on 8 accelerators" in table.stdout
    rows = CliRunner().invoke(app, ["serve", R1_MAX, "--tpot", "50ms", "--format", "csv"]).stdout.splitlines()
    assert rows[0].startswith("best,serving_layout.tensor") and len(rows) == len(data["frontier"]) + 1


def test_published_anchors_within_their_tolerance():
    from qwenfeas.commands import validation

    results = {r.case: r for r in validation.run(["deepseek-r1-b200-min-latency", "deepseek-r1-b200-max-throughput"])}
    for result in results.values():
        assert abs(result.error) <= 0.35, (result.case, result.computed, result.published)


def test_a_prefix_cache_hit_prefills_only_the_rest_of_the_prompt(run):
    text, sets = small()
    r = run(text, *sets, "inference.prefix_cache_hit=0.5")
    P, hit = 2048, 1024  # half the prompt is cached: 1,024 new tokens attend to 1,024 cached ones and each other
    keys = hit * hit + hit * (hit + 1) / 2
    weights = max(2 * matmul(8) * hit / (PEAK * GEMM), matmul(8) * 2 / (BW * 0.76))
    attention = per_key() * keys / (PEAK * PREFILL_ATTENTION)  # queries attend up to the whole 2,048 prompt
    assert r["inference.prefill_seconds"] == pytest.approx(weights + attention + elementwise(hit) + KERNELS * KERNEL,
                                                           rel=1e-12)
    # the input tokens billed are the whole prompt, cached or not
    full = run(text, *sets)
    assert r["inference.prefill_seconds"] < full["inference.prefill_seconds"]
    assert r["inference.cost_per_million_input_tokens_usd"] < full["inference.cost_per_million_input_tokens_usd"]
    assert r["inference.prefill_flops"] == full["inference.prefill_flops"] == pytest.approx(
        2 * matmul(8) * P + per_key() * P * (P + 1) / 2)  # the whole prompt's FLOPs, however many are cached


def test_serving_formulas_by_hand():
    import numpy as np

    from qwenfeas.formulas import serving as S

    # DeepSeek-V3 decode in MLA's absorbed form: 2 * 61 layers * 128 heads * (2 * 512 + 64) per cached token
    assert S.mla_absorbed_flops_per_key(61, 128, 512, 64) == 2 * 61 * 128 * 1088
    # a collective over the network: NCCL base 6.6 us plus 5 us per hop past the scale-up domain
    assert S.collective_latency_seconds(16, 1, 8) == pytest.approx(6.6e-6 + 15 * 5e-6)
    assert S.collective_latency_seconds(8, 2, 8) == pytest.approx(6.6e-6 + 2 * 7 * 0.6e-6)
    assert S.collective_latency_seconds(1, 2, 8) == 0.0
    # an all-to-all sends to every peer at once: one hop of latency at any size (DeepEP: 77 us at EP8,
    # 194 us at EP256), then its bytes at 0.8 of the link
    assert S.all_to_all_seconds(0.0, 72, 50e9, 8) == pytest.approx(6.6e-6 + 5e-6)
    assert S.all_to_all_seconds(8e6, 8, 450e9, 8) == pytest.approx(6.6e-6 + 0.6e-6 + 8e6 / (0.8 * 450e9))
    assert S.all_to_all_seconds(0.0, 1, 450e9, 8) == 0.0
    # routed experts stream at 0.48 of bandwidth and compute at 0.55 of peak (DeepGEMM midpoints)
    assert S.phase_seconds(0.0, 48e9, 1e15, S.GROUPED_GEMM_EFFICIENCY, 100e9, S.EXPERT_BANDWIDTH_EFFICIENCY) == \
        pytest.approx(1.0)
    assert S.phase_seconds(55e12, 0.0, 1e14, S.GROUPED_GEMM_EFFICIENCY, 1e12, S.EXPERT_BANDWIDTH_EFFICIENCY) == \
        pytest.approx(1.0)
    # $2/h for 8 accelerators making 1,000 tokens/s: 8 * 2 / 3600 / 1000 * 1e6 = $4.44 per million
    assert S.cost_per_million_tokens_usd(8, 2.0, 1000.0) == pytest.approx(8 * 2 / 3.6, rel=1e-12)
    # the same formulas over numpy arrays (a sweep), element by element
    ep = np.array([1.0, 8.0])
    assert np.allclose(S.busiest_device_experts(256, 8, 1, ep), [8.0, 1 + math.sqrt(2 * math.log(8))])
    assert np.allclose(S.busiest_device_assignments(1024, 8, ep), [8192.0, 1024 + math.sqrt(2 * 1024 * math.log(8))])
    assert np.allclose(S.accepted_tokens_per_step(np.array([0.0, 3.0]), 1.0), [1.0, 4.0])
    assert np.allclose(S.kv_shards(np.array([4.0, 16.0]), 8), [4.0, 8.0])
    requests, tpot, share = S.steady_state(0.01, 1.0, 1.0, 100.0, 0.5)
    assert requests == pytest.approx(1 / (100 * 0.01 + 0.5)) and tpot == pytest.approx(0.01)
    assert share == pytest.approx(0.5 / 1.5)


def test_dense_gemms_reach_the_measured_ceiling_of_their_accelerator_and_precision():
    # Hopper's sustained rates (stas00/ml-engineering mamf-finder v4 MSMF, benchmarks README, on H200; H100
    # and H800 the same die at the same 700 W): FP8 1337 of 1979 TFLOP/s, BF16 745 of 989; the
    # max-achievable table: B200 BF16 1745 of 2250 and FP8 3433 of 4500; B200 FP4 5702 of 9000 (DeepGEMM PR #348, 8192^3,
    # MXFP4; NVFP4 the same instruction); GB200 has no FP4 measurement: its FP8 3616 of 5000; none: 0.75
    from qwenfeas.formulas.accelerators import gemm_ceiling

    assert gemm_ceiling("h100-sxm", "fp8") == pytest.approx(1337 / 1979)
    assert gemm_ceiling("h800", "fp8") == pytest.approx(1337 / 1979)
    assert gemm_ceiling("h200", "fp8") == pytest.approx(1337 / 1979)
    assert gemm_ceiling("b200", "bf16") == pytest.approx(1745 / 2250)
    assert gemm_ceiling("b200", "fp8") == pytest.approx(3433 / 4500)
    assert gemm_ceiling("b200", "fp4") == gemm_ceiling("b200", "mxfp4") == pytest.approx(5702 / 9000)
    assert gemm_ceiling("b200", "int4") == pytest.approx(3433 / 4500)  # not an FP4 tensor-core format
    assert gemm_ceiling("gb200", "fp4") == pytest.approx(3616 / 5000)
    assert gemm_ceiling("h200", "fp4") == pytest.approx(1337 / 1979)
    assert gemm_ceiling("tpu-v5p", "bf16") == gemm_ceiling(None, "fp8") == 0.75
    assert gemm_ceiling("h100-sxm", "int8") == gemm_ceiling("h100-sxm", "int4") == pytest.approx(1337 / 1979)
    assert gemm_ceiling("h100-sxm", "bf16") == pytest.approx(745 / 989)


def test_a_large_batch_decode_on_h200_runs_its_gemms_at_the_h200_fp8_ceiling(run):
    # Llama 3.1 8B FP8 on one H200 at batch 512: 2 x 7.5e9 x 512 FLOPs take longer at 1337 TFLOP/s
    # than 7.5 GB at 0.76 x 4.8 TB/s, so the weight phase is compute-bound at the measured ceiling.
    r = run("model: {preset: llama-3.1-8b}\ncontext: 2048\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "hardware: {preset: h200, count: 1}\ninference: {prompt_tokens: 1024, output_tokens: 1024, batch: 64}\n",
            "inference.batch=512", "serving_layout.tensor=1")
    dense = r["model.matmul_params"]
    assert r.terms["decode_weights_seconds"].value == pytest.approx(2 * dense * 512 / (1979e12 * 1337 / 1979),
                                                                    rel=1e-9)


def test_moe_element_wise_work_moves_the_permutation_only_without_an_expert_all_to_all(run):
    # Qwen3-30B-A3B (config.json: 48 layers, hidden 2048, 32 query and 4 KV heads of 128, 128 experts of
    # width 768, top-8, vocab 151,936, SwiGLU), bf16 activations, forward only, per token:
    # every rank: 2 norms and 2 residual adds (10 h) per layer + 8 B x vocab of FP32 logits;
    # split over tensor ranks: RoPE on q and kv (2 (q + kv)) and the activation over 8 x 768 (3 f);
    # the permutation, unpermutation and weighted sum of 8 copies (5 k h), unless dispatch/combine does it
    from qwenfeas.serving.decode import elementwise_phase
    from qwenfeas.serving.limits import _figures

    r = run("model: {preset: qwen3-30b-a3b}\ncontext: 2048\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "hardware: {preset: h100-sxm, count: 2}\ninference: {prompt_tokens: 1024, output_tokens: 1024}\n"
            "serving_layout: {tensor: 2, replicas: 1}\n")
    s, m, d = _figures(r)
    every = 48 * 2 * 10 * 2048 + 8 * 151936
    split = 48 * 2 * (2 * (32 * 128 + 4 * 128) + 3 * 8 * 768)
    permute = 48 * 2 * 5 * 8 * 2048
    assert (m.elementwise_replicated, m.elementwise_split, m.elementwise_permute) == pytest.approx((every, split, permute))
    bandwidth = 3.35e12 * 0.85
    assert elementwise_phase(m, d, 100, 2, 1) == pytest.approx(100 * (every + split / 2 + permute) / bandwidth)
    assert elementwise_phase(m, d, 100, 1, 4) == pytest.approx(100 * (every + split) / bandwidth)



def test_disaggregated_serving_decodes_at_the_step_and_sizes_its_prefill_pool_from_batched_prefill(run):
    # one decode accelerator at batch 16 with one draft token accepted half the time (1.5 tokens a step):
    # X = 16 x 1.5 / (step x 256) requests/s; the pool prefills 8192 / 2048 = 4 prompts a pass, so it
    # needs X x pass / 4 accelerators; TTFT = a pass + the prompt's KV over the link (no network given:
    # the 100 GB/s scale-up link at 0.8) + one step
    text, sets = small(inference__concurrency=16, serving_layout__disaggregated="true")
    r = run(text, *sets, "inference.speculative.kind=mtp", "inference.speculative.draft_tokens=1",
            "inference.speculative.acceptance=0.5")
    step, accepted = r["inference.step_seconds"], 1.5
    assert r["inference.accepted_tokens_per_step"] == pytest.approx(accepted)
    requests = 16 * accepted / (step * 256)
    pool = requests * batched_prefill_pass(4) / 4
    assert r["inference.prefill_seconds_per_request"] == pytest.approx(batched_prefill_pass(4) / 4, rel=1e-12)
    assert r["inference.output_tokens_per_second"] == pytest.approx(requests * 256, rel=1e-12)
    assert r["inference.tpot_seconds"] == pytest.approx(step / accepted, rel=1e-12)
    transfer = 2048 * kv_per_token(8) / (0.8 * LINK)
    assert r["inference.ttft_seconds"] == pytest.approx(batched_prefill_pass(4) + transfer + step, rel=1e-12)
    assert r["inference.tokens_per_second_per_accelerator"] == pytest.approx(requests * 256 / (1 + pool), rel=1e-12)
    assert r["inference.tokens_per_second_per_user"] == pytest.approx(requests * 256 / 16, rel=1e-12)
    # the rented time splits between the pool's share, pool / (1 + pool), and decoding
    share = pool / (1 + pool)
    assert r["inference.cost_per_million_input_tokens_usd"] == pytest.approx(
        share * (1 + pool) * 2 / 3600 / (requests * 2048) * 1e6, rel=1e-9)
    assert r["inference.cost_per_million_output_tokens_usd"] == pytest.approx(
        (1 - share) * (1 + pool) * 2 / 3600 / (requests * 256) * 1e6, rel=1e-9)


def test_requests_past_the_caches_wait_in_a_queue_counted_in_the_first_token(run):
    # 80 GB less 10%, less the weights, over one 2,304-token cache: 3,810 sequences fit; 5,000 are asked
    text, sets = small(inference__concurrency=5000)
    r = run(text, *sets)
    fits = math.floor((80e9 * 0.9 - params(8) * 2) / (kv_per_token(8) * 2304))
    assert r["inference.max_batch"] == fits == r["serving_layout.batch"] == 3810
    step, prefill = r["inference.step_seconds"], batched_prefill_pass(4) / 4
    decode_rate = fits / step
    requests = decode_rate / (256 + decode_rate * prefill)
    queue = (5000 - fits) / requests
    assert r["inference.ttft_seconds"] == pytest.approx(batched_prefill_pass(4) + step + queue, rel=1e-12)
    assert r["inference.tokens_per_second_per_user"] == pytest.approx(requests * 256 / 5000, rel=1e-12)


def test_replicas_multiply_the_input_and_one_request_spreads_no_thinner_than_a_sequence_each(run):
    # 4 replicas of one accelerator; a single request in flight still keeps one sequence on each replica
    # (the batch never drops below 1), so the deployment's rate is shared by 4 sequences, not 1
    text, sets = small(count=4, serving_layout__tensor=1, inference__concurrency=1)
    r = run(text, *sets)
    assert r["serving_layout.replicas"] == 4 and r["serving_layout.batch"] == 1
    step, prefill = r["inference.step_seconds"], batched_prefill_pass(1)
    requests = (1 / step) / (256 + prefill / step)
    assert r["inference.output_tokens_per_second"] == pytest.approx(4 * 256 * requests, rel=1e-12)
    assert r["inference.tokens_per_second_per_user"] == pytest.approx(256 * requests, rel=1e-12)
    share = requests * prefill
    assert r["inference.cost_per_million_input_tokens_usd"] == pytest.approx(
        share * 4 * 2 / 3600 / (4 * 2048 * requests) * 1e6, rel=1e-9)



def test_each_draft_token_costs_a_layer_s_share_of_every_part_of_the_step(run):
    # DeepSeek-V3 with one MTP draft on 8 H200 as attention DP8 + EP8: the draft pass costs 1 / 61 of the
    # step's weights, experts, attention, collectives (the expert dispatch and combine included),
    # element-wise work and kernels
    r = run("model: {preset: deepseek-v3}\ncontext: 3072\nprecision: {weights: fp8}\n"
            "hardware: {preset: h200, count: 8}\ninference: {prompt_tokens: 1024, output_tokens: 2048, batch: 64}\n"
            "serving_layout: {tensor: 1, attention_data: 8, expert: 8, replicas: 1}\n",
            "inference.speculative.kind=mtp", "inference.speculative.draft_tokens=1",
            "inference.speculative.acceptance=0.85")
    parts = ("weights", "experts", "attention", "tensor_collectives", "expert_collectives", "elementwise", "kernels")
    core = sum(r.terms[f"decode_{p}_seconds"].value for p in parts)
    assert r.terms["decode_expert_collectives_seconds"].value > 0
    assert r.terms["decode_drafts_seconds"].value == pytest.approx(core / 61, rel=1e-12)
    assert r["inference.step_seconds"] == pytest.approx(core * (1 + 1 / 61), rel=1e-12)


def test_a_sequence_s_cache_stops_growing_in_banded_layers_and_adds_a_fixed_state_in_linear_ones(run):
    # gpt-oss-120b (config.json: 36 layers, 8 KV heads of 64, 18 of them banded to 128 tokens), bf16
    # cache, 4,096 tokens of prompt + output: 36 x 8 x 64 x 2 x 2 B per token, less the banded layers'
    # share past their 128-token window
    r = run("model: {preset: gpt-oss-120b}\ncontext: 4096\nhardware: {preset: h100-sxm, count: 1}\n"
            "inference: {prompt_tokens: 2048, output_tokens: 2048}\nserving_layout: {tensor: 1, replicas: 1}\n")
    full, banded = 36 * 8 * 64 * 2 * 2, 18 * 8 * 64 * 2 * 2
    sequence = full * 4096 - banded * (4096 - 128)
    usable = 80e9 * 0.9
    assert r["inference.max_batch"] == math.floor((usable - r["memory.weights_bytes"]) / sequence)
    # Qwen3-Next-80B-A3B: 12 gated-attention layers of 2 KV heads of 256 cache 12 KiB a token at fp8; the
    # 36 Gated DeltaNet layers keep a state of fixed size per sequence, whatever its length
    r = run("model: {preset: qwen3-next-80b-a3b}\ncontext: 4096\nhardware: {preset: h200, count: 1}\n"
            "precision: {weights: fp8, kv_cache: fp8}\ninference: {prompt_tokens: 2048, output_tokens: 2048}\n"
            "serving_layout: {tensor: 1, replicas: 1}\n")
    state = r["kv_cache.state_bytes_per_sequence"]
    assert state > 0
    sequence = 12 * 2 * 256 * 2 * 1 * 4096 + state
    assert r["inference.max_batch"] == math.floor((141e9 * 0.9 - r["memory.weights_bytes"]) / sequence)



def test_a_dense_model_has_no_routed_experts_to_serve(run):
    from qwenfeas.serving.limits import _figures

    text, sets = small()
    s, m, d = _figures(run(text, *sets))
    assert not m.moe and m.expert_params == 0 and m.moe_layers == 0 and m.top_k == 0
    assert m.kernels == KERNELS


def test_fp4_weights_take_their_block_scales_nvfp4_4_5_bits_and_mxfp4_4_25():
    # NVFP4 (NVIDIA blog "Introducing NVFP4"): 16 E2M1 values (4 bits each) share one E4M3 scale (8 bits):
    # (16 x 4 + 8) / 16 = 4.5 bits = 0.5625 B a value. MXFP4 (OCP MX v1.0): 32 values share one E8M0 scale:
    # (32 x 4 + 8) / 32 = 4.25 bits = 0.53125 B.
    from qwenfeas.formulas.accelerators import block_scaled_bytes
    from qwenfeas.scenario.fields import PRECISION_BYTES

    assert block_scaled_bytes(4, 16, 8) == (16 * 4 + 8) / 16 / 8 == 0.5625
    assert block_scaled_bytes(4, 32, 8) == (32 * 4 + 8) / 32 / 8 == 0.53125
    assert block_scaled_bytes(8, 32, 8) == (32 * 8 + 8) / 32 / 8  # MXFP8: 8.25 bits
    assert PRECISION_BYTES["fp4"] == 0.5625 and PRECISION_BYTES["mxfp4"] == 0.53125


def test_fp4_weights_of_llama_70b_take_4_5_bits_each(run):
    # Llama 3.1 70B: 70.55e9 parameters (config.json shapes); at NVFP4 every one takes 4.5 / 8 B
    r = run("model: {preset: llama-3.1-70b}\ncontext: 2000\nprecision: {weights: fp4, kv_cache: fp8, compute: fp4}\n"
            "hardware: {preset: b200, count: 1}\ninference: {prompt_tokens: 1000, output_tokens: 1000}\n")
    assert r["memory.weights_bytes"] == pytest.approx(r["model.params"] * 4.5 / 8, rel=1e-12)


def test_decode_attention_on_b200_reads_the_cache_at_its_measured_share_of_bandwidth(run):
    # Llama 3.1 70B (80 layers, 8 KV heads of 128), FP8 cache: 80 x 2 x 8 x 128 x 1 B = 163,840 B a token.
    # With 1000-token prompts the t-th of 1000 outputs attends 1000 + t keys: 1500.5 on average, so a step
    # of batch 64 reads 64 x 163,840 x 1500.5 B, at B200's 5,830.86 of 8,000 GB/s (flashinfer PR #1415,
    # trtllm-gen decode kernel); on H200 at FlashMLA's 0.90 of 4.8 TB/s.
    base = ("model: {preset: llama-3.1-70b}\ncontext: 2000\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "inference: {prompt_tokens: 1000, output_tokens: 1000, batch: 64}\nserving_layout: {tensor: 1, replicas: 1}\n")
    mean_keys = 1000 + (1000 - 1) / 2 + 1  # keys attended per decoded token, mean over the 1000 outputs
    kv = 64 * 80 * 2 * 8 * 128 * 1 * mean_keys
    b200 = run(base + "hardware: {preset: b200, count: 1}\n")
    assert b200.terms["decode_attention_seconds"].value == pytest.approx(kv / (8e12 * 5830.86e9 / 8e12), rel=1e-3)
    h200 = run(base + "hardware: {preset: h200, count: 1}\n")
    assert h200.terms["decode_attention_seconds"].value == pytest.approx(kv / (4.8e12 * 0.90), rel=1e-3)


def test_a_padded_cuda_graph_batch_is_the_next_power_of_two_up_to_8192():
    # TensorRT-LLM's perf overview captures graphs at 1, 2, 4, ... 8192 with padding on (tech blog 20):
    # 343 sequences run the 512 graph, 256 its own, half a sequence per rank the graph of 1; past 8192 no
    # graph, no padding; without padding the batch is what it is.
    import numpy as np

    from qwenfeas.formulas import serving as S

    assert S.padded_batch(343.0, True) == 512.0
    assert S.padded_batch(256.0, True) == 256.0
    assert S.padded_batch(257.0, True) == 512.0
    assert S.padded_batch(1.0, True) == 1.0
    assert S.padded_batch(0.5, True) == 1.0
    assert S.padded_batch(3.0, True) == 4.0
    assert S.padded_batch(8192.0, True) == 8192.0
    assert S.padded_batch(8193.0, True) == 8193.0
    assert S.padded_batch(343.0, False) == 343.0
    assert np.allclose(S.padded_batch(np.array([5.0, 1024.0, 9000.0]), True), [8.0, 1024.0, 9000.0])


def test_an_all_to_all_of_two_pays_one_collective_start_and_one_nvlink_hop():
    # NCCL base 6.6 us + one NVLink hop 0.6 us (tuning.cc), then 1 MB at 0.8 x 100 GB/s = 12.5 us
    from qwenfeas.formulas import serving as S

    assert S.all_to_all_seconds(1e6, 2, 100e9, 8) == pytest.approx(6.6e-6 + 0.6e-6 + 1e6 / (0.8 * 100e9))
    assert S.all_to_all_seconds(1e6, 1, 100e9, 8) == pytest.approx(1e6 / (0.8 * 100e9))


def test_padding_to_a_cuda_graph_computes_the_empty_slots_but_reads_no_more_cache(run):
    # Llama 3.1 8B FP8 on one H200 at batch 300 with doubling graphs: the 512 graph runs, so the weight
    # GEMMs (compute-bound at 1337 TFLOP/s: 2 x 7.5e9 x 512 FLOPs) and the element-wise work scale by
    # 512 / 300, while the KV reads (the attention phase, memory-bound) stay those of 300 sequences.
    base = ("model: {preset: llama-3.1-8b}\ncontext: 2048\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "hardware: {preset: h200, count: 1}\nserving_layout: {tensor: 1, replicas: 1}\n"
            "inference: {prompt_tokens: 1024, output_tokens: 1024, batch: 300")
    plain, padded = run(base + "}\n"), run(base + ", graph_padding: doubling}\n")
    dense = padded["model.matmul_params"]
    assert padded.terms["decode_weights_seconds"].value == pytest.approx(2 * dense * 512 / 1337e12, rel=1e-9)
    assert plain.terms["decode_weights_seconds"].value == pytest.approx(2 * dense * 300 / 1337e12, rel=1e-9)
    assert padded.terms["decode_elementwise_seconds"].value == pytest.approx(
        plain.terms["decode_elementwise_seconds"].value * 512 / 300, rel=1e-9)
    assert padded.terms["decode_attention_seconds"].value == plain.terms["decode_attention_seconds"].value
    assert padded["serving_layout.batch"] == plain["serving_layout.batch"] == 300
