"""qwenfeas schema: a valid draft-07 schema, in step with the loader's field table."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.scenario.fields import all_keys
from qwenfeas.scenario.schema import scenario_schema

SCHEMA = scenario_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
CONFIGS = sorted((Path(__file__).parent.parent / "configs").rglob("*.yaml"))


def test_is_a_valid_draft_07_schema_and_the_command_prints_it():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert json.loads(CliRunner().invoke(app, ["schema"]).stdout) == SCHEMA


def test_every_loader_key_is_in_the_schema_and_nothing_else():
    def leaves(node, prefix=""):
        for name, child in node["properties"].items():
            if child.get("type") == "object" and "properties" in child:
                yield from leaves(child, prefix + name + ".")
            else:
                yield prefix + name
    assert set(leaves(SCHEMA)) == set(all_keys())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_bundled_scenarios_satisfy_it(path):
    assert not list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text())))


def test_it_flags_a_misspelt_key_and_an_unknown_preset_as_editors_will():
    assert list(VALIDATOR.iter_errors({"model": {"layrs": 80}}))
    assert list(VALIDATOR.iter_errors({"hardware": {"preset": "h100"}}))
    assert not list(VALIDATOR.iter_errors({"hardware": {"preset": "h100-sxm", "memory": "80GB", "count": None}}))
