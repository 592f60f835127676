"""Every example in every command's --help runs as written (placeholders mapped to bundled scenarios).

`plan.yaml` and friends stand for the user's own files: they are replaced by bundled scenarios of the
same kind, and the example is run through the shell from an empty directory. An example must exit
0 or 1 (a check may fail), print something, and a `jq` filter in it must not answer `null`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hf_fixtures import shared_hf_configs

from qwenfeas.cli import app

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
PUBLISHED = sorted((CONFIGS / "published").glob("*.yaml")) if (CONFIGS / "published").is_dir() else []

HF_CONFIGS = shared_hf_configs()


PLACEHOLDERS = {  # the user's files in the examples -> bundled files of the same kind
    "plan-h100.yaml": str(CONFIGS / "dense-70b-pretrain.yaml"),
    "plan-b200.yaml": str(CONFIGS / "default.yaml"),
    "plans/*.yaml": str(CONFIGS / "*.yaml"),
    "configs/": str(CONFIGS) + "/",
    "~/models/Qwen3-8B/config.json": str((HF_CONFIGS or Path("no-fixtures")) / "qwen3-8b.json"),
    "| less": "| head",
}


def examples() -> list[tuple[str, str]]:
    """(command, example) for every `qwenfeas ...` example in the commands' help."""
    found = []
    click_app = typer.main.get_command(app)

    def walk(group, prefix):
        for name, command in getattr(group, "commands", {}).items():
            for example in re.findall(r"`(qwenfeas [^`]+)`", command.help or ""):
                found.append((f"{prefix}{name}", example))
            walk(command, f"{prefix}{name} ")
    walk(click_app, "")
    for example in re.findall(r"`(qwenfeas [^`]+)`", click_app.help or ""):
        found.append(("", example))
    return found


def _shell(example: str, command: str) -> str:
    pattern = "|".join(re.escape(placeholder) for placeholder in PLACEHOLDERS)
    example = re.sub(pattern, lambda m: PLACEHOLDERS[m[0]], example)  # one pass: no path replaced twice
    serving = [p for p in PUBLISHED if "serving_layout:" in p.read_text(encoding="utf-8")]
    plan = str(serving[0]) if command == "serve" and serving else str(CONFIGS / "default.yaml")
    if command == "sweep":
        plan = str(CONFIGS / "qwen3-235b-serving-128k.yaml") if "context=" in example else plan
    return re.sub(r"(?<![\w/.-])plan\.yaml", plan, example)


@pytest.mark.parametrize(("command", "example"), examples(), ids=lambda value: str(value)[:60])
def test_a_help_example_runs_as_written(tmp_path, command, example):
    if "jq" in example and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    line = _shell(example, command)
    if "--hf-config" in line and HF_CONFIGS is None:
        pytest.skip("the Hugging Face config fixture is not beside the repository")
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""), "NO_COLOR": "1",
           "COLUMNS": "100"}
    result = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert result.returncode in (0, 1), f"{line}\n{result.stderr[-2000:]}"
    written = [p for p in tmp_path.iterdir()]
    assert result.stdout.strip() or written, line
    if "jq" in example:
        assert "null" not in result.stdout.split(), f"{line} answered null"
