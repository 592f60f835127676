"""Vectorised text formatting of numpy columns, for streaming sweep output (CSV and JSON Lines).

A sweep writes millions of rows. Formatting each number with Python (`'%.15g' % value`, `repr`) costs
about half a microsecond per value on a slow machine, which makes Python float formatting, not the
estimates, the bottleneck. This module formats whole columns with numpy instead:

* `format_numbers` turns float64 values into the exact text of `'%.15g' % value`, as a matrix of ASCII
  bytes (one row per value, padded on the right with zero bytes);
* `format_column` does the same for bool columns (`true` / `false`) and text columns (quoted for CSV, or
  as JSON string literals), formatting each distinct string once;
* `join_rows` lays the matrices of several columns side by side with separators (or JSON keys), then
  drops the zero padding with a single boolean compress, giving the bytes of all rows.

How numbers are formatted: the decimal exponent comes from the binary exponent and a table of powers of
ten; the 15-digit integer mantissa is the value times a power of ten, computed as an exact product with a
double-double power of ten (Dekker's two-product), then rounded half to even; a rounding carry to 16
digits is fixed by a second pass over those values only. Digits come four at a time from a 10,000-entry
table, and a per-(sign, exponent, digit count) template of byte indices lays them out as `%g` does.
Values are processed in blocks of `CHUNK` to stay in cache.

Known deviation from `'%.15g'`: none found (the tests, and millions of random doubles, decimals and
half-way cases, match exactly). Exact ties in the 16th digit are rounded half to even exactly, but the
remainder after the 15th digit is otherwise known only to about 1e-16 of a unit, so a value within that
of a half (where 10**s is not exact) could in principle be rounded the other way: one unit in the 15th
digit, so `float(text)` is always within 1e-14 relative of the value. -0.0 is written "-0", as Python does.
"""

from __future__ import annotations

import functools
import json
import math
from fractions import Fraction

import numpy as np

__all__ = ["format_numbers", "format_column", "join_rows", "CHUNK"]

CHUNK = 16384  # values formatted per block: keeps the intermediate arrays in cache

_DIGITS = 15
_EMIN, _EMAX = -325, 309  # decimal exponents that can occur (-324 to 308), with a margin of one
_SMIN, _SMAX = 14 - _EMAX - 1, 14 - _EMIN + 1  # scale exponents s in: mantissa = value * 10**s
_NE = _EMAX - _EMIN + 1
# Each row of the work buffer: 16 digit bytes ("0" and the 15 mantissa digits), then these 16 constants.
_CONSTANTS = b"\0-.e+0123456789\0"
_C = {chr(c): 16 + i for i, c in enumerate(_CONSTANTS[:15])}
_NUL = _C["\0"]
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp splitting of a double into two 26-bit halves
_TINY = 2.0**-1022


@functools.cache
def _power_table() -> tuple[np.ndarray, ...]:
    """10**s (times a power of two keeping extremes in range) as double-double, for s in [_SMIN, _SMAX].

    Columns: scale of the value (exact power of two), hi, hi's high and low halves, lo.
    """
    rows = []
    for s in range(_SMIN, _SMAX + 1):
        shift = 600 if s < -150 else -600 if s > 200 else 0  # value * 2**-shift, power * 2**shift
        exact = Fraction(10) ** s * Fraction(2) ** shift
        hi = float(exact)
        lo = float(exact - Fraction(hi))
        c = _SPLIT * hi
        hh = c - (c - hi)
        rows.append((2.0**-shift, hi, hh, hi - hh, lo))
    return tuple(np.ascontiguousarray(col) for col in np.array(rows).T)


def _power_of_ten_above(k: int) -> float:
    """The smallest double >= 10**k (inf past the largest double)."""
    nearest = float(f"1e{k}")
    if math.isfinite(nearest) and Fraction(nearest) < Fraction(10) ** k:
        return math.nextafter(nearest, math.inf)
    return nearest


@functools.cache
def _exponent_table() -> tuple[np.ndarray, np.ndarray]:
    """For each binary exponent b (index b + 1100): floor(log10(2**b)) = k, and the least double >= 10**(k + 1)."""
    low = [math.floor(b * math.log10(2)) for b in range(-1100, 1030)]
    return np.array(low, dtype=np.int64), np.array([_power_of_ten_above(k + 1) for k in low])


@functools.cache
def _digit_tables() -> tuple[np.ndarray, np.ndarray]:
    """'0000'..'9999' as uint32 words (bytes in text order), and the count of digits up to the last non-zero."""
    words = np.frombuffer("".join(f"{i:04d}" for i in range(10000)).encode(), dtype=np.uint32)
    significant = np.array([len(f"{i:04d}".rstrip("0")) if i else -20 for i in range(10000)], dtype=np.int8)
    return words, significant


def _template(e: int, nd: int) -> bytes:
    """Work-buffer byte indices spelling a positive value with decimal exponent e and nd significant digits."""
    digits = bytes(range(1, 1 + nd))  # mantissa digit k is at byte 1 + k
    if nd == 0:  # zero
        return bytes([_C["0"]])
    if e < -4 or e >= _DIGITS:
        exponent = f"e{'-' if e < 0 else '+'}{abs(e):02d}"
        return digits[:1] + (bytes([_C["."]]) + digits[1:] if nd > 1 else b"") + bytes(_C[c] for c in exponent)
    if e >= 0:
        whole = bytes(range(1, e + 2))  # all digits before the point, zeros included
        return whole + (bytes([_C["."]]) + digits[e + 1 :] if nd > e + 1 else b"")
    return bytes(_C[c] for c in "0." + "0" * (-e - 1)) + digits


@functools.cache
def _template_table() -> tuple[np.ndarray, np.ndarray]:
    """Templates for every key (negative * _NE + e - _EMIN) * 16 + nd, padded with the NUL index, and their lengths."""
    positive = [_template(e, nd) for e in range(_EMIN, _EMAX + 1) for nd in range(16)]
    templates = positive + [bytes([_C["-"]]) + t for t in positive]
    lengths = np.array([len(t) for t in templates], dtype=np.int64)
    width = int(lengths.max())
    table = np.frombuffer(b"".join(t.ljust(width, bytes([_NUL])) for t in templates), dtype=np.uint8)
    return table.reshape(len(templates), width), lengths


def _decimal_exponent(a: np.ndarray) -> np.ndarray:
    """floor(log10(a)), exactly, for positive a."""
    low, threshold = _exponent_table()
    subnormal = np.flatnonzero(a < _TINY)
    normal = a
    if len(subnormal):  # scaled by 2**64 (exactly) to read their binary exponent
        normal = a.copy()
        normal[subnormal] *= 2.0**64
    binary = (normal.view(np.uint64) >> np.uint64(52)).astype(np.int64) - (1023 - 1100)
    binary[subnormal] -= 64
    return low[binary] + (a >= threshold[binary])


def _mantissa(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """round(a * 10**(14 - e)) as float64 (an exact integer), rounding half to even on the exact product."""
    s = 14 - e
    i = s - _SMIN
    scale, hi, hi_high, hi_low, lo = _power_table()
    a = a * scale[i]
    product = a * hi[i]
    c = _SPLIT * a
    a_high = c - (c - a)
    a_low = a - a_high
    error = ((a_high * hi_high[i] - product) + a_high * hi_low[i] + a_low * hi_high[i]) + a_low * hi_low[i]
    whole = np.floor(product)
    # product - whole and the subtraction of 0.5 are exact, so the sign of `above` is that of the exact
    # remainder minus a half (exactly zero on a tie) whenever 10**s is exact, i.e. 0 <= s <= 22.
    above = ((product - whole) - 0.5) + (error + a * lo[i])
    # With s = -1 or -2 an exact tie is possible too (e.g. 1000000000000005); any other remainder is at
    # least 1e-3 away from a half there, so a near tie is a tie.
    near = np.flatnonzero(np.abs(above) < 1e-9)
    above[near[(s[near] == -1) | (s[near] == -2)]] = 0.0
    whole += above > 0
    ties = np.flatnonzero(above == 0)
    whole[ties] += whole[ties] % 2  # half to even
    return whole


def _format_block(x: np.ndarray, out: np.ndarray) -> int:
    """Format the finite float64 values x into the rows of out (zero padded); returns the longest length."""
    n = len(x)
    a = np.abs(x)
    zero = a == 0
    a[zero] = 1.0
    e = _decimal_exponent(a)
    m = _mantissa(a, e)
    for _ in range(3):  # rounding carried to 10**15 (e.g. 999999999999999.9): one more in the exponent
        bad = np.flatnonzero((m >= 1e15) | (m < 1e14))
        if not len(bad):
            break
        e[bad] += np.where(m[bad] >= 1e15, 1, -1)
        m[bad] = _mantissa(a[bad], e[bad])

    words, significant = _digit_tables()
    mi = m.astype(np.int64)
    high, low = np.divmod(mi, 100_000_000)
    chunks = (high // 10_000, high % 10_000, low // 10_000, low % 10_000)
    work = np.empty((n, 8), dtype=np.uint32)
    for k, chunk in enumerate(chunks):
        work[:, k] = words[chunk]
    work[:, 4:] = np.frombuffer(_CONSTANTS, dtype=np.uint32)
    nd = significant[chunks[0]] - 1
    for offset, chunk in zip((3, 7, 11), chunks[1:], strict=True):
        nd = np.maximum(nd, significant[chunk] + offset)
    nd[zero] = 0
    e[zero] = 0

    table, lengths = _template_table()
    key = (np.signbit(x) * _NE + (e - _EMIN)) * 16 + nd
    width = int(lengths[key].max())
    index = np.take(table, key, axis=0)[:, :width].astype(np.intp)
    index += np.arange(0, 32 * n, 32)[:, None]  # row i of the work buffer starts at byte 32 * i
    out[:, :width] = np.take(work.view(np.uint8).ravel(), index)
    return width


def format_numbers(x: np.ndarray) -> np.ndarray:
    """Finite float64 values as the bytes of `'%.15g' % value`, one zero-padded row per value.

    Returns a (len(x), W) uint8 matrix, W the longest text (at most 22; possibly a view of a wider array).
    Raises ValueError on nan or infinity.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("cannot format nan or infinity")
    out = np.zeros((len(x), 22), dtype=np.uint8)
    width = 1
    for start in range(0, len(x), CHUNK):
        block = slice(start, start + CHUNK)
        width = max(width, _format_block(x[block], out[block]))
    return out[:, :width]


def _pad(texts: list[bytes]) -> np.ndarray:
    """Byte strings as a zero-padded uint8 matrix (one row each)."""
    width = max(1, *map(len, texts)) if texts else 1
    return np.frombuffer(b"".join(t.ljust(width, b"\0") for t in texts), dtype=np.uint8).reshape(len(texts), width)


def _quote(text: str, quote: str) -> bytes:
    """One string as CSV field text (quoted only when needed, as Python's csv module) or a JSON literal."""
    if quote == "json":
        return json.dumps(text).encode()
    if "\0" in text:
        raise ValueError(f"cannot write a NUL character in CSV: {text!r}")
    if any(c in text for c in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text.encode()


def _factorize(values: np.ndarray, passes: int = 16) -> tuple[list, np.ndarray]:
    """Distinct values and each value's index among them.

    A few distinct values are found by equality passes (much faster than sorting strings); whatever
    remains after `passes` of them goes through np.unique.
    """
    codes = np.empty(len(values), dtype=np.intp)
    distinct: list = []
    left = np.arange(len(values))
    while len(left) and len(distinct) < passes:
        same = values[left] == values[left[0]]
        same[0] = True  # even if the value is not equal to itself (nan)
        codes[left[same]] = len(distinct)
        distinct.append(values[left[0]])
        left = left[~same]
    if len(left):
        rest, inverse = np.unique(values[left].astype(str), return_inverse=True)
        codes[left] = len(distinct) + inverse.reshape(-1)
        distinct += list(rest)
    return distinct, codes


def format_column(values, quote: str = "csv") -> np.ndarray:
    """One column as a zero-padded uint8 matrix of its text, one row per value.

    Floats (and integers, converted to float64) as `format_numbers`; bools as `true` / `false`; strings
    (unicode or object arrays, the latter converted with str) as is, quoted when needed for CSV
    (`quote="csv"`) or as JSON string literals (`quote="json"`), formatting each distinct value once.
    A constant column given as a broadcast view (stride 0) is formatted once and returned broadcast
    (read-only).
    """
    if quote not in ("csv", "json"):
        raise ValueError(f"quote must be 'csv' or 'json', not {quote!r}")
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {values.shape}")
    n = len(values)
    if n > 1 and values.strides[0] == 0:
        row = format_column(values[:1], quote)
        return np.broadcast_to(row, (n, row.shape[1]))
    kind = values.dtype.kind
    if kind == "b":
        return np.take(_pad([b"false", b"true"]), values.view(np.uint8), axis=0)
    if kind in "fiu":
        return format_numbers(values.astype(np.float64, copy=False))
    if kind in "OSU":
        if kind == "S":
            values = values.astype(str)
        distinct, codes = _factorize(values)
        return np.take(_pad([_quote(str(v), quote) for v in distinct]), codes, axis=0)
    raise TypeError(f"cannot format a column of dtype {values.dtype}")


def join_rows(columns: list[np.ndarray], separator: bytes = b",", prefixes: list[bytes] | None = None,
              suffix: bytes = b"\n") -> bytes:
    """The text of all rows: each row's columns side by side, zero padding removed.

    Columns are zero-padded uint8 matrices with the same number of rows (as `format_column` gives). Between
    columns comes `separator`, or, when `prefixes` is given, prefixes[i] before column i (and no
    separator); `suffix` ends each row. None of these may contain a zero byte.
    """
    if not columns:
        raise ValueError("no columns to join")
    n = columns[0].shape[0]
    if any(c.ndim != 2 or c.shape[0] != n for c in columns):
        raise ValueError("columns must be 2-D matrices with the same number of rows")
    if prefixes is None:
        prefixes = [b""] + [separator] * (len(columns) - 1)
    elif len(prefixes) != len(columns):
        raise ValueError(f"{len(prefixes)} prefixes for {len(columns)} columns")
    pieces: list[bytes | np.ndarray] = []
    for prefix, column in zip(prefixes, columns, strict=True):
        pieces += [prefix, column] if prefix else [column]
    pieces.append(suffix)
    if any(isinstance(p, bytes) and b"\0" in p for p in pieces):
        raise ValueError("separators, prefixes and suffix cannot contain a zero byte")

    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in pieces]
    pieces = [np.frombuffer(p, dtype=np.uint8) if isinstance(p, bytes) else p for p in pieces]
    buffer = np.empty((min(n, CHUNK), sum(widths)), dtype=np.uint8)
    text = []
    for first in range(0, n, CHUNK):  # blocks of rows: a buffer that stays in cache
        block = buffer[: min(CHUNK, n - first)]
        start = 0
        for piece, width in zip(pieces, widths, strict=True):
            block[:, start : start + width] = piece if piece.ndim == 1 else piece[first : first + CHUNK]
            start += width
        flat = block.ravel()
        text.append(flat[flat != 0].tobytes())
    return b"".join(text)
