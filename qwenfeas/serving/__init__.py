"""Serving wing: prefill, decode, batching and test-time queries."""

from .metrics import add_serving

__all__ = ["add_serving"]
