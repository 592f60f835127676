"""What the training and serving models need to know about an accelerator preset beyond its datasheet
figures: its GEMM efficiency ceiling (measured), its count of streaming multiprocessors (SMs), and the
scale-up domain to assume when the preset gives none."""

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
STREAMING_MULTIPROCESSORS = {
    "a100-sxm-80gb": 108, "a800": 108, "h100-sxm": 132, "h100-pcie": 114, "h800": 132, "h200": 132,
    "h20": 78, "v100": 80, "b200": 148, "gb200": 148, "b300": 160, "gb300": 160,
    "mi300x": 304, "mi325x": 304, "mi355x": 256, "mi250x": 220,
}
# SMs the H100-class reference GPU has (the unit the collective SM budgets below are given in).
_REFERENCE_SMS = 132


# Precisions whose GEMMs take the FP8 measurement (8 bits or narrower)
LOW_PRECISIONS = ("fp8", "fp4", "mxfp4", "int8", "int4")


def gemm_ceiling(preset, precision: str):
    """Best share of the datasheet peak a dense GEMM reaches on an accelerator preset at a precision.

    Formula: the measured maximum for the preset's family and precision (FP4, MXFP4, INT8, INT4: the FP8
             figure), else kernel_efficiency.GEMM_CEILING_UNMEASURED (0.75)
    Convention: FP4 on Blackwell takes the FP8 fraction of its own peak: cuBLAS 12.9 reaches up to 2.3x
    its FP8 matmul speed with block-scaled FP4 (NVIDIA blog "Boosting Matrix Multiplication Speed and
    Flexibility with NVIDIA cuBLAS 12.9"), 2.3 x 0.763 x 4.5 / 9 = 0.88 of the FP4 peak, a bound the FP8
    fraction (0.763) stays under, so no FP4 measurement lowers it.
    Source: kernel_efficiency.GEMM_CEILING (stas00/ml-engineering max-achievable matmul table; AMD ROCm
    blog "Measuring Max-Achievable FLOPs - Part 2").
    """
    table = K.GEMM_CEILING.get(_FAMILY.get(preset), {})
    return table.get("fp8" if precision in LOW_PRECISIONS else "bf16", K.GEMM_CEILING_UNMEASURED)


def attention_forward_efficiency(preset):
    """Share of the BF16 peak attention's forward kernel reaches on a preset: Blackwell's measured
    figure on B200 and GB200, else FlashAttention-3's on H100 (kernel_efficiency.ATTENTION_FORWARD*)."""
    blackwell = _FAMILY.get(preset) in ("b200", "gb200")
    return K.ATTENTION_FORWARD_BLACKWELL if blackwell else K.ATTENTION_FORWARD


def ceiling_depth(preset):
    """Depth K of the GEMM the preset's ceiling was measured at (kernel_efficiency.CEILING_DEPTH)."""
    return K.CEILING_DEPTH.get(_FAMILY.get(preset), K.CEILING_DEPTH_DEFAULT)


def streaming_multiprocessors(preset):
    """SMs of an accelerator preset, or None when the vendor gives no such count (no wave quantization)."""
    return STREAMING_MULTIPROCESSORS.get(preset)


def sm_share(preset, sms_taken):
    """Share of an accelerator's SMs a communication kernel takes: its SMs over the preset's count
    (an H100's 132 when the preset gives none)."""
    return sms_taken / (streaming_multiprocessors(preset) or _REFERENCE_SMS)
