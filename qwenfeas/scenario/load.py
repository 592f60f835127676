"""Load a scenario: YAML file or stdin, `extends`, presets and `--set`, validated.

Layering, lowest first: preset < `extends` base < the file < `--hf-config` < `--set`.
A layer that names a model (`model.preset` or `model.hf_config`) replaces the model a
lower layer named; `--hf-config` replaces the whole `model:` section. Every
mistake is collected with its file, line and key, then raised together as one
`QwenfeasError`. The result is a `Scenario`: a flat mapping of dotted keys to
plain numbers (base units), text or booleans, plus where each value came from.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MAX_PROBLEMS, Problem, QwenfeasError, did_you_mean
from . import catalogue
from .defaults import complete
from .fields import PRECISION_BYTES, SCENARIO, Field, all_keys
from .files import STDIN_LABEL, parse, read_file, read_text, stdin_at_most_once
from .source import Node, merge, override_node
from .units import parse_quantity

VARY = "--vary"
HF_CONFIG_FLAG = "--hf-config"
_MODEL_NAMES = ("preset", "hf_config")  # keys that name a whole architecture


class Scenario:
    """A validated scenario: dotted key -> value, and where each value came from."""

    def __init__(self, name: str, file: str, values: dict[str, object], origins: dict[str, str] | None = None,
                 warnings: list[str] | None = None, locations: dict[str, tuple] | None = None) -> None:
        self.name = name
        self.file = file
        self.values = values
        self.origins = origins or {}
        self.warnings = warnings or []
        self.locations = locations or {}

    def where(self, key: str) -> dict:
        """File and line of a written key, as keyword arguments for QwenfeasError."""
        file, line = self.locations.get(key, (self.file, None))
        return {"file": file, "line": line, "key": key}

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def __getitem__(self, key: str):
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key in self.values


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = (), vary: dict | None = None) -> Scenario:
    """Read, layer, validate and complete one scenario file (`-` reads stdin).

    `vary` maps numeric keys to numpy arrays (a sweep's axes, broadcastable against each
    other); they replace the file's values before defaults are derived and checked, so
    derived keys (training.sequence, parallel.data, ...) follow them point by point.
    """
    label, text = read_text(path)
    return loads(text, label, overrides, vary)


def loads(text: str, label: str = "<string>", overrides: list[str] | tuple[str, ...] = (),
          vary: dict | None = None) -> Scenario:
    """The same as `load`, from text; relative paths resolve against the working directory."""
    root = _load_with_extends(label, text, [])
    warnings: list[str] = []
    for assignment in overrides:
        if assignment.startswith(HF_CONFIG_FLAG + "="):
            root = _replace_model(root, assignment.partition("=")[2], warnings)
            continue
        keys, node = override_node(assignment)
        if keys[0] == "extends":
            raise QwenfeasError("cannot be set with --set", file="--set", key="extends",
                                hint="write 'extends: BASE.yaml' in the scenario file, or name the base file itself")
        if node.value is None:
            _check_removed_key(keys)
        for key in reversed(keys):
            node = Node({key: node}, "--set", None, key_lines={key: None})
        root = _layer(root, node)
    root, problems = _apply_presets(root)
    scenario = _validate(root, label, vary or {}, problems)
    scenario.warnings[:0] = warnings
    return scenario


def hf_config_override(path: str) -> str:
    """The override by which the command line's `--hf-config PATH` reaches `loads`."""
    return f"{HF_CONFIG_FLAG}={path}"


def _replace_model(root: Node, path: str, warnings: list[str]) -> Node:
    """`--hf-config`: the config describes the whole architecture, so the `model:` section
    written so far (presets, `extends` bases, the file) is dropped, with a warning naming
    what was dropped; later `--set model.*` overrides still apply."""
    model = root.value.get("model")
    dropped = _written_keys(model, "model") if model is not None else []
    if dropped:
        warnings.append(f"{HF_CONFIG_FLAG} {path} replaces the model: discarded "
                        + ", ".join(f"{key} ({where})" for key, where in dropped))
    config = Node({"hf_config": Node(path, HF_CONFIG_FLAG, None)}, HF_CONFIG_FLAG, None,
                  key_lines={"hf_config": None})
    return Node({**root.value, "model": config}, root.file, root.line, key_lines={**root.key_lines, "model": None})


def _written_keys(node: Node, prefix: str) -> list[tuple[str, str]]:
    """(dotted key, "file:line") of every leaf under a section, in written order."""
    if not node.is_mapping:
        return [(prefix, ":".join(str(part) for part in (node.file, node.line) if part is not None))]
    found = []
    for key, child in node.value.items():
        child_line = node.key_lines.get(key, child.line)
        if child.is_mapping:
            found.extend(_written_keys(child, f"{prefix}.{key}"))
        elif child.value is not None:
            found.append((f"{prefix}.{key}", ":".join(str(p) for p in (child.file, child_line) if p is not None)))
    return found


def _layer(base: Node, top: Node) -> Node:
    """`merge`, except that a layer naming a model (a preset or a config.json) replaces the
    model named below it instead of mixing two architectures' names."""
    top_model, base_model = top.value.get("model"), base.value.get("model") if base.is_mapping else None
    if (top_model is not None and top_model.is_mapping and base_model is not None and base_model.is_mapping
            and any(name in top_model.value for name in _MODEL_NAMES)):
        kept = {k: v for k, v in base_model.value.items() if k not in _MODEL_NAMES}
        base_model = Node(kept, base_model.file, base_model.line,
                          key_lines={k: v for k, v in base_model.key_lines.items() if k in kept})
        base = Node({**base.value, "model": base_model}, base.file, base.line, key_lines=base.key_lines)
    return merge(base, top)


def load_all(paths, overrides=()) -> list[Scenario]:
    """Load several scenarios, reporting the problems of all of them together."""
    paths = stdin_at_most_once(paths)
    scenarios, problems = [], []
    for path in paths:
        try:
            scenarios.append(load(path, overrides))
        except QwenfeasError as error:
            problems.extend(error.problems)
    if problems:
        raise QwenfeasError(problems=problems)
    return scenarios


def _load_with_extends(label: str, text: str, chain: list[str]) -> Node:
    root = parse(text, label)
    if not root.is_mapping:
        raise QwenfeasError("a scenario must be a mapping of keys (model:, context:, ...)",
                            file=label, line=root.line)
    base_node = root.value.get("extends")
    if base_node is None or base_node.value is None:
        return root
    if not isinstance(base_node.value, str) or not base_node.value.strip():
        raise QwenfeasError("must be a file path", file=label, line=base_node.line, key="extends",
                            hint="for example extends: base.yaml (beside this file) or extends: default (bundled)")
    folder = Path(label).parent if Path(label).is_file() else Path.cwd()
    base_path = _bundled_unless_beside(folder, base_node.value)
    try:
        resolved = str(base_path.resolve())
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise QwenfeasError(f"{base_node.value!r} is not a usable file path ({exc})", file=label,
                            line=base_node.line, key="extends") from None
    if resolved in chain or resolved == str(Path(label).resolve()):
        raise QwenfeasError(f"extends {base_node.value!r} makes a cycle", file=label,
                            line=base_node.line, key="extends",
                            hint="a base file must not extend, directly or through others, a file built on it")
    try:
        base_label, base_text = str(base_path), read_file(base_path, regular_only=True)
    except QwenfeasError as error:
        problem = error.problems[0]
        hint = "extends: takes a local file path, not a URL" if "://" in base_node.value else problem.hint
        raise QwenfeasError(f"cannot load {base_node.value!r}: {problem.message}", file=label,
                            line=base_node.line, key="extends", hint=hint) from None
    base = _load_with_extends(base_label, base_text, chain + [resolved])
    own = Node({k: v for k, v in root.value.items() if k != "extends"}, root.file, root.line,
               key_lines={k: v for k, v in root.key_lines.items() if k != "extends"})
    return _layer(base, own)


def _check_removed_key(keys: list[str]) -> None:
    """`--set KEY=null` removes KEY: a key qwenfeas does not know would be removed silently (a typo)."""
    dotted, known = ".".join(keys), all_keys()
    if any(k == dotted or k.startswith(dotted + ".") for k in known) or any(
            ".".join(keys[:i]) in known for i in range(1, len(keys))):
        return
    raise QwenfeasError("unknown key", file="--set", key=dotted,
                        hint=did_you_mean(dotted, known) or "list the keys with: qwenfeas schema")


def _bundled_unless_beside(folder: Path, name: str) -> Path:
    """`extends: NAME`: the file beside the scenario, else a bundled scenario of that name (`default`,
    `roadmap/params-10t-today`), as `qwenfeas estimate NAME` finds it."""
    import os

    from .files import bundled_configs

    beside = folder / os.path.expanduser(name)  # ~/plans/base.yaml: the home folder, as a shell reads it
    configs = bundled_configs()
    if _lexists(beside) or Path(name).is_absolute() or configs is None:
        return beside
    return next((c for c in (configs / name, configs / f"{name}.yaml") if _lexists(c) and c.is_file()), beside)


def _lexists(path: Path) -> bool:
    import os

    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _apply_presets(root: Node) -> tuple[Node, list[Problem]]:
    """Put each named preset under its section; keys written in the section win.

    The datacenter section may name two presets, a facility (`preset`) and a
    grid region (`grid`); they fill different keys. An unknown preset is returned
    as a problem, so the rest of the file is still checked in the same run.
    """
    problems: list[Problem] = []
    merged = dict(root.value)
    model = merged.get("model")
    config = model.value.get("hf_config") if model is not None and model.is_mapping else None
    if config is not None and isinstance(config.value, str):
        from .hf_config import model_section

        preset = model.value.get("preset")
        if preset is not None and preset.value is not None:
            raise QwenfeasError("model.preset and model.hf_config both name the architecture", file=config.file,
                                line=model.key_lines.get("hf_config", config.line), key="model.hf_config",
                                hint="keep one of them; keys written beside it override it")
        folder = Path.cwd() if config.file in ("--set", HF_CONFIG_FLAG, STDIN_LABEL) else Path(config.file).parent
        merged["model"] = merge(model_section(str(folder / config.value), config), model)
    for key, (section, _) in catalogue.KINDS.items():
        node = merged.get(section)
        if node is None or not node.is_mapping:
            continue
        name = node.value.get(key.split(".")[1])
        if name is None or not isinstance(name.value, str):
            continue
        try:
            base = catalogue.load_preset(key, name.value.lower(), name.file, name.line)
        except QwenfeasError as error:
            problems.extend(error.problems)
            continue
        if name.value != name.value.lower():  # preset names are case-insensitive: keep the catalogue's spelling
            lowered = Node(name.value.lower(), name.file, name.line, name.quoted)
            node = Node({**node.value, key.split(".")[1]: lowered}, node.file, node.line, key_lines=node.key_lines)
        merged[section] = merge(base, node)
    return Node(merged, root.file, root.line, key_lines=root.key_lines), problems


# ---------------------------------------------------------------------------
# Validation


class _Collector:
    """Parses leaf values against the field table and gathers every problem."""

    def __init__(self, root: Node, label: str) -> None:
        self.root = root
        self.label = label
        self.values: dict[str, object] = {}
        self.origins: dict[str, str] = {}
        self.nodes: dict[str, Node] = {}
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.locations: dict[str, tuple] = {}

    def problem(self, key: str, message: str, hint: str | None = None, node: Node | None = None,
                related: tuple[str, ...] = ()) -> None:
        """Record a problem; a clash between keys is located at the one the user wrote, not a preset's."""
        if node is not None:
            file, line = node.file, node.line
        else:
            written = [k for k in (key, *related) if not self.origins.get(k, "").startswith("preset ")]
            file, line = self.locate(written[0] if written else key)
            if any(self.origins.get(k) == VARY for k in (key, *related)):
                file, line = VARY, None  # a clash the sweep's values make, not the file
            origin = self.origins.get(key, "")
            if written and written[0] != key and origin.startswith("preset "):
                hint = (hint + "; " if hint else "") + f"{key} comes from {origin}"
        self.problems.append(Problem(message, file, line, key, hint))

    def locate(self, key: str) -> tuple[str, int | None]:
        """File and line of `key`, or of its nearest written parent section."""
        node, line = self.root, 1 if self.root.file == self.label else None
        file = self.root.file
        for part in key.split("."):
            if not node.is_mapping or part not in node.value:
                break
            line = node.key_lines.get(part, line)
            node = node.value[part]
            file = node.file
        return file, line

    def walk(self, node: Node, table: dict, prefix: str) -> None:
        listed = False  # the section's known keys are listed once, under its first unknown key
        for key, child in node.value.items():
            path = prefix + key
            entry = table.get(key)
            where = Node(None, child.file, node.key_lines.get(key, child.line))
            if entry is None:
                hint = _unknown_key_hint(path, table) if len(self.problems) < MAX_PROBLEMS else None
                if hint and hint.startswith(_KNOWN_KEYS):
                    hint, listed = (None if listed else hint), True
                self.problem(path, "unknown key", hint, where)
                continue
            if child.value is None:
                continue
            if isinstance(entry, dict):
                if not child.is_mapping:
                    self.problem(path, "must be a section of keys, not a single value",
                                 f"write its keys ({', '.join(list(entry)[:3])}, ...) indented "
                                 f"below '{key}:'", where)
                    continue
                self.walk(child, entry, path + ".")
            else:
                self.leaf(path, entry, child, where)

    def leaf(self, path: str, spec: Field, node: Node, where: Node) -> None:
        if spec.per_precision and node.is_mapping:
            table = {}
            for precision, child in node.value.items():
                if precision not in PRECISION_BYTES:
                    self.problem(f"{path}.{precision}", "unknown precision",
                                 did_you_mean(precision, PRECISION_BYTES), where)
                    continue
                value = self.parse(f"{path}.{precision}", spec, child, where)
                if value is not None:
                    table[precision] = value
            self.store(path, table, node)
            return
        if spec.kind == "expectations":
            self.expectations(path, node, where)
            return
        if not isinstance(node.value, str):
            kind = "list" if isinstance(node.value, list) else "section"
            self.problem(path, f"expected a single value, got a {kind}", None, where)
            return
        value = self.parse(path, spec, node, where)
        if value is not None:
            self.store(path, value, node)

    def expectations(self, path: str, node: Node, where: Node) -> None:
        """A list of assertion strings (or one string); each keeps its own line."""
        items = node.value if isinstance(node.value, list) else [node]
        texts = []
        for index, item in enumerate(items):
            if not isinstance(item.value, str):
                self.problem(f"{path}[{index}]", "each expectation is one line such as 'training.seconds < 90d'",
                             None, item)
                continue
            texts.append(item.value)
            self.locations[f"{path}[{len(texts) - 1}]"] = (item.file, item.line)
        self.store(path, tuple(texts), node)

    def parse(self, path: str, spec: Field, node: Node, where: Node):
        text = node.value
        if not isinstance(text, str):
            self.problem(path, "expected a single value", None, where)
            return None
        if spec.kind == "text":
            return text
        if spec.kind == "bool":
            lowered = text.lower()
            if lowered in ("true", "yes", "on"):
                return True
            if lowered in ("false", "no", "off"):
                return False
            self.problem(path, f"expected true or false, got {text!r}", None, where)
            return None
        if spec.kind == "choice":
            if text.lower() in spec.choices:
                return text.lower()
            hint = did_you_mean(text.lower(), spec.choices) or "choose one of: " + ", ".join(spec.choices)
            self.problem(path, f"{text!r} is not one of {', '.join(spec.choices)}", hint, where)
            return None
        try:
            value = parse_quantity(text, spec.kind)
        except ValueError as exc:
            self.problem(path, str(exc), None, where)
            return None
        return value if self.in_range(path, spec, value, where) else None

    def in_range(self, path: str, spec: Field, value: float, where: Node | None = None) -> bool:
        problem = range_problem(spec, value)
        if problem:
            self.problem(path, *problem, where)
        return problem is None

    def store(self, path: str, value, node: Node) -> None:
        self.values[path] = value
        self.nodes[path] = node
        self.locations[path] = (node.file, node.line)
        if node.file.startswith("preset "):
            self.origins[path] = node.file
        elif node.line is None:
            self.origins[path] = node.file
        else:
            self.origins[path] = f"{node.file}:{node.line}"

    def derive(self, path: str, value, how: str) -> None:
        self.values[path] = value
        self.origins[path] = how


def range_problem(spec: Field, value: float) -> tuple[str, str | None] | None:
    """(message, hint) when `value` lies outside the field's limits, else None."""
    low, high = spec.minimum, spec.maximum
    if low is not None and (value < low or (spec.strict and value == low)):
        relation = "greater than" if spec.strict else "at least"
        return f"must be {relation} {low:g}, got {value:g}", None
    if high is not None and value > high:
        return f"must be at most {high:,g}, got {value:g}", (spec.maximum_source or ("a fraction is written 0.4 or 40%"
                                                             if spec.kind == "fraction" else None))
    return None


def _unknown_key_hint(path: str, table: dict) -> str | None:
    name = path.rsplit(".", 1)[-1]
    hint = did_you_mean(name, table)
    if hint:
        return hint
    elsewhere = [k for k in all_keys() if k.rsplit(".", 1)[-1] == name]
    if elsewhere:
        return f"{name!r} belongs under {elsewhere[0].rsplit('.', 1)[0]}: ({elsewhere[0]})"
    return _KNOWN_KEYS + ", ".join(table)


_KNOWN_KEYS = "known keys here: "


def _validate(root: Node, label: str, vary: dict, problems: list[Problem] = ()) -> Scenario:
    c = _Collector(root, label)
    c.problems.extend(problems)  # an unknown preset: checked keys still reported, derived checks skipped
    c.walk(root, SCENARIO, "")
    for key, values in vary.items():
        c.values[key] = values
        c.origins[key] = VARY
        c.locations[key] = (VARY, None)
    if not c.problems:
        complete(c)
    if c.problems:
        ordered = sorted(c.problems, key=lambda p: (p.file != label, p.file or "", p.line or 0))
        raise QwenfeasError(problems=ordered)
    name = c.values.get("name") or (Path(label).stem if label != STDIN_LABEL else "stdin")
    return Scenario(str(name), label, c.values, c.origins, c.warnings, c.locations)
