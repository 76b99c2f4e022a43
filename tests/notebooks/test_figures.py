"""The figure contract: every figure made in ``helpers`` is a ``matplotlib.figure.Figure`` on its own Agg
canvas, never pyplot (``helpers.board.plot.figure``), and is shown as a PNG of exactly figsize x dpi.

Why: pyplot registers each figure until it is closed, and matplotlib-inline's ``flush_figures`` (run after
every cell and, through ``comm``, after every comm message, on whichever thread handled it) shows and
closes every registered figure, also one a widget callback is still drawing on another thread."""
import ast
import io
from pathlib import Path

import pytest
from PIL import Image

from helpers.notebooks import display

ROOT = Path(__file__).resolve().parents[2]


def pyplot_imports(path: Path):
    """Line numbers where ``path`` imports matplotlib.pyplot, in any spelling."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(a.name.startswith("matplotlib.pyplot") for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("matplotlib.pyplot") or (
                    node.module == "matplotlib" and any(a.name == "pyplot" for a in node.names)):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module", "__import__") and any(
                isinstance(a, ast.Constant) and "pyplot" in str(a.value) for a in node.args):
            lines.append(node.lineno)
    return lines


def test_no_module_in_helpers_imports_pyplot():
    found = {}
    for p in sorted((ROOT / "helpers").rglob("*.py")):
        rel = p.relative_to(ROOT).as_posix()
        lines = pyplot_imports(p)
        if lines:
            found[rel] = lines
    assert not found, f"pyplot imported (use helpers.board.plot.figure): {found}"


@pytest.mark.parametrize("source, expected", [
    ("import matplotlib.pyplot as plt", True),
    ("from matplotlib import pyplot", True),
    ("from matplotlib.pyplot import subplots", True),
    ("def f():\n    import matplotlib.pyplot\n", True),
    ("import importlib\nimportlib.import_module('matplotlib.pyplot')", True),
    ("from matplotlib.figure import Figure", False),
    ("import matplotlib", False),
])
def test_the_scan_sees_every_spelling(tmp_path, source, expected):
    p = tmp_path / "m.py"
    p.write_text(source)
    assert bool(pyplot_imports(p)) is expected


def test_new_figure_renders_exactly_figsize_times_dpi():
    fig = display.new_figure((3, 2), dpi=50)
    ax = fig.subplots()
    ax.set_title("a title that a tight crop would move")
    ax.plot([0, 1], [0, 1])
    fig.tight_layout()
    assert Image.open(io.BytesIO(display.png_bytes(fig))).size == (150, 100)
