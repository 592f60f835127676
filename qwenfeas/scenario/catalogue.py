"""Built-in presets: model and accelerator figures kept as YAML data files.

One file per preset (`presets/models/<name>.yaml`, `presets/accelerators/<name>.yaml`),
so a scenario reads only the presets it names. Each file carries `source:`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import QwenfeasError, did_you_mean
from .source import Node, load_text

PRESET_DIR = Path(__file__).parent.parent / "presets"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")  # a file name in the catalogue, never a path
# scenario key holding a preset name -> (section it fills, folder of preset files)
KINDS = {  # a system names its accelerator preset, so it is applied before hardware.preset
    "model.preset": ("model", "models"),
    "hardware.system": ("hardware", "systems"),
    "hardware.preset": ("hardware", "accelerators"),
    "datacenter.grid": ("datacenter", "grids"),
    "datacenter.preset": ("datacenter", "datacenters"),
}


def preset_names(key: str) -> list[str]:
    """Names of the presets a key such as "hardware.preset" accepts."""
    folder = PRESET_DIR / KINDS[key][1]
    return sorted(path.stem for path in folder.glob("*.yaml"))


def load_preset(key: str, name: str, file: str | None = None, line: int | None = None) -> Node:
    """The preset's located node tree; an unknown name is an error with "did you mean"."""
    path = PRESET_DIR / KINDS[key][1] / f"{name}.yaml"
    if not _NAME.fullmatch(name) or not path.is_file():
        names = preset_names(key)
        hint = did_you_mean(name, names) or "known presets: " + ", ".join(names)
        raise QwenfeasError(f"unknown preset {name!r}", file=file, line=line, key=key, hint=hint)
    return load_text(path.read_text(encoding="utf-8"), f"preset {name}")
