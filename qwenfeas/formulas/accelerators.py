"""What the training and serving models need to know about an accelerator preset beyond its datasheet
figures: its GEMM efficiency ceiling (measured), the share of its bandwidth decode attention reaches
(measured), its count of streaming multiprocessors (SMs), the scale-up domain to assume when the preset
gives none, and the bytes a block-scaled low-precision value takes."""

from __future__ import annotations

from . import kernel_efficiency as K

# An HGX/DGX board: 8 accelerators on one NVSwitch (NVIDIA DGX H100 datasheet), when a preset gives none.
DEFAULT_SCALE_UP = 8.0

# accelerator preset -> family of kernel_efficiency.GEMM_CEILING (measured); others are estimates
_FAMILY = {"a100-sxm-80gb": "a100", "h100-sxm": "hopper", "h800": "hopper", "h200": "h200", "b200": "b200",
           "gb200": "gb200", "mi300x": "mi300x"}

# Streaming multiprocessors (AMD: compute units) each GEMM's tiles are spread over, from the vendors'
# architecture documents: A100/A800 108 (NVIDIA A100 Tensor Core GPU Architecture whitepaper, 2020,
# "108 SMs"); H100 SXM5 132, H100 PCIe 114 (NVIDIA H100 Tensor Core GPU Architecture whitepaper,
# 2022); H800 and H200 are the H100 SXM5 die (132; DeepSeek-V3 report sec. 3.2.2 reserves "20 out of
# the 132 SMs" of its H800); H20 78 (NVIDIA H20 product brief); V100 80 (NVIDIA Tesla V100 whitepaper);
# B200/GB200 148 (NVIDIA Blackwell architecture technical brief; CUDA deviceQuery on B200); B300/GB300
# 160 (NVIDIA technical blog "Inside NVIDIA Blackwell Ultra", Aug 2025); MI300X and MI325X 304 CUs,
# MI355X 256 CUs (AMD CDNA 3 and CDNA 4 architecture whitepapers); MI250X 220 CUs over its two dies
# (AMD CDNA 2 whitepaper). TPUs and Ascend have no such unit in their datasheets: no quantization.
_NVIDIA_SMS = {
    "a100-sxm-80gb": 108, "a800": 108, "h100-sxm": 132, "h100-pcie": 114, "h800": 132, "h200": 132,
    "h20": 78, "v100": 80, "b200": 148, "gb200": 148, "b300": 160, "gb300": 160,
}
_AMD_CUS = {"mi300x": 304, "mi325x": 304, "mi355x": 256, "mi250x": 220}
STREAMING_MULTIPROCESSORS = {**_NVIDIA_SMS, **_AMD_CUS}
# The NVIDIA GPU presets: the CUDA stack (cuBLAS, Transformer Engine) runs only on these.
NVIDIA_PRESETS = frozenset(_NVIDIA_SMS)
# Blackwell GPUs (compute capability 10.x): their tensor cores take FP8 operands in either layout, so a
# per-tensor-scaled FP8 tensor needs no transposed copy, and they run MXFP8 (block-scaled) GEMMs natively
# (NVIDIA Transformer Engine docs @ d0067d0, "FP8 Current Scaling", transpose handling: "Blackwell and
# later"; "MXFP8", supported devices SM 10.0 and 10.3). AMD's CDNA 4 (MI355X) also computes MXFP8 (AMD
# CDNA 4 architecture whitepaper, 2025: MX formats); CDNA 3 and NVIDIA before Blackwell do not.
BLACKWELL_PRESETS = frozenset({"b200", "gb200", "b300", "gb300"})
MXFP8_PRESETS = BLACKWELL_PRESETS | {"mi355x"}
# TPUs whose data parallelism across ICI slices runs in two levels: the chips of a slice talk over ICI,
# chips of different slices through their hosts over the data-centre network, and XLA generates the
# cross-slice transfers (Google Cloud TPU docs, "Cloud TPU Multislice overview": v4 and later; PaLM,
# Chowdhery et al. 2022 sec. 4: in-pod sharded data parallelism, then 1:1 gradient transfers between
# corresponding hosts of two pods). GPU clusters keep the flat collective at the per-GPU network rate.
TWO_LEVEL_DATA_PARALLEL_PRESETS = frozenset({"tpu-v4", "tpu-v5p", "tpu-v6e", "tpu-ironwood"})
# SMs the H100-class reference GPU has (the unit the collective SM budgets below are given in).
_REFERENCE_SMS = 132


# Precisions whose GEMMs take the FP8 measurement (8 bits or narrower) when no narrower one exists
LOW_PRECISIONS = ("fp8", "fp4", "mxfp4", "int8", "int4")
# Block-scaled 4-bit floating point (E2M1 elements), whose GEMMs run on the FP4 tensor-core path
FP4_PRECISIONS = ("fp4", "mxfp4")

# Best measured dense FP4 x FP4 GEMM, fraction of the datasheet FP4 peak, by accelerator family.
# B200: 5,702 of 9,000 TFLOP/s at M = N = K = 8192 (MXFP4 x MXFP4, DeepGEMM kernel; cuBLASLt 13.3
# 5,239 on the same shape), deepseek-ai/DeepGEMM pull request #348, "Dense GEMM perf (B200, CUDA 12.9)"
# table; 9,000 = the DGX B200 datasheet's 72 PFLOPS FP4 dense per 8 GPUs. NVFP4 runs the same tensor-core
# instruction at the same peak, so it takes the same figure.
FP4_GEMM_CEILING = {"b200": 5702 / 9000}

# Decode attention reading a paged KV cache, best measured share of the HBM bandwidth, by family.
# B200: 5,830.86 GB/s of 8 TB/s, TensorRT-LLM's trtllm-gen decode kernel at batch 128, 4,096 cached
# tokens, 64 query and 8 KV heads (flashinfer-ai/flashinfer pull request #1415, "[b200] Benchmark
# results" of benchmarks/bench_trtllm_fmha.py). Others: FlashMLA's 3,000 of 3,350 GB/s on H800
# (deepseek-ai/FlashMLA README @ 066b5ba6; formulas.serving.KV_BANDWIDTH_EFFICIENCY).
KV_BANDWIDTH_MEASURED = {"b200": 5830.86e9 / 8e12}


def block_scaled_bytes(element_bits, block, scale_bits):
    """Bytes one value of a block-scaled format takes, its share of the block's scale included.

    Formula: (e + s / n) / 8   (e bits per element, one s-bit scale per block of n elements)
    Convention: a per-tensor scale on top (NVFP4's FP32 second-level scale) is one value per tensor of
    millions and is left out. NVFP4: E2M1 elements, one E4M3 scale per 16: (4 + 8/16) / 8 = 0.5625 B
    (4.5 bits); MXFP4: one E8M0 scale per 32: (4 + 8/32) / 8 = 0.53125 B (4.25 bits).
    Source: NVIDIA technical blog "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference"
    (June 2025: 16-value micro-blocks, FP8 E4M3 scale, FP32 tensor scale); OCP Microscaling Formats (MX)
    Specification v1.0, sec. 5 (blocks of 32, E8M0 shared scale).
    """
    return (element_bits + scale_bits / block) / 8.0


NVFP4_BYTES = block_scaled_bytes(4, 16, 8)
MXFP4_BYTES = block_scaled_bytes(4, 32, 8)


def gemm_ceiling(preset, precision: str, fp8_recipe=None):
    """Best share of the datasheet peak a dense GEMM reaches on an accelerator preset at a precision.

    Formula: the measured maximum for the preset's family and precision: FP4 and MXFP4 their FP4
             measurement (FP4_GEMM_CEILING) where one exists, else, like INT8 and INT4, the FP8 figure;
             else kernel_efficiency.GEMM_CEILING_UNMEASURED (0.75); FP8 under a block-scaled recipe
             (MXFP8, blockwise) on Blackwell x 0.951 (kernel_efficiency.recipe_ceiling)
    Convention: B200 FP4 reaches 5,702 of 9,000 TFLOP/s (0.634), a smaller share of its peak than FP8
    (0.763); an accelerator with no FP4 measurement keeps its FP8 share. `fp8_recipe` None (serving,
    or a scenario without FP8 GEMMs) keeps the per-tensor figure. Hopper (H100, H800, H200) takes the
    rate it sustains at its 700 W power limit (BF16 745, FP8 about 1337 TFLOP/s), not a short burst's.
    Source: kernel_efficiency.GEMM_CEILING (stas00/ml-engineering max-achievable matmul table and, for
    Hopper, mamf-finder.py v4's sustainable MSMF on H200, benchmarks README; AMD ROCm
    blog "Measuring Max-Achievable FLOPs - Part 2"); FP4_GEMM_CEILING (deepseek-ai/DeepGEMM PR #348);
    kernel_efficiency.BLOCK_SCALED_GEMM_RATE (Transformer Engine docs, "GEMM Profiling Tutorial", B300).
    """
    family = _FAMILY.get(preset)
    if precision in FP4_PRECISIONS and family in FP4_GEMM_CEILING:
        return FP4_GEMM_CEILING[family]
    table = K.GEMM_CEILING.get(family, {})
    ceiling = table.get("fp8" if precision in LOW_PRECISIONS else "bf16", K.GEMM_CEILING_UNMEASURED)
    if precision != "fp8":
        return ceiling
    return K.recipe_ceiling(ceiling, fp8_recipe, preset in BLACKWELL_PRESETS)


def ceiling_shape(preset, precision):
    """Depth K and output bytes of the GEMM the preset's ceiling was measured at, for a precision.

    Formula: the low-precision measurement's (K, bytes) for FP8 and narrower where the family has one
             (kernel_efficiency.CEILING_DEPTH_LOW_PRECISION), else (the family's BF16 depth, 2 bytes)
             (kernel_efficiency.CEILING_DEPTH; CEILING_DEPTH_DEFAULT without one)
    Source: the measurements' shapes, kernel_efficiency.CEILING_DEPTH (stas00/ml-engineering tables and
    mamf-finder.py v4's MSMF shapes).
    """
    family = _FAMILY.get(preset)
    if precision in LOW_PRECISIONS and family in K.CEILING_DEPTH_LOW_PRECISION:
        return K.CEILING_DEPTH_LOW_PRECISION[family]
    return K.CEILING_DEPTH.get(family, K.CEILING_DEPTH_DEFAULT), 2.0


def kv_bandwidth_efficiency(preset, default):
    """Share of the HBM bandwidth decode attention reaches reading the KV cache on an accelerator preset.

    Formula: the measured maximum for the preset's family (KV_BANDWIDTH_MEASURED), else `default`
    Convention: B200 0.729 (trtllm-gen decode kernel); accelerators without a measurement take the
    default (FlashMLA on H800, 0.90), the best decode kernel measured anywhere.
    Source: KV_BANDWIDTH_MEASURED (flashinfer-ai/flashinfer PR #1415).
    """
    return KV_BANDWIDTH_MEASURED.get(_FAMILY.get(preset), default)


def streaming_multiprocessors(preset):
    """SMs of an accelerator preset, or None when the vendor gives no such count (no wave quantization)."""
    return STREAMING_MULTIPROCESSORS.get(preset)


def sm_share(preset, sms_taken):
    """Share of an accelerator's SMs a communication kernel takes: its SMs over the preset's count
    (an H100's 132 when the preset gives none)."""
    return sms_taken / (streaming_multiprocessors(preset) or _REFERENCE_SMS)


def mxfp8_unsupported(preset) -> bool:
    """True for a known NVIDIA or AMD accelerator preset whose tensor cores have no MXFP8 GEMMs (before
    Blackwell, CDNA 3 and older); unknown or custom hardware is taken at its word."""
    return preset in STREAMING_MULTIPROCESSORS and preset not in MXFP8_PRESETS
