"""Multi-token prediction (MTP) in training: parameters, FLOPs, step time and memory of the MTP
modules, each checked against DeepSeek-V3's config.json worked out by hand.

DeepSeek-V3 config (deepseek-ai/DeepSeek-V3 config.json): hidden 7,168, 128 heads, q_lora_rank 1,536,
kv_lora_rank 512, qk_nope 128, qk_rope 64, v_head 128, 256 routed experts (top-8) + 1 shared of 2,048,
vocab 129,280, num_nextn_predict_layers 1. The MTP module (report arXiv 2412.19437 sec. 2.2): one
transformer block (MLA + MoE), two RMSNorms on its inputs and one on its output, the projection M_k
of 2h x h, the shared embedding and output head.
"""

import pytest

from qwenfeas.formulas.pipeline import mtp_head_passes

H, V = 7168, 129_280
# MLA weights of one layer: q down (h x 1536) + its norm + q up (1536 x 128 x (128 + 64)) + kv down
# (h x (512 + 64)) + its norm + kv up (512 x 128 x (128 + 128)) + output (128 x 128 x h)
MLA = H * 1536 + 1536 + 1536 * 128 * 192 + H * 576 + 512 + 512 * 128 * 256 + 128 * 128 * H
EXPERT = 3 * H * 2048  # one SwiGLU expert
ROUTER = H * 256
MTP_EXTRA = 2 * H + 2 * H * H + 3 * H  # block norms, M_k, the input and output norms
MTP_ALL = MLA + ROUTER + 257 * EXPERT + MTP_EXTRA  # 256 routed + 1 shared
MTP_ACTIVE = MLA + ROUTER + 9 * EXPERT + MTP_EXTRA  # 8 routed + 1 shared
ATTENTION_PER_KEY = 2 * 128 * (192 + 128)  # one MLA layer, forward

DSV3 = """
model: {preset: deepseek-v3}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 16777216, attention_term: causal}
precision: {compute: fp8}
hardware: {preset: h800, count: 256}
parallel: {tensor: 1, pipeline: %s, expert: 8, data: %s, schedule: 1f1b, micro_batch: 1, zero: 1}
"""


def test_hand_counts_match_the_readme_figures():
    assert MLA == 187_107_328 and MTP_ALL == 11_610_067_968  # README_WEIGHTS: 11.5B unique MTP weights
    assert MTP_ACTIVE == 688_100_352


def test_mtp_flops_are_one_more_block_head_pass_and_attention_layer_per_token(run):
    r = run(DSV3 % (16, 16))
    assert r["model.mtp_params"] == MTP_ALL
    assert r["model.params"] == pytest.approx(671.03e9, rel=1e-4)  # the 671B convention: MTP not included
    keys = (4096 + 1) / 2  # causal keys per token at 4K
    per_token = 6 * (MTP_ACTIVE + V * H) + 3 * ATTENTION_PER_KEY * keys
    assert r["training.mtp_flops"] == pytest.approx(per_token * 1e12, rel=1e-12)
    assert r["training.flops"] == pytest.approx(
        r["training.dense_flops"] + r["training.attention_flops"] + per_token * 1e12, rel=1e-12)
    # the MFU counts the MTP module (Megatron-Bridge's model FLOPs): numerator is training.flops
    assert r["training.mfu"] == pytest.approx(
        r["training.flops"] / (r["training.seconds"] * 256 * r.scenario["hardware.peak_flops"]), rel=1e-12)


def test_without_mtp_layers_training_is_the_main_model_alone(run):
    r = run(DSV3 % (16, 16), "model.mtp_layers=0")
    assert "training.mtp_flops" not in r.metrics and "model.mtp_params" not in r.metrics
    assert r["training.flops"] == r["training.dense_flops"] + r["training.attention_flops"]


def test_the_head_passes_the_slowest_stage_paces():
    # DeepSeek-V3 on 16 stages: the model's own head plus 1/16 of the MTP depth's pass
    assert mtp_head_passes(1, 16) == 1 + 1 / 16
    assert mtp_head_passes(3, 1) == 4  # no pipeline: every pass on the one stage
    assert mtp_head_passes(0, 8) == 1


def test_the_work_counts_the_mtp_block_as_one_more_moe_layer(work):
    with_mtp, w = work(DSV3 % (16, 16))
    without, w0 = work((DSV3 % (16, 16)).replace("preset: deepseek-v3}", "preset: deepseek-v3, mtp_layers: 0}"))
    assert (w.layers, w.moe_layers, w.dense_layers, w.full_layers) == (62, 59, 3, 62)
    assert (w0.layers, w0.moe_layers) == (61, 58)
    assert w.routed - w0.routed == 256 * EXPERT
    assert w.shared - w0.shared == MTP_ALL - 256 * EXPERT
    # GEMM weights a token multiplies outside the routed experts and the head: the block less its 8 experts
    assert w.body - w0.body == MTP_ACTIVE - 8 * EXPERT
    assert w.head_passes == 2 and w0.head_passes == 1


def test_step_time_grows_by_the_mtp_work(run):
    with_mtp, without = run(DSV3 % (16, 16)), run(DSV3 % (16, 16), "model.mtp_layers=0")
    assert with_mtp["training.step_seconds"] > without["training.step_seconds"]
    # the block takes a spare slot of the 16 x ceil(62/16) = 64 (formulas.pipeline), so the slowest stage
    # gains only the share of the second head pass and the MTP attention: under 5% of the step
    assert with_mtp["training.step_seconds"] < without["training.step_seconds"] * 1.05


def test_memory_holds_the_mtp_weights_on_the_only_stage_and_its_logits_on_the_last(run):
    # no pipeline: the one stage holds the MTP weights; BF16 weights (2 B each), expert-parallel over 8
    flat, flat0 = run(DSV3 % (1, 256)), run(DSV3 % (1, 256), "model.mtp_layers=0")
    mtp_weights = ((MTP_ALL - 256 * EXPERT) + 256 * EXPERT / 8) * 2
    assert flat["training_memory.weights_bytes"] - flat0["training_memory.weights_bytes"] == pytest.approx(
        mtp_weights, rel=1e-9)
    # a pipeline: the block replaces a decoder layer of the last stage, the first stage's state is unchanged
    piped, piped0 = run(DSV3 % (16, 16)), run(DSV3 % (16, 16), "model.mtp_layers=0")
    assert piped["training_memory.weights_bytes"] == piped0["training_memory.weights_bytes"]
    # the last stage holds a second set of FP32 logits (s x V x 4 B) and the block's activations
    extra = flat["training_memory.activations_bytes"] - flat0["training_memory.activations_bytes"]
    logits = 4096 * V * 4  # 2.12 GB per micro-batch
    assert logits < extra < logits + flat0["training_memory.activations_bytes"] / 61


def test_a_dense_model_s_mtp_depths_each_add_a_dense_block_and_a_head_pass(run):
    # Llama 3.1 8B's widths (config.json: hidden 4,096, 32 heads of 128, 8 KV heads, SwiGLU 14,336, vocab
    # 128,256) cut to one layer, with two MTP depths: each a GQA block + dense FFN + norms + 2h x h
    h = 4096
    attention = h * 128 * (2 * 32 + 2 * 8)
    block = attention + 3 * h * 14336 + 2 * h + 2 * h * h + 3 * h
    per_key = 2 * 32 * (128 + 128)  # one layer's attention FLOPs per attended key
    r = run("model: {preset: llama-3.1-8b, layers: 1, mtp_layers: 2}\ncontext: 4096\ntokens: 1T\n"
            "training: {sequence: 4096, attention_term: causal}\nhardware: {preset: h100-sxm, count: 8}\n")
    assert r["model.mtp_params"] == 2 * block
    per_token = 6 * (2 * block + 2 * 128_256 * h) + 2 * 3 * per_key * (4096 + 1) / 2
    assert r["training.mtp_flops"] == pytest.approx(per_token * 1e12, rel=1e-12)
    # --explain names the formula's function (and its sources)
    assert r.metrics["training.mtp_flops"].function.__name__ == "mtp_matmul_params"


LLAMA_ONE = """
model: {preset: llama-3.1-8b, layers: %d, mtp_layers: %d}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 1048576, attention_term: causal}
hardware: {preset: h100-sxm, count: 8}
parallel: {tensor: 1, pipeline: %d, data: %d, schedule: 1f1b, micro_batch: 1, zero: 1}
"""


def test_the_step_reads_each_mtp_depth_as_one_more_full_attention_layer(work):
    _, w = work(LLAMA_ONE % (1, 2, 1, 8))
    per_key = 2 * 32 * (128 + 128)  # one layer's forward attention FLOPs per attended key
    assert (w.layers, w.dense_layers, w.moe_layers, w.full_layers) == (3, 3, 0, 3)
    # causal forward attention per token over the model's one layer and the two MTP blocks
    assert sum(flops for flops, _, _ in w.attention_parts) == pytest.approx(3 * per_key * (4096 + 1) / 2, rel=1e-12)
    # the MTP depths run at the full layers' kernel rate: FlashAttention-3 on H100, head dim 128, causal, 4k
    # (forward 579 of 989 TFLOP/s, Shah et al. 2024 Fig. 5e)
    assert [forward for _, forward, _ in w.attention_parts] == pytest.approx([579 / 989] * 2)
    assert w.attention_square == pytest.approx(3 * per_key * 4096, rel=1e-12)  # the whole square, unfused


def test_the_last_stage_holds_the_dense_mtp_blocks_and_their_logits(run):
    # two decoder layers on two stages: the first stage holds one layer's activations per micro-batch
    # in flight (two under 1F1B), the last one layer, both MTP blocks and three sets of FP32 logits
    def activations(layers, mtp, stages):
        return run(LLAMA_ONE % (layers, mtp, stages, 8 // stages))["training_memory.activations_bytes"]
    layer = activations(2, 0, 1) - activations(1, 0, 1)  # one decoder layer's activations (no recompute)
    logits = 4096 * 128_256 * 4
    # the last stage (one micro-batch in flight) outweighs the first (two of one layer): 3 layers + 3 logits
    assert activations(2, 2, 2) == pytest.approx(3 * layer + 3 * logits, rel=1e-9)


def test_the_step_s_attention_counts_sliding_window_layers_within_their_window(write):
    # gpt-oss-120b (model card, arXiv 2508.10925, Table 1): 36 layers, half banded to 128 tokens, 64 query
    # heads of 64; no MTP. Causal forward attention per token at 4K: the 18 dense layers see (4096 + 1) / 2
    # keys on average, the 18 banded ones min(p, 128) summed over p = 1..4096, over 4096 tokens
    import qwenfeas
    from qwenfeas.architecture import attention_layers
    from qwenfeas.training.step_inputs import attention_forward_per_token

    scenario = qwenfeas.load(write("model: {preset: gpt-oss-120b}\ncontext: 4096\ntokens: 1T\n"
                                   "training: {sequence: 4096}\nhardware: {preset: h100-sxm, count: 8}\n"))
    report = qwenfeas.estimate(scenario)
    parts = attention_forward_per_token(report, scenario.values, attention_layers(scenario.values))
    assert [keys for _, keys in parts] == [4096, 128]  # the kernel's grid: the sequence, the window
    forward = sum(flops for flops, _ in parts)
    per_key = 2 * 64 * (64 + 64)
    banded = (128 * 129 / 2 + (4096 - 128) * 128) / 4096
    assert forward == pytest.approx(18 * per_key * ((4096 + 1) / 2 + banded), rel=1e-12)
