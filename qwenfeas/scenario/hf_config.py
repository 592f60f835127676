"""Read a Hugging Face `config.json` into the scenario's `model:` section.

No network and no `transformers`: the file is read as located YAML (JSON is
YAML), so a mistake inside it is reported with its line. Each supported
`model_type` maps its Hugging Face field names onto qwenfeas keys; the result
is layered like a preset (keys written beside `hf_config` override it).
"""

from __future__ import annotations

from ..errors import QwenfeasError
from .source import Node

SUPPORTED = ("qwen2", "qwen3", "qwen3_moe", "qwen3_next", "llama", "mixtral", "deepseek_v3", "kimi_k2")

# qwenfeas key <- Hugging Face field, for every supported type
_COMMON = {
    "layers": "num_hidden_layers", "hidden": "hidden_size", "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads", "head_dim": "head_dim", "ffn_hidden": "intermediate_size",
    "vocab": "vocab_size", "tied_embeddings": "tie_word_embeddings", "max_context": "max_position_embeddings",
}
_MLA = {
    "head_dim": "qk_nope_head_dim", "attention.kv_lora_rank": "kv_lora_rank",
    "attention.rope_head_dim": "qk_rope_head_dim", "attention.q_lora_rank": "q_lora_rank",
    "attention.v_head_dim": "v_head_dim", "moe.experts": "n_routed_experts", "moe.top_k": "num_experts_per_tok",
    "moe.shared_experts": "n_shared_experts", "moe.expert_ffn_hidden": "moe_intermediate_size",
    "moe.dense_layers": "first_k_dense_replace",
}
_QWEN_MOE = {"moe.experts": "num_experts", "moe.top_k": "num_experts_per_tok",
             "moe.expert_ffn_hidden": "moe_intermediate_size"}
FIELDS = {
    "qwen2": {},
    "qwen3": {"qkv_bias": "attention_bias"},
    "qwen3_moe": {"qkv_bias": "attention_bias", **_QWEN_MOE},
    "qwen3_next": {
        **_QWEN_MOE, "moe.shared_expert_ffn_hidden": "shared_expert_intermediate_size",
        "linear_attention.key_heads": "linear_num_key_heads", "linear_attention.value_heads": "linear_num_value_heads",
        "linear_attention.key_head_dim": "linear_key_head_dim",
        "linear_attention.value_head_dim": "linear_value_head_dim",
        "linear_attention.conv_kernel": "linear_conv_kernel_dim",
    },
    "llama": {"qkv_bias": "attention_bias"},
    "mixtral": {"moe.experts": "num_local_experts", "moe.top_k": "num_experts_per_tok",
                "moe.expert_ffn_hidden": "intermediate_size", "attention.sliding_window": "sliding_window"},
    "deepseek_v3": _MLA,
    "kimi_k2": _MLA,
}
# Facts the architecture fixes but the config does not state.
_FIXED = {
    "qwen2": {"qkv_bias": "true"},
    "qwen3": {"qk_norm": "true"},
    "qwen3_moe": {"qk_norm": "true"},
    "qwen3_next": {"qk_norm": "true", "attention.output_gate": "true", "moe.shared_experts": "1",
                   "moe.shared_expert_gate": "true"},
    "deepseek_v3": {"attention.kind": "mla"},
    "kimi_k2": {"attention.kind": "mla"},
}


def model_section(path: str, where: Node) -> Node:
    """The `model:` section that a config.json (or a model folder holding one) describes.

    `where` is the node that named the file: errors about reaching the file are located
    there (a scenario line, or the `--hf-config` flag); errors inside it, in the file.
    """
    from pathlib import Path

    from .load import is_folder, parse, read_file

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
    if not isinstance(kind, str) or kind not in FIELDS:  # a list or an object is not a model type either
        shown = repr(kind) if kind is None or isinstance(kind, str) else ("a list" if isinstance(kind, list) else "an object")
        raise QwenfeasError(f"model_type {shown} is not supported", file=file,
                            line=kind_node.line if kind_node is not None else 1, key="model_type",
                            hint="supported: " + ", ".join(SUPPORTED))
    section: dict[str, Node] = {"source": Node(f"Hugging Face config.json ({file})", file, 1),
                                "name": Node(_model_name(fields, target), file, 1)}
    for key, field in {**_COMMON, **FIELDS[kind]}.items():
        node = fields.get(field)
        if node is not None and node.value is not None:
            section[key] = node
    for key, value in _FIXED.get(kind, {}).items():
        section[key] = Node(value, file, kind_node.line)
    _derived_layers(kind, fields, section, file)
    return _nest(section, file, where.line)


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
    if kind in ("qwen3_moe", "qwen3_next") and dense is not None and isinstance(dense.value, list):
        section["moe.dense_layers"] = Node(str(len(dense.value)), file, dense.line)
    if kind == "qwen3_next":
        types = fields.get("layer_types")
        interval = fields.get("full_attention_interval")
        if types is not None and isinstance(types.value, list):
            linear = sum(item.value == "linear_attention" for item in types.value)
            section["linear_attention.layers"] = Node(str(linear), file, types.line)
        elif interval is not None and layers is not None and str(interval.value).isdigit() \
                and int(interval.value) > 0:  # 0 would divide by zero: left for the layer checks to report
            section["linear_attention.layers"] = Node(str(layers - layers // int(interval.value)), file,
                                                      interval.line)
    if kind in ("qwen2", "qwen3", "qwen3_moe") and _true(fields.get("use_sliding_window")):
        window, first = fields.get("sliding_window"), fields.get("max_window_layers")
        if window is not None and window.value is not None:
            section["attention.sliding_window"] = window
            if first is not None and layers is not None and str(first.value).isdigit():
                section["attention.sliding_layers"] = Node(str(max(layers - int(first.value), 0)), file, first.line)
    elif kind in ("qwen2", "qwen3", "qwen3_moe"):
        section.pop("attention.sliding_window", None)


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
