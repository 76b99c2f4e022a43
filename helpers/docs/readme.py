"""The generated parts of the READMEs, and the measured results they are made from.

The READMEs (``README.md`` / ``README_cn.md`` at the top and in ``notebooks/<Arch>/``) and the
documentation pages (``docs/<page>.md`` / ``docs/<page>_cn.md``) hold blocks between markers::

    <!-- BEGIN GENERATED: name -->
    ...
    <!-- END GENERATED: name -->

``python -m helpers readme`` re-renders every block from :mod:`helpers.board.registry` (published board
figures, links, weights, download URLs, yaml values) and from the measured results in
``data/results/*.json``, then rewrites the files that changed (each atomically, after every block
of every file rendered without error). ``python -m helpers readme --check`` rewrites nothing and
exits 1 listing the stale blocks; ``tests/docs/test_readme.py`` runs the same check.

Every number in a block is either **published** (from the registry, with its source link) or
**measured** (from a result file, captioned with the command that measured it, the machine and the
date). Accuracy columns of rows measured with random weights are never shown.

Result files (``data/results/<name>.json``), written with :func:`helpers.board.records.record_result`::

    {"schema": 1, "name": "bench", "command": "python -m helpers bench FILE --record",
     "machine": "Intel Xeon Processor, x86_64, 2 CPU threads, Linux", "date": "2025-01-31",
     "rows": [{"key": "mobileone_s0", "weights": "random", "latency_ms": 1.9, ...,
               "machine": "...", "date": "...", "command": "..."}, ...]}

Rows are flat dicts; fields named in :data:`FIELDS` get a proper header and format, any other field
is shown under its own name. ``weights`` = ``"random"`` hides accuracy fields (``top1``, ``top5``,
``*_top1``, ...). Rows with a ``key`` feed the per-architecture READMEs, where every row names its
weights and the machine and date it was measured on (each row's own stamps: one file may hold rows of
several machines), and a measurement without a row is left out rather than announced.

Board-safe: standard library plus :mod:`helpers.board.registry`, :mod:`helpers.pc.mapper` (PyYAML);
``figures`` (matplotlib, timm) is imported only by the ``figures`` command.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.records import load_result
from helpers.board.text import md_table
from helpers.docs.published import block_commands, block_download, block_published
from helpers.docs.words import T, t  # noqa: F401  (T: the word table, re-exported)
from helpers.board.files import DATA_DIR, NOTEBOOK_DIR, REPO_ROOT, atomic_write_text, rel_to_repo

BEGIN = "<!-- BEGIN GENERATED: {name} -->"
END = "<!-- END GENERATED: {name} -->"
_MARK_RE = re.compile(r"<!-- (BEGIN|END) GENERATED: ([A-Za-z0-9_.-]+) -->")
LANGS = ("en", "cn")
README_COMMAND = "python -m helpers readme"
FIGURES_COMMAND = "python -m helpers figures"
DASH = "—"


# ------------------------------------------------------------------------------------------------
# which READMEs exist
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Readme:
    path: Path
    lang: str              # "en" / "cn"
    arch: Optional[str]    # None for the top-level README and the docs/ pages
    root: Path = REPO_ROOT

    @property
    def name(self) -> str:
        """The path relative to the checkout, for messages (``notebooks/MobileOne/README_cn.md``)."""
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return str(self.path)


DOCS_DIR_NAME = "docs"


def readmes(root: Optional[Path] = None) -> List[Readme]:
    """Every file with generated blocks, in pairs (EN before CN): the top README, one README pair per
    architecture, then each ``docs/<page>.md`` with its ``docs/<page>_cn.md``."""
    root = Path(root) if root is not None else REPO_ROOT
    out = []
    for arch in (None,) + tuple(registry.ARCHS):
        folder = root if arch is None else root / "notebooks" / arch
        out.append(Readme(folder / "README.md", "en", arch, root))
        out.append(Readme(folder / "README_cn.md", "cn", arch, root))
    for page in sorted(p for p in (root / DOCS_DIR_NAME).glob("*.md") if not p.stem.endswith("_cn")):
        out.append(Readme(page, "en", None, root))
        out.append(Readme(page.with_name(f"{page.stem}_cn.md"), "cn", None, root))
    return out


# ------------------------------------------------------------------------------------------------
# measured results
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A result file the READMEs show, and the command that records it.

    ``weights`` (EN, CN): what the rows this command recorded were measured with, when the rows do not
    say (the demo's sensitivity rows: always the checkpoint the demo trained)."""
    name: str
    command: str
    title_en: str
    title_cn: str
    weights: Optional[Tuple[str, str]] = None


#: measured results with one row per model (per-architecture READMEs), in display order
PER_MODEL_SOURCES: Tuple[Source, ...] = (
    Source("export", "python -m helpers export KEY --weights random --record",
           "Export: parameters and parity (onnxruntime vs PyTorch)",
           "导出：参数量与一致性（onnxruntime 对比 PyTorch）"),
    Source("nv12", "python -m helpers board-model ONNX YAML --compare --record",
           "Board model on the PC: NV12 path vs float RGB path",
           "PC 上的板端模型：NV12 路径对比浮点 RGB 路径"),
    Source("bench", "python -m helpers bench FILE --record",
           "Speed on a PC (onnxruntime; machine per row)", "PC 上的速度（onnxruntime；每行注明机器）"),
    Source("quantize", "python -m helpers quantize ONNX --calib DIR --out FILE --data DIR --record",
           "INT8 preview (onnxruntime static quantisation)", "INT8 预览（onnxruntime 静态量化）"),
    Source("sensitivity", "python -m helpers demo [--key KEY] --record",
           "INT8 sensitivity: layers kept above int8 (PC preview)", "INT8 敏感度：保留为高于 int8 精度的层（PC 预览）",
           weights=("the demo's checkpoint (trained on the digits)", "演示训练得到的检查点（digits 数据）")),
)
DEMO = Source("demo", "python -m helpers demo --record",
              "End-to-end demo (offline, bundled digits data)", "端到端演示（离线，自带的 digits 数据）")


# ------------------------------------------------------------------------------------------------
# table rendering
# ------------------------------------------------------------------------------------------------
def _fmt_int(v) -> str:
    return f"{int(v):,}"


def _fmt(prec: int) -> Callable[[Any], str]:
    return lambda v: f"{float(v):.{prec}f}"


def _fmt_sci(v) -> str:
    return f"{float(v):.2e}"


def _fmt_m(v) -> str:
    return f"{float(v) / 1e6:.2f}"


#: known result fields: (field, EN header, CN header, formatter)
FIELDS: Tuple[Tuple[str, str, str, Callable[[Any], str]], ...] = (
    ("key", "model", "模型", str),
    ("stage", "stage", "阶段", str),
    ("model", "model file", "模型文件", str),
    ("backend", "backend", "后端", str),
    ("weights", "weights", "权重", str),
    ("dataset", "data", "数据", str),
    ("opset", "opset", "opset", str),
    ("images", "images", "图像数", _fmt_int),
    ("threads", "threads", "线程数", str),
    ("params_torch", "params (PyTorch)", "参数量 (PyTorch)", _fmt_int),
    ("params_onnx", "params (ONNX)", "参数量 (ONNX)", _fmt_int),
    ("max_abs_err", "max abs error", "最大绝对误差", _fmt_sci),
    ("rel_err", "relative error", "相对误差", _fmt_sci),
    ("top1", "top-1 (%)", "top-1 (%)", _fmt(2)),
    ("top5", "top-5 (%)", "top-5 (%)", _fmt(2)),
    ("float_top1", "float top-1 (%)", "浮点 top-1 (%)", _fmt(2)),
    ("int8_top1", "INT8 top-1 (%)", "INT8 top-1 (%)", _fmt(2)),
    ("top1_agreement", "top-1 agreement (%)", "top-1 一致率 (%)", _fmt(2)),
    ("top5_overlap", "top-5 overlap (%)", "top-5 重合率 (%)", _fmt(2)),
    ("passed", "images passing", "通过的图像数", _fmt_int),
    ("worst_contract_rel_err", "worst contract error", "最大契约误差", _fmt_sci),
    ("min_logit_corr", "min logit correlation", "最小 logit 相关系数", _fmt(4)),
    ("latency_ms", "latency (ms)", "延迟 (ms)", _fmt(2)),
    ("latency_p90_ms", "latency p90 (ms)", "延迟 p90 (ms)", _fmt(2)),
    ("fps", "FPS", "FPS", _fmt(1)),
    ("images_per_s", "images/s", "图像/秒", _fmt(1)),
    ("latency_ratio", "latency ratio", "延迟比", _fmt(3)),
    ("size_mb", "size (MB)", "大小 (MB)", _fmt(2)),
    ("seconds", "time (s)", "耗时 (s)", _fmt(1)),
    ("board", "board", "开发板", str),
    ("scheme", "scheme", "量化方案", str),
    ("calibration", "calibration", "校准方法", str),
    ("int8_bpu_top1", "INT8 BPU-like top-1 (%)", "INT8 类 BPU 方案 top-1 (%)", _fmt(2)),
    ("kept_top1", "INT8 + kept layers top-1 (%)", "INT8 + 保留层 top-1 (%)", _fmt(2)),
    ("kept_layers", "layers kept", "保留层数", _fmt_int),
    ("layers", "candidate layers", "候选层数", _fmt_int),
    ("kept_as", "kept as", "保留为", str),
    ("ceiling_share", "INT8 error removed if all kept (%)", "全部保留时消除的 INT8 误差 (%)", _fmt(0)),
    ("analysis_s", "analysis (s)", "分析耗时 (s)", _fmt(0)),
    ("target_met", "target met", "达到目标", str),
    ("measured_on", "measured on (machine, date)", "测量环境（机器，日期）", str),
)
_FIELD = {f[0]: f for f in FIELDS}
_HIDDEN = {"command", "machine", "date", "schema", "note", "kept_nodes"}


def is_accuracy(field: str) -> bool:
    """Accuracy fields (hidden for random-weight rows): top1, top5, *_top1, *_top5, *accuracy."""
    return field in ("top1", "top5") or field.endswith(("_top1", "_top5", "accuracy", "_acc"))


def _cell(field: str, value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    fmt = _FIELD[field][3] if field in _FIELD else None
    try:
        if fmt is not None:
            return fmt(value)
        if isinstance(value, float):
            return f"{value:.4g}"
    except (TypeError, ValueError):
        pass
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("|", "\\|").replace("\n", " ")


def result_table(data: Dict[str, Any], rows: Sequence[Dict[str, Any]], lang: str) -> str:
    """A markdown table of ``rows`` of a result file; accuracy of random-weight rows is withheld."""
    fields: List[str] = []
    for r in rows:
        for f in r:
            if f not in _HIDDEN and f not in fields:
                fields.append(f)
    known = [f[0] for f in FIELDS]
    fields.sort(key=lambda f: (known.index(f) if f in known else len(known), f))
    header = [(_FIELD[f][1] if lang == "en" else _FIELD[f][2]) if f in _FIELD else f for f in fields]
    withheld = T["random_withheld"][lang]
    body = []
    for r in rows:
        random_w = str(r.get("weights", data.get("weights", ""))).lower() == "random"
        body.append([withheld if (random_w and is_accuracy(f) and r.get(f) is not None) else _cell(f, r.get(f))
                     for f in fields])
    return md_table(header, body)


def measured_caption(data: Dict[str, Any], lang: str) -> str:
    """``Measured by `cmd` on <machine>, <date>.`` (machine and date when the file records them)."""
    cmd = data.get("command", "?")
    where = [str(data[k]) for k in ("machine", "date") if data.get(k)]
    extra = f" {data['dataset']}." if data.get("dataset") else ""
    if lang == "en":
        return f"*Measured* by `{cmd}`" + (f" on {', '.join(where)}" if where else "") + f".{extra}"
    return f"*实测*：`{cmd}`" + (f"，{'，'.join(where)}" if where else "") + f"。{extra}"


NOT_RECORDED = {"en": "not recorded", "cn": "未记录"}


def stamped_rows(data: Dict[str, Any], rows: Sequence[Dict[str, Any]], lang: str,
                 src: Optional[Source] = None) -> List[Dict[str, Any]]:
    """``rows`` with a ``weights`` and a ``measured_on`` (machine, date) cell each, for the
    per-architecture tables: a row's own stamps (:data:`helpers.board.records.ROW_STAMPS`), else its
    file's; ``src.weights`` for rows its own command recorded without weights; else "not recorded"."""
    out = []
    for r in rows:
        row = dict(r)
        w = r.get("weights") or data.get("weights")
        if not w and src is not None and src.weights and (r.get("command") or data.get("command")) == src.command:
            w = src.weights[0 if lang == "en" else 1]
        row["weights"] = w or NOT_RECORDED[lang]
        where = [str(r.get(k) or data.get(k) or "") for k in ("machine", "date")]
        row["measured_on"] = ", ".join(x for x in where if x) or NOT_RECORDED[lang]
        out.append(row)
    return out


def rows_caption(data: Dict[str, Any], rows: Sequence[Dict[str, Any]], lang: str) -> str:
    """``Measured by `cmd` ...`` for a table whose rows name their own machine and date."""
    cmds = list(dict.fromkeys(str(r.get("command") or data.get("command", "?")) for r in rows))
    cmd = ", ".join(f"`{c}`" for c in cmds)
    extra = f" {data['dataset']}." if data.get("dataset") else ""
    if lang == "en":
        return f"*Measured* by {cmd}; the last column names the machine and the date of each row.{extra}"
    return f"*实测*：{cmd}；最后一列为每行的测量机器与日期。{extra}"


def not_measured(cmd: str, lang: str) -> str:
    if lang == "en":
        return f"Not measured yet - run `{cmd}`, then `{README_COMMAND}`."
    return f"尚未测量 - 运行 `{cmd}`，然后运行 `{README_COMMAND}`。"


def _readme_link(arch: str, lang: str, from_top: bool = True) -> str:
    name = "README.md" if lang == "en" else "README_cn.md"
    return f"[{arch}](notebooks/{arch}/{name})" if from_top else f"[{arch}]({name})"


def _hub_link(spec: registry.ModelSpec) -> str:
    return f"[`{spec.hf_hub_id}`](https://huggingface.co/{spec.hf_hub_id})"


def _size(spec: registry.ModelSpec) -> str:
    h, w = spec.input_size
    return f"{w}x{h}"


EXPORT_RECORD_COMMAND = "python -m helpers export KEY --weights random --record"


def _load_stats(results_dir: Optional[Path]) -> Dict[str, Dict[str, Any]]:
    """The architecture record per key; ``params_deploy`` is what the exported ONNX holds (the export
    record's initialiser count: BatchNorm folded, MobileOne fused), when that record has the key."""
    data = load_result("architecture", results_dir)
    stats = {r.get("key"): dict(r) for r in data["rows"]} if data else {}
    export = load_result("export", results_dir)
    for r in (export or {}).get("rows", []):
        if r.get("key") in stats and r.get("params_onnx"):
            stats[r["key"]]["params_deploy"] = r["params_onnx"]
    return stats


# ------------------------------------------------------------------------------------------------
# the blocks
# ------------------------------------------------------------------------------------------------
@dataclass
class Ctx:
    lang: str
    arch: Optional[str]
    results_dir: Optional[Path] = None
    folder: Optional[Path] = None   # the folder of the file the block goes into (relative links start there)

    @property
    def keys(self) -> List[str]:
        return registry.keys(self.arch)


def block_models(ctx: Ctx) -> str:
    """Top README: every registry variant, its weights, and the parameter counts we measured."""
    lang = ctx.lang
    stats = _load_stats(ctx.results_dir)
    header = [t("key", lang), t("arch", lang), t("paper", lang), t("weights", lang), t("input", lang),
              t("boards", lang), t("params_torch", lang), t("params_deploy", lang)]
    rows = []
    for key in registry.keys():
        s = registry.get(key)
        st = stats.get(key, {})
        p = st.get("params")
        pf = st.get("params_deploy")
        rows.append([f"`{key}`", _readme_link(s.arch, lang), f"[arXiv]({s.paper_url})", _hub_link(s), _size(s),
                     ", ".join(registry.BOARDS[b].name for b in s.boards),
                     _fmt_m(p) if p else DASH, _fmt_m(pf) if pf else DASH])
    cap = (f"Parameter counts *measured*: PyTorch by `{FIGURES_COMMAND}` (the timm model), deployed by "
           f"`{EXPORT_RECORD_COMMAND}` (the initialisers of the exported ONNX: BatchNorm folded into the "
           "convolutions, MobileOne re-parameterised). Everything else comes from `helpers/board/registry.py`."
           if lang == "en" else
           f"参数量为 *实测*：PyTorch 列由 `{FIGURES_COMMAND}`（timm 模型），部署列由 `{EXPORT_RECORD_COMMAND}`"
           "（导出 ONNX 的初始化器：BatchNorm 已折叠进卷积，MobileOne 已结构重参数化）。"
           "其余内容均来自 `helpers/board/registry.py`。")
    if not stats:
        cap += " " + not_measured(FIGURES_COMMAND, lang)
    return md_table(header, rows) + "\n\n" + cap


def block_boards(ctx: Ctx) -> str:
    """Top README: every board generation the registry knows (:class:`helpers.board.registry.Board`)."""
    en = ctx.lang == "en"
    header = (["board", "march", "toolchain", "model file", "NV12 input", "Python runtimes", "identified by"] if en else
              ["开发板", "march", "工具链", "模型文件", "NV12 输入", "Python 运行时", "识别方式"])
    rows = []
    for b in registry.BOARDS.values():
        split = "split `y` + `uv`" if en else "拆分为 `y` + `uv`"
        packed = "packed (1, H*3/2, W)" if en else "打包 (1, H*3/2, W)"
        ident = ([f"`soc_name` {'/'.join(b.soc_names)}"] if b.soc_names else []) + \
            ([f"`soc_name` {b.base_soc} with `board_type` {' / '.join(b.board_types)}"] if b.board_types else []) + \
            ([f"`socinfo` {'/'.join(b.socinfo_names)}"] if b.socinfo_names else []) + \
            ([f"device tree \"{'/'.join(b.device_tree_models)}\""] if b.device_tree_models else [])
        rows.append([b.name, f"`{b.march}`", f"`{b.toolchain}`", f"`{b.suffix}`", split if b.nv12_inputs == "split" else packed,
                     ", ".join(f"`{r}`" for r in b.runtimes), "; ".join(ident)])
    cap = ("From `helpers/board/registry.py`: the S boards' march, `hb_compile` and `.hbm` from the zoo's "
           "[`ptq_s.yaml`](https://github.com/D-Robotics/rdk_model_zoo/blob/main/samples/vision/mobilenetv4/conversion/ptq_s.yaml), "
           "the split NV12 input from its conversion README (\"Validation\"), the identity strings from its "
           "[`platforms/registry.json`](https://github.com/D-Robotics/rdk_model_zoo/blob/main/platforms/registry.json) "
           "(read by `helpers/board/identity.py`)." if en else
           "来自 `helpers/board/registry.py`：S 系列的 march、`hb_compile` 与 `.hbm` 取自 Model Zoo 的 "
           "[`ptq_s.yaml`](https://github.com/D-Robotics/rdk_model_zoo/blob/main/samples/vision/mobilenetv4/conversion/ptq_s.yaml)，"
           "拆分的 NV12 输入取自其转换说明（“Validation”一节），识别字符串取自其 "
           "[`platforms/registry.json`](https://github.com/D-Robotics/rdk_model_zoo/blob/main/platforms/registry.json)"
           "（由 `helpers/board/identity.py` 读取）。")
    return md_table(header, rows) + "\n\n" + cap


def _result_section(src: Source, keys: Optional[Sequence[str]], ctx: Ctx, level: str = "**") -> str:
    lang = ctx.lang
    title = src.title_en if lang == "en" else src.title_cn
    data = load_result(src.name, ctx.results_dir)
    rows = data["rows"] if data else []
    if keys is not None:
        rows = [r for r in rows if r.get("key") in keys]
    head = f"{level}{title}{level}"
    if not rows:
        if ctx.arch is not None:
            return ""  # per-architecture READMEs show measured rows only
        return f"{head}: {not_measured(src.command, lang)}" if lang == "en" else \
            f"{head}：{not_measured(src.command, lang)}"
    # each row names its machine, date and weights: one record holds rows of several machines
    return f"{head}\n\n{result_table(data, stamped_rows(data, rows, lang, src), lang)}\n\n" \
           f"{rows_caption(data, rows, lang)}"


def block_demo(ctx: Ctx) -> str:
    """The per-stage table of the end-to-end demo (``data/results/demo.json``) and its figure."""
    out = _result_section(DEMO, None, ctx)
    png = DATA_DIR / "figures" / "demo.png"
    data = load_result(DEMO.name, ctx.results_dir)
    if data and data["rows"] and png.exists():
        here = ctx.folder or (REPO_ROOT if ctx.arch is None else NOTEBOOK_DIR / ctx.arch)
        rel = os.path.relpath(png, here)
        alt = "demo: accuracy and latency per stage" if ctx.lang == "en" else "演示：各阶段精度与延迟"
        out += f"\n\n![{alt}]({Path(rel).as_posix()})"
    return out


def block_links(ctx: Ctx) -> str:
    """Per architecture: the paper and the code."""
    lang = ctx.lang
    first = registry.get(ctx.keys[0])
    lines = [f"- **{t('paper', lang).capitalize() if lang == 'en' else '论文'}**: [{first.paper}]({first.paper_url})",
             f"- **{t('code', lang).capitalize() if lang == 'en' else '代码'}**: <{first.code_url}>"]
    return "\n".join(lines)


def block_variants(ctx: Ctx) -> str:
    """Per architecture: per variant the timm weights, input, normalisation and boards."""
    lang = ctx.lang
    specs = [registry.get(k) for k in ctx.keys]
    header = [t("key", lang), t("weights", lang), t("input", lang), t("mean_std", lang), t("boards", lang)]
    rows = []
    for s in specs:
        ms = f"{', '.join(f'{v:g}' for v in s.mean)} / {', '.join(f'{v:g}' for v in s.std)}"
        rows.append([f"`{s.key}`", _hub_link(s), _size(s), ms,
                     ", ".join(f"{registry.BOARDS[b].name} (`{registry.BOARDS[b].march}`)" for b in s.boards)])
    out = md_table(header, rows)
    notes = [f"`{s.key}`: {s.notes}" for s in specs if s.notes]
    if notes:
        out += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return out


def block_measured(ctx: Ctx) -> str:
    """Per architecture: what we measured ourselves; a measurement without a recorded row is left out."""
    lang = ctx.lang
    stats = _load_stats(ctx.results_dir)
    title = "Model structure" if lang == "en" else "模型结构"
    parts = []
    rows = []
    for key in ctx.keys:
        st = stats.get(key)
        if not st:
            continue
        last = [s for s in st["stages"] if len(s.get("out_shape", [])) == 3][-1]["out_shape"]
        p = st["params"]
        pd = st.get("params_deploy")
        rows.append([f"`{key}`", _fmt_m(p), _fmt_m(pd) if pd else DASH, str(len(st["stages"])),
                     "x".join(map(str, last))])
    if rows:
        header = [t("key", lang), t("params_torch", lang), t("params_deploy", lang), t("stages", lang),
                  t("last_stage", lang)]
        data = load_result("architecture", ctx.results_dir)
        deployed = (f"Deployed: the initialisers of the exported ONNX (`{EXPORT_RECORD_COMMAND}`). Parameter "
                    "counts and shapes depend neither on the weights nor on the machine." if lang == "en"
                    else f"部署列：导出 ONNX 的初始化器数量（`{EXPORT_RECORD_COMMAND}`）。参数量与形状"
                    "与权重和机器均无关。")
        parts.append(f"**{title}**\n\n{md_table(header, rows)}\n\n{measured_caption(data, lang)} {deployed}")
    for src in PER_MODEL_SOURCES:
        parts.append(_result_section(src, ctx.keys, ctx))
    return "\n\n".join(p for p in parts if p)


def block_yaml(ctx: Ctx) -> str:
    """Per architecture: the committed mapper yaml per board, and the normalisation it declares."""
    from helpers.pc import mapper
    from helpers.board import nv12

    lang = ctx.lang
    here = NOTEBOOK_DIR / ctx.arch
    header = [t("key", lang), t("board", lang), t("march", lang), t("yaml", lang), "mean_value", "scale_value",
              t("space", lang)]
    rows = []
    for key in ctx.keys:
        s = registry.get(key)
        for b in s.boards:
            path = registry.get(key).yaml_path(b)
            rel = Path(os.path.relpath(path, here)).as_posix()
            link = f"[{path.name}]({rel})" if path.exists() else f"{path.name} ({t('not_generated', lang)})"
            rows.append([f"`{key}`", registry.BOARDS[b].name, f"`{registry.BOARDS[b].march}`", link,
                         " ".join(f"{v:.6g}" for v in mapper.mean_value(key)),
                         " ".join(f"{v:.6g}" for v in mapper.scale_value(key)),
                         f"`{nv12.YAML_SPACE_AND_RANGE[mapper.default_range(b)]}`"])  # as the yaml generator
    cap = ("`mean_value` = registry mean x 255 and `scale_value` = 1 / (registry std x 255), because the "
           "`.bin` normalises 0..255 pixels itself. Regenerate the files with `python -m helpers yaml --all`."
           if lang == "en" else
           "`mean_value` = registry 均值 x 255，`scale_value` = 1 / (registry 标准差 x 255)，因为 `.bin` 在模型内部"
           "对 0..255 的像素做归一化。用 `python -m helpers yaml --all` 重新生成这些文件。")
    return md_table(header, rows) + "\n\n" + cap


def block_training(ctx: Ctx) -> str:
    """MobileOne: the published mmpretrain ImageNet result, and our own (tiny) training run."""
    lang = ctx.lang
    r = registry.MOBILEONE_MMPRETRAIN
    header = (["recipe", "config", "hardware", "top-1 (%)", "FPS", "source"] if lang == "en" else
              ["训练方案", "配置", "硬件", "top-1 (%)", "FPS", "来源"])
    src = r["source"]
    url = src.split(" ", 1)[0]
    row = ["mmpretrain", f"`{r['config']}`", r["hardware"], f"{r['top1']:.2f}", f"{r['fps']:g}", f"[mmpretrain]({url})"]
    cap = ("*Published* (ImageNet-1k, by the mmpretrain recipe's authors; we did not run it)."
           if lang == "en" else "*公开发布* 的结果（ImageNet-1k，来自 mmpretrain 方案作者；本仓库未运行）。")
    return cap + "\n\n" + md_table(header, [row]) + "\n\n" + block_demo(ctx)


def block_sensitivity(ctx: Ctx) -> str:
    """Top README: the quantisation experiments of the demo (``data/results/sensitivity.json``)."""
    src = next(s for s in PER_MODEL_SOURCES if s.name == "sensitivity")
    return _result_section(src, None, ctx)


BLOCKS: Dict[str, Callable[[Ctx], str]] = {
    "models": block_models,
    "boards": block_boards,
    "sensitivity": block_sensitivity,
    "published": block_published,
    "demo": block_demo,
    "links": block_links,
    "variants": block_variants,
    "measured": block_measured,
    "download": block_download,
    "yaml": block_yaml,
    "training": block_training,
    "commands": block_commands,
}
#: blocks that need an architecture (per-architecture READMEs only)
ARCH_BLOCKS = {"links", "variants", "measured", "download", "yaml", "training", "commands"}


def render(name: str, lang: str, arch: Optional[str] = None, results_dir: Optional[Path] = None,
           folder: Optional[Path] = None) -> str:
    if name not in BLOCKS:
        raise HelpersError(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
    if lang not in LANGS:
        raise HelpersError(f"unknown README language {lang!r}; use one of {', '.join(LANGS)}")
    if name in ARCH_BLOCKS and arch is None:
        raise HelpersError(f"block {name!r} belongs in a notebooks/<Arch>/README, not the top-level one")
    return BLOCKS[name](Ctx(lang, arch, results_dir, folder)).strip()


# ------------------------------------------------------------------------------------------------
# finding and replacing blocks
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    name: str
    start: int       # offset just after the BEGIN marker line
    end: int         # offset of the END marker
    line: int        # 1-based line of the BEGIN marker

    def content(self, text: str) -> str:
        return text[self.start:self.end]


def find_blocks(text: str, where: str = "README") -> List[Block]:
    """The generated blocks of ``text``, in order; unmatched or nested markers are an error."""
    blocks: List[Block] = []
    open_: Optional[Tuple[str, int, int]] = None
    for m in _MARK_RE.finditer(text):
        kind, name = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if kind == "BEGIN":
            if open_ is not None:
                raise HelpersError(f"{where}:{line}: BEGIN GENERATED {name} inside block {open_[0]} "
                                   f"(line {open_[2]}); close it with {END.format(name=open_[0])}")
            nl = text.find("\n", m.end())
            open_ = (name, (nl + 1) if nl != -1 else len(text), line)
        else:
            if open_ is None or open_[0] != name:
                raise HelpersError(f"{where}:{line}: END GENERATED {name} without a matching "
                                   f"{BEGIN.format(name=name)}")
            blocks.append(Block(name, open_[1], m.start(), open_[2]))
            open_ = None
    if open_ is not None:
        raise HelpersError(f"{where}:{open_[2]}: BEGIN GENERATED {open_[0]} is never closed; add "
                           f"{END.format(name=open_[0])}")
    names = [b.name for b in blocks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise HelpersError(f"{where}: block {', '.join(dup)} appears more than once; each name once per file")
    return blocks


def _wrap(body: str) -> str:
    return "\n" + body + "\n\n"


def update_text(text: str, lang: str, arch: Optional[str], where: str = "README",
                results_dir: Optional[Path] = None, folder: Optional[Path] = None) -> Tuple[str, List[str]]:
    """``(new_text, stale block names)``: every block re-rendered (``folder``: where the file lives)."""
    out, pos, stale = [], 0, []
    for b in find_blocks(text, where):
        try:
            body = _wrap(render(b.name, lang, arch, results_dir, folder))
        except HelpersError as e:
            raise HelpersError(f"{where}:{b.line}: {e}") from None
        if b.content(text) != body:
            stale.append(b.name)
        out.append(text[pos:b.start])
        out.append(body)
        pos = b.end
    out.append(text[pos:])
    return "".join(out), stale


def _folder(r: Readme) -> Path:
    """Where relative links of ``r`` start, as it will sit in the checkout (also for a copy under ``root``)."""
    return REPO_ROOT / r.path.parent.relative_to(r.root)


def plan(root: Optional[Path] = None, results_dir: Optional[Path] = None) -> List[Tuple[Readme, str, List[str]]]:
    """Render every README: ``[(readme, new text, stale block names)]``; a missing README is an error."""
    todo = []
    for r in readmes(root):
        if not r.path.exists():
            raise HelpersError(f"{r.name} is missing; every README and docs page pair (EN + CN) must exist")
        text = r.path.read_text(encoding="utf-8")
        new, stale = update_text(text, r.lang, r.arch, r.name, results_dir, _folder(r))
        todo.append((r, new, stale))
    return todo


def check(root: Optional[Path] = None, results_dir: Optional[Path] = None) -> List[str]:
    """``["README.md: models", ...]`` for every stale block (nothing is written)."""
    return [f"{r.name}: {n}" for r, _, stale in plan(root, results_dir) for n in stale]


def write(root: Optional[Path] = None, results_dir: Optional[Path] = None) -> List[Path]:
    """Re-render every block and rewrite the READMEs that changed (each atomically); returns them."""
    todo = plan(root, results_dir)   # everything rendered before anything is written
    written = []
    for r, new, stale in todo:
        if stale:
            mode = r.path.stat().st_mode & 0o777
            atomic_write_text(r.path, new, overwrite=True)
            os.chmod(r.path, mode)
            written.append(r.path)
    return written


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def cmd_readme(args) -> int:
    from helpers.board import download

    if args.check:
        stale = check() + [f"{rel_to_repo(p)} (from the registry)" for p in download.stale_wrappers()]
        if stale:
            print(f"stale generated blocks (run `{README_COMMAND}` to update them):")
            for s in stale:
                print(f"  {s}")
            return 1
        print(f"all generated blocks in the {len(readmes())} READMEs and docs pages are up to date")
        return 0
    written = write() + download.write_wrappers()
    for p in written:
        print(f"updated {rel_to_repo(p)}")
    if not written:
        print("nothing to update: every generated block is current")
    return 0


def cmd_figures(args) -> int:
    from helpers.docs import figures

    return figures.cmd_figures(args)


def register(sub) -> None:
    p = sub.add_parser("readme", help="regenerate the tables in the READMEs and docs/ pages from the registry and data/results/")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 and list the blocks that are out of date")
    p.set_defaults(func=cmd_readme)
    p = sub.add_parser("figures", help="redraw the README figures (re-measuring the per-stage stats)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="draw only these (pipeline, published, nv12_range, stages_<Arch>, reparam, demo)")
    p.add_argument("--no-measure", action="store_true",
                   help="draw from the existing data/results/architecture.json instead of re-measuring")
    p.set_defaults(func=cmd_figures)
