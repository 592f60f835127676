"""Training wing: FLOPs and time, memory per accelerator, layouts and communication."""

from .metrics import add_training

__all__ = ["add_training"]
