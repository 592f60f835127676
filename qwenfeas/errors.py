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
        head = ": ".join(cut(part) for part in (where, self.key, self.message) if part)
        return head + (f"\n  hint: {cut(self.hint, 5 * MAX_QUOTED)}" if self.hint else "")


# An error line quotes what it complains about; a 100,000-digit number or a pasted file is cut to this.
MAX_QUOTED = 200


def cut(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` on one line, its middle elided past `limit` characters (saying how much was left out)."""
    text = " ".join(str(text).splitlines()) if "\n" in str(text) or "\r" in str(text) else str(text)
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}…[{len(text) - 2 * keep:,} characters]…{text[-keep:]}"


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
        found = list(problems) if problems else [Problem(message, file, line, key, hint)]
        self.problems = list(dict.fromkeys(found))  # one line per mistake, however many files repeat it
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = [str(problem) for problem in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(self.problems) - MAX_PROBLEMS:,} more problems of the same kind or later")
        return "\n".join(shown)


_LONGEST_NAME = 100
# A run reports at most this many mistakes in full; the rest are counted (50,000 misspelt keys
# would otherwise cost seconds of "did you mean" and a screenful nobody reads).
MAX_PROBLEMS = 50


def did_you_mean(word: str, candidates) -> str | None:
    """A "did you mean …?" hint for a misspelt name, or None when nothing is close."""
    import difflib

    if len(word) > _LONGEST_NAME:  # no name is this long; comparing would only cost time
        return None
    candidates = list(candidates)
    extended = [c for c in candidates if c.startswith(word) and c != word]  # 'h100' -> 'h100-sxm' first
    matches = (extended + [m for m in difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
                           if m not in extended])[:3]
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m) for m in matches) + "?"
