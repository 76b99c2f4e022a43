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
