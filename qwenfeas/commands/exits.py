"""Exit codes at the edge of the program: input errors, bugs, closed pipes and full disks.

The contract (errors.ExitCode): bad input exits 2 with one line per mistake and no traceback;
a bug exits 70; a reader that goes away (`qwenfeas ... | head -1`) ends the run quietly with 0,
whatever the command or format; an output that cannot be written (a full disk, /dev/full)
exits 2 with one line. Typer's own handling of a closed pipe exits 1 (the "check failed" code),
and Python's prints "Exception ignored ... BrokenPipeError" at exit, so both are caught here.
"""

from __future__ import annotations

import errno
import os
import sys

import typer

from ..errors import ExitCode, QwenfeasError
from .piped_help import trim_piped_help


class errors_to_exit:
    """Map exceptions inside a command to exit codes: bad input -> 2 with its message, bugs -> 70."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, typer.Exit):
            flush_stdout()  # an output error surfaces here, not at interpreter exit
            return False
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            return False
        if isinstance(error, QwenfeasError):
            sys.stderr.write(f"{error}\n")
            raise typer.Exit(ExitCode.INPUT_ERROR)
        if isinstance(error, OSError) and error.errno in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise typer.Exit(output_failed(error))
        if os.environ.get("QWENFEAS_DEBUG"):
            return False
        sys.stderr.write(
            f"qwenfeas: internal error: {type(error).__name__}: {error}\n"
            "  this is a bug in qwenfeas; rerun with QWENFEAS_DEBUG=1 for the traceback and please report it\n"
        )
        raise typer.Exit(ExitCode.INTERNAL_ERROR)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so nothing more (Python's flush at exit included) fails on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def output_failed(error: OSError) -> int:
    """The exit code for an error writing stdout: a closed pipe is a normal end (0), anything else 2."""
    _silence_stdout()
    if error.errno == errno.EPIPE:  # the reader went away (`| head`): stop quietly, as cat does
        return ExitCode.OK
    try:
        sys.stderr.write(f"qwenfeas: cannot write the output: {os.strerror(error.errno or errno.EIO)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return ExitCode.INPUT_ERROR


def flush_stdout() -> None:
    """Flush stdout now; a failure is raised as typer.Exit with its exit code."""
    try:
        sys.stdout.flush()
    except OSError as error:
        raise typer.Exit(output_failed(error)) from None


def run(app, prog_name: str) -> None:
    """Run the typer app and exit with its code, treating output errors as `output_failed` does
    (also for --help and --version, which run before any command)."""
    from typer._click.utils import PacifyFlushWrapper

    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere, results still flow
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (open for the rest of the process)
    if sys.stdout is None:  # started with stdout closed (>&-): nothing can be written, say so and stop
        sys.stderr.write("qwenfeas: cannot write the output: standard output is closed\n")
        sys.exit(ExitCode.INPUT_ERROR)
    stdout_before = _stdout_identity()
    trim_piped_help(sys.argv, _command_names(app))
    try:
        app(prog_name=prog_name)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        # typer (wrapping stdout) and rich (pointing stdout at /dev/null) end a closed pipe with exit 1,
        # the "check failed" code: a reader that went away is a normal end.
        closed = isinstance(sys.stdout, PacifyFlushWrapper) or (
            _stdout_identity() != stdout_before and _stdout_identity() == _identity(os.devnull))
        if code == 1 and closed:
            code = ExitCode.OK
    except OSError as error:
        if error.errno not in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        code = output_failed(error)
    try:
        sys.stdout.flush()
    except OSError as error:
        code = output_failed(error)
    sys.exit(code)


def _command_names(app) -> set[str]:
    from typer.main import get_command_name

    return {c.name or get_command_name(c.callback.__name__) for c in app.registered_commands}


def _identity(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _stdout_identity() -> tuple | None:
    """Which file descriptor 1 is open on (to tell whether something pointed it at /dev/null)."""
    try:
        info = os.fstat(1)
    except OSError:
        return None
    return info.st_dev, info.st_ino
