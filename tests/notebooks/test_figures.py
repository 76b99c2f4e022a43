"""The figure contract: every figure made in ``helpers`` is a ``matplotlib.figure.Figure`` on its own Agg
canvas, never pyplot (``helpers.board.plot.figure``), and is shown as a PNG of exactly figsize x dpi.

Why: pyplot registers each figure until it is closed, and matplotlib-inline's ``flush_figures`` (run after
every cell and, through ``comm``, after every comm message, on whichever thread handled it) shows and
closes every registered figure, also one a widget callback is still drawing on another thread."""
import ast
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from helpers.board import plot
from helpers.notebooks import display

ROOT = Path(__file__).resolve().parents[2]


def pyplot_imports(path: Path, source: str = None):
    """Line numbers where ``path`` (or ``source``, the code read from it) imports matplotlib.pyplot, in any
    spelling."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8") if source is None else source)):
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


def notebook_code(path: Path) -> str:
    """The code cells of a notebook as one Python source (IPython magics and shell lines blanked)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def test_no_notebook_cell_imports_pyplot():
    """The notebooks' own cells show figures the same way (a user copies them): ``helpers.board.plot.figure``
    and ``helpers.notebooks.display.show_figure``, never pyplot (whose inline render crops to a tight box)."""
    found = {}
    for p in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        lines = pyplot_imports(p, notebook_code(p))
        if lines:
            found[p.relative_to(ROOT).as_posix()] = lines
    assert not found, f"pyplot imported in notebook cells (use helpers.board.plot.figure + show_figure): {found}"


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
    assert Image.open(io.BytesIO(plot.png(fig))).size == (150, 100)
