"""Text outside the READMEs that points into the documentation: the notebooks' links and the code's mentions
of ``docs/<page>.md`` (with a quoted heading where one is named) must lead somewhere that exists."""
import json
import re
from pathlib import Path

import pytest

from tests.docs.test_docs_pages import broken_links, headings

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
SOURCES = sorted((ROOT / "helpers").rglob("*.py")) + sorted((ROOT / "helpers" / "docs" / "templates").glob("*.md")) \
    + [ROOT / "conftest.py"]
#: docs/page.md, optionally followed by a quoted heading: `docs/nv12.md, "Heading"` or `docs/nv12.md ("Heading")`
MENTION = re.compile(r"docs/([a-z0-9_]+\.md)(?:,? \(?\"([^\"]+)\")?")
#: the README sections that moved to docs/; a mention of one in the code is stale
STALE = re.compile(r"README'?s? (?:FAQ|quantisation section|demo table)|README table \"")


def mentions(text):
    """Problems with the docs/ mentions of ``text``: a page that does not exist, a heading the page lacks."""
    out = []
    for page, heading in MENTION.findall(text):
        heading = re.sub(r"\s*\n\s*(?:#\s*)?", " ", heading)  # a heading wrapped over comment or docstring lines
        path = ROOT / "docs" / page
        if not path.exists():
            out.append(f"docs/{page} (no such page)")
        elif heading and heading not in [t for _, t in headings(path.read_text(encoding="utf-8"))]:
            out.append(f'docs/{page} "{heading}" (no such heading)')
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_links_resolve(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert not broken_links(text, path), f"{path.name}: broken links {broken_links(text, path)}"
    assert not STALE.findall(text), f"{path.name}: points to a README section that is now in docs/"


def test_code_mentions_of_docs_pages_exist():
    bad = {p.relative_to(ROOT).as_posix(): m for p in SOURCES if (m := mentions(p.read_text(encoding="utf-8")))}
    assert not bad, f"docs/ mentions that lead nowhere: {bad}"
    stale = {p.relative_to(ROOT).as_posix(): STALE.findall(p.read_text(encoding="utf-8")) for p in SOURCES}
    stale = {k: v for k, v in stale.items() if v}
    assert not stale, f"mentions of README sections that are now in docs/: {stale}"


@pytest.mark.parametrize("text, problem", [
    ('see docs/nowhere.md', "docs/nowhere.md (no such page)"),
    ('see docs/nv12.md, "No such heading"', 'docs/nv12.md "No such heading" (no such heading)'),
    ('see docs/nv12.md ("Nor this one")', 'docs/nv12.md "Nor this one" (no such heading)'),
])
def test_a_bad_mention_is_reported(text, problem):
    assert mentions(text) == [problem]


def test_a_good_mention_and_a_stale_one():
    assert mentions('see docs/nv12.md, "Which NV12 range does the board expect?"') == []
    assert mentions('# see docs/nv12.md ("Which NV12 range\n    # does the board expect?")') == []
    assert STALE.findall("the README's quantisation section says") and not STALE.findall("docs/quantisation.md")


def test_the_published_mobileone_int8_drop_quoted_in_docs_is_the_registrys():
    """docs/measured(_cn).md quote the range of the published MobileOne float -> .bin top-1 drops; it must be the
    range of the figures in the registry (the zoo's), so a changed figure shows up here."""
    from helpers.board import registry

    drops = [p.float_top1 - p.quant_top1 for k in registry.keys() if k.startswith("mobileone")
             for p in registry.get(k).published if p.float_top1 is not None and p.quant_top1 is not None]
    lo, hi = f"{min(drops):.1f}", f"{max(drops):.1f}"
    assert (lo, hi) == ("1.0", "3.5")  # the zoo's tables: S1 on X3 72.00 -> 71.00, S2 on X5 74.75 -> 71.25
    for page, words in (("measured.md", f"lose {lo} to {hi} points"), ("measured_cn.md", f"低 {lo} 到 {hi} 个点")):
        text = " ".join((ROOT / "docs" / page).read_text(encoding="utf-8").split())
        assert words in text, f"docs/{page} does not quote the published range {lo} to {hi}"
