"""Hugging Face config.json import.

Two kinds of input:
- minimal configs written here in the Hub's field names, one per supported model_type, with the
  values of the published configs (as tabulated, with sources, in shared/reference/presets.md);
- the real config.json files, read from shared/fixtures/hf_configs/ beside this repository (or
  the folder named by QWENFEAS_HF_CONFIGS) when present: they come from public repositories and
  are kept as shared data, not in this repository. Those tests skip when the folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hf_fixtures import shared_hf_configs
from typer.testing import CliRunner

import qwenfeas
from qwenfeas.cli import app
from qwenfeas.errors import QwenfeasError
from qwenfeas.scenario import catalogue
from qwenfeas.scenario.hf_config import SUPPORTED
from qwenfeas.scenario.load import hf_config_override

SHARED = shared_hf_configs() or Path("shared/fixtures/hf_configs")
REAL = sorted(path.stem for path in SHARED.glob("*.json")) if SHARED.is_dir() else []
needs_real = pytest.mark.skipif(not REAL, reason=f"no real config.json files in {SHARED}")

_QWEN3 = {"hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
          "vocab_size": 151936, "tie_word_embeddings": False, "attention_bias": False, "use_sliding_window": False}
_MLA = {"hidden_size": 7168, "num_hidden_layers": 61, "intermediate_size": 18432, "moe_intermediate_size": 2048,
        "kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "q_lora_rank": 1536, "v_head_dim": 128,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "tie_word_embeddings": False}
_FP8 = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}
MINIMAL = {  # preset name -> the fields of its published config.json that describe the architecture
    "qwen2.5-7b": {"model_type": "qwen2", "num_hidden_layers": 28, "hidden_size": 3584, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
                   "tie_word_embeddings": False, "sliding_window": 131072, "use_sliding_window": False,
                   "max_window_layers": 28},
    "qwen3-8b": {"model_type": "qwen3", "num_hidden_layers": 36, "intermediate_size": 12288, **_QWEN3},
    "qwen3-235b-a22b": {**_QWEN3, "model_type": "qwen3_moe", "num_hidden_layers": 94, "num_attention_heads": 64,
                        "num_key_value_heads": 4, "intermediate_size": 12288, "num_experts": 128,
                        "num_experts_per_tok": 8, "moe_intermediate_size": 1536, "mlp_only_layers": []},
    "qwen3-next-80b-a3b": {
        "model_type": "qwen3_next", "num_hidden_layers": 48, "hidden_size": 2048, "num_attention_heads": 16,
        "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 5120, "vocab_size": 151936,
        "tie_word_embeddings": False, "num_experts": 512, "num_experts_per_tok": 10, "moe_intermediate_size": 512,
        "shared_expert_intermediate_size": 512, "mlp_only_layers": [], "linear_num_key_heads": 16,
        "linear_num_value_heads": 32, "linear_key_head_dim": 128, "linear_value_head_dim": 128,
        "linear_conv_kernel_dim": 4, "full_attention_interval": 4},
    "llama-3.1-8b": {"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
                     "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
                     "tie_word_embeddings": False, "attention_bias": False},
    "deepseek-v3": {**_MLA, "model_type": "deepseek_v3", "num_attention_heads": 128, "vocab_size": 129280,
                    "n_routed_experts": 256, "first_k_dense_replace": 3, "quantization_config": _FP8},
    "kimi-linear-48b-a3b": {  # moonshotai/Kimi-Linear-48B-A3B-Instruct config.json
        "model_type": "kimi_linear", "num_hidden_layers": 27, "hidden_size": 2304, "num_attention_heads": 32,
        "num_key_value_heads": 32, "intermediate_size": 9216, "vocab_size": 163840, "tie_word_embeddings": False,
        "max_position_embeddings": 1048576, "kv_lora_rank": 512, "q_lora_rank": None, "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64, "v_head_dim": 128, "mla_use_nope": True, "num_experts": 256,
        "num_experts_per_token": 8, "num_shared_experts": 1, "moe_intermediate_size": 1024,
        "first_k_dense_replace": 1, "num_nextn_predict_layers": 0,
        "linear_attn_config": {"full_attn_layers": [4, 8, 12, 16, 20, 24, 27], "head_dim": 128, "num_heads": 32,
                               "kda_layers": [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25,
                                              26], "short_conv_kernel_size": 4}},
    "kimi-k2": {**_MLA, "model_type": "kimi_k2", "num_attention_heads": 64, "vocab_size": 163840,
                "n_routed_experts": 384, "first_k_dense_replace": 1, "quantization_config": _FP8},
}
# Mixtral 8x7B has no preset: Mistral AI's announcement states its counts instead (test below).
MIXTRAL = {"model_type": "mixtral", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
           "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000, "tie_word_embeddings": False,
           "num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": None}
SCENARIO = "model: {%s}\ncontext: 100K\nhardware: {preset: h200}\n"
COMPARED = ["model.params", "model.active_params", "model.non_embedding_params", "model.attention_flops_per_key",
            "kv_cache.bytes_per_token", "kv_cache.bytes_per_sequence", "inference.flops_per_token",
            "memory.weights_bytes", "model.linear_attention_flops_per_token"]
# real config.json -> the preset it stands for, where the names differ (SOURCES.md: GLM-4.7 stands in for GLM-4.5)
STANDS_FOR = {"glm-4.7-fp8": "glm-4.5"}


def _config(tmp_path, fields: dict, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(fields, indent=2))
    return path


def _same_numbers(write, config: Path, preset: str) -> None:
    from_config = qwenfeas.estimate(qwenfeas.load(write(SCENARIO % f"hf_config: {config}")))
    from_preset = qwenfeas.estimate(qwenfeas.load(write(SCENARIO % f"preset: {preset}")))
    for key in COMPARED:
        if key in from_preset.metrics:
            assert from_config[key] == from_preset[key], key


def _types(fields: dict) -> set:
    """The model types a config holds: its own, and its text model's inside a multimodal wrapper."""
    text = fields.get("text_config") or {}
    return {fields["model_type"], *([text["model_type"].removesuffix("_text")] if "model_type" in text else [])}


@needs_real
def test_every_supported_model_type_is_tested():
    types = {fields["model_type"] for fields in MINIMAL.values()} | {MIXTRAL["model_type"]}
    real = set().union(*(_types(json.loads((SHARED / f"{name}.json").read_text())) for name in REAL))
    assert types | real == set(SUPPORTED)


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_minimal_config_gives_the_presets_numbers(write, tmp_path, name):
    _same_numbers(write, _config(tmp_path, MINIMAL[name]), name)


@needs_real
@pytest.mark.parametrize("name", [n for n in REAL if STANDS_FOR.get(n, n) in catalogue.preset_names("model.preset")])
def test_real_config_json_gives_the_presets_numbers(write, name):
    _same_numbers(write, SHARED / f"{name}.json", STANDS_FOR.get(name, name))


@needs_real
def test_every_supported_model_type_has_a_real_config():
    types = set().union(*(_types(json.loads((SHARED / f"{name}.json").read_text())) for name in REAL))
    assert set(SUPPORTED) <= types


def test_mixtral_matches_its_published_counts(run, tmp_path):
    # Mistral AI, "Mixtral of experts" (2023-12-11): 46.7B total parameters, 12.9B used per token.
    r = run(SCENARIO % f"hf_config: {_config(tmp_path, MIXTRAL)}")
    assert r["model.params"] == pytest.approx(46.7e9, rel=0.015)
    assert r["model.active_params"] == pytest.approx(12.9e9, rel=0.015)
    # 32 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes
    assert r["kv_cache.bytes_per_token"] == 2 * 32 * 8 * 128 * 2


def test_keys_written_beside_hf_config_override_it(run, tmp_path):
    config = _config(tmp_path, MINIMAL["llama-3.1-8b"])
    r = run(SCENARIO % f"hf_config: {config}, layers: 16")
    assert r.scenario["model.layers"] == 16
    assert r.scenario.origins["model.hidden"].startswith(str(config))


def test_path_is_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "models").mkdir()
    _config(tmp_path / "models", MINIMAL["qwen3-8b"])
    (tmp_path / "plan.yaml").write_text(SCENARIO % "hf_config: models/config.json")
    assert qwenfeas.load(tmp_path / "plan.yaml")["model.layers"] == 36


def test_cli_flag(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("context: 32K\nhardware: {preset: h100-sxm}\n")
    config = _config(tmp_path, MINIMAL["qwen3-8b"])
    result = CliRunner().invoke(app, ["estimate", str(plan), "--hf-config", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["params"] == _qwen3_8b_params()  # 8,190,735,360, as the preset


def test_unsupported_model_type_lists_the_supported_ones(write, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{\n  "model_type": "gpt2",\n  "n_layer": 12\n}\n')
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write(SCENARIO % f"hf_config: {config}"))
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.key) == (str(config), 2, "model_type")
    assert all(kind in problem.hint for kind in SUPPORTED)


def test_broken_json_and_missing_file_are_located(write, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{\n  "model_type": "llama",\n  "hidden_size": 4096,,\n}\n')
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write(SCENARIO % f"hf_config: {config}"))
    assert (info.value.problems[0].file, info.value.problems[0].line) == (str(config), 3)
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write("model:\n  hf_config: nowhere.json\ncontext: 1\nhardware: {preset: h200}\n"))
    assert (info.value.problems[0].key, info.value.problems[0].line) == ("model.hf_config", 2)


HAND_WRITTEN = {  # the same architectures in qwenfeas's own keys, written out as a user would
    "qwen3-235b-a22b": "layers: 94, hidden: 4096, heads: 64, kv_heads: 4, head_dim: 128, vocab: 151936, "
                       "qk_norm: true, moe: {experts: 128, top_k: 8, expert_ffn_hidden: 1536}",
    "deepseek-v3": "layers: 61, hidden: 7168, heads: 128, head_dim: 128, vocab: 129280, ffn_hidden: 18432, "
                   "attention: {kind: mla, kv_lora_rank: 512, rope_head_dim: 64, q_lora_rank: 1536, v_head_dim: 128}, "
                   "moe: {experts: 256, top_k: 8, shared_experts: 1, expert_ffn_hidden: 2048, dense_layers: 3}, "
                   "quantization: {weights: fp8}",
    "gpt-oss-120b": "layers: 36, hidden: 2880, heads: 64, kv_heads: 8, head_dim: 64, vocab: 201088, qkv_bias: true, "
                    "attention: {sliding_window: 128, sliding_layers: 18}, "
                    "moe: {experts: 128, top_k: 4, expert_ffn_hidden: 2880}, quantization: {expert_weights: mxfp4}",
    "glm-4.5": "layers: 92, hidden: 5120, heads: 96, kv_heads: 8, head_dim: 128, ffn_hidden: 12288, vocab: 151552, "
               "qkv_bias: true, qk_norm: true, moe: {experts: 160, top_k: 8, shared_experts: 1, "
               "expert_ffn_hidden: 1536, dense_layers: 3}",
    "minimax-m1": "layers: 80, hidden: 6144, heads: 64, kv_heads: 8, head_dim: 128, vocab: 200064, "
                  "linear_attention: {kind: lightning, layers: 70, value_heads: 64, key_head_dim: 128, "
                  "value_head_dim: 128}, moe: {experts: 32, top_k: 2, expert_ffn_hidden: 9216}",
    "qwen3.5-35b-a3b": "layers: 40, hidden: 2048, heads: 16, kv_heads: 2, head_dim: 256, vocab: 248320, "
                       "qk_norm: true, attention: {output_gate: true}, linear_attention: {layers: 30, key_heads: 16, "
                       "value_heads: 32, key_head_dim: 128, value_head_dim: 128, conv_kernel: 4}, "
                       "moe: {experts: 256, top_k: 8, shared_experts: 1, expert_ffn_hidden: 512, "
                       "shared_expert_gate: true}",
}
# the published config.json each hand-written architecture is also read from (real file, or MINIMAL)
_REAL_FOR = {"gpt-oss-120b": "gpt-oss-120b", "glm-4.5": "glm-4.7-fp8", "minimax-m1": "minimax-m1",
             "qwen3.5-35b-a3b": "qwen3.5-35b-a3b"}


# K and V bytes per token at bf16, by hand from each config: the anchor of the comparison below
KV_BY_HAND = {
    "qwen3-235b-a22b": 2 * 94 * 4 * 128 * 2,
    "deepseek-v3": 61 * (512 + 64) * 2,          # MLA: one latent and one RoPE key per layer
    "gpt-oss-120b": 2 * (18 + 18) * 8 * 64 * 2,  # 18 full and 18 sliding-window layers
    "glm-4.5": 2 * 92 * 8 * 128 * 2,
    "minimax-m1": 2 * (80 - 70) * 8 * 128 * 2,   # only the 10 softmax layers
    "qwen3.5-35b-a3b": 2 * (40 - 30) * 2 * 256 * 2,
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_preset_config_json_and_hand_written_yaml_agree(write, tmp_path, name):
    by_hand = qwenfeas.estimate(qwenfeas.load(write(SCENARIO % HAND_WRITTEN[name])))
    from_preset = qwenfeas.estimate(qwenfeas.load(write(SCENARIO % f"preset: {name}")))
    assert from_preset["kv_cache.bytes_per_token"] == KV_BY_HAND[name]
    for key in COMPARED:
        if key in from_preset.metrics:
            assert by_hand[key] == from_preset[key], key
    if name in MINIMAL:
        _same_numbers(write, _config(tmp_path, MINIMAL[name]), name)
    elif REAL:
        _same_numbers(write, SHARED / f"{_REAL_FOR[name]}.json", name)


# --hf-config on the command line: the config describes the whole architecture (issue 14, item 1)

def _qwen3_8b_params() -> int:
    """Qwen3-8B by hand from its published config (shared/reference/presets.md, table a.1):
    36 layers of GQA (32 q / 8 kv heads of 128, QK-norm) + SwiGLU 12288, untied 151936 x 4096 tables."""
    h, layers, vocab = 4096, 36, 151936
    attention = h * 128 * (2 * 32 + 2 * 8) + 2 * 128
    ffn = 3 * h * 12288
    return 2 * vocab * h + layers * (attention + ffn + 2 * h) + h


def _flag(plan: Path, config: Path, *more: str):
    result = CliRunner().invoke(app, ["estimate", str(plan), "--hf-config", str(config), "-f", "json", *more])
    return result, (json.loads(result.stdout) if result.exit_code == 0 else None)


def test_flag_replaces_a_preset_model_and_warns(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("model: {preset: qwen3-235b-a22b}\ncontext: 32K\nhardware: {preset: h100-sxm}\n")
    result, out = _flag(plan, _config(tmp_path, MINIMAL["qwen3-8b"]))
    assert result.exit_code == 0, result.output
    assert out["model"]["params"] == _qwen3_8b_params() == out["model"]["active_params"]
    message = " ".join(result.stderr.split())  # the warning is wrapped at the width
    assert "replaces the model: discarded model.preset (" in message
    assert f"{plan}:1" in message


def test_flag_replaces_a_hand_written_model(tmp_path):
    # configs/default.yaml writes a 1.075T MoE out in full; the config's dense model must replace all of it.
    plan = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    result, out = _flag(plan, _config(tmp_path, MINIMAL["qwen3-8b"]))
    assert result.exit_code == 0, result.output
    assert out["model"]["params"] == _qwen3_8b_params()
    for key in ("model.layers", "model.hidden", "model.moe.experts", "model.moe.top_k"):
        assert key in result.stderr
    scenario = qwenfeas.load(plan, [hf_config_override(str(_config(tmp_path, MINIMAL["deepseek-v3"])))])
    assert "model.moe.expert_ffn_hidden" in scenario.warnings[0]
    report = qwenfeas.estimate(scenario)
    # DeepSeek-V3 whole, not merged with the default's GQA: MLA latent cache 61 x (512 + 64) x 2 bytes
    assert report["kv_cache.bytes_per_token"] == 61 * (512 + 64) * 2
    assert report["model.params"] == pytest.approx(671e9, rel=0.001)
    assert scenario["tokens"] == 36e12  # the file's other keys stay


def test_flag_names_the_model_after_its_folder_and_takes_a_folder(tmp_path):
    folder = tmp_path / "Qwen3-8B"
    folder.mkdir()
    _config(folder, MINIMAL["qwen3-8b"])
    plan = tmp_path / "plan.yaml"
    plan.write_text("context: 32K\nhardware: {preset: h100-sxm}\n")
    result = CliRunner().invoke(app, ["estimate", str(plan), "--hf-config", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Qwen3-8B, context 32,000" in result.stdout
    assert result.stderr == ""  # nothing was discarded


def test_set_still_overrides_the_flag(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("model: {preset: llama-3.1-8b}\ncontext: 32K\nhardware: {preset: h100-sxm}\n")
    scenario = qwenfeas.load(plan, [hf_config_override(str(_config(tmp_path, MINIMAL["qwen3-8b"]))),
                                    "model.layers=18"])
    assert (scenario["model.layers"], scenario["model.hidden"]) == (18, 4096)


def test_flag_errors_name_the_flag(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("context: 32K\nhardware: {preset: h100-sxm}\n")
    for target, words in ((tmp_path / "nowhere.json", "cannot read"), (tmp_path, "holds no config.json")):
        result = CliRunner().invoke(app, ["estimate", str(plan), "--hf-config", str(target)])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: --hf-config: ") or result.stderr.startswith("--hf-config: "), \
            result.stderr
        assert words in result.stderr and "--set" not in result.stderr


def test_hf_config_in_a_file_behaves_like_a_preset(write, tmp_path):
    config = _config(tmp_path, MINIMAL["qwen3-8b"])
    base = write(f"model: {{hf_config: {config}}}\ncontext: 32K\nhardware: {{preset: h100-sxm}}\n", "base.yaml")
    # a file naming a preset replaces the config its base named, as one preset replaces another
    child = write(f"extends: {base.name}\nmodel: {{preset: llama-3.1-8b}}\n", "child.yaml")
    assert qwenfeas.load(child)["model.vocab"] == 128256
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write(f"model: {{preset: llama-3.1-8b, hf_config: {config}}}\ncontext: 1K\n"
                            "hardware: {preset: h200}\n"))
    assert "both name the architecture" in info.value.problems[0].message


@needs_real
def test_kimi_k3_reads_its_kda_and_mla_layers(run):
    # kimi-k3.json text_config: 93 layers, 69 KDA (96 heads of 128, kernel 4, full-rank gate) and 24 MLA layers
    # (kv_lora_rank 512 + rope 64, with an output gate); experts in a 3584-wide latent; MXFP4 routed experts.
    r = run(SCENARIO % f"hf_config: {SHARED / 'kimi-k3.json'}")
    s = r.scenario
    assert (s["model.linear_attention.kind"], s["model.linear_attention.layers"]) == ("kda", 69)
    h, heads, d, width = 7168, 96, 128, 96 * 128
    kda = (3 * h * width + 3 * width * 4 + h * d + d * width + h * heads + h * width + heads + width + d
           + width * h)
    assert r.terms["linear_attention_params"].value == kda
    assert r["kv_cache.bytes_per_token"] == 24 * (512 + 64) * 2
    assert (s["model.moe.expert_hidden"], s["precision.expert_weights"], s["precision.weights"]) == \
        (3584, "mxfp4", "bf16")
    assert "vision tower is not counted" in s["model.notes"]


@needs_real
def test_minimax_m1_reads_its_lightning_layers(run):
    # attn_type_list: 70 lightning (0) and 10 softmax (1) layers; lightning q, k, v, gate and output
    # projections of 64 heads x 128 plus the output norm (MiniMax-01 report, arXiv 2501.08313, sec. 2.2)
    r = run(SCENARIO % f"hf_config: {SHARED / 'minimax-m1.json'}")
    assert r.scenario["model.linear_attention.layers"] == 70
    assert r.terms["linear_attention_params"].value == 5 * 6144 * 64 * 128 + 64 * 128
    # state per sequence: 70 layers x 64 heads x 128 x 128 at fp32, no convolution
    assert r["kv_cache.state_bytes_per_sequence"] == 70 * 64 * 128 * 128 * 4


@needs_real
@pytest.mark.parametrize("name", REAL)
def test_every_shared_config_imports(write, name):
    # Every fixture's type is one issue 14 lists, so each must give a model (shared/fixtures/hf_configs/SOURCES.md).
    report = qwenfeas.estimate(qwenfeas.load(write(SCENARIO % f"hf_config: {SHARED / f'{name}.json'}")))
    assert report["model.params"] >= report["model.active_params"] > 0
    assert report.scenario["model.name"]


@needs_real
@pytest.mark.parametrize(("config", "preset"), [("llama-2-70b", "llama-2-70b"), ("qwen3-235b-a22b", "qwen3-235b-a22b"),
                                                ("qwen3-coder-480b-a35b", "qwen3-coder-480b-a35b"),
                                                ("deepseek-v3", "deepseek-v3"), ("qwen3-8b", "qwen3-8b")])
def test_issue_14_cases_give_the_configs_model_on_the_default_scenario(config, preset):
    # Issue 14: configs/default.yaml (a hand-written 1.075T MoE) with --hf-config of these published configs gave
    # the default's numbers unchanged, or a hybrid; each must now give exactly its own model.
    default = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    scenario = qwenfeas.load(default, [hf_config_override(str(SHARED / f"{config}.json"))])
    report = qwenfeas.estimate(scenario)
    alone = qwenfeas.estimate(qwenfeas.loads(f"model: {{preset: {preset}}}\ncontext: 1K\nhardware: {{preset: h200}}\n"))
    assert report["model.params"] == alone["model.params"]
    assert report["model.active_params"] == alone["model.active_params"]
    assert "discarded model.layers" in scenario.warnings[0]


def test_a_quantized_checkpoint_sets_the_served_weights_not_the_trained_ones(write, tmp_path):
    # DeepSeek-V3's config.json carries an FP8 quantization_config: served, its weights are 1 byte and its cache
    # stays bf16 (vLLM kv_cache_dtype "auto"); trained, weights stay bf16 (mixed-precision convention).
    config = _config(tmp_path, MINIMAL["deepseek-v3"])
    served = qwenfeas.load(write(SCENARIO % f"hf_config: {config}"))
    assert (served["precision.weights"], served["precision.kv_cache"]) == ("fp8", "bf16")
    trained = qwenfeas.load(write(SCENARIO % f"hf_config: {config}" + "tokens: 1T\n"), ["hardware.count=2048"])
    assert trained["precision.weights"] == "bf16"
    written = qwenfeas.load(write(SCENARIO % f"hf_config: {config}" + "precision: {weights: fp4}\n"))
    assert (written["precision.weights"], written["precision.kv_cache"]) == ("fp4", "fp4")
