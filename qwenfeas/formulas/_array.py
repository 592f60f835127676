"""Element-wise helpers that work on plain numbers and numpy arrays alike.

numpy is used only when an argument is already a numpy value, so scalar
estimates never import it.
"""

from __future__ import annotations

import math
import sys


def _numpy(*values):
    """The numpy module when any value is a numpy array or scalar, else None."""
    np = sys.modules.get("numpy")
    if np is not None and any(isinstance(v, (np.ndarray, np.generic)) for v in values):
        return np
    return None


def maximum(a, b):
    """Element-wise max(a, b)."""
    np = _numpy(a, b)
    return np.maximum(a, b) if np else max(a, b)


def minimum(a, b):
    """Element-wise min(a, b)."""
    np = _numpy(a, b)
    return np.minimum(a, b) if np else min(a, b)


def ceil(x):
    """Element-wise ceiling, as float."""
    np = _numpy(x)
    return np.ceil(x) if np else float(math.ceil(x))


def where(condition, a, b):
    """Element-wise `a if condition else b`."""
    np = _numpy(condition, a, b)
    return np.where(condition, a, b) if np else (a if condition else b)


def any_true(condition) -> bool:
    """Whether a condition holds anywhere: at any point of a sweep, or for one scenario."""
    np = _numpy(condition)
    return bool(np.any(condition)) if np else bool(condition)


def is_array(value) -> bool:
    """Whether a value is a numpy array (a sweep) rather than one number."""
    return _numpy(value) is not None and getattr(value, "ndim", 0) > 0


def show(value, spec: str = "g") -> str:
    """A number for a message; a swept array as its range, "1 to 64"."""
    if is_array(value):
        low, high = float(value.min()), float(value.max())
        return format(low, spec) if low == high else f"{low:{spec}} to {high:{spec}}"
    return format(value, spec)
