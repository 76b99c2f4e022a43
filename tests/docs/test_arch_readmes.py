"""The per-architecture READMEs (``notebooks/<Arch>/README*.md``): the section order of D-Robotics'
sample READMEs, measured rows only, and every measured row naming its weights, machine and date.

The section order follows the RDK Model Zoo's per-model READMEs, e.g. ``samples/vision/mobilenetv4/README.md``
and ``samples/vision/mobileone/README.md`` of https://github.com/D-Robotics/rdk_model_zoo (overview with the
algorithm, directory structure, support matrix, prerequisites, quick start, expected results, performance
data, then model, conversion, runtime and evaluation).
"""
import json
import re

import pytest

from helpers.board import records, registry
from helpers.board.files import NOTEBOOK_DIR, REPO_ROOT
from helpers.docs import readme

ARCH_READMES = [r for r in readme.readmes() if r.arch is not None]
IDS = [r.name for r in ARCH_READMES]
NOT_MEASURED = ("Not measured yet", "尚未测量")
SECTIONS = {
    "en": ["Overview", "Directory structure", "Support matrix", "Prerequisites", "Quick start", "Expected results",
           "Performance data", "Model download", "Conversion", "Runtime", "Evaluation and quantisation", "Training"],
    "cn": ["概述", "目录结构", "支持的型号与开发板", "准备工作", "快速上手", "运行结果", "性能数据", "模型下载", "模型转换",
           "运行时", "评估与量化", "训练"],
}
MEASURED_ON = {"en": "measured on (machine, date)", "cn": "测量环境（机器，日期）"}
WEIGHTS = {"en": "weights", "cn": "权重"}
MACHINE_DATE = re.compile(r"^.+, \d+ CPU threads, [^,]+, \d{4}-\d{2}-\d{2}$")
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)


def text_of(r):
    return r.path.read_text(encoding="utf-8")


def table_rows(section):
    """``(header, [row cells])`` of the first markdown table in ``section``."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    split = lambda line: [c.strip() for c in line.strip("|").split(" | ")]  # noqa: E731
    return split(lines[0]), [split(line) for line in lines[2:]]


def measured_sections(r):
    """The ``**title**`` sections with a table in the measured and training blocks, except those whose
    numbers depend neither on weights nor on machine (model structure) or are published (mmpretrain)."""
    text = text_of(r)
    out = []
    for b in readme.find_blocks(text, r.name):
        if b.name not in ("measured", "training"):
            continue
        for s in re.split(r"\n(?=\*\*)", b.content(text)):
            if s.startswith("**") and "|" in s and "`python -m helpers figures`" not in s:
                out.append(s)
    return out


@pytest.mark.parametrize("r", readme.readmes(), ids=[r.name for r in readme.readmes()])
def test_no_readme_announces_a_missing_measurement(r):
    text = text_of(r)
    for phrase in NOT_MEASURED:
        assert phrase not in text, f"{r.name} says {phrase!r}: record the row or leave it out"


@pytest.mark.parametrize("r", ARCH_READMES, ids=IDS)
def test_every_measured_row_names_its_weights_machine_and_date(r):
    sections = measured_sections(r)
    assert sections, f"{r.name}: no measured tables"
    for s in sections:
        header, rows = table_rows(s)
        title = s.splitlines()[0]
        assert WEIGHTS[r.lang] in header and MEASURED_ON[r.lang] in header, f"{r.name} {title}: {header}"
        wi, mi = header.index(WEIGHTS[r.lang]), header.index(MEASURED_ON[r.lang])
        assert rows, f"{r.name} {title}: a table without rows"
        for row in rows:
            assert row[wi] and row[wi] not in (readme.DASH, readme.NOT_RECORDED[r.lang]), f"{r.name} {title}: {row}"
            assert MACHINE_DATE.match(row[mi]), f"{r.name} {title}: machine/date {row[mi]!r}"


def test_committed_per_model_rows_carry_their_own_stamps():
    """Rows of one file may come from different machines: each row says which (not only the file)."""
    for name in [s.name for s in readme.PER_MODEL_SOURCES] + [readme.DEMO.name]:
        data = records.load_result(name)
        assert data is not None, name
        for row in data["rows"]:
            for k in records.ROW_STAMPS:
                assert row.get(k), f"data/results/{name}.json row {row.get('key')} has no {k}"
            assert MACHINE_DATE.match(f"{row['machine']}, {row['date']}"), row["machine"]


def test_a_measurement_without_a_row_is_left_out(tmp_path):
    for lang in readme.LANGS:
        out = readme.render("measured", lang, "MobileNetV1", results_dir=tmp_path)
        assert out == "", out  # nothing recorded: nothing shown, nothing announced
    records.record_result("sensitivity", [{"key": "mobileone_s0", "board": "x5", "kept_layers": 1}],
                          readme.PER_MODEL_SOURCES[-1].command, merge_on=("key", "board"), results_dir=tmp_path)
    title = readme.PER_MODEL_SOURCES[-1].title_en
    assert title in readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    out = readme.render("measured", "en", "MobileNetV1", results_dir=tmp_path)
    assert title not in out and not any(p in out for p in NOT_MEASURED)


def test_rows_keep_the_machine_they_were_measured_on(tmp_path, monkeypatch):
    """A file recorded on machine A, then one row re-recorded on machine B: A's rows still name A."""
    legacy = {"schema": 1, "name": "bench", "command": "python -m helpers bench FILE --record",
              "machine": "AMD Test CPU, x86_64, 2 CPU threads, Linux", "date": "2020-01-02",
              "rows": [{"key": "mobileone_s0", "weights": "random", "threads": 1, "latency_ms": 2.0},
                       {"key": "mobilenetv1_100", "weights": "random", "threads": 1, "latency_ms": 3.0}]}
    (tmp_path / "bench.json").write_text(json.dumps(legacy))
    monkeypatch.setattr(records, "machine", lambda: "Intel Test CPU, x86_64, 4 CPU threads, Linux")
    records.record_result("bench", [{"key": "mobilenetv1_100", "weights": "random", "threads": 1, "latency_ms": 4.0}],
                          "python -m helpers bench FILE --record", merge_on=("key", "threads"), results_dir=tmp_path)
    rows = {r["key"]: r for r in records.load_result("bench", tmp_path)["rows"]}
    assert rows["mobileone_s0"]["machine"].startswith("AMD Test CPU") and rows["mobileone_s0"]["date"] == "2020-01-02"
    assert rows["mobilenetv1_100"]["machine"].startswith("Intel Test CPU") and rows["mobilenetv1_100"]["latency_ms"] == 4.0
    one = readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    v1 = readme.render("measured", "en", "MobileNetV1", results_dir=tmp_path)
    assert "AMD Test CPU, x86_64, 2 CPU threads, Linux, 2020-01-02" in one and "Intel Test CPU" not in one
    assert "Intel Test CPU, x86_64, 4 CPU threads, Linux" in v1 and "AMD Test CPU" not in v1


def test_weights_missing_from_a_row_are_said_to_be_unrecorded(tmp_path):
    src = readme.PER_MODEL_SOURCES[-1]   # the demo's sensitivity rows: the demo's own checkpoint
    records.record_result("sensitivity", [{"key": "mobileone_s0", "board": "x5", "kept_layers": 1}], src.command,
                          merge_on=("key", "board"), results_dir=tmp_path)
    records.record_result("sensitivity", [{"key": "mobileone_s1", "board": "x5", "kept_layers": 2}],
                          "python -m helpers sensitivity ONNX --calib DIR --data DIR --record",
                          merge_on=("key", "board"), results_dir=tmp_path)
    out = readme.render("measured", "en", "MobileOne", results_dir=tmp_path)
    row0 = next(line for line in out.splitlines() if line.startswith("| mobileone_s0 "))
    row1 = next(line for line in out.splitlines() if line.startswith("| mobileone_s1 "))
    assert src.weights[0] in row0 and f"| {readme.NOT_RECORDED['en']} |" in row1


def test_machine_names_the_cpu_model(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R)  Gold 6148 CPU @ 2.40GHz\n")
    assert records._cpu_model(str(info)) == "Intel Xeon Gold 6148 CPU @ 2.40GHz"
    assert records._cpu_model(str(tmp_path / "missing")) == ""
    assert MACHINE_DATE.match(records.machine() + ", 2026-01-01")


@pytest.mark.parametrize("r", ARCH_READMES, ids=IDS)
def test_sections_follow_the_vendor_order(r):
    found = [m.group(1) for m in re.finditer(r"^## \d+\. (.+)$", FENCE.sub("", text_of(r)), re.M)]
    assert found == SECTIONS[r.lang], f"{r.name}: {found}"


@pytest.mark.parametrize("r", ARCH_READMES, ids=IDS)
def test_directory_structure_lists_real_files(r):
    text = text_of(r)
    tree = next(b for b in FENCE.findall(text) if b.startswith("```text") and f"notebooks/{r.arch}/" in b)
    names = set(re.findall(r"([\w.-]+\.(?:ipynb|md|sh))\s", tree))
    folder = NOTEBOOK_DIR / r.arch
    for nb in folder.glob("*.ipynb"):
        assert nb.name in names, f"{r.name}: the directory structure misses {nb.name}"
    for name in names:
        where = [folder / name, REPO_ROOT / "model" / r.arch / name]
        assert any(p.exists() for p in where), f"{r.name}: the directory structure lists {name}, which does not exist"
    for top in (f"model/{r.arch}/", f"yaml/{r.arch}/"):
        assert top in tree and (REPO_ROOT / top).is_dir()
    assert registry.ARCHS  # the list the READMEs are made for
