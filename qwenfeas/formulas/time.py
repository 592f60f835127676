"""Wall-clock time from work, hardware peaks and utilisation."""

from __future__ import annotations


def compute_seconds(flops, accelerators, peak_flops, mfu):
    """Time to execute `flops` at a sustained fraction of peak.

    Formula: FLOPs / (n * peak * MFU)
    Convention: MFU is useful (model) FLOP/s over dense peak at the compute precision.
    Source: Chowdhery et al. 2022 (PaLM), Appendix B (definition of MFU).
    """
    return flops / (accelerators * peak_flops * mfu)


def memory_seconds(bytes_moved, accelerators, bandwidth):
    """Time to stream `bytes_moved` from memory, spread over n accelerators.

    Formula: bytes / (n * bandwidth)
    Convention: peak bandwidth, perfectly spread; real kernels reach about 80-90%.
    Source: Williams et al. 2009, "Roofline" (memory-bound ceiling).
    """
    return bytes_moved / (accelerators * bandwidth)


def accelerator_hours(accelerators, seconds):
    """Accelerator-hours (GPU-hours) of a job.

    Formula: n * seconds / 3600
    Source: definition.
    """
    return accelerators * seconds / 3600.0


def seconds_from_accelerator_hours(accelerator_hours, accelerators):
    """Wall-clock time of a job from its accelerator-hours and its fleet.

    Formula: hours * 3600 / n
    Convention: every accelerator busy for the whole run (the inverse of accelerator_hours).
    Source: definition.
    """
    return accelerator_hours * 3600 / accelerators
