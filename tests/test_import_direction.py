"""Imports flow one way along the wings (DESIGN.md): cli → commands → output, estimates, verdict →
training, serving, accounting → architecture → report → scenario → formulas; errors serves all.

Every import statement in the package is read with `ast`, including those inside functions
(the lazy imports that keep start-up fast), and resolved to the wing it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qwenfeas"

# Wing -> rank: a module may import its own wing and any wing of a lower rank.
RANKS = {
    "cli": 8, "__main__": 8,
    "commands": 7,
    "output": 6, "estimates": 6, "verdict": 6,
    "training": 5, "serving": 5, "accounting": 5,
    "architecture": 4,
    "report": 3,
    "scenario": 2,
    "formulas": 1,
    "errors": 0, "__init__": 0,
}
# Same-rank imports between different wings that the design allows.
ALLOWED_ACROSS = {
    ("output", "verdict"),  # the tables and JUnit render verdicts
    ("__main__", "cli"),  # `python -m qwenfeas` is the command line
}


def wing_of(module: str) -> str:
    """'qwenfeas.scenario.load' -> 'scenario'; 'qwenfeas' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module) of every qwenfeas import in the file."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "qwenfeas" or target.startswith("qwenfeas."):
                # `from . import training` names a submodule: count each imported name as a module
                names = [f"{target}.{a.name}" for a in node.names] if target.count(".") < 1 else [target]
                found += [(node.lineno, t) for t in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("qwenfeas")]
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        source = wing_of(module_name(path, root))
        for line, target in imported_modules(path, root):
            wing = wing_of(target)
            if wing not in RANKS:  # e.g. `from qwenfeas import __version__`
                wing = "__init__"
            if source == "__init__" or wing == source or wing in ("errors", "__init__"):
                continue
            if RANKS[wing] > RANKS[source] or (RANKS[wing] == RANKS[source] and (source, wing) not in ALLOWED_ACROSS):
                bad.append(f"{path.relative_to(root.parent)}:{line}: {source} imports {target} ({wing})")
    return bad


def test_every_module_belongs_to_a_wing():
    wings = {wing_of(module_name(p)) for p in PACKAGE.rglob("*.py") if module_name(p) != "qwenfeas"}
    assert wings <= set(RANKS), f"modules outside the known wings: {wings - set(RANKS)}"


def test_imports_only_flow_down():
    assert violations() == []


@pytest.mark.parametrize("source, target", [
    ("formulas/flops.py", "from ..output import render"),
    ("scenario/units.py", "from ..estimates import estimate"),
    ("training/metrics.py", "from ..serving import add_serving"),
    ("report.py", "from .verdict import judge"),
])
def test_an_upward_import_is_caught(tmp_path, source, target):
    """Plant one upward import in a copy of the package: the check must name it."""
    import shutil

    copy = tmp_path / "qwenfeas"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "presets"))
    planted = copy / source
    planted.write_text(planted.read_text(encoding="utf-8") + f"\n{target}\n", encoding="utf-8")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(f"qwenfeas/{source}:"), found


@pytest.mark.parametrize("arguments", [["--version"], ["estimate", "configs/default.yaml", "--format", "json"]])
def test_start_up_imports_neither_numpy_nor_rich(arguments):
    """The two commands a shell loop runs most stay lazy (`python -X importtime` lists every import)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "qwenfeas", *arguments], capture_output=True,
                          text=True, cwd=PACKAGE.parent, check=True)
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "qwenfeas" in imported  # the listing is real
    assert not imported & {"numpy", "rich"}
