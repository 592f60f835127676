"""How fast kernels run on an accelerator: GEMMs by shape and precision, attention, memory-bound work.

Every efficiency here is a fraction of the dense peak (FLOP/s) or of the HBM bandwidth (B/s) the
accelerator's datasheet gives; the constants are measured maxima from their primary sources.
"""

from __future__ import annotations

from ._array import ceil, maximum, minimum, where

# Best achievable dense matmul, fraction of the datasheet peak, by accelerator family and precision.
# stas00/ml-engineering, compute/accelerator/README.md, "Maximum Achievable Matmul FLOPS comparison
# table" (brute-force shape sweeps, torch 2.6-2.10): A100 SXM BF16 271/312; B200 BF16 1745/2250, FP8
# 3433/4500; GB200 BF16 1822/2500, FP8 3616/5000. MI300X: AMD ROCm blog "Measuring Max-Achievable FLOPs -
# Part 2", Table 1 (hipBLASLt, ROCm 6.3): BF16 708/1307, FP8 1273/2615. Those are short bursts (mean of
# 100 iterations after 50 warm-up: 150 x 0.14 ms = 21 ms at H100's best shape), short of the power limit
# (a boost burst draws 150-330 W, the same README's "What was measured").
# Hopper (H100, H800, H200: one die, 132 SMs, 700 W) takes the SUSTAINED rate instead, as a training
# step holds the GPU at its power limit for seconds: mamf-finder.py v4's MSMF, "the highest rate a
# shape holds without falling" over a 2-4 s window after the clock has settled under full load
# (stas00/ml-engineering compute/accelerator/benchmarks/README.md, "How MAMF and MSMF are defined" and
# "What was measured"): H200 BF16 745 TFLOP/s at 1536x2816x6144 (GPU0, the slowest of its node, which a
# synchronous run waits on; node median 755; SM clock 1835-1873 MHz against a 1980 MHz boost), beside
# an MAMF burst of 848 on the same GPU; FP8 about 1337 at 1536x2816, K = 10240 (the K walk's
# "1335-1372 at K=10240"). H100 SXM is taken at H200's figures (same SMs, clocks and 700 W; the burst
# table gave both 794.5 BF16); the earlier burst figures were 794.5 (BF16) and 1403 (FP8, H100).
GEMM_CEILING = {
    "a100": {"bf16": 271 / 312},
    "hopper": {"bf16": 745 / 989, "fp8": 1337 / 1979},
    "h200": {"bf16": 745 / 989, "fp8": 1337 / 1979},
    "b200": {"bf16": 1745 / 2250, "fp8": 3433 / 4500},
    "gb200": {"bf16": 1822 / 2500, "fp8": 3616 / 5000},
    "mi300x": {"bf16": 708 / 1307, "fp8": 1273 / 2615},
}
# Without a measurement for an accelerator: an estimate, a little above the median of the ceilings above
# (0.73; NVIDIA 0.71-0.87, AMD 0.49-0.54). The accelerators without a measurement are not NVIDIA or AMD
# parts in the table (TPUs, Ascend, older GPUs), so no published figure applies.
GEMM_CEILING_UNMEASURED = 0.75

# The FP8 ceilings above were measured with one scale per tensor (stas00's mamf-finder.py calls
# torch._scaled_mm with scalar scales; hipBLASLt the same). A block-scaled FP8 GEMM against it, same
# part, library and shapes: NVIDIA Transformer Engine docs @ d0067d0, "GEMM Profiling Tutorial"
# (docs/examples/gemm_profiling/gemm_profiling.rst), pre-quantized mode (inputs quantized before the
# timed loop, cuBLASLt through tex.generic_gemm) on a B300 SXM6 AC: the 12 GEMMs of one layer (hidden
# 4096, FFN 16384, QKV 12288; M = 15,872 tokens; forward, data and weight gradients) take 6.812 ms with
# per-tensor FP8 (current scaling) and 7.161 ms with MXFP8 (BF16 13.102): MXFP8 runs at 0.951 of the
# per-tensor rate (forward 2.158 / 2.365, data gradient 2.329 / 2.397, weight gradient 2.325 / 2.400).
# On Blackwell, TE runs the blockwise recipe on the MXFP8 tensor cores (same page: "FP8 Block is emulated
# via MXFP8"). On Hopper no same-kernel comparison was found: DeepGEMM's blockwise GEMMs reach 1520 of
# 1979 TFLOP/s on H800 (deepseek-ai/DeepGEMM README @ a9967bc, 4096 x 7168 x 16384), above the
# per-tensor cuBLAS maximum (1403), while TE's blockwise cuBLAS path is not timed without its casts;
# Hopper keeps the per-tensor ceiling for every recipe.
BLOCK_SCALED_RECIPES = ("mxfp8", "blockwise")
BLOCK_SCALED_GEMM_RATE = 6.812 / 7.161


def recipe_ceiling(ceiling, recipe, block_scaled_tensor_cores, rate=BLOCK_SCALED_GEMM_RATE):
    """Best share of the FP8 peak a dense GEMM reaches under an FP8 scaling recipe.

    Formula: eta_c * r for a block-scaled recipe (MXFP8, blockwise) on block-scaled tensor cores,
             else eta_c;   r = t_per-tensor / t_MXFP8 = 6.812 / 7.161 = 0.951
             (the ratio of the two GEMM times over the same 12 shapes of one layer: the mean rates over
             equal FLOPs)
    Convention: eta_c the per-tensor-scaled FP8 ceiling (GEMM_CEILING); the ratio measured at a
    transformer layer's shapes (M = 15,872, hidden 4096) is taken at every shape, the measured maxima
    included; `block_scaled_tensor_cores` for NVIDIA Blackwell (its MMA reads an E8M0 scale per 32
    values with each tile; TE maps blockwise onto it). Other parts keep eta_c (no same-kernel
    measurement; see BLOCK_SCALED_GEMM_RATE).
    Source: NVIDIA Transformer Engine docs @ d0067d0, "GEMM Profiling Tutorial", pre-quantized B300
    results (FP8 current scaling 6.812 ms, MXFP8 7.161 ms per layer); per-tensor scaling of the ceilings:
    stas00/ml-engineering compute/accelerator/benchmarks/mamf-finder.py (torch._scaled_mm, scalar scales).
    """
    return ceiling * rate if block_scaled_tensor_cores and recipe in BLOCK_SCALED_RECIPES else ceiling


# Well-written memory-bound kernels reach ~90% of HBM peak (FlashMLA decode, 3000 of 3350 GB/s,
# deepseek-ai/FlashMLA README @ 066b5ba6); weight-streaming GEMMs 45-80% (DeepGEMM README @ a9967bc,
# M = 64-128). Element-wise training kernels (norms, activations, casts) are taken at 0.85, and a
# GEMM's weight stream at 0.80, the top of the DeepGEMM range.
ELEMENTWISE_BANDWIDTH = 0.85
GEMM_BANDWIDTH = 0.80

# The depth K of the GEMM at which each ceiling above was measured: 5120 for A100 BF16 (best shape
# 1024x10240x5120, from the same table) and 6144 for Hopper BF16 (the MSMF shape 1536x2816x6144), each
# writing a BF16 output (2 bytes per value); the
# other families' best shapes are not listed beside their figures and are taken at the depth of H100's
# burst maximum, 2048x2048x13312 (the sweeps top out at deep K, where writing the output costs 1-3% of
# the time). A low-precision ceiling has its own shape where the source gives one: Hopper FP8 at
# K = 10240, its output written in FP8 (mamf-finder.py v4's prepare_gemm: torch._scaled_mm into an
# float8_e4m3fn C), 1 byte per value.
CEILING_DEPTH = {"a100": 5120.0, "hopper": 6144.0, "h200": 6144.0}
CEILING_DEPTH_LOW_PRECISION = {"hopper": (10240.0, 1.0), "h200": (10240.0, 1.0)}  # (K, output bytes)
CEILING_DEPTH_DEFAULT = 13312.0

# cuBLAS's most efficient output tile, 256 x 128 (NVIDIA Deep Learning Performance Guide, "Matrix
# Multiplication Background User's Guide", DU-09799-001, sec. 2.3 "Typical Tile Dimensions in cuBLAS":
# larger tiles reuse more data; its wave-quantization example, sec. 3.2, uses 256 x 128 tiles).
TILE_ROWS, TILE_COLUMNS = 256.0, 128.0


def gemm_efficiency(rows, bytes_per_weight, peak_flops, bandwidth, ceiling, bandwidth_efficiency=GEMM_BANDWIDTH):
    """Fraction of peak a weight GEMM reaches with `rows` tokens: the roofline of its weight stream.

    Formula: min(ceiling, 2 * M / b_w * (eta_bw * BW) / peak)
             (2*M*N*K FLOPs over N*K*b_w weight bytes: intensity 2M/b_w FLOP/B; the GEMM is
             bandwidth-bound below peak / (eta_bw * BW) FLOP/B)
    Convention: M is the token dimension (rows) of the GEMM; activations' bytes are neglected
    beside the weights', which holds for M much smaller than N and K (the case that matters).
    Source: Williams et al. 2009, "Roofline"; the M = 64 FP8 case gives 0.17 on H800, as measured
    by DeepGEMM (10-17%, deepseek-ai/DeepGEMM README @ a9967bc).
    """
    return minimum(ceiling, 2.0 * rows / bytes_per_weight * bandwidth * bandwidth_efficiency / peak_flops)


def intrinsic_ceiling(ceiling, peak_flops, bandwidth, reference_depth=CEILING_DEPTH_DEFAULT, output_bytes=2.0,
                      bandwidth_efficiency=GEMM_BANDWIDTH):
    """The rate a GEMM's main loop reaches, once the output write its measured ceiling holds is taken out.

    Formula: 1 / eta_0 = 1 / eta_c - R * b_out / (2 K_ref),   R = peak / (eta_bw * BW) FLOP/B
             (a tile's main loop runs at eta_0 * peak over the depth K, then its epilogue writes the
             output tile at the achievable bandwidth; the two add, so an M x N x K GEMM spends
             R * b_out * M N / (2 M N K) = R * b_out / (2K) of its compute time writing. The measured
             ceiling eta_c holds that write at the depth K_ref of its best shape)
    Convention: b_out bytes per output value in the measurement (BF16: 2). The write itself is added
    back, GEMM by GEMM, from the bytes each writes (layer_output_bytes_per_flop).
    Source: Williams et al. 2009, "Roofline" (time of traffic against time of work); the epilogue of a
    tiled GEMM writes each output tile after its main loop (NVIDIA CUTLASS docs, "Efficient GEMM in
    CUDA", epilogue). Check: DeepGEMM's FP8 GEMMs on H800 at M = 4096 (deepseek-ai/DeepGEMM README @
    a9967bc) fall from 1520 TFLOP/s at N x K = 7168 x 16384 to 1168 at 7168 x 2048 and 775 at
    32768 x 512 as the output's share b_out / (2K) grows; this form gives 1224 and 733.
    """
    ridge = peak_flops / (bandwidth_efficiency * bandwidth)
    return 1.0 / (1.0 / ceiling - ridge * output_bytes / (2.0 * reference_depth))


def layer_output_bytes_per_flop(tokens, shapes, activation_bytes=2.0, gradient_bytes=4.0):
    """Bytes a layer's weight GEMMs write per FLOP in one training step of T tokens, forward and backward;
    each GEMM's write follows its main loop (see intrinsic_ceiling), at GEMM_BANDWIDTH.

    Formula: sum(n (b_a T (a + b) + b_g a b)) / sum(n 6 T a b)
             (per weight a x b: the forward writes T x b activations, the input gradient T x a, each
             2 T a b FLOPs; the weight gradient, 2 T a b FLOPs, writes the a x b gradient it
             accumulates into; the old gradient it adds is loaded while the main loop runs, so only
             the write follows it)
    Convention: `shapes` as layer_quantization: (a inputs, b outputs, n copies) per accelerator; b_a
    bytes per activation (BF16 outputs, also of FP8 GEMMs), b_g bytes per gradient (FP32 accumulation:
    4). A weight of size 0 adds nothing.
    Source: the three GEMMs of a linear layer (Narayanan et al. 2021, sec. 3.2); gradient accumulation
    into an FP32 buffer inside the weight-gradient GEMM (Megatron-LM, gradient_accumulation_fusion;
    Dubey et al. 2024, sec. 3.3.2: FP32 gradient accumulation); the source operand of the epilogue
    loaded by the producer warp during the main loop (NVIDIA CUTLASS 3 docs, "Warp-specialized
    epilogue" of sm90 kernels).
    """
    written = flops = 0.0
    for a, b, copies in shapes:
        copies = where(a * b > 0, copies, 0.0)  # an absent weight writes nothing
        written = written + copies * (activation_bytes * tokens * (a + b) + gradient_bytes * a * b)
        flops = flops + copies * 6.0 * tokens * a * b
    return written / flops


def quantization_efficiency(rows, columns, sms, groups=1.0, tile_rows=TILE_ROWS, tile_columns=TILE_COLUMNS):
    """Share of the SM time a GEMM's output tiles do useful work: tile and wave quantization.

    Formula: G * M * N / (ceil(G * ceil(M / Tm) * ceil(N / Tn) / S) * S * Tm * Tn)
             (the output is cut into ceil(M/Tm) ceil(N/Tn) tiles, a partial tile costing a whole one;
             the tiles run in waves of S, one per SM, a partial wave costing a whole one; a grouped
             GEMM of G equal problems launches all their tiles at once)
    Convention: M x N the output of one problem (tokens x output features for a forward GEMM), S the
    SMs (CUs); tiles of Tm x Tn = 256 x 128. For S = None (no SM count known) the factor is 1.
    Source: NVIDIA Deep Learning Performance Guide, "Matrix Multiplication Background User's Guide"
    (DU-09799-001), sec. 3.1 tile quantization and sec. 3.2 wave quantization (efficiency = tiles /
    (waves x SMs)).
    """
    if sms is None:
        return 1.0
    tiles = groups * ceil(rows / tile_rows) * ceil(columns / tile_columns)
    return groups * rows * columns / (maximum(ceil(tiles / sms), 1.0) * sms * tile_rows * tile_columns)


def layer_quantization(tokens, shapes, sms, groups=1.0):
    """Time-weighted quantization efficiency of a layer's weight GEMMs, forward and backward.

    Formula: sum(w_i) / sum(w_i / e_i) over the 3 GEMMs of each weight a x b (a inputs, b outputs):
             forward T x b, input gradient T x a, weight gradient a x b, each 2 T a b FLOPs, so w = a b
             and e the quantization_efficiency of its output
    Convention: `shapes` a list of (a, b, n) per weight on this accelerator (after tensor
    parallelism), n its copies (layers); T tokens per problem; G equal problems (local experts) per
    grouped launch.
    Source: as quantization_efficiency; the three GEMMs of a linear layer's training step
    (Narayanan et al. 2021, sec. 3.2: backward is two GEMMs of the forward's size).
    """
    total = slowed = 0.0
    for a, b, copies in shapes:
        for rows, columns in ((tokens, b), (tokens, a), (a, b)):
            total = total + copies * a * b
            efficiency = maximum(quantization_efficiency(rows, columns, sms, groups), 1e-300)  # empty: weight 0
            slowed = slowed + copies * a * b / efficiency
    return total / slowed


def attention_training_seconds(forward_flops, peak_flops, forward_efficiency, backward_efficiency,
                               forward_passes=1.0):
    """Time of the attention score and value products, forward and backward, on one accelerator.

    Formula: passes * F / (peak * eta_f) + 2 F / (peak * eta_b)
             (the backward computes dQ, dK, dV and recomputes the scores: about twice the forward)
    Convention: F is the forward FLOPs of QK^T and PV; `forward_passes` is 2 under full recompute;
    eta_b a share of the useful 2F backward FLOPs.
    Source: Dao 2023, FlashAttention-2, sec. 3 (backward = 2.5x the forward matmuls, 2x counted as
    useful); efficiencies by head dim, mask, length and generation: formulas.attention_kernels.
    """
    return forward_passes * forward_flops / (peak_flops * forward_efficiency) \
        + 2.0 * forward_flops / (peak_flops * backward_efficiency)


# HBM bytes an unfused attention layer moves per score element (one query-key pair of one head),
# 16-bit scores and a 1-byte dropout mask. Forward: the QK^T GEMM writes S (2), the fused
# scale-mask-softmax reads S and writes P (4), dropout reads P and writes its mask and P' (5), the
# PV GEMM reads P' (2). Backward: dO V^T writes dP' (2), dV = P'^T dO reads P' (2), dropout's
# backward reads dP' and the mask and writes dP (5), softmax's backward reads dP and P and writes
# dS (6), dQ = dS K and dK = dS^T Q each read dS (4). Tensors: Korthikanti et al. 2022, sec. 4.1
# (the s x s products, softmax, dropout mask and output of a pre-FlashAttention layer).
UNFUSED_SCORE_BYTES_FORWARD = 13.0
UNFUSED_SCORE_BYTES_BACKWARD = 19.0


def unfused_attention_seconds(score_elements, forward_flops, peak_flops, bandwidth, ceiling, forward_passes=1.0):
    """Time of attention that materialises its score matrices in HBM, forward and backward.

    Formula: (passes + 2) * F / (peak * ceiling) + E * (13 passes + 19) / (0.85 BW)
             (QK^T and PV as batched GEMMs over the whole s x s square, the causal mask applied
             after; the backward's GEMMs are twice the forward's; the score traffic per element is
             UNFUSED_SCORE_BYTES_FORWARD per forward pass plus UNFUSED_SCORE_BYTES_BACKWARD)
    Convention: F the forward FLOPs of QK^T and PV over the full square; E the score elements
    (tokens x heads x keys); passes 2 when the forward's attention is replayed (selective or full
    recompute), else 1.
    Source: Dao et al. 2022, FlashAttention, sec. 2.2 (standard attention writes S and P to HBM,
    Theta(N^2) accesses; its Algorithm 0); Megatron-LM's fused scale-mask-softmax kernel and
    separate dropout (Narayanan et al. 2021; Korthikanti et al. 2022, sec. 4.1).
    """
    gemms = (forward_passes + 2.0) * forward_flops / (peak_flops * ceiling)
    traffic = score_elements * (forward_passes * UNFUSED_SCORE_BYTES_FORWARD + UNFUSED_SCORE_BYTES_BACKWARD)
    return gemms + memory_bound_seconds(traffic, bandwidth)


def memory_bound_seconds(bytes_moved, bandwidth, efficiency=ELEMENTWISE_BANDWIDTH):
    """Time of element-wise work limited by memory bandwidth.

    Formula: bytes / (eta * BW)
    Source: Williams et al. 2009, "Roofline"; eta from the FlashMLA measurement (see ELEMENTWISE_BANDWIDTH).
    """
    return bytes_moved / (efficiency * bandwidth)


# FP8 scaling recipes (NVIDIA Transformer Engine docs, "Low precision training" @ d0067d0: the FP8
# Delayed Scaling, FP8 Current Scaling, MXFP8 and FP8 Blockwise Scaling pages). Per cast of one BF16
# value: one read of the source, plus a second read under current scaling (its amax is needed before
# the cast: "two tensor reads are needed"); the FP8 copies written, each with its share of the scales.
# Per-tensor recipes (delayed, current) write a rowwise copy and, before Blackwell, a transposed one
# for the backward GEMM; on Blackwell "rowwise and columnwise tensors share the same physical memory
# layout". Block-scaled recipes quantize rowwise and columnwise copies separately from the source, in
# one kernel: MXFP8 one E8M0 byte per 32 values, blockwise (DeepSeek-V3 1 x 128 tiles, arXiv
# 2412.19437 sec. 3.3) one FP32 scale per 128 values.
FP8_CAST_SCALE_BYTES = {"delayed": 0.0, "current": 0.0, "mxfp8": 1.0 / 32.0, "blockwise": 4.0 / 128.0}
FP8_CAST_READS = {"delayed": 1.0, "current": 2.0, "mxfp8": 1.0, "blockwise": 1.0}
PER_TENSOR_RECIPES = ("delayed", "current")


def fp8_cast_bytes(recipe, transpose_free=False, source_bytes=2.0):
    """HBM bytes the cast of one value to FP8 moves, under a scaling recipe.

    Formula: r * b_src + copies * (1 + s)
             r reads of the source (current scaling: 2, amax then cast; else 1); copies 2 (rowwise and
             columnwise) except a per-tensor recipe on Blackwell (1: one layout serves both); s scale
             bytes per value (per-tensor 0, MXFP8 1/32, blockwise 4/128)
             delayed 2 + 2 = 4 (Blackwell 3); current 4 + 2 = 6 (Blackwell 5); MXFP8 and blockwise
             2 + 2 * 33/32 = 4.0625
    Convention: b_src bytes per source value (BF16: 2); a per-tensor scale (4 B per tensor of
    millions of values) and delayed scaling's amax-history update (one batched kernel per step) are
    left out.
    Source: NVIDIA Transformer Engine docs @ d0067d0, "Low precision training": FP8 Current Scaling
    ("two tensor reads are needed"; on Blackwell rowwise and columnwise usages share one layout), FP8
    Delayed Scaling (one read), MXFP8 (an E8M0 scale per 32 values; rowwise and columnwise quantized
    separately), FP8 Blockwise Scaling (an FP32 scale per 128 values, after DeepSeek-V3, arXiv
    2412.19437 sec. 3.3). TE's current-scaling quantizer runs nvte_compute_amax before the cast
    (pytorch/csrc/quantizer.cpp); its MXFP8 and blockwise kernels write both outputs from one read
    (common/cast/mxfp8/quantize_mxfp8.cuh, common/transpose/quantize_transpose_vector_blockwise.cu).
    """
    one_layout = transpose_free and recipe in PER_TENSOR_RECIPES
    copies = 1.0 if one_layout else 2.0
    return FP8_CAST_READS[recipe] * source_bytes + copies * (1.0 + FP8_CAST_SCALE_BYTES[recipe])


def elementwise_bytes_per_token_layer(hidden, q_dim, kv_dim, ffn_width, gated, routed_top_k=0.0,
                                      activation_bytes=2.0, qk_norm=False):
    """HBM bytes one token's element-wise work moves in one layer, forward and backward.

    Formula: 3 * b * (10 h + (2 + 2 n) (q + kv) + (2 + gated) * f + 5 k h)
             forward: two RMSNorms (read h, write h: 4h values), two residual adds (read 2h, write h:
             6h), RoPE on queries and keys (read and write: 2 (q + kv)), with QK-norm (n = 1) an
             RMSNorm on the queries and keys per head before RoPE (read and write: 2 (q + kv) more),
             the activation function
             (read (1 + gated) f, write f), and for an MoE layer the permutation of k copies (write
             and read: 2kh), the unpermutation (2kh) and the weighted sum of k outputs (read kh).
             The backward moves about twice the forward's bytes. Casts to FP8 under FP8 GEMMs are
             counted apart (fp8_cast_bytes_per_token_layer): their backward is not twice their forward.
    Convention: b bytes per activation value (2 for BF16). GEMMs and attention kernels read their
    own operands; only the work between them is counted here.
    Source: operator-level count of a pre-norm SwiGLU transformer block (Korthikanti et al. 2022,
    sec. 4.1, lists the same tensors); backward/forward ratio from the same paper's 3x FLOPs. QK-norm
    as its own normalisation of the projected queries and keys (OLMo 2, arXiv 2501.00656, sec. 3.1;
    Qwen3 technical report, arXiv 2505.09388, sec. 2; Megatron-Core's q_layernorm and k_layernorm
    modules, OLMo-core's q_norm and k_norm), one norm kernel each, counted as the block's other norms.
    """
    forward = 10 * hidden + (2 + 2 * qk_norm) * (q_dim + kv_dim) + (2 + gated) * ffn_width \
        + 5 * routed_top_k * hidden
    return 3.0 * activation_bytes * forward


def fp8_cast_bytes_per_token_layer(hidden, q_dim, kv_dim, ffn_width, gated, cast_bytes, forward_passes=1.0):
    """HBM bytes one token's casts to FP8 move in one layer, forward and backward.

    Formula: c * (a * (2 h + q + f) + (2 h + q + 2 kv + (1 + gated) f))
             forward: the inputs of the QKV, attention-output, FFN-up and FFN-down GEMMs (h, q, h, f
             values); backward: the gradients of their outputs (q + 2 kv, h, (1 + gated) f, h values),
             which each GEMM's data- and weight-gradient products take in FP8
    Convention: c bytes per cast value (fp8_cast_bytes); f the FFN width a token passes (MoE: k
    routed experts' and the shared experts' widths, as elementwise_bytes_per_token_layer); a the
    forward passes (2 when recomputation replays the forward, which casts the inputs again).
    Source: NVIDIA Transformer Engine FP8 Linear (the input quantizer in the forward, the grad-output
    quantizer in the backward; docs "Low precision training" @ d0067d0).
    """
    forward = 2 * hidden + q_dim + ffn_width
    backward = 2 * hidden + q_dim + 2 * kv_dim + (1 + gated) * ffn_width
    return cast_bytes * (forward_passes * forward + backward)


def optimizer_seconds(params, bandwidth, bytes_per_param=30.0, efficiency=ELEMENTWISE_BANDWIDTH):
    """Time of one Adam step over the parameters this accelerator updates.

    Formula: P * 30 B / (eta * BW): read the FP32 gradient, master weight, momentum and variance
             (16 B), write master, momentum and variance (12 B) and the BF16 weight (2 B)
    Source: Kingma and Ba 2015 (Adam update); mixed-precision layout as in Rajbhandari et al. 2020, sec. 3.1.
    """
    return params * bytes_per_param / (efficiency * bandwidth)


# Activation values an unfused expert epilogue moves per routed token copy, in units of the expert
# FFN width f (clamp) and of the hidden size h (output bias), as Megatron-Core's TEGroupedMLP runs a
# clamped, biased GLU expert without the Transformer Engine op fuser (core_v0.15.0 to core_v0.19.0:
# megatron/core/fusions/fused_bias_geglu.py, weighted_bias_quick_geglu_impl, and
# megatron/core/transformer/moe/experts.py, TEGroupedMLP._apply_bias). Clamp, forward: the gate and
# linear halves clamped as two kernels (read f, write f each) and concatenated back (read 2f, write
# 2f) before the fused activation: 8f. Backward: each clamp's gradient reads the gradient and its
# input and writes (3f each), the chunk's gradient concatenates the halves (read 2f, write 2f): 10f.
# Bias, forward, after the grouped FC2 GEMM: bias x router probability written (h), added to the
# output (read 2h, write h), the experts' slices concatenated (read h, write h): 6h. Backward: the
# bias gradient (gradient x probability written and summed: read h, write h, read h) and the
# probability gradient (the same with the bias: 3h), the split output's gradients concatenated
# (read h, write h): 8h.
EPILOGUE_CLAMP_FORWARD, EPILOGUE_CLAMP_BACKWARD = 8.0, 10.0
EPILOGUE_BIAS_FORWARD, EPILOGUE_BIAS_BACKWARD = 6.0, 8.0


def unfused_expert_epilogue_bytes(ffn_width, hidden, routed_top_k, activation_passes=1.0, bias_passes=1.0,
                                  activation_bytes=2.0):
    """HBM bytes one token's unfused expert clamp and output bias move in one MoE layer, forward and backward.

    Formula: k * b * ((8 a + 10) f + (6 c + 8) h)
             (the clamp and concatenation around a fused GLU activation, 8f forward and 10f
             backward per routed copy; the FC2 output bias scaled by the router probability and
             added per expert outside the grouped GEMM, 6h forward and 8h backward; see
             EPILOGUE_CLAMP_FORWARD)
    Convention: f the expert FFN width, h the hidden size, k routed experts per token, b bytes per
    activation value (2 for BF16; router probabilities taken at the same width); a the forward
    passes of the activation (2 when it is recomputed: modules or full recompute), c those of the
    bias (2 under full recompute). Bytes beyond what elementwise_bytes_per_token_layer counts for the
    fused activation itself. Runs as stated: for experts with a clamped GLU and an output bias
    (GPT-OSS) on a stack without the fused grouped-MLP path.
    Source: operator-level count of Megatron-Core core_v0.15.0 (NeMo 25.11's Megatron-Core dev:0.15.0)
    weighted_bias_quick_geglu_impl and TEGroupedMLP._apply_bias, each PyTorch operator one kernel
    reading its inputs and writing its output (Korthikanti et al. 2022, sec. 4.1, counts the same way).
    """
    clamp = (EPILOGUE_CLAMP_FORWARD * activation_passes + EPILOGUE_CLAMP_BACKWARD) * ffn_width
    bias = (EPILOGUE_BIAS_FORWARD * bias_passes + EPILOGUE_BIAS_BACKWARD) * hidden
    return routed_top_k * activation_bytes * (clamp + bias)
