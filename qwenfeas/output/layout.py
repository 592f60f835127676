"""Plain-text layout for people: tables and wrapped lines that fit a width and never break a name.

rich's own tables shrink columns to the console width by cutting or folding their cells, which splits
identifiers ("kv_cache.bytes…", "qwen3-235b-a2\\n2b") that users copy into --field, --columns or
--set. This module lays text out itself, under one rule: output names, keys, preset names and numbers
are never broken. Prose (sources, notes, labels) wraps at spaces with a hanging indent. A table too wide
for the width first narrows its prose columns, then replaces long headers by numbered references
explained in a key below the table, and only then splits its columns (with their full headers) into
several blocks that repeat the leading (identifying) columns. Lines carry no trailing padding.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.text import Text

from .prose import wrap_prose

GAP = 2  # spaces between columns


class Column(NamedTuple):
    """A column: its header (may hold a newline, e.g. "name\\n(unit)"), alignment, and whether it is prose."""

    header: str
    justify: str = "left"  # "left" or "right"
    wrap: bool = False  # prose that may wrap at spaces; anything else is never broken
    style: str | None = None


def wrap_items(items: list[str], width: int, indent: str = "  ", separator: str = " · ") -> list[str]:
    """Items joined by `separator` into lines of at most `width` columns; an item is never split."""
    lines, line = [], ""
    for item in items:
        candidate = item if not line else line + separator + item
        if line and cell_len(indent + candidate) > width:
            lines.append(indent + line)
            line = item
        else:
            line = candidate
    if line:
        lines.append(indent + line)
    return lines


def _text(cell) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text(str(cell))


def _words_width(cell: Text) -> int:
    return max((cell_len(word) for word in cell.plain.split()), default=0)


def _lines_width(cell: Text) -> int:
    return max((cell_len(line) for line in cell.plain.split("\n")), default=0)


def table(columns: list[Column], rows: list[list], width: int, keep: int = 1, title: str | None = None,
          title_style: str = "bold cyan", header_style: str = "bold", show_header: bool = True) -> list[Text]:
    """The lines of a table that fits `width` columns (see the module docstring for how).

    `keep` is the number of leading columns that identify a row: repeated in every block when the
    table has to be split. Cells are text or rich Text (for colour); a newline in a cell starts a line.
    """
    cells = [[_text(cell) for cell in row] for row in rows]
    natural = [max([_lines_width(Text(c.header))] + [_lines_width(row[i]) for row in cells])
               for i, c in enumerate(columns)]
    lines = [Text(line, style=title_style) for line in wrap_prose(title, width)] if title else []
    widths = _fit(columns, cells, natural, width)
    if widths is not None or not show_header:
        widths = widths or _fit(columns, cells, natural, width, force=True)
        if sum(widths) + GAP * (len(widths) - 1) > width:  # no header to number: each row on its own lines
            return lines + _listed(columns, cells, width)
        return lines + _render(columns, [c.header for c in columns], cells, widths, header_style, show_header)
    # Long headers become [1], [2], ... with a key below: the values keep their full width.
    refs = [f"[{i + 1}]" if _lines_width(Text(c.header)) > max([len(f"[{i + 1}]")] + [_lines_width(r[i]) for r in cells])
            else c.header for i, c in enumerate(columns)]
    short = [max([_lines_width(Text(h))] + [_lines_width(row[i]) for row in cells]) for i, h in enumerate(refs)]
    key = [Text(f"{ref} {c.header.replace(chr(10), ' ')}", style="dim") for ref, c in zip(refs, columns, strict=True)
           if ref != c.header]
    widths = _fit(columns, cells, short, width)
    if widths is not None:
        return lines + _render(columns, refs, cells, widths, header_style) + key
    # Still too wide: blocks of columns, each repeating the first `keep` columns; full headers unless
    # the numbered ones (with the key) need fewer blocks.
    keep = min(keep, len(columns) - 1)
    blocks = _pack(natural, keep, width)
    numbered = _pack(short, keep, width)
    if len(numbered) < len(blocks):
        blocks, widths, headers = numbered, short, refs
    else:
        widths, headers, key = natural, [c.header for c in columns], []
    fitted = []
    for block in blocks:
        chosen = list(range(keep)) + block
        sub_widths = _fit([columns[j] for j in chosen], [[row[j] for j in chosen] for row in cells],
                          [widths[j] for j in chosen], width, force=True)
        if sum(sub_widths) + GAP * (len(sub_widths) - 1) > width:  # whole words cannot sit side by side
            return lines + _stacked(columns, cells, width, header_style)
        fitted.append((chosen, sub_widths))
    for number, (chosen, sub_widths) in enumerate(fitted):
        sub_columns = [columns[j] for j in chosen]
        sub_cells = [[row[j] for j in chosen] for row in cells]
        if number:
            lines.append(Text())
        lines += _render(sub_columns, [headers[j] for j in chosen], sub_cells, sub_widths, header_style)
    return lines + key


def _stacked(columns, cells, width: int, header_style: str) -> list[Text]:
    """One block per row, for tables whose whole words are too wide to stand side by side: the row's
    first cell on a line of its own, then `header: value` lines wrapped under it."""
    lines: list[Text] = []
    for number, row in enumerate(cells):
        if number:
            lines.append(Text())
        lines.append(Text(row[0].plain, style=header_style))
        for column, cell in zip(columns[1:], row[1:], strict=True):
            label = f"  {column.header.replace(chr(10), ' ')}: "
            lines += [Text(line) for line in wrap_prose(cell.plain, width, "    ", label)]
    return lines


def _listed(columns, cells, width: int) -> list[Text]:
    """Rows of a headerless table too wide for its whole words side by side: the first cell wrapped
    on lines of its own, the others under it, indented, side by side where they fit."""
    lines: list[Text] = []
    for row in cells:
        lines += _cell_lines(row[0], width, True)
        line = Text("  ")
        for column, cell in zip(columns[1:], row[1:], strict=True):
            piece = cell.copy()
            if column.style:
                piece.stylize(column.style)
            if line.plain.strip() and cell_len(line.plain) + GAP + cell_len(piece.plain) > width:
                lines.append(line)
                line = Text("  ")
            elif line.plain.strip():
                line.append(" " * GAP)
            line.append_text(piece)
        lines.append(line)
    return lines


def _pack(widths: list[int], keep: int, width: int) -> list[list[int]]:
    """Columns after the first `keep` in blocks that fit `width` beside those (at least one each)."""
    blocks, block = [], []
    base = sum(widths[:keep]) + GAP * keep
    for i in range(keep, len(widths)):
        if block and base + sum(widths[j] + GAP for j in block) + widths[i] > width:
            blocks.append(block)
            block = []
        block.append(i)
    return blocks + [block]


def _fit(columns, cells, natural: list[int], width: int, force: bool = False) -> list[int] | None:
    """Column widths within `width`, narrowing prose columns down to their longest word; None if impossible
    (or, with `force`, the narrowest widths that keep every word whole)."""
    widths = list(natural)
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    if excess <= 0:
        return widths
    prose = [i for i, c in enumerate(columns) if c.wrap]
    floors = {i: max([_words_width(Text(columns[i].header))] + [_words_width(row[i]) for row in cells] + [8])
              for i in prose}
    room = sum(max(0, widths[i] - floors[i]) for i in prose)
    if room < excess and not force:
        return None
    for i in sorted(prose, key=lambda i: widths[i] - floors[i], reverse=True):  # widest first
        cut = min(widths[i] - floors[i], excess)
        widths[i] -= cut
        excess -= cut
        if excess <= 0:
            break
    return widths


def _cell_lines(cell: Text, width: int, wrap: bool) -> list[Text]:
    if not wrap:
        return cell.split("\n", allow_blank=True)
    out: list[Text] = []
    for part in cell.split("\n", allow_blank=True):
        wrapped = wrap_prose(part.plain, width)
        position = 0
        for line in wrapped:  # keep the cell's styles: cut the same spans out of the styled text
            start = part.plain.index(line, position) if line else position
            out.append(part[start:start + len(line)])
            position = start + len(line)
    return out


def _render(columns, headers, cells, widths, header_style, show_header: bool = True) -> list[Text]:
    lines = []
    if show_header:
        lines = _row_lines(columns, [Text(h, style=header_style) for h in headers], widths, header=True)
        lines.append(Text("  ".join("─" * w for w in widths), style="dim"))
    for row in cells:
        lines += _row_lines(columns, row, widths)
    return lines


def _row_lines(columns, row, widths, header: bool = False) -> list[Text]:
    parts = [_cell_lines(cell, w, c.wrap and not header) for c, cell, w in zip(columns, row, widths, strict=True)]
    height = max(len(p) for p in parts)
    lines = []
    for k in range(height):
        line = Text()
        for i, (c, part, w) in enumerate(zip(columns, parts, widths, strict=True)):
            piece = part[k] if k < len(part) else Text()
            pad = " " * max(0, w - cell_len(piece.plain))
            if i:
                line.append(" " * GAP)
            if c.style and not header:
                piece.stylize(c.style)
            line.append_text(Text(pad) + piece if c.justify == "right" else piece + Text(pad))
        line.rstrip()
        lines.append(line)
    return lines
