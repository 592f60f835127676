"""Goodput: the share of wall-clock time spent on training that counts, given failures and checkpoints."""

from __future__ import annotations

from ._array import maximum

# Llama 3 405B pre-training: 419 unexpected interruptions in a 54-day snapshot on 16,384 H100
# (Dubey et al. 2024, arXiv 2407.21783, sec. 3.3.4).
INTERRUPTIONS_PER_ACCELERATOR_HOUR = 419 / (16384 * 54 * 24)


def interruptions(accelerators, seconds, rate_per_accelerator_hour=INTERRUPTIONS_PER_ACCELERATOR_HOUR):
    """Expected unexpected interruptions of a job.

    Formula: n * rate * seconds / 3600   (failures in proportion to accelerator-hours)
    Source: Dubey et al. 2024 sec. 3.3.4 (about 2.0e-5 per accelerator-hour).
    """
    return accelerators * rate_per_accelerator_hour * seconds / 3600.0


def checkpoint_interval(checkpoint_seconds, mean_seconds_between_failures):
    """The checkpoint interval that loses the least time.

    Formula: sqrt(2 * C * MTBF)   (first-order optimum)
    Source: Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9).
    """
    return (2.0 * checkpoint_seconds * mean_seconds_between_failures) ** 0.5


def goodput(checkpoint_seconds, restart_seconds, mean_seconds_between_failures):
    """Useful training time over wall-clock time at the optimal checkpoint interval.

    Formula: 1 / (1 + C/tau + (tau/2 + R) / MTBF),  tau = sqrt(2 C MTBF)
             (each checkpoint costs C; each failure loses half an interval of work on average and R
             to restart)
    Source: Young 1974; Daly 2006, "A higher order estimate of the optimum checkpoint interval",
    FGCS 22(3), sec. 3.
    """
    tau = maximum(checkpoint_interval(checkpoint_seconds, mean_seconds_between_failures), 1e-9)
    return 1.0 / (1.0 + checkpoint_seconds / tau + (tau / 2 + restart_seconds) / mean_seconds_between_failures)
