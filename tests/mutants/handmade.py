"""Hand-made mutants of the numeric wings: does the suite catch a plausible wrong formula?

Usage (from the repository root, in the project's virtual environment; `make handmade` does this;
about 10 minutes on two busy cores):

    python tests/mutants/handmade.py [--list] [--only NAME ...] [--timeout 300]

mutmut (`make mutants`) makes every small syntactic change it can; the mutants here are the kind of
mistake a person makes when writing a formula from a paper: a term dropped, a factor of two lost, the
wrong width, a convention inverted (overhead as a share of the system rather than of the board),
kWh for Wh, the rated draw where the sustained one belongs. None is one of the examples in issue 16.

Each mutant is one text replacement in one module. The script copies the repository (qwenfeas/,
tests/, configs/, pyproject.toml, README.md) to a temporary folder once, applies each replacement
there in turn and runs `pytest -x` on the mutant's test files one by one (the tests of its module,
listed below, most direct first) until one fails, then restores the file. A mutant is caught when pytest fails, survives when it passes, and
is reported "stale" when its text is no longer in the module (the code moved on: update the entry).
The unmutated copy must pass the same tests first, so a failure means the mutant, not the copy.
The real Hugging Face configs are found as the tests in place find them (tests/hf_fixtures.py) and
handed to the copy through QWENFEAS_HF_CONFIGS, so the copy skips none of their tests.

Exit status: 0 when at least --fail-under percent (95) are caught and none is stale, else 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from hf_fixtures import shared_hf_configs  # noqa: E402

# The test files that check each module, most direct first (pytest -x stops at the first failure).
TESTS = {
    "qwenfeas/formulas/params.py": ["test_formula_params.py", "test_model_presets.py", "test_published_models.py",
                                    "test_hf_config.py", "test_estimates.py"],
    "qwenfeas/formulas/flops.py": ["test_formula_flops.py", "test_estimates.py", "test_published_models.py",
                                   "test_accounting_measured.py", "test_training_step.py"],
    "qwenfeas/formulas/memory.py": ["test_formula_memory_time_power.py", "test_estimates.py", "test_serving.py",
                                    "test_model_presets.py", "test_roadmap.py"],
    "qwenfeas/formulas/time.py": ["test_formula_memory_time_power.py", "test_accounting_measured.py",
                                  "test_estimates.py", "test_serving.py"],
    "qwenfeas/formulas/power.py": ["test_formula_memory_time_power.py", "test_systems_power.py",
                                   "test_accounting.py", "test_roadmap.py", "test_estimates.py"],
    "qwenfeas/formulas/reliability.py": ["test_formula_edges.py", "test_training_step.py", "test_estimates.py"],
    "qwenfeas/formulas/pipeline.py": ["test_formula_parallel.py", "test_training_step.py",
                                      "test_training_memory.py", "test_training_mechanisms.py"],
    "qwenfeas/formulas/training_memory.py": ["test_training_memory.py", "test_formula_parallel.py",
                                             "test_training_search.py", "test_training_mechanisms.py"],
    "qwenfeas/formulas/communication.py": ["test_communication.py", "test_formula_parallel.py",
                                           "test_training_links.py", "test_training_step.py",
                                           "test_training_mechanisms.py"],
    "qwenfeas/formulas/kernel_efficiency.py": ["test_training_step.py", "test_training_mechanisms.py",
                                               "test_training_attention_kernel.py", "test_formula_parallel.py",
                                               "test_presets_hardware.py"],
    "qwenfeas/formulas/grouped_gemm.py": ["test_training_moe.py", "test_training_step.py"],
    "qwenfeas/formulas/accelerators.py": ["test_training_mechanisms.py", "test_presets_hardware.py",
                                          "test_serving.py", "test_training_step.py"],
    "qwenfeas/formulas/serving.py": ["test_serving.py", "test_serving_metrics.py", "test_formula_edges.py"],
    "qwenfeas/formulas/_array.py": ["test_formula_edges.py", "test_formula_memory_time_power.py", "test_estimates.py"],
    "qwenfeas/architecture.py": ["test_estimates.py", "test_published_models.py", "test_model_presets.py"],
    "qwenfeas/training/metrics.py": ["test_estimates.py", "test_published_models.py", "test_training_step.py"],
    "qwenfeas/serving/decode.py": ["test_serving.py", "test_serving_metrics.py", "test_estimates.py"],
    "qwenfeas/accounting.py": ["test_accounting.py", "test_accounting_measured.py", "test_systems_power.py",
                               "test_roadmap.py", "test_estimates.py"],
}


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    before: str
    after: str
    why: str  # the mistake it stands for


def m(name: str, module: str, before: str, after: str, why: str) -> Mutant:
    return Mutant(name, f"qwenfeas/{module}", before, after, why)


MUTANTS = [
    # --- parameter counts (formulas/params.py)
    m("attention-output-projection-dropped", "formulas/params.py", "((2 + output_gate) * heads + 2 * kv_heads)",
      "((1 + output_gate) * heads + 2 * kv_heads)", "Q, K, V counted, the output projection forgotten"),
    m("qk-norm-one-vector", "formulas/params.py", "qk_norm * 2 * head_dim", "qk_norm * head_dim",
      "QK-norm: one RMSNorm vector instead of one for q and one for k"),
    m("deltanet-beta-or-decay-dropped", "formulas/params.py", "hidden * 2 * value_heads", "hidden * value_heads",
      "Gated DeltaNet: beta projection counted, the decay projection forgotten"),
    m("mla-latent-norm-dropped", "formulas/params.py",
      "key_value = hidden * (kv_lora_rank + rope_head_dim) + kv_lora_rank + kv_lora_rank",
      "key_value = hidden * (kv_lora_rank + rope_head_dim) + kv_lora_rank",
      "MLA: the RMSNorm on the compressed KV latent forgotten"),
    m("moe-router-not-active", "formulas/params.py", "return fixed + experts * expert, fixed + top_k * expert",
      "return fixed + experts * expert, fixed - hidden * experts + top_k * expert",
      "the router left out of the active parameters"),
    m("tied-embedding-counted-twice", "formulas/params.py", "embedding * (2 - tied)", "embedding * 2",
      "a tied input/output embedding counted as two matrices"),
    m("mtp-projection-square-halved", "formulas/params.py", "2 * hidden * hidden", "hidden * hidden",
      "MTP: the [h; embedding] -> h projection read as h x h"),
    m("ffn-always-gated", "formulas/params.py", "return (2 + gated) * hidden * ffn_hidden",
      "return 3 * hidden * ffn_hidden", "a plain (ungated) FFN counted with three matrices"),
    # --- FLOPs (formulas/flops.py)
    m("lm-head-dropped-with-embedding", "formulas/flops.py", "embedding_params * (1 - tied)",
      "embedding_params * (1 + tied)", "a tied matrix removed from the matmuls as if only a lookup"),
    m("causal-token-skips-itself", "formulas/flops.py", "inside = maximum(last_inside - first + 1, 0)",
      "inside = maximum(last_inside - first, 0)", "a token does not attend to itself"),
    m("deltanet-two-passes", "formulas/flops.py", "return 8 * layers * value_heads", "return 4 * layers * value_heads",
      "linear attention: two state passes counted instead of four"),
    m("full-recompute-three-halves", "formulas/flops.py", '"full": 4.0 / 3.0', '"full": 3.0 / 2.0',
      "full recomputation as one extra backward instead of one extra forward"),
    m("generation-per-sequence-not-token", "formulas/flops.py", "return generated_tokens * sequence_flops / sequence",
      "return generated_tokens * sequence_flops", "synthetic data: a sequence's FLOPs charged per token"),
    m("noncausal-window-ignored", "formulas/flops.py", "keys_per_token = minimum(sequence, window)",
      "keys_per_token = sequence", "noncausal attention ignores a sliding window"),
    m("crossover-off-by-two", "formulas/flops.py", "4 * matmul_params / flops_per_key - 1",
      "4 * matmul_params / flops_per_key + 1", "the crossover's diagonal term with the wrong sign"),
    # --- memory, time, power, reliability
    m("conv-state-keeps-whole-kernel", "formulas/memory.py", "conv_channels * (conv_kernel - 1)",
      "conv_channels * conv_kernel", "the short convolution's state holds kernel inputs, not kernel - 1"),
    m("mla-cache-without-rope-key", "formulas/memory.py", "layers * (kv_lora_rank + rope_head_dim)",
      "layers * kv_lora_rank", "MLA cache: the decoupled RoPE key forgotten"),
    m("hold-with-one-percent-slack", "formulas/memory.py", "ceil(total_bytes / memory_per_accelerator)",
      "ceil(0.99 * total_bytes / memory_per_accelerator)", "a rounding slack that lets 1% more fit"),
    m("seconds-from-hours-per-fleet", "formulas/time.py", "return accelerator_hours * 3600 / accelerators",
      "return accelerator_hours * 3600", "accelerator-hours read as wall-clock hours"),
    m("overhead-as-share-of-system", "formulas/power.py", "return tdp * (1 + overhead)",
      "return tdp / (1 - overhead)", "overhead taken as a share of the system, not of the board"),
    m("facility-capex-per-kw", "formulas/power.py", "facility_per_mw * it_watts_each / 1e6",
      "facility_per_mw * it_watts_each / 1e3", "the facility price per MW applied per kW"),
    m("energy-in-wh", "formulas/power.py", "JOULES_PER_KWH = 3.6e6", "JOULES_PER_KWH = 3.6e3",
      "watt-hours reported as kilowatt-hours"),
    m("goodput-loses-whole-interval", "formulas/reliability.py", "(tau / 2 + restart_seconds)",
      "(tau + restart_seconds)", "a failure loses a whole checkpoint interval, not half on average"),
    m("failure-rate-per-day", "formulas/reliability.py", "419 / (16384 * 54 * 24)", "419 / (16384 * 54)",
      "Llama 3's interruptions per accelerator-day used as per accelerator-hour"),
    # --- the wings of the other formulas
    m("bubble-counts-every-stage", "formulas/pipeline.py", "plain = (p - 1) / m", "plain = p / m",
      "1F1B bubble with p instead of p - 1 idle slots"),
    m("logits-in-bf16", "formulas/training_memory.py", "vocab * 4.0 / tensor_parallel",
      "vocab * 2.0 / tensor_parallel", "the logits held in bf16 instead of fp32"),
    m("pipeline-send-one-way", "formulas/communication.py", "return 2 * sends * tokens * hidden",
      "return sends * tokens * hidden", "pipeline traffic: the backward's gradient send forgotten"),
    m("gemm-intensity-halved", "formulas/kernel_efficiency.py", "2.0 * rows / bytes_per_weight",
      "rows / bytes_per_weight", "arithmetic intensity counts a multiply-add as one FLOP"),
    m("speculation-without-bonus-token", "formulas/serving.py", "a ** (draft_tokens + 1)", "a ** draft_tokens",
      "speculative decoding: the verifying step's own token forgotten"),
    m("collective-hops-per-member", "formulas/serving.py", "hops_per_member * (group - 1) * hop",
      "hops_per_member * group * hop", "a collective's hops counted for every member, itself included"),
    # --- accounting.py
    m("synthetic-energy-at-it-load", "accounting.py", 'W.energy_kwh(r["power.facility_watts"], seconds)',
      'W.energy_kwh(r["power.it_watts"], seconds)', "generation energy without the PUE"),
    m("sustained-co2-from-rated-energy", "accounting.py", "W.co2_kg(sustained, s[",
      "W.co2_kg(energy, s[", "the sustained CO2 computed from the rated energy"),
    m("affordable-power-without-pue", "accounting.py",
      'W.facility_watts(W.it_watts(affordable, s["hardware.system_power"]),\n              s["datacenter.pue"])',
      'W.facility_watts(W.it_watts(affordable, s["hardware.system_power"]),\n              1.0)',
      "what a capital budget buys draws IT power only"),
    m("measured-agreement-at-50-percent", "accounting.py", "abs(seconds[other]() / time - 1) > 0.05",
      "abs(seconds[other]() / time - 1) > 0.5", "measured facts 'agree' when 50% apart"),
    m("electricity-at-sustained-draw", "accounting.py",
      'W.electricity_cost_usd(energy, s["datacenter.electricity"])',
      'W.electricity_cost_usd(0.82 * energy, s["datacenter.electricity"])',
      "the electricity bill at the sustained training fraction while energy is rated"),
]


# The mutants issue 16 found surviving (--issue): each must be caught now that its tests exist.
ISSUE_16 = [
    m("issue-qkv-bias-one-kv-projection", "formulas/params.py", "qkv_bias * (heads + 2 * kv_heads)",
      "qkv_bias * (heads + kv_heads)", "QKV bias counted for heads + kv_heads"),
    m("issue-sliding-training-drops-full-layers", "training/metrics.py",
      "attention = attention + F.training_attention_flops(", "attention = F.training_attention_flops(",
      "training attention of a sliding-window model drops its full-attention layers"),
    m("issue-mla-value-width-from-query", "architecture.py",
      'qk, v = d + s["model.attention.rope_head_dim"], s["model.attention.v_head_dim"]',
      'qk, v = d + s["model.attention.rope_head_dim"], d + s["model.attention.rope_head_dim"]',
      "MLA per-key FLOPs use the query/key width for the value width"),
    m("issue-data-parallel-not-rounded-to-experts", "formulas/training_memory.py",
      "d = ceil(maximum(d, 1.0) / multiple_of) * multiple_of", "d = maximum(d, 1.0)",
      "the smallest data-parallel degree not rounded up to the expert degree"),
    m("issue-zero3-two-gathers", "formulas/communication.py", "m * params * (gradient_bytes + 2 * weight_bytes)",
      "m * params * (gradient_bytes + weight_bytes)", "ZeRO-3 weight gathers 3 -> 2"),
    m("issue-zero0-all-reduce-halved", "formulas/communication.py", "2 * params * gradient_bytes)))",
      "params * gradient_bytes)))", "the ZeRO-0 all-reduce loses its factor 2"),
    m("issue-context-ring-two-passes", "formulas/communication.py",
      "return 3 * layers * tokens * kv_bytes_per_token_layer", "return 2 * layers * tokens * kv_bytes_per_token_layer",
      "the context-parallel K/V ring factor"),
    m("issue-decode-weights-on-one-accelerator", "serving/decode.py", "m.dense_params * m.weight_bytes / tensor,",
      "m.dense_params * m.weight_bytes,", "decode memory time ignores the accelerator count"),
]


def constant_mutants(module: str, constant: str = "1.0") -> list[Mutant]:
    """Every top-level function of a module with its body (after the docstring) replaced by
    `return constant` (--constants): issue 16 asks that no test pass when the code under it is a
    constant. The replacement keeps the signature, so callers still run."""
    import ast

    text = (ROOT / module).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    found = []
    for node in ast.parse(text).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        if not body:
            continue
        first, last = body[0].lineno, node.end_lineno
        before = "".join(lines[first - 1:last])
        indent = before[:len(before) - len(before.lstrip())]
        found.append(Mutant(f"constant-{Path(module).stem}.{node.name}", module, before,
                            f"{indent}return {constant}\n", f"{node.name} returns {constant} whatever its input"))
    return found


def copy_repository(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in ("qwenfeas", "tests", "configs"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)


def pytest(copy: Path, files: list[str], timeout: float) -> tuple[int | None, str]:
    """pytest -x over the files in the copy: (exit status or None on a timeout, the last lines)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    hf = shared_hf_configs()
    if hf is not None:
        env["QWENFEAS_HF_CONFIGS"] = str(hf)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               *[f"tests/{name}" for name in files]]
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    return done.returncode, "\n".join(done.stdout.strip().splitlines()[-3:])


def tests_of(mutant: Mutant) -> list[str]:
    return [name for name in TESTS[mutant.module] if (ROOT / "tests" / name).exists()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--only", nargs="*", help="run only these mutants (by name)")
    parser.add_argument("--issue", action="store_true", help="run issue 16's surviving mutants instead")
    parser.add_argument("--constants", nargs="*", metavar="MODULE",
                        help="replace each function of these modules (qwenfeas/formulas/power.py) by a constant")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run")
    parser.add_argument("--fail-under", type=float, default=95.0)
    args = parser.parse_args()
    pool = ISSUE_16 if args.issue else MUTANTS
    if args.constants:
        pool = [mu for module in args.constants for mu in constant_mutants(module)]
    chosen = [mu for mu in pool if not args.only or mu.name in args.only]
    if args.list:
        for mu in chosen:
            print(f"{mu.name:<38} {mu.module:<38} {mu.why}")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qwenfeas-handmade-") as folder:
        copy = Path(folder)
        copy_repository(copy)
        probe = subprocess.run([sys.executable, "-c", "import qwenfeas; print(qwenfeas.__file__)"], cwd=copy,
                               env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True)
        if not probe.stdout.startswith(str(copy)):
            sys.exit(f"the copy does not import its own qwenfeas ({probe.stdout.strip() or probe.stderr})")
        every_file = list(dict.fromkeys(name for mu in chosen for name in tests_of(mu)))
        status, tail = pytest(copy, every_file, args.timeout * 2)
        if status != 0:
            sys.exit(f"the unmutated copy fails its tests, so no mutant can be judged:\n{tail}")
        print(f"unmutated: {len(every_file)} test files pass ({time.monotonic() - started:.0f} s)\n", flush=True)

        caught, survived, stale = [], [], []
        for mu in chosen:
            path = copy / mu.module
            original = path.read_text(encoding="utf-8")
            if original.count(mu.before) != 1:
                stale.append(mu)
                print(f"STALE    {mu.name}: `{mu.before}` is in {mu.module} {original.count(mu.before)} times")
                continue
            path.write_text(original.replace(mu.before, mu.after), encoding="utf-8")
            try:
                began = time.monotonic()
                for name in tests_of(mu):  # one file at a time: the most direct one usually fails at once
                    status, tail = pytest(copy, [name], args.timeout)
                    if status != 0:
                        break
            finally:
                path.write_text(original, encoding="utf-8")
            mark = "caught" if status != 0 else "SURVIVED"
            (caught if status != 0 else survived).append(mu)
            failed = next((line for line in tail.splitlines() if line.startswith("FAILED")), "")
            print(f"{mark:<8} {mu.name:<38} {time.monotonic() - began:5.1f} s  {failed[7:110]}", flush=True)

    judged = len(caught) + len(survived)
    score = 100.0 * len(caught) / judged if judged else 100.0
    print(f"\nhand-made mutants: {len(caught)} of {judged} caught ({score:.1f}%)"
          + (f", {len(stale)} stale" if stale else "") + f" in {time.monotonic() - started:.0f} s")
    for mu in survived:
        print(f"  survived: {mu.name} ({mu.module}): {mu.why}")
    return 0 if score >= args.fail_under and not stale else 1


if __name__ == "__main__":
    sys.exit(main())
