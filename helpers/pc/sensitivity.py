"""Which layers does INT8 hurt? Per-layer sensitivity of the INT8 preview, and the yaml that keeps them (PC only).

``python -m helpers sensitivity ONNX --calib DIR --data DIR [--board x5] [--yaml-out FILE] [--record]``

For a float ONNX, its calibration data and labelled images:

1. calibrate once (:mod:`helpers.pc.precision`: the mapper's ``calibration_type``, ranges stored and
   reused by every variant below) and build the all-INT8 model;
2. for every candidate layer (``--ops``, default Conv and Gemm), build the model with **that layer
   kept** (``--mode keep``: int16 on X5, float on X3 - what the yaml will ask) or with **only that
   layer quantised** (``--mode only``), and measure top-1 and top-1 agreement with the float model
   on a subset of labelled images (``--rank-split``, default the train split, so the layers are not
   chosen on the images the result is reported on);
3. rank the layers by the logit error against float (keep: the lowest first, the layer whose
   keeping recovers most; only: the highest first). Logit error, not top-1: on images the model
   was trained on, INT8 flips a handful of predictions, too few to rank 40+ layers by (measured on
   the demo: one image apart). Then keep the top 1, 2, ... k layers (k up to ``--budget`` x the
   number of layers, default 5 %) and take the k whose model is closest to float; also measure the
   **ceiling**, every candidate layer kept: what ``node_info`` could buy at most. A ceiling close to
   all-INT8 says the error is not in the activations (on X5 it is then in the int8 weights, which
   ``node_info`` does not change);
4. report float, all-INT8 and INT8 with the kept layers on the ``--split`` images (default val), a
   table, a plot, a JSON record, and optionally the mapper yaml whose ``node_info`` (X5) or
   ``run_on_cpu`` (X3) asks the toolchain for the same (:mod:`helpers.pc.node_info`).

What this can and cannot say about the BPU: see docs/quantisation.md, "What the preview can and cannot tell".
In short, it ranks layers by how much an onnxruntime INT8 model of the same network suffers, which points at
the layers with hard-to-quantise ranges; the ``.bin``'s own accuracy comes only from ``hb_mapper``.
"""
from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from helpers.board import registry
from helpers.board.files import atomic_write_text, rel_to_repo
from helpers.board.meta import META_KEY, META_WEIGHTS
from helpers.board.text import table
from helpers.errors import HelpersError
from helpers.pc import node_info

DEFAULT_OPS = ("Conv", "Gemm")
DEFAULT_BUDGET = 0.05        # at most 5 % of the candidate layers kept (issue #16's target)
DEFAULT_TARGET = 1.0         # points of top-1 below float
DEFAULT_RANK_IMAGES = 300
MODES = ("keep", "only")
COMMAND = "python -m helpers sensitivity ONNX --calib DIR --data DIR --record"


@dataclass
class Labelled:
    """Preprocessed images (float ONNX feeds) with their class indices."""
    feeds: List[np.ndarray]
    targets: np.ndarray
    describe: str
    split: str = ""


def load_labelled(data, size, mean, std, num_outputs: int, labels: Optional[Sequence[str]], split: str = "val",
                  limit: Optional[int] = None, progress: bool = True) -> Labelled:
    """``split`` of an ImageFolder dataset (every ``limit``-th image, classes kept), as float-ONNX feeds."""
    from tqdm.auto import tqdm

    from helpers.board.image import deployed_input
    from helpers.training.datasets import load_split, model_targets

    images = load_split(data, split)
    targets, _ = model_targets(images, labels, num_outputs)
    idx = np.arange(len(images))
    if limit is not None and limit < len(images):
        idx = np.unique(np.linspace(0, len(images) - 1, limit).round().astype(int))
    feeds = [deployed_input(images.paths[i], size, mean, std)
             for i in tqdm(idx, desc=f"load {split}", unit="img", disable=not progress, leave=False)]
    what = images.describe() if len(idx) == len(images) else f"{len(idx)} images of {images.describe()}"
    return Labelled(feeds, targets[idx], what, split)


@dataclass
class Score:
    name: str
    op: str
    top1: float
    agreement: float           # % same top-1 as the float model
    logit_err: float           # mean relative logit error vs float
    seconds: float = 0.0


class Measure:
    """Top-1, agreement and logit error of ONNX files on one labelled set, against the float model."""

    def __init__(self, float_onnx: Path, data: Labelled):
        self.data = data
        self.float_logits = self.logits(float_onnx)
        self.float_pred = self.float_logits.argmax(1)

    def logits(self, path: Path) -> np.ndarray:
        from helpers.board.runtime import open_model

        be = open_model(path)
        return np.stack([np.asarray(be.run(x)[0], np.float64).reshape(-1) for x in self.data.feeds])

    def __call__(self, path: Path, name: str = "", op: str = "") -> Score:
        t0 = time.perf_counter()
        z = self.logits(path)
        pred = z.argmax(1)
        err = np.linalg.norm(z - self.float_logits, axis=1) / np.maximum(np.linalg.norm(self.float_logits, axis=1), 1e-12)
        return Score(name, op, 100.0 * float(np.mean(pred == self.data.targets)),
                     100.0 * float(np.mean(pred == self.float_pred)), float(err.mean()), time.perf_counter() - t0)

    @property
    def float_top1(self) -> float:
        return 100.0 * float(np.mean(self.float_pred == self.data.targets))


@dataclass
class SensitivityResult:
    key: Optional[str]
    board: str
    keep_as: str                      # int16 (X5 node_info) / float (X3 run_on_cpu)
    scheme: str
    calibration: str                  # the calibration method kept (precision.Method.label)
    mode: str
    rank_data: str
    layers: List[Score]               # ranked, most sensitive first
    n_layers: int
    budget_k: int
    baseline: Score                   # all layers int8, on the ranking data
    float_top1_rank: float
    cumulative: List[Score]           # top-1..k kept, on the ranking data
    chosen: List[str]
    target: float
    ceiling: Optional[Score] = None   # every candidate layer kept, on the ranking data
    report: Dict[str, Score] = field(default_factory=dict)   # float / int8 / kept on the --split data
    report_data: str = ""
    report_images: int = 0
    seconds: Dict[str, float] = field(default_factory=dict)
    rank_images: int = 0              # images the layers were ranked on
    rank_split: str = ""

    @property
    def analysis_s(self) -> float:
        return round(sum(v for k, v in self.seconds.items() if k != "report"), 1)

    def ceiling_share(self) -> float:
        """% of the all-INT8 logit error that keeping every candidate layer removes (on the ranking data)."""
        if self.ceiling is None or self.baseline.logit_err <= 0:
            return 0.0
        return 100.0 * (1.0 - self.ceiling.logit_err / self.baseline.logit_err)

    def met(self) -> Optional[bool]:
        if "kept" not in self.report:
            return None
        return self.report["float"].top1 - self.report["kept"].top1 <= self.target + 1e-9

    def table(self, limit: int = 12) -> str:
        base = self.baseline
        what = "kept" if self.mode == "keep" else "only this int8"
        rows = [[i + 1, s.name, s.op, f"{s.top1:.2f}", f"{s.agreement:.2f}", f"{s.logit_err:.4f}",
                 f"{s.logit_err - base.logit_err:+.4f}"] for i, s in enumerate(self.layers[:limit])]
        head = ["rank", f"layer ({what})", "op", "top-1 %", "agree %", "logit err", "vs all-int8"]
        return table(head, rows, "rllrrrr")

    def summary(self) -> str:
        lines = [f"sensitivity of {self.key or '?'} for {registry.BOARDS[self.board].name}: {self.n_layers} candidate "
                 f"layers, scheme {self.scheme}, calibration {self.calibration}, mode {self.mode}, layers kept as "
                 f"{self.keep_as}",
                 f"ranked on {self.rank_data}: float top-1 {self.float_top1_rank:.2f} %, all-INT8 "
                 f"{self.baseline.top1:.2f} % (agreement {self.baseline.agreement:.2f} %, logit error "
                 f"{self.baseline.logit_err:.4f})", "", self.table(), ""]
        for k, s in enumerate(self.cumulative, 1):
            mark = "  <- chosen (closest to float)" if k == len(self.chosen) else ""
            lines.append(f"  top {k} kept: top-1 {s.top1:.2f} %, agreement {s.agreement:.2f} %, logit error "
                         f"{s.logit_err:.4f}{mark}")
        if self.ceiling is not None:
            c = self.ceiling
            lines.append(f"  ceiling ({c.name} as {self.keep_as}): top-1 {c.top1:.2f} %, agreement {c.agreement:.2f} %, "
                         f"logit error {c.logit_err:.4f} ({self.ceiling_share():.0f} % of the INT8 error removed)"
                         + (f"; on the board: {node_info.ALL_INT16_LINE}"
                            if registry.BOARDS[self.board].march in node_info.ALL_INT16_MARCHES else ""))
        if self.report:
            f, q = self.report["float"], self.report["int8"]
            lines.append(f"on {self.report_data}: float {f.top1:.2f} %, all-INT8 {q.top1:.2f} %"
                         + (f", {len(self.chosen)} layer(s) kept ({100.0 * len(self.chosen) / self.n_layers:.1f} % of "
                            f"{self.n_layers}) {self.report['kept'].top1:.2f} %" if "kept" in self.report else ""))
            if "kept" in self.report and self.report_images:
                lines += explain(self, f.top1, q.top1, self.report["kept"].top1, self.report_images)
        lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
                     + f"; analysis {self.analysis_s:.1f} s")
        return "\n".join(lines)

    def to_json(self) -> Dict:
        d = asdict(self)
        d["analysis_s"] = self.analysis_s
        d["met"] = self.met()
        return d

    def record_row(self) -> Dict:
        """The row of data/results/sensitivity.json (helpers.docs.readme FIELDS)."""
        r = self.report
        return {"key": self.key, "board": self.board, "scheme": self.scheme, "calibration": self.calibration,
                "images": self.report_images or None,
                "float_top1": round(r["float"].top1, 2) if r else None,
                "int8_top1": round(r["int8"].top1, 2) if r else None,
                "kept_top1": round(r["kept"].top1, 2) if "kept" in r else None,
                "kept_layers": len(self.chosen), "layers": self.n_layers, "analysis_s": self.analysis_s,
                "ceiling_share": round(self.ceiling_share(), 1), "kept_nodes": list(self.chosen)}

    def plot(self, path=None, limit: int = 20):
        """The figure (a :class:`matplotlib.figure.Figure`, :mod:`helpers.board.plot`): left, how much keeping
        each ranked layer changes the logit error against all-INT8 (a difference, so layers a few thousandths
        apart stay apart); right, the logit error with the top 1..k layers kept, next to all-INT8 and the
        ceiling. Written to ``path`` as PNG when given."""
        from helpers.board import plot

        shown = self.layers[:limit]
        base = self.baseline.logit_err
        keep = self.mode == "keep"
        fig = plot.figure((11.0, max(3.4, 1.5 + 0.24 * len(shown))), layout="constrained")
        ax, ax2 = fig.subplots(1, 2, width_ratios=[2.2, 1])
        y = list(range(len(shown)))
        diffs = [s.logit_err - base for s in shown]
        ax.barh(y, diffs, color=["#2ca02c" if d < 0 else "#d62728" for d in diffs], height=0.7)
        ax.set_yticks(y, [short_name(s.name) for s in shown], fontsize=7)
        ax.invert_yaxis()                                   # rank 1 on top
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_xlabel(f"logit error minus all-INT8's {base:.4f}  (< 0: closer to float)" if keep else
                      f"logit error minus all-INT8's {base:.4f}")
        what = f"one layer kept as {self.keep_as}" if keep else "only one layer INT8"
        ranked = f"{len(self.layers)} of {self.n_layers} layers" if len(self.layers) < self.n_layers else \
            f"all {self.n_layers} layers"
        ax.set_title(f"{what}: {ranked} ranked, top {len(shown)} shown", fontsize=9)
        ks = list(range(0, len(self.cumulative) + 1))
        vals = [base] + [s.logit_err for s in self.cumulative]
        ax2.plot(ks, vals, "o-", color="#1f77b4", label="top-k layers kept")
        ax2.axhline(base, color="#d62728", ls="--", lw=1, label="all layers INT8")
        if self.ceiling is not None and keep:
            ax2.axhline(self.ceiling.logit_err, color="#2ca02c", ls=":", lw=1.2,
                        label=f"ceiling: all {len(self.layers)} ranked kept")
            vals = vals + [self.ceiling.logit_err]
        lo, hi = min(vals), max(vals)
        pad = 0.1 * (hi - lo) if hi > lo else 0.05 * max(hi, 1e-3)
        ax2.set_ylim(lo - pad, hi + pad)                    # the differences, not 0..max
        ax2.set_xlabel("layers kept (k)")
        ax2.set_ylabel("logit error vs float")
        ax2.set_xticks(ks)
        ax2.set_title(f"chosen: top {len(self.chosen)} (budget {self.budget_k} of {self.n_layers})", fontsize=9)
        fig.legend(*ax2.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        for a in (ax, ax2):
            a.grid(axis="x" if a is ax else "y", alpha=0.3)
        fig.suptitle(f"{self.key or ''}: INT8 sensitivity per layer (scheme {self.scheme}, calibration "
                     f"{self.calibration}), ranked on {self.rank_images or '?'} {self.rank_split} images",
                     fontsize=10)
        if path is not None:
            plot.save(fig, path)
        return fig

    def png(self, limit: int = 20) -> bytes:
        """:meth:`plot` as PNG bytes (a notebook: ``IPython.display.Image(result.png())``)."""
        from helpers.board import plot

        return plot.png(self.plot(limit=limit))


#: below this share of the INT8 logit error removed by keeping every ranked layer, the error is not in the
#: activations the yaml can keep (a judgement for the advice text, not a measured threshold)
LOW_CEILING_SHARE = 30.0
#: a top-1 difference of at most this many images is called noise in the advice text
NOISE_IMAGES = 2


def explain(res: "SensitivityResult", float_top1: float, int8_top1: float, kept_top1: float, images: int,
            epochs_note: str = "") -> List[str]:
    """What a result with kept layers says, in sentences made from its numbers: whether it met the target,
    how the kept layers compare with all-INT8, what the ceiling (every ranked layer kept) says about where
    the error is, and what to try next. ``float_top1``/``int8_top1``/``kept_top1``: % top-1 on ``images``
    report images (all-INT8 with the same scheme as the kept model); ``epochs_note``: a sentence to add
    when the model was trained briefly."""
    if images < 1:
        raise HelpersError("explain() needs the number of images the top-1 values were measured on")
    one = 100.0 / images
    d_int8, d_kept = float_top1 - int8_top1, float_top1 - kept_top1
    gain = kept_top1 - int8_top1
    n_img = round(abs(kept_top1 - int8_top1) / one)
    k, n = len(res.chosen), res.n_layers
    what = f"{k} of {n} layer(s) kept as {res.keep_as}"
    within = d_kept <= res.target + 1e-9 and k <= res.budget_k
    out = [f"target: within {res.target:g} point of float with at most {res.budget_k} of {n} layers "
           f"({100.0 * res.budget_k / n:.0f} %): {'met' if within else 'missed'}; float - INT8 is {d_int8:+.2f} "
           f"points all-INT8 and {d_kept:+.2f} with {what} ({images} images, one image = {one:.2f} point)."]
    if within:
        return out + ([epochs_note] if epochs_note else [])
    if d_int8 <= res.target + 1e-9:
        out.append(f"All-INT8 is already within the target; the kept layers cost {-gain:.2f} points "
                   f"({n_img} image(s)): keep none.")
        return out + ([epochs_note] if epochs_note else [])
    if gain <= 0 or n_img <= NOISE_IMAGES:
        out.append(f"The kept layers {'do not beat' if gain <= 0 else 'barely beat'} all-INT8 ({gain:+.2f} points, "
                   f"{n_img} image(s){', within noise' if n_img <= NOISE_IMAGES else ''}): they were ranked by logit "
                   f"error on {res.rank_images or '?'} {res.rank_split or 'ranking'} images, and that gain did not "
                   "carry over to top-1 here.")
    else:
        out.append(f"The kept layers recover {gain:.2f} points ({n_img} images) of the {d_int8:.2f} lost, "
                   f"not enough for the target.")
    ranked = len(res.layers)
    if ranked < n:
        out.append(f"Only {ranked} of {n} layers were ranked (RDK_SENS_LAYERS / --max-layers): rank all of them "
                   "before concluding; the ceiling below covers only those.")
    share = res.ceiling_share()
    base = res.baseline.logit_err
    got = 100.0 * (1.0 - res.cumulative[k - 1].logit_err / base) if res.cumulative and base > 0 and k else 0.0
    tries = []
    if res.ceiling is not None and ranked < n:
        out.append(f"Ceiling of the {ranked} ranked layer(s): keeping them all as {res.keep_as} removes {share:.0f} % "
                   "of the INT8 logit error; what every layer could remove is not measured.")
    elif res.ceiling is not None and share < LOW_CEILING_SHARE:
        out.append(f"Ceiling: keeping all {ranked} layers as {res.keep_as} removes only {share:.0f} % of the "
                   f"INT8 logit error, so the error is mostly not in what the yaml can keep"
                   + (" (the int8 weights stay int8 under node_info)" if res.keep_as == "int16" else "")
                   + "; more kept layers will not fix it.")
    elif res.ceiling is not None:
        out.append(f"Ceiling: keeping all {ranked} layers removes {share:.0f} % of the INT8 logit error, "
                   f"the {k} chosen {got:.0f} % (on the ranking images): the error is in the activations, spread over "
                   "more layers than the budget allows.")
        if k >= res.budget_k:
            tries.append(f"more layers (--budget / --max-k; the budget of {res.budget_k} is the limit here; each "
                         "kept layer costs board speed)")
    others = [t for t in ("kl", "max", "default") if t != res.calibration.split(" ")[0]]
    tries.append(f"another calibration type (this run kept {res.calibration}; RDK_SENS_CALIBRATION or "
                 f"--calibration-type {' / '.join(others)})")
    if res.scheme != "bpu":
        tries.append("per-channel weights (--scheme bpu)")
    tries.append("more and more varied calibration images (--count; about 100 from the deployment domain)")
    if res.ceiling is not None and share < LOW_CEILING_SHARE and ranked == n:
        tries.append("quantisation-aware training")
    if res.keep_as == "int16" and registry.BOARDS[res.board].march in node_info.ALL_INT16_MARCHES:
        tries.append(f"the whole model in int16 on the board ({node_info.ALL_INT16_LINE})")
    out.append("Try: " + "; ".join(tries) + ".")
    return out + ([epochs_note] if epochs_note else [])


def short_name(name: str, width: int = 34) -> str:
    """A node name short enough for a tick label: its last parts (``/stages/stages.2/stages.2.3/reparam_conv/Conv``
    -> ``stages.2.3/reparam_conv/Conv``), cut from the left to ``width`` characters."""
    parts = [p for p in name.split("/") if p]
    text = "/".join(parts[-3:]) if parts else name
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _progress(say: Callable[[str], None], done: int, total: int, elapsed: float) -> None:
    """One line about every tenth of ``total`` (and at the end), with the time left at the pace so far."""
    if done != total and done % max(1, -(-total // 10)) != 0:
        return
    left = elapsed / done * (total - done)
    say(f"  {done}/{total} layers, {elapsed:.0f} s" + (f", about {left:.0f} s left" if done < total else ""))


def analyse(onnx_path, calib_dir, rank: Labelled, board: str = "x5", scheme: str = "bpu",
            calibration_type: str = "default", mode: str = "keep", ops: Sequence[str] = DEFAULT_OPS,
            budget: float = DEFAULT_BUDGET, max_k: Optional[int] = None, target: float = DEFAULT_TARGET,
            count: Optional[int] = None, report: Optional[Labelled] = None, progress: bool = True,
            max_layers: Optional[int] = None, log: Optional[Callable[[str], None]] = None) -> SensitivityResult:
    """Rank the candidate layers of ``onnx_path`` (see the module doc) and choose the ones to keep.

    ``max_layers``: rank only the first N candidates in graph order (a quick look, e.g. in CI);
    the budget still counts every candidate layer. ``progress``: tqdm bars; ``log``: plain progress lines
    instead (each phase, and the ranking about every tenth of the layers with the time left), which read
    the same in a terminal, a headless notebook run and JupyterLab.
    """
    import onnx
    from tqdm.auto import tqdm

    from helpers.pc import node_info, precision
    from helpers.pc import quantize as Q

    if mode not in MODES:
        raise HelpersError(f"--mode must be one of {', '.join(MODES)}; got {mode!r}")
    if not 0.0 < budget <= 1.0:
        raise HelpersError(f"--budget is a fraction of the layers in (0, 1], got {budget}")
    b = registry.board(board)
    how = node_info.keep_as(b.march)
    sch = precision.scheme(scheme)
    methods = precision.methods(calibration_type)
    src = Path(onnx_path)
    seconds: Dict[str, float] = {}
    say = log or (lambda text: None)
    t0 = time.perf_counter()
    float_be, info, mean, std, meta = Q._float_io(src)
    files = Q.calibration_files(calib_dir)
    if count is not None:
        from helpers.pc.calib import pick

        files = pick(files, count)
    reader = Q._reader_class()(files, info.name, info.hw, mean, std)
    choices = [sch.per_channel] if sch.per_channel is not None else [False, True]
    say(f"sensitivity: calibrating ({', '.join(m.label for m in methods)}; {len(files)} samples)")
    with tempfile.TemporaryDirectory(prefix="rdk-sens-") as tmpd:
        tmp = Path(tmpd)
        pre = Q.prepared(src, tmp)
        pre16 = precision.to_int16_opset(pre, tmp / "pre21.onnx") if how == "int16" else pre
        cands, built = Q.calibrated_candidates(pre, reader, float_be, methods, choices, sch, tmp)
        best = Q.best_candidate(cands)
        base_path, cache, method = built[(best.method, best.per_channel)]
        seconds["calibrate"] = round(time.perf_counter() - t0, 1)
        names = node_info.onnx_node_names(src) or []
        cand = precision.layers(onnx.load(str(pre)), ops, among=names)
        if not cand:
            raise HelpersError(f"{src.name} has no {'/'.join(ops)} nodes named as in the float ONNX; check --ops")
        n_layers = len(cand)
        if max_layers is not None:
            if max_layers < 1:
                raise HelpersError(f"--max-layers must be at least 1, got {max_layers}")
            cand = cand[:max_layers]
        t0 = time.perf_counter()
        measure = Measure(src, rank)
        baseline = measure(base_path, "all int8", "-")
        say(f"sensitivity: ranking {len(cand)} of {n_layers} layers on {len(rank.feeds)} images "
            f"(each {'kept as ' + how if mode == 'keep' else 'alone in int8'} in turn)")

        def variant(kept: Sequence[str], tag: str) -> Path:
            out = tmp / f"v_{tag}.onnx"
            if mode == "only" and tag.startswith("layer"):
                return precision.build(pre, out, cache, method, sch, best.per_channel, only=kept)
            if how == "int16":
                return precision.build(pre16, out, cache, method, sch, best.per_channel, int16=kept)
            return precision.build(pre, out, cache, method, sch, best.per_channel, float_nodes=kept)

        scores = []
        for i, (name, op) in enumerate(tqdm(cand, desc=f"layers ({mode})", unit="layer", disable=not progress)):
            t1 = time.perf_counter()
            s = measure(variant([name], f"layer{i}"), name, op)
            s.seconds = round(time.perf_counter() - t1, 3)
            scores.append(s)
            _progress(say, i + 1, len(cand), time.perf_counter() - t0)
        if mode == "keep":   # closest to float when kept first
            scores.sort(key=lambda s: (s.logit_err, -s.agreement))
        else:                # furthest from float when quantised alone first
            scores.sort(key=lambda s: (-s.logit_err, s.agreement))
        seconds["rank"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        budget_k = max(1, int(budget * n_layers + 1e-9))
        k_max = min(budget_k if max_k is None else max_k, len(cand))
        say(f"sensitivity: top 1..{k_max} kept together, then the ceiling (all {len(cand)} kept)")
        cumulative = [measure(variant([s.name for s in scores[:k]], f"top{k}"), f"top {k}", "-")
                      for k in range(1, k_max + 1)]
        k_best = 1 + int(np.argmin([round(s.logit_err, 6) for s in cumulative]))   # ties: the fewest layers
        chosen = [s.name for s in scores[:k_best]]
        ceiling = measure(variant([name for name, _ in cand], "all"), f"all {len(cand)} kept", "-")
        seconds["choose"] = round(time.perf_counter() - t0, 1)
        res = SensitivityResult(key=meta.get(META_KEY), board=board, keep_as=how, scheme=sch.name,
                                calibration=best.method, mode=mode, rank_data=rank.describe, layers=scores,
                                n_layers=n_layers, budget_k=budget_k, baseline=baseline,
                                float_top1_rank=measure.float_top1, cumulative=cumulative, chosen=chosen,
                                ceiling=ceiling, target=target, seconds=seconds,
                                rank_images=len(rank.feeds), rank_split=rank.split)
        if report is not None:
            t0 = time.perf_counter()
            m2 = Measure(src, report)
            f = Score("float", "-", m2.float_top1, 100.0, 0.0)
            res.report = {"float": f, "int8": m2(base_path, "all int8", "-"),
                          "kept": m2(variant(chosen, "chosen"), f"{len(chosen)} kept", "-")}
            res.report_data = report.describe
            res.report_images = len(report.feeds)
            seconds["report"] = round(time.perf_counter() - t0, 1)
    return res


_OUTPUT_RE = re.compile(r"-> (\S+?)(\.bin|\.hbm)\b")
_SHAPE_RE = re.compile(r"(--input-shape \S+ )\S+")


def retitle(header: Sequence[str], cfg: Dict, base_name: str, name: str) -> str:
    """The comment ``header`` of the yaml ``base_name``, made true for its copy ``name`` with the body ``cfg``:
    the build command names ``name``, the output file is the body's ``output_model_file_prefix`` and the
    checker's input shape the body's ``input_shape`` (the header of a copied yaml otherwise names the
    original file and, for a model built at another size, the registry's size)."""
    mp, ip = cfg.get("model_parameters") or {}, cfg.get("input_parameters") or {}
    prefix, shape = mp.get("output_model_file_prefix"), ip.get("input_shape")
    lines = []
    for ln in header:
        ln = ln.replace(f"--config {base_name}", f"--config {name}")
        if prefix:
            ln = _OUTPUT_RE.sub(lambda m: f"-> {prefix}{m.group(2)}", ln)
        if shape:
            ln = _SHAPE_RE.sub(lambda m: f"{m.group(1)}{str(shape).replace(' ', '')}", ln)
        lines.append(ln)
    return "\n".join(lines)


def variant_yaml(key: Optional[str], board: str, nodes: Sequence[str], out, base=None, overwrite: bool = False) -> Path:
    """A mapper yaml that keeps ``nodes`` (node_info int16 on X5, run_on_cpu on X3).

    ``base``: a mapper yaml to copy (its comment header is kept, with the config name, the output file
    and the input shape it names set to the variant's own, :func:`retitle`); default: the registry yaml
    of ``key`` on ``board`` with paths relative to ``out``.
    """
    from helpers.pc import mapper, node_info

    out = Path(out)
    if base is not None:
        import yaml

        cfg = mapper.load_config(base)
        march = (cfg.get("model_parameters") or {}).get("march") or registry.board(board).march
        header = retitle([ln for ln in Path(base).read_text(encoding="utf-8").splitlines() if ln.startswith("#")],
                         cfg, Path(base).name, out.name)
        body = yaml.safe_dump(node_info.apply(cfg, march, nodes), sort_keys=False, default_flow_style=False)
        note = (f"# {len(nodes)} node(s) kept above int8 by python -m helpers sensitivity "
                f"({'node_info int16' if node_info.keep_as(march) == 'int16' else 'run_on_cpu'})")
        return atomic_write_text(out, f"{header}\n{note}\n\n{body}", overwrite=overwrite)
    if not key or key not in registry.MODELS:
        raise HelpersError("the ONNX carries no registry key (rdk.model_key); give the yaml to copy with --yaml-base")
    here = out.resolve().parent
    spec = registry.get(key)
    text = mapper.generate_yaml(key, board, onnx_model=mapper._rel(spec.float_onnx_path, here),
                                cal_data_dir=mapper._rel(spec.calib_dir, here),
                                working_dir=mapper._rel(spec.working_dir(board), here),
                                run_from=f"cd {rel_to_repo(here)}",
                                command=f"python -m helpers sensitivity ... --yaml-out {out.name}", keep_nodes=nodes)
    return atomic_write_text(out, text, overwrite=overwrite)


def cmd_sensitivity(args) -> int:
    from helpers.board.meta import labels_from_metadata
    from helpers.pc import quantize as Q

    be, info, mean, std, meta = Q._float_io(Path(args.onnx))
    n_out = int(np.asarray(be.run(np.zeros((1, 3, *info.hw), np.float32))[0]).size)
    labels = labels_from_metadata(meta)
    if meta.get(META_WEIGHTS) == "random":
        print("WARNING: this ONNX has RANDOM weights; its accuracy and ranking mean nothing.")
    rank = load_labelled(args.data, info.hw, mean, std, n_out, labels, split=args.rank_split, limit=args.limit)
    rep = load_labelled(args.data, info.hw, mean, std, n_out, labels, split=args.split, limit=args.eval_limit)
    res = analyse(args.onnx, args.calib, rank, board=args.board, scheme=args.scheme,
                  calibration_type=args.calibration_type, mode=args.mode, ops=args.ops.split(","),
                  budget=args.budget, max_k=args.max_k, target=args.target, count=args.count, report=rep,
                  max_layers=args.max_layers)
    print(res.summary())
    stem = Path(args.onnx).with_suffix("")
    plot = Path(args.plot) if args.plot else stem.parent / f"{stem.name}_sensitivity.png"
    res.plot(plot)
    js = atomic_write_text(Path(args.json) if args.json else stem.parent / f"{stem.name}_sensitivity.json",
                           json.dumps(res.to_json(), indent=1) + "\n", overwrite=True)
    print(f"plot: {rel_to_repo(plot)}, JSON: {rel_to_repo(js)}")
    if args.yaml_out:
        y = variant_yaml(res.key, res.board, res.chosen, args.yaml_out, base=args.yaml_base, overwrite=args.overwrite)
        print(f"yaml with the {len(res.chosen)} kept layer(s): {rel_to_repo(y)}")
    if args.record:
        from helpers.board.records import record_and_report

        record_and_report("sensitivity", [res.record_row()], COMMAND, merge_on=("key", "board"),
                          dataset=res.report_data)
    return 0


def register(sub) -> None:
    p = sub.add_parser("sensitivity", help="which layers INT8 hurts: rank them, keep the worst in int16 (yaml node_info)",
                       description="Per-layer INT8 sensitivity with onnxruntime (a PC preview, not hb_mapper).")
    p.add_argument("onnx", help="the float ONNX (python -m helpers export)")
    p.add_argument("--calib", required=True, help="calibration folder (python -m helpers calib)")
    p.add_argument("--data", required=True, help="labelled ImageFolder dataset (train/ and val/)")
    p.add_argument("--board", default="x5", choices=list(registry.BOARDS),
                   help="x5 / s100 / s100p / s600: kept layers in int16 (node_info); x3: in float on the CPU (run_on_cpu)")
    p.add_argument("--scheme", default="bpu", choices=["bpu", "ort"], help="quantisation scheme (default bpu)")
    p.add_argument("--calibration-type", default="default", choices=["default", "max", "kl"],
                   help="the mapper's calibration_type (default: search max / max 0.99995 / kl)")
    p.add_argument("--mode", default="keep", choices=list(MODES),
                   help="keep: all INT8 but one layer; only: only one layer INT8")
    p.add_argument("--ops", default=",".join(DEFAULT_OPS), help="candidate op types, comma-separated")
    p.add_argument("--rank-split", default="train", help="split the layers are ranked on (default train)")
    p.add_argument("--limit", type=int, default=DEFAULT_RANK_IMAGES, help="images of --rank-split to rank on")
    p.add_argument("--split", default="val", help="split the result is reported on (default val)")
    p.add_argument("--eval-limit", type=int, help="images of --split (default all)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET, help="at most this fraction of layers kept")
    p.add_argument("--max-layers", type=int, help="rank only the first N candidate layers (a quick look)")
    p.add_argument("--max-k", type=int, help="at most this many layers kept (overrides --budget)")
    p.add_argument("--target", type=float, default=DEFAULT_TARGET, help="points of top-1 below float that count as met (reported; the choice is by logit error)")
    p.add_argument("--count", type=int, help="calibration samples to use (default all)")
    p.add_argument("--yaml-out", help="write the mapper yaml with the kept layers (node_info / run_on_cpu)")
    p.add_argument("--yaml-base", help="mapper yaml to copy into --yaml-out (default: the registry's yaml)")
    p.add_argument("--plot", help="figure file (default: next to the ONNX)")
    p.add_argument("--json", help="JSON file (default: next to the ONNX)")
    p.add_argument("--record", action="store_true", help="store the result in data/results/sensitivity.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --yaml-out")
    p.set_defaults(func=cmd_sensitivity)
