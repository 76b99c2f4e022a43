"""The READMEs: quick-start commands, generated tables (not stale), EN/CN in step, links, figures.

Nothing here re-renders figures; the staleness tests re-render the markdown blocks only.
"""
import collections
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import cli
from helpers.docs import figures, readme
from helpers.board import records
from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.files import REPO_ROOT

ALL = readme.readmes()
PAIRS = [(ALL[i], ALL[i + 1]) for i in range(0, len(ALL), 2)]
PAIR_IDS = [p[0].arch or p[0].name for p in PAIRS]
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMG_TAG = re.compile(r"<img[^>]*\ssrc=\"([^\"]+)\"", re.I)
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def text_of(r):
    return r.path.read_text(encoding="utf-8")


def code_lines(text):
    """Every line inside fenced code blocks."""
    return [line for block in FENCE.findall(text) for line in block.splitlines()[1:-1]]


def prose(text):
    """``text`` without fenced code (headings inside code are not headings)."""
    return FENCE.sub("", text)


def headings(text):
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6})\s+(.+?)\s*#*\s*$", prose(text), re.M)]


def github_slug(title):
    """GitHub's heading anchor: markup dropped, lower case, punctuation removed, spaces to '-'."""
    title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", title)
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(text):
    seen = collections.Counter()
    out = set()
    for _, title in headings(text):
        s = github_slug(title)
        out.add(s if not seen[s] else f"{s}-{seen[s]}")
        seen[s] += 1
    return out


def visible_numbers(text):
    """Numbers a reader sees: link targets, HTML comments and autolinks removed."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"<https?://[^>]+>", "", text)
    return collections.Counter(NUMBER.findall(text))


# ------------------------------------------------------------------------------------------------
# quick start
# ------------------------------------------------------------------------------------------------
def ci_test_command():
    lines = [line for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if "-m pytest" in line]
    assert len(lines) == 1, f".ci/run should run pytest on exactly one line, found {lines}"
    return lines[0]


MAIN_COMMAND = ("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && "
                ".venv/bin/python -m helpers demo")


@pytest.mark.parametrize("r", ALL[:2], ids=["en", "cn"])
def test_top_readme_has_both_quickstart_commands_verbatim(r):
    lines = code_lines(text_of(r))
    assert ci_test_command() in lines, f"{r.name}: the test command must be byte-identical to .ci/run's"
    assert MAIN_COMMAND in lines, f"{r.name}: the main-job command is missing or altered"


@pytest.mark.parametrize("r", ALL[:2], ids=["en", "cn"])
def test_top_readme_board_quickstart(r):
    text = text_of(r)
    lines = code_lines(text)
    assert any(line.startswith("pip3 install -r requirements-board.txt") for line in lines)
    assert any(re.match(r"sh model/\w+/download\.sh", line) for line in lines)
    assert any(line.startswith("jupyter lab") for line in lines)
    assert re.search(r"notebooks/(\w+)/test_\1\.ipynb", text)


def test_ci_runs_the_readme_test_command():
    cmd = ci_test_command()
    assert cmd.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && ")
    assert "--nbval-lax" in cmd and cmd.rstrip().endswith("tests notebooks")


# ------------------------------------------------------------------------------------------------
# generated blocks
# ------------------------------------------------------------------------------------------------
def test_generated_blocks_are_current():
    stale = readme.check()
    assert not stale, f"stale README blocks (run `python -m helpers readme`): {stale}"


#: the blocks of the top README and of the docs pages (file name without _cn.md / .md -> block names)
EXPECTED_TOP = {"README": ["models", "published"], "docs/board": ["boards"], "docs/measured": ["demo"],
                "docs/quantisation": ["sensitivity"]}


def _stem(r):
    """``README``, ``docs/board``, ... for the top README and the docs pages (both languages)."""
    name = r.name[:-len("_cn.md")] if r.name.endswith("_cn.md") else r.name[:-len(".md")]
    return name


def test_every_readme_has_its_blocks():
    expected_arch = ["links", "variants", "commands", "published", "measured", "download", "yaml"]
    for r in ALL:
        names = [b.name for b in readme.find_blocks(text_of(r), r.name)]
        if r.arch is None:
            want = EXPECTED_TOP.get(_stem(r), [])
        else:
            want = expected_arch + (["training"] if r.arch == "MobileOne" else [])
        assert names == want, f"{r.name}: blocks {names}, expected {want}"


def test_docs_pages_are_generated_block_targets(tmp_path):
    """readme.py finds every docs page pair; a stale block in a docs page is found and rewritten; a docs page
    without its Chinese counterpart is an error."""
    names = {r.name for r in ALL}
    for page in (REPO_ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in names, f"docs/{page.name} is not among readme.readmes()"
    _copy_readmes(tmp_path)
    page = tmp_path / "docs" / "measured_cn.md"
    _edit_block(page, "demo", lambda body: "\nold table\n")
    assert readme.check(tmp_path) == ["docs/measured_cn.md: demo"]
    assert readme.write(tmp_path) == [page]
    assert page.read_text(encoding="utf-8") == (REPO_ROOT / "docs" / "measured_cn.md").read_text(encoding="utf-8")
    (tmp_path / "docs" / "faq_cn.md").unlink()
    with pytest.raises(HelpersError, match="docs/faq_cn.md is missing"):
        readme.check(tmp_path)


def _copy_readmes(dst: Path):
    for r in ALL:
        target = dst / r.path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(r.path, target)


def _edit_block(path: Path, name: str, edit):
    text = path.read_text(encoding="utf-8")
    b = next(b for b in readme.find_blocks(text) if b.name == name)
    path.write_text(text[:b.start] + edit(b.content(text)) + text[b.end:], encoding="utf-8")


def test_stale_block_is_detected_and_fixed(tmp_path):
    _copy_readmes(tmp_path)
    spec = next(s for s in registry.MODELS.values() if s.published)
    p = spec.published[0]
    top = tmp_path / "README.md"
    _edit_block(top, "published", lambda body: body.replace(f"{p.float_top1:.2f}", "99.99"))
    arch_cn = tmp_path / "notebooks" / spec.arch / "README_cn.md"
    _edit_block(arch_cn, "links", lambda body: body + "\nhand edit\n")
    assert sorted(readme.check(tmp_path)) == sorted(["README.md: published",
                                                     f"notebooks/{spec.arch}/README_cn.md: links"])
    written = readme.write(tmp_path)
    assert sorted(written) == sorted([top, arch_cn])
    assert readme.check(tmp_path) == []
    assert f"| {p.float_top1:.2f} |" in top.read_text(encoding="utf-8")
    # text outside the blocks is kept
    assert (tmp_path / "README.md").read_text(encoding="utf-8").startswith("English | ")


def test_cli_check_lists_stale_blocks_and_exits_nonzero(tmp_path, monkeypatch, capsys):
    _copy_readmes(tmp_path)
    _edit_block(tmp_path / "README_cn.md", "models", lambda body: "\nold table\n")
    monkeypatch.setattr(readme, "REPO_ROOT", tmp_path)
    assert cli.main(["readme", "--check"]) == 1
    out = capsys.readouterr().out
    assert "README_cn.md: models" in out and "python -m helpers readme" in out
    assert cli.main(["readme"]) == 0
    assert cli.main(["readme", "--check"]) == 0


def test_cli_check_passes_on_the_repository(capsys):
    assert cli.main(["readme", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("text, needle", [
    ("a\n<!-- BEGIN GENERATED: models -->\nx\n", "never closed"),
    ("<!-- END GENERATED: models -->\n", "without a matching"),
    ("<!-- BEGIN GENERATED: models -->\n<!-- BEGIN GENERATED: demo -->\n", "inside block models"),
    ("<!-- BEGIN GENERATED: a -->\n<!-- END GENERATED: b -->\n", "without a matching"),
    ("<!-- BEGIN GENERATED: models -->\n<!-- END GENERATED: models -->\n"
     "<!-- BEGIN GENERATED: models -->\n<!-- END GENERATED: models -->\n", "more than once"),
])
def test_bad_markers_give_one_line_errors(text, needle):
    with pytest.raises(HelpersError) as e:
        readme.update_text(text, "en", None, "X.md")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_unknown_or_misplaced_block_is_refused(tmp_path, monkeypatch, capsys):
    with pytest.raises(HelpersError, match="unknown generated block 'nope'"):
        readme.update_text("<!-- BEGIN GENERATED: nope -->\n<!-- END GENERATED: nope -->\n", "en", None, "X.md")
    with pytest.raises(HelpersError, match="belongs in a notebooks/<Arch>/README"):
        readme.render("yaml", "en", None)
    # through the CLI: one line, exit 2, nothing written
    _copy_readmes(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("README*.md")}
    (tmp_path / "README.md").write_text(before[tmp_path / "README.md"].decode() +
                                        "\n<!-- BEGIN GENERATED: nope -->\n<!-- END GENERATED: nope -->\n")
    _edit_block(tmp_path / "README_cn.md", "models", lambda body: "\nold\n")
    monkeypatch.setattr(readme, "REPO_ROOT", tmp_path)
    assert cli.main(["readme"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: README.md:") and "nope" in err and "\n" not in err
    # all-or-nothing: the valid stale block in README_cn.md was not rewritten either
    assert "\nold\n" in (tmp_path / "README_cn.md").read_text(encoding="utf-8")


def test_missing_readme_is_an_error(tmp_path):
    _copy_readmes(tmp_path)
    (tmp_path / "notebooks" / "MobileNetV1" / "README_cn.md").unlink()
    with pytest.raises(HelpersError, match="MobileNetV1/README_cn.md is missing"):
        readme.check(tmp_path)


# ------------------------------------------------------------------------------------------------
# published vs measured numbers
# ------------------------------------------------------------------------------------------------
def test_published_rows_match_the_registry_and_cite_their_source():
    checked = 0
    for r in ALL:
        text = text_of(r)
        body = next((b.content(text) for b in readme.find_blocks(text) if b.name == "published"), None)
        if body is None:
            assert r.arch is None, f"{r.name} has no published block"
            continue
        checked += 1
        keys = registry.keys(r.arch)
        for key in keys:
            for p in registry.get(key).published:
                board = registry.BOARDS[p.board].name
                row = next((line for line in body.splitlines()
                            if line.startswith(f"| `{key}` | {board} |")), None)
                assert row, f"{r.name}: no published row for {key} on {board}"
                cells = [c.strip() for c in row.strip("|").split("|")]
                assert cells[1] == registry.BOARDS[p.board].name
                assert [None if c == "-" else float(c) for c in cells[2:8]] == [
                    p.params_m, p.float_top1, p.quant_top1, p.latency_1t_ms, p.latency_mt_ms, p.fps]
                assert f"({p.source})" in cells[9] and f"({p.bin_url})" in cells[8]
                space = {"full": "regular", "limited": "bt601_video"}[p.yuv_range]
                assert cells[10].startswith(f"[`{space}`]") or cells[10].startswith(f"`{space}`"), (key, p.board)
                assert ("softmax output" in cells[10]) == p.output_is_probability
        label = "*Published*" if r.lang == "en" else "*公开发布*"
        if any(registry.get(k).published for k in keys):
            assert label in body
    assert checked == 2 + 2 * len(registry.ARCHS)


def test_mobileone_training_figures_are_labelled_published():
    mm = registry.MOBILEONE_MMPRETRAIN
    for r in ALL:
        if r.arch != "MobileOne":
            continue
        text = text_of(r)
        body = next(b for b in readme.find_blocks(text) if b.name == "training").content(text)
        assert f"| {mm['top1']:.2f} |" in body and f"| {mm['fps']:g} |" in body
        assert ("*Published*" if r.lang == "en" else "*公开发布*") in body


def test_measured_tables_name_their_command():
    """Every table in a measured block is captioned with the command that made it, or says how to make it."""
    for r in ALL:
        text = text_of(r)
        for b in readme.find_blocks(text):
            if b.name not in ("measured", "demo", "training"):
                continue
            body = b.content(text)
            sections = [s for s in re.split(r"\n(?=\*\*)", body) if s.strip().startswith("**")]
            assert sections, f"{r.name}: {b.name} has no sections"
            for s in sections:
                if "|" in s:
                    assert re.search(r"\*(Measured|实测)\*(?: by |：)`python -m helpers [^`]+`", s), s[:200]
                else:
                    assert re.search(r"(Not measured yet - run|尚未测量 - 运行) `python -m helpers [^`]+`", s), s[:200]


def test_random_weight_results_never_show_accuracy(tmp_path):
    rows = [{"stage": "float ONNX", "weights": "random", "top1": 12.34, "top5": 56.78, "latency_ms": 1.5},
            {"stage": "trained ONNX", "weights": "digits checkpoint", "top1": 97.25, "latency_ms": 1.25}]
    records.record_result("demo", rows, "python -m helpers demo --record", merge_on=(), results_dir=tmp_path)
    for lang in readme.LANGS:
        out = readme.render("demo", lang, None, results_dir=tmp_path)
        assert "12.34" not in out and "56.78" not in out, "a random-weight accuracy leaked into a table"
        assert readme.T["random_withheld"][lang] in out
        assert "97.25" in out and "1.50" in out and "1.25" in out  # trained accuracy and all latencies stay
        assert "`python -m helpers demo --record`" in out


def test_file_level_random_weights_hide_accuracy_fields(tmp_path):
    records.record_result("quantize", [{"key": "mobileone_s0", "float_top1": 70.5, "int8_top1": 69.5,
                                       "latency_ms": 3.0}],
                         "python -m helpers quantize ONNX --calib DIR --out FILE --data DIR --record",
                         results_dir=tmp_path, weights="random")
    out = readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    assert "70.50" not in out and "69.50" not in out and "3.00" in out


def test_not_measured_yet_names_the_command(tmp_path):
    out = readme.render("demo", "en", None, results_dir=tmp_path)
    assert out.endswith(f"Not measured yet - run `{readme.DEMO.command}`, then `python -m helpers readme`.")
    # per-architecture READMEs leave an unmeasured row out instead: tests/docs/test_arch_readmes.py


def test_record_result_merges_by_key_and_rejects_bad_files(tmp_path):
    cmd = "python -m helpers bench FILE --record"
    records.record_result("bench", [{"key": "mobilenetv1_100", "latency_ms": 2.0},
                                   {"key": "mobileone_s0", "latency_ms": 5.0}], cmd, results_dir=tmp_path)
    records.record_result("bench", [{"key": "mobileone_s0", "latency_ms": 4.0}], cmd, results_dir=tmp_path)
    data = records.load_result("bench", tmp_path)
    assert [(r["key"], r["latency_ms"]) for r in data["rows"]] == [("mobileone_s0", 4.0), ("mobilenetv1_100", 2.0)]
    assert data["command"] == cmd and data["machine"] and data["date"]
    out = readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    assert "| `mobileone_s0` | 4.00 |" not in out  # key column is plain text in result tables
    assert "| mobileone_s0 | not recorded | 4.00 |" in out and "mobilenetv1_100" not in out  # (no weights given)
    (tmp_path / "export.json").write_text("{not json")
    with pytest.raises(HelpersError, match="export.json is not valid JSON"):
        readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    (tmp_path / "export.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(HelpersError, match="needs a 'command'"):
        records.load_result("export", tmp_path)
    with pytest.raises(HelpersError, match="result name"):
        records.record_result("../x", [], cmd, results_dir=tmp_path)


def test_committed_results_are_valid():
    for f in sorted(records.RESULTS_DIR.glob("*.json")):
        data = records.load_result(f.stem)
        assert data["command"].startswith("python -m helpers "), f
        for row in data["rows"]:
            if "key" in row:
                registry.get(row["key"])


# ------------------------------------------------------------------------------------------------
# EN and CN in step
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("en, cn", PAIRS, ids=PAIR_IDS)
def test_en_and_cn_have_the_same_structure(en, cn):
    h_en, h_cn = headings(text_of(en)), headings(text_of(cn))
    count = lambda hs: collections.Counter(level for level, _ in hs)  # noqa: E731
    assert count(h_en) == count(h_cn), f"{en.name} vs {cn.name}: headings per level differ"
    assert [lvl for lvl, _ in h_en] == [lvl for lvl, _ in h_cn], "heading levels are in a different order"
    assert [b.name for b in readme.find_blocks(text_of(en))] == [b.name for b in readme.find_blocks(text_of(cn))]
    assert len(FENCE.findall(text_of(en))) == len(FENCE.findall(text_of(cn))), "different number of code blocks"


@pytest.mark.parametrize("en, cn", PAIRS, ids=PAIR_IDS)
def test_en_and_cn_have_the_same_tables_and_numbers(en, cn):
    t_en, t_cn = text_of(en), text_of(cn)
    for be, bc in zip(readme.find_blocks(t_en), readme.find_blocks(t_cn)):
        ce, cc = be.content(t_en), bc.content(t_cn)
        rows_e = [line.count("|") for line in ce.splitlines() if line.startswith("|")]
        rows_c = [line.count("|") for line in cc.splitlines() if line.startswith("|")]
        assert rows_e == rows_c, f"{be.name}: tables differ in shape between {en.name} and {cn.name}"
        assert visible_numbers(ce) == visible_numbers(cc), f"{be.name}: numbers differ"
    ne, nc = visible_numbers(t_en), visible_numbers(t_cn)
    assert ne == nc, (f"{en.name} vs {cn.name}: numbers only in EN {dict(ne - nc)}, only in CN {dict(nc - ne)}")
    assert code_lines(t_en) == code_lines(t_cn) or [re.sub(r"#.*", "", x) for x in code_lines(t_en)] == \
        [re.sub(r"#.*", "", x) for x in code_lines(t_cn)], "code blocks differ beyond their comments"


def test_language_switch_links():
    for en, cn in PAIRS:
        assert text_of(en).startswith(f"English | [简体中文]({cn.path.name})"), en.name
        assert text_of(cn).startswith(f"[English]({en.path.name}) | 简体中文"), cn.name


# ------------------------------------------------------------------------------------------------
# links and figures
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("r", ALL, ids=[r.name for r in ALL])
def test_relative_links_and_images_resolve(r):
    text = text_of(r)
    targets = LINK.findall(prose(text)) + IMG_TAG.findall(text)
    assert targets, f"{r.name} has no links at all"
    broken = []
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (r.path.parent / path).resolve() if path else r.path
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target} (no such heading)")
        elif dest.resolve() != REPO_ROOT.resolve() and REPO_ROOT.resolve() not in dest.resolve().parents:
            broken.append(f"{target} (outside the repository)")
    assert not broken, f"{r.name}: broken links: {broken}"


def _referenced_images():
    refs = set()
    for r in ALL:
        for target in LINK.findall(prose(text_of(r))) + IMG_TAG.findall(text_of(r)):
            if target.lower().endswith(".png"):
                refs.add((r.lang, (r.path.parent / target).resolve()))
    return refs


def test_figures_exist_are_small_pngs_and_are_referenced():
    refs = _referenced_images()
    for f in figures.figure_list():
        assert f.path.exists(), f"{f.path} is missing: run `python -m helpers figures`"
        data = f.path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{f.path} is not a PNG"
        assert len(data) < 100 * 1024, f"{f.path} is {len(data) // 1024} KB; keep figures under 100 KB"
        for lang in readme.LANGS:
            assert (lang, f.path.resolve()) in refs, f"{f.name} is not shown in any {lang} README"


def test_every_committed_figure_is_ours_and_used():
    """No stray images: every PNG in the figure folders is one we draw, and a README shows it."""
    drawn = {f.path.resolve() for f in figures.figure_list()}
    pngs = list((REPO_ROOT / "data" / "figures").glob("*.png")) + list(REPO_ROOT.glob("notebooks/*/figures/*.png"))
    assert pngs
    for p in pngs:
        assert p.resolve() in drawn, f"{p} is not drawn by helpers/docs/figures.py"
    refs = {path for _, path in _referenced_images()}
    assert all(p.resolve() in refs for p in pngs)


def test_architecture_stats_add_up():
    """The per-stage stats the figures and tables use: stages sum to the total, shapes end at the classes."""
    stats = figures.load_stats()
    assert set(stats) == set(registry.MODELS), "run `python -m helpers figures` after changing the registry"
    for key, st in stats.items():
        spec = registry.get(key)
        assert sum(s["params"] for s in st["stages"]) == st["params"]
        assert st["stages"][-1]["out_shape"] == [spec.num_classes]
        assert st["input_size"] == list(spec.input_size)
        assert ("params_fused" in st) == spec.reparameterizable
        if spec.reparameterizable:
            assert st["params_fused"] <= st["params"]


def test_missing_or_broken_stats_file_gives_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "STATS_FILE", tmp_path / "architecture.json")
    with pytest.raises(HelpersError, match="is missing; run `python -m helpers figures`"):
        figures.load_stats()
    (tmp_path / "architecture.json").write_text('{"rows": [{"no key": 1}]}')
    with pytest.raises(HelpersError, match="is not a valid result file"):
        figures.load_stats()
    with pytest.raises(HelpersError, match="unknown figure"):
        figures.make_figures(["no_such_figure"], measure=False)


def test_demo_figure_is_drawn_from_a_recorded_result(tmp_path):
    """Smoke test of the one figure that exists only after `demo --record` (no pixel comparison)."""
    rows = [{"stage": "PyTorch", "weights": "digits checkpoint", "top1": 97.0, "latency_ms": 2.5},
            {"stage": "INT8 ONNX", "weights": "random", "top1": 11.0, "latency_ms": 1.0}]
    path = records.record_result("demo", rows, readme.DEMO.command, merge_on=(), results_dir=tmp_path)
    out = figures.draw_demo(records.load_result("demo", tmp_path), tmp_path / "demo.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 100 * 1024
    assert path.exists()


def test_the_yaml_tables_state_the_range_each_committed_yaml_declares():
    """Every row of the per-architecture yaml tables (EN and CN) against the committed file it links."""
    import re

    from helpers.board import files, registry
    from helpers.pc import mapper

    rows = 0
    for arch in registry.ARCHS:
        for name in ("README.md", "README_cn.md"):
            text = (files.REPO_ROOT / "notebooks" / arch / name).read_text(encoding="utf-8")
            for yaml_name, space in re.findall(r"\[([\w.]+\.yaml)\]\([^)]*\)(?: \|[^|\n]*){2} \| `(\w+)` \|", text):
                cfg = mapper.load_config(files.YAML_DIR / arch / yaml_name)
                declared = cfg["input_parameters"].get("input_space_and_range") or "regular"
                assert space == declared, (arch, name, yaml_name)
                rows += 1
    assert rows == 2 * sum(len(m.boards) for m in registry.MODELS.values())
