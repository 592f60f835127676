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
_MAX_NODES = 100_000  # values after alias expansion: guards against "billion laughs" documents
MAX_INPUT_BYTES = 4 * 1024 * 1024  # a scenario or a config.json is kilobytes; /dev/zero is not
# Lines plus commas bound the number of values a document can hold. A scenario has a few dozen and a
# config.json a few hundred; 20,000 keeps parsing under a second (50,000 keys took 4 s to reject).
_MAX_ITEMS = 20_000
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


def read_bounded(path, label: str, regular_only: bool = False, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the file at `path`, read with a size cap and never blocking on a FIFO.

    A regular file over `limit` bytes is refused from its size, before reading. Anything else (a
    pipe from process substitution, a device) is read up to `limit` bytes and refused past it; with
    `regular_only` (`extends:`, `model.hf_config`) it is refused before being opened, since opening
    a FIFO that has no writer blocks forever. OS errors become QwenfeasError naming `label`.
    """
    import os
    import stat

    try:
        info = os.stat(path)
        regular = stat.S_ISREG(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not regular and regular_only:
            raise QwenfeasError("is not a regular file (a device, a pipe or a socket)", file=label,
                                hint="name a YAML or JSON file")
        if regular and info.st_size > limit:
            raise _too_large(label, limit)
        # O_NONBLOCK: opening a FIFO without a writer returns at once (and reads as empty) instead of hanging.
        handle = os.open(path, os.O_RDONLY | (0 if regular else os.O_NONBLOCK))
        try:
            if not regular:
                os.set_blocking(handle, True)
            data = _read_up_to(handle, limit + 1)
        finally:
            os.close(handle)
    except RuntimeError as exc:  # pathlib's "Symlink loop" on some Pythons
        raise QwenfeasError(f"cannot be read: {exc}", file=label) from None
    if len(data) > limit:
        raise _too_large(label, limit)
    return decode(data, label)


def read_stream(stream, label: str, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of a binary stream (standard input), at most `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(label, limit)
    return decode(data, label)


def decode(data: bytes, label: str) -> str:
    """UTF-8 bytes as text (a leading byte-order mark is dropped); anything else is the user's error."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QwenfeasError(f"is not UTF-8 text ({exc.reason} at byte {exc.start:,})", file=label,
                            hint="save the file as UTF-8") from None


def _read_up_to(handle: int, size: int) -> bytes:
    import os

    chunks, left = [], size
    while left > 0:
        chunk = os.read(handle, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_large(label: str, limit: int) -> QwenfeasError:
    return QwenfeasError(f"is larger than {limit // (1024 * 1024)} MiB: not a scenario or a config file",
                         file=label, hint="name the scenario's YAML file (a scenario is a few kilobytes)")


def load_json(text: str, file: str) -> Node:
    """Parse a JSON document (a config.json) into a Node tree, as `load_text` does YAML.

    Read with the json module, not as YAML: JSON allows what PyYAML refuses (escaped astral
    characters such as emoji, keys over 1,024 characters). Lines are not tracked: each value is
    located at the line where its key is first written, when that is found.
    """
    import json
    import re
    from collections import Counter

    _check_items(text, file)
    repeated: list[str] = []

    def mapping(pairs):  # the json module keeps the last of two equal keys silently; YAML here refuses them
        repeated.extend(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=mapping)
    except json.JSONDecodeError as exc:
        raise QwenfeasError(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno,
                            hint="check the commas and quotes near this line") from None
    except RecursionError:
        raise QwenfeasError(f"values are nested more than {_MAX_DEPTH} levels deep", file=file) from None
    lines: dict[str, int] = {}  # each key's first line, from one pass over the text
    line, position = 1, 0
    for match in re.finditer(r'"((?:[^"\\\n]|\\.)*)"\s*:', text):
        line += text.count("\n", position, match.start())
        position = match.start()
        try:
            lines.setdefault(json.loads(f'"{match[1]}"'), line)
        except ValueError:
            continue

    def line_of(key: str) -> int | None:
        return lines.get(key)

    if repeated:
        key = repeated[0]
        written = [text.count("\n", 0, m.start()) + 1 for m in re.finditer(r'"' + re.escape(key) + r'"\s*:', text)]
        raise QwenfeasError(f"duplicate key (first written on line {written[0]})" if len(written) > 1 else
                            "duplicate key", file=file, line=written[1] if len(written) > 1 else None, key=key,
                            hint="JSON readers keep only the last value; delete one of them")

    count = [0]

    def convert(value, line: int | None, depth: int) -> Node:
        count[0] += 1
        if count[0] > _MAX_NODES:
            raise QwenfeasError("the document is too large (more than 100,000 values)", file=file)
        if depth > _MAX_DEPTH:
            raise QwenfeasError(f"values are nested more than {_MAX_DEPTH} levels deep", file=file, line=line)
        if isinstance(value, dict):
            node = Node({}, file, line)
            for key, child in value.items():
                key_line = line_of(key)
                node.value[key] = convert(child, key_line, depth + 1)
                node.key_lines[key] = key_line
            return node
        if isinstance(value, list):
            return Node([convert(item, line, depth + 1) for item in value], file, line)
        if value is None:
            return Node(None, file, line)
        if isinstance(value, bool):
            return Node("true" if value else "false", file, line)
        if isinstance(value, str):
            return Node(value, file, line, quoted=True)
        return Node(repr(value) if isinstance(value, float) else str(value), file, line)

    return convert(data, 1, 0)


def load_text(text: str, file: str) -> Node:
    """Parse one YAML document into a located Node tree."""
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _check_items(text, file)
    try:
        root = yaml.compose(text, Loader=loader_class)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = str(exc.problem or exc.context or "is not valid YAML")
        if exc.context and problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{exc.context}, {problem}"
        problem = " ".join(problem.split())
        raise QwenfeasError(f"not valid YAML: {problem}", file=file, line=line,
                            hint=_yaml_hint(problem)) from None
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["is not valid YAML"])[0]
        raise QwenfeasError(f"not valid YAML: {first}", file=file) from None
    if root is None:
        raise QwenfeasError(
            "the scenario is empty", file=file, line=1,
            hint="a scenario is a YAML mapping such as 'model: {preset: llama-2-70b}'",
        )
    if _expanded_size(root, {}, file) > _MAX_NODES:
        # Merging and validation walk the expanded tree: a few nested aliases would stand for billions of values.
        raise QwenfeasError("the document is too large: more than 100,000 values once its aliases are expanded",
                            file=file, hint="a scenario holds a few dozen values; build on a base file with "
                            "'extends:' rather than with nested aliases")
    return _convert(root, file, {}, [0], 0)


_YAML_HINTS = (  # PyYAML's problem text -> what to do about it (no hint beats a wrong one)
    ("mapping values are not allowed", "check the indentation and the ':' after each key near this line"),
    ("could not find expected ':'", "write 'key: value', with a space after the ':'"),
    ("did not find expected key", "check the indentation near this line: keys of one section line up"),
    ("expected <block end>", "check the indentation near this line: keys of one section line up"),
    ("did not find expected ','", "close the bracket or brace opened before this line"),
    ("cannot start any token", "indent with spaces, not tabs; quote a value that starts with @ or `"),
    ("found unexpected end of stream", "close the quote or bracket opened on this line"),
    ("found undefined alias", "define the anchor (&name) before using it (*name)"),
    ("expected a single document", "a scenario is one YAML document: remove the '---' separators"),
)


def _check_items(text: str, file: str) -> None:
    """Refuse, before parsing, a document with more lines and commas than any scenario has values."""
    if text.count("\n") + text.count(",") > _MAX_ITEMS:
        raise QwenfeasError(f"the document is too large: more than {_MAX_ITEMS:,} lines and items", file=file,
                            hint="a scenario holds a few dozen values; name the right file")


def _yaml_hint(problem: str) -> str | None:
    return next((hint for text, hint in _YAML_HINTS if text in problem), None)


def _expanded_size(node, sizes: dict, file: str, depth: int = 0) -> int:
    """How many values `node` stands for once every alias is expanded (shared nodes are counted once each
    time they are used, but computed once: linear in the document, not in its expansion)."""
    import yaml

    key = id(node)
    if depth > _MAX_DEPTH:
        raise QwenfeasError(f"values are nested more than {_MAX_DEPTH} levels deep", file=file,
                            line=node.start_mark.line + 1)
    if key not in sizes:
        sizes[key] = 0  # a recursive alias is cut here (PyYAML composes it as a cycle)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [value for _, value in node.value]  # keys are names, not values
        else:
            children = []
        sizes[key] = 1 + sum(_expanded_size(child, sizes, file, depth + 1) for child in children)
    return sizes[key]


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
