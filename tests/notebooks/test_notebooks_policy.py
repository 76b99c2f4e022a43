"""The committed notebooks: outputs only where nbval checks them, nothing machine-specific in those,
and every notebook checks something (an assert or a checked output)."""
import json
from pathlib import Path

import pytest

from helpers.board import registry
from helpers.board.files import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]
CHECK = "# NBVAL_CHECK_OUTPUT"


def _cells(path: Path):
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_architecture_has_its_notebooks():
    names = {p.name for p in NOTEBOOKS}
    for arch in registry.ARCHS:
        assert {f"export_{arch}.ipynb", f"test_{arch}.ipynb"} <= names
    assert "train_MobileOne.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_outputs_only_where_checked_and_portable(path):
    cells = _cells(path)
    checked = [c for c in cells if _src(c).lstrip().startswith(CHECK)]
    assert checked or any("assert " in _src(c) for c in cells), f"{path.name} checks nothing"
    for c in cells:
        if not _src(c).lstrip().startswith(CHECK):
            assert not c.get("outputs"), f"{path.name}: unchecked cell has outputs: {_src(c)[:60]!r}"
            continue
        assert c.get("outputs"), f"{path.name}: checked cell has no stored output: {_src(c)[:60]!r}"
        text = json.dumps(c["outputs"])
        for bad in (str(REPO_ROOT), "/tmp/", "/home/", "PosixPath(", "RANDOM WEIGHTS"):
            assert bad not in text, f"{path.name}: machine-specific or random-run output ({bad!r})"


#: the notebook metadata JupyterLab writes (and `python -m helpers notebooks` copies): nothing else, so that
#: opening and saving a notebook in JupyterLab changes no metadata
JUPYTERLAB_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                      "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                      "pygments_lexer": "ipython3", "version": "3.11.7"},
}
#: the generated notebooks and the hand-written camera notebook (quantize_/train_ are the training
#: engineer's: not held to this yet)
LAB = [p for p in NOTEBOOKS if p.name.startswith(("test_", "export_", "camera_"))]


@pytest.mark.parametrize("path", LAB, ids=[p.name for p in LAB])
def test_metadata_as_jupyterlab_writes_it(path):
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"] == JUPYTERLAB_METADATA, f"{path.name}: notebook metadata is not JupyterLab's"
    assert raw == json.dumps(nb, indent=1, ensure_ascii=False) + "\n", f"{path.name}: not JupyterLab's JSON layout"
    for c in nb["cells"]:
        assert c.get("id") and set(c["metadata"]) <= {"tags"}, f"{path.name}: cell {c.get('id')} metadata"


@pytest.mark.parametrize("path", LAB, ids=[p.name for p in LAB])
def test_one_parameters_cell_that_only_sets_parameters(path):
    """papermill injects its -p values after the cell tagged ``parameters``: there must be one, and it must only
    assign names (work done in it would run before the injected values)."""
    import ast

    tagged = [c for c in _cells(path) if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    for node in ast.parse(_src(tagged[0])).body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), \
            f"{path.name}: the parameters cell does more than set parameters (line {node.lineno})"
