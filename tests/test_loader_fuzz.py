"""Property tests: whatever a scenario file or a value holds, only QwenfeasError escapes.

The loader's contract (SCENARIO.md, errors.py) is that every mistake in the input is
reported as a `QwenfeasError` naming the file; anything else reaching the command line
is shown as an internal error (exit 70). These tests throw random text, YAML-shaped
text and structured documents built from the real key table at `scenario.load` (and
`report.estimate` when loading succeeds), and random text at `units.parse_quantity`.

Magnitudes run past the float range (1e400) and past the bounds of units.py. Nesting is
kept shallow and path-like values are drawn from fixed lists on purpose: the deep-nesting
and path failures found while writing these tests are kept as explicit regression
tests at the end of this file.
"""

from __future__ import annotations

import math
import string

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from qwenfeas.errors import QwenfeasError
from qwenfeas.estimates import estimate
from qwenfeas.report import Report
from qwenfeas.scenario import Scenario, catalogue, load
from qwenfeas.scenario.fields import PRECISIONS, SCENARIO, Field, all_keys
from qwenfeas.scenario.units import KIND_HELP, _units, parse_quantity

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

VALID = {
    "model": {"preset": "llama-2-70b"},
    "context": 4096,
    "hardware": {"preset": "h100-sxm"},
}
VALID_TEXT = "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"


# ---------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder for the fuzzed files, with a valid base scenario for `extends:`."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "base.yaml").write_text(VALID_TEXT, encoding="utf-8")
    (folder / "broken-base.yaml").write_text("context: 12x\n", encoding="utf-8")
    (folder / "sub").mkdir()
    return folder


def _lines(text: str) -> int:
    return len(text.splitlines())


def check_load(path, text: str, overrides=()) -> None:
    """Load (and estimate) `path`; only QwenfeasError may escape, and it must be well formed."""
    try:
        scenario = load(path, list(overrides))
    except QwenfeasError as error:
        event("rejected by load")
        check_error(error, str(path), text)
        return
    event("loaded and estimated")
    assert isinstance(scenario, Scenario)
    assert scenario.file == str(path)
    assert scenario.name
    try:
        report = estimate(scenario)
    except QwenfeasError as error:  # allowed by the contract, though estimate does not raise it today
        check_error(error, str(path), text)
        return
    assert isinstance(report, Report)
    assert report.metrics, "a successful estimate has metrics"
    for name in ("model.params", "model.active_params", "kv_cache.bytes_per_token", "memory.weights_bytes",
                 "power.facility_watts"):
        value = report[name]
        assert isinstance(value, float | int) and not isinstance(value, bool), (name, value)
        assert value > 0, (name, value)
    numbers = {name: value for name, value in report.values().items()
               if isinstance(value, float | int) and not isinstance(value, bool)}
    assert all(math.isfinite(value) for value in numbers.values()), numbers
    # A given model.params / model.active_params smaller than the embedding matrix still yields
    # negative outputs (see test_given_parameter_counts_never_make_outputs_negative), so the
    # sign of every output is only checked when both counts are derived from the architecture.
    if "model.params" not in scenario and "model.active_params" not in scenario:
        negative = {name: value for name, value in numbers.items() if value < 0}
        assert not negative, negative


def check_error(error: QwenfeasError, label: str, text: str) -> None:
    """Every problem has a message and names a file (or is a --set problem); lines are plausible."""
    assert error.problems, "a QwenfeasError carries at least one problem"
    rendered = str(error)
    assert rendered.strip()
    assert "Traceback" not in rendered
    for problem in error.problems:
        assert problem.message and problem.message.strip(), problem
        assert problem.file or problem.message.startswith("--set"), f"problem names no file: {problem}"
        if problem.line is not None:
            assert isinstance(problem.line, int) and problem.line >= 1, problem
            if problem.file == label:
                assert problem.line <= _lines(text) + 1, (problem, _lines(text))
        if problem.key is not None:
            assert isinstance(problem.key, str), problem
        assert str(problem).splitlines()[0] in rendered


def deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------
# Strategies

# Every unit spelling of every kind, plus junk that looks like a unit.
UNIT_SPELLINGS = sorted({unit for kind in KIND_HELP for unit in _units(kind)}) + [
    "x", "%", "$", "$/h", "kg/kWh", "GB/s", "TFLOP/s", "bn", "USD", " ", "e", "K K", "/", "Wh", "ms",
]
JUNK_KEYS = ["layrs", "contxt", "hardwre", "count", "layers", "preset", "peak", "x", "", "<<", "1", "model.layers"]
PRESETS = catalogue.preset_names("model.preset") + catalogue.preset_names("hardware.preset")

small_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
mantissa = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-9, 9), st.integers(-400, 400)),
    st.decimals(-10**6, 10**6, places=3, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "-0", ".5", "1.", "1_000", "7e10", "1e-3", "2.5E3", "+4", "00017", "0x1F", "1e", "--1"]),
)
number_with_unit = st.builds(
    lambda number, space, unit, dollar: f"{dollar}{number}{space}{unit}",
    mantissa, st.sampled_from(["", " ", "  "]), st.sampled_from(UNIT_SPELLINGS), st.sampled_from(["", "", "$"]),
)
plain_scalar = st.one_of(
    st.integers(-10**12, 10**12),
    st.integers(),
    st.floats(),
    number_with_unit,
    st.booleans(),
    st.none(),
    st.sampled_from(["yes", "no", "on", "off", "~", "null", ".nan", ".inf", "-.inf", "nan", "12:30", "017", "0o17",
                     "true", "False", "", " ", "40%", "1.2 kW", "3.35TB/s", "$52B", "90d", "0.4 kg/kWh"]),
    small_text,
)
scalar = st.one_of(
    plain_scalar,
    st.lists(plain_scalar, max_size=3),
    st.lists(st.lists(plain_scalar, max_size=2), max_size=2),
    st.dictionaries(st.sampled_from(JUNK_KEYS), plain_scalar, max_size=2),
)


def _value_for(key, entry, depth: int):
    """A value for `key`: mostly plausible for its field, sometimes anything."""
    if isinstance(entry, dict):
        return st.one_of(section(entry, depth + 1), scalar) if depth < 3 else scalar
    if key == "preset":
        specific = st.one_of(st.sampled_from(PRESETS), st.sampled_from(["llama-2-7b", "h100", "H100-SXM", ""]))
    elif key == "extends":
        specific = st.sampled_from(["base.yaml", "broken-base.yaml", "missing.yaml", "scenario.yaml", "sub", "",
                                    ".", "./base.yaml", "sub/../base.yaml"])
    elif isinstance(entry, Field) and entry.kind == "choice":
        specific = st.one_of(st.sampled_from(entry.choices), st.sampled_from(entry.choices).map(str.upper),
                             st.sampled_from(["flash", "bf32", "int2", "partial", ""]))
    elif isinstance(entry, Field) and entry.kind == "bool":
        specific = st.sampled_from(["true", "false", "yes", "no", "On", "1", "0", "maybe"])
    elif isinstance(entry, Field) and entry.per_precision:
        specific = st.dictionaries(st.sampled_from(PRECISIONS + ("fp9",)), st.one_of(number_with_unit, scalar),
                                   max_size=3)
    else:
        specific = number_with_unit
    return st.one_of(specific, specific, scalar)


def section(table: dict, depth: int = 0):
    """A mapping of real keys of `table` (and junk keys) to values fit for each."""
    names = st.one_of(st.sampled_from(sorted(table)), st.sampled_from(sorted(table)), st.sampled_from(JUNK_KEYS),
                      st.text(string.ascii_lowercase + "_.", max_size=8))
    return st.lists(names, unique=True, max_size=6).flatmap(
        lambda keys: st.fixed_dictionaries({key: _value_for(key, table.get(key), depth) for key in keys})
    )


PLAUSIBLE_UNITS = {
    "count": ["", "K", "M", "B"], "integer": ["", "K"], "bytes": ["GB", "GiB", "TB"], "byte_rate": ["TB/s", "GB/s"],
    "flop_rate": ["T", "TFLOP/s", "P"], "power": ["W", "kW"], "usd_per_hour": ["$/h"], "usd_per_kwh": ["$/kWh"],
    "carbon": ["kg/kWh", "g/kWh"], "fraction": ["", "%"], "ratio": [""], "number": [""],
}


def _plausible(spec):
    """A value of the right kind, of a sensible size: these documents often load, so estimate runs."""
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "text":
        return small_text
    if spec.kind == "fraction":
        return st.one_of(st.floats(0.01, 1.0), st.integers(1, 100).map(lambda n: f"{n}%"))
    if spec.kind == "ratio":
        return st.floats(1.0, 3.0)
    units = PLAUSIBLE_UNITS.get(spec.kind, [""])
    return st.builds(lambda n, u: f"{n}{u}", st.integers(1, 5000), st.sampled_from(units))


def _nest(flat: dict) -> dict:
    out: dict = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


PLAIN_KEYS = {k: f for k, f in all_keys().items() if k not in ("extends", "model.preset", "hardware.preset")}
plausible = st.lists(st.sampled_from(sorted(PLAIN_KEYS)), unique=True, max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({k: _plausible(PLAIN_KEYS[k]) for k in keys})
).map(_nest)

documents = st.one_of(
    section(SCENARIO),
    section(SCENARIO).map(lambda top: deep_merge(VALID, top)),
    plausible.map(lambda top: deep_merge(VALID, top)),
    plausible.map(lambda top: deep_merge(VALID, top)),
    st.tuples(plausible, section(SCENARIO)).map(lambda pair: deep_merge(deep_merge(VALID, pair[0]), pair[1])),
    scalar,
)

override_keys = st.one_of(st.sampled_from(sorted(all_keys())), st.sampled_from(JUNK_KEYS + ["model", "a..b", "."]))
overrides = st.lists(
    st.one_of(
        st.builds(lambda k, v: f"{k}={v}", override_keys, st.one_of(number_with_unit, small_text)),
        small_text,
    ),
    max_size=3,
)

YAML_TOKENS = [
    "model", "hardware", "context", "tokens", "test_time", "precision", "datacenter", "preset", "layers",
    "count", "extends", "moe", "attention", "kv_heads", "peak_flops", ":", ": ", "-", "- ", "{", "}", "[", "]",
    ",", "&a", "*a", "<<", "---", "...", "? ", "!!float", "!!binary", "!!python/object:os.system", "#",
    "'", '"', "|", ">", "\n", "\n  ", "\n    ", "\t", " ", "llama-2-70b", "h100-sxm", "128K", "12x", ".nan",
    "no", "~", "%", "@", "`", "\\", "\x00", "\ufeff", "\u2028", "\r", "é",
]
yamlish_text = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), small_text), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


# ---------------------------------------------------------------------------
# (a) the loader


@FUZZ
@given(text=st.one_of(any_text, yamlish_text, yamlish_text.map(lambda t: VALID_TEXT + t)))
@example(text="")
@example(text=VALID_TEXT)
@example(text="model: {preset: llama-2-70b\n")
@example(text="- a\n- b\n")
@example(text="a: &x [*x]\n")
@example(text="model: &m {preset: deepseek-v3, attention: *m}\ncontext: 4096\nhardware: {preset: h100-sxm}\n")
@example(text="model: {preset: llama-2-70b}\ncontext: 4096\nhardware: &h {preset: h100-sxm, peak_flops: *h}\n")
@example(text="a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\nmodel: [*d, *d]\n")
@example(text=VALID_TEXT + "model: {}\n")
def test_random_text_loads_or_raises_qwenfeas_error(workdir, text):
    path = workdir / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    check_load(path, text)


@FUZZ
@given(data=st.binary(max_size=120))
@example(data=b"\xff\xfe\x00m")
@example(data=VALID_TEXT.encode("utf-16"))
def test_random_bytes_load_or_raise_qwenfeas_error(workdir, data):
    path = workdir / "scenario.yaml"
    path.write_bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(QwenfeasError) as caught:
            load(path)
        assert "UTF-8" in str(caught.value)
        assert caught.value.problems[0].file == str(path)
        return
    check_load(path, text)


@FUZZ
@given(document=documents, style=st.sampled_from([None, False, True]), sets=st.one_of(st.just([]), overrides))
@example(document=VALID, style=False, sets=[])
@example(document=deep_merge(VALID, {"hardware": {"count": 0}}), style=None, sets=[])
@example(document=deep_merge(VALID, {"extends": "scenario.yaml"}), style=None, sets=[])
@example(document=deep_merge(VALID, {"precision": {"compute": "fp4"}}), style=None, sets=["hardware.mfu=2"])
def test_structured_documents_load_or_raise_qwenfeas_error(workdir, document, style, sets):
    try:
        text = yaml.safe_dump(document, default_flow_style=style, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        assume(False)
    path = workdir / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    check_load(path, text, sets)


def test_the_structured_strategy_reaches_estimate(workdir):
    """Guard against a strategy that never produces a loadable scenario (a vacuous fuzz)."""
    loaded = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(top=section(SCENARIO))
    def probe(top):
        path = workdir / "probe.yaml"
        path.write_text(yaml.safe_dump(deep_merge(VALID, top), sort_keys=False), encoding="utf-8")
        try:
            estimate(load(path))
        except QwenfeasError:
            return
        loaded.append(path)

    probe()
    assert loaded, "no generated document ever loaded; the fuzz would only test error paths"


# ---------------------------------------------------------------------------
# (b) the unit grammar


@pytest.mark.parametrize("kind", sorted(KIND_HELP))
@settings(max_examples=200, deadline=None)
@given(text=st.one_of(
    st.text(max_size=30),
    number_with_unit,
    st.builds(lambda a, b: a + b, number_with_unit, st.text(max_size=5)),
    st.sampled_from(["1e400", "9" * 400, "-1e400", "1e308T", ".nan", "nan", "inf", "Infinity", "\u0663K", "1__2",
                     "$", "$$1", "1 $/kWh", "1 %", "40%", "0.4 kg CO2e/kWh", "3.35 TB / s", "", " ", "\x00"]),
))
def test_parse_quantity_returns_a_finite_float_or_raises_value_error(kind, text):
    try:
        value = parse_quantity(text, kind)
    except ValueError as exc:
        assert str(exc), "the message is the user's only clue"
        return
    assert isinstance(value, float)
    assert math.isfinite(value)
    if kind == "integer":
        assert value == round(value)


@pytest.mark.parametrize("kind", sorted(KIND_HELP))
@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.floats(), st.integers(), st.integers(-10**400, 10**400), st.booleans(), st.none()))
@example(value=10**400)
@example(value=-(10**400))
def test_parse_quantity_of_python_numbers_is_finite_or_value_error(kind, value):
    """YAML numbers may arrive as int/float (units.py docstring): same contract, no unit factor applied."""
    try:
        result = parse_quantity(value, kind)
    except ValueError as exc:
        assert str(exc)
        return
    assert value is not None and not isinstance(value, bool), "None and booleans are never numbers"
    assert isinstance(result, float) and math.isfinite(result)
    if kind == "integer":
        assert result == round(value)
    else:
        assert result == float(value)


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("70B", "count", 70e9), ("128K", "integer", 128_000), ("192GiB", "bytes", 192 * 2**30),
    ("3.35TB/s", "byte_rate", 3.35e12), ("989 TFLOP/s", "flop_rate", 989e12), ("1.2 kW", "power", 1200),
    ("$52B", "money", 52e9), ("2.5 $/h", "usd_per_hour", 2.5), ("$80/MWh", "usd_per_kwh", 0.08),
    ("400 g/kWh", "carbon", 0.4), ("3y", "duration", 3 * 365.25 * 86400), ("40%", "fraction", 0.4),
])
def test_parse_quantity_reads_the_documented_examples(text, kind, expected):
    """The fuzz above only checks types; this pins that the grammar of SCENARIO.md is read right."""
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------
# Regressions found by fuzzing. The overflow ones failed (OverflowError, ZeroDivisionError, a JSON
# ValueError) before the magnitude bounds of units.py and estimates._check_finite; the others before
# the depth limit, path checks and count checks of source.py, load.py and catalogue.py. Each now has
# one outcome: the input error named (file, line, key, message), or a load with finite outputs.


def _input_error(tmp_path, text: str):
    """The first problem loading `text` reports (every mistake is reported); all must name the file."""
    path = tmp_path / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QwenfeasError) as caught:
        estimate(load(path))
    problems = caught.value.problems
    assert problems and all(problem.file == str(path) for problem in problems)
    return problems[0]


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    # math.ceil(inf) in formulas.memory.accelerators_to_hold used to raise OverflowError
    ("model: {preset: llama-2-70b, layers: 1e300}\ncontext: 4096\nhardware: {preset: h100-sxm}\n",
     1, "model.layers", "'1e300' is outside the range qwenfeas computes with"),
    ("model: {preset: llama-2-70b, layers: 1e300}\ncontext: 1e300\ntokens: 1e300\n"
     "hardware: {preset: h100-sxm, count: 1e300}\n", 1, "model.layers", "outside the range"),
    # n x peak overflowed to inf, decode time became 0 and report._inference divided 1.0 by it
    ("model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm, peak_flops: 1e300, "
     "bandwidth: 1e300 B/s}\ninference: {accelerators: 1e300}\n", 3, "hardware.peak_flops", "outside the range"),
    # the product of finite inputs was inf, and render.to_json refused it
    ("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 1e300\nhardware: {preset: h100-sxm, count: 1}\n",
     3, "tokens", "outside the range"),
    # the largest values the unit bounds let through: a whole number must stay exact in a double
    ("model: {preset: llama-2-70b, params: 1e30, layers: 1e30, hidden: 1e30, vocab: 1e30}\ncontext: 1e30\n"
     "tokens: 1e30\nhardware: {preset: h100-sxm, count: 1e30, memory: 1e-30, peak_flops: 1e30, "
     "bandwidth: 1e30 B/s, mfu: 1e-30, tdp: 1e30}\ninference: {accelerators: 1e30}\n",
     1, "model.layers", "too large to be held as an exact whole number (limit 2^53)"),
])
def test_extreme_values_are_input_errors(tmp_path, text, line, key, message):
    problem = _input_error(tmp_path, text)
    assert (problem.line, problem.key) == (line, key)
    assert message in problem.message


def test_the_smallest_values_the_bounds_let_through_still_compute(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 1e-30\nhardware: {preset: h100-sxm, "
                    "count: 1, memory: 1e30, peak_flops: 1e-30, bandwidth: 1e-30 B/s, tdp: 1e-30, mfu: 1e-30}\n"
                    "datacenter: {gpu_hour: 1e-30, electricity: 1e-30, carbon: 1e-30, overhead: 1e-30}\n",
                    encoding="utf-8")
    report = estimate(load(path))
    floats = [value for value in report.values().values() if isinstance(value, float)]
    assert floats and all(math.isfinite(value) for value in floats)
    # 6ND with D = 1e-30 tokens at 1e-30 FLOP/s and 1e-30 MFU: 6 x 68,714,504,192 x 1e-30 / 1e-60 s
    assert report["training.flops"] == pytest.approx(6 * 68_714_504_192 * 1e-30, rel=1e-12)


@pytest.mark.parametrize("text", [
    "model: " + "[" * 3000 + "]" * 3000 + "\n",
    "model: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
])
def test_deeply_nested_document_is_a_qwenfeas_error(tmp_path, text):
    problem = _input_error(tmp_path, text)
    assert problem.line == 1 and "exceeded maximum nesting depth" in problem.message


def test_nul_byte_in_extends_is_a_qwenfeas_error(tmp_path):
    problem = _input_error(tmp_path, 'extends: "a\\0b.yaml"\n' + VALID_TEXT)
    assert (problem.line, problem.key) == (1, "extends")
    assert "is not a usable file path" in problem.message


def test_overlong_preset_name_is_a_qwenfeas_error(tmp_path):
    problem = _input_error(tmp_path, VALID_TEXT.replace("llama-2-70b", "a" * 300))
    assert problem.key == "model.preset" and problem.message.startswith("unknown preset 'aaaa")
    assert "…" in str(problem).splitlines()[0]  # the name is cut when printed, not echoed whole


@pytest.mark.parametrize(("model", "key", "message"), [
    ("{preset: llama-2-70b, params: 1}", "model.params", "1 is not more than"),
    ("{preset: llama-2-70b, active_params: 100M}", "model.active_params", "100M is not more than"),
    ("{preset: deepseek-v3, active_params: 574}", "model.active_params", "574 is not more than"),
])
def test_given_parameter_counts_below_the_embeddings_are_refused(tmp_path, model, key, message):
    """Counts that would have made outputs negative (params less the embedding matrices)."""
    problem = _input_error(tmp_path, f"model: {model}\ncontext: 1\ntokens: 1T\nhardware: {{preset: h100-sxm, count: 8}}\n")
    assert (problem.line, problem.key) == (1, key)
    assert problem.message.startswith(message) and "embedding matrices" in problem.message
