"""Training metrics: FLOPs, then the layout, its step time, memory and communication (see step.py)."""

from __future__ import annotations

from ..formulas import flops as F
from ..formulas._array import any_true, maximum
from .layout import choose_layout
from .step import add_step
from .step_inputs import Work, attention_forward_per_token


def add_training(b, s: dict, layers) -> None:
    """Training FLOPs, the layout, step time and MFU, goodput, memory per accelerator and
    communication, onto the builder `b`."""
    _training(b, s, layers)
    work = Work(b.report, s, attention_forward_per_token(b.report, s, layers))
    chosen = choose_layout(b, s, work)
    add_step(b, s, work, chosen)


_KEYS_PER_TOKEN = {"none": "0", "causal": "({training.sequence} + 1) / 2", "noncausal": "{training.sequence}"}


def _training(b, s: dict, layers) -> None:
    r = b.report
    dense = b.put("training.dense_flops", F.training_dense_flops(r["model.matmul_params"], s["tokens"]), "FLOP",
                  "weight matmuls (6ND)", "6 × {model.matmul_params} × {tokens}", F.training_dense_flops)
    convention = s["training.attention_term"]
    T_ = s["training.sequence"]
    attention = F.training_attention_flops(r["model.attention_flops_per_key"], T_, s["tokens"], convention)
    formula = "3 × {model.attention_flops_per_key} × " + _KEYS_PER_TOKEN[convention] + " × {tokens}"
    if any_true(layers.sliding):
        attention = attention + F.training_attention_flops(
            r["model.sliding_attention_flops_per_key"], T_, s["tokens"], convention, layers.window)
        formula += " + sliding-window layers (keys capped at {model.attention.sliding_window})"
    if any_true(layers.linear) and convention != "none":
        attention = attention + 3 * r["model.linear_attention_flops_per_token"] * s["tokens"]
        formula += " + 3 × {model.linear_attention_flops_per_token} × {tokens}"
    attention = b.put("training.attention_flops", attention, "FLOP", f"attention scores ({convention})", formula,
                      F.training_attention_flops)
    if "model.mtp_params" not in r.metrics:
        b.put("training.flops", dense + attention, "FLOP", "model FLOPs",
              "{training.dense_flops} + {training.attention_flops}")
        return
    D = s["model.mtp_layers"]
    mtp = F.training_dense_flops(F.mtp_matmul_params(r.terms["mtp_active_params"].value, D,
                                                     r.terms["embedding_params"].value), s["tokens"])
    # each depth's block attends like one full-attention layer of the model (formulas.params.mtp_params)
    per_layer = r["model.attention_flops_per_key"] / maximum(layers.full, 1.0)
    mtp = b.put("training.mtp_flops", mtp + F.training_attention_flops(per_layer * D, T_, s["tokens"], convention),
                "FLOP", "multi-token-prediction modules (weights, head pass, attention)",
                "6 × ({mtp_active_params} + {model.mtp_layers} × {embedding_params}) × {tokens} + 3 × "
                "{model.attention_flops_per_key} / {full_attention_layers} × {model.mtp_layers} × "
                + _KEYS_PER_TOKEN[convention] + " × {tokens}", F.mtp_matmul_params)
    b.put("training.flops", dense + attention + mtp, "FLOP", "model FLOPs, multi-token prediction included",
          "{training.dense_flops} + {training.attention_flops} + {training.mtp_flops}")
