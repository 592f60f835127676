"""Prose for people, without rich: the width of the terminal, wrapped paragraphs, and stderr messages.

Warnings and notes on stderr are wrapped like the tables on stdout: at the terminal's width, at
COLUMNS when the stream is piped (else 80), at spaces only, so a name, key, path or number is never
split; continuation lines are indented two spaces. Errors (`FILE:LINE: key: what` and `hint:`) are
not wrapped: editors and CI tools read them one line each. Nothing here imports rich, so the JSON
path stays light.
"""

from __future__ import annotations

import os
import sys

FALLBACK_WIDTH = 80
CONTINUATION = "  "


def cell_len(text: str) -> int:
    """Columns `text` takes in a terminal: East Asian wide characters count two, combining marks none."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def terminal_width(stream=None) -> int:
    """COLUMNS when set (as rich reads it), else the width of the terminal `stream` is on, else 80."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stderr if stream is None else stream
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns or FALLBACK_WIDTH
    except (AttributeError, ValueError, OSError):  # a closed stream, or one with no descriptor (a test runner)
        pass
    return FALLBACK_WIDTH


def wrap_prose(text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
    """`text` wrapped at spaces to `width`, with a hanging indent; words (names, numbers) stay whole.

    A paragraph break (newline) in `text` starts a new line. A word longer than the width stands alone
    on its line, whole: a path or a key is worth more whole than inside the width.
    """
    import textwrap

    first = indent if first is None else first
    lines: list[str] = []
    text = str(text)
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    if first.strip() and cell_len(first + head) > width:  # a long name and a long first word: name alone
        lines.append(first.rstrip())
    for paragraph in text.split("\n"):
        wrapped = textwrap.wrap(paragraph, width=max(width, len(first) + 1), initial_indent=first if not lines
                                else indent, subsequent_indent=indent, break_long_words=False,
                                break_on_hyphens=False) or [first if not lines else indent]
        lines.extend(line.rstrip() for line in wrapped)
    return lines


def message(label: str, text: str, width: int | None = None) -> str:
    """One stderr message (`warning: FILE: text`), wrapped to the width, ending in a newline."""
    width = terminal_width() if width is None else width
    return "\n".join(wrap_prose(text, width, CONTINUATION, f"{label}: ")) + "\n"


def write_messages(messages) -> None:
    """Write (label, text) messages to stderr, each once and wrapped, in the order given."""
    width = terminal_width()
    sys.stderr.write("".join(dict.fromkeys(message(label, text, width) for label, text in messages)))


def fold_yaml(text: str, width: int) -> str:
    """YAML text with its long lines folded to `width`, loading to the same data as `text`.

    A comment continues on comment lines at its own column; a long value (a plain or quoted scalar,
    or a line of a `>` block) continues on lines indented under its key, which YAML reads back as
    the same one-line value. A line that cannot be folded so (a `|` block, a long word) is kept whole.
    Every fold is checked by loading the result: the text shown is the text that can be copied.
    """
    original = _loads(text)
    if original is _NOT_YAML:
        return text
    lines = _reflow_folded_blocks(text.split("\n"), width)
    if _loads("\n".join(lines)) != original:
        lines = text.split("\n")
    done: list[str] = []
    for index, line in enumerate(lines):
        if cell_len(line) > width:
            line = next(("\n".join(folded) for folded in _foldings(line, width)
                         if _loads("\n".join([*done, *folded, *lines[index + 1:]])) == original), line)
        done.append(line)
    return "\n".join(done)


_NOT_YAML = object()


def _loads(text: str):
    """The data of YAML text, or _NOT_YAML (equal to no data) when it does not parse."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return _NOT_YAML


def _reflow_folded_blocks(lines: list[str], width: int) -> list[str]:
    """Each `key: >` block, and each run of comment lines, with a line over `width` wrapped again as
    one paragraph at its indent (YAML joins a folded block's lines with spaces: the value is the same)."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        if line.lstrip().startswith("#"):  # a comment paragraph: its lines wrapped again together
            block = []
            while index < len(lines) and lines[index].startswith(indent + "#"):
                block.append(lines[index])
                index += 1
            if any(cell_len(b) > width for b in block):
                block = wrap_prose(" ".join(b.strip().lstrip("#").strip() for b in block), width, indent + "# ")
            out.extend(block)
            continue
        out.append(line)
        index += 1
        if not line.rstrip().endswith((": >", ": >-")):
            continue
        block = []
        while index < len(lines) and lines[index].strip() and lines[index].startswith(" "):
            block.append(lines[index])
            index += 1
        indent = block[0][: len(block[0]) - len(block[0].lstrip())] if block else ""
        if block and all(b.startswith(indent) and not b[len(indent)].isspace() for b in block) and any(
                cell_len(b) > width for b in block):
            block = wrap_prose(" ".join(b.strip() for b in block), width, indent)
        out.extend(block)
    return out


def _foldings(line: str, width: int) -> list[list[str]]:
    """Ways to fold one YAML line at spaces, the likeliest first: a comment under its `#`; a value
    under its key plus two spaces; a line of a `>` block (or of a long plain value) at its own indent."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    if body.startswith("#"):
        return [wrap_prose(body.lstrip("#").strip(), width, indent + "# ")]
    comment = _comment_start(line)
    if comment is not None:  # `key: value  # comment`: the comment continues under its `#`
        head, remark = line[:comment], line[comment:].lstrip("#").strip()
        if cell_len(head) + 12 <= width:
            return [wrap_prose(remark, width, " " * cell_len(head) + "# ", head + "# ")]
        heads = _foldings(head.rstrip(), width) if cell_len(head.rstrip()) > width else [[head.rstrip()]]
        return [[*folded, *wrap_prose(remark, width, indent + "# ")] for folded in heads]
    ways = []
    key, colon, value = body.partition(": ")
    if colon and not value.startswith(("|", ">", "&", "*", "!", "[", "{", "'")):
        ways.append(wrap_prose(value, width, indent + "  ", f"{indent}{key}: "))
    return [*ways, wrap_prose(body, width, indent, indent)]


def _comment_start(line: str) -> int | None:
    """Where a trailing `# comment` starts on a YAML line (outside quotes), or None."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'" and (i == 0 or line[i - 1] in " :[{,"):
            quote = char
        elif char == "#" and i > 0 and line[i - 1] in " \t" and line[:i].strip():
            return i
    return None
