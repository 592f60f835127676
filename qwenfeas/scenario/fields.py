"""Every key a scenario may hold: its kind, its limits, its default and why.

This table is the single description of the scenario format (SCENARIO.md):
the loader validates against it, `--set` checks key paths against it, and
`--explain` names the source of each default from it.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas.accelerators import MXFP4_BYTES, NVFP4_BYTES

PRECISION_BYTES = {
    "fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5,
    # fp4 is NVIDIA's NVFP4, the FP4 format engines deploy (E2M1 plus an E4M3 scale per 16 values:
    # 4.5 bits); mxfp4 the OCP Microscaling one (an E8M0 scale per 32: 4.25 bits; gpt-oss's experts).
    # Source: formulas.accelerators.block_scaled_bytes.
    "fp4": NVFP4_BYTES,
    "mxfp4": MXFP4_BYTES,
}
PRECISIONS = tuple(PRECISION_BYTES)
ATTENTION_KINDS = ("mha", "gqa", "mqa", "mla")
ATTENTION_FLOPS = ("none", "causal", "noncausal")
LINEAR_ATTENTION_KINDS = ("gated_deltanet", "lightning", "kda")
RECOMPUTE = ("none", "selective", "modules", "full")
ATTENTION_KERNELS = ("fused", "flash2", "unfused")
EXPERT_EPILOGUES = ("fused", "unfused")
SCHEDULES = ("1f1b", "interleaved", "zero-bubble", "dualpipe")
PIPELINE_ENGINES = ("megatron", "deepspeed")  # training.step_time: what "deepspeed" charges
FP8_RECIPES = ("delayed", "current", "mxfp8", "blockwise")
# The deepest model.layers (and model.mtp_layers) accepted: see the layers field's maximum_source
MAX_LAYERS = 10_000.0


class Field(NamedTuple):
    """One scenario key.

    kind: a unit kind of `units.py`, or "text", "bool", "choice".
    minimum: the smallest allowed value; `strict` makes it exclusive.
    default: in base units; `default_source` says where it comes from.
    per_precision: the value may be a mapping precision -> value (presets).
    """

    kind: str
    help: str
    minimum: float | None = 0.0
    strict: bool = True
    maximum: float | None = None
    default: object = None
    default_source: str | None = None
    choices: tuple[str, ...] = ()
    per_precision: bool = False
    maximum_source: str | None = None  # why the maximum, said with the error when a value passes it


def _int(help: str, *, zero_ok: bool = False) -> Field:
    return Field("integer", help, strict=not zero_ok)


def _text(help: str) -> Field:
    return Field("text", help, minimum=None)


def _flag(help: str, default: bool = False) -> Field:
    return Field("bool", help, minimum=None, default=default, default_source="convention")


MODEL = {
    "preset": _text("a built-in model; keys written beside it override it"),
    "hf_config": _text("a Hugging Face config.json to read the architecture from, relative to this file"),
    "name": _text("the model's name, shown in the report's header; a config.json gives its own"),
    "source": _text("where the architecture comes from"),
    "notes": _text("assumptions behind the figures"),
    "params": Field("count", "total parameters; derived from the architecture when omitted"),
    "active_params": Field("count", "parameters used per token (MoE); derived when omitted"),
    "layers": Field("integer", "transformer blocks (at most 10,000)", maximum=MAX_LAYERS, maximum_source=(
        # DeepNet (Wang et al. 2022, arXiv 2203.00555) trained 1,000 layers, the deepest published
        "10x the deepest transformer trained (1,000 layers, DeepNet, Wang et al. 2022); deeper inputs "
        "only slow the layout search")),
    "hidden": _int("model width (d_model)"),
    "heads": _int("query heads"),
    "kv_heads": _int("key/value heads: = heads for MHA, 1 for MQA"),
    "head_dim": _int("width of one attention head; default hidden / heads"),
    "ffn_hidden": _int("dense FFN width"),
    "ffn_gated": _flag("gated FFN (SwiGLU: 3 matrices) rather than 2 matrices", True),
    "vocab": _int("embedding rows (padded vocabulary)"),
    "tied_embeddings": _flag("the LM head shares the input embedding matrix"),
    "qkv_bias": _flag("q, k and v projections have a bias (Qwen2/2.5)"),
    "qk_norm": _flag("RMSNorm on queries and keys per head (Qwen3; OLMo 2 over all heads); training reads "
                     "and writes the queries and keys once more per layer (element-wise work)"),
    "max_context": _int("the model's context window, for a warning when exceeded"),
    "mtp_layers": Field("integer", "multi-token-prediction layers (DeepSeek-V3, GLM-4.5, Qwen3.5): counted apart "
                        "from the total, as model.mtp_params; trained with the model: training.mtp_flops (in "
                        "training.flops and the MFU), one more layer each and the head again on the last "
                        "stage; 0 for a run without them (at most 10,000)", strict=False, maximum=MAX_LAYERS,
                        maximum_source="each depth is one more layer the layout search splits, so the limit of "
                        "model.layers holds; published models train one (DeepSeek-V3, arXiv 2412.19437 sec. 2.2)"),
    "attention": {
        "kind": Field("choice", "attention variant", minimum=None, choices=ATTENTION_KINDS),
        "kv_lora_rank": _int("MLA: width of the compressed KV latent"),
        "rope_head_dim": _int("MLA: width of the decoupled RoPE key"),
        "q_lora_rank": _int("MLA: width of the compressed query (0 = none)", zero_ok=True),
        "v_head_dim": _int("MLA: width of one value head; default head_dim"),
        "output_gate": _flag("the query projection also emits a sigmoid output gate (Qwen3-Next)"),
        "sliding_window": _int("tokens a sliding-window layer attends to and caches"),
        "sliding_layers": _int("layers with sliding-window attention; default every softmax-attention "
                               "layer when sliding_window is set", zero_ok=True),
    },
    "linear_attention": {
        "kind": Field("choice", "linear-attention block: gated_deltanet (Qwen3-Next, Qwen3.5), lightning "
                      "(MiniMax-M1) or kda (Kimi Delta Attention, Kimi Linear); default gated_deltanet",
                      minimum=None, choices=LINEAR_ATTENTION_KINDS),
        "layers": _int("layers with linear attention instead of softmax attention"),
        "key_heads": _int("query/key heads of a linear-attention layer"),
        "value_heads": _int("value heads of a linear-attention layer"),
        "key_head_dim": _int("width of one key head"),
        "value_head_dim": _int("width of one value head"),
        "conv_kernel": _int("width of the short causal convolution over q, k and v; lightning has none (1)"),
        "full_rank_gate": Field("bool", "kda: the output gate is one full-rank projection, not two of rank "
                                "key_head_dim (default false)", minimum=None),
    },
    "moe": {
        "experts": _int("routed experts per MoE layer"),
        "top_k": _int("routed experts per token"),
        "shared_experts": _int("always-active experts per MoE layer", zero_ok=True),
        "expert_ffn_hidden": _int("FFN width of one routed expert"),
        "shared_expert_ffn_hidden": _int("FFN width of one shared expert; default expert_ffn_hidden"),
        "dense_layers": _int("leading layers with a dense FFN instead of experts", zero_ok=True),
        "shared_expert_gate": _flag("a sigmoid gate scales the shared experts' output (Qwen3-Next)"),
        "node_limit": _int("node-limited routing: each token goes to at most this many nodes, once per node "
                           "(DeepSeek-V3: 4)"),
        "expert_hidden": _int("width the routed experts work at when it differs from hidden (a latent MoE, "
                              "Kimi K3): a down- and an up-projection per MoE layer around them"),
    },
    "quantization": {
        "weights": Field("choice", "number format of the published checkpoint's weights (a config.json's "
                         "quantization_config): the default of precision.weights when served (not when trained)",
                         minimum=None, choices=PRECISIONS),
        "expert_weights": Field("choice", "number format of the published checkpoint's routed experts: the "
                                "default of precision.expert_weights", minimum=None, choices=PRECISIONS),
    },
}

PRECISION = {
    "weights": Field("choice", "number format of stored weights", minimum=None, choices=PRECISIONS,
                     default="bf16", default_source="convention: bf16 checkpoints"),
    "expert_weights": Field("choice", "number format of routed-expert weights; default "
                            "model.quantization.expert_weights, else precision.weights", minimum=None,
                            choices=PRECISIONS),
    "kv_cache": Field("choice", "number format of the KV cache; default = weights (bf16 when the weights' "
                      "format comes from a quantized checkpoint)", minimum=None, choices=PRECISIONS),
    "compute": Field("choice", "number format of matmuls; selects the hardware's peak", minimum=None,
                     choices=PRECISIONS, default="bf16", default_source="convention: bf16 training"),
    "fp8_recipe": Field("choice", "how FP8 GEMM inputs are scaled (Transformer Engine recipes), with precision.compute: "
                        "fp8: delayed (scale from an amax history, one fused cast), current (per-tensor amax read "
                        "first: a second read, and an amax all-reduce over the tensor-parallel group under "
                        "sequence parallelism; NeMo's FP8-CS), mxfp8 (E8M0 scale per 32 values, Blackwell; "
                        "FP8-MX; its GEMMs at 0.951 of the per-tensor FP8 rate on Blackwell, as blockwise's), "
                        "blockwise (DeepSeek-V3's 1x128 tiles)", minimum=None, choices=FP8_RECIPES,
                        default="delayed", default_source="Transformer Engine's original recipe (DelayedScaling)"),
    "state": Field("choice", "number format of linear-attention recurrent state", minimum=None,
                   choices=PRECISIONS, default="fp32",
                   default_source="vLLM and SGLang keep Gated DeltaNet / Mamba state in fp32"),
}

HARDWARE = {
    "system": _text("a built-in system (dgx-h100, gb200-nvl72, tpu-v5p-pod, cloudmatrix-384, ...): its accelerator "
                    "preset, IT power per accelerator and scale-up domain; keys written beside it override it"),
    "preset": _text("a built-in accelerator; keys written beside it override it"),
    "source": _text("datasheet the figures come from"),
    "notes": _text("caveats on the figures"),
    "count": _int("accelerators in the job"),
    "peak_flops": Field("flop_rate", "dense FLOP/s at the compute precision", per_precision=True),
    "memory": Field("bytes", "memory per accelerator"),
    "bandwidth": Field("byte_rate", "memory bandwidth per accelerator"),
    "tdp": Field("power", "board power per accelerator"),
    "system_power": Field("power", "IT power per accelerator in its system, rated: its board power plus its share of "
                          "host CPUs, memory, NICs, switches and fans (DGX H100: 10.2 kW / 8 = 1,275 W); default "
                          "tdp x (1 + datacenter.overhead)"),
    "system_source": _text("where the system power and layout come from"),
    "training_power_fraction": Field(
        "fraction", "average draw while training, as a fraction of the rated system power", maximum=1.0, default=0.82,
        default_source="8x H100 HGX node training Llama2-13B drew at most ~8.4 kW of its 10.2 kW rating, 82% "
        "(Latif et al. 2024, 'Empirical Measurements of AI Training Power Demand on a GPU-Accelerated Node', "
        "arXiv 2412.08602, abstract; performance.md 8.3)"),
    "scale_up_bandwidth": Field("byte_rate", "scale-up link bandwidth per accelerator (NVLink, Infinity Fabric, "
                                "ICI, HCCS/UB), one direction"),
    "scale_up_size": _int("accelerators in one scale-up domain (8 for an HGX board, 72 for NVL72, a TPU "
                          "slice)"),
    "scale_out_bandwidth": Field("byte_rate", "scale-out network bandwidth per accelerator (InfiniBand, "
                                 "Ethernet, a TPU data-centre network), one direction; without it the traffic "
                                 "between scale-up domains is reported in bytes, not timed"),
    "memory_reserve": Field(
        "fraction", "share of each accelerator's memory kept for the runtime's workspace, buffers and "
        "fragmentation (training activations are counted separately)", strict=False, maximum=0.99, default=0.10,
        default_source="vLLM keeps 10% free by default (gpu_memory_utilization = 0.9, vLLM engine arguments)",
    ),
    "rental_price_source": _text("where the rental price comes from, and when"),
    "rental_price": Field("usd_per_hour", "typical rental price of this accelerator; the default of "
                          "datacenter.gpu_hour", strict=False),
    "attention_peak_flops": Field("flop_rate", "dense FLOP/s of attention math; default the bf16 peak "
                                  "(attention kernels compute in bf16: FlashAttention-3, FlashMLA)"),
    "attention_efficiency": Field(
        "fraction", "share of attention_peak_flops a compute-bound decode attention kernel reaches", maximum=1.0,
        default=0.67, default_source="FlashMLA dense decode: 660 of 989 TFLOP/s on H800 (deepseek-ai/FlashMLA "
        "README @ 066b5ba6)"),
    "hfu": Field("fraction", "hardware FLOPs utilisation: executed FLOP/s, recomputation included, over peak; "
                 "when given, training time follows it instead of mfu", maximum=1.0),
    "mfu": Field(
        "fraction", "model FLOPs utilisation: useful FLOP/s over peak. Training predicts it from the layout "
        "(training.mfu); written here, it overrides the prediction and is labelled given. The default serves "
        "inference estimates only", maximum=1.0, default=0.40,
        default_source="Llama 3 405B pre-training reached 38-43% BF16 MFU on 16K H100s "
        "(Dubey et al. 2024, 'The Llama 3 Herd of Models', Table 4)",
    ),
}

DATACENTER = {
    "preset": _text("a built-in facility (its PUE); keys beside it override it"),
    "grid": _text("a built-in grid region (carbon intensity and electricity price)"),
    "source": _text("where the facility figures come from"),
    "grid_source": _text("where the grid figures come from"),
    "notes": _text("caveats on the figures"),
    "pue": Field("ratio", "facility power over IT power", minimum=1.0, strict=False, default=1.1,
                 default_source="hyperscale facility: Google fleet PUE 1.10 (Google data-centre "
                 "efficiency report, 2021)"),
    "carbon": Field("carbon", "grid carbon intensity", strict=False, default=0.367,
                    default_source="US grid 2023: 0.367 kg CO2/kWh (EIA FAQ id=74)"),
    "electricity": Field("usd_per_kwh", "electricity price", strict=False, default=0.080,
                         default_source="US industrial average 2023: 8.0 cents/kWh (EIA Electric "
                         "Power Annual 2023)"),
    "gpu_hour": Field("usd_per_hour", "rental price per accelerator-hour; default hardware.rental_price. With "
                      "neither, no rental cost is reported and the report says so", strict=False),
    "overhead": Field(
        "number", "rest of the IT load (CPUs, network, storage) as a fraction of accelerator power; used only "
        "when the accelerator has no hardware.system_power", strict=False, default=0.5,
        default_source="rack-scale systems draw 1.4-1.8x their GPUs' power: GB200 NVL72 ~120-132 kW "
        "for 72 x 1.2 kW GPUs; DGX H100 10.2 kW for 8 x 700 W (NVIDIA datasheets, maxima)",
    ),
}

TRAINING = {
    "attention_term": Field(
        "choice", "count the attention score FLOPs: none (6ND), causal (half of PaLM's 12LHQT) "
        "or noncausal (PaLM's full 12LHQT)", minimum=None, choices=ATTENTION_FLOPS,
        default="none", default_source="convention: C = 6ND (Kaplan et al. 2020; Hoffmann et al. 2022)",
    ),
    "recompute": Field(
        "choice", "activation recomputation: none keeps attention scores only with the unfused kernel "
        "(training.attention_kernel); selective replays the attention forward in the backward (Megatron-Core's core_attn), "
        "so it keeps no scores with either kernel and, with a fused kernel, costs time for no memory; modules also recomputes norms, the FFN activation and MLA up-projections (Megatron-Core "
        "--recompute-modules, DeepSeek-V3 sec. 3.2.3); full replays each layer's forward pass (8N instead of 6N "
        "hardware FLOPs per token). The step time counts the replay; chosen by the layout search when left out",
        minimum=None, choices=RECOMPUTE, default="selective",
        default_source="Megatron-LM's --recompute-activations default (selective); FlashAttention kernels "
        "keep no attention-score matrix either (Korthikanti et al. 2022, sec. 5)",
    ),
    "attention_kernel": Field(
        "choice", "how attention runs: fused keeps the score matrices on chip with the newest kernel of the "
        "accelerator's generation (FlashAttention-3 on Hopper, cuDNN 9.13.1 on Blackwell as Transformer Engine "
        "runs it: B200's measurement for B200/GB200, GB300's for GB300/B300; FlashAttention-2 on A100); "
        "flash2 is FlashAttention-2 on any GPU, with its own B200/GB300 measurement on Blackwell (stacks before "
        "FlashAttention-3, 2023 to mid 2024); unfused "
        "writes QK^T, softmax and dropout outputs to memory and runs the two products as "
        "batched GEMMs over the whole square (Megatron-LM, Megatron-DeepSpeed and other stacks before 2022)",
        minimum=None, choices=ATTENTION_KERNELS, default="fused",
        default_source="FlashAttention-style kernels are the default of Megatron-Core, NeMo, torchtitan and "
        "llm-foundry (Dao et al. 2022; Dao 2023)",
    ),
    "expert_epilogue": Field(
        "choice", "how routed experts' GLU clamp and output bias run: fused inside the grouped-MLP kernels "
        "(Transformer Engine op fuser); unfused clamps and re-concatenates the GLU halves as separate kernels "
        "and adds the FC2 bias per expert after the grouped GEMM (Megatron-Core TEGroupedMLP without the op "
        "fuser, e.g. NeMo 25.11 for GPT-OSS): k x 2 B x (18 f + 14 h) more per token and MoE layer",
        minimum=None, choices=EXPERT_EPILOGUES, default="fused",
        default_source="experts without a clamp or an output bias have no epilogue to unfuse; Megatron-Core "
        "core_v0.18.0+ fuses the clamped GLU and the scaled bias with the op fuser (moe/experts.py)",
    ),
    "grad_bytes": Field("number", "bytes per gradient value", default=4.0,
                        default_source="fp32 gradient accumulation, Megatron-LM's default (theoretical_memory_usage.py: "
                        "18 bytes per parameter = 2 weight + 4 gradient + 12 optimizer)"),
    "fp8_param_gather": _flag("weights are all-gathered in FP8 (1 byte per parameter plus the fp8_recipe's "
                              "scales) when precision.compute is fp8: Megatron-Core --fp8-param-gather, or XLA's "
                              "collective quantizer moving the FP8 cast before the FSDP all-gather (JAX/MaxText)"),
    "optimizer_bytes": Field("number", "optimizer-state bytes per parameter", default=12.0,
                             default_source="mixed-precision Adam: fp32 master weights, momentum and variance, "
                             "4 + 4 + 4 (Rajbhandari et al. 2020, ZeRO, sec. 3.1: K = 12)"),
    "sequence": _int("training sequence length, for the attention term; default context"),
    "batch_tokens": Field("count", "global batch in tokens: one optimizer step, one gradient reduction",
                          default=4e6, default_source="Llama 2 trained with a global batch of 4M tokens "
                          "(Touvron et al. 2023, sec. 2.2)"),
}

PARALLEL = {
    "tensor": _int("tensor-parallel degree (within a scale-up domain)"),
    "pipeline": _int("pipeline-parallel stages"),
    "data": _int("data-parallel replicas; default hardware.count / (tensor x pipeline x context)"),
    "expert": _int("expert-parallel degree (carved out of the data-parallel group)"),
    "context": _int("context-parallel degree: each sequence split over this many accelerators"),
    "zero": Field("integer", "ZeRO stage over the data-parallel group: 0 none, 1 optimizer states, 2 and "
                  "gradients, 3 and weights (FSDP)", strict=False, maximum=3.0, default=1.0,
                  default_source="Megatron-LM's distributed optimizer (--use-distributed-optimizer) is ZeRO-1"),
    "sequence_parallel": _flag("shard layer-norm and dropout activations, and their element-wise work, over the "
                               "tensor-parallel group (without it each rank runs them on the whole activation: "
                               "Korthikanti et al. 2022, sec. 4.2.2)", True),
    "micro_batch": Field("integer", "sequences per micro-batch", default=1.0, default_source="convention"),
    "schedule": Field("choice", "pipeline schedule: 1f1b, interleaved (with virtual_stages), zero-bubble (ZB-H1) "
                      "or dualpipe (DeepSeek-V3; holds two copies of the weights and overlaps expert all-to-alls); "
                      "chosen by the layout search when left out", minimum=None, choices=SCHEDULES),
    "virtual_stages": _int("model chunks per pipeline rank under the interleaved schedule"),
    "pipeline_engine": Field(
        "choice", "the runtime that drives the pipeline: megatron (Megatron-LM's schedules) or deepspeed "
        "(DeepSpeed's PipelineEngine, 2021: each micro-batch's four sends and receives block compute, the "
        "1/t slices sent between stages are all-gathered again over the tensor group, 3 per micro-batch, and "
        "gradients are reduced after the last micro-batch, none of it hidden)",
        minimum=None, choices=PIPELINE_ENGINES, default="megatron",
        default_source="Megatron-LM and Megatron-Core drive most bundled and published pipelined runs"),
    "tp_overlap": _flag("tensor-parallel collectives overlap the GEMMs (Transformer Engine userbuffers): not exposed; "
                        "the MoE dispatcher's gather of routed tokens over a split expert group stays exposed"),
    "expert_tensor": _int("tensor-parallel degree inside each expert: 1 (whole experts, Megatron-Core's "
                          "default) or parallel.tensor (experts split like the dense layers)"),
    "cp_overlap": _flag("context-parallel K/V exchange overlaps attention (ring, Megatron-Core's default); false for "
                        "all-gather context parallelism (Llama 3, sec. 3.3.2)", True),
    "dp_overlap": _flag("data-parallel gradient reductions and weight all-gathers overlap the backward and forward "
                        "(Megatron-Core --overlap-grad-reduce/--overlap-param-gather, PyTorch DDP and FSDP buckets), "
                        "all but the last bucket hidden; false: all-reduced after the last micro-batch's backward, "
                        "nothing hidden (Megatron-LM's local DDP in 2021, megatron/training.py train_step; DeepSpeed's "
                        "pipeline engine always)", True),
    "ep_overlap": _flag("expert all-to-alls overlap another micro-batch's compute (1F1B A2A overlap, "
                        "--overlap-moe-expert-parallel-comm: the forward's under the paired backward, the "
                        "backward's under the forward; dualpipe always does)"),
    "fused_grouped_gemm": _flag("routed experts' GEMMs run as one launch per grouped GEMM (Transformer Engine's "
                                "graph-safe fused grouped MLP, NVTE_CUTEDSL_FUSED_GROUPED_MLP=1; DeepGEMM): no "
                                "per-expert launch floor. Default no: one cuBLAS GEMM per local expert, "
                                "Transformer Engine's default on NVIDIA GPUs"),
}

LIMITS = {
    "budget": Field("money", "most the training run may cost (training.cost_usd)"),
    "deadline": Field("duration", "longest the training run may take (training.seconds)"),
    "power": Field("power", "most facility power available (power.facility_watts)"),
    "accelerators": _int("accelerators available (hardware.count, or the fewest that fit)"),
    "energy": Field("energy", "most facility energy the run may use (training.energy_kwh)"),
    "co2": Field("mass", "most CO2e the run may emit (training.co2_kg)"),
    "capex": Field("money", "most the fleet may cost to build (capex.fleet_usd), e.g. 52B"),
    "memory_headroom": Field("fraction", "share of usable memory to keep free", strict=False, maximum=0.99),
    "ttft": Field("duration", "longest time to first token (inference.ttft_seconds)"),
    "tpot": Field("duration", "longest time per output token (inference.tpot_seconds)"),
}

INFERENCE = {
    "accelerators": _int("accelerators serving one model replica; default the fewest whose memory "
                         "holds the weights and one sequence's KV cache"),
    "batch": Field("integer", "sequences decoded together on one replica (the default of concurrency / replicas)",
                   default=1.0, default_source="convention: one sequence"),
    "prompt_tokens": _int("tokens of each request's prompt (prefilled); default context - output_tokens"),
    "output_tokens": _int("tokens generated per request; default test_time, else 1 (decode at the context)"),
    "concurrency": _int("requests in flight over the whole deployment (continuous batching); default "
                        "inference.batch x serving_layout.replicas"),
    "speculative": {
        "kind": Field("choice", "speculative decoding: mtp (DeepSeek multi-token prediction) or eagle; each "
                      "draft token costs one extra layer's pass", minimum=None, choices=("mtp", "eagle")),
        "draft_tokens": _int("tokens drafted per step and verified together", zero_ok=True),
        "acceptance": Field("fraction", "probability each draft token is accepted (given all earlier ones were)",
                            maximum=1.0),
    },
    "graph_padding": Field("choice", "decode batches padded to the CUDA-graph sizes the engine captured: none, or "
                           "doubling (1, 2, 4, ... 8192; TensorRT-LLM's coarse list, as its v1.0 perf overview runs)",
                           minimum=None, choices=("none", "doubling"), default="none",
                           default_source="convention: a graph for every batch size (vLLM and SGLang capture "
                           "sizes 8 apart)"),
    "decode_attention": Field("choice", "how the decode attention kernel reads a GQA model's KV cache: grouped "
                              "(each KV head's cache read once for its group of query heads: TensorRT-LLM XQA, "
                              "FlashInfer, FlashAttention) or per-query-head (one thread block per query head, "
                              "each re-reading its KV head's cache: TensorRT-LLM's masked multi-head attention "
                              "before XQA, as in v0.5.0; XQA arrived in 0.7.0; g = heads / kv_heads times the "
                              "KV traffic)",
                              minimum=None, choices=("grouped", "per-query-head"), default="grouped",
                              default_source="convention: today's engines group query heads per KV head "
                              "(TensorRT-LLM XQA since v0.7.0, docs/source/blogs/XQA-kernel.md)"),
    "prefix_cache_hit": Field("fraction", "share of each prompt found in the prefix cache (not prefilled again)",
                              strict=False, maximum=1.0, default=0.0,
                              default_source="convention: no prompt shared between requests"),
    "power_fraction": Field("fraction", "sustained draw while serving, as a share of the rated system power", maximum=1.0, default=0.77,
                            default_source="inference servers average ~1/1.3 of provisioned power: oversubscription "
                            "fits ~30% more servers with minimal loss (Patel et al., POLCA, arXiv 2308.12908)"),
}

SERVING_LAYOUT = {
    "tensor": _int("tensor-parallel degree of attention and dense layers inside a replica"),
    "attention_data": _int("attention data-parallel ranks inside a replica (each holds its own sequences' cache)"),
    "expert": _int("expert-parallel degree of routed experts inside a replica (divides tensor x attention_data)"),
    "replicas": _int("model replicas; default hardware.count / (tensor x attention_data)"),
    "disaggregated": Field("bool", "prefill on separate accelerators from decode (DistServe, Splitwise)",
                           minimum=None),
}

SYNTHETIC = {
    "tokens": Field("count", "synthetic training tokens to generate (kept after filtering)"),
    "generator": _text("model preset that generates them; default the scenario's own model"),
    "context": _int("tokens per generated sequence, prompt included; default training.sequence "
                    "(documents as long as the sequences they train)"),
    "keep": Field("fraction", "share of generated tokens kept after filtering and rejection", default=1.0,
                  default_source="convention: every token kept; lower it for rejection sampling and reward "
                  "filtering (Qwen2.5 filtered its synthetic data with reward models, arXiv 2412.15115)"),
    "mfu": Field("fraction", "utilisation while generating; default hardware.mfu", maximum=1.0),
}

CAPEX = {
    "accelerator": Field("money", "purchase price of one accelerator (or its share of a rack-scale system)"),
    "server": Field("money", "host server share per accelerator: CPUs, memory, storage, chassis", strict=False,
                    default=0.0, default_source="convention: included in capex.accelerator"),
    "network": Field("money", "cluster network per accelerator: NICs, switches, optics", strict=False,
                     default=0.0, default_source="convention: included in capex.accelerator"),
    "facility_per_mw": Field("money", "data-centre construction per MW of IT load", strict=False, default=11.7e6,
                             default_source="Cushman & Wakefield, Data Center Development Cost Guide 2025: "
                             "$9.3M-15M per MW of critical load across US markets, average $11.7M (land and "
                             "soft costs excluded)"),
}

ROADMAP = {
    "target": _text("the roadmap target this scenario tests, e.g. 'context 100M'"),
    "claim": _text("the claim in its source's words, with the source"),
    "step": _text("which step: today's value, the target, or a variant of it"),
}

MEASURED = {
    "source": _text("where the run's figures come from (paper, model card, log)"),
    "gpu_hours": Field("count", "accelerator-hours the run took (its time follows, with hardware.count)"),
    "days": Field("duration", "wall-clock time of the run on hardware.count accelerators, e.g. 54d"),
    "tokens_per_second": Field("count", "training throughput of the whole job, tokens per second"),
    "flops_per_accelerator": Field("flop_rate", "achieved model FLOP/s per accelerator, e.g. 400T"),
    "power": Field("power", "measured average power per accelerator, its share of the system included (the "
                   "facility's PUE is applied on top)"),
}

SCENARIO = {
    "name": _text("scenario name; default the file's stem"),
    "extends": _text("a scenario file this one builds on, relative to this file"),
    "model": MODEL,
    "context": Field("integer", "tokens held per sequence: KV cache and attention cost"),
    "tokens": Field("count", "training token budget"),
    "test_time": Field("integer", "tokens generated per query when reasoning, within the context"),
    "precision": PRECISION,
    "hardware": HARDWARE,
    "datacenter": DATACENTER,
    "training": TRAINING,
    "parallel": PARALLEL,
    "inference": INFERENCE,
    "serving_layout": SERVING_LAYOUT,
    "synthetic": SYNTHETIC,
    "capex": CAPEX,
    "measured": MEASURED,
    "roadmap": ROADMAP,
    "limits": LIMITS,
    "expect": Field("expectations", "assertions on output names, e.g. 'training.seconds < 90d'", minimum=None),
}


def all_keys(section: dict = SCENARIO, prefix: str = "") -> dict[str, Field]:
    """Every leaf key as a dotted path: {"model.layers": Field(...), ...}."""
    keys: dict[str, Field] = {}
    for name, entry in section.items():
        path = prefix + name
        if isinstance(entry, dict):
            keys.update(all_keys(entry, path + "."))
        else:
            keys[path] = entry
    return keys
