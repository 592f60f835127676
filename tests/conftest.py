"""Shared helpers: write a scenario to a temporary file and estimate it."""

from __future__ import annotations

import textwrap

import pytest

import qwenfeas


@pytest.fixture
def write(tmp_path):
    """write(text, name="s.yaml") -> path of a scenario file holding the dedented text."""

    def _write(text: str, name: str = "scenario.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def run(write):
    """run(text, *overrides) -> Report for a scenario written from text."""

    def _run(text: str, *overrides: str):
        return qwenfeas.estimate(qwenfeas.load(write(text), list(overrides)))

    return _run


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch):
    """Deterministic, colourless output for every test."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def work(write):
    """work(text) -> (Report, training.step_inputs.Work) for a scenario written from text: what the
    layout search and the step model read."""
    from qwenfeas.training.step_inputs import Work, attention_forward_per_token

    def _work(text: str):
        scenario = qwenfeas.load(write(text))
        report = qwenfeas.estimate(scenario)
        return report, Work(report, scenario.values, attention_forward_per_token(report, scenario.values, None))

    return _work
