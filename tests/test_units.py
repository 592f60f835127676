"""The unit grammar of SCENARIO.md, and human formatting."""

from __future__ import annotations

import pytest

from qwenfeas.scenario.units import format_duration, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("70B", "count", 70e9), ("7e10", "count", 7e10), (70000000000, "count", 7e10),
        ("128K", "count", 128_000), ("128Ki", "count", 131_072), ("36T", "count", 36e12),
        ("1.5G", "count", 1.5e9), ("1_000", "count", 1000), ("2P", "count", 2e15),
        ("80GB", "bytes", 80e9), ("192GiB", "bytes", 192 * 2**30), ("64 KiB", "bytes", 65536),
        ("3.35TB/s", "byte_rate", 3.35e12), ("3350 GB/s", "byte_rate", 3.35e12),
        ("989T", "flop_rate", 989e12), ("989 TFLOP/s", "flop_rate", 989e12), ("1.98e15", "flop_rate", 1.98e15),
        ("2.25 PFLOPS", "flop_rate", 2.25e15),
        ("700W", "power", 700), ("1.2 kW", "power", 1200), ("1 GW", "power", 1e9), (700, "power", 700),
        ("$52B", "money", 52e9), ("52B USD", "money", 52e9), ("$2.5M", "money", 2.5e6),
        ("2 $/h", "usd_per_hour", 2), ("$2.50/h", "usd_per_hour", 2.5), ("0.08 $/kWh", "usd_per_kwh", 0.08),
        ("$80/MWh", "usd_per_kwh", 0.08),
        ("0.4 kg/kWh", "carbon", 0.4), ("400 g/kWh", "carbon", 0.4), ("530 gCO2e/kWh", "carbon", 0.53),
        ("90d", "duration", 90 * 86400), ("3y", "duration", 3 * 365.25 * 86400), ("12h", "duration", 43200),
        ("30 min", "duration", 1800), ("2w", "duration", 14 * 86400),
        ("40%", "fraction", 0.4), ("0.4", "fraction", 0.4), ("80", "integer", 80), ("8Ki", "integer", 8192),
    ],
)
def test_reads_the_scenario_unit_grammar(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("12x", "count"), ("80 Gb", "bytes"), ("3.35TB", "byte_rate"), ("$5", "count"), ("nan", "count"),
        (float("inf"), "power"), (True, "count"), (None, "count"), ("1.5", "integer"), ("", "count"),
        ("fast", "flop_rate"), ("70BB", "count"), ("1e400", "count"),
    ],
)
def test_rejects_what_it_cannot_read_with_an_example(text, kind):
    with pytest.raises(ValueError) as info:
        parse_quantity(text, kind)
    assert str(info.value)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (19.25e12, "B", "19.2 TB"), (327680, "B", "328 kB"), (1.1e9, "W", "1.1 GW"), (3.35e12, "B/s", "3.35 TB/s"),
        (68.98e9, "count", "68.98B"), (2048, "count", "2,048"), (8.25e23, "FLOP", "8.25e23 FLOP"),
        (0, "FLOP", "0 FLOP"), (52e9, "USD", "$52B"), (1.13e6, "kWh", "1.13 GWh"), (5750e3, "kg", "5.75 kt"),
        (0.4, "fraction", "40%"),
    ],
)
def test_formats_for_people(value, unit, expected):
    assert format_quantity(value, unit) == expected


def test_durations_pick_a_readable_unit():
    assert format_duration(4.2 * 86400) == "4.2 days"
    assert format_duration(90) == "1.5 min"
    assert format_duration(0.034) == "34 ms"
    assert format_duration(3 * 31557600) == "3 years"
