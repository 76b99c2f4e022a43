"""Every committed notebook carries the notebook metadata JupyterLab writes (helpers.docs.notebooks.NOTEBOOK_METADATA,
the one the generated notebooks get), nbformat 4.5, JupyterLab's JSON layout and stable cell ids, so that opening
and saving it in JupyterLab changes nothing, and a notebook saved from another frontend fails here."""
import copy
import json
from pathlib import Path

import pytest

from helpers.board.files import REPO_ROOT
from helpers.docs.notebooks import NOTEBOOK_METADATA

NOTEBOOKS = sorted(p for p in (REPO_ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def problems(raw: str, name: str = "notebook"):
    """What in the text of a notebook file differs from what JupyterLab writes (empty: nothing)."""
    nb = json.loads(raw)
    out = []
    if (nb.get("nbformat"), nb.get("nbformat_minor")) != (4, 5):
        out.append(f"{name}: nbformat {nb.get('nbformat')}.{nb.get('nbformat_minor')}, not 4.5")
    if nb.get("metadata") != NOTEBOOK_METADATA:
        out.append(f"{name}: notebook metadata {json.dumps(nb.get('metadata'))[:120]} is not "
                   "helpers.docs.notebooks.NOTEBOOK_METADATA")
    if raw != json.dumps(nb, indent=1, ensure_ascii=False) + "\n":
        out.append(f"{name}: not JupyterLab's JSON layout (indent 1, final newline)")
    ids = [c.get("id") for c in nb.get("cells", [])]
    if not all(ids) or len(set(ids)) != len(ids):
        out.append(f"{name}: cell ids missing or repeated")
    for c in nb.get("cells", []):
        if set(c.get("metadata", {})) - {"tags"}:
            out.append(f"{name}: cell {c.get('id')} carries metadata {sorted(c['metadata'])}")
        if isinstance(c.get("source"), str) and "\n" in c["source"]:
            out.append(f"{name}: cell {c.get('id')} source is one string, JupyterLab writes a list of lines")
    return out


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"quantize_MobileOne.ipynb", "train_MobileOne.ipynb", "test_MobileOne.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_metadata_and_layout_as_jupyterlab_writes_them(path: Path):
    assert problems(path.read_text(encoding="utf-8"), path.name) == []


def _saved_elsewhere(nb):
    """The same notebook as other frontends save it: each a change this test must catch."""
    vscode = copy.deepcopy(nb)
    vscode["metadata"] = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                          "language_info": {"name": "python"}}
    old_lab = copy.deepcopy(nb)
    old_lab["metadata"]["language_info"]["version"] = "3.8.10"
    minor = copy.deepcopy(nb)
    minor["nbformat_minor"] = 4
    cellmeta = copy.deepcopy(nb)
    cellmeta["cells"][0]["metadata"]["collapsed"] = False
    noid = copy.deepcopy(nb)
    del noid["cells"][1]["id"]
    return {"vscode": json.dumps(vscode, indent=1) + "\n", "old_lab": json.dumps(old_lab, indent=1) + "\n",
            "minor": json.dumps(minor, indent=1) + "\n", "cellmeta": json.dumps(cellmeta, indent=1) + "\n",
            "noid": json.dumps(noid, indent=1) + "\n", "layout": json.dumps(nb, indent=2) + "\n"}


def test_a_notebook_saved_from_another_frontend_fails():
    path = REPO_ROOT / "notebooks" / "MobileOne" / "quantize_MobileOne.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for how, raw in _saved_elsewhere(nb).items():
        assert problems(raw, how), f"{how}: not caught"
