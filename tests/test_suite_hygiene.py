"""The suite itself (issue 16): no test names a path outside the repository, none asserts only on its
own constants, none accepts a success and an input error alike, none checks nothing.

Each check reads the test files' syntax trees, so a new test that breaks a rule fails here with its
file and line. The checks are deliberately narrow: each finds one shape of test that cannot fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FILES = sorted(path for path in TESTS.rglob("*.py") if "golden" not in path.parts)

# Absolute paths a test may name: the system's devices and kernel files (a special file the CLI must
# refuse or leave alone, the same on every Linux) and the standard PATH a subprocess falls back to. Anything else (a home, a checkout, /work,
# /opt) is one machine's layout.
SYSTEM_PATHS = ("/dev/", "/proc/", "/usr/bin:/bin", "/usr/bin", "/bin", "/tmp")

# Calls whose result depends only on their arguments: an assert built from these and literals still
# compares the test's own constants.
PURE_CALLS = {"approx", "ceil", "floor", "sqrt", "log", "log2", "exp", "round", "int", "float", "abs", "min",
              "max", "sum", "len", "isclose"}


def _trees():
    for path in FILES:
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(TESTS.parent)}:{node.lineno}"


def outside_paths(path: Path, tree: ast.AST) -> list[str]:
    # a mapping's keys are text the test replaces (a placeholder in --help), not paths it opens
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in keys:
            text = node.value
            if " " in text or "\n" in text:
                continue
            if (text.startswith("/") and text.count("/") >= 2 and not text.startswith(SYSTEM_PATHS)) \
                    or text[1:3] == ":\\" or (text.startswith("~/") and len(text) > 2):
                found.append(f"{_where(path, node)}: {text!r}")
    return found


def _constant_names(tree: ast.Module) -> set[str]:
    """Module-level names bound once to an expression of literals (and of earlier such names)."""
    names: set[str] = set()
    counts: dict[str, int] = {}
    for statement in tree.body:
        if not isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    counts[node.id] = counts.get(node.id, 0) + 1
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if counts.get(name) == 1 and _is_constant(node.value, names) and not _mutable(node.value):
                names.add(name)
    return names


def _mutable(node: ast.AST) -> bool:
    """A list, set or dict display: the test may fill it (`found = []` then `found.append(...)`)."""
    return isinstance(node, (ast.List, ast.Set, ast.Dict))


def _is_constant(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left, names) and _is_constant(node.right, names)
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand, names)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(item, names) for item in node.elts)
    if isinstance(node, ast.Compare):
        return _is_constant(node.left, names) and all(_is_constant(c, names) for c in node.comparators)
    if isinstance(node, ast.BoolOp):
        return all(_is_constant(value, names) for value in node.values)
    if isinstance(node, ast.Call):
        function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return function in PURE_CALLS and all(_is_constant(a, names) for a in node.args) \
            and all(_is_constant(k.value, names) for k in node.keywords)
    return False


def own_constant_asserts(path: Path, tree: ast.Module) -> list[str]:
    names = _constant_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            stores: dict[str, int] = {}
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    stores[sub.id] = stores.get(sub.id, 0) + 1
            local = names - set(stores) - {arg.arg for arg in node.args.args}
            # a local bound once, at the function's top level, to literals is the test's own constant too
            for statement in node.body:
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                        and isinstance(statement.targets[0], ast.Name) and stores[statement.targets[0].id] == 1 \
                        and _is_constant(statement.value, local) and not _mutable(statement.value):
                    local.add(statement.targets[0].id)
            for statement in ast.walk(node):
                if isinstance(statement, ast.Assert) and _is_constant(statement.test, local):
                    found.append(f"{_where(path, statement)}: {ast.unparse(statement.test)[:80]}")
    return found


def either_outcome_asserts(path: Path, tree: ast.AST) -> list[str]:
    """`exit_code in (0, 2)`: a run that succeeds and one that reports an input error both pass."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) \
                and node.left.attr in ("exit_code", "returncode") and isinstance(node.ops[0], ast.In) \
                and isinstance(node.comparators[0], (ast.Tuple, ast.Set, ast.List)):
            codes = {item.value for item in node.comparators[0].elts if isinstance(item, ast.Constant)}
            if 0 in codes and 2 in codes:
                found.append(f"{_where(path, node)}: {ast.unparse(node)}")
    return found


def _checks(node: ast.AST) -> bool:
    """Does this code assert, expect an exception or fail explicitly?"""
    return any(isinstance(sub, ast.Assert) or (isinstance(sub, ast.Attribute) and sub.attr in ("raises", "fail"))
               for sub in ast.walk(node))


def _checking_helpers(tree: ast.Module, seen: tuple[str, ...] = ()) -> set[str]:
    """The functions of a test file (and those it imports from other test files) that check something."""
    helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    checking = {name for name, node in helpers.items() if _checks(node)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("test_") \
                and node.module not in seen and (TESTS / f"{node.module}.py").exists():
            source = ast.parse((TESTS / f"{node.module}.py").read_text(encoding="utf-8"))
            theirs = _checking_helpers(source, (*seen, node.module))
            checking |= {alias.asname or alias.name for alias in node.names if alias.name in theirs}
    for _ in range(3):  # helpers that call checking helpers check too
        checking |= {name for name, node in helpers.items()
                     if any(isinstance(sub, ast.Call) and getattr(sub.func, "id", None) in checking
                            for sub in ast.walk(node))}
    return checking


def unchecked_tests(path: Path, tree: ast.Module) -> list[str]:
    """A test with no assert, no pytest.raises and no call to a helper that has one."""
    if not path.name.startswith("test_"):
        return []
    checking = _checking_helpers(tree)
    return [f"{_where(path, node)}: {node.name}" for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test") and node.name not in checking]


@pytest.mark.parametrize("check", [outside_paths, own_constant_asserts, either_outcome_asserts,
                                   unchecked_tests],
                         ids=lambda check: check.__name__)
def test_no_test_file_breaks_the_rule(check):
    found = [line for path, tree in _trees() for line in check(path, tree)]
    assert not found, "\n".join(found)


# --- the checkers find what they are meant to find ----------------------------------------------------

def _parse(text: str) -> tuple[Path, ast.Module]:
    return TESTS / "test_example.py", ast.parse(text)


def test_the_checkers_find_each_shape():
    path, tree = _parse('DATA = "/work/shared/fixtures/x.json"\nHOME = "/home/me/qwenfeas"\nDEV = "/dev/null"\n')
    assert [line.split(": ", 1)[1] for line in outside_paths(path, tree)] == [
        "'/work/shared/fixtures/x.json'", "'/home/me/qwenfeas'"]
    path, tree = _parse("import math, pytest\nN = 6 * 7\nM = N + 1\n"
                        "def test_a():\n    assert N == pytest.approx(42)\n"          # own constants: found
                        "def test_b(run):\n    assert run('x')['y'] == N\n"           # the program: fine
                        "def test_c():\n    assert math.ceil(M / 2) == 22\n"          # own constants: found
                        "def test_d():\n    N = compute()\n    assert N == 42\n"      # a local N: fine
                        "def test_h():\n    a = 2 * N\n    assert a == 84\n")     # a local constant: found
    assert [line.split(":")[1] for line in own_constant_asserts(path, tree)] == ["5", "9", "15"]
    path, tree = _parse("def test_e(r):\n    assert r.exit_code in (0, 2)\n    assert r.returncode in (0, 1)\n")
    assert [line.split(":")[1] for line in either_outcome_asserts(path, tree)] == ["2"]
    path, tree = _parse("def helper(x):\n    assert x\n"
                        "def test_f():\n    helper(1)\n"                        # checks through its helper
                        "def test_g():\n    run('x')\n")                         # checks nothing: found
    assert [line.split(": ")[1] for line in unchecked_tests(path, tree)] == ["test_g"]
