"""The per-architecture notebooks, generated: ``notebooks/<Arch>/test_<Arch>.ipynb`` and ``export_<Arch>.ipynb``.

Like the yaml files, the eight notebooks are made, not edited. Each is one template, a text file in
``helpers/docs/templates/`` (``test.md``, ``export.md``: edit a notebook's sentences and code there; read by
:mod:`helpers.docs.notebook_templates`), filled with the facts of one architecture (:func:`facts`):

* from :mod:`helpers.board.registry`: the default ``KEY`` (the architecture's first key), the default
  ``BOARD`` (the newest board with a published ``.bin`` of that key, else the newest board it supports),
  input size and number of classes (in the outputs nbval checks), and ``reparameterizable`` (which
  switches the re-parameterisation cells on, ``when: reparameterizable``, and picks the text of
  ``{{if reparameterizable}}...{{else}}...{{end}}``);
* from ``notebooks/<Arch>/notebook_text.md``: the prose that belongs to one architecture only,
  in ``## name`` sections (:data:`REQUIRED_SECTIONS`, :data:`OPTIONAL_SECTIONS`).

``python -m helpers notebooks`` writes the notebooks that changed (each atomically, after all of them
rendered); ``--check`` writes nothing and exits 1 listing the stale ones
(``tests/docs/test_notebooks_generated.py`` runs it). Cell ids are the template's cell names, and the
output is nbformat's own serialisation, so regenerating is byte-identical and a template change
shows as a small diff. The training notebook ``train_MobileOne.ipynb`` is single and hand-written.
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from helpers.board import registry
from helpers.board.files import REPO_ROOT, atomic_write_text
from helpers.docs import notebook_templates as tpl
from helpers.errors import HelpersError

NOTEBOOKS_COMMAND = "python -m helpers notebooks"

#: notebook-level metadata of every generated notebook, exactly as JupyterLab 4 writes it on opening the
#: notebook with ipykernel on the CI's Python (3.11): with anything else an unedited notebook opens as
#: *modified* (tests/notebooks/test_jupyterlab.py checks it does not). On another Python version
#: JupyterLab still updates ``language_info.version``: that change is the kernel's, not an edit.
NOTEBOOK_METADATA: Dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                      "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                      "pygments_lexer": "ipython3", "version": "3.11.7"},
}

TEXT_FILE = "notebook_text.md"
MAX_TEXT_BYTES = 64 * 1024
#: sections every ``notebook_text.md`` has
REQUIRED_SECTIONS = ("sample_image", "test_intro", "export_intro")
#: sections an architecture may have; ``reparameterize`` exactly when its models are re-parameterised
OPTIONAL_SECTIONS = ("key_hint", "reparameterize")
_SECTION_RE = re.compile(r"^## ([a-z_]+)[ \t]*$", re.M)
_COMMENT_RE = re.compile(r"\A\s*<!--.*?-->", re.S)
_PLACEHOLDER_RE = re.compile(r"\{\{(\w+)\}\}")
#: {{if fact}}text{{else}}other text{{end}} ({{else}} optional, no nesting): one text by a true/false fact
_CHOICE_RE = re.compile(r"\{\{if (\w+)\}\}(.*?)(?:\{\{else\}\}(.*?))?\{\{end\}\}", re.S)
_CHOICE_TAG_RE = re.compile(r"\{\{(if\b[^}]*|else|end)\}\}")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def notebook_path(arch: str, kind: str, root: Optional[Path] = None) -> Path:
    root = Path(root) if root is not None else REPO_ROOT
    return root / "notebooks" / arch / f"{kind}_{arch}.ipynb"


def read_sections(path: Path) -> Dict[str, str]:
    """The ``## name`` sections of a ``notebook_text.md`` (a leading ``<!-- -->`` comment is skipped)."""
    if not path.is_file():
        raise HelpersError(f"{path} is missing; it holds the architecture's notebook text "
                           f"(sections {', '.join(REQUIRED_SECTIONS)})")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise HelpersError(f"{path} is larger than {MAX_TEXT_BYTES // 1024} KiB; it should hold a few paragraphs")
    text = _COMMENT_RE.sub("", path.read_text(encoding="utf-8"), count=1)
    parts = _SECTION_RE.split(text)
    if parts[0].strip():
        raise HelpersError(f"{path}: text before the first '## name' section: {parts[0].strip()[:40]!r}")
    sections: Dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name not in REQUIRED_SECTIONS + OPTIONAL_SECTIONS:
            raise HelpersError(f"{path}: unknown section '## {name}'; known: "
                               f"{', '.join(REQUIRED_SECTIONS + OPTIONAL_SECTIONS)}")
        if name in sections:
            raise HelpersError(f"{path}: section '## {name}' appears twice")
        if not body.strip():
            raise HelpersError(f"{path}: section '## {name}' is empty")
        sections[name] = body.strip()
    missing = [s for s in REQUIRED_SECTIONS if s not in sections]
    if missing:
        raise HelpersError(f"{path}: missing section(s) {', '.join('## ' + s for s in missing)}")
    return sections


def facts(arch: str, root: Optional[Path] = None) -> Dict[str, Any]:
    """Everything a template may name as ``{{fact}}`` or ``when=``, for one architecture."""
    root = Path(root) if root is not None else REPO_ROOT
    specs = [m for m in registry.MODELS.values() if m.arch == arch]
    if not specs:
        raise HelpersError(f"no registry model has arch {arch!r}; known: {', '.join(registry.ARCHS)}")
    reparam = {m.reparameterizable for m in specs}
    if len(reparam) != 1:
        raise HelpersError(f"{arch}: the notebooks serve every key of an architecture, but only some "
                           f"are reparameterizable; split the architecture or make them agree")
    default = specs[0]
    # the notebooks' default BOARD: the newest X board with a published file (boards are listed oldest first);
    # the S boards (split-NV12 .hbm, hbm_runtime) are chosen with BOARD = "s100" in the notebook
    x_boards = [b for b in default.boards if not registry.board(b).is_s]
    published = [b for b in x_boards if default.published_for(b) is not None]
    board = (published or x_boards)[-1]
    text_path = root / "notebooks" / arch / TEXT_FILE
    sections = read_sections(text_path)
    reparameterizable = reparam.pop()
    if reparameterizable != ("reparameterize" in sections):
        raise HelpersError(f"{text_path}: the registry says {arch} is "
                           f"{'' if reparameterizable else 'not '}reparameterizable, so "
                           f"'## reparameterize' must be {'present' if reparameterizable else 'absent'}")
    image = sections["sample_image"]
    if not any((base / image).is_file() for base in (text_path.parent, root)):
        raise HelpersError(f"{text_path}: sample_image {image!r} is neither in notebooks/{arch}/ nor in the repository")
    h, w = default.input_size
    f: Dict[str, Any] = {
        "arch": arch, "key": default.key, "board": board, "num_classes": default.num_classes,
        "reparameterizable": reparameterizable,
        "h": h, "w": w, "nv12_bytes": w * h * 3 // 2, "y_bytes": w * h,
        "uv_w": w // 2, "uv_h": h // 2, "uv_bytes": (w // 2) * (h // 2) * 2,
        "key_hint": " " + sections["key_hint"] if "key_hint" in sections else "",
        "reparameterize": sections.get("reparameterize", ""),
        **{s: sections[s] for s in REQUIRED_SECTIONS},
    }
    f.update(vendor_facts(board, f))
    return f


def vendor_facts(board: str, values: Mapping[str, Any]) -> Dict[str, Any]:
    """The vendor section's facts for ``board``. Both runtimes' cells run in every test notebook (4a
    ``hbm_runtime``, 4b ``hobot_dnn.pyeasy_dnn``), whatever ``BOARD`` is; these texts say which one the
    board's image provides. The hbm_runtime cells feed one packed tensor (X5 ``.bin``) or split Y and UV
    (S-series ``.hbm``) by what the runtime reports (D-Robotics/rdk_model_zoo ``samples/_shared/cls_binding.py``,
    ``tensor_io.py``), so a user who sets ``BOARD = "s100"`` runs the same notebook."""
    b = registry.board(board)
    # which runtime comes with which board: helpers/board/hbm.py (docstring) and
    # docs/board.md, "Which runtime each board uses". The PyPI wheel hbm-runtime is the S-series build (it needs libhbucp.so and refuses .bin
    # files); the X5's hbm_runtime comes with the image (package hobot-spdev) from RDK OS 3.5.
    f: Dict[str, Any] = {}
    f["vendor_board_runtime"] = (
        f"{b.name}: `hbm_runtime` (4a)" if b.is_s else
        f"{b.name}: `hobot_dnn.pyeasy_dnn` (4b)" if board == "x3" else
        f"{b.name}: `hbm_runtime` (4a) from RDK OS 3.5, `hobot_dnn.pyeasy_dnn` (4b) on older images")
    f["vendor_hbm_where"] = (
        "On RDK X5 `hbm_runtime` comes with the system image from RDK OS 3.5 (package `hobot-spdev`) and runs "
        "the `.bin`, fed one packed NV12 tensor. On RDK S100/S100P/S600 it runs the `.hbm`, fed split Y and UV "
        "(board package `hobot-dnn`); the wheel `hbm-runtime` on the package index is that S-series build (CPython "
        "3.10, it needs `libhbucp.so` and `libdnn.so` and refuses `.bin` files), not the X5's. The import cell falls "
        "back to the stand-in "
        "when the module is missing or cannot load its libraries, and prints the first line of the reason.")
    f["vendor_dnn_where"] = (
        "In the system image of RDK X3 and of RDK X5 images before RDK OS 3.5 (on the X5 also the wheel "
        "`hobot-dnn-rdkx5`, module `hobot_dnn_rdkx5.pyeasy_dnn`). It runs `.bin` files only: on an RDK S board "
        "this part says so and does nothing.")
    return f


def _boolean_facts(values: Mapping[str, Any]) -> str:
    return ", ".join(sorted(k for k, v in values.items() if isinstance(v, bool)))


def _fill(text: str, values: Mapping[str, Any], where: str) -> str:
    def choose(m: "re.Match[str]") -> str:
        fact, yes, no = m.group(1), m.group(2), m.group(3) or ""
        if not isinstance(values.get(fact), bool):
            raise HelpersError(f"{where}: {{{{if {fact}}}}} needs a true/false fact; "
                               f"those are: {_boolean_facts(values)}")
        if _CHOICE_TAG_RE.search(yes + no):
            raise HelpersError(f"{where}: {{{{if {fact}}}}}...{{{{end}}}} holds another {{{{if}}}}, {{{{else}}}} "
                               f"or {{{{end}}}}; choices do not nest")
        return yes if values[fact] else no

    def one(m: "re.Match[str]") -> str:
        if m.group(1) not in values:
            raise HelpersError(f"{where}: unknown placeholder {{{{{m.group(1)}}}}}; "
                               f"known: {', '.join(sorted(values))}")
        return str(values[m.group(1)])

    text = _CHOICE_RE.sub(choose, text)
    stray = _CHOICE_TAG_RE.search(text)
    if stray:
        raise HelpersError(f"{where}: {stray.group(0)} without its partner; "
                           f"write {{{{if fact}}}}text{{{{else}}}}other text{{{{end}}}}")
    return _PLACEHOLDER_RE.sub(one, text)


def build(cells: Sequence[tpl.Cell], values: Mapping[str, Any], name: str = "notebook"):
    """The notebook (an nbformat node) of one template filled with ``values``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    names = [c.name for c in cells]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise HelpersError(f"{cells[0].origin}: template cell names must be unique (they are the cell ids): {dup}")
    nb = new_notebook(metadata=copy.deepcopy(NOTEBOOK_METADATA))
    n_code = 0
    for cell in cells:
        where = f"{cell.origin}, cell {cell.name!r}, for {name}"
        if cell.when is not None:
            if not isinstance(values.get(cell.when), bool):
                raise HelpersError(f"{where}: when: {cell.when} is not a true/false fact; "
                                   f"those are: {_boolean_facts(values)}")
            if not values[cell.when]:
                continue
        source = _fill(cell.source, values, where)
        if cell.kind == "markdown":
            nb.cells.append(new_markdown_cell(source, id=cell.name))
            continue
        if cell.kind != "code":
            raise HelpersError(f"{where}: kind must be 'markdown' or 'code', not {cell.kind!r}")
        n_code += 1
        c = new_code_cell(source, id=cell.name, metadata={"tags": list(cell.tags)} if cell.tags else {})
        checked = source.lstrip().startswith(tpl.CHECK)
        if checked != (cell.output is not None):
            raise HelpersError(f"{where}: a cell starting with {tpl.CHECK} needs an output, and only such a cell")
        if checked:
            text = _fill(cell.output.strip("\n"), values, where + ", its output") + "\n"
            c.outputs = [new_output("stream", name="stdout", text=text)]
            c.execution_count = n_code  # as if run top to bottom, like Jupyter would number it
        nb.cells.append(c)
    nbformat.validate(nb)
    return nb


def render(arch: str, kind: str, root: Optional[Path] = None,
           templates: Optional[Mapping[str, Sequence[tpl.Cell]]] = None) -> str:
    """The file text of ``<kind>_<arch>.ipynb`` as nbformat writes it (with the final newline)."""
    import nbformat

    templates = tpl.templates() if templates is None else templates
    text = nbformat.writes(build(templates[kind], facts(arch, root), f"{kind}_{arch}.ipynb"))
    return text if text.endswith("\n") else text + "\n"


def plan(root: Optional[Path] = None, templates: Optional[Mapping[str, Sequence[tpl.Cell]]] = None,
         archs: Optional[Sequence[str]] = None) -> List[Tuple[Path, str, bool]]:
    """``(path, text, stale)`` for every generated notebook; everything is rendered before any write."""
    root = Path(root) if root is not None else REPO_ROOT
    templates = tpl.templates() if templates is None else templates
    out = []
    for arch in (registry.ARCHS if archs is None else archs):
        for kind in templates:
            path = notebook_path(arch, kind, root)
            text = render(arch, kind, root, templates)
            old = path.read_text(encoding="utf-8") if path.is_file() else None
            out.append((path, text, old != text))
    return out


def check(root: Optional[Path] = None, **kw) -> List[str]:
    """The stale (or missing) notebooks, relative to ``root``; nothing is written."""
    root = Path(root) if root is not None else REPO_ROOT
    return [_rel(p, root) + ("" if p.exists() else " (missing)") for p, _, stale in plan(root, **kw) if stale]


def write(root: Optional[Path] = None, **kw) -> List[Path]:
    """Rewrite the notebooks that differ from their templates (each atomically); returns them."""
    written = []
    for path, text, stale in plan(root, **kw):
        if stale:
            mode = path.stat().st_mode & 0o777 if path.exists() else None
            atomic_write_text(path, text, overwrite=True)
            if mode is not None:
                os.chmod(path, mode)
            written.append(path)
    return written


def cmd_notebooks(args) -> int:
    if args.check:
        stale = check()
        if stale:
            print(f"stale generated notebooks (run `{NOTEBOOKS_COMMAND}` to update them):")
            for s in stale:
                print(f"  {s}")
            return 1
        print(f"all {len(registry.ARCHS) * len(tpl.KINDS)} generated notebooks are up to date")
        return 0
    written = write()
    for p in written:
        print(f"updated {_rel(p, REPO_ROOT)}")
    if not written:
        print("nothing to update: every generated notebook is current")
    return 0


def register(sub) -> None:
    p = sub.add_parser("notebooks", help="regenerate notebooks/<Arch>/{test,export}_<Arch>.ipynb from "
                                         "their templates (helpers/docs/templates/) and the registry")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 and list the notebooks that are out of date")
    p.set_defaults(func=cmd_notebooks)
