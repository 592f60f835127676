"""Bad input to `qwenfeas estimate`: exit 2, nothing on stdout, a located message on stderr.

The contract (SCENARIO.md, errors.py): a mistake is reported as

    FILE:LINE: key.path: message
      hint: ...                       (optional)

naming the file, the line and the key (for `--set` the file is `--set` and there is no
line), never with a traceback, and with exit status 2 so CI can tell bad input (2) from a
failed check (1) and from a bug in qwenfeas (70). Most tests run the command in-process
with typer's CliRunner (stdout and stderr are captured separately); a few run the real
console script and `python -m qwenfeas`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenfeas.cli import app

VALID = "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"
ENV = {"NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1", "COLUMNS": "160"}

# FILE[:LINE]: rest   -- FILE has no ':' (tmp paths, relative names, <stdin>, --set)
LOCATED = re.compile(r"^(?P<file>[^:\s][^:]*?)(?::(?P<line>\d+))?: (?P<rest>\S.*)$")
HINT = re.compile(r"^  hint: \S.*$")


@dataclass
class Reported:
    file: str
    line: int | None
    rest: str
    hint: str | None = None

    def key_and_message(self) -> tuple[str, str]:
        key, _, message = self.rest.partition(": ")
        return key, message


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in a fresh folder so file names in messages are short and predictable."""
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def invoke(*args: str, stdin: str | None = None):
    result = CliRunner().invoke(app, ["estimate", *args], input=stdin, env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def parse_stderr(stderr: str) -> list[Reported]:
    """Every stderr line is a located problem or the hint of the problem above it."""
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    assert stderr.endswith("\n"), repr(stderr)
    reported: list[Reported] = []
    for text in stderr.splitlines():
        if HINT.match(text):
            assert reported and reported[-1].hint is None, f"hint without a problem above it: {stderr!r}"
            reported[-1].hint = text.removeprefix("  hint: ")
            continue
        match = LOCATED.match(text)
        assert match, f"not of the form FILE:LINE: key: message: {text!r}"
        line = int(match["line"]) if match["line"] else None
        reported.append(Reported(match["file"], line, match["rest"]))
    assert reported, "nothing reported"
    return reported


def input_error(result) -> list[Reported]:
    """Exit 2, silent stdout, and a well-formed stderr."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    return parse_stderr(result.stderr)


def only(reported: list[Reported]) -> Reported:
    assert len(reported) == 1, reported
    return reported[0]


def expect(result, file: str, line: int | None, key: str, message: str, hint: str | None = None) -> Reported:
    """The run failed with exactly one problem at FILE:LINE on `key`, its message containing `message`
    (required and not blank: an empty one would match any message)."""
    assert message.strip(), "give the words the message must contain"
    problem = only(input_error(result))
    assert (problem.file, problem.line) == (file, line), problem
    found_key, found_message = problem.key_and_message()
    assert found_key == key, problem
    assert message.lower() in found_message.lower(), problem
    if hint is not None:
        assert problem.hint is not None and hint.lower() in problem.hint.lower(), problem
    return problem


# ---------------------------------------------------------------------------
# The runner itself


def test_runner_separates_stdout_and_stderr(here):
    ok = invoke(write("ok.yaml", VALID), "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert ok.stderr == ""
    assert json.loads(ok.stdout)["model"]["params"] > 6e10
    bad = invoke(write("bad.yaml", "context: 12x\n"))
    assert bad.stdout == "" and "bad.yaml:1: context:" in bad.stderr


# ---------------------------------------------------------------------------
# Documents that are not a scenario


@pytest.mark.parametrize(("text", "line", "advice"), [
    ("model: {preset: llama-2-70b\ncontext: 4096\n", 2, "brace"),  # unclosed flow mapping, seen on the next line
    ("model:\n  preset: llama-2-70b\n layers: 80\ncontext: 4096\n", 3, "indentation"),  # bad indentation
    ("model:\n\tpreset: llama-2-70b\n", 2, "tabs"),  # a tab
    ("context: 4096\n---\ncontext: 8192\n", 2, "'---'"),  # two documents
])
def test_malformed_yaml_names_file_and_line(here, text, line, advice):
    problem = only(input_error(invoke(write("broken.yaml", text))))
    assert (problem.file, problem.line) == ("broken.yaml", line)
    assert "not valid YAML" in problem.rest
    assert problem.hint and advice in problem.hint  # a hint that fits the mistake


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n"])
def test_empty_file(here, text):
    problem = only(input_error(invoke(write("empty.yaml", text))))
    assert (problem.file, problem.line) == ("empty.yaml", 1)
    assert "empty" in problem.rest
    assert problem.hint and "mapping" in problem.hint


@pytest.mark.parametrize("text", ["- model: {preset: llama-2-70b}\n- context: 4096\n", "just words\n", "4096\n"])
def test_top_level_must_be_a_mapping(here, text):
    problem = only(input_error(invoke(write("list.yaml", text))))
    assert (problem.file, problem.line) == ("list.yaml", 1)
    assert "mapping" in problem.rest


def test_not_utf8(here):
    Path("latin1.yaml").write_bytes(b"name: caf\xe9\n" + VALID.encode())
    problem = only(input_error(invoke("latin1.yaml")))
    assert problem.file == "latin1.yaml"
    assert "UTF-8" in problem.rest


def test_yaml_merge_keys_are_refused_with_a_hint(here):
    result = invoke(write("merge.yaml", "base: &b {context: 4096}\n<<: *b\n" + VALID))
    problem = only(input_error(result))
    assert (problem.file, problem.line) == ("merge.yaml", 2)
    assert "<<" in problem.rest and problem.hint and "extends" in problem.hint


# ---------------------------------------------------------------------------
# Keys


def test_unknown_key_gets_did_you_mean(here):
    result = invoke(write("typo.yaml", VALID + "contxt: 8192\n"))
    expect(result, "typo.yaml", 4, "contxt", "unknown key", hint="did you mean 'context'")


@pytest.mark.parametrize(("text", "line", "key", "suggestion"), [
    ("model:\n  preset: llama-2-70b\n  layrs: 80\ncontext: 4096\nhardware: {preset: h100-sxm}\n",
     3, "model.layrs", "'layers'"),
    ("model: {preset: llama-2-70b}\ncontext: 4096\nhardware:\n  preset: h100-sxm\n  cuont: 8\n",
     5, "hardware.cuont", "'count'"),
    ("model:\n  preset: llama-2-70b\n  moe:\n    experts: 8\n    topk: 2\ncontext: 4096\n"
     "hardware: {preset: h100-sxm}\n", 5, "model.moe.topk", "'top_k'"),
])
def test_misspelt_nested_key(here, text, line, key, suggestion):
    problem = expect(invoke(write("nested.yaml", text)), "nested.yaml", line, key, "unknown key")
    assert problem.hint and "did you mean" in problem.hint and suggestion in problem.hint


def test_key_at_the_wrong_level_says_where_it_belongs(here):
    problem = expect(invoke(write("level.yaml", VALID + "layers: 80\n")), "level.yaml", 4, "layers", "unknown key")
    assert problem.hint and "model.layers" in problem.hint


def test_value_where_a_section_is_expected(here):
    result = invoke(write("section.yaml", "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: h100-sxm\n"))
    expect(result, "section.yaml", 3, "hardware", "section", hint="below 'hardware:'")


def test_section_where_a_value_is_expected(here):
    result = invoke(write("leaf.yaml", VALID + "tokens:\n  total: 1T\n"))
    expect(result, "leaf.yaml", 4, "tokens", "single value")


def test_duplicate_key_names_both_lines(here):
    result = invoke(write("dup.yaml", "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"
                                      "context: 8192\n"))
    problem = expect(result, "dup.yaml", 4, "context", "duplicate key")
    assert "line 2" in problem.rest


def test_duplicate_key_inside_a_section(here):
    result = invoke(write("dup.yaml", "model:\n  preset: llama-2-70b\n  layers: 80\n  layers: 40\ncontext: 4096\n"))
    problem = only(input_error(result))
    assert (problem.file, problem.line) == ("dup.yaml", 4)
    assert "layers" in problem.rest and "duplicate" in problem.rest and "line 3" in problem.rest


def test_missing_key_that_nothing_can_derive(here):
    result = invoke(write("nocontext.yaml", "model: {preset: llama-2-70b}\nhardware: {preset: h100-sxm}\n"))
    expect(result, "nocontext.yaml", 1, "context", "missing", hint="context: 128K")


def test_missing_architecture_without_a_preset(here):
    result = invoke(write("bare.yaml", "model: {layers: 2, hidden: 64}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"))
    reported = input_error(result)
    assert {p.key_and_message()[0] for p in reported} == {"model.heads", "model.vocab"}
    assert all(p.file == "bare.yaml" and p.line == 1 and "missing" in p.rest for p in reported)
    assert all(p.hint and "model.preset" in p.hint for p in reported)


# ---------------------------------------------------------------------------
# Values


def test_unreadable_unit(here):
    result = invoke(write("unit.yaml", "model: {preset: llama-2-70b}\ncontext: 12x\nhardware: {preset: h100-sxm}\n"))
    problem = expect(result, "unit.yaml", 2, "context", "'12x'")
    assert "128K" in problem.rest  # the message shows how to write it


def test_unit_of_the_wrong_kind(here):
    result = invoke(write("kind.yaml", VALID.replace("{preset: h100-sxm}", "{preset: h100-sxm, memory: 3.35TB/s}")))
    expect(result, "kind.yaml", 3, "hardware.memory", "3.35TB/s")


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ("model: {preset: llama-2-70b}\ncontext: -4096\nhardware: {preset: h100-sxm}\n", 2, "context",
     "must be greater than 0, got -4096"),
    ("model:\n  preset: llama-2-70b\n  layers: -80\ncontext: 4096\nhardware: {preset: h100-sxm}\n", 3,
     "model.layers", "must be greater than 0, got -80"),
    (VALID + "datacenter:\n  pue: 1.1\n  gpu_hour: -2 $/h\n", 6, "datacenter.gpu_hour", "must be at least 0, got -2"),
    (VALID + "tokens: -1T\n", 4, "tokens", "must be greater than 0, got -1e+12"),
])
def test_negative_value(here, text, line, key, message):
    expect(invoke(write("neg.yaml", text)), "neg.yaml", line, key, message)


@pytest.mark.parametrize(("text", "key"), [
    ("hardware: {preset: h100-sxm, count: 0}", "hardware.count"),
    ("hardware: {preset: h100-sxm, memory: 0GB}", "hardware.memory"),
    ("hardware: {preset: h100-sxm, mfu: 0}", "hardware.mfu"),
    ("hardware: {preset: h100-sxm}\ntokens: 0", "tokens"),
])
def test_zero_where_meaningless(here, text, key):
    path = write("zero.yaml", "model: {preset: llama-2-70b}\ncontext: 4096\n" + text + "\n")
    problem = only(input_error(invoke(path)))
    assert problem.file == "zero.yaml" and problem.line in (3, 4)
    found_key, message = problem.key_and_message()
    assert found_key == key and "greater than 0" in message


@pytest.mark.parametrize("value", [".nan", ".NaN", "nan", "NaN", ".inf", "-.inf", "inf", "Infinity", "1e400"])
def test_nan_and_infinity_are_refused(here, value):
    result = invoke(write("nan.yaml", f"model: {{preset: llama-2-70b}}\ncontext: {value}\nhardware: {{preset: h100-sxm}}\n"))
    # YAML's and Python's spellings of NaN and infinity are not numbers in a scenario; 1e400 reads as one
    message = "must be a finite number, got '1e400'" if value == "1e400" else f"cannot read {value!r} as a whole number"
    expect(result, "nan.yaml", 2, "context", message)


@pytest.mark.parametrize("value", ["no", "yes", "true", "off"])
def test_yaml_boolean_where_a_number_is_needed(here, value):
    result = invoke(write("bool.yaml", "model: {preset: llama-2-70b}\ncontext: 4096\n"
                                       f"hardware: {{preset: h100-sxm, count: {value}}}\n"))
    expect(result, "bool.yaml", 3, "hardware.count", repr(value))


def test_number_where_a_boolean_is_needed(here):
    result = invoke(write("flag.yaml", VALID.replace("llama-2-70b}", "llama-2-70b, tied_embeddings: 2}")))
    expect(result, "flag.yaml", 1, "model.tied_embeddings", "true or false")


def test_unknown_choice_gets_did_you_mean(here):
    result = invoke(write("choice.yaml", VALID + "precision: {weights: bf61}\n"))
    expect(result, "choice.yaml", 4, "precision.weights", "'bf61'", hint="did you mean 'bf16'")


def test_fraction_above_one(here):
    result = invoke(write("mfu.yaml", VALID.replace("{preset: h100-sxm}", "{preset: h100-sxm, mfu: 1.5}")))
    expect(result, "mfu.yaml", 3, "hardware.mfu", "at most 1", hint="40%")
    result = invoke(write("pct.yaml", VALID.replace("{preset: h100-sxm}", "{preset: h100-sxm, mfu: 150%}")))
    expect(result, "pct.yaml", 3, "hardware.mfu", "at most 1")


def test_whole_number_required(here):
    result = invoke(write("half.yaml", VALID.replace("context: 4096", "context: 4096.5")))
    expect(result, "half.yaml", 2, "context", "whole number")


def test_too_large_to_compute_with(here):
    result = invoke(write("huge.yaml", VALID + "tokens: 1e300\n"), "--set", "hardware.count=1", "--format", "json")
    problem = only(input_error(result))
    assert problem.file == "huge.yaml" and problem.line == 4 and problem.key_and_message()[0] == "tokens"


# ---------------------------------------------------------------------------
# Keys checked against each other


def test_compute_precision_the_accelerator_has_no_peak_for(here):
    result = invoke(write("fp4.yaml", VALID + "precision:\n  compute: fp4\n"))
    problem = expect(result, "fp4.yaml", 5, "precision.compute", "fp4")
    assert "h100-sxm" in problem.rest and "bf16" in problem.rest  # names what it does list
    assert problem.hint and "peak_flops" in problem.hint


def test_test_time_larger_than_context(here):
    result = invoke(write("tt.yaml", VALID + "test_time: 8192\n"))
    expect(result, "tt.yaml", 4, "test_time", "(4,096 tokens); got 8,192", hint="raise context")


def test_kv_heads_must_divide_heads(here):
    result = invoke(write("kv.yaml", "model:\n  preset: llama-2-70b\n  kv_heads: 7\ncontext: 4096\n"
                                     "hardware: {preset: h100-sxm}\n"))
    expect(result, "kv.yaml", 3, "model.kv_heads", "divide")


def test_top_k_larger_than_experts(here):
    result = invoke(write("moe.yaml", "model:\n  preset: llama-2-70b\n  moe: {experts: 4, top_k: 8, "
                                      "expert_ffn_hidden: 1024}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"))
    expect(result, "moe.yaml", 3, "model.moe.top_k", "experts")


def test_active_params_larger_than_params(here):
    result = invoke(write("active.yaml", "model:\n  preset: llama-2-70b\n  params: 10B\n  active_params: 70B\n"
                                         "context: 4096\nhardware: {preset: h100-sxm}\n"), "--format", "json")
    expect(result, "active.yaml", 4, "model.active_params", "70B active parameters exceed the 10B total",
           hint="cannot exceed params")


def test_params_smaller_than_the_embeddings(here):
    result = invoke(write("tiny.yaml", "model:\n  preset: llama-2-70b\n  params: 1\ncontext: 1\n"
                                       "hardware: {preset: h100-sxm}\n"), "--format", "json")
    # Llama-2-70B's embedding and LM head: 2 x 32,000 x 8,192 = 524,288,000 parameters
    expect(result, "tiny.yaml", 3, "model.params", "1 is not more than this architecture's embedding matrices "
           "(524.3M)", hint="drop the key to derive it")


def test_conflict_with_a_preset_value_names_the_users_file(here):
    result = invoke(write("heads.yaml", "model:\n  preset: llama-2-70b\n  heads: 60\ncontext: 4096\n"
                                        "hardware: {preset: h100-sxm}\n"))
    problem = only(input_error(result))
    assert "divide" in problem.rest
    assert problem.file == "heads.yaml"


# ---------------------------------------------------------------------------
# Presets and files


def test_unknown_model_preset_gets_did_you_mean(here):
    result = invoke(write("preset.yaml", VALID.replace("llama-2-70b", "llama-2-7b")))
    expect(result, "preset.yaml", 1, "model.preset", "'llama-2-7b'", hint="did you mean 'llama-2-70b'")


def test_unknown_hardware_preset_gets_did_you_mean(here):
    result = invoke(write("preset.yaml", VALID.replace("h100-sxm", "h100")))
    expect(result, "preset.yaml", 3, "hardware.preset", "'h100'", hint="'h100-sxm'")


def test_missing_file(here):
    write("scenario.yaml", VALID)
    problem = only(input_error(invoke("scenaro.yaml")))
    assert problem.file == "scenaro.yaml" and problem.line is None
    assert "no such file" in problem.rest
    assert problem.hint and "did you mean 'scenario.yaml'" in problem.hint


def test_directory_given_as_a_file(here):
    Path("plans").mkdir()
    problem = only(input_error(invoke("plans")))
    assert problem.file == "plans" and "directory" in problem.rest
    assert problem.hint and "plans/*.yaml" in problem.hint


def test_extends_a_missing_file(here):
    write("base.yaml", VALID)
    result = invoke(write("child.yaml", "extends: bsae.yaml\n" + VALID))
    problem = expect(result, "child.yaml", 1, "extends", "'bsae.yaml'")
    assert "no such file" in problem.rest
    assert problem.hint and "base.yaml" in problem.hint


@pytest.mark.parametrize("files", [
    {"self.yaml": "extends: self.yaml\n" + VALID},
    {"a.yaml": "extends: b.yaml\n" + VALID, "b.yaml": "extends: a.yaml\ncontext: 8192\n"},
    {"a.yaml": "extends: b.yaml\n" + VALID, "b.yaml": "extends: c.yaml\n", "c.yaml": "extends: ./a.yaml\n"},
])
def test_extends_cycle(here, files):
    for name, text in files.items():
        write(name, text)
    problem = only(input_error(invoke(next(iter(files)))))
    assert problem.file in files and problem.line == 1
    key, message = problem.key_and_message()
    assert key == "extends" and "cycle" in message


def test_error_in_an_extended_base_names_the_base(here):
    write("base.yaml", "model: {preset: llama-2-70b}\ncontext: 12x\n")
    result = invoke(write("child.yaml", "extends: base.yaml\nhardware: {preset: h100-sxm}\n"))
    expect(result, "base.yaml", 2, "context", "'12x'")


def test_extends_works_when_the_base_is_good(here):
    write("base.yaml", VALID)
    result = invoke(write("child.yaml", "extends: base.yaml\ncontext: 2048\n"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["kv_cache"]["bytes_per_sequence"] == 2048 * 2 * 80 * 8 * 128 * 2


# ---------------------------------------------------------------------------
# --set


def test_set_without_equals(here):
    result = invoke(write("ok.yaml", VALID), "--set", "hardware.count")
    problem = only(input_error(result))
    assert problem.file.startswith("--set") and "hardware.count" in problem.file + problem.rest
    assert "KEY=VALUE" in problem.rest
    assert problem.hint and "--set hardware.count=4096" in problem.hint


@pytest.mark.parametrize("assignment", ["hardware.count", "=4096", "hardware..count=4"])
def test_malformed_set_uses_the_set_file_form(here, assignment):
    problem = only(input_error(invoke(write("ok.yaml", VALID), "--set", assignment)))
    assert problem.file == "--set" and problem.line is None


def test_set_of_an_unknown_key(here):
    result = invoke(write("ok.yaml", VALID), "--set", "hardware.cuont=8")
    expect(result, "--set", None, "hardware.cuont", "unknown key", hint="did you mean 'count'")


def test_set_of_an_unknown_section(here):
    result = invoke(write("ok.yaml", VALID), "--set", "hardwre.count=8")
    expect(result, "--set", None, "hardwre", "unknown key", hint="did you mean 'hardware'")


def test_set_of_a_bad_value(here):
    result = invoke(write("ok.yaml", VALID), "--set", "context=12x")
    expect(result, "--set", None, "context", "'12x'")


def test_set_error_comes_after_the_files_errors(here):
    result = invoke(write("bad.yaml", VALID + "contxt: 1\n"), "--set", "hardware.count=0")
    reported = input_error(result)
    assert [(p.file, p.line, p.key_and_message()[0]) for p in reported] == [
        ("bad.yaml", 4, "contxt"), ("--set", None, "hardware.count")]


def test_set_that_fixes_a_file_makes_it_run(here):
    result = invoke(write("nocontext.yaml", "model: {preset: llama-2-70b}\nhardware: {preset: h100-sxm}\n"),
                    "--set", "context=4096", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "nocontext"


# ---------------------------------------------------------------------------
# Several mistakes, several files


def test_every_mistake_in_a_file_is_reported_in_one_run(here):
    text = ("model:\n"
            "  preset: llama-2-70b\n"
            "  layrs: 80\n"          # 3 unknown key
            "context: 12x\n"         # 4 unreadable
            "tokens: -1T\n"          # 5 negative
            "hardware:\n"
            "  preset: h100-sxm\n"
            "  count: 0\n"           # 8 zero
            "  mfu: 1.5\n"           # 9 above 1
            "datacenter: {pue: .nan}\n"  # 10 NaN
            "foo: 1\n")              # 11 unknown
    reported = input_error(invoke(write("many.yaml", text)))
    located = [(p.file, p.line, p.key_and_message()[0]) for p in reported]
    assert located == [
        ("many.yaml", 3, "model.layrs"), ("many.yaml", 4, "context"), ("many.yaml", 5, "tokens"),
        ("many.yaml", 8, "hardware.count"), ("many.yaml", 9, "hardware.mfu"), ("many.yaml", 10, "datacenter.pue"),
        ("many.yaml", 11, "foo"),
    ]


def test_mistakes_in_several_files_are_all_reported_and_nothing_is_printed(here):
    write("ok.yaml", VALID)
    write("neg.yaml", VALID.replace("4096", "-4096"))
    reported = input_error(invoke("ok.yaml", "missing.yaml", "neg.yaml", "--format", "json"))
    assert {(p.file, p.line) for p in reported} == {("missing.yaml", None), ("neg.yaml", 2)}


def test_usage_errors_also_exit_2(here):
    write("ok.yaml", VALID)
    for args in (["ok.yaml", "--format", "xml"], [], ["ok.yaml", "--no-such-option"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------
# Standard input


def test_stdin_dash_reads_the_scenario(here):
    result = invoke("-", "--format", "json", stdin=VALID)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "stdin"
    assert data["model"]["params"] == pytest.approx(68.98e9, rel=1e-3)
    assert data["kv_cache"]["bytes_per_sequence"] == 4096 * 2 * 80 * 8 * 128 * 2


def test_stdin_errors_name_stdin(here):
    result = invoke("-", stdin="model: {preset: llama-2-70b}\ncontext: 12x\nhardware: {preset: h100-sxm}\n")
    expect(result, "<stdin>", 2, "context", "'12x'")


def test_stdin_syntax_error_names_stdin(here):
    problem = only(input_error(invoke("-", stdin="model: {preset: llama-2-70b\n")))
    assert problem.file == "<stdin>" and problem.line is not None and "YAML" in problem.rest


def test_empty_stdin_names_stdin(here):
    problem = only(input_error(invoke("-", stdin="")))
    assert problem.file == "<stdin>" and "empty" in problem.rest


# ---------------------------------------------------------------------------
# Inputs that crash the loader today (found by tests/test_loader_fuzz.py): exit 70, not 2


@pytest.mark.parametrize("text", [
    pytest.param('extends: "a\\0b.yaml"\n' + VALID, id="nul-in-extends"),
    pytest.param(VALID.replace("llama-2-70b", "x" * 300), id="overlong-preset"),
    pytest.param("model: " + "[" * 2000 + "]" * 2000 + "\n", id="deep-nesting"),
])
def test_hostile_input_is_an_input_error(here, text):
    reported = input_error(invoke(write("hostile.yaml", text)))
    assert reported[0].file == "hostile.yaml"


# ---------------------------------------------------------------------------
# The real entry points, in a subprocess


def _entry_points() -> dict[str, list[str]]:
    """The console script beside the interpreter running the tests (the .venv make test builds), else
    the one on PATH: found from the environment, never from a fixed path."""
    script = Path(sys.executable).with_name("qwenfeas")
    if not script.exists():
        found = shutil.which("qwenfeas")
        assert found, "no qwenfeas console script beside the interpreter or on PATH: pip install -e ."
        script = Path(found)
    return {"script": [str(script)], "module": [sys.executable, "-m", "qwenfeas"]}


def _run(command: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV}
    env.pop("QWENFEAS_DEBUG", None)
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("entry", ["script", "module"])
def test_subprocess_bad_file_exits_2_with_located_message(tmp_path, entry):
    (tmp_path / "bad.yaml").write_text(VALID + "hardware2: {count: 8}\n", encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(VALID, encoding="utf-8")
    proc = _run(_entry_points()[entry] + ["estimate", "ok.yaml", "bad.yaml", "--set", "context=12x"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    reported = parse_stderr(proc.stderr)
    located = [(p.file, p.line, p.key_and_message()[0]) for p in reported]
    assert ("bad.yaml", 4, "hardware2") in located
    assert ("--set", None, "context") in located
    assert next(p for p in reported if p.file == "bad.yaml").hint == "did you mean 'hardware'?"


@pytest.mark.parametrize("entry", ["script", "module"])
def test_subprocess_stdin(tmp_path, entry):
    command = _entry_points()[entry] + ["estimate", "-", "--format", "json"]
    ok = _run(command, tmp_path, stdin=VALID)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["model"]["active_params"] == pytest.approx(68.98e9, rel=1e-3)
    bad = _run(command, tmp_path, stdin="model: {preset: llama-2-70b}\ncontext: 4096\ncontext: 1\n")
    assert bad.returncode == 2 and bad.stdout == ""
    problem = only(parse_stderr(bad.stderr))
    assert (problem.file, problem.line) == ("<stdin>", 3) and "line 2" in problem.rest


def test_subprocess_missing_file_and_syntax_error(tmp_path):
    (tmp_path / "broken.yaml").write_text("model: [\n", encoding="utf-8")
    proc = _run(_entry_points()["script"] + ["estimate", "broken.yaml", "absent.yaml"], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    reported = parse_stderr(proc.stderr)
    assert [p.file for p in reported] == ["broken.yaml", "absent.yaml"]
    assert reported[0].line is not None and "YAML" in reported[0].rest
    assert "no such file" in reported[1].rest
