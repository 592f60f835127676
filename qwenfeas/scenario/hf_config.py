"""Read a Hugging Face `config.json` into the scenario's `model:` section.

No network and no `transformers`: the file is read as located YAML (JSON is
YAML), so a mistake inside it is reported with its line. Each supported
`model_type` maps its Hugging Face field names onto qwenfeas keys; the result
is layered like a preset (keys written beside `hf_config` override it).

Multimodal wrappers (Qwen3-VL, Qwen3.5, Kimi K3) hold the language model under
`text_config`; its fields are read, and the vision tower is not counted. Layer
mixes come from `layer_types` (Qwen3.5, Qwen3-Next, gpt-oss), `attn_type_list`
(MiniMax-M1) or `linear_attn_config` (Kimi Linear). A `quantization_config` sets
`model.quantization`, the default of the weights' precision: the whole model
(FP8 blocks), or the routed experts alone when attention is left unquantized
(gpt-oss's and Kimi K3's MXFP4).
"""

from __future__ import annotations

from ..errors import QwenfeasError
from .source import Node

SUPPORTED = ("qwen2", "qwen3", "qwen3_moe", "qwen3_next", "qwen3_5", "qwen3_5_moe", "qwen3_vl", "qwen3_vl_moe",
             "llama", "mixtral", "deepseek_v3", "kimi_k2", "kimi_linear", "kimi_k3", "gpt_oss", "glm4_moe",
             "minimax_m1", "minimax_m2")

# qwenfeas key <- Hugging Face field, for every supported type
_COMMON = {
    "layers": "num_hidden_layers", "hidden": "hidden_size", "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads", "head_dim": "head_dim", "ffn_hidden": "intermediate_size",
    "vocab": "vocab_size", "tied_embeddings": "tie_word_embeddings", "max_context": "max_position_embeddings",
}
_DEEPSEEK_MOE = {  # DeepSeek's MoE field names, shared by GLM-4.5
    "moe.experts": "n_routed_experts", "moe.top_k": "num_experts_per_tok", "moe.shared_experts": "n_shared_experts",
    "moe.expert_ffn_hidden": "moe_intermediate_size", "moe.dense_layers": "first_k_dense_replace",
}
_MLA = {
    "head_dim": "qk_nope_head_dim", "attention.kv_lora_rank": "kv_lora_rank",
    "attention.rope_head_dim": "qk_rope_head_dim", "attention.q_lora_rank": "q_lora_rank",
    "attention.v_head_dim": "v_head_dim", **_DEEPSEEK_MOE,
}
_QWEN_MOE = {"moe.experts": "num_experts", "moe.top_k": "num_experts_per_tok",
             "moe.expert_ffn_hidden": "moe_intermediate_size"}
_GATED_DELTANET = {
    "linear_attention.key_heads": "linear_num_key_heads", "linear_attention.value_heads": "linear_num_value_heads",
    "linear_attention.key_head_dim": "linear_key_head_dim", "linear_attention.value_head_dim": "linear_value_head_dim",
    "linear_attention.conv_kernel": "linear_conv_kernel_dim",
}
_MINIMAX_MOE = {"moe.experts": "num_local_experts", "moe.top_k": "num_experts_per_tok",
                "moe.expert_ffn_hidden": "intermediate_size"}
_QWEN3_5 = {"qkv_bias": "attention_bias", "attention.output_gate": "attn_output_gate", **_GATED_DELTANET}
FIELDS = {
    "qwen2": {},
    "qwen3": {"qkv_bias": "attention_bias"},
    "qwen3_moe": {"qkv_bias": "attention_bias", **_QWEN_MOE},
    "qwen3_next": {**_QWEN_MOE, "moe.shared_expert_ffn_hidden": "shared_expert_intermediate_size",
                   **_GATED_DELTANET},
    "qwen3_5": _QWEN3_5,
    "qwen3_5_moe": {**_QWEN3_5, **_QWEN_MOE, "moe.shared_expert_ffn_hidden": "shared_expert_intermediate_size"},
    "qwen3_vl": {"qkv_bias": "attention_bias"},
    "qwen3_vl_moe": {"qkv_bias": "attention_bias", **_QWEN_MOE},
    "llama": {"qkv_bias": "attention_bias"},
    "mixtral": {"moe.experts": "num_local_experts", "moe.top_k": "num_experts_per_tok",
                "moe.expert_ffn_hidden": "intermediate_size", "attention.sliding_window": "sliding_window"},
    "deepseek_v3": _MLA,
    "kimi_k2": _MLA,
    "kimi_linear": {**_MLA, "moe.experts": "num_experts", "moe.top_k": "num_experts_per_token",
                    "moe.shared_experts": "num_shared_experts", "moe.expert_hidden": "routed_expert_hidden_size",
                    "attention.output_gate": "mla_use_output_gate"},
    "gpt_oss": {"qkv_bias": "attention_bias", "moe.experts": "num_local_experts", "moe.top_k": "num_experts_per_tok",
                "moe.expert_ffn_hidden": "intermediate_size", "attention.sliding_window": "sliding_window"},
    "glm4_moe": {**_DEEPSEEK_MOE, "qkv_bias": "attention_bias", "qk_norm": "use_qk_norm"},
    "minimax_m1": {**_MINIMAX_MOE, "attention.sliding_window": "sliding_window"},
    "minimax_m2": {**_MINIMAX_MOE, "qk_norm": "use_qk_norm"},
}
FIELDS["kimi_k3"] = FIELDS["kimi_linear"]  # a multimodal wrapper around a kimi_linear text model
# Facts the architecture fixes but the config does not state (they override the config).
_FIXED = {
    "qwen2": {"qkv_bias": "true"},
    "qwen3": {"qk_norm": "true"},
    "qwen3_moe": {"qk_norm": "true"},
    "qwen3_next": {"qk_norm": "true", "attention.output_gate": "true", "moe.shared_experts": "1",
                   "moe.shared_expert_gate": "true"},
    "qwen3_5": {"qk_norm": "true"},
    "qwen3_5_moe": {"qk_norm": "true", "moe.shared_experts": "1", "moe.shared_expert_gate": "true"},
    "qwen3_vl": {"qk_norm": "true"},
    "qwen3_vl_moe": {"qk_norm": "true"},
    "deepseek_v3": {"attention.kind": "mla"},
    "kimi_k2": {"attention.kind": "mla"},
    "kimi_linear": {"attention.kind": "mla"},
    "kimi_k3": {"attention.kind": "mla"},
}
# Published values an abridged config may leave out (the config wins when it states them):
# GLM-4.5 config.json has attention_bias true and use_qk_norm true (zai-org/GLM-4.5).
_UNLESS_STATED = {"glm4_moe": {"qkv_bias": "true", "qk_norm": "true"}}
# Fields naming multi-token-prediction layers, which are not counted in the totals.
_MTP = ("num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_modules")


def model_section(path: str, where: Node) -> Node:
    """The `model:` section that a config.json (or a model folder holding one) describes.

    `where` is the node that named the file: errors about reaching the file are located
    there (a scenario line, or the `--hf-config` flag); errors inside it, in the file.
    """
    from pathlib import Path

    from .files import is_folder, parse, read_file

    origin = {"file": where.file, "line": where.line, "key": None if where.file == "--hf-config" else "model.hf_config"}
    target = Path(path)
    if is_folder(target):
        if not (target / "config.json").is_file():
            raise QwenfeasError(f"the folder {path} holds no config.json", **origin,
                                hint="name the config.json itself, or the model folder that holds it")
        target = target / "config.json"
    try:  # within the size cap, and never from a FIFO or a device
        text = read_file(target, regular_only=True)
    except QwenfeasError as error:
        raise QwenfeasError(f"cannot read {target}: {error.problems[0].message}", **origin,
                            hint=error.problems[0].hint or "give the path of a Hugging Face config.json or of the "
                            "folder holding it") from None
    file = str(target)
    config = parse(text, file)  # a .json file through the json module
    if not config.is_mapping:
        raise QwenfeasError("a config.json must hold a JSON object", file=file, line=config.line)
    fields = config.value
    kind_node = fields.get("model_type")
    kind = kind_node.value if kind_node is not None else None
    text = fields.get("text_config")
    if text is not None and text.is_mapping:  # a multimodal wrapper: the language model's fields
        fields = {**fields, **{k: v for k, v in text.value.items() if k != "model_type"}}
    if not isinstance(kind, str) or kind not in FIELDS:  # a list or an object is not a model type either
        shown = repr(kind) if isinstance(kind, str) else ("a list" if isinstance(kind, list) else "an object")
        what = ("missing: a config.json names its architecture there" if kind_node is None
                else "empty (null)" if kind is None else f"model_type {shown} is not supported")
        raise QwenfeasError(what, file=file,
                            line=kind_node.line if kind_node is not None else 1, key="model_type",
                            hint="supported: " + ", ".join(SUPPORTED))
    section: dict[str, Node] = {"source": Node(f"Hugging Face config.json ({file})", file, 1),
                                "name": Node(_model_name(fields, target), file, 1)}
    for key, field in {**_COMMON, **FIELDS[kind]}.items():
        node = fields.get(field)
        if node is not None and node.value is not None:
            section[key] = node
    for key, value in _UNLESS_STATED.get(kind, {}).items():
        section.setdefault(key, Node(value, file, kind_node.line))
    for key, value in _FIXED.get(kind, {}).items():
        section[key] = Node(value, file, kind_node.line)
    _derived_layers(kind, fields, section, file)
    notes = _quantization(fields, section, file)
    if text is not None and fields.get("vision_config") is not None:
        notes.append("the vision tower is not counted (language model only)")
    mtp = [fields[name] for name in _MTP
           if fields.get(name) is not None and str(fields[name].value).isdigit() and int(fields[name].value) > 0]
    if mtp:
        section["mtp_layers"] = mtp[0]
        notes.append(f"{mtp[0].value} multi-token-prediction layer(s) counted apart, as model.mtp_params, and trained "
                     "with the model (training.mtp_flops)")
    if notes:
        section["notes"] = Node("; ".join(notes), file, 1)
    return _nest(section, file, where.line)


def _quantization(fields: dict, section: dict, file: str) -> list[str]:
    """`model.quantization.*` from a quantization_config: FP8 blocks cover every weight; MXFP4 that
    leaves attention unquantized (gpt-oss, Kimi K3) covers the routed experts. Returns notes."""
    node = fields.get("quantization_config")
    if node is None or not node.is_mapping:
        return []
    config = node.value
    method = str(getattr(config.get("quant_method"), "value", "")).lower()
    fmt = str(getattr(config.get("format"), "value", "")).lower()
    kept = config.get("modules_to_not_convert") or config.get("ignore")
    kept_text = " ".join(str(item.value) for item in kept.value) if kept is not None and isinstance(kept.value, list) else ""
    precision = "mxfp4" if "mxfp4" in (method + fmt) else "fp8" if method == "fp8" or "float8" in fmt else None
    if precision is None:
        return [f"quantization_config ({method or fmt}) not read: weights default to bf16"]
    experts_only = "attn" in kept_text
    section["quantization.expert_weights" if experts_only else "quantization.weights"] = Node(precision, file, node.line)
    return [f"checkpoint {'routed experts' if experts_only else 'weights'} in {precision} (quantization_config)"]


def _model_name(fields: dict, path) -> str:
    """The model's name: the config's `_name_or_path`, else its folder (Qwen3-8B/config.json), else the file."""
    named = fields.get("_name_or_path")
    if named is not None and isinstance(named.value, str) and named.value.strip("./ "):
        return named.value.rstrip("/").rsplit("/", 1)[-1]
    if path.name == "config.json" and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem


def _derived_layers(kind: str, fields: dict, section: dict, file: str) -> None:
    """Layer counts that configs give as lists or intervals."""
    layers_node = fields.get("num_hidden_layers")
    layers = int(layers_node.value) if layers_node is not None and str(layers_node.value).isdigit() else None
    dense = fields.get("mlp_only_layers")
    if kind in ("qwen3_moe", "qwen3_next", "qwen3_5_moe", "qwen3_vl_moe") and dense is not None \
            and isinstance(dense.value, list):
        section["moe.dense_layers"] = Node(str(len(dense.value)), file, dense.line)
    types = fields.get("layer_types")
    if types is not None and isinstance(types.value, list):
        for name, key in (("linear_attention", "linear_attention.layers"),
                          ("sliding_attention", "attention.sliding_layers")):
            count = sum(item.value == name for item in types.value)
            if count:
                section[key] = Node(str(count), file, types.line)
    elif kind in ("qwen3_next", "qwen3_5", "qwen3_5_moe"):
        interval = fields.get("full_attention_interval")
        if interval is not None and layers is not None and str(interval.value).isdigit() \
                and int(interval.value) > 0:  # 0 would divide by zero: left for the layer checks to report
            section["linear_attention.layers"] = Node(str(layers - layers // int(interval.value)), file,
                                                      interval.line)
    if kind == "minimax_m1":
        _lightning_layers(fields, section, file)
    if kind in ("kimi_linear", "kimi_k3"):
        _kda_layers(fields, section, file)
    if kind in ("qwen2", "qwen3", "qwen3_moe") and _true(fields.get("use_sliding_window")):
        window, first = fields.get("sliding_window"), fields.get("max_window_layers")
        if window is not None and window.value is not None:
            section["attention.sliding_window"] = window
            if first is not None and layers is not None and str(first.value).isdigit():
                section["attention.sliding_layers"] = Node(str(max(layers - int(first.value), 0)), file, first.line)
    elif kind in ("qwen2", "qwen3", "qwen3_moe"):
        section.pop("attention.sliding_window", None)


def _lightning_layers(fields: dict, section: dict, file: str) -> None:
    """MiniMax-M1: attn_type_list marks each layer 0 (lightning attention) or 1 (softmax attention);
    the lightning heads have the softmax heads' count and width (modeling_minimax_m1.py)."""
    types = fields.get("attn_type_list")
    if types is None or not isinstance(types.value, list):
        return
    section["linear_attention.kind"] = Node("lightning", file, types.line)
    section["linear_attention.layers"] = Node(str(sum(str(t.value) == "0" for t in types.value)), file, types.line)
    for key, field in (("value_heads", "num_attention_heads"), ("key_head_dim", "head_dim"),
                       ("value_head_dim", "head_dim")):
        if fields.get(field) is not None:
            section[f"linear_attention.{key}"] = fields[field]


def _kda_layers(fields: dict, section: dict, file: str) -> None:
    """Kimi Linear: linear_attn_config lists the KDA layers and gives their heads and kernel."""
    config = fields.get("linear_attn_config")
    if config is None or not config.is_mapping:
        return
    block = config.value
    section["linear_attention.kind"] = Node("kda", file, config.line)
    kda = block.get("kda_layers")
    if kda is not None and isinstance(kda.value, list):
        section["linear_attention.layers"] = Node(str(len(kda.value)), file, kda.line)
    for key, field in (("value_heads", "num_heads"), ("key_head_dim", "head_dim"), ("value_head_dim", "head_dim"),
                       ("conv_kernel", "short_conv_kernel_size"), ("full_rank_gate", "use_full_rank_gate")):
        if block.get(field) is not None and block[field].value is not None:
            section[f"linear_attention.{key}"] = block[field]


def _true(node: Node | None) -> bool:
    return node is not None and str(node.value).lower() == "true"


def _nest(flat: dict[str, Node], file: str, line: int | None) -> Node:
    """{"moe.experts": node} -> a mapping node {"moe": {"experts": node}}."""
    root = Node({}, file, line)
    for key, node in flat.items():
        parent = root
        *sections, leaf = key.split(".")
        for section in sections:
            if section not in parent.value:
                parent.value[section] = Node({}, file, node.line)
                parent.key_lines[section] = node.line
            parent = parent.value[section]
        parent.value[leaf] = node
        parent.key_lines[leaf] = node.line
    return root
