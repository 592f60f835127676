"""Vectorised column formatting (qwenfeas.output.textformat) against Python's own formatting, csv and json."""

import csv
import io
import json

import numpy as np
import pytest

from qwenfeas.output import textformat
from qwenfeas.output.textformat import format_column, format_numbers, join_rows


def texts(matrix: np.ndarray) -> list[str]:
    """The rows of a zero-padded matrix as strings, checking that zeros only pad the right."""
    assert matrix.dtype == np.uint8 and matrix.ndim == 2
    rows = [bytes(row).rstrip(b"\0") for row in matrix]
    assert all(b"\0" not in row for row in rows), "zero byte inside a text"
    if rows:
        assert max(map(len, rows)) == matrix.shape[1], "matrix wider than its longest text"
    return [row.decode() for row in rows]


def g15(values) -> list[str]:
    """Python's formatting, the reference."""
    return ["%.15g" % v for v in values]  # noqa: UP031


EDGE = [
    1000.0, 0.1, 1.5e-07, 1.23e24, -2.5, 0.0, 123456789012345.0, 1e15, 0.0001, 0.00001, 1e-5, 1e-4,
    0.5, 9.9999999999999995, 999999999999999.9, 99999999999999.99, 9999999999999999.0, 2.0**53, 2.0**53 + 2,
    -(2.0**53), 1.0, -1.0, 10.0, 100.0, 0.001, 0.01, 0.00012345, 0.000099999999999999991, 0.1 + 0.2, 1 / 3,
    -1 / 3, 2 / 3, 123456.789, -0.000123, 1e14, 1e14 + 1, 1e16, 1e22, 1e23, 9.999999999999999e22, 1e100,
    1.7976931348623157e308, -1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -5e-324, 1e-320,
    1000000000000005.0,  # an exact tie in the 16th digit (scale 10**-1): half to even
    1000000000000015.0, 10000000000000050.0, 10000000000000150.0,  # more exact ties (10**-1, 10**-2)
    100000000000000.5, 100000000000001.5, 0.1000000000000005, 1.0000000000000050, 2.5e-5, 3.14159265358979,
    -123e-7, 6.02214076e23, 1.602176634e-19, 299792458.0, 4.2e15, 4.25e-5, 1e-4 * (1 - 2**-52),
]
EDGE += [10.0**k for k in range(-300, 301)]
EDGE += [-(10.0**k) for k in range(-300, 301, 7)]
EDGE += [float(f"1e{k}") for k in range(-323, 309)]  # correctly rounded powers of ten
EDGE += [np.nextafter(float(f"1e{k}"), d) for k in range(-300, 301, 3) for d in (0, np.inf)]


def test_edge_values_match_percent_g():
    assert texts(format_numbers(np.array(EDGE))) == g15(EDGE)


@pytest.mark.parametrize(
    "value, text",
    [(1000.0, "1000"), (0.1, "0.1"), (1.5e-07, "1.5e-07"), (1.23e24, "1.23e+24"), (-2.5, "-2.5"), (0.0, "0"),
     (123456789012345.0, "123456789012345"), (1e15, "1e+15"), (0.0001, "0.0001"), (0.00001, "1e-05"),
     (999999999999999.9, "1e+15"), (1e300, "1e+300"), (1e-300, "1e-300"), (-0.0, "-0"),
     (5e-324, "4.94065645841247e-324"), (1000000000000005.0, "1e+15"), (1000000000000015.0, "1.00000000000002e+15")],
)
def test_examples(value, text):
    assert texts(format_numbers(np.array([value]))) == [text]


def test_random_values_over_many_decades():
    rng = np.random.default_rng(20240607)
    n = 20_000
    x = 10.0 ** rng.uniform(-300, 300, n) * rng.choice([-1.0, 1.0], n)
    x[::50] = np.round(x[::50], 3)  # some values with few digits
    # deterministic data, so every text must be %.15g's (no share of mismatches is allowed)
    assert texts(format_numbers(x)) == g15(x.tolist())


def test_random_bit_patterns():
    """Any finite double, subnormals included."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**64, 20_000, dtype=np.uint64).view(np.float64)
    x = x[np.isfinite(x)]
    assert texts(format_numbers(x)) == g15(x.tolist())


@pytest.mark.parametrize("exponent", [-30, -17, -10, -3, 0, 1, 2, 3, 8, 20, 290])
def test_half_way_cases(exponent):
    """16-digit decimals ending in 5 (exact ties where representable), and their neighbouring doubles."""
    rng = np.random.default_rng(exponent + 1000)
    values = [float(f"{i}5e{exponent}") for i in rng.integers(10**14, 10**15, 2000).tolist()]
    x = np.array(values)
    x = np.concatenate([x, np.nextafter(x, 0), np.nextafter(x, np.inf)])
    assert texts(format_numbers(x)) == g15(x.tolist())


def test_shape_and_padding():
    m = format_numbers(np.array([1.0, -2.5, 1.5e-07]))
    assert m.shape == (3, 7) and m.dtype == np.uint8
    assert bytes(m[0]) == b"1\0\0\0\0\0\0"
    assert format_numbers(np.array([], dtype=float)).shape[0] == 0


def test_blocks(monkeypatch):
    """Values are formatted (and rows joined) in blocks of CHUNK: blocks change nothing."""
    x = np.array(EDGE[:200])
    whole = texts(format_numbers(x))
    text = join_rows([format_numbers(x), format_numbers(-x)])
    monkeypatch.setattr(textformat, "CHUNK", 7)
    assert texts(format_numbers(x)) == whole
    assert join_rows([format_numbers(x), format_numbers(-x)]) == text


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rejected(bad):
    with pytest.raises(ValueError):
        format_numbers(np.array([1.0, bad]))


def test_not_one_dimensional():
    with pytest.raises(ValueError):
        format_numbers(np.ones((2, 2)))
    with pytest.raises(ValueError):
        format_column(np.ones((2, 2)))


def test_numeric_columns():
    assert texts(format_column(np.array([0.25, 3.0]))) == ["0.25", "3"]
    assert texts(format_column(np.array([1, -20, 300]))) == ["1", "-20", "300"]
    assert texts(format_column(np.array([0.1], dtype=np.float32))) == g15([float(np.float32(0.1))])
    assert texts(format_column([1.5, 2.0])) == ["1.5", "2"]


def test_bool_column():
    assert texts(format_column(np.array([True, False, True]))) == ["true", "false", "true"]
    assert texts(format_column(np.array([True, False])[::-1], quote="json")) == ["false", "true"]


STRINGS = ["plain", "with, comma", 'with "quotes"', "new\nline", "carriage\rreturn", "", " spaced ", "ünïcode",
           'both, "all"\n', "tab\there", "back\\slash", "nul-free ∑"]


def test_string_column_csv_matches_csv_module():
    values = np.array(STRINGS * 3)
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes fields with "\r" too, as its line terminator is "\r\n"
    for value in STRINGS:
        writer.writerow([value, "x"])  # with a second field: csv quotes a lone empty field
    got = [bytes(row).rstrip(b"\0") for row in format_column(values)]
    assert b"".join(field + b",x\r\n" for field in got[: len(STRINGS)]) == buffer.getvalue().encode()
    assert got[len(STRINGS) :] == got[: len(STRINGS)] * 2


def test_string_column_json_matches_json_dumps():
    values = np.array(STRINGS + ["\0 nul", "\x1f control", "\u2028"], dtype=object)
    got = [bytes(row).rstrip(b"\0").decode() for row in format_column(values, quote="json")]
    assert got == [json.dumps(v) for v in values]


def test_string_column_kinds():
    for values in (np.array(["b", "a", "b"]), np.array(["b", "a", "b"], dtype=object), np.array([b"b", b"a", b"b"])):
        assert texts(format_column(values)) == ["b", "a", "b"]


def test_many_distinct_strings():
    """Past a few distinct values, the rest are found with np.unique."""
    rng = np.random.default_rng(3)
    values = np.array([f"name {i}, {i % 7}" for i in rng.integers(0, 500, 3000)])
    assert texts(format_column(values)) == [f'"{v}"' for v in values]
    assert texts(format_column(values, quote="json")) == [json.dumps(str(v)) for v in values]


def test_constant_broadcast_column():
    column = format_column(np.broadcast_to(np.array(2.5), (4,)))
    assert column.shape == (4, 3) and texts(column) == ["2.5"] * 4
    assert texts(format_column(np.full(3, "h100"))) == ["h100"] * 3


def test_column_errors():
    with pytest.raises(ValueError):
        format_column(np.array(["a,b"]), quote="tsv")
    with pytest.raises(ValueError):
        format_column(np.array(["nul\0byte"]))
    with pytest.raises(TypeError):
        format_column(np.array([1 + 2j]))


def test_join_rows_csv_matches_csv_module():
    names = np.array(["h100", "a100, 80GB", 'b200 "x"', "multi\nline"])
    numbers = np.array([1000.0, 0.1, -1.5e-07, 1.23e24])
    flags = np.array([True, False, True, False])
    text = join_rows([format_column(names), format_column(numbers), format_column(flags)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for name, number, flag in zip(names, numbers, flags, strict=True):
        writer.writerow([name, *g15([number]), "true" if flag else "false"])
    assert text == buffer.getvalue().encode()
    rows = list(csv.reader(io.StringIO(text.decode())))
    assert [float(r[1]) for r in rows] == numbers.tolist()


def test_join_rows_json_lines_match_json_dumps():
    keys = ["context", "training.seconds", "feasible", "binding"]
    context = np.array([4096.0, 32768.0, 131072.0])
    seconds = np.array([1.5e7, 0.25, 123456.789])
    feasible = np.array([True, False, True])
    binding = np.array(['memory "hbm"', "power\\cap", "ok"])
    prefixes = [b"{" + json.dumps(keys[0]).encode() + b": "] + [b", " + json.dumps(k).encode() + b": "
                                                                 for k in keys[1:]]
    columns = [format_column(c, quote="json") for c in (context, seconds, feasible, binding)]
    text = join_rows(columns, prefixes=prefixes, suffix=b"}\n")
    lines = text.decode().splitlines()
    rows = [dict(zip(keys, values, strict=True)) for values in zip(context.tolist(), seconds.tolist(),
                                                                      feasible.tolist(), binding.tolist(),
                                                                      strict=True)]
    assert [json.loads(line) for line in lines] == rows
    # json.dumps writes floats with repr (4096.0); with '%.15g' numbers the text is otherwise identical
    expected = [json.dumps({k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in row.items()})
                for row in rows]
    assert lines == expected


def test_join_rows_separator_and_broadcast_columns():
    a = format_column(np.array([1.0, 2.0]))
    b = format_column(np.broadcast_to(np.array("x"), (2,)))
    assert join_rows([a, b], separator=b"\t") == b"1\tx\n2\tx\n"
    assert join_rows([a], suffix=b";") == b"1;2;"
    assert join_rows([format_numbers(np.array([]))]) == b""


def test_join_rows_errors():
    a = format_column(np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        join_rows([])
    with pytest.raises(ValueError):
        join_rows([a, format_column(np.array([1.0]))])
    with pytest.raises(ValueError):
        join_rows([a, a], prefixes=[b"{"])
    with pytest.raises(ValueError):
        join_rows([a, a], separator=b"\0")
