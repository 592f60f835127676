"""The README shows what the program prints: every `$ COMMAND` block is its real output (`make readme`)."""

from __future__ import annotations

import readme  # tests/readme.py: the regeneration `make readme` runs


def test_the_readme_shows_the_program_s_real_output():
    text = readme.README.read_text(encoding="utf-8")
    assert len(readme.commands(text)) >= 3  # the first example, an error, the roadmap
    regenerated = readme.regenerate(text)
    if regenerated != text:
        import difflib

        diff = "".join(list(difflib.unified_diff(text.splitlines(True), regenerated.splitlines(True), "README.md",
                                                 "program output"))[:60])
        raise AssertionError("README.md has drifted from the program: run `make readme`\n" + diff)
