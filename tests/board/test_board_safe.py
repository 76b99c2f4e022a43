"""The board has no torch, timm, torchvision, onnx or onnxsim: what it imports must work without them.

Every module of ``helpers.board`` (found by walking the package, so a new module is covered the day
it is added), the notebooks' inference module and the "make what is missing" module import in a
Python where those libraries raise ImportError; the CLI then lists the registry.
"""
import pkgutil
import subprocess
import sys
import textwrap

import helpers.board

BLOCKED = ("torch", "timm", "torchvision", "onnx", "onnxsim", "sklearn")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = set({BLOCKED!r})
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked on the board: {{name}}")
    sys.meta_path.insert(0, Block())
""")

BOARD_MODULES = sorted(f"helpers.board.{m.name}" for m in pkgutil.iter_modules(helpers.board.__path__))
ALSO_ON_THE_BOARD = ["helpers.cli", "helpers.notebooks.inference", "helpers.notebooks.standin",
                     "helpers.notebooks.standin.pyeasy_dnn", "helpers.pc.make"]


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_the_walk_finds_the_board_modules():
    # a floor, not a list: the walk must see the package (an empty walk would pass the test below)
    assert len(BOARD_MODULES) >= 10 and "helpers.board.runtime" in BOARD_MODULES


def test_the_blocker_blocks():
    r = run_blocked("import torch")
    assert r.returncode != 0 and "blocked on the board: torch" in r.stderr


def test_board_modules_import_without_pc_libraries():
    mods = BOARD_MODULES + ALSO_ON_THE_BOARD
    r = run_blocked(f"""
        import importlib, sys
        for name in {mods!r}:
            importlib.import_module(name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        from helpers.cli import main
        assert main(["list"]) == 0
        try:
            main(["--help"])
        except SystemExit as e:
            assert e.code == 0, e.code
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mobilenetv4_conv_medium" in r.stdout


def test_board_imports_nothing_above_it():
    """helpers.board may import only helpers.board and helpers.errors (ARCHITECTURE.md), also inside functions."""
    import ast
    from pathlib import Path

    bad = []
    for path in sorted(Path(helpers.board.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("helpers")]
            else:
                continue
            for n in names:
                if not (n == "helpers.errors" or n == "helpers.board" or n.startswith("helpers.board.")):
                    bad.append(f"{path.name}:{node.lineno} imports {n}")
    assert bad == []
