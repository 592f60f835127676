"""Where the real Hugging Face config.json fixtures are: shared/fixtures/hf_configs beside the repository.

QWENFEAS_HF_CONFIGS names another folder. The repository sits beside shared/ in the main checkout
and in CI, two levels deeper in a worktree, so the nearest enclosing folder that has one is used.
Tests that need the real files skip when there are none.
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_hf_configs() -> Path | None:
    """The folder of real config.json files, or None when there is none."""
    if "QWENFEAS_HF_CONFIGS" in os.environ:
        folder = Path(os.environ["QWENFEAS_HF_CONFIGS"])
        return folder if folder.is_dir() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "hf_configs"
        if candidate.is_dir():
            return candidate
    return None
