"""ARCHITECTURE.md's rules, checked on the source (read with ``ast``; nothing is imported).

* no import cycles between ``helpers`` modules, counting imports inside functions too;
* no module over :data:`MAX_LINES` lines;
* each subpackage imports only what its row in ARCHITECTURE.md allows, at module level and inside
  functions; the few upward edges the table names are allowed only inside functions (lazily);
* no function over :data:`MAX_FUNCTION_LINES` lines, no run of three or more blank lines, no empty
  section banner (a ``# ----`` / ``# title`` / ``# ----`` block with nothing under it).

Each rule is also run on a small tree made here that breaks it, so the checks themselves can fail.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 700
MAX_FUNCTION_LINES = 120
_RULE = re.compile(r"^# ?-{10,}\s*$")

#: subpackage -> the helpers packages its modules may import anywhere (its own package is always allowed)
ALLOWED: Dict[str, Set[str]] = {
    "helpers.board": {"helpers.errors"},
    "helpers.pc": {"helpers.board", "helpers.errors"},
    "helpers.training": {"helpers.pc", "helpers.board", "helpers.errors"},
    "helpers.notebooks": {"helpers.board", "helpers.errors"},
    "helpers.docs": {"helpers"},  # anything
    "helpers.cli": {"helpers"},
    "helpers.errors": set(),
}
#: the upward edges ARCHITECTURE.md names, allowed only inside a function: (importer prefix, imported prefix)
LAZY: Tuple[Tuple[str, str], ...] = (
    ("helpers.pc.quantize", "helpers.training.evaluate"),
    ("helpers.pc.sensitivity", "helpers.training.datasets"),
    ("helpers.notebooks", "helpers.pc"),
)


def modules(root: Path) -> Dict[str, Path]:
    out = {}
    for p in sorted((root / "helpers").rglob("*.py")):
        name = ".".join(p.relative_to(root).with_suffix("").parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = p
    return out


def imports(path: Path, known: Dict[str, Path]) -> List[Tuple[str, bool]]:
    """(imported helpers module, inside a function?) for every import in ``path`` that can run
    (an ``if TYPE_CHECKING:`` block cannot)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                continue  # never runs: annotations only
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                # "from helpers.board import registry" imports the module helpers.board.registry
                names = [f"{child.module}.{a.name}" for a in child.names]
            for n in names:
                if not n.startswith("helpers"):
                    continue
                while n not in known and "." in n:
                    n = n.rsplit(".", 1)[0]
                found.append((n, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def graph(root: Path) -> Dict[str, Set[str]]:
    known = modules(root)
    return {m: {t for t, _ in imports(p, known) if t != m and t != "helpers"} for m, p in known.items()}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def violations(root: Path) -> List[str]:
    known = modules(root)
    bad = []
    for m, p in known.items():
        pkg = _package(m)
        allowed = ALLOWED.get(pkg)
        if allowed is None:
            continue
        for target, lazily in imports(p, known):
            tpkg = _package(target)
            if target == "helpers" or tpkg == pkg or any(target == a or target.startswith(a + ".") for a in allowed):
                continue
            if "helpers" in allowed:
                continue
            if lazily and any(m.startswith(a) and target.startswith(b) for a, b in LAZY):
                continue
            where = "inside a function" if lazily else "at module level"
            bad.append(f"{m} imports {target} {where}")
    return sorted(set(bad))


def long_modules(root: Path) -> List[str]:
    return [f"{m}: {n} lines" for m, p in modules(root).items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]


def long_functions(root: Path) -> List[str]:
    out = []
    for m, p in modules(root).items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    out.append(f"{m}.{node.name}: {n} lines")
    return out


def unseen_imports(root: Path) -> List[str]:
    """Imports the graph above cannot follow: relative ones (``from . import x``) and ``importlib`` by name.
    helpers imports by absolute name only, so every edge is checked."""
    out = []
    for m, p in modules(root).items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                out.append(f"{m}:{node.lineno}: relative import")
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "import_module", "__import__") and any(
                    isinstance(a, ast.Constant) and str(a.value).startswith("helpers") for a in node.args):
                out.append(f"{m}:{node.lineno}: import of helpers by name")
    return out


def untidy(root: Path) -> List[str]:
    """Runs of 3+ blank lines and empty section banners, as ``module:line: what``."""
    out = []
    for m, p in modules(root).items():
        lines = p.read_text(encoding="utf-8").split("\n")
        run = 0
        for i, line in enumerate(lines, 1):
            if line.strip():
                if run >= 3:
                    out.append(f"{m}:{i - run}: {run} blank lines")
                run = 0
            else:
                run += 1
        for i in range(len(lines) - 2):
            if _RULE.match(lines[i]) and lines[i + 1].startswith("# ") and _RULE.match(lines[i + 2]):
                j = i + 3
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j >= len(lines) or _RULE.match(lines[j]):
                    out.append(f"{m}:{i + 1}: empty section banner")
    return out


# ------------------------------------------------------------------------------------------------
# the repository
# ------------------------------------------------------------------------------------------------
def test_no_import_cycles():
    assert cycles(graph(ROOT)) == []


def test_no_module_over_the_size_limit():
    assert long_modules(ROOT) == []


def test_each_subpackage_imports_only_what_architecture_md_allows():
    assert violations(ROOT) == []


def test_no_function_over_the_size_limit():
    assert long_functions(ROOT) == []


def test_no_blank_line_runs_or_empty_banners():
    assert untidy(ROOT) == []


def test_every_import_of_helpers_is_one_the_graph_sees():
    assert unseen_imports(ROOT) == []


def test_architecture_md_names_these_tests():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert "tests/test_architecture.py" in text


# ------------------------------------------------------------------------------------------------
# the checks can fail
# ------------------------------------------------------------------------------------------------
def _tree(tmp_path: Path, files: Dict[str, str]) -> Path:
    for rel, text in {"helpers/__init__.py": "", **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _tree(tmp_path, {
        "helpers/board/__init__.py": "",
        "helpers/board/a.py": "from helpers.board import b\n",
        "helpers/board/b.py": "def f():\n    from helpers.board import a\n",
    })
    assert cycles(graph(root)) == [["helpers.board.a", "helpers.board.b"]]


@pytest.mark.parametrize("files,expected", [
    ({"helpers/board/x.py": "import helpers.pc.models\n"}, "helpers.board.x imports helpers.pc.models at module level"),
    ({"helpers/board/x.py": "def f():\n    from helpers.training import train\n"},
     "helpers.board.x imports helpers.training.train inside a function"),
    ({"helpers/notebooks/x.py": "from helpers.pc import models\n"},
     "helpers.notebooks.x imports helpers.pc.models at module level"),
    ({"helpers/pc/quantize.py": "from helpers.training import evaluate\n"},
     "helpers.pc.quantize imports helpers.training.evaluate at module level"),
])
def test_a_forbidden_import_is_found(tmp_path, files, expected):
    stubs = {f"helpers/{p}/__init__.py": "" for p in ("board", "pc", "training", "notebooks")}
    stubs.update({"helpers/pc/models.py": "", "helpers/training/train.py": "", "helpers/training/evaluate.py": ""})
    root = _tree(tmp_path, {**stubs, **files})
    assert violations(root) == [expected]


def test_a_lazy_upward_edge_that_the_table_names_is_allowed(tmp_path):
    root = _tree(tmp_path, {
        "helpers/pc/__init__.py": "", "helpers/training/__init__.py": "", "helpers/notebooks/__init__.py": "",
        "helpers/training/evaluate.py": "", "helpers/pc/models.py": "",
        "helpers/pc/quantize.py": "def f():\n    from helpers.training import evaluate\n",
        "helpers/notebooks/x.py": "def f():\n    from helpers.pc import models\n",
    })
    assert violations(root) == []


def test_a_long_module_is_found(tmp_path):
    root = _tree(tmp_path, {"helpers/big.py": "x = 1\n" * (MAX_LINES + 1)})
    assert long_modules(root) == [f"helpers.big: {MAX_LINES + 1} lines"]


def test_a_long_function_and_untidy_source_are_found(tmp_path):
    body = "\n".join(["def f():"] + ["    x = 1"] * MAX_FUNCTION_LINES) + "\n"
    banner = "# " + "-" * 20 + "\n# nothing under this\n# " + "-" * 20 + "\n"
    root = _tree(tmp_path, {"helpers/big.py": body, "helpers/gaps.py": "x = 1\n\n\n\ny = 2\n" + banner})
    assert long_functions(root) == [f"helpers.big.f: {MAX_FUNCTION_LINES + 1} lines"]
    assert untidy(root) == ["helpers.gaps:2: 3 blank lines", "helpers.gaps:6: empty section banner"]


def test_a_relative_or_by_name_import_is_found(tmp_path):
    root = _tree(tmp_path, {"helpers/board/x.py": "from . import y\n",
                            "helpers/board/y.py": "import importlib\nm = importlib.import_module('helpers.pc.models')\n"})
    assert unseen_imports(root) == ["helpers.board.x:1: relative import",
                                    "helpers.board.y:2: import of helpers by name"]
