"""The per-architecture notebooks are generated (``python -m helpers notebooks``) from the text templates
``helpers/docs/templates/{test,export}.md``: the committed ones are current, generation is deterministic,
a template, registry or text change reaches exactly the notebooks it should, and a broken template is a
one-line error naming its file and cell. Nothing here executes a notebook (nbval does)."""
import dataclasses
import difflib
import fnmatch
import json
import re
import shutil
import tomllib

import pytest

from helpers import cli
from helpers.board import registry
from helpers.board.files import REPO_ROOT
from helpers.docs import notebook_templates as tpl
from helpers.docs import notebooks
from helpers.errors import HelpersError

GENERATED = [(arch, kind) for arch in registry.ARCHS for kind in ("test", "export")]


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell):
    return "".join(cell["source"])


@pytest.fixture
def root(tmp_path):
    """A copy of what the generator reads and writes: the notebooks, their text files, the sample photos."""
    for arch in registry.ARCHS:
        src, dst = REPO_ROOT / "notebooks" / arch, tmp_path / "notebooks" / arch
        dst.mkdir(parents=True)
        for p in list(src.glob("*.ipynb")) + [src / notebooks.TEXT_FILE]:
            shutil.copy2(p, dst / p.name)
        image = notebooks.read_sections(src / notebooks.TEXT_FILE)["sample_image"]
        (tmp_path / image).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / image, tmp_path / image)
    return tmp_path


@pytest.fixture
def tdir(tmp_path):
    """A copy of the two template files, to edit."""
    shutil.copytree(tpl.TEMPLATE_DIR, tmp_path / "templates")
    return tmp_path / "templates"


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path.name, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.ipynb"))}


def test_committed_notebooks_are_current(capsys):
    assert notebooks.check() == [], f"run `{notebooks.NOTEBOOKS_COMMAND}`"
    assert cli.main(["notebooks", "--check"]) == 0
    assert "8 generated notebooks are up to date" in capsys.readouterr().out


def test_generation_is_deterministic(root):
    """Twice in one process; the committed files (another process, another hash seed) are compared above."""
    texts = [notebooks.render(a, k, root) for a, k in GENERATED]
    assert texts == [notebooks.render(a, k, root) for a, k in GENERATED]
    assert notebooks.write(root) == []  # the copy is current: nothing is rewritten


def test_a_hand_edit_is_stale_and_regenerated(root, capsys):
    path = root / "notebooks" / "MobileNetV3" / "test_MobileNetV3.ipynb"
    original = path.read_bytes()
    path.write_text(original.decode().replace('TOPK = 5', 'TOPK = 3'), encoding="utf-8")
    (root / "notebooks" / "MobileNetV1" / "export_MobileNetV1.ipynb").unlink()
    assert notebooks.check(root) == ["notebooks/MobileNetV1/export_MobileNetV1.ipynb (missing)",
                                     "notebooks/MobileNetV3/test_MobileNetV3.ipynb"]
    written = notebooks.write(root)
    assert sorted(p.name for p in written) == ["export_MobileNetV1.ipynb", "test_MobileNetV3.ipynb"]
    assert path.read_bytes() == original
    assert notebooks.check(root) == []


def test_a_new_template_cell_reaches_every_test_notebook_only(root, tdir):
    """How a cell is added: a few lines in the template file."""
    before = _bytes(root)
    _edit(tdir / "test.md", "```{code-cell}\n:name: load\nclf = demo.load()\n```\n",
          "```{code-cell}\n:name: load\nclf = demo.load()\n```\n\n"
          "```{code-cell}\n:name: vendor-call\nprint(\"{{arch}} on {{board}}\")\n```\n")
    templates = tpl.templates(tdir)
    stale = notebooks.check(root, templates=templates)
    assert stale == [f"notebooks/{a}/test_{a}.ipynb" for a in registry.ARCHS]
    notebooks.write(root, templates=templates)
    after = _bytes(root)
    for name in before:
        assert (before[name] != after[name]) == name.split("/")[-1].startswith("test_"), name
    cells = _cells(root / "notebooks" / "MobileOne" / "test_MobileOne.ipynb")
    ids = [c["id"] for c in cells]
    assert ids[ids.index("load") + 1] == "vendor-call"
    assert _src(cells[ids.index("vendor-call")]) == 'print("MobileOne on x5")'
    # the diff is small: one cell added, the checked cells after it renumbered, nothing else
    old = before["notebooks/MobileOne/test_MobileOne.ipynb"].decode().splitlines()
    new = after["notebooks/MobileOne/test_MobileOne.ipynb"].decode().splitlines()
    diff = [d for d in difflib.unified_diff(old, new, n=0, lineterm="") if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    removed = [d for d in diff if d.startswith("-")]
    assert removed == ['-   "execution_count": 5,', '-   "execution_count": 18,'], diff  # renumbered after it
    assert len(diff) == 10 + 2 * len(removed), diff


def test_a_registry_change_reaches_that_architecture_only(root, monkeypatch):
    models = dict(registry.MODELS)
    medium = models.pop("mobilenetv4_conv_medium")
    monkeypatch.setattr(registry, "MODELS", {medium.key: medium, **models})  # medium becomes the default
    assert notebooks.check(root) == ["notebooks/MobileNetV4/test_MobileNetV4.ipynb",
                                     "notebooks/MobileNetV4/export_MobileNetV4.ipynb"]
    notebooks.write(root)
    for kind in ("test", "export"):
        params = [c for c in _cells(root / "notebooks" / "MobileNetV4" / f"{kind}_MobileNetV4.ipynb")
                  if c["id"] == "parameters"]
        assert _src(params[0]).startswith('KEY = "mobilenetv4_conv_medium"\n')


def test_input_size_reaches_the_checked_outputs(root, monkeypatch):
    spec = dataclasses.replace(registry.MODELS["mobilenetv1_100"], input_size=(256, 192))
    monkeypatch.setattr(registry, "MODELS", {**registry.MODELS, spec.key: spec})
    notebooks.write(root)
    outputs = ["".join(o["text"]) for c in _cells(root / "notebooks" / "MobileNetV1" / "test_MobileNetV1.ipynb")
               for o in c.get("outputs", [])]
    assert outputs[0].startswith("board input : 192x256 NV12, 73728 bytes")
    assert "UV plane    : 96x128 pairs = 24576 bytes" in outputs[0]
    export_out = ["".join(o["text"]) for c in _cells(root / "notebooks" / "MobileNetV1" / "export_MobileNetV1.ipynb")
                  for o in c.get("outputs", [])]
    assert export_out == ["opset 11, ir_version 6\ninput  data: float32 [1, 3, 256, 192]\n"
                          "output output: float32 [1, 1000]\n"]


def test_architecture_text_comes_from_its_file(root):
    text = root / "notebooks" / "MobileNetV3" / notebooks.TEXT_FILE
    text.write_text(text.read_text(encoding="utf-8").replace(
        "MobileNetV3 was found by architecture search", "MobileNetV3 came out of a search"), encoding="utf-8")
    assert notebooks.check(root) == ["notebooks/MobileNetV3/test_MobileNetV3.ipynb"]
    notebooks.write(root)
    intro = _src(_cells(root / "notebooks" / "MobileNetV3" / "test_MobileNetV3.ipynb")[0])
    assert "MobileNetV3 came out of a search: inverted-residual" in intro


def test_reparameterisation_cells_follow_the_registry(root, monkeypatch):
    for arch in registry.ARCHS:
        reparam = any(m.reparameterizable for m in registry.MODELS.values() if m.arch == arch)
        cells = _cells(REPO_ROOT / "notebooks" / arch / f"export_{arch}.ipynb")
        ids = [c["id"] for c in cells]
        assert ("reparam" in ids) == reparam, arch
        export_cell = _src(cells[ids.index("export")])
        assert ("model=fused," if reparam else "model=model,") in export_cell, arch
        step2 = re.search(r"^2\. (.*)$", _src(cells[0]), re.M).group(1)
        assert step2.startswith("**re-parameterise**: fuse" if reparam else "(no re-parameterisation: nothing"), arch
        assert ("(train-time, branches unfused)" in _src(cells[ids.index("create")])) == reparam, arch
    # a registry fact switches them on; the architecture's text file must then explain it
    monkeypatch.setattr(registry, "MODELS", {k: dataclasses.replace(m, reparameterizable=True)
                                             if m.arch == "MobileNetV1" else m for k, m in registry.MODELS.items()})
    with pytest.raises(HelpersError, match="reparameterize' must be present"):
        notebooks.check(root)
    text = root / "notebooks" / "MobileNetV1" / notebooks.TEXT_FILE
    text.write_text(text.read_text(encoding="utf-8") + "\n## reparameterize\n\nFuse the V1 branches.\n",
                    encoding="utf-8")
    assert notebooks.check(root) == ["notebooks/MobileNetV1/export_MobileNetV1.ipynb"]
    notebooks.write(root)
    cells = _cells(root / "notebooks" / "MobileNetV1" / "export_MobileNetV1.ipynb")
    ids = [c["id"] for c in cells]
    assert ids[ids.index("create") + 1:ids.index("create") + 4] == ["reparam-text", "reparam", "reparam-checks"]
    assert _src(cells[ids.index("reparam-text")]) == "## 2. Re-parameterise\n\nFuse the V1 branches."


def test_code_cells_are_short_and_only_checked_cells_have_outputs():
    for arch, kind in GENERATED:
        for cell in _cells(notebooks.notebook_path(arch, kind)):
            if cell["cell_type"] != "code":
                continue
            assert len(_src(cell).splitlines()) < 25, (arch, kind, cell["id"])
            assert bool(cell["outputs"]) == _src(cell).startswith(tpl.CHECK), (arch, kind, cell["id"])


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("## test_intro", "## test_intr"), "unknown section '## test_intr'"),
    (lambda s: s + "\n## sample_image\n\ndata/coffee.jpg\n", "appears twice"),
    (lambda s: s.replace("data/coffee.jpg", "data/nope.jpg"), "sample_image 'data/nope.jpg'"),
    (lambda s: s.split("## export_intro")[0], "missing section"),
])
def test_bad_text_file_is_one_actionable_error(root, edit, message):
    text = root / "notebooks" / "MobileNetV1" / notebooks.TEXT_FILE
    text.write_text(edit(text.read_text(encoding="utf-8")), encoding="utf-8")
    before = _bytes(root)
    with pytest.raises(HelpersError, match=message.replace("(", r"\(").replace(")", r"\)")):
        notebooks.write(root)
    assert _bytes(root) == before  # all or nothing


TEMPLATE_ERRORS = {  # what a person may get wrong in a template: (file, old text, new text, message, cell)
    "unknown placeholder": ("test", "{{vendor_hbm_where}}", "{{vendor_hbm_wher}}",
                            r"unknown placeholder \{\{vendor_hbm_wher\}\}; known: arch, board", "vendor-hbm-text"),
    "duplicate name": ("test", ":name: nv12-show", ":name: load", "'load': the name of cells 8 and 11",
                       "load"),
    "when names no fact": ("test", ":name: load\n", ":name: load\n:when: reparameterisable\n",
                           "when: reparameterisable is not a true/false fact; those are: reparameterizable", "load"),
    "when names a fact that is not true/false": ("export", ":name: reparam\n:when: reparameterizable",
                                                 ":name: reparam\n:when: arch", "when: arch is not a true/false",
                                                 "reparam"),
    "choice on no fact": ("export", "model={{if reparameterizable}}fused{{else}}model{{end}}, out=",
                          "model={{if reparameterisable}}fused{{else}}model{{end}}, out=",
                          r"\{\{if reparameterisable\}\} needs a true/false fact", "export"),
    "choices nested": ("export", "{{else}}model{{end}}, out=",
                       "{{else}}{{if reparameterizable}}model{{end}}{{end}}, out=", "choices do not nest", "export"),
    "choice without its end": ("export", "in this architecture){{end}}", "in this architecture)",
                               r"\{\{if reparameterizable\}\} without its partner", "intro"),
    "unknown option": ("test", ":name: load\n", ":name: load\n:tag: [x]\n", "unknown option.s. tag; known: name",
                       "load"),
    "cell without a name": ("test", '+++ {"name": "where-text"}', "+++",
                            r"cell 5 \('## 1. What runs where'\): needs a name", None),
    "closing fence missing": ("test", "from helpers.notebooks import inference as nb\n```",
                              "from helpers.notebooks import inference as nb", "runs into the next cell", "imports"),
    "bad json": ("test", '+++ {"name": "where-text"}', '+++ {"name": where-text}',
                 "line 75: the options of this markdown cell are not valid JSON: Expecting value", None),
    "bad yaml": ("export", "  opset 11, ir_version 6\n", "opset 11, ir_version 6\n",
                 "line 136: the options of this code cell are not valid yaml: Invalid YAML", None),
    "checked cell without output": ("test", ":name: load\nclf", ":name: load\n# NBVAL_CHECK_OUTPUT\nclf",
                                    "needs the text of its output", "load"),
}


@pytest.mark.parametrize("case", list(TEMPLATE_ERRORS))
def test_a_broken_template_is_one_line_naming_file_and_cell(root, tdir, case):
    kind, old, new, message, cell = TEMPLATE_ERRORS[case]
    _edit(tdir / f"{kind}.md", old, new)
    before = _bytes(root)
    with pytest.raises(HelpersError, match=message) as e:
        notebooks.write(root, templates=tpl.templates(tdir))
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{tdir / kind}.md"), text
    assert cell is None or f"cell '{cell}'" in text, text
    assert _bytes(root) == before  # all or nothing


def test_a_template_that_is_no_text_or_no_file_is_one_line(tdir):
    (tdir / "export.md").write_bytes((tdir / "export.md").read_bytes().replace(b"Parity", b"Parit\xe9"))
    with pytest.raises(HelpersError, match=r"export.md: not a template jupytext can read as MyST markdown: "
                                           r"'utf-8' codec can't decode byte 0xe9"):
        tpl.templates(tdir)
    (tdir / "test.md").unlink()
    with pytest.raises(HelpersError, match=r"test.md is missing; the notebook templates are test.md, export.md"):
        tpl.templates(tdir)


def test_a_sentence_edited_in_a_template_is_drift_for_check(root, tdir, monkeypatch, capsys):
    """``python -m helpers notebooks --check`` (a test) fails after a template edit until the notebooks are
    regenerated; the regenerated cell has the new sentence."""
    _edit(tdir / "export.md", "## 5. Parity: onnxruntime vs PyTorch", "## 5. Parity: onnxruntime against PyTorch")
    monkeypatch.setattr(tpl, "TEMPLATE_DIR", tdir)
    monkeypatch.setattr(notebooks, "REPO_ROOT", root)
    assert cli.main(["notebooks", "--check"]) == 1
    stale = [line.strip() for line in capsys.readouterr().out.splitlines()[1:]]
    assert stale == [f"notebooks/{a}/export_{a}.ipynb" for a in registry.ARCHS]
    assert cli.main(["notebooks"]) == 0
    for arch in registry.ARCHS:
        cells = {c["id"]: _src(c) for c in _cells(root / "notebooks" / arch / f"export_{arch}.ipynb")}
        assert cells["parity-text"].startswith("## 5. Parity: onnxruntime against PyTorch\n\nThe export")
    assert cli.main(["notebooks", "--check"]) == 0


def test_the_templates_are_the_files_read_and_ship_with_the_package():
    assert tpl.TEST == tpl.templates()["test"] and tpl.EXPORT == tpl.templates()["export"]
    assert [c.origin for c in tpl.TEST][:1] == ["helpers/docs/templates/test.md"]
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["helpers.docs"]
    for kind in tpl.KINDS:
        assert any(fnmatch.fnmatch(f"templates/{kind}.md", p) for p in patterns), (kind, patterns)
    # the template files are no Python modules: pytest and the architecture test never collect them
    assert sorted(p.name for p in tpl.TEMPLATE_DIR.iterdir() if p.is_file()) == ["export.md", "test.md"]


@pytest.mark.parametrize("arch", registry.ARCHS)
@pytest.mark.parametrize("is_probability", [False, True])
def test_the_vendor_top_cell_softmaxes_only_logits(arch, is_probability, capsys):
    """The generated vendor-top cell, run on a stand-in demo: a file whose output is already probabilities
    (registry: output_is_probability) prints them as they are; logits are softmaxed."""
    import types

    import numpy as np

    nb = json.loads((REPO_ROOT / "notebooks" / arch / f"test_{arch}.ipynb").read_text(encoding="utf-8"))
    source = "".join(next(c for c in nb["cells"] if c.get("id") == "vendor-top")["source"])
    out = np.array([0.1, 0.7, 0.2], dtype=np.float32)
    demo = types.SimpleNamespace(output_is_probability=is_probability, random=False,
                                 clf=types.SimpleNamespace(labels=["a", "b", "c"]))
    scope = {"np": np, "demo": demo, "TOPK": 1}
    exec(source, scope)  # defines show_top, which 4a and 4b call with their logits
    scope["show_top"](out.copy())
    printed = float(capsys.readouterr().out.split()[0])
    want = 0.7 if is_probability else float(np.exp(0.7) / np.exp(out.astype(np.float64)).sum())
    assert printed == pytest.approx(want, rel=1e-3)
