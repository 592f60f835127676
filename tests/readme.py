"""Regenerate every command output shown in README.md (`make readme`), or report drift (the tests).

A README block regenerated here is a ```text fence whose first line is `$ COMMAND`: the command is
run from the repository root through the shell, exactly as written (pipes included), with the
installed `qwenfeas` first on PATH, 80 columns and no colour, and the block's body becomes its
output. Standard error is shown only when the command itself says `2>&1`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```text\n\$ (?P<command>[^\n]+)\n(?P<body>.*?)^```$", re.M | re.S)


def output_of(command: str) -> str:
    """What `command` prints on an 80-column pipe, as a reader would see it."""
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
           "NO_COLOR": "1", "COLUMNS": "80", "LC_ALL": "C.UTF-8", "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode not in (0, 1, 2) or (result.returncode == 2 and "2>&1" not in command):
        raise SystemExit(f"README command failed ({result.returncode}): {command}\n{result.stderr}")
    return result.stdout


def regenerate(text: str) -> str:
    """The README with every `$ COMMAND` block's output replaced by the command's real output."""
    return BLOCK.sub(lambda m: f"```text\n$ {m['command']}\n{output_of(m['command'])}```", text)


def commands(text: str) -> list[str]:
    return [m["command"] for m in BLOCK.finditer(text)]


if __name__ == "__main__":
    README.write_text(regenerate(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"README.md: regenerated the output of {len(commands(README.read_text(encoding='utf-8')))} commands")
