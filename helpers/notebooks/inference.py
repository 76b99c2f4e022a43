"""Everything the ``notebooks/<Arch>/test_<Arch>.ipynb`` notebooks do, so that they stay thin.

Board-safe: module-level imports are numpy and our board-safe modules only. The PC-only steps
(exporting a model with timm/torch, building the NV12 board model with onnx) are imported inside the
functions that make a missing model file, and only run on a PC.

The story the notebooks tell, one method of :class:`InferenceDemo` per step:

* :meth:`~InferenceDemo.where`: what runs where (board: the ``.bin`` on the BPU through hobot_dnn or
  bpu_infer_lib; PC: the NV12 board-model ONNX on onnxruntime, or the float ONNX on request).
* :meth:`~InferenceDemo.load`: find the model file, make it on a PC when it is missing (export, then
  board model, saying what was done), load it and show its inputs and outputs.
* :meth:`~InferenceDemo.nv12_summary` / :meth:`~InferenceDemo.show_nv12`: the NV12 bytes the board gets.
* :meth:`~InferenceDemo.board_model_file`: the file the notebook's vendor cells load with the vendor's own
  runtime (or, on a PC, with :mod:`helpers.notebooks.standin`); those cells are plain code in the notebook.
* :meth:`~InferenceDemo.predict` / :meth:`~InferenceDemo.show_prediction`: top-k with a picture.
* :meth:`~InferenceDemo.compare_paths`: the board (NV12) path against the float RGB path.
* :meth:`~InferenceDemo.benchmark`: latency and FPS in the model zoo's table format (helpers.board.bench).
* :meth:`~InferenceDemo.interactive`: ipywidgets model/image pickers and an upload box.

Random weights are never shown as a prediction: with ``Classifier.random_weights`` (or a ``.bin``,
which carries no metadata, run with ``RDK_WEIGHTS=random``) a banner says so and the classes are shown
as bare indices labelled meaningless.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from helpers.board import nv12 as nv12mod
from helpers.board import agreement, registry
from helpers.board.agreement import Agreement
from helpers.board.text import Banner
from helpers.notebooks.display import (HEADLESS_ENV, _in_ipython, board_runtimes, device_model,  # noqa: F401
                                       live_frontend, new_figure, on_board, show, show_figure)
from helpers.board.classifier import Classifier, Prepared
from helpers.errors import HelpersError
from helpers.board.files import REPO_ROOT, rel_to_repo
from helpers.board.image import ImageLike, sample_images, load_image
from helpers.board.labels import Prediction, topk
from helpers.board.runtime import BACKENDS, BOARD_BACKENDS, available_backends, runtime_module

#: which model file the notebook runs: auto = the .bin on a board, the NV12 board-model ONNX on a PC
MODEL_KINDS = ("auto", "bin", "board-onnx", "float-onnx")
KIND_TEXT = {"bin": "board .bin (BPU)", "board-onnx": "NV12 board-model ONNX (the PC stand-in for the .bin)",
             "float-onnx": "float ONNX (RGB float32 input, normalised on the CPU)"}
#: env var: seconds per thread count for the notebook's benchmark cell
BENCH_SECONDS_ENV = "RDK_BENCH_SECONDS"
DEFAULT_BENCH_SECONDS = 1.0
#: the notebook's agreement criteria (see :meth:`InferenceDemo.compare_paths`)


# ------------------------------------------------------------------------------------------------
# where are we
# ------------------------------------------------------------------------------------------------


def fmt_prob(p: float) -> str:
    """A probability with three significant digits: 0.00152 and 0.00148 stay apart (``.3f`` made both 0.001)."""
    return f"{p:.3g}"


def random_banner(from_file: bool = True) -> Banner:
    """The warning shown whenever the outputs come from random weights."""
    why = ("This model was exported with random weights (its metadata says rdk.weights = random; tests and CI "
           "set RDK_WEIGHTS=random)." if from_file else
           "A .bin carries no weights metadata and this run has WEIGHTS = 'random' (as in tests and CI), so "
           "its outputs are treated as meaningless.")
    return Banner("RANDOM WEIGHTS: the outputs below are not predictions",
                  why + " The pipeline runs exactly as with trained weights, but the classes mean nothing, so "
                  "they are shown as bare class indices. Use WEIGHTS = 'imagenet' (a PC with internet access "
                  "for the export) or the published .bin for real results.")


# ------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------
def resolve_image(image: Optional[ImageLike]) -> ImageLike:
    """A path as given (relative: the current folder first, then the repository root); None: the first sample."""
    if image is None:
        return sample_images()[0]
    if not isinstance(image, (str, os.PathLike)):
        return image
    p = Path(image).expanduser()
    if p.exists() or p.is_absolute():
        if not p.exists():
            raise HelpersError(f"image not found: {p}; give an existing photo (the samples are in data/)")
        return p
    if (REPO_ROOT / p).exists():
        return REPO_ROOT / p
    raise HelpersError(f"image not found: {image} (looked in {Path.cwd()} and the repository root); "
                       f"give an existing photo, e.g. data/{sample_images()[0].name}")


def missing_bin_message(key: str, board: str) -> str:
    spec = registry.get(key)
    looked = ", ".join(rel_to_repo(p) for p in registry.get(key).bin_candidates(board))
    pub = spec.published_for(board)
    how = (f"download the published one with `bash model/{spec.arch}/download.sh --board {board}`, or build "
           if pub is not None else f"the model zoo publishes none for {registry.board(board).name}; build ")
    suffix = registry.board(board).suffix
    return (f"no {suffix} for {key} on this board (looked for {looked}): {how}{spec.bin_stem}{suffix} with the "
            f"vendor toolchain on a PC (python -m helpers bundle {key} --board {board} --images data/ --out "
            f"build/{key}_{board}) and copy it to model/{spec.arch}/")


@dataclass
class ModelChoice:
    """Which model file the notebook runs, and what had to be done to get it."""

    key: str
    board: str
    kind: str                 # bin / board-onnx / float-onnx
    path: Path
    made: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        kind_text = KIND_TEXT[self.kind].replace(".bin", self.path.suffix) if self.kind == "bin" else KIND_TEXT[self.kind]
        lines = [f"model file : {rel_to_repo(self.path)}  ({kind_text})"]
        lines += [f"made       : {m}" for m in self.made]
        lines += [f"note       : {n}" for n in self.notes]
        return "\n".join(lines)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise HelpersError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend != "auto":
        if not runtime_module(backend):
            have = ", ".join(available_backends()) or "none"
            where = " (board runtimes exist only on an RDK board)" if backend in BOARD_BACKENDS else ""
            raise HelpersError(f"backend {backend!r} is not available here{where}; available: {have}; "
                               "use BACKEND = 'auto'")
    return backend


def resolve_model(key: str, board: str = "x5", backend: str = "auto", kind: str = "auto",
                  weights: str = "imagenet", model_file=None, make: bool = True, on_step=None) -> ModelChoice:
    """Decide which file to run and make it if needed (PC); ``on_step(text)`` is told as each file is made.

    ``kind``: ``auto`` (``bin`` when a board runtime is importable or ``backend`` names one, else
    ``board-onnx``), ``bin``, ``board-onnx`` or ``float-onnx``. ``model_file`` overrides the search.
    """
    spec = registry.get(key)
    registry.board(board)
    check_backend(backend)
    if kind not in MODEL_KINDS:
        raise HelpersError(f"unknown model kind {kind!r}; use one of: {', '.join(MODEL_KINDS)}")
    if model_file:
        path = Path(model_file).expanduser()
        if not path.exists():
            raise HelpersError(f"model file not found: {path}")
        meta_kind = "bin" if path.suffix.lower() in (".bin", ".hbm") else None
        if meta_kind is None:
            meta_kind = "board-onnx" if path.name == registry.get(key).board_onnx_for(board).name else "float-onnx"
        return ModelChoice(key, board, meta_kind, path, notes=[f"model file given: {path}"])
    if kind == "auto":
        kind = "bin" if (backend in BOARD_BACKENDS or (backend == "auto" and on_board())) else "board-onnx"
    if kind == "bin":
        if backend == "onnxruntime":
            raise HelpersError("a .bin runs on the board runtimes only; with BACKEND = 'onnxruntime' use "
                               "MODEL_KIND = 'board-onnx' (the NV12 board model) instead")
        if not on_board():
            raise HelpersError(f"{spec.bin_stem}{registry.board(board).suffix} needs an RDK board (no board runtime "
                               "is installed here: hbm_runtime, hobot_dnn, bpu_infer_lib); on a PC use "
                               "MODEL_KIND = 'auto' (the NV12 board-model ONNX)")
        for p in registry.get(key).bin_candidates(board):
            if p.exists():
                return ModelChoice(key, board, "bin", p)
        raise HelpersError(missing_bin_message(key, board))
    if backend in BOARD_BACKENDS:
        raise HelpersError(f"backend {backend!r} runs .bin files; {kind} files run on onnxruntime")
    from helpers.pc.make import Steps, ensure_board_onnx, ensure_float_onnx  # board-safe until a file is made

    made: List[str] = Steps(on_step)
    notes: List[str] = []
    if kind == "board-onnx":
        path = ensure_board_onnx(key, board, weights, made, notes) if make else registry.get(key).board_onnx_for(board)
    else:
        path = ensure_float_onnx(key, weights, made, notes) if make else registry.get(key).float_onnx_path
    return ModelChoice(key, board, kind, path, made, notes)


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------
@dataclass
class Result:
    """One image through the model."""

    source: str
    image: np.ndarray         # the full image, RGB
    prepared: Prepared        # resized RGB and the runtime feed
    logits: np.ndarray        # flat float32
    probs: np.ndarray         # class probabilities (Classifier.to_probs), float64
    top: List[Prediction]
    random: bool              # labels mean nothing
    seconds: float            # wall time of prepare + run

    def lines(self) -> List[str]:
        if self.random:
            head = ["top classes by probability (RANDOM WEIGHTS: indices only, they mean nothing)"]
            return head + [f"  class {p.index:4d}   p = {fmt_prob(p.prob)}" for p in self.top]
        return [f"  {p.prob * 100:6.2f}%  {p.label}  (class {p.index})" for p in self.top]

    def __str__(self) -> str:
        return "\n".join([f"{self.source}:"] + self.lines())


# ------------------------------------------------------------------------------------------------
# the notebook
# ------------------------------------------------------------------------------------------------
class InferenceDemo:
    """One test notebook's state: parameters, the chosen model file and the loaded classifier."""

    def __init__(self, key: str, board: str = "x5", image: Optional[ImageLike] = None, backend: str = "auto",
                 model_kind: str = "auto", weights: str = "imagenet", topk: int = 5, model_file=None):
        self.spec = registry.get(key)
        self.board = registry.board(board).key
        self.backend_request = check_backend(backend)
        if model_kind not in MODEL_KINDS:
            raise HelpersError(f"unknown MODEL_KIND {model_kind!r}; use one of: {', '.join(MODEL_KINDS)}")
        self.model_kind = model_kind
        self.weights = weights
        if int(topk) < 1:
            raise HelpersError(f"TOPK must be >= 1, got {topk}")
        self.topk = int(topk)
        self.model_file = model_file or None
        self.image = resolve_image(image)
        self.choice: Optional[ModelChoice] = None
        self.clf: Optional[Classifier] = None
        self._prepared: Optional[Prepared] = None

    # ---- 1. what runs where
    @property
    def key(self) -> str:
        return self.spec.key

    def about(self) -> "Markdown":
        """The model's registry entry as a few lines of markdown (paper, code, weights, input)."""
        s = self.spec
        h, w = s.input_size
        lines = [f"**{s.display}** (`{s.key}`): [{s.paper}]({s.paper_url}); code: <{s.code_url}>",
                 f"timm weights `{s.timm_id}`; deployed input {w}x{h} RGB, {s.num_classes} classes; "
                 f"other variants: {', '.join(k for k in registry.keys(s.arch) if k != s.key) or 'none'}"]
        for p in s.published:
            lines.append(f"published .bin for {registry.BOARDS[p.board].name}: `{p.bin_name}` ([source]({p.source}))"
                         + (f"; note: {p.note}" if p.note else ""))
        if s.notes:
            lines.append(f"note: {s.notes}")
        return Markdown("  \n".join(lines))

    def where(self) -> None:
        """Print what runs where: this machine, its backends, and which file runs on which runtime."""
        print(self.where_text())

    def where_text(self) -> str:
        runtimes = board_runtimes()
        dev = device_model()
        machine = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
        here = (f"an RDK board ({dev or 'device name unknown'}; runtimes: {', '.join(runtimes)})" if runtimes
                else "a PC (no board runtime is importable: hbm_runtime, hobot_dnn, bpu_infer_lib)")
        board = registry.board(self.board)
        lines = [
            f"this machine   : {machine}: {here}",
            f"backends here  : {', '.join(available_backends()) or 'none'}  (BACKEND = {self.backend_request!r})",
            f"on an RDK board: {self.spec.bin_stem}{board.suffix} on the BPU through "
            f"{' or '.join(board.runtimes)}; input NV12 uint8 ({board.nv12_inputs}), normalisation inside the model",
            f"on a PC        : {self.spec.board_onnx_for(self.board).name}, the NV12 board model built from "
            f"yaml/{self.spec.arch}/{self.key}_{self.board}.yaml, on onnxruntime: the same input contract",
            f"target board   : {board.name} (march {board.march}, {board.bpu})",
        ]
        if dev and runtimes and self.board.upper() not in dev.upper():
            lines.append(f"note           : BOARD = {self.board!r} but this device says {dev!r}; set BOARD to match")
        return "\n".join(lines)

    # ---- 2. load
    def load(self, announce: bool = True, on_step=None) -> Classifier:
        """Resolve (and on a PC make) the model file, load it, print what was done and its I/O.

        ``announce``: show the random-weights box here (False where the caller shows one for its output);
        ``on_step(text)``: told as each missing file is made (the widget's progress bar).
        """
        self.choice = resolve_model(self.key, self.board, self.backend_request, self.model_kind, self.weights,
                                    model_file=self.model_file, on_step=on_step)
        self.clf = Classifier(self.choice.path, key=self.key, backend=self.backend_request)
        if self.choice.path.suffix.lower() == ".onnx":  # a given file: its input decides what it is
            self.choice.kind = "board-onnx" if self.clf.kind == "nv12" else "float-onnx"
        self._prepared = None
        print(self.choice)
        print(self.io_text())
        if announce and self.random:
            show(self.banner())
        return self.clf

    def _need(self) -> Classifier:
        if self.clf is None:
            self.load()
        return self.clf

    @property
    def backend(self) -> str:
        """The backend that actually runs the model (after ``load``)."""
        return self._need().backend

    @property
    def output_is_probability(self) -> bool:
        """True when the model's output already is softmax probabilities (a published file the registry
        flags, e.g. the zoo's S-series MobileNetV1): the top-k takes it as it is, without a second softmax."""
        return self._need().output_is_probability

    @property
    def random(self) -> bool:
        """True when the outputs mean nothing: random weights in the file, or a .bin run with RDK_WEIGHTS=random."""
        clf = self._need()
        return clf.random_weights or (clf.weights == "unknown" and self.weights == "random")

    def banner(self) -> Optional[Banner]:
        """The random-weights banner, or None when the outputs are meaningful."""
        return random_banner(self._need().random_weights) if self.random else None

    def io_text(self) -> str:
        clf = self._need()
        lines = [f"backend    : {clf.backend}  (requested: {self.backend_request})"]
        lines += [f"input      : {t}" for t in clf.runtime.inputs]
        lines += [f"output     : {t}" for t in clf.runtime.outputs]
        lines.append(f"weights    : {clf.weights}"
                     + ("  (a board .bin/.hbm carries no metadata)" if clf.weights == "unknown" else ""))
        if clf.kind == "nv12":
            lines.append(f"NV12 range : {clf.yuv_range} (yaml input_space_and_range: "
                         f"{nv12mod.YAML_SPACE_AND_RANGE[clf.yuv_range]})")
        elif clf.kind == "float":
            lines.append(f"normalise  : (x/255 - mean) / std on the CPU, mean {tuple(clf.mean)}, std {tuple(clf.std)}")
        return "\n".join(lines)

    # ---- 3. the image and its NV12
    def prepared(self) -> Prepared:
        if self._prepared is None:
            self._prepared = self._need().prepare(self.image)
        return self._prepared

    def nv12_of(self, prepared: Optional[Prepared] = None) -> np.ndarray:
        """The NV12 bytes the board gets for the image (computed even when the model takes float RGB)."""
        p = prepared or self.prepared()
        if self._need().kind == "nv12":
            return np.asarray(p.feed).reshape(-1)
        clf = self._need()
        return nv12mod.prepare_nv12(p.source, clf.size, clf.yuv_range)

    def nv12_summary(self) -> str:
        """Deterministic text: the NV12 layout for this model's input size and range."""
        clf = self._need()
        h, w = clf.size
        n = self.nv12_of()
        y, uv = nv12mod.split_nv12(n, h, w)
        yr = nv12mod.YAML_SPACE_AND_RANGE[clf.yuv_range]
        return "\n".join([
            f"board input : {w}x{h} NV12, {n.size} bytes = W*H*3/2, uint8, flat",
            f"Y plane     : {y.shape[1]}x{y.shape[0]} = {y.size} bytes (luma, one byte per pixel)",
            f"UV plane    : {uv.shape[1]}x{uv.shape[0]} pairs = {uv.size} bytes (U,V interleaved, one pair per 2x2 pixels)",
            f"range       : {clf.yuv_range} (yaml input_space_and_range: {yr}), BT.601",
        ])

    def nv12_figure(self):
        """Figure (no pyplot: :func:`~helpers.notebooks.display.new_figure`): the model-size RGB, the Y plane,
        the UV plane and the RGB decoded back from NV12."""
        clf, p = self._need(), self.prepared()
        h, w = clf.size
        n = self.nv12_of(p)
        y, uv = nv12mod.split_nv12(n, h, w)
        back = nv12mod.nv12_to_rgb(n, h, w, clf.yuv_range)
        fig = new_figure((14, 3.8))
        axes = fig.subplots(1, 4)
        panels = [(p.rgb, f"resized RGB {w}x{h}", None), (y, f"Y plane {w}x{h}", (0, 255)),
                  (np.hstack([uv[:, :, 0], uv[:, :, 1]]), f"U | V, {w // 2}x{h // 2} each (contrast stretched;\n"
                   "stored interleaved U,V,U,V...)", "auto"),
                  (back, "decoded back from NV12", None)]
        for ax, (img, title, scale) in zip(axes, panels):
            if scale is None:
                ax.imshow(img)
            else:
                ax.imshow(img, cmap="gray", vmin=None if scale == "auto" else scale[0],
                          vmax=None if scale == "auto" else scale[1])
            ax.set_title(title, fontsize=10)
            ax.axis("off")
        fig.suptitle(f"What the board gets: {n.size} bytes of NV12 ({clf.yuv_range} range)", fontsize=11)
        fig.tight_layout()
        return fig

    def show_nv12(self) -> None:
        show_figure(self.nv12_figure())

    # ---- 4. run
    def predict(self, image: Optional[ImageLike] = None, name: Optional[str] = None) -> Result:
        """Top-k for ``image`` (default: the IMAGE parameter); paths, bytes, PIL images or arrays.

        ``name``: what the result is called (default: the file name; give it for bytes, e.g. an upload).
        """
        clf = self._need()
        src = self.image if image is None else resolve_image(image)
        t0 = time.perf_counter()
        rgb = load_image(src)
        prep = clf.prepare(rgb)
        logits = clf.run(prep.feed)
        seconds = time.perf_counter() - t0
        if image is None:
            self._prepared = prep
        if name is None:
            name = Path(src).name if isinstance(src, (str, os.PathLike)) else f"<{type(src).__name__}>"
        return Result(name, rgb, prep, logits, clf.to_probs(logits),
                      topk(logits, self.topk, clf.labels, probabilities=clf.output_is_probability),
                      self.random, seconds)

    def prediction_figure(self, result: Result):
        """Figure, 12 x 4 in at 90 dpi (no pyplot: :func:`~helpers.notebooks.display.new_figure`): the image and
        a bar chart of the top-k (class indices only with random weights)."""
        fig = new_figure((12, 4))
        ax_img, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        ax_img.imshow(result.image)
        ax_img.set_title(result.source, fontsize=10)
        ax_img.axis("off")
        top = list(reversed(result.top))
        probs = [p.prob for p in top]
        if result.random:
            names = [f"class {p.index}" for p in top]
            colour, xlabel = "#999999", "probability (random weights: meaningless)"
        else:
            names = [f"{p.label[:38]} ({p.index})" for p in top]
            colour, xlabel = "#1f77b4", "probability"
        ax_bar.barh(range(len(top)), probs, color=colour)
        ax_bar.set_yticks(range(len(top)))
        ax_bar.set_yticklabels(names, fontsize=9)
        ax_bar.set_xlim(0, max(1e-9, max(probs)) * 1.3)  # room for the value labels inside the axes
        ax_bar.set_xlabel(xlabel)
        for i, v in enumerate(probs):
            ax_bar.text(v, i, f" {fmt_prob(v)}", va="center", fontsize=8, clip_on=True)
        title = f"{self.spec.display} on {self._need().backend}, top-{len(top)}"
        if result.random:
            title = "RANDOM WEIGHTS - not a prediction. " + title
        fig.suptitle(title, color="#b00020" if result.random else "black", fontsize=11)
        fig.tight_layout()
        return fig

    def show_prediction(self, result: Result) -> None:
        """The random-weights box (once), the top-k text and the figure, as a PNG of exactly 1080 x 360 px
        (:func:`~helpers.notebooks.display.show_figure`), in a cell and in a widget callback alike."""
        if result.random:
            show(self.banner())
        print(result)
        show_figure(self.prediction_figure(result))

    # ---- 5. NV12 path vs RGB path
    def compare_paths(self, image: Optional[ImageLike] = None) -> Agreement:
        """Board (NV12) path vs float RGB path, on a PC; skipped on a board (no float ONNX there).

        The checks and why they are scale-free: :mod:`helpers.board.agreement`. How the thresholds were
        chosen: we ran them on the five photos in data/ with the random-weight exports of mobileone_s0,
        mobilenetv1_100, mobilenetv3_large_100 and mobilenetv4_conv_small. Correct paths gave contract
        errors of 8e-7 to 2e-5 (feeding limited-range NV12 to a full-range model moves the logits by
        20-90 % relative L2), PSNR 39-47 dB (grayscale photos: identical) and logit correlations
        0.967-1.0 (relative L2 up to 26 %, top-1 different in 7 of 20 cases: hence not the criterion).
        Swapping U and V gave 8-17 dB on the colourful photos and correlations down to 0.44.
        """
        clf = self._need()
        if self.choice is not None and self.choice.kind == "bin":
            return Agreement(skipped="on the board there is no float ONNX; the PC run of this notebook checks "
                                     "the NV12 contract; the accuracy of the quantised .bin is the evaluation's job")
        if clf.kind not in ("nv12", "float"):
            return Agreement(skipped=f"model input is {clf.kind}, not NV12")
        from helpers.pc.make import ensure_board_onnx, ensure_float_onnx, stale_reason

        made: List[str] = []
        notes: List[str] = []
        if clf.kind == "nv12":
            b = clf
            f = Classifier(ensure_float_onnx(self.key, self.weights, made, notes), key=self.key)
        else:
            f = clf
            b = Classifier(ensure_board_onnx(self.key, self.board, self.weights, made, notes), key=self.key)
        for m in made:
            print(f"made       : {m}")
        rgb = b.prepare(self.image if image is None else resolve_image(image)).rgb
        spec = registry.get(self.key)
        stale = stale_reason(self.key, self.board) if b.runtime.path == spec.board_onnx_for(self.board) else None
        return agreement.compare(b, f, rgb, hint=stale)

    # ---- 6. latency and FPS
    def benchmark(self, threads: Optional[Sequence[int]] = None, seconds: Optional[float] = None):
        """helpers.board.bench on the loaded file and backend, with this image's feed; a table in the zoo's format.

        Also the end-to-end rate on this image (decode -> prepare -> run -> top-5), serially and with
        ``threads`` workers (:func:`helpers.board.bench.stream_rows`). Workers are processes on a board
        runtime (hobot_dnn holds the GIL during the BPU call, so threads would take turns), threads on
        onnxruntime. On a board where ``hrt_model_exec`` exists, the vendor's ``perf`` row is run and shown
        beside ours (:mod:`helpers.board.hrt`); elsewhere the notes give its command.
        """
        from helpers.board import bench, hrt

        clf = self._need()
        if threads is None:
            threads = (1, 2, 4, 8) if self.choice is not None and self.choice.kind == "bin" else (1, 2, 4)
        if seconds is None:
            seconds = float(os.environ.get(BENCH_SECONDS_ENV, DEFAULT_BENCH_SECONDS))
        result = bench.benchmark(clf, threads=threads, seconds=seconds, feed=self.prepared().feed, key=self.key,
                                 images=[self.image])
        try:
            result.vendor = hrt.maybe_run(clf.runtime.path, result.multi.threads)
        except HelpersError as e:  # the vendor tool failing does not void our figures
            print(f"hrt_model_exec: {e}")
        return BenchReport(result, self.spec.published_for(self.board))

    def board_model_file(self) -> Path:
        """The file the vendor cells load: the ``.bin`` on a board; on a PC its stand-in, the NV12 board model
        (made if missing, e.g. when ``MODEL_KIND = 'float-onnx'`` runs the float ONNX elsewhere)."""
        self._need()
        if self.choice.kind in ("bin", "board-onnx"):
            return self.choice.path
        from helpers.pc.make import ensure_board_onnx

        made: List[str] = []
        path = ensure_board_onnx(self.key, self.board, self.weights, made, [])
        for m in made:
            print(f"made       : {m}")
        return path

    def switch_model(self, key: str, announce: bool = True, on_step=None) -> Classifier:
        """Load another registry key (same board, backend, kind, weights); the file is made if needed."""
        self.spec, self.model_file = registry.get(key), None  # a given MODEL_FILE belongs to the old key
        self.choice, self.clf, self._prepared = None, None, None
        return self.load(announce=announce, on_step=on_step)

    # ---- 7. widgets
    def interactive(self):
        """Model and image pickers plus an upload box; each change re-runs the prediction.

        Returns the widget box (see :func:`helpers.notebooks.widgets.interactive`).
        """
        from helpers.notebooks.widgets import interactive

        return interactive(self)


class Markdown:
    """Markdown in a notebook, the raw text elsewhere."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


@dataclass
class BenchReport:
    """A benchmark result shown as the model zoo's table plus the details and how it was measured."""

    result: object
    published: Optional[registry.Published] = None

    def _repr_markdown_(self) -> str:
        return self.result.markdown(self.published)

    def __str__(self) -> str:
        return self.result.markdown(self.published)

    __repr__ = __str__
