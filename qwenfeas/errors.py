"""The one error type a user sees, and the exit codes of the command line.

Every mistake in a scenario is reported as a `Problem`: where it is (file, line,
key path), what is wrong, and how to fix it. `QwenfeasError` carries one or more
problems, so one run can show every mistake in a file at once.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class ExitCode(enum.IntEnum):
    """Exit status of `qwenfeas`: a contract for CI scripts."""

    OK = 0  # ran, and every check passed
    CHECK_FAILED = 1  # ran, and a limit or expectation failed
    INPUT_ERROR = 2  # could not run: bad scenario, bad option, unreadable file
    INTERNAL_ERROR = 70  # a bug in qwenfeas (sysexits EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


class Problem(NamedTuple):
    """One mistake in the input, located as precisely as it can be."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line) if part is not None)
        head = ": ".join(part for part in (where, self.key, self.message) if part)
        return head + (f"\n  hint: {self.hint}" if self.hint else "")


class QwenfeasError(Exception):
    """Bad input: a scenario, a value or an option qwenfeas cannot use."""

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.problems = list(problems) if problems else [Problem(message, file, line, key, hint)]
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def did_you_mean(word: str, candidates) -> str | None:
    """A "did you mean …?" hint for a misspelt name, or None when nothing is close."""
    import difflib

    candidates = list(candidates)
    extended = [c for c in candidates if c.startswith(word) and c != word]  # 'h100' -> 'h100-sxm' first
    matches = (extended + [m for m in difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
                           if m not in extended])[:3]
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
