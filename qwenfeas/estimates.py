"""The metric pipeline: a scenario's values in, a Report of named metrics out.

Each wing adds its metrics to one builder, in the order of the flow: the model's
counts (architecture), training, serving, then power and cost (accounting).
"""

from __future__ import annotations

from . import training
from .accounting import add_accounting
from .architecture import add_architecture, attention_layers
from .errors import QwenfeasError
from .report import Builder, Report
from .scenario.load import Scenario
from .serving import add_serving


def estimate(scenario: Scenario) -> Report:
    """Every estimate a scenario supports, as a Report."""
    s = scenario.values
    b = Builder(scenario)
    layers = attention_layers(s)
    add_architecture(b, s, layers)
    if "tokens" in s:
        training.add_training(b, s, layers)
    add_serving(b, s, layers)
    add_accounting(b, s, layers, _generator_sequence_flops)
    _check_finite(b.report)
    return b.report


def _check_finite(report: Report) -> None:
    """Refuse to report an infinite or undefined number (a safety net behind the input bounds)."""
    import math

    for metric in report.metrics.values():
        value = metric.value
        if isinstance(value, str):  # a choice, e.g. layout.schedule
            continue
        if hasattr(value, "dtype"):  # a numpy sweep: numpy is already loaded
            import numpy as np

            finite = bool(np.all(np.isfinite(value)))
        else:
            finite = math.isfinite(value)
        if not finite:
            raise QwenfeasError(f"{metric.name} is not a finite number", file=report.scenario.file,
                                hint="an input is extremely large or small for what it describes: check its unit")


def _generator_sequence_flops(preset: str, context):
    """Forward FLOPs of one `context`-token sequence by the model preset `preset` (its own estimate)."""
    from .scenario.load import loads

    text = f"model: {{preset: {preset}}}\nhardware: {{peak_flops: 1, memory: 1, bandwidth: 1, tdp: 1}}\n"
    # a prompt of `context` tokens (the context holds one more, the token it would decode next)
    vary = {"context": context + 1, "inference.prompt_tokens": context}
    return estimate(loads(text, f"synthetic.generator {preset}", vary=vary))["inference.prefill_flops"]
