"""Derive what the user left out: defaults, architecture-implied keys, layout degrees; check keys against each other.

Runs on the validator's collector once every written value has parsed; every problem found is
recorded on it (file, line, key) rather than raised, so one run reports all of them.
"""

from __future__ import annotations

from ..errors import did_you_mean
from ..formulas._array import any_true, is_array, show
from ..formulas.accelerators import mxfp8_unsupported
from ..formulas.power import system_watts
from . import catalogue
from .fields import all_keys


def complete(c) -> None:
    """Fill defaults and derivable keys; check the keys against each other."""
    v = c.values
    if "datacenter.gpu_hour" not in v and "hardware.rental_price" in v:
        c.derive("datacenter.gpu_hour", v["hardware.rental_price"],
                 "= hardware.rental_price (" + c.origins["hardware.rental_price"] + ")")
    # A published checkpoint's format is how the model is served; a training run keeps bf16 weights.
    serving_only = "tokens" not in v
    checkpoint = "precision.weights" not in v and "model.quantization.weights" in v and serving_only
    if checkpoint:
        c.derive("precision.weights", v["model.quantization.weights"],
                 "= model.quantization.weights (the published checkpoint)")
    for key, spec in all_keys().items():
        if key not in v and spec.default is not None:
            c.derive(key, spec.default, "default: " + (spec.default_source or "convention"))
    if "precision.kv_cache" not in v:
        if checkpoint:  # quantized weights, activations and cache in bf16 (vLLM's kv_cache_dtype "auto")
            c.derive("precision.kv_cache", "bf16", "default: bf16, the activations of a quantized checkpoint "
                     "(vLLM kv_cache_dtype 'auto' follows the model's dtype)")
        else:
            c.derive("precision.kv_cache", v["precision.weights"], "= precision.weights")
    if "precision.expert_weights" not in v:
        if "model.quantization.expert_weights" in v and serving_only:
            c.derive("precision.expert_weights", v["model.quantization.expert_weights"],
                     "= model.quantization.expert_weights (the published checkpoint)")
        else:
            c.derive("precision.expert_weights", v["precision.weights"], "= precision.weights")
    _complete_model(c)
    _complete_workload(c)
    _complete_hardware(c)
    _complete_synthetic(c)
    if "limits.capex" in v and "capex.accelerator" not in v:
        c.problem("limits.capex", "needs the price of the fleet: capex.accelerator is not set",
                  "add capex.accelerator (and server, network) per accelerator, e.g. capex: {accelerator: 35K}")


def _require(c, key: str, hint: str) -> bool:
    if key in c.values:
        return True
    c.problem(key, "missing, and nothing can derive it", hint)
    return False


def _complete_model(c) -> None:
    v = c.values
    model_hint = "add model.preset (e.g. llama-2-70b) or write the architecture keys"
    if not all([_require(c, f"model.{key}", model_hint) for key in ("layers", "hidden", "heads", "vocab")]):
        return
    if "model.head_dim" not in v:
        if any_true(v["model.hidden"] % v["model.heads"]):
            c.problem("model.head_dim", f"missing, and hidden ({show(v['model.hidden'])}) is not a multiple "
                      f"of heads ({show(v['model.heads'])})", "give model.head_dim",
                      related=("model.heads", "model.hidden"))
            return
        c.derive("model.head_dim", v["model.hidden"] / v["model.heads"], "= model.hidden / model.heads")
    heads = v["model.heads"]
    kind = v.get("model.attention.kind")
    if kind is None:
        kind = "mla" if "model.attention.kv_lora_rank" in v else None
    if kind == "mla":
        for key in ("kv_lora_rank", "rope_head_dim"):
            _require(c, f"model.attention.{key}", "MLA needs its latent and RoPE widths "
                     "(DeepSeek-V3: kv_lora_rank 512, rope_head_dim 64)")
        if "model.attention.v_head_dim" not in v:
            c.derive("model.attention.v_head_dim", v["model.head_dim"], "= model.head_dim")
        if "model.attention.q_lora_rank" not in v:
            c.derive("model.attention.q_lora_rank", 0.0, "default: no query compression")
        if "model.kv_heads" not in v:
            c.derive("model.kv_heads", heads, "= model.heads (MLA)")
    else:
        default_kv = {"mqa": 1.0, None: heads, "mha": heads}.get(kind)
        if "model.kv_heads" not in v:
            if default_kv is None:
                c.problem("model.kv_heads", "missing: grouped-query attention needs its KV head count",
                          "add model.kv_heads (e.g. 8)")
                return
            c.derive("model.kv_heads", default_kv, f"= {'1 (MQA)' if kind == 'mqa' else 'model.heads'}")
        kv = v["model.kv_heads"]
        if any_true((kv > heads) | (heads % kv != 0)):
            c.problem("model.kv_heads", f"must divide model.heads ({show(heads)}); got {show(kv)}",
                      related=("model.heads",))
        elif kind == "mha" and any_true(kv != heads):
            c.problem("model.kv_heads", f"MHA has kv_heads = heads ({show(heads)}); got {show(kv)}",
                      "use model.attention.kind: gqa, or drop kv_heads", related=("model.attention.kind",))
        elif kind == "mqa" and any_true(kv != 1):
            c.problem("model.kv_heads", f"MQA has one KV head; got {show(kv)}", "use model.attention.kind: gqa",
                      related=("model.attention.kind",))
        if kind is None:
            kind = "mha" if not any_true(kv != heads) else ("mqa" if not any_true(kv != 1) else "gqa")
    c.derive("model.attention.kind", kind, c.origins.get("model.attention.kind", "derived from kv_heads"))
    _complete_layer_kinds(c, kind)

    moe_keys = [k for k in v if k.startswith("model.moe.") and not c.origins[k].startswith("default:")]
    if moe_keys:
        for key in ("experts", "top_k", "expert_ffn_hidden"):
            _require(c, f"model.moe.{key}", "an MoE model needs experts, top_k and expert_ffn_hidden")
        if "model.moe.top_k" in v and "model.moe.experts" in v and any_true(v["model.moe.top_k"] > v["model.moe.experts"]):
            c.problem("model.moe.top_k", f"must not exceed model.moe.experts ({show(v['model.moe.experts'])})",
                      related=("model.moe.experts",))
        if "model.moe.shared_experts" not in v:
            c.derive("model.moe.shared_experts", 0.0, "default: no shared expert")
        if "model.moe.shared_expert_ffn_hidden" not in v and "model.moe.expert_ffn_hidden" in v:
            c.derive("model.moe.shared_expert_ffn_hidden", v["model.moe.expert_ffn_hidden"],
                     "= model.moe.expert_ffn_hidden")
        if "model.moe.dense_layers" not in v:
            c.derive("model.moe.dense_layers", 0.0, "default: every layer is MoE")
        elif any_true(v["model.moe.dense_layers"] > v["model.layers"]):
            c.problem("model.moe.dense_layers", f"must not exceed model.layers ({show(v['model.layers'])})",
                      related=("model.layers",))
    if not moe_keys or any_true(v.get("model.moe.dense_layers", 0) > 0):
        _require(c, "model.ffn_hidden", "a dense FFN needs its width (Llama-2-70B: 28672)")


def _complete_layer_kinds(c, kind: str) -> None:
    """Split the layers into full, sliding-window and linear attention, and check the split."""
    v = c.values
    linear_keys = [k for k in v if k.startswith("model.linear_attention.") and not c.origins[k].startswith("default:")]
    if linear_keys:
        block = v.get("model.linear_attention.kind")
        if block is None:
            block = "gated_deltanet"
            c.derive("model.linear_attention.kind", block, "default: gated_deltanet (Qwen3-Next)")
        if block != "gated_deltanet" and "model.linear_attention.value_heads" in v:
            if "model.linear_attention.key_heads" not in v:
                c.derive("model.linear_attention.key_heads", v["model.linear_attention.value_heads"],
                         f"= model.linear_attention.value_heads ({block}: one key per value head)")
            if block == "lightning" and "model.linear_attention.conv_kernel" not in v:
                c.derive("model.linear_attention.conv_kernel", 1.0, "lightning attention has no short convolution")
        for key in ("layers", "key_heads", "value_heads", "key_head_dim", "value_head_dim", "conv_kernel"):
            _require(c, f"model.linear_attention.{key}", "a linear-attention block needs its layer count and "
                     "head shapes (Qwen3-Next: 36 layers, 16 key heads and 32 value heads of 128, kernel 4)")
    linear = v.get("model.linear_attention.layers", 0.0)
    if any_true(linear > v["model.layers"]):
        c.problem("model.linear_attention.layers", f"must not exceed model.layers ({show(v['model.layers'])})",
                  related=("model.layers",))
        return
    if "model.attention.sliding_layers" in v and "model.attention.sliding_window" not in v:
        c.problem("model.attention.sliding_layers", "is set, but model.attention.sliding_window is not",
                  "give the window in tokens, e.g. model.attention.sliding_window: 4096")
    elif "model.attention.sliding_window" in v:
        if kind == "mla":
            c.problem("model.attention.sliding_window", "sliding windows with MLA are not modelled")
        softmax = v["model.layers"] - linear
        if "model.attention.sliding_layers" not in v:
            c.derive("model.attention.sliding_layers", softmax, "= every softmax-attention layer")
        elif any_true(v["model.attention.sliding_layers"] > softmax):
            c.problem("model.attention.sliding_layers", f"must not exceed the {show(softmax)} softmax-attention layers",
                      related=("model.layers", "model.linear_attention.layers"))


def _complete_workload(c) -> None:
    v = c.values
    if _require(c, "context", "add context: the tokens held per sequence, e.g. context: 128K") \
            and "training.sequence" not in v:
        c.derive("training.sequence", v["context"], "= context")
    if "test_time" in v and "context" in v and any_true(v["test_time"] > v["context"]):
        context, test_time = v["context"], v["test_time"]
        if is_array(context) and not is_array(test_time):  # a swept context: the points it does not fit
            context = context[context < test_time]
        c.problem("test_time", f"must fit in the context ({show(context, ',g')} tokens); got {show(test_time, ',g')}",
                  "the generated tokens are held in the context window: raise context to at least test_time",
                  related=("context",))
    _complete_requests(c)
    window = v.get("model.max_context")
    if window is not None and "context" in v and any_true(v["context"] > window):
        over = v["context"][v["context"] > window] if is_array(v["context"]) and not is_array(window) else v["context"]
        c.warnings.append(f"context {show(over, ',.0f')} exceeds the model's window of {show(window, ',.0f')} tokens")


def _complete_hardware(c) -> None:
    v = c.values
    hint = "set hardware.preset (" + ", ".join(catalogue.preset_names("hardware.preset")) + ") or give the figure"
    present = [_require(c, f"hardware.{key}", hint) for key in ("peak_flops", "memory", "bandwidth", "tdp")]
    if present[0] and isinstance(v["hardware.peak_flops"], dict):
        table = v["hardware.peak_flops"]
        precision = v["precision.compute"]
        if precision not in table:
            name = v.get("hardware.preset", "this accelerator")
            c.problem("precision.compute", f"{name} has no dense {precision} peak; it lists "
                      + ", ".join(table), "choose one of those, or give hardware.peak_flops")
        else:
            c.derive("hardware.peak_flops", table[precision],
                     f"{c.origins['hardware.peak_flops']} ({precision})")
            if "hardware.attention_peak_flops" not in v:
                half = next((p for p in ("bf16", "fp16") if p in table), precision)
                c.derive("hardware.attention_peak_flops", table[half], f"{c.origins['hardware.peak_flops']} ({half})")
    if present[0] and "hardware.attention_peak_flops" not in v:
        c.derive("hardware.attention_peak_flops", v["hardware.peak_flops"], "= hardware.peak_flops")
    if present[3]:
        _complete_system_power(c)
    if "tokens" in v or "measured.gpu_hours" in v or "measured.days" in v:
        if _require(c, "hardware.count", "a training budget needs the number of accelerators: add hardware.count"):
            if "tokens" in v:
                _complete_parallel(c)
    _check_fp8_recipe(c)
    _complete_measured(c)
    if "limits.budget" in v and "datacenter.gpu_hour" not in v:
        c.problem("limits.budget", "needs a rental price: this accelerator has no hardware.rental_price",
                  "give datacenter.gpu_hour, e.g. gpu_hour: 2.50 $/h, with its source")


def _check_fp8_recipe(c) -> None:
    """An FP8 scaling recipe applies to FP8 GEMMs, and MXFP8 only to accelerators that compute it."""
    v = c.values
    if v.get("training.fp8_param_gather") and v["precision.compute"] != "fp8":
        c.warnings.append(f"training.fp8_param_gather ({c.origins['training.fp8_param_gather']}) is not used: "
                          f"precision.compute is {v['precision.compute']}, not fp8")
    if c.origins["precision.fp8_recipe"].startswith("default"):
        return
    recipe, compute = v["precision.fp8_recipe"], v["precision.compute"]
    if compute != "fp8":
        c.warnings.append(f"precision.fp8_recipe ({c.origins['precision.fp8_recipe']}) is not used: "
                          f"precision.compute is {compute}, not fp8")
    elif recipe == "mxfp8" and mxfp8_unsupported(v.get("hardware.preset")):
        c.problem("precision.fp8_recipe", f"mxfp8 needs block-scaled FP8 tensor cores (NVIDIA Blackwell, AMD "
                  f"MI355X); {v['hardware.preset']} has none",
                  "use current, delayed or blockwise (DeepSeek-V3's, on Hopper), or a Blackwell preset",
                  related=("hardware.preset",))


def _complete_system_power(c) -> None:
    """IT power per accelerator: its system's rated figure, else the board power times (1 + overhead).

    IT overhead belongs to the system (a DGX H100 draws 10.2 kW for 8 x 700 W GPUs, +82%; a GB200
    NVL72 rack 120-132 kW for 72 x 1.2 kW, +39-53%), PUE to the facility.
    """
    v = c.values
    overhead_written = not c.origins["datacenter.overhead"].startswith("default")
    if "hardware.system_power" in v:
        if overhead_written:
            c.warnings.append(f"datacenter.overhead ({c.origins['datacenter.overhead']}) is not used: "
                              f"hardware.system_power ({c.origins['hardware.system_power']}) gives the IT power "
                              "per accelerator")
        return
    c.derive("hardware.system_power", system_watts(v["hardware.tdp"], v["datacenter.overhead"]),
             "= hardware.tdp × (1 + datacenter.overhead): no system power is known for this accelerator")


def _complete_measured(c) -> None:
    """Facts of a finished run: wall-clock time needs the fleet size, and they must agree."""
    v = c.values
    days = v.get("measured.days")
    if days is not None and any_true(days < 3600):
        c.warnings.append(f"measured.days is {show(days)} s, under an hour: a bare number is read as seconds; "
                          "write 54d for 54 days")
    timed = [k for k in ("measured.gpu_hours", "measured.days", "measured.tokens_per_second",
                         "measured.flops_per_accelerator") if k in v]
    if any(k in timed for k in ("measured.tokens_per_second", "measured.flops_per_accelerator")) \
            and "tokens" not in v:
        c.problem(timed[-1], "needs the training tokens to give a time: tokens is not set",
                  "add tokens (e.g. 14.8T), or give measured.gpu_hours or measured.days")


def _complete_synthetic(c) -> None:
    """Synthetic data is generated on the scenario's fleet, by its own model unless a generator is named."""
    v = c.values
    if "synthetic.tokens" not in v:
        if any(k.startswith("synthetic.") and not c.origins[k].startswith("default:") for k in v):
            c.problem("synthetic.tokens", "missing: the synthetic section needs the tokens to generate",
                      "add synthetic.tokens, e.g. 64T")
        return
    if not _require(c, "hardware.count", "synthetic data is generated on the scenario's fleet: add hardware.count"):
        return
    if "synthetic.context" not in v and "training.sequence" in v:
        c.derive("synthetic.context", v["training.sequence"], "= training.sequence")
    if "synthetic.mfu" not in v:
        c.derive("synthetic.mfu", v["hardware.mfu"], "= hardware.mfu")
    generator = v.get("synthetic.generator")
    if isinstance(generator, str) and generator.lower() in catalogue.preset_names("model.preset"):
        v["synthetic.generator"] = generator = generator.lower()  # preset names are case-insensitive
    if generator is not None and generator not in catalogue.preset_names("model.preset"):
        names = catalogue.preset_names("model.preset")
        c.problem("synthetic.generator", f"unknown model preset {generator!r}",
                  did_you_mean(generator, names) or "known presets: " + ", ".join(names))


def _complete_parallel(c) -> None:
    """Fill the parallel layout's degrees and check that they tile hardware.count."""
    v = c.values
    for key in ("tensor", "pipeline", "expert", "context"):
        if f"parallel.{key}" not in v:
            c.derive(f"parallel.{key}", 1.0, "default: no parallelism of this kind")
    model_parallel = v["parallel.tensor"] * v["parallel.pipeline"] * v["parallel.context"]
    count = v["hardware.count"]
    if any_true(model_parallel * v["parallel.expert"] > count):
        c.problem("parallel.tensor", f"tensor x pipeline x context x expert ({show(model_parallel * v['parallel.expert'])}) "
                  f"exceeds hardware.count ({show(count)})", related=("hardware.count", "parallel.expert"))
        return
    if "parallel.data" not in v:
        # the most replicas the accelerators hold; any left over stay idle (reported as layout.idle_accelerators)
        replicas = (count // (model_parallel * v["parallel.expert"])) * v["parallel.expert"]
        c.derive("parallel.data", replicas, "= hardware.count / (tensor x pipeline x context), rounded down to a "
                 "multiple of parallel.expert")
    elif any_true(v["parallel.data"] * model_parallel > count):
        c.problem("parallel.data", f"tensor x pipeline x context x data = {show(model_parallel * v['parallel.data'])}, "
                  f"more than hardware.count ({show(count)})", "make the degrees multiply to at most hardware.count",
                  related=("hardware.count",))
        return
    if any_true(v["parallel.data"] % v["parallel.expert"]):
        c.problem("parallel.expert", f"must divide the data-parallel degree ({show(v['parallel.data'])}): expert "
                  "parallelism is carved out of it", related=("parallel.data",))


def _complete_requests(c) -> None:
    """A request's prompt and output tokens: by default the output is the reasoning (test_time) or one token."""
    v = c.values
    if "context" not in v:
        return
    if "inference.output_tokens" not in v:
        if "test_time" in v:
            c.derive("inference.output_tokens", v["test_time"], "= test_time")
        else:
            c.derive("inference.output_tokens", 1.0, "default: one token decoded at the full context")
    if "inference.prompt_tokens" not in v:
        c.derive("inference.prompt_tokens", v["context"] - v["inference.output_tokens"],
                 "= context - inference.output_tokens")
    elif any_true(v["inference.prompt_tokens"] + v["inference.output_tokens"] > v["context"]):
        c.problem("inference.prompt_tokens", f"prompt ({show(v['inference.prompt_tokens'])}) + output "
                  f"({show(v['inference.output_tokens'])}) tokens exceed the context ({show(v['context'])})",
                  "the cache holds both: raise context to at least prompt_tokens + output_tokens",
                  related=("context",))
    written = not c.origins["inference.output_tokens"].startswith(("=", "default"))
    if written and any_true(v["inference.prompt_tokens"] < 0):
        c.problem("inference.output_tokens", f"more than the context ({show(v['context'])} tokens)",
                  "lower inference.output_tokens or raise context", related=("context",))
    speculative = [k for k in ("kind", "draft_tokens", "acceptance") if f"inference.speculative.{k}" in v]
    if speculative and len(speculative) < 3:
        missing = [k for k in ("kind", "draft_tokens", "acceptance") if k not in speculative]
        c.problem("inference.speculative." + missing[0], "missing: speculative decoding needs kind, draft_tokens "
                  "and acceptance", "e.g. inference: {speculative: {kind: mtp, draft_tokens: 3, acceptance: 0.85}}")
