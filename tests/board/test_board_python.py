"""What the board imports runs on Python 3.8 (RDK X3 images, Ubuntu 20.04) to 3.12.

The board imports ``helpers/__init__.py``, ``helpers/errors.py``, ``helpers/board`` and ``helpers/notebooks``
(``requirements-board.txt``, ``pyproject.toml``'s ``requires-python`` and the README say 3.8 to 3.12).
Three checks, each catching what the others miss:

* ``vermin -t=3.8-``: the newest standard-library module, function, keyword argument and syntax used
  (``str.removeprefix`` on a literal, ``functools.cache``, ``dict | dict``, ``match``);
* the union and generic forms that vermin does not see outside annotations and that only fail when the
  line runs on 3.8: ``int | None`` (PEP 604, 3.10) and ``list[int]`` (PEP 585, 3.9) evaluated at run
  time. Inside annotations they are fine where the module has ``from __future__ import annotations``;
* a Python 3.8 interpreter compiles every file, when one is installed (pyenv's here): its own grammar.
"""
import ast
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.board.files import REPO_ROOT

HELPERS = REPO_ROOT / "helpers"
BOARD_FILES = sorted({*(HELPERS / "board").rglob("*.py"), *(HELPERS / "notebooks").rglob("*.py"),
                      HELPERS / "__init__.py", HELPERS / "errors.py"})
MIN = (3, 8)
#: builtins that are types: ``int | None`` or ``list[int]`` on them needs 3.10 / 3.9 when evaluated
BUILTIN_TYPES = {"int", "float", "complex", "bool", "str", "bytes", "bytearray", "list", "dict", "tuple", "set",
                 "frozenset", "type", "object", "memoryview", "range", "slice"}
GENERIC_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def vermin(*paths) -> subprocess.CompletedProcess:
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if exe is None:
        pytest.fail("vermin is not installed (pip install -r requirements.txt)")
    return subprocess.run([exe, f"-t={MIN[0]}.{MIN[1]}-", "--no-tips", "--violations", "--no-parse-comments",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def _is_typeish(node) -> bool:
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if isinstance(node, ast.Name) and node.id in BUILTIN_TYPES:
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in GENERIC_BUILTINS:
        return True
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and (_is_typeish(node.left)
                                                                               or _is_typeish(node.right))


def runtime_typing_newer_than_38(source: str, name: str = "<source>"):
    """``(line, text)`` for each ``X | Y`` of types or ``list[...]``-style generic evaluated at run time."""
    tree = ast.parse(source, name)
    lazy = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
               and any(a.name == "annotations" for a in n.names) for n in tree.body)
    skip = set()
    if lazy:  # annotations stay strings: mark every node under one
        for n in ast.walk(tree):
            notes = []
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = n.args
                notes = [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                         if x is not None and x.annotation is not None] + [n.returns]
            elif isinstance(n, ast.AnnAssign):
                notes = [n.annotation]
            for note in notes:
                if note is not None:
                    skip.update(id(m) for m in ast.walk(note))
    found = []
    for n in ast.walk(tree):
        if id(n) in skip:
            continue
        union = (isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
                 and (_is_typeish(n.left) or _is_typeish(n.right)))
        generic = isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id in GENERIC_BUILTINS
        if union or generic:
            found.append((n.lineno, ast.get_source_segment(source, n)))
    return found


def python38():
    """A Python 3.8 interpreter if one is installed (pyenv's versions, then PATH), else None."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(os.path.join(root, "versions", "3.8*", "bin", "python3.8")), reverse=True)
    candidates += [c for c in [shutil.which("python3.8")] if c]
    for exe in candidates:  # a pyenv shim on PATH exists but may refuse to run
        r = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == "(3, 8)":
            return exe
    return None


def test_the_board_files_are_the_ones_the_board_imports():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in BOARD_FILES}
    assert {"helpers/__init__.py", "helpers/errors.py", "helpers/board/runtime.py",
            "helpers/notebooks/inference.py"} <= names, names


def test_the_stated_range_agrees():
    """pyproject's requires-python, its classifiers, requirements-board.txt and both READMEs say 3.8 to 3.12."""
    import re

    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3\.8"$', pyproject, re.M), "pyproject.toml: requires-python must be >=3.8"
    classifiers = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert classifiers == ["3.8", "3.9", "3.10", "3.11", "3.12"], classifiers
    assert "Python 3.8 to 3.12" in (REPO_ROOT / "requirements-board.txt").read_text()
    assert "Python 3.8 to 3.12" in (REPO_ROOT / "README.md").read_text()
    assert "Python 3.8 到 3.12" in (REPO_ROOT / "README_cn.md").read_text()


def test_vermin_finds_nothing_newer_than_38():
    r = vermin(*BOARD_FILES)
    assert r.returncode == 0, f"the board part needs a Python newer than 3.8:\n{r.stdout}{r.stderr}"


def test_no_runtime_union_or_builtin_generic():
    found = {p.relative_to(REPO_ROOT).as_posix(): hits for p in BOARD_FILES
             if (hits := runtime_typing_newer_than_38(p.read_text(), str(p)))}
    assert not found, f"evaluated at run time, these need Python 3.9/3.10 (write Optional[...], List[...]): {found}"


def test_python38_compiles_every_board_file(tmp_path):
    exe = python38()
    if exe is None:
        pytest.skip("no Python 3.8 interpreter here (the vermin and AST checks above still ran)")
    code = ("import sys, py_compile\n"
            "bad = []\n"
            "for f in sys.argv[1:]:\n"
            "    try:\n"
            "        py_compile.compile(f, cfile=sys.argv[0] + '.pyc', doraise=True)\n"
            "    except py_compile.PyCompileError as e:\n"
            "        bad.append(str(e))\n"
            "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    script = tmp_path / "compile38.py"
    script.write_text(code)
    r = subprocess.run([exe, str(script), *map(str, BOARD_FILES)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"Python 3.8 cannot compile:\n{r.stdout}{r.stderr}"


# ---- the checks can fail: each is shown a file that needs a newer Python

@pytest.mark.parametrize("source,needs", [
    ("x = 'prefix_name'.removeprefix('prefix_')\n", "str.removeprefix"),
    ("a = {1: 2}\nb = {3: 4}\nc = a | b\n", "dict union"),
    ("from functools import cache\n", "functools.cache"),
    ("match 3:\n    case 3:\n        pass\n", "pattern matching"),
])
def test_vermin_catches_newer_code(tmp_path, source, needs):
    f = tmp_path / "newer.py"
    f.write_text(source)
    r = vermin(f)
    assert r.returncode != 0 and needs in r.stdout, r.stdout


def test_vermin_target_is_honoured(tmp_path):
    """A walrus is 3.8: fine for the board's 3.8 target, not for 3.7 (so ``-t`` is really applied)."""
    f = tmp_path / "walrus.py"
    f.write_text("if (n := 3):\n    pass\n")
    assert vermin(f).returncode == 0
    exe = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    r = subprocess.run([exe, "-t=3.7-", "--no-tips", "--violations", str(f)], capture_output=True, text=True)
    assert r.returncode != 0 and "named expressions" in r.stdout, r.stdout


def test_runtime_typing_check_catches_and_spares():
    bad = ("from __future__ import annotations\nfrom typing import cast\nT = dict[str, int]\n"
           "y = cast(list[int], [])\nok = isinstance(3, int | str)\nz: int | None = None\n"
           "def f(x: list[int] | None = None) -> dict[str, int]:\n    return {}\n")
    assert sorted(line for line, _ in runtime_typing_newer_than_38(bad)) == [3, 4, 5]
    # without the __future__ import the annotations are evaluated too
    assert len(runtime_typing_newer_than_38(bad.split("\n", 1)[1])) == 3 + 4
    # bitwise or and ordinary indexing are not types
    assert runtime_typing_newer_than_38("import os\nm = os.W_OK | os.X_OK\nd = {}\nv = d['k'] | 1\n") == []


def test_python38_compile_check_can_fail(tmp_path):
    exe = python38()
    if exe is None:
        pytest.skip("no Python 3.8 interpreter here")
    f = tmp_path / "m.py"
    f.write_text("match 3:\n    case 3:\n        pass\n")
    r = subprocess.run([exe, "-m", "py_compile", str(f)], capture_output=True, text=True)
    assert r.returncode != 0
