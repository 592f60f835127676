"""The JSON Schema (draft-07) of scenario files, generated from the loader's own field table.

Editors' YAML language servers read draft-07: with the schema they complete keys,
show each key's help, and flag misspelt keys. The loader stays the authority on
values (units, ranges, derived keys); the schema gives shape and spelling.
"""

from __future__ import annotations

from . import catalogue
from .fields import SCENARIO, Field

# A number, optionally with a unit or a currency sign: "70B", "3.35TB/s", "$52B", "40%".
_QUANTITY = r"^\s*\$?\s*[+-]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*[A-Za-z/%$µ0-9 ]*$"


def scenario_schema() -> dict:
    """The schema of a whole scenario file."""
    schema = _section(SCENARIO, "")
    schema.update({"$schema": "http://json-schema.org/draft-07/schema#", "title": "qwenfeas scenario",
                   "description": "A qwenfeas scenario: model, context, token budget, hardware and facility."})
    return schema


def _section(table: dict, prefix: str) -> dict:
    properties = {}
    for name, entry in table.items():
        path = prefix + name
        properties[name] = _section(entry, path + ".") if isinstance(entry, dict) else _leaf(entry, path)
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _leaf(spec: Field, path: str) -> dict:
    if path in catalogue.KINDS:
        body = {"enum": catalogue.preset_names(path)}
    elif spec.kind == "text":
        body = {"type": "string"}
    elif spec.kind == "bool":
        body = {"type": "boolean"}
    elif spec.kind == "choice":
        body = {"enum": list(spec.choices)}
    elif spec.kind == "expectations":
        body = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    else:
        number: dict = {"type": "integer" if spec.kind == "integer" else "number"}
        if spec.minimum is not None:
            number["exclusiveMinimum" if spec.strict else "minimum"] = spec.minimum
        if spec.maximum is not None:
            number["maximum"] = spec.maximum
        options = [number, {"type": "string", "pattern": _QUANTITY}]
        if spec.per_precision:
            options.append({"type": "object", "additionalProperties": False,
                            "properties": {p: {"anyOf": options[:2]} for p in ("fp32", "bf16", "fp16", "fp8",
                                                                               "int8", "fp4", "int4")}})
        body = {"anyOf": options}
    variants = body["anyOf"] if "anyOf" in body else [body]
    described = {"description": spec.help, "anyOf": [*variants, {"type": "null"}]}  # null removes a value
    if spec.default is not None:
        described["default"] = spec.default
    return described
