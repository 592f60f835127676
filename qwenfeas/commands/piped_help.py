"""Help text written to a pipe or a file, without the blank padding rich adds to the terminal's width.

rich pads every line of typer's help to the console width (80 columns when stdout is not a
terminal), so `qwenfeas estimate --help | cat` ends a dozen lines in runs of spaces, which diff and
grep trip over. On a terminal the padding is invisible and the help is left exactly as rich draws
it; elsewhere, while help may be printed, stdout trims each line's trailing blanks (colour codes at
the end of a line are kept, the blanks before them dropped).
"""

from __future__ import annotations

import re
import sys

_HELP_OPTIONS = ("-h", "--help")
# blanks at the end of a line, ahead of any colour codes that close it
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")


def trim(line: str) -> str:
    """A line of text without its trailing blanks (closing colour codes kept)."""
    return _TRAILING.sub(r"\1", line)


class TrimmedLines:
    """A text stream that writes whole lines to `stream`, each without its trailing blanks."""

    def __init__(self, stream):
        self.stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            self.stream.write("".join(trim(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.stream.write(trim(self._partial))
            self._partial = ""
        self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ...: the wrapped stream's
        return getattr(self.stream, name)


def may_print_help(argv: list[str], commands: set[str]) -> bool:
    """Whether these arguments can print help: no arguments, a group without its command (typer
    shows the group's help), or -h/--help before any `--`."""
    args = argv[1:]
    if not args or (len(args) == 1 and args[0] not in commands):
        return True
    options = args[:args.index("--")] if "--" in args else args
    return any(arg in _HELP_OPTIONS for arg in options)


def trim_piped_help(argv: list[str], commands: set[str]) -> bool:
    """Point sys.stdout at a TrimmedLines when help may go to something other than a terminal;
    True when it did (its last partial line is written when stdout is flushed: exits.run does)."""
    stdout = sys.stdout
    if stdout is None or not may_print_help(argv, commands):
        return False
    try:
        if stdout.isatty():
            return False
    except (AttributeError, ValueError, OSError):
        pass
    sys.stdout = TrimmedLines(stdout)
    return True
