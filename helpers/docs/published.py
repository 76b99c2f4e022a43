"""README blocks about the RDK Model Zoo's published ``.bin`` / ``.hbm`` files: their figures, how to fetch
them, and the board commands that run them. Generated from :mod:`helpers.board.registry` (``python -m helpers readme``).

The figures are the zoo's, not ours: each row links the README it comes from (D-Robotics/rdk_model_zoo,
branch main ``samples/vision/classification/<Arch>/README.md`` for RDK X5, branch rdk_x3
``demos/classification/<Arch>/README.md`` for RDK X3, branch rdk_s ``samples/vision/<sample>/README.md`` for
RDK S100; the S files' URLs come from ``docs/release/s/models.yaml``). A figure the zoo does not publish is "-".
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from helpers.board import registry
from helpers.board.files import rel_to_repo
from helpers.board.text import md_table
from helpers.docs.words import t


def _f(value, fmt: str) -> str:
    """A published figure as published (``fmt`` unless that would round it), or "-" where the zoo publishes none."""
    if value is None:
        return "-"
    text = format(value, fmt)
    return text if float(text) == value else repr(float(value))


def _link(source: str, text: str) -> str:
    """``text`` linked to the URL a registry source starts with (plain text when it names none)."""
    url = source.split()[0].rstrip(":,") if source.startswith("http") else ""
    return f"[{text}]({url})" if url else text


def _range_cell(p: registry.Published) -> str:
    """The NV12 range the file is fed (its vendor config's ``input_space_and_range``) and, when the file ends in
    softmax, that its output is probabilities; each linked to its source (docs/nv12.md, "Which NV12 range do the
    zoo's published files take?")."""
    from helpers.board import nv12

    cell = _link(p.yuv_range_source, f"`{nv12.YAML_SPACE_AND_RANGE[p.yuv_range]}`")
    if p.output_is_probability:
        cell += ", " + _link(p.output_source, "softmax output")
    return cell


def _published_rows(keys: Sequence[str], lang: str) -> Tuple[List[List[str]], List[str]]:
    rows, notes = [], []
    for key in keys:
        s = registry.get(key)
        for p in s.published:
            board = registry.BOARDS[p.board].name
            rows.append([f"`{key}`", board, _f(p.params_m, "g"), _f(p.float_top1, ".2f"), _f(p.quant_top1, ".2f"),
                         _f(p.latency_1t_ms, ".2f"), _f(p.latency_mt_ms, ".2f"), _f(p.fps, ".2f"),
                         f"[{registry.BOARD_DIR[p.board]}/{p.bin_name}]({p.bin_url})",
                         f"[{t('zoo', lang)}]({p.source})", _range_cell(p)])
            if p.params_source:
                notes.append(f"`{key}` ({board}): parameters from {p.params_source}" if lang == "en" else
                             f"`{key}`（{board}）：参数量来源 {p.params_source}")
            if p.note:
                notes.append(f"`{key}` ({board}): {p.note}" if lang == "en" else
                             f"`{key}`（{board}）（registry 英文原注）：{p.note}")
    return rows, notes


def block_published(ctx) -> str:
    """Published board figures (registry.Published) for all models or one architecture."""
    lang = ctx.lang
    keys = ctx.keys
    rows, notes = _published_rows(keys, lang)
    if not rows:
        return ("The RDK Model Zoo publishes no board figures for this architecture."
                if lang == "en" else "RDK Model Zoo 未发布该架构的板端数据。")
    header = [t("key", lang), t("board", lang), t("params_pub", lang), t("float_top1", lang),
              t("quant_top1", lang), t("lat1", lang), t("latn", lang), t("fps", lang), t("bin", lang),
              t("source", lang), t("space_pub", lang)]
    missing = [k for k in keys if not registry.get(k).published]
    any_s = any(registry.board(p.board).is_s for k in keys for p in registry.get(k).published)
    cap = ("*Published* by the RDK Model Zoo, measured on the board named in each row (not by us): ImageNet-1k "
           "validation top-1 of the float ONNX and of the quantised `.bin`, BPU latency with 1 thread and with "
           "several threads, and the multi-thread FPS. "
           f"{len(rows)} files; `python -m helpers download` puts each in `model/<Arch>/rdk_<board>/` "
           "(the folder says the board: the X3 and X5 MobileNetV1 files share a name, so do the S100 and S600 files)."
           if lang == "en" else
           "以下为 RDK Model Zoo *公开发布* 的数据，在每行所列开发板上测得（非本仓库测量）：浮点 ONNX 与量化 `.bin` 的 "
           "ImageNet-1k 验证集 top-1、1 线程与多线程的 BPU 延迟，以及多线程 FPS。"
           f"共 {len(rows)} 个文件；`python -m helpers download` 把每个文件放到 `model/<Arch>/rdk_<board>/`"
           "（目录名即开发板：X3 与 X5 的 MobileNetV1 文件同名，S100 与 S600 的文件也同名）。")
    if any_s:
        cap += (" For the S-series `.hbm` files the zoo publishes no top-1 (\"-\"); the RDK S100 latencies and FPS are "
                "`hrt_model_exec perf` with 1 and 3 threads (the rdk_s sample READMEs), the S600 files come without "
                f"figures, and their URLs are those of the zoo's [S manifest]({registry.S_MANIFEST}) (no SHA-256 "
                "recorded for these files)."
                if lang == "en" else
                " S 系列 `.hbm` 文件没有公开 top-1（“-”）；RDK S100 的延迟与 FPS 为 `hrt_model_exec perf` 1 线程与 "
                "3 线程的结果（rdk_s 分支的样例 README），S600 文件没有公开数据；其 URL 取自 Model Zoo 的 "
                f"[S 清单]({registry.S_MANIFEST})（这些文件未记录 SHA-256）。")
    out = cap + "\n\n" + md_table(header, rows)
    if missing:
        names = ", ".join(f"`{k}`" for k in missing)
        out += "\n\n" + (f"No published board figures for {names}." if lang == "en" else
                         f"{names} 没有公开的板端数据。")
    if notes:
        label = "Notes from the registry:" if lang == "en" else "注："
        out += "\n\n" + label + "\n\n" + "\n".join(f"- {n}" for n in notes)
    return out


def block_download(ctx) -> str:
    """Per architecture: the published ``.bin`` files and how to fetch them."""
    lang = ctx.lang
    arch = ctx.arch
    pubs = [(k, p) for k in ctx.keys for p in registry.get(k).published]
    if not pubs:
        return ("The RDK Model Zoo publishes no `.bin` for this architecture: build one with the mapper "
                "(section below)." if lang == "en" else "RDK Model Zoo 没有发布该架构的 `.bin`：请用 mapper 自行编译（见下文）。")
    comment_all = "every published .bin of this architecture" if lang == "en" else "下载该架构全部已发布的 .bin"
    comment_one = "or one file by hand" if lang == "en" else "或手动下载单个文件"
    lines = ["```bash", f"sh model/{arch}/download.sh    # {comment_all}"]
    for b in sorted({p.board for _, p in pubs}):
        only = f"only the {registry.BOARDS[b].name} files" if lang == "en" else f"只下载 {registry.BOARDS[b].name} 的文件"
        lines.append(f"sh model/{arch}/download.sh --board {b}    # {only}")
    lines.append(f"# {comment_one}:")
    for k, p in pubs:
        dest = f"model/{arch}/{registry.BOARD_DIR[p.board]}"
        lines.append(f"wget -nc -P {dest} {p.bin_url}    # {k}, {registry.BOARDS[p.board].name}")
    lines.append("```")
    return "\n".join(lines)


def block_commands(ctx) -> str:
    """Per architecture: the PC and board commands for its first variant, with real file names."""

    lang = ctx.lang
    key = ctx.keys[0]
    s = registry.get(key)
    pub = s.published[0] if s.published else None
    board = pub.board if pub else s.boards[0]
    onnx = f"model/{s.arch}/{key}.onnx"
    yml = rel_to_repo(registry.get(key).yaml_path(board))
    board_onnx = f"model/{s.arch}/{s.bin_stem}.onnx"
    c = (lambda en, cn: en if lang == "en" else cn)
    pc = ["```bash",
          c("# on a PC, from the repository root", "# 在 PC 上，于仓库根目录运行"),
          f"python -m helpers export {key} --weights random",
          f"python -m helpers board-model {onnx} {yml}",
          f"python -m helpers predict {board_onnx} data/chelsea.jpg",
          f"python -m helpers bench {board_onnx} --threads 1,2,4",
          "```"]
    bin_file = (f"model/{s.arch}/{registry.BOARD_DIR[pub.board]}/{pub.bin_name}" if pub
                else f"model/{s.arch}/{s.bin_stem}.bin")
    bd = ["```bash",
          c("# on the board, from the repository root", "# 在开发板上，于仓库根目录运行"),
          c("python3 -m helpers doctor    # runtime, BPU, every .bin under model/: paste its output into an issue",
            "python3 -m helpers doctor    # 运行时、BPU、model/ 下每个 .bin：请把输出贴到 issue 里"),
          f"python3 -m helpers predict {bin_file} data/chelsea.jpg --key {key}",
          f"python3 -m helpers bench {bin_file} --key {key} --threads 1,2,4",
          f"hrt_model_exec perf --model_file {bin_file} --thread_num 1 --frame_count 200",
          "```"]
    note = c("`random` weights keep this offline; the predictions are then meaningless (and marked so). "
             "The other variants work the same way (`python -m helpers list`).",
             "`random` 权重无需联网；此时预测没有意义（输出中也会注明）。其他型号用法相同（`python -m helpers list`）。")
    return "\n".join(pc) + "\n\n" + "\n".join(bd) + "\n\n" + note
