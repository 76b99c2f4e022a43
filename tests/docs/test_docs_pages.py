"""The top READMEs and the docs/ pages as a set: short READMEs, every relative link resolves (file and
heading), every page in both languages, README and docs linked both ways.

Found by globbing, not through ``helpers.docs.readme``, so a page readme.py does not know is still checked.
"""
import collections
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_README_LINES = 210
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def doc_files(root=ROOT):
    return [root / "README.md", root / "README_cn.md"] + sorted((root / "docs").glob("*.md"))


def headings(text):
    return [(len(m.group(1)), m.group(2)) for m in HEADING.finditer(FENCE.sub("", text))]


def slug(title):
    """GitHub's heading anchor: markup dropped, lower case, punctuation removed, spaces to '-'."""
    title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", title)
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(text):
    seen, out = collections.Counter(), set()
    for _, title in headings(text):
        s = slug(title)
        out.add(s if not seen[s] else f"{s}-{seen[s]}")
        seen[s] += 1
    return out


def broken_links(text, path, root=ROOT):
    """The relative links of ``text`` (the file at ``path``) that name no file, no heading, or leave ``root``."""
    broken = []
    for target in LINK.findall(FENCE.sub("", text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path.resolve()
        if dest != root.resolve() and root.resolve() not in dest.parents:
            broken.append(f"{target} (outside the repository)")
        elif not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target} (no such heading)")
    return broken


def unpaired(root=ROOT):
    """Problems with the EN/CN pairing of docs/: a page without its counterpart, or a pair whose headings differ."""
    problems = []
    pages = {p.name for p in (root / "docs").glob("*.md")}
    for name in sorted(pages):
        other = name[:-len("_cn.md")] + ".md" if name.endswith("_cn.md") else name[:-len(".md")] + "_cn.md"
        if other not in pages:
            problems.append(f"docs/{name} has no counterpart docs/{other}")
        elif not name.endswith("_cn.md"):
            en = headings((root / "docs" / name).read_text(encoding="utf-8"))
            cn = headings((root / "docs" / other).read_text(encoding="utf-8"))
            if [lvl for lvl, _ in en] != [lvl for lvl, _ in cn]:
                problems.append(f"docs/{name} and docs/{other}: headings differ ({len(en)} vs {len(cn)}, by level)")
    return problems


# ------------------------------------------------------------------------------------------------
# the repository
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path):
    text = path.read_text(encoding="utf-8")
    assert LINK.findall(text), f"{path.name} has no links at all"
    broken = broken_links(text, path)
    assert not broken, f"{path.relative_to(ROOT)}: broken links: {broken}"


@pytest.mark.parametrize("name", ["README.md", "README_cn.md"])
def test_the_readmes_are_short(name):
    lines = (ROOT / name).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"{name} has {lines} lines; keep it to {MAX_README_LINES} and move detail to docs/"


def test_every_docs_page_has_its_counterpart_with_the_same_headings():
    assert len(list((ROOT / "docs").glob("*.md"))) >= 2
    assert unpaired() == []


def test_readme_and_docs_link_each_other():
    """Each README links every docs page of its language, and each page links back to its README."""
    for readme, suffix in (("README.md", ""), ("README_cn.md", "_cn")):
        text = (ROOT / readme).read_text(encoding="utf-8")
        targets = {t.partition("#")[0] for t in LINK.findall(text)}
        for page in (ROOT / "docs").glob("*.md"):
            if page.stem.endswith("_cn") != bool(suffix):
                continue
            assert f"docs/{page.name}" in targets, f"{readme} does not link docs/{page.name}"
            back = {t.partition("#")[0] for t in LINK.findall(page.read_text(encoding="utf-8"))}
            assert f"../{readme}" in back, f"docs/{page.name} does not link back to {readme}"


# ------------------------------------------------------------------------------------------------
# the checks can fail
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("link, reason", [
    ("[x](docs/no_such_page.md)", "no such file"),
    ("[x](docs/faq.md#no-such-heading)", "no such heading"),
    ("[x](#nowhere)", "no such heading"),
    ("[x](../outside.md)", "outside the repository"),
    ("![x](data/figures/missing.png)", "no such file"),
])
def test_a_broken_link_is_reported(link, reason):
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8") + f"\nSee {link}.\n"
    assert broken_links(text, path) == [f"{link[link.index('(') + 1:-1]} ({reason})"]


def test_links_inside_code_are_not_links():
    path = ROOT / "docs" / "faq.md"
    assert broken_links("```\n[x](nope.md)\n```\n", path) == []


def test_an_unpaired_or_mismatched_page_is_reported(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\n## One\n")
    (docs / "a_cn.md").write_text("# 甲\n")
    (docs / "b_cn.md").write_text("# 乙\n")
    assert unpaired(tmp_path) == ["docs/a.md and docs/a_cn.md: headings differ (2 vs 1, by level)",
                                  "docs/b_cn.md has no counterpart docs/b.md"]
