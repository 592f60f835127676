"""Read YAML into located nodes: every value keeps its text, file and line.

PyYAML's own typing follows YAML 1.1 (`7e10` is a string, `no` is false,
`12:30` is 750, `017` is 15), so qwenfeas never lets it type scalars: it
composes the document (no objects are constructed, so loading is safe) and
keeps each scalar's raw text, to be read by the unit grammar of `units.py`.
Duplicate keys, which PyYAML accepts silently, are an error here.
"""

from __future__ import annotations

from ..errors import QwenfeasError

_NULLS = {"", "~", "null", "Null", "NULL"}
_MAX_NODES = 100_000  # guards against alias expansion bombs
_MAX_DEPTH = 50  # a scenario is four levels deep; far deeper is a mistake, not a plan


class Node:
    """A scalar (text or None), a mapping or a list, with where it was written."""

    __slots__ = ("value", "file", "line", "quoted", "key_lines")

    def __init__(self, value: str | None | dict[str, Node] | list[Node], file: str, line: int | None = None,
                 quoted: bool = False, key_lines: dict[str, int | None] | None = None) -> None:
        self.value = value
        self.file = file
        self.line = line
        self.quoted = quoted
        self.key_lines = {} if key_lines is None else key_lines

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)


def load_text(text: str, file: str) -> Node:
    """Parse one YAML document into a located Node tree."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader_class)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "is not valid YAML"
        raise QwenfeasError(
            f"not valid YAML: {problem}",
            file=file,
            line=line,
            hint="check the indentation and the ':' after each key near this line",
        ) from None
    except yaml.YAMLError as exc:
        raise QwenfeasError(f"not valid YAML: {exc}", file=file) from None
    if root is None:
        raise QwenfeasError(
            "the scenario is empty", file=file, line=1,
            hint="a scenario is a YAML mapping such as 'model: {preset: llama-2-70b}'",
        )
    return _convert(root, file, {}, [0], 0)


def _convert(node, file: str, memo: dict, count: list[int], depth: int) -> Node:
    import yaml

    count[0] += 1
    if count[0] > _MAX_NODES:
        raise QwenfeasError("the document is too large (aliases expand beyond 100,000 values)", file=file)
    if depth > _MAX_DEPTH:
        raise QwenfeasError(f"values are nested more than {_MAX_DEPTH} levels deep", file=file,
                            line=node.start_mark.line + 1)
    if id(node) in memo:
        return memo[id(node)]
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        quoted = node.style in ("'", '"', "|", ">")
        text = node.value
        value = None if (not quoted and text in _NULLS) else text
        result = Node(value, file, line, quoted)
    elif isinstance(node, yaml.SequenceNode):
        result = Node([], file, line)
        memo[id(node)] = result
        result.value.extend(_convert(item, file, memo, count, depth + 1) for item in node.value)
    else:
        result = Node({}, file, line)
        memo[id(node)] = result
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise QwenfeasError("a key must be a plain name", file=file, line=key_line)
            key = key_node.value
            if key == "<<":
                raise QwenfeasError(
                    "YAML merge keys ('<<') are not supported", file=file, line=key_line,
                    hint="use 'extends: base.yaml' to build on another scenario",
                )
            if key in result.value:
                raise QwenfeasError(
                    f"duplicate key (first written on line {result.key_lines[key]})",
                    file=file, line=key_line, key=key,
                    hint="YAML keeps only the last value; delete one of them",
                )
            child = _convert(value_node, file, memo, count, depth + 1)
            if child.is_mapping:  # a section is located where its key is written
                child = Node(child.value, child.file, key_line, key_lines=child.key_lines)
            result.value[key] = child
            result.key_lines[key] = key_line
    memo[id(node)] = result
    return result


def override_node(assignment: str) -> tuple[list[str], Node]:
    """Parse one `--set key.path=value` into its key path and a scalar node."""
    key, equals, text = assignment.partition("=")
    key = key.strip()
    path = key.split(".")
    if not equals or not key or any(not part for part in path):
        raise QwenfeasError(
            f"expected KEY=VALUE with a dotted key, got {assignment!r}", file="--set", key=key or None,
            hint="for example --set hardware.count=4096 or --set context=1M",
        )
    text = text.strip()
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""
    if quoted:
        text = text[1:-1]
    value = None if (not quoted and text in _NULLS) else text
    return path, Node(value, "--set", None, quoted)


def merge(base: Node, top: Node) -> Node:
    """Deep-merge two mappings: `top` wins; a null in `top` removes the key."""
    if not (base.is_mapping and top.is_mapping):
        return top
    merged = dict(base.value)
    lines = dict(base.key_lines)
    for key, child in top.value.items():
        if child.value is None:
            merged.pop(key, None)
        elif key in merged and merged[key].is_mapping and child.is_mapping:
            merged[key] = merge(merged[key], child)
        else:
            merged[key] = child
        lines[key] = top.key_lines.get(key)
    return Node(merged, top.file, top.line, key_lines=lines)
