"""Scenario files: finding them (bundled names, folders, globs) and reading them safely.

Every read is bounded (source.read_bounded: a size cap, no blocking on a FIFO); `extends:` and
`config.json` files must be regular files; `.json` files are parsed with the json module. Any
failure is a QwenfeasError naming the file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import QwenfeasError, did_you_mean
from .source import Node, load_json, load_text, read_bounded, read_stream

STDIN = "-"
STDIN_LABEL = "<stdin>"


def bundled_configs() -> Path | None:
    """The bundled scenarios: `qwenfeas/configs` in an installed wheel, `configs/` beside the package
    in a source checkout."""
    package = Path(__file__).resolve().parents[1]
    return next((folder for folder in (package / "configs", package.parent / "configs") if folder.is_dir()), None)


def bundled(path: str) -> str:
    """`path` itself when it exists, else the bundled scenario or folder of that name (`default`,
    `roadmap`, `reasoning-1m.yaml`), so the examples work from any directory; else `path` unchanged."""
    if path == STDIN or os.path.lexists(path) or os.path.isabs(path):
        return path
    folder = bundled_configs()
    for candidate in ((folder / path, folder / f"{path}.yaml") if folder else ()):
        if _exists(candidate):
            return str(candidate)
    return path


def _exists(path) -> bool:
    """Path.exists without its exceptions: a name too long or holding a NUL simply does not exist."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def is_folder(path) -> bool:
    """Path.is_dir without its exceptions (a name too long is not a folder)."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def expand_paths(paths) -> list[str]:
    """Files named, YAML files under directories named (recursively), and glob matches, in order."""
    import glob

    files: list[str] = []
    for path in map(str, paths):
        path = bundled(path)
        if path == STDIN:
            files.append(path)
        elif is_folder(path):
            found = sorted(p for p in Path(path).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise QwenfeasError("holds no *.yaml or *.yml files", file=path)
            files.extend(map(str, found))
        elif any(char in path for char in "*?["):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise QwenfeasError("no file matches this pattern", file=path)
            files.extend(matches)
        else:
            files.append(path)
    return files


def stdin_at_most_once(paths) -> list:
    """The paths as a list; '-' named twice is an error (the second read would find stdin empty)."""
    paths = list(paths)
    if sum(str(path) == STDIN for path in paths) > 1:
        raise QwenfeasError("'-' is named more than once: standard input can be read only once", file=STDIN_LABEL,
                            hint="name '-' once; save the other scenarios to files")
    return paths


def read_text(path: str | Path) -> tuple[str, str]:
    """(label, text) of a scenario file, or of stdin for `-`."""
    if str(path) == STDIN:
        if sys.stdin is None or sys.stdin.isatty():
            raise QwenfeasError(
                "'-' reads a scenario from standard input, but nothing is piped in",
                file=STDIN_LABEL, hint="pipe a file in (cat plan.yaml | qwenfeas estimate -) or name a file",
            )
        stream = getattr(sys.stdin, "buffer", None)
        return STDIN_LABEL, read_stream(stream, STDIN_LABEL) if stream is not None else sys.stdin.read()
    path = bundled(str(path))
    return path, read_file(path)


def read_file(path: str | Path, regular_only: bool = False, label: str | None = None) -> str:
    """The text of a scenario or config file, read within the size cap; every failure is a QwenfeasError."""
    path = Path(path)
    label = str(path) if label is None else label
    try:
        return read_bounded(path, label, regular_only)
    except FileNotFoundError:
        hint = None
        try:
            if path.parent.is_dir():
                hint = did_you_mean(path.name, [p.name for p in path.parent.iterdir()])
        except OSError:
            pass
        raise QwenfeasError("no such file", file=label, hint=hint) from None
    except IsADirectoryError:
        raise QwenfeasError("is a directory, not a scenario file", file=label,
                            hint="name the YAML files in it, e.g. " + label.rstrip("/") + "/*.yaml") from None
    except OSError as exc:
        raise QwenfeasError(f"cannot be read: {exc.strerror or exc}", file=label) from None
    except ValueError as exc:  # an embedded NUL byte and the like
        raise QwenfeasError(f"is not a usable file path ({exc})", file=repr(label)) from None


def parse(text: str, label: str) -> Node:
    """A located node tree: `.json` files through the json module, anything else as YAML."""
    return load_json(text, label) if label.lower().endswith(".json") else load_text(text, label)
