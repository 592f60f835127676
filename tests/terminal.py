"""Run the command line on a pseudo-terminal, as a user's shell would, and read what it printed."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def on_a_terminal(args, env: dict, width: int | None = None, stream: str = "stdout") -> str:
    """What `python -m qwenfeas ARGS` writes to `stream` (stdout or stderr) on a pseudo-terminal, raw
    (escape codes kept); `width` sets the terminal's columns, `env` the environment beside PATH."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    if width is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    other = "stderr" if stream == "stdout" else "stdout"
    streams = {stream: follower, other: subprocess.DEVNULL}
    process = subprocess.Popen([sys.executable, "-m", "qwenfeas", *args], **streams, cwd=ROOT,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(leader)
    return b"".join(chunks).decode()
