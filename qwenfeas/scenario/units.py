"""Quantities with units: read what users write, print what people read.

Reading follows the grammar of SCENARIO.md. A value is a number, optionally
followed by a unit; YAML numbers arrive as int/float, everything else as text
(PyYAML reads `7e10` as a string, so all numbers pass through here). Each
*kind* of quantity lists the unit spellings it accepts and their factor to the
base unit used everywhere inside qwenfeas:

    count       tokens, parameters     K M B|G T P (x1000), Ki Mi Gi Ti (x1024)
    bytes       B                      kB MB GB TB PB (x1000), KiB MiB GiB TiB PiB (x1024)
    byte_rate   B/s                    the byte units followed by /s
    flop_rate   FLOP/s                 SI prefix, optionally + FLOP/s or FLOPS
    power       W                      SI prefix + W
    money       USD                    $ or USD, count suffix: $52B
    usd_per_hour, usd_per_kwh          $2/h, 0.08 $/kWh
    carbon      kg CO2e per kWh        kg/kWh, g/kWh (CO2 / CO2e may follow the mass)
    duration    s                      us ms s min h d w y (y = 365.25 d, the Julian year)
    energy      kWh                    Wh kWh MWh GWh TWh, J
    mass        kg (of CO2e)           g kg t kt Mt
    fraction    1                      0.4 or 40%
    ratio, number                      plain numbers

Formatting turns base-unit values into short human strings ("19.3 TB",
"4.2 days", "1.1 GW"). Decimal prefixes are used for bytes: GB means 1e9 B.
"""

from __future__ import annotations

import math
import re
from functools import cache

# Nothing physical in a scenario lies outside this range (a yottabyte is 1e24 B); the bound keeps
# products and quotients of inputs far from float overflow (1.8e308) and underflow.
MIN_MAGNITUDE = 1e-30
MAX_MAGNITUDE = 1e30

_NUMBER = re.compile(
    r"^\s*(?P<cur>\$)?\s*(?P<num>[+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>.*?)\s*$"
)

_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_COUNT = {
    "": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}
_BYTES = {
    "B": 1.0, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15, "EB": 1e18,
    "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40, "PiB": 2.0**50,
}
SECONDS_PER_YEAR = 365.25 * 86400.0  # the Julian year, as astronomy and "3y" use it
_SECONDS = {
    "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0, "w": 604800.0, "week": 604800.0,
    "weeks": 604800.0, "y": SECONDS_PER_YEAR, "yr": SECONDS_PER_YEAR, "year": SECONDS_PER_YEAR,
    "years": SECONDS_PER_YEAR,
}
_MONEY_PREFIX = {"": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "bn": 1e9, "T": 1e12}

# kind -> (examples for hints, description for messages)
KIND_HELP = {
    "count": ("70B, 128K, 36T or 7e10", "a count"),
    "integer": ("80 or 128K", "a whole number"),
    "bytes": ("80GB, 141 GB or 192GiB", "a size in bytes"),
    "byte_rate": ("3.35TB/s, 3350 GB/s or 400 Gb/s", "a bandwidth"),
    "flop_rate": ("989T, 989 TFLOP/s or 1.98e15", "a FLOP/s rate"),
    "power": ("700W, 1.2 kW or 1 GW", "a power"),
    "money": ("$52B or 2.5e6 USD", "an amount of money"),
    "usd_per_hour": ("$2.50/h or 2.5 $/h", "a price per accelerator-hour"),
    "usd_per_kwh": ("0.08 $/kWh or $80/MWh", "an electricity price"),
    "carbon": ("0.4 kg/kWh or 400 g/kWh", "a grid carbon intensity"),
    "duration": ("90d, 12h, 3y or 3600 (seconds)", "a duration"),
    "energy": ("50 GWh or 1.2e6 kWh", "an energy"),
    "mass": ("10 kt, 500 t or 2e6 kg", "a mass"),
    "fraction": ("0.4 or 40%", "a fraction"),
    "ratio": ("1.1", "a number"),
    "number": ("0.3", "a number"),
}


@cache
def _units(kind: str) -> dict[str, float]:
    """Accepted unit spellings of a kind (spaces removed) and their factors."""
    if kind in ("count", "integer"):
        return dict(_COUNT)
    if kind == "bytes":
        return {"": 1.0, **_BYTES}
    if kind == "byte_rate":  # network links are quoted in bits: 400 Gb/s = 50 GB/s
        bits = {p + b + "/s": f / 8 for p, f in _SI.items() if p for b in ("b", "bit")}
        return {"": 1.0, **{u + "/s": f for u, f in _BYTES.items()}, **bits}
    if kind == "flop_rate":
        return {p + u: f for p, f in _SI.items() for u in ("", "FLOP/s", "FLOPS", "flop/s", "FLOPs/s")}
    if kind == "power":
        return {"": 1.0, **{p + "W": f for p, f in _SI.items()}}
    if kind == "duration":
        return {"": 1.0, **_SECONDS}
    if kind == "fraction":
        return {"": 1.0, "%": 0.01}
    if kind == "energy":
        return {"": 1.0, "J": 1 / 3.6e6, "MJ": 1 / 3.6, "GJ": 1e3 / 3.6, "TJ": 1e6 / 3.6,
                **{p + "Wh": f / 1e3 for p, f in _SI.items()}}
    if kind == "mass":
        return {"": 1.0, "g": 1e-3, "kg": 1.0, "t": 1e3, "kt": 1e6, "Mt": 1e9}
    if kind == "carbon":
        masses = {"kg": 1.0, "g": 1e-3, "t": 1e3}
        energies = {"kWh": 1.0, "MWh": 1e3}
        return {
            "": 1.0,
            **{m + gas + "/" + e: mf / ef
               for m, mf in masses.items() for gas in ("", "CO2", "CO2e")
               for e, ef in energies.items()},
        }
    if kind == "money":
        return dict(_MONEY_PREFIX)
    if kind == "usd_per_hour":
        return {p + "/" + h: f for p, f in _MONEY_PREFIX.items() for h in ("h", "hr", "hour")} | {"": 1.0}
    if kind == "usd_per_kwh":
        return {"": 1.0, "/kWh": 1.0, "/MWh": 1e-3}
    return {"": 1.0}


def parse_quantity(value, kind: str) -> float:
    """Read `value` (a YAML number or a string such as "3.35TB/s") as `kind`, in base units.

    Raises ValueError with a sentence naming what was expected; the caller
    adds the file, line and key.
    """
    examples, what = KIND_HELP.get(kind, ("1", "a number"))
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected {what} such as {examples}, got {value!r}")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{value!r} is too large to compute with") from None
    else:
        text = str(value)
        match = _NUMBER.match(text)
        if not match:
            raise ValueError(f"cannot read {text!r} as {what}; write e.g. {examples}")
        unit = re.sub(r"\s+", "", match["unit"])
        is_money = kind in ("money", "usd_per_hour", "usd_per_kwh")
        has_currency = bool(match["cur"]) or "$" in unit or "USD" in unit
        if has_currency and not is_money:
            raise ValueError(f"{text!r} is money, but {what} is expected; write e.g. {examples}")
        if is_money:
            unit = unit.replace("USD", "").replace("$", "")
        factor = _units(kind).get(unit)
        if factor is None:
            raise ValueError(f"cannot read unit {match['unit']!r} in {text!r} as {what}; write e.g. {examples}")
        number = float(match["num"].replace("_", "")) * factor
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {value!r}")
    if number and not MIN_MAGNITUDE <= abs(number) <= MAX_MAGNITUDE:
        raise ValueError(f"{value!r} is outside the range qwenfeas computes with "
                         f"({MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g} in base units); check its unit")
    if kind == "integer":
        if abs(number) >= 2.0**53:  # 2**53 + 1 already rounds to 2**53 as a float
            raise ValueError(f"{value!r} is too large to be held as an exact whole number (limit 2^53)")
        rounded = round(number)
        if abs(number - rounded) > 1e-9 * max(1.0, abs(number)):
            raise ValueError(f"must be a whole number, got {value!r}")
        return float(rounded)
    return number


# ---------------------------------------------------------------------------
# Formatting for people


def _scaled(value: float, steps: list[tuple[float, str]], digits: int = 3) -> str:
    """Pick the largest step not above |value| and print with `digits` significant figures."""
    magnitude = abs(value)
    for factor, label in steps:
        if magnitude >= factor:
            return f"{_sig(value / factor, digits)} {label}".rstrip()
    factor, label = steps[-1]
    return f"{_sig(value / factor, digits)} {label}".rstrip()


def _sig(x: float, digits: int = 3) -> str:
    """`x` with `digits` significant figures, no exponent below 1e6, thousands kept whole."""
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return _exponent(x, digits)
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    text = f"{x:.{digits}g}"
    return text


def _exponent(x: float, digits: int = 3) -> str:
    """Scientific notation without '+' or leading zeros: 2.62e6, 1.5e-4."""
    if x == 0:
        return "0"
    mantissa, _, power = f"{x:.{digits - 1}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(power)}"


def format_number(x: float) -> str:
    """A plain number with three significant figures: 1,241 or 0.0345 or 2.6e7."""
    return _sig(float(x))


_SI_STEPS = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]


def format_quantity(value, unit: str) -> str:
    """A base-unit value as a short string for a table: 327680 B -> "328 kB"."""
    if unit == "bool":
        return "yes" if value else "no"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if unit == "s":
        return format_duration(value)
    if unit in ("B", "B/s", "W", "FLOP/s", "Wh"):
        return _scaled(value, [(f, p + unit) for f, p in _SI_STEPS])
    if unit == "kWh":
        return _scaled(value * 1e3, [(f, p + "Wh") for f, p in _SI_STEPS])
    if unit == "FLOP":
        return f"{_exponent(value, 3)} FLOP"
    if unit == "kg":
        return _scaled(value, [(1e9, "Mt"), (1e6, "kt"), (1e3, "t"), (1.0, "kg")])
    if unit == "USD":
        return "$" + _scaled(value, [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")]).replace(" ", "")
    if unit == "USD/h":
        return f"${_sig(value)}/h"
    if unit == "USD/kWh":
        return f"${_sig(value)}/kWh"
    if unit == "kg/kWh":
        return f"{_sig(value)} kg/kWh"
    if unit == "fraction":
        return f"{_sig(value * 100)}%"
    if unit == "h":
        return _scaled(value, [(1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")]).replace(" ", "") + " h"
    if unit == "count":
        if value == int(value) and abs(value) < 1e6:
            return f"{int(value):,}"
        if abs(value) < 1e3:
            return _sig(value, 4)
        return _scaled(value, [(1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")], 4).replace(" ", "")
    return _sig(value, 4) + (f" {unit}" if unit else "")


def format_duration(seconds: float) -> str:
    """Seconds in the largest unit that keeps the number readable: "4.2 days"."""
    for factor, label in ((SECONDS_PER_YEAR, "years"), (86400.0, "days"), (3600.0, "h"), (60.0, "min"), (1.0, "s")):
        if abs(seconds) >= factor:
            number = _sig(seconds / factor)
            return f"{number} {label[:-1] if number == '1' and label in ('years', 'days') else label}"
    if abs(seconds) >= 1e-3:
        return f"{_sig(seconds * 1e3)} ms"
    return f"{_sig(seconds * 1e6)} µs"
