"""The README figures: every picture is drawn here, by our code, with matplotlib.

``python -m helpers figures`` regenerates all of them (and ``data/results/architecture.json``, the
per-stage shapes and parameter counts they are drawn from); ``--only NAME`` draws one.

Sources of what is drawn:

* ``pipeline``        -- the PC -> toolchain -> board flow (a diagram; no numbers).
* ``published``       -- the board figures the RDK Model Zoo publishes (``registry.Published``),
                         labelled as published, with the source named on the figure.
* ``nv12_range``      -- a test pattern converted with :mod:`helpers.board.nv12` in both BT.601 ranges and
                         decoded with the right and the wrong range; the errors printed on it are
                         computed here.
* ``stages_<Arch>``   -- output shape and parameters of each stage of the timm model, measured on a
                         randomly initialised model (shapes and counts do not depend on weights).
* ``reparam``         -- MobileOne parameters before and after re-parameterisation (timm's
                         ``reparameterize_model``), measured here.
* ``demo``            -- the per-stage table of ``python -m helpers demo`` (only when its recorded
                         result ``data/results/demo.json`` exists).

PC-only module: matplotlib, torch and timm are imported inside the functions.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.records import RESULTS_DIR
from helpers.board.files import DATA_DIR, NOTEBOOK_DIR, atomic_write_bytes, rel_to_repo

TOP_FIG_DIR = DATA_DIR / "figures"
STATS_FILE = RESULTS_DIR / "architecture.json"
FIGURES_COMMAND = "python -m helpers figures"

#: one colour per board / per variant, used consistently across figures
_BOARD_COLOURS = {"x3": "#1f77b4", "x5": "#d62728"}
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def arch_fig_dir(arch: str) -> Path:
    return NOTEBOOK_DIR / arch / "figures"


# ------------------------------------------------------------------------------------------------
# measurements the figures are drawn from
# ------------------------------------------------------------------------------------------------
def _stage_modules(model):
    """``[(name, module), ...]``: stem, each block group of the body, head (everything after)."""
    import torch.nn as nn

    children = list(model.named_children())
    body_name = "stages" if hasattr(model, "stages") else "blocks"
    names = [n for n, _ in children]
    if body_name not in names:
        raise HelpersError(f"{type(model).__name__} has no '{body_name}'; cannot split it into stages")
    i = names.index(body_name)
    stem = nn.Sequential(*[m for _, m in children[:i]])
    head = [(n, m) for n, m in children[i + 1:]]
    groups = [(f"stage {j + 1}", g) for j, g in enumerate(getattr(model, body_name))]
    return stem, groups, head


def model_stats(key: str) -> Dict:
    """Per-stage output shape and parameter count of ``key``'s timm model (random init, eval mode).

    Stages are: ``stem`` (the modules before the body), each block group of the body, and ``head``
    (everything after it: final conv, pooling, classifier). For re-parameterisable models the
    deployed (fused) parameter count is measured too.
    """
    import timm
    import torch

    spec = registry.get(key)
    torch.manual_seed(0)
    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=spec.num_classes).eval()
    stem, groups, head = _stage_modules(model)
    h, w = spec.input_size
    stages = []
    with torch.no_grad():
        x = torch.zeros(1, 3, h, w)
        x = stem(x)
        stages.append({"name": "stem", "params": _count(stem), "out_shape": list(x.shape[1:])})
        for name, g in groups:
            x = g(x)
            stages.append({"name": name, "params": _count(g), "out_shape": list(x.shape[1:])})
        head_params = sum(_count(m) for _, m in head)
        out = model(torch.zeros(1, 3, h, w))
        stages.append({"name": "head", "params": head_params, "out_shape": list(out.shape[1:])})
    total = _count(model)
    if sum(s["params"] for s in stages) != total:
        raise HelpersError(f"{key}: stage parameters do not add up to the model's; the split missed a module")
    stats = {"key": key, "arch": spec.arch, "input_size": [h, w], "params": total, "stages": stages}
    if spec.reparameterizable:
        from timm.utils.model import reparameterize_model

        fused = reparameterize_model(model)
        stats["params_fused"] = _count(fused)
    return stats


def _count(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def compute_stats(keys: Optional[List[str]] = None) -> Dict:
    keys = list(keys or registry.MODELS)
    return {
        "schema": 1,
        "name": "architecture",
        "command": FIGURES_COMMAND,
        "what": "per-stage output shape and parameter count of the timm model (random init; "
                "shapes and counts do not depend on the weights)",
        "rows": [model_stats(k) for k in keys],
    }


def load_stats() -> Dict[str, Dict]:
    """``{key: stats}`` from ``data/results/architecture.json`` (written by ``python -m helpers figures``)."""
    if not STATS_FILE.exists():
        raise HelpersError(f"{rel_to_repo(STATS_FILE)} is missing; run `{FIGURES_COMMAND}` to measure it")
    try:
        data = json.loads(STATS_FILE.read_text(encoding="utf-8"))
        return {r["key"]: r for r in data["rows"]}
    except (ValueError, KeyError, TypeError) as e:
        raise HelpersError(f"{rel_to_repo(STATS_FILE)} is not a valid result file ({e}); "
                           f"run `{FIGURES_COMMAND}` to rewrite it") from None


# ------------------------------------------------------------------------------------------------
# drawing
# ------------------------------------------------------------------------------------------------
class _Figures:
    """``figure`` and ``subplots`` like pyplot's, but each a ``matplotlib.figure.Figure`` on its own Agg canvas
    (:func:`helpers.board.plot.figure`): no pyplot anywhere in ``helpers`` (a test checks)."""

    @staticmethod
    def figure(figsize):
        from helpers.board import plot

        return plot.figure(figsize, dpi=100)

    @classmethod
    def subplots(cls, *args, figsize, **kwargs):
        fig = cls.figure(figsize)
        return fig, fig.subplots(*args, **kwargs)


def _plt() -> _Figures:
    import matplotlib

    matplotlib.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.dpi": 100,
                                "axes.spines.top": False, "axes.spines.right": False})
    return _Figures()


def save_png(fig, path: Path, colours: Optional[int] = 96) -> Path:
    """Save ``fig`` as a small PNG (no timestamp metadata), atomically.

    Charts are stored with a ``colours``-entry palette (a third of the size); ``colours=None`` keeps
    full colour, for images whose pixel values are the point (the NV12 range figure).
    """
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None}, facecolor="white")
    buf.seek(0)
    img = Image.open(buf).convert("RGB")
    if colours:
        img = img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return _readable(atomic_write_bytes(path, out.getvalue(), overwrite=True))


def _readable(path: Path) -> Path:
    """Committed files get the usual rw-r--r-- (the atomic writer's temporary file is private)."""
    os.chmod(path, 0o644)
    return Path(path)


def draw_pipeline(path: Path) -> Path:
    """The flow from a timm model on a PC to a ``.bin`` on the board, and its PC emulation."""
    plt = _plt()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig = plt.figure(figsize=(11, 6.6))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 7.2)
    ax.axis("off")

    lanes = [  # (y0, height, colour, title)
        (4.05, 3.05, "#e8f1fb", "1  PC, this repository (python -m helpers ...)"),
        (2.2, 1.75, "#fdf0e0", "2  Vendor toolchain in its Docker image: hb_mapper (we cannot run it here)"),
        (0.1, 2.0, "#e9f6e9", "3  RDK board (X3: bernoulli2, X5: bayes-e)"),
    ]
    for y0, hgt, col, title in lanes:
        ax.add_patch(FancyBboxPatch((0.1, y0), 11.8, hgt, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc=col, ec="#bbbbbb", lw=0.8))
        ax.text(0.25, y0 + hgt - 0.12, title, fontsize=9.5, fontweight="bold", va="top", color="#333333")

    def box(x, y, w, h, title, sub, fc="white", ec="#555555", ls="-"):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=fc, ec=ec, lw=1.1, ls=ls))
        ax.text(x + w / 2, y + h - 0.14, title, ha="center", va="top", fontsize=9, fontweight="bold")
        ax.text(x + w / 2, y + h - 0.42, sub, ha="center", va="top", fontsize=7.6, color="#333333",
                linespacing=1.25)
        return (x, y, w, h)

    def arrow(a, b, text="", dx=0.08, dy=0.0, ha="left"):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="#444444",
                                     shrinkA=2, shrinkB=2))
        if text:
            ax.text((a[0] + b[0]) / 2 + dx, (a[1] + b[1]) / 2 + dy, text, fontsize=7.3, color="#444444",
                    ha=ha, va="center")

    def right(b):
        return (b[0] + b[2], b[1] + b[3] / 2)

    def left(b):
        return (b[0], b[1] + b[3] / 2)

    def top(b, dx=0.0):
        return (b[0] + b[2] / 2 + dx, b[1] + b[3])

    def bottom(b, dx=0.0):
        return (b[0] + b[2] / 2 + dx, b[1])

    # lane 1, row 1: the export chain
    y, h = 5.45, 1.25
    m = box(0.3, y, 1.95, h, "timm model", "weights: hub id, a\nlocal file, or random\n(tests, CI)")
    e = box(2.6, y, 2.15, h, "export", "float ONNX, opset 11,\nbatch 1, NCHW float32\nmodel/<Arch>/<key>.onnx")
    ym = box(5.1, y, 2.25, h, "mapper yaml", "yaml/<Arch>/<key>_x3|x5.yaml\nNV12 in, mean/scale\n"
             "from the registry")
    c = box(7.7, y, 2.0, h, "calibration", "RGB float32 NCHW,\n0..255, raw files\n(numpy.tofile)")
    bu = box(10.05, y, 1.7, h, "bundle", "ONNX + yaml +\ncalibration +\nvendor commands")
    for a, b in [(m, e), (e, ym), (ym, c), (c, bu)]:
        arrow(right(a), left(b))
    # lane 1, row 2: the PC emulation of the board contract
    y2, h2 = 4.2, 1.0
    bm = box(5.1, y2, 2.25, h2, "board model ONNX", "NV12 uint8 in; the yaml's\nrange and mean/scale",
             ec="#2a7a2a")
    pc = box(7.7, y2, 2.0, h2, "test notebook", "onnxruntime on a PC;\nCI runs it (nbval)", ec="#2a7a2a")
    ax.text(4.95, y2 + h2 / 2, "PC stand-in for the .bin:", ha="right", va="center", fontsize=8,
            color="#2a7a2a", fontweight="bold")
    arrow(bottom(ym), top(bm), "board-model", dx=0.08)
    arrow(right(bm), left(pc))

    # lane 2: the vendor toolchain, right to left
    y3, h3 = 2.35, 1.1
    ch = box(9.3, y3, 2.45, h3, "hb_mapper checker", "are all operators\nsupported by the BPU?", fc="#fffaf2")
    mk = box(6.4, y3, 2.5, h3, "hb_mapper makertbin", "calibrate, quantise to\nint8, compile for the march",
             fc="#fffaf2")
    bn = box(3.55, y3, 2.45, h3, ".bin", "<Model>_224x224_nv12.bin\ninput: NV12 uint8", fc="#fffaf2")
    arrow(bottom(bu), top(ch, 0.43), "copy the folder into\nthe container", dx=-0.12, ha="right")
    arrow(left(ch), right(mk))
    arrow(left(mk), right(bn))

    # lane 3: the board
    y4, h4 = 0.25, 1.25
    dl = box(0.3, y4, 2.75, h4, "published .bin", "model/<Arch>/download.sh\n(RDK Model Zoo files)", ls="--")
    nb = box(3.55, y4, 2.45, h4, "test_<Arch>.ipynb", "JupyterLab on the board;\nhobot_dnn or bpu_infer_lib")
    hx = box(6.4, y4, 2.5, h4, "hrt_model_exec perf", "the vendor's latency and\nFPS tool (on the board)")
    arrow(bottom(bn), top(nb), "copy to the board", dx=0.1)
    arrow(right(dl), left(nb))
    arrow(right(nb), left(hx))
    return save_png(fig, path)


def draw_published(path: Path) -> Path:
    """Published board figures: top-1 of the float ONNX and of the quantised .bin vs latency."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    seen_boards = set()
    placed = []  # label boxes in data units: (x0, x1, y0, y1), to avoid overlapping labels
    # files with both published top-1 figures and a latency (the S-series files have no published top-1)
    points = [(spec, p) for spec in registry.MODELS.values() for p in spec.published
              if None not in (p.float_top1, p.quant_top1, p.latency_1t_ms, p.fps)]
    for spec, p in sorted(points, key=lambda sp: -sp[1].float_top1):
            col = _BOARD_COLOURS.get(p.board, "#555555")
            x = p.latency_1t_ms
            ax.plot([x, x], [p.quant_top1, p.float_top1], color=col, lw=1.5, alpha=0.7)
            ax.scatter([x], [p.float_top1], s=40, facecolors="white", edgecolors=col, zorder=3)
            label = registry.BOARDS[p.board].name if p.board not in seen_boards else None
            seen_boards.add(p.board)
            ax.scatter([x], [p.quant_top1], s=40, color=col, zorder=3, label=label)
            above = (x - 1.0, x, p.float_top1, p.float_top1 + 1.2)
            clash = any(a[0] < above[1] and above[0] < a[1] and a[2] < above[3] and above[2] < a[3]
                        for a in placed)
            if clash:  # put it under the quantised point instead
                placed.append((x - 1.0, x, p.quant_top1 - 1.2, p.quant_top1))
                ax.annotate(f"{spec.key}\n{p.fps:g} FPS", (x, p.quant_top1), textcoords="offset points",
                            xytext=(-6, -4), ha="right", va="top", fontsize=7.5)
            else:
                placed.append(above)
                ax.annotate(f"{spec.key}\n{p.fps:g} FPS", (x, p.float_top1), textcoords="offset points",
                            xytext=(-6, 2), ha="right", fontsize=7.5)
    ax.scatter([], [], s=40, facecolors="white", edgecolors="#555555", label="float ONNX top-1")
    ax.scatter([], [], s=40, color="#555555", label="quantised .bin top-1")
    ax.set_xlabel("single-thread latency on the board (ms)")
    ax.set_ylabel("ImageNet-1k top-1 (%)")
    ax.set_title("Published by the RDK Model Zoo (measured on the boards, not by us)")
    xs = [p.latency_1t_ms for _, p in points]
    ys = [v for _, p in points for v in (p.float_top1, p.quant_top1)]
    ax.set_xlim(0, max(xs) * 1.15)
    ax.set_ylim(min(ys) - 2.5, max(ys) + 2)
    ax.legend(fontsize=7.5, loc="lower right", frameon=False)
    ax.grid(alpha=0.25)
    fig.text(0.01, 0.01, "source: github.com/D-Robotics/rdk_model_zoo (demos/classification), "
             "numbers from helpers/board/registry.py", fontsize=6.5, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_png(fig, path)


def _test_pattern(height: int = 96, width: int = 192):
    """A deterministic RGB pattern: a hue sweep left to right, dark to bright top to bottom, plus a grey ramp."""
    import numpy as np

    hue = np.linspace(0, 1, width, endpoint=False)[None, :]
    val = np.linspace(0.15, 1.0, height)[:, None]
    rgb = np.stack([np.clip(np.abs(((hue * 6 + k) % 6) - 3) - 1, 0, 1) for k in (0, 4, 2)], -1)
    img = rgb * val[..., None]
    ramp = np.repeat(np.linspace(0, 1, width)[None, :, None], height // 4, 0).repeat(3, -1)
    return (np.concatenate([img, ramp], 0) * 255).round().astype(np.uint8)


def draw_nv12_range(path: Path) -> Path:
    """What a YUV-range mismatch does: encode in one BT.601 range, decode in the other."""
    import numpy as np

    from helpers.board import nv12

    plt = _plt()
    rgb = _test_pattern()
    h, w = rgb.shape[:2]
    cases = [
        ("RGB input", rgb, None),
        ("full -> full (matches)", None, ("full", "full")),
        ("limited -> limited (matches)", None, ("limited", "limited")),
        ("limited (OpenCV I420) read as full", None, ("limited", "full")),
        ("full read as limited", None, ("full", "limited")),
    ]
    fig, axes = plt.subplots(1, len(cases), figsize=(10.5, 2.1))
    for ax, (title, img, pair) in zip(axes, cases):
        if pair is not None:
            enc, dec = pair
            img = nv12.nv12_to_rgb(nv12.rgb_to_nv12(rgb, enc), h, w, dec)
            err = np.abs(img.astype(np.int16) - rgb.astype(np.int16)).mean()
            title = f"{title}\nmean |error| {err:.1f} / 255"
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle("NV12 encoded in one BT.601 range and decoded in another (helpers.board.nv12; errors measured "
                 "on this pattern)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_png(fig, path, colours=None)


def _fmt_params(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def draw_stages(arch: str, stats: Dict[str, Dict], path: Path) -> Path:
    """Per-stage parameters (bars) and output shapes (labels) of every variant of ``arch``."""
    import numpy as np

    plt = _plt()
    keys = registry.keys(arch)
    rows = [stats[k] for k in keys if k in stats]
    if not rows:
        raise HelpersError(f"no measured stages for {arch}; run `{FIGURES_COMMAND}`")
    n_stages = max(len(r["stages"]) for r in rows)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8.5, 5.4), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 2]})
    width = 0.8 / len(rows)
    x = np.arange(n_stages)
    for i, r in enumerate(rows):
        params = [s["params"] / 1e6 for s in r["stages"]]
        col = _PALETTE[i % len(_PALETTE)]
        xi = x[:len(params)] + (i - (len(rows) - 1) / 2) * width
        label = f"{r['key']} ({_fmt_params(r['params'])} params"
        label += f", {_fmt_params(r['params_fused'])} fused)" if "params_fused" in r else ")"
        ax.bar(xi, params, width=width * 0.95, color=col, label=label)
        chans = [s["out_shape"][0] for s in r["stages"]]
        ax2.plot(x[:len(chans)], chans, marker="o", color=col, lw=1.3, ms=4)
    ax.set_ylabel("parameters (millions)")
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    ax.grid(axis="y", alpha=0.25)
    ax.set_title(f"{arch}: parameters and output of each stage (timm model, measured with random init)")
    ax2.set_yscale("log", base=2)
    ax2.set_ylabel("output channels")
    ax2.grid(alpha=0.25)
    ref = max(rows, key=lambda r: len(r["stages"]))
    labels = []
    for s in ref["stages"]:
        shape = s["out_shape"]
        labels.append(f"{s['name']}\n{shape[1]}x{shape[2]}" if len(shape) == 3 else f"{s['name']}\nlogits")
    ax2.set_xticks(x)
    ax2.set_xticklabels(labels, fontsize=8)
    ax2.set_xlabel("stage (output resolution for a %dx%d input)" % tuple(ref["input_size"]))
    fig.tight_layout()
    return save_png(fig, path)


def draw_reparam(stats: Dict[str, Dict], path: Path) -> Path:
    """MobileOne: parameters of the training-time (multi-branch) and the deployed (fused) model."""
    import numpy as np

    plt = _plt()
    rows = [stats[k] for k in registry.keys("MobileOne") if k in stats and "params_fused" in stats[k]]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = np.arange(len(rows))
    before = [r["params"] / 1e6 for r in rows]
    after = [r["params_fused"] / 1e6 for r in rows]
    ax.bar(x - 0.2, before, 0.4, color="#9ecae1", label="training time (branches)")
    ax.bar(x + 0.2, after, 0.4, color="#08519c", label="deployed (re-parameterised)")
    for xi, b, a in zip(x, before, after):
        ax.text(xi - 0.2, b, f"{b:.2f}", ha="center", va="bottom", fontsize=7.5)
        ax.text(xi + 0.2, a, f"{a:.2f}", ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(x)
    ax.set_xticklabels([r["key"] for r in rows])
    ax.set_ylabel("parameters (millions)")
    ax.set_title("MobileOne before and after re-parameterisation (timm, measured with random init)")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.25)
    fig.tight_layout()
    return save_png(fig, path)


def draw_demo(result: Dict, path: Path) -> Path:
    """Accuracy and latency of each stage of ``python -m helpers demo`` (from its recorded result)."""
    import numpy as np

    plt = _plt()
    rows = [r for r in result.get("rows", []) if isinstance(r, dict)]
    names = [str(r.get("stage", r.get("model", "?"))) for r in rows]
    if len({r.get("key") for r in rows}) > 1:   # several models recorded: say which row is which
        names = [f"{r.get('key')}: {n}" for r, n in zip(rows, names)]
    top1 = [r.get("top1") if r.get("weights") != "random" else None for r in rows]
    lat = [r.get("latency_ms") for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(9.0, 1.4 * len(rows)), 3.2 + 0.12 * len(rows)))
    x = np.arange(len(rows))
    ax.bar(x, [v if v is not None else 0 for v in top1], color="#2ca02c")
    for xi, v in zip(x, top1):
        ax.text(xi, (v or 0), "n/a" if v is None else f"{v:.1f}", ha="center", va="bottom", fontsize=7.5)
    ax.set_ylabel("top-1 on the validation split (%)")
    ax2.bar(x, [v if v is not None else 0 for v in lat], color="#1f77b4")
    for xi, v in zip(x, lat):
        ax2.text(xi, (v or 0), "n/a" if v is None else f"{v:.2f}", ha="center", va="bottom", fontsize=7.5)
    ax2.set_ylabel("latency per image on this PC (ms)")
    for a in (ax, ax2):
        a.set_xticks(x)
        a.set_xticklabels(names, rotation=20, ha="right", fontsize=7.5)
        a.grid(axis="y", alpha=0.25)
    fig.suptitle(f"Measured by `{result.get('command', 'python -m helpers demo')}`", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------------------------------------
# the list of figures, and the command
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    name: str
    path: Path
    draw: Callable[[], Path]
    needs_stats: bool = False


def _demo_result() -> Optional[Dict]:
    f = RESULTS_DIR / "demo.json"
    if not f.exists():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        raise HelpersError(f"{rel_to_repo(f)} is not valid JSON; re-run the command that records it") from None


def figure_list(stats: Optional[Dict[str, Dict]] = None, include_optional: bool = True) -> List[Figure]:
    """Every figure we draw, in order. ``demo`` is listed only when its result file exists."""
    def s():
        return stats if stats is not None else load_stats()

    figs = [
        Figure("pipeline", TOP_FIG_DIR / "pipeline.png", lambda: draw_pipeline(TOP_FIG_DIR / "pipeline.png")),
        Figure("published", TOP_FIG_DIR / "published.png", lambda: draw_published(TOP_FIG_DIR / "published.png")),
        Figure("nv12_range", TOP_FIG_DIR / "nv12_range.png",
               lambda: draw_nv12_range(TOP_FIG_DIR / "nv12_range.png")),
    ]
    for arch in registry.ARCHS:
        p = arch_fig_dir(arch) / "stages.png"
        figs.append(Figure(f"stages_{arch}", p, (lambda a=arch, p=p: draw_stages(a, s(), p)), True))
    p = arch_fig_dir("MobileOne") / "reparam.png"
    figs.append(Figure("reparam", p, lambda p=p: draw_reparam(s(), p), True))
    if include_optional and (RESULTS_DIR / "demo.json").exists():
        p = TOP_FIG_DIR / "demo.png"
        figs.append(Figure("demo", p, lambda p=p: draw_demo(_demo_result(), p)))
    return figs


def make_figures(only: Optional[List[str]] = None, measure: bool = True) -> List[Path]:
    """Measure (``data/results/architecture.json``) and draw; ``only`` restricts to named figures."""
    figs = figure_list()
    names = [f.name for f in figs]
    unknown = [n for n in (only or []) if n not in names]
    if unknown:
        raise HelpersError(f"unknown figure {', '.join(unknown)}; known: {', '.join(names)}")
    chosen = [f for f in figs if not only or f.name in only]
    written: List[Path] = []
    if measure and any(f.needs_stats for f in chosen):
        data = compute_stats()
        text = json.dumps(data, indent=1) + "\n"
        written.append(_readable(atomic_write_bytes(STATS_FILE, text.encode("utf-8"), overwrite=True)))
    for f in chosen:
        written.append(f.draw())
    return written


def cmd_figures(args) -> int:
    for p in make_figures(args.only or None, measure=not args.no_measure):
        size = Path(p).stat().st_size
        print(f"wrote {rel_to_repo(p)} ({size / 1024:.0f} KB)")
    print("now run `python -m helpers readme` so the READMEs pick up new measurements")
    return 0
