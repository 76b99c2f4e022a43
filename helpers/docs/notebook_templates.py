"""Read the two notebook templates, text files a person edits: ``helpers/docs/templates/test.md`` (makes
``notebooks/<Arch>/test_<Arch>.ipynb``) and ``helpers/docs/templates/export.md`` (``export_<Arch>.ipynb``).

To change a sentence or a line of code of those eight notebooks, edit the template and run
``python -m helpers notebooks``. The templates are jupytext's MyST markdown; the comment block at the top of
each file explains the format. Each cell has a stable ``name`` (the notebook's cell id), and optionally
``when`` (a true/false fact: the cell exists only where it is true), ``tags`` and, for a code cell whose first
line is ``# NBVAL_CHECK_OUTPUT``, the ``output`` nbval compares. This module checks the file and returns
:class:`Cell` s; :mod:`helpers.docs.notebooks` fills in the facts (``{{fact}}``, ``{{if fact}}...{{end}}``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from helpers.board.files import REPO_ROOT
from helpers.errors import HelpersError

CHECK = "# NBVAL_CHECK_OUTPUT"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: notebook file stem prefix, in order; ``<kind>.md`` makes ``notebooks/<Arch>/<kind>_<Arch>.ipynb``
KINDS = ("test", "export")
MAX_TEMPLATE_BYTES = 256 * 1024
#: the options a cell may have in a template
OPTIONS = ("name", "when", "tags", "output")
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # nbformat's cell id pattern
_FACT_RE = re.compile(r"\w+\Z")
# what an unclosed ``` leaves inside a code cell: the next cells' own markers
_SWALLOWED_RE = re.compile(r"^(\+\+\+|```\{code-cell\})", re.M)
_JUPYTEXT_ERROR_RE = re.compile(r"(Markdown|Code) cell \d+ at line (\d+) could not be read: (.*)")


@dataclass(frozen=True)
class Cell:
    name: str                       # the cell id: unique in its template, [A-Za-z0-9_-]
    kind: str                       # "markdown" or "code"
    source: str                     # text with {{fact}} placeholders and {{if fact}}...{{end}} choices
    when: Optional[str] = None      # name of a boolean fact; the cell exists only where it is true
    tags: Tuple[str, ...] = ()      # cell metadata tags (papermill's "parameters")
    output: Optional[str] = None    # the stdout nbval checks, for a cell starting with CHECK
    origin: str = "template"        # the template file, for error messages


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def _snippet(source: str) -> str:
    first = next((line for line in source.splitlines() if line.strip()), "")
    return repr(first[:40])


def _cell(nb_cell: Mapping[str, Any], where: str, origin: str) -> Cell:
    """One jupytext cell as a :class:`Cell`, every option checked; ``where`` names it in errors."""
    kind, source, meta = nb_cell["cell_type"], nb_cell["source"], dict(nb_cell.get("metadata", {}))
    name = meta.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        how = ('a line +++ {"name": "..."} before it' if kind == "markdown"
               else "a line :name: ... after ```{code-cell}")
        raise HelpersError(f"{where} ({_snippet(source)}): needs a name of letters, digits, - and _ "
                           f"({how}), not {name!r}")
    where = f"{origin}, cell {name!r}"
    if kind not in ("markdown", "code"):
        raise HelpersError(f"{where}: a {kind} cell; a template has markdown cells (+++) and ```{{code-cell}} only")
    unknown = sorted(set(meta) - set(OPTIONS))
    if unknown:
        raise HelpersError(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    when, tags, output = meta.get("when"), meta.get("tags", []), meta.get("output")
    if when is not None and not (isinstance(when, str) and _FACT_RE.match(when)):
        raise HelpersError(f"{where}: when must name one true/false fact, not {when!r}")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise HelpersError(f"{where}: tags must be a list of words, like [parameters], not {tags!r}")
    if kind == "code" and _SWALLOWED_RE.search(source):
        raise HelpersError(f"{where}: its code runs into the next cell; is its closing ``` missing?")
    checked = kind == "code" and source.lstrip().startswith(CHECK)
    if checked != (output is not None) or (output is not None and not isinstance(output, str)):
        raise HelpersError(f"{where}: a code cell starting with {CHECK} needs the text of its output "
                           f"(output: | in its --- options block), and only such a cell has one")
    return Cell(name, kind, source, when, tuple(tags), output, origin)


def load(path: Path) -> Tuple[Cell, ...]:
    """The cells of one template file, in order; any problem is a one-line :class:`HelpersError`."""
    path = Path(path)
    origin = _rel(path)
    if not path.is_file():
        raise HelpersError(f"{origin} is missing; the notebook templates are {', '.join(k + '.md' for k in KINDS)} "
                           f"in {_rel(TEMPLATE_DIR)}")
    if path.stat().st_size > MAX_TEMPLATE_BYTES:
        raise HelpersError(f"{origin} is larger than {MAX_TEMPLATE_BYTES // 1024} KiB; "
                           f"a notebook template is a few pages")
    import jupytext

    try:
        nb = jupytext.reads(path.read_bytes().decode("utf-8"), fmt="md:myst")
    except Exception as e:  # jupytext's MystMetadataParsingError (bad yaml or json in a cell's options), decoding
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
        m = _JUPYTEXT_ERROR_RE.match(detail)  # "Code cell 3 at line 40 could not be read: ...", cells from 0
        if m:
            raise HelpersError(f"{origin}, line {m.group(2)}: the options of this {m.group(1).lower()} cell are not "
                               f"valid {'JSON' if m.group(1) == 'Markdown' else 'yaml'}: {m.group(3)}") from None
        raise HelpersError(f"{origin}: not a template jupytext can read as MyST markdown: {detail}") from None
    cells = tuple(_cell(c, f"{origin}, cell {i}", origin) for i, c in enumerate(nb.cells, 1))
    if not cells:
        raise HelpersError(f"{origin}: no cells; a template starts with +++ {{\"name\": \"intro\"}}")
    first: Dict[str, int] = {}
    for i, c in enumerate(cells, 1):
        if c.name in first:
            raise HelpersError(f"{origin}, cell {c.name!r}: the name of cells {first[c.name]} and {i}; "
                               f"a name is the cell id, unique in its template")
        first[c.name] = i
    return cells


def templates(directory: Optional[Path] = None) -> Dict[str, Tuple[Cell, ...]]:
    """kind -> cells, for every template in ``directory`` (default :data:`TEMPLATE_DIR`)."""
    directory = Path(directory) if directory is not None else TEMPLATE_DIR
    return {kind: load(directory / f"{kind}.md") for kind in KINDS}


def __getattr__(name: str):
    """``TEST``, ``EXPORT``, ``TEMPLATES``: the templates as they are on disk now (read on each access)."""
    if name in ("TEST", "EXPORT"):
        return load(TEMPLATE_DIR / f"{name.lower()}.md")
    if name == "TEMPLATES":
        return templates()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
