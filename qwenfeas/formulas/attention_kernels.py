"""How fast fused attention kernels run: forward and backward share of the BF16 peak by head dimension,
causal mask, keys per query and accelerator generation.

The measured grid is FlashAttention-3's (Shah et al. 2024, arXiv 2407.08608, sec. 4.1), BF16 on one
H100 80GB SXM5 (989 TFLOP/s dense BF16, NVIDIA H100 datasheet), batch x sequence = 16k tokens,
hidden 2048 (heads = 2048 / head dim), sequences 512 to 16k. TFLOP/s as labelled on the bars:

  Figure 5, forward, FlashAttention-3            512   1k    2k    4k    8k    16k
    (a) head dim 64,  no causal mask             333   392   460   476   496   497
    (b) head dim 128, no causal mask             467   565   625   638   646   648
    (c) head dim 256, no causal mask             482   639   707   736   746   756
    (d) head dim 64,  causal mask                197   265   371   420   460   473
    (e) head dim 128, causal mask                292   423   521   579   602   616
    (f) head dim 256, causal mask                286   427   537   612   628   642
  Figure 6, backward, FlashAttention-3, no causal mask
    (a) head dim 64                              272   363   422   453   472   474
    (b) head dim 128                             316   424   501   542   559   561
  Figures 5 and 6, the FlashAttention-2 bars on the same H100 (the kernel of stacks before FA3)
    forward, head dim 64 / 128 / 256, no mask    282   306   318   321   322   324
                                                 309   350   362   368   370   370
                                                 275   313   321   323   324   326
    forward, head dim 64 / 128 / 256, causal     180   229   262   284   295   299
                                                 191   260   298   319   333   335
                                                 208   251   278   293   297   298
    backward, head dim 64 / 128, no mask         198   238   264   279   287   291
                                                 214   260   291   310   318   322

Figure 5(b) at 512 is read 467 (one reading of the figure gives 497 there and 467 to cuDNN); the
lower is taken. Neither paper's figures give a causal backward, nor a backward at head dim 256.

Conventions. The papers count FLOPs as flash-attention's benchmark does: forward 4 s^2 h d per
sequence (halved under the causal mask), backward 2.5x the forward (five matmuls to the forward's
two). This model charges the backward 2x the forward's FLOPs (kernel_efficiency.attention_training_seconds),
so a backward bar B becomes a share 2 / 2.5 x B / peak of "useful" backward FLOPs.

Blackwell: the measured grid is NVIDIA's cuDNN SDPA training benchmark (NVIDIA/cudnn-frontend @ bb37575,
benchmark/sdpa_benchmark_training, "cuDNN frontend v1.15 ... for cuDNN 9.13.1"; NGC PyTorch 25.09,
cuDNN 9.13.1, the version Megatron-Bridge/NeMo 25.11 ships and Transformer Engine's fused attention calls),
BF16, causal, head dim 128, 128 query and 8 KV heads, batch 1, CUDA events around PyTorch's SDPA call
(median of 10), one B200 and one GB300 (artifacts/sdpa_bf16_benchmark_results_NVIDIA_{B200,GB300}.csv,
rounded to 1 TFLOP/s; the same benchmark's FLOP count as flash-attention's, backward 2.5x):

  cuDNN 9.13.1, causal, head dim 128   512   1k    2k    4k    8k    16k   32k   64k   128k
    B200  forward                      84    255   479   856   1171  1332  1419  1382  1355
    B200  backward                     134   309   371   701   943   1075  1109  1073  1048
    GB300 forward                      55    224   594   1145  1496  1702  1796  1770  1721
    GB300 backward                     95    277   487   893   1130  1268  1319  1302  1280
  FlashAttention-2 2.7.4 (`flash_attn`), same runs
    B200  forward                      64    154   254   343   400   425   436   441   444
    B200  backward                     81    105   199   273   318   337   346   349   348
    GB300 forward                      52    156   285   392   440   465   475   480   483
    GB300 backward                     55    149   247   315   352   369   378   381   381

Each GPU's bars are shares of its own dense BF16 peak (B200 2250, GB300 2500 TFLOP/s; the presets'
datasheet figures). GB200 runs B200's shares and B300 GB300's (the same die; an estimate, scaled by
their own peaks). Blackwell Ultra's GB300 bars are its own measurement: its SFU's doubled exponential
rate (NVIDIA technical blog "Making Softmax More Efficient with NVIDIA Blackwell Ultra", 2026) shows
as 28% more forward TFLOP/s than B200 at 8k (on an 11% higher peak). Only causal head dim 128 was
measured: other head dims hold the 128 bars (MLA's 160 included) and a non-causal query the causal
bars. At 512-1k a call of batch 1
is mostly launch time (0.1 ms), so the short bars are a floor. FlashAttention-4 (Zadouri et al. 2026,
arXiv 2603.05451) measures B200 against cuDNN 9.13 too, but only its abstract's "up to" figures
(1613 TFLOP/s; up to 1.3x cuDNN 9.13) were readable here, not the bars; DeepSeek's FlashMLA SM100
kernels ("up to 1460 forward, 1000 backward" on B200, FlashMLA README @ 9241ae3) have no grid either.
"""

from __future__ import annotations

import math

from ._array import _numpy, maximum, minimum, where

# H100 SXM5 dense BF16 peak, TFLOP/s (NVIDIA H100 Tensor Core GPU datasheet: 989.4; 1979 with sparsity)
H100_BF16_PEAK_TFLOPS = 989.0
# The sequence lengths of the grid (each figure's x axis)
GRID_SEQUENCES = (512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0)
# flash-attention's benchmark counts the backward as 2.5x the forward's FLOPs; this model counts 2x
BENCHMARK_BACKWARD_FLOPS = 2.5
USEFUL_BACKWARD_FLOPS = 2.0

# BF16 on H100 SXM5, TFLOP/s at GRID_SEQUENCES (Shah et al. 2024, Figure 5 forward, Figure 6 backward):
# FlashAttention-3 ("fa3") and the FlashAttention-2 bars of the same figures ("fa2").
# Forward, keyed (kernel, head dim, causal mask):
FORWARD_TFLOPS = {
    ("fa3", 64.0, False): (333, 392, 460, 476, 496, 497), ("fa2", 64.0, False): (282, 306, 318, 321, 322, 324),
    ("fa3", 128.0, False): (467, 565, 625, 638, 646, 648), ("fa2", 128.0, False): (309, 350, 362, 368, 370, 370),
    ("fa3", 256.0, False): (482, 639, 707, 736, 746, 756), ("fa2", 256.0, False): (275, 313, 321, 323, 324, 326),
    ("fa3", 64.0, True): (197, 265, 371, 420, 460, 473), ("fa2", 64.0, True): (180, 229, 262, 284, 295, 299),
    ("fa3", 128.0, True): (292, 423, 521, 579, 602, 616), ("fa2", 128.0, True): (191, 260, 298, 319, 333, 335),
    ("fa3", 256.0, True): (286, 427, 537, 612, 628, 642), ("fa2", 256.0, True): (208, 251, 278, 293, 297, 298),
}
# Backward, measured without the mask only, keyed the same way:
BACKWARD_TFLOPS = {
    ("fa3", 64.0, False): (272, 363, 422, 453, 472, 474), ("fa2", 64.0, False): (198, 238, 264, 279, 287, 291),
    ("fa3", 128.0, False): (316, 424, 501, 542, 559, 561), ("fa2", 128.0, False): (214, 260, 291, 310, 318, 322),
}

# FlashAttention-2 on A100 reaches up to 73% of the A100's peak (Dao 2023, arXiv 2307.08691, abstract:
# "50-73% of the theoretical maximum FLOPs/s on A100"); on H100 its best bar is 370 of 989 TFLOP/s
# (FORWARD_TFLOPS, head dim 128, 8k-16k). The A100 grid is the H100 FA2 grid times 0.73 / (370 / 989).
FA2_A100_BEST = 0.73
FA2_H100_BEST_TFLOPS = 370.0

# Blackwell, BF16, causal, head dim 128 (NVIDIA/cudnn-frontend @ bb37575, module docstring): TFLOP/s at
# BLACKWELL_SEQUENCES on one B200 ("b200") and one GB300 ("gb300"), cuDNN 9.13.1 ("cudnn") and
# FlashAttention-2 2.7.4 ("fa2"), keyed (kernel and GPU, head dim, causal mask)
BLACKWELL_SEQUENCES = GRID_SEQUENCES + (32768.0, 65536.0, 131072.0)
BLACKWELL_FORWARD_TFLOPS = {
    ("cudnn-b200", 128.0, True): (84, 255, 479, 856, 1171, 1332, 1419, 1382, 1355),
    ("cudnn-gb300", 128.0, True): (55, 224, 594, 1145, 1496, 1702, 1796, 1770, 1721),
    ("fa2-b200", 128.0, True): (64, 154, 254, 343, 400, 425, 436, 441, 444),
    ("fa2-gb300", 128.0, True): (52, 156, 285, 392, 440, 465, 475, 480, 483),
}
BLACKWELL_BACKWARD_TFLOPS = {
    ("cudnn-b200", 128.0, True): (134, 309, 371, 701, 943, 1075, 1109, 1073, 1048),
    ("cudnn-gb300", 128.0, True): (95, 277, 487, 893, 1130, 1268, 1319, 1302, 1280),
    ("fa2-b200", 128.0, True): (81, 105, 199, 273, 318, 337, 346, 349, 348),
    ("fa2-gb300", 128.0, True): (55, 149, 247, 315, 352, 369, 378, 381, 381),
}
# the measured GPUs' dense BF16 peaks, TFLOP/s (NVIDIA DGX B200 datasheet; Blackwell Ultra datasheet, GB300)
BLACKWELL_PEAK_TFLOPS = {"b200": 2250.0, "gb300": 2500.0}

# accelerator preset -> kernel generation of its attention grid: Blackwell runs its GPU's cuDNN grid
# (B200's for B200 and GB200, GB300's for GB300 and B300)
_GENERATION = {"a100-sxm-80gb": "fa2-ampere", "a800": "fa2-ampere", "b200": "cudnn-b200", "gb200": "cudnn-b200",
               "b300": "cudnn-gb300", "gb300": "cudnn-gb300"}


def kernel_generation(preset, kernel):
    """The attention kernel a preset runs: "fa2-ampere" (A100, A800: FlashAttention-2, the newest for
    Ampere), "cudnn-b200" (B200, GB200) and "cudnn-gb300" (GB300, B300): cuDNN 9.13.1, what Transformer
    Engine runs on Blackwell, measured on that GPU; else "fa3-hopper" (H100, H800, H200, H20, and every
    accelerator without its own measurement, as an estimate). A stack that runs FlashAttention-2
    (training.attention_kernel: flash2) runs its measured Blackwell bars there ("fa2-b200", "fa2-gb300"),
    "fa2-hopper", FA2's own H100 bars, on every other accelerator but Ampere (measured on H100;
    elsewhere an estimate)."""
    generation = _GENERATION.get(preset, "fa3-hopper")
    if kernel == "flash2" and generation != "fa2-ampere":
        return generation.replace("cudnn", "fa2") if generation.startswith("cudnn") else "fa2-hopper"
    return generation


def _log2(x):
    """log2, element-wise over a numpy array."""
    np = _numpy(x)
    return np.log2(x) if np else math.log2(x)


def _along(grid_points, values, x):
    """Piecewise-linear interpolation of `values` over log2(x) at the points `grid_points`, clamped at both ends."""
    position = _log2(minimum(maximum(x, grid_points[0]), grid_points[-1]))  # clamped first: no log of 0
    result = values[0]  # each step's share below broadcasts it over an array of positions
    for i in range(1, len(grid_points)):
        low, high = _log2(grid_points[i - 1]), _log2(grid_points[i])
        share = minimum(maximum((position - low) / (high - low), 0.0), 1.0)
        result = result + share * (values[i] - values[i - 1])
    return result


def grid_rate(table, kernel, head_dim, keys, causal, sequences=GRID_SEQUENCES):
    """TFLOP/s of a figure grid at a head dimension and keys per query (log-log interpolation, clamped).

    Formula: interpolate each head dim's row over log2(keys) between `sequences`' ends, then between the
             rows over log2(head dim) between the kernel's smallest and largest head dim; outside
             either range the end value holds (no extrapolation)
    Convention: `table` keyed (kernel, head dim, causal mask).
    Source: the figures in the module docstring.
    """
    rows = {key[1]: values for key, values in table.items() if key[0] == kernel and key[2] == causal}
    dims = sorted(rows)
    return _along(tuple(dims), [_along(sequences, rows[d], keys) for d in dims], head_dim)


def _grid_fractions(kernel, head_dim, keys, causal):
    """(forward, backward) share of the H100 peak of one kernel's grid; the causal backward is the
    non-causal one slowed as the forward is by the mask (both skip the same blocks, mask the same
    diagonal ones), in useful-FLOP terms."""
    masked = grid_rate(FORWARD_TFLOPS, kernel, head_dim, keys, True)
    open_ = grid_rate(FORWARD_TFLOPS, kernel, head_dim, keys, False)
    fwd = where(causal, masked, open_)
    bwd = grid_rate(BACKWARD_TFLOPS, kernel, head_dim, keys, False) * where(causal, masked / open_, 1.0)
    return fwd / H100_BF16_PEAK_TFLOPS, bwd / H100_BF16_PEAK_TFLOPS * USEFUL_BACKWARD_FLOPS / BENCHMARK_BACKWARD_FLOPS


def _blackwell_fractions(generation, head_dim, keys):
    """(forward, backward) share of the measured GPU's peak of one Blackwell grid (causal bars only)."""
    peak = BLACKWELL_PEAK_TFLOPS[generation.split("-")[1]]
    fwd = grid_rate(BLACKWELL_FORWARD_TFLOPS, generation, head_dim, keys, True, BLACKWELL_SEQUENCES)
    bwd = grid_rate(BLACKWELL_BACKWARD_TFLOPS, generation, head_dim, keys, True, BLACKWELL_SEQUENCES)
    return fwd / peak, bwd / peak * USEFUL_BACKWARD_FLOPS / BENCHMARK_BACKWARD_FLOPS


def attention_efficiency(generation, head_dim, keys, causal):
    """Forward and backward share of the BF16 peak a fused attention kernel reaches.

    Formula: FA3 (Hopper and the rest): grid / 989 (forward); grid / 989 x 2 / 2.5 (backward, a
             causal one x masked / open forward); FA2 ("fa2-hopper"): its H100 grid the same way;
             FA2 on Ampere: that, x 0.73 / (370 / 989); Blackwell ("cudnn-b200", "cudnn-gb300",
             "fa2-b200", "fa2-gb300"): the GPU's causal grid / its peak (B200 2250, GB300 2500),
             backward x 2 / 2.5, whatever the mask and head dim
    Convention: `keys` the keys one query attends at most (the sequence, or a sliding window); head
    dim the mean of the query-key and value dims when they differ (MLA: (192 + 128) / 2 = 160, the
    equal-dim kernel of the same FLOPs per key); backward in this model's 2x-forward FLOPs.
    Source: the module docstring's figures (Shah et al. 2024, Figures 5 and 6; Dao 2023, abstract;
    NVIDIA/cudnn-frontend @ bb37575, cuDNN 9.13.1 and FlashAttention-2 on B200 and GB300).
    """
    if generation.endswith(("-b200", "-gb300")):
        return _blackwell_fractions(generation, head_dim, keys)
    if generation == "fa3-hopper":
        return _grid_fractions("fa3", head_dim, keys, causal)
    fwd, bwd = _grid_fractions("fa2", head_dim, keys, causal)
    scale = FA2_A100_BEST / (FA2_H100_BEST_TFLOPS / H100_BF16_PEAK_TFLOPS) if generation == "fa2-ampere" else 1.0
    return fwd * scale, bwd * scale
