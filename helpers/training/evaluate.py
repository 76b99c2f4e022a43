"""Top-1/top-5 accuracy and speed of any model file on a labelled image set.

``python -m helpers eval MODEL_FILE --data DIR [--json OUT]``, one code path for every backend:

* ``.safetensors`` written by ``train`` (PyTorch, eager, CPU or GPU);
* ``.onnx``: the float export, the NV12 board model, or the INT8 model from ``quantize``
  (onnxruntime, through :class:`helpers.board.classifier.Classifier`);
* ``.bin`` on an RDK board (hobot_dnn / bpu_infer_lib, through the same Classifier).

Preprocessing is the same for all of them: :func:`helpers.board.image.board_resize` (OpenCV stretch of
the whole frame to the model's input) and then what the model's input declares: mean/std for a
float input, NV12 in the model's YUV range for a board model or ``.bin`` (built by
:func:`helpers.board.nv12.prepare_nv12`, the same geometry and anti-aliasing, its last bilinear step
on the NV12 planes). That is what the board
pipeline and the calibration data do, so rows for the same network differ only by how the
network is represented (float, NV12 front end, INT8), never by preprocessing. (It is not timm's
resize-and-centre-crop, so ImageNet numbers can differ slightly from timm's published ones.)

Decoding and resizing run in a thread pool that keeps a queue of prepared inputs ahead of the
model (OpenCV and Pillow release the GIL), so the model is the bottleneck. Batch 1, as on the
board. ``images/s`` is the end-to-end rate of the loop; ``latency`` is the median time of the
model call alone.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.meta import META_QUANT, labels_from_metadata
from helpers.board.files import atomic_write_text, rel_to_repo
from helpers.board.pipeline import prefetch


KIND_TORCH = "PyTorch checkpoint"
KIND_FLOAT = "ONNX float"
KIND_NV12 = "ONNX board model (NV12)"
KIND_INT8 = "ONNX INT8 (QDQ)"
KIND_BIN = "board .bin"


# ------------------------------------------------------------------------------------------------
# runners: prepare(path) -> feed (thread-safe), run(feed) -> logits
# ------------------------------------------------------------------------------------------------
class Runner:
    kind = "?"
    backend = "?"
    weights = "?"
    labels: Optional[List[str]] = None
    num_outputs = 0
    threads: Optional[int] = None

    def prepare(self, path) -> np.ndarray:
        raise NotImplementedError

    def run(self, feed: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ClassifierRunner(Runner):
    """.onnx (float / NV12 board model / INT8) and .bin, through helpers.board.classifier."""

    def __init__(self, path: Path, key: Optional[str] = None, backend: str = "auto",
                 threads: Optional[int] = None, labels: Optional[Sequence[str]] = None):
        from helpers.board.classifier import Classifier

        self.clf = Classifier(path, key=key, backend=backend, threads=threads, labels=labels)
        meta = self.clf.runtime.metadata
        self.backend = self.clf.backend
        self.weights = self.clf.weights
        # the model's own class names only (Classifier falls back to ImageNet descriptions for
        # 1000 outputs; matching an ImageNet val layout goes by synset instead)
        self.labels = list(labels) if labels is not None else labels_from_metadata(meta)
        self.num_outputs = self.clf._num_outputs()
        self.size = tuple(self.clf.size)
        self.threads = threads
        if path.suffix.lower() == ".bin":
            self.kind = KIND_BIN
        elif self.clf.kind == "nv12":
            self.kind = KIND_NV12
        elif self.clf.kind in ("rgb", "bgr"):
            self.kind = f"ONNX board model ({self.clf.kind.upper()})"
        elif meta.get(META_QUANT):
            self.kind = KIND_INT8
        else:
            self.kind = KIND_FLOAT
        self.key = self.clf.spec.key if self.clf.spec else None

    def prepare(self, path) -> np.ndarray:
        return self.clf.prepare(path).feed

    def run(self, feed: np.ndarray) -> np.ndarray:
        return self.clf.run(feed)


class TorchRunner(Runner):
    """A ``train`` checkpoint (.safetensors) in PyTorch eager mode."""

    kind = KIND_TORCH

    def __init__(self, path: Path, key: Optional[str] = None, threads: Optional[int] = None):
        import torch

        from helpers.training.train import load_trained_model

        self.torch = torch
        self.model, info = load_trained_model(path, expect_key=key)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        spec = registry.get(info.key)
        self.key = info.key
        self.mean, self.std = spec.mean, spec.std
        self.size = (info.img_size, info.img_size) if info.img_size else tuple(spec.input_size)
        self.labels = list(info.classes) or None
        self.num_outputs = len(info.classes) if info.classes else spec.num_classes
        self.backend = f"torch {torch.__version__.split('+')[0]} ({self.device})"
        self.weights = path.name
        self.threads = threads
        if threads:
            torch.set_num_threads(int(threads))

    def prepare(self, path) -> np.ndarray:
        from helpers.board.image import deployed_input

        return deployed_input(path, self.size, self.mean, self.std)

    def run(self, feed: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            out = self.model(self.torch.from_numpy(feed).to(self.device))
        return out.float().cpu().numpy().reshape(-1)


def open_runner(model_file, key: Optional[str] = None, backend: str = "auto", threads: Optional[int] = None,
                labels: Optional[Sequence[str]] = None) -> Runner:
    path = Path(model_file)
    if not path.exists():
        raise HelpersError(f"model file not found: {path}")
    if path.suffix.lower() == ".safetensors":
        if backend not in ("auto", "torch"):
            raise HelpersError(f"{path.name} is a PyTorch checkpoint; backend {backend!r} runs .onnx/.bin files")
        return TorchRunner(path, key=key, threads=threads)
    if path.suffix.lower() not in (".onnx", ".bin"):
        raise HelpersError(f"{path.name}: give a .safetensors checkpoint (from train), an .onnx or a .bin")
    return ClassifierRunner(path, key=key, backend=backend, threads=threads, labels=labels)


def labels_from_file(path) -> List[str]:
    """Class names from a model file (ONNX metadata, train checkpoint) or a text file (one per line)."""
    path = Path(path)
    if not path.exists():
        raise HelpersError(f"class-names file not found: {path}")
    if path.suffix.lower() == ".safetensors":
        from helpers.training.train import read_checkpoint_info

        return read_checkpoint_info(path).classes
    if path.suffix.lower() == ".onnx":
        from helpers.board.runtime import open_model
        from helpers.board.meta import labels_from_metadata

        names = labels_from_metadata(open_model(path).metadata)
        if not names:
            raise HelpersError(f"{path.name} carries no class names (rdk.labels)")
        return names
    from helpers.board.safe_read import read_text

    return [ln.strip() for ln in read_text(path, "class-names file (one name per line)", 16 << 20).splitlines()
            if ln.strip()]


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------
@dataclass
class EvalResult:
    stage: str                 # what this row is (defaults to the backend kind)
    model: str                 # file name
    path: str
    kind: str
    backend: str
    weights: str
    key: Optional[str]
    dataset: str
    images: int
    top1: float
    top5: float
    images_per_s: float        # end-to-end loop rate (decode overlapped)
    latency_ms: float          # median model call
    latency_mean_ms: float
    seconds: float
    input_size: List[int]
    threads: Optional[int]
    class_match: str
    size_mb: float = 0.0
    preds: List[int] = field(default_factory=list, repr=False)   # top-1 index per image, in order
    extra: Dict = field(default_factory=dict)

    def agreement(self, other: "EvalResult") -> float:
        """% of images on which this model and ``other`` (same images) predict the same class."""
        if len(self.preds) != len(other.preds) or not self.preds:
            raise HelpersError("agreement needs two evaluations of the same images")
        return 100.0 * float(np.mean(np.asarray(self.preds) == np.asarray(other.preds)))

    def row(self) -> Dict:
        """The fields the README tables know (helpers.docs.readme.FIELDS)."""
        return {"stage": self.stage, "model": self.model, "backend": self.backend, "weights": self.weights,
                "images": self.images, "top1": round(self.top1, 2), "top5": round(self.top5, 2),
                "images_per_s": round(self.images_per_s, 1), "latency_ms": round(self.latency_ms, 3),
                "size_mb": round(self.size_mb, 2)}

    def to_json(self, preds: bool = False) -> Dict:
        d = asdict(self)
        if not preds:
            d.pop("preds")
        return d

    def summary(self) -> str:
        rnd = "  (RANDOM weights: accuracy meaningless)" if self.weights == "random" else ""
        return (f"{self.model} [{self.kind}, {self.backend}]: top-1 {self.top1:.2f} %, top-5 {self.top5:.2f} % on "
                f"{self.images} images of {self.dataset}; {self.images_per_s:.1f} images/s, "
                f"{self.latency_ms:.2f} ms/image (median model call){rnd}")


def evaluate(model_file, data, labels_file=None, key: Optional[str] = None, backend: str = "auto",
             threads: Optional[int] = None, workers: Optional[int] = None, limit: Optional[int] = None,
             stage: Optional[str] = None, class_names: Optional[Sequence[str]] = None, split: str = "val",
             progress: bool = True) -> EvalResult:
    """Evaluate ``model_file`` on ``data`` (its ``val/`` split when present); see the module doc."""
    from tqdm.auto import tqdm

    from helpers.training.datasets import load_split, model_targets

    images = load_split(data, split, labels_file=labels_file)
    runner = open_runner(model_file, key=key, backend=backend, threads=threads, labels=class_names)
    targets, how = model_targets(images, runner.labels, runner.num_outputs)
    idx = np.arange(len(images))
    if limit is not None:
        if limit < 1:
            raise HelpersError(f"--limit must be at least 1, got {limit}")
        if limit < len(images):  # evenly spread: every class folder stays represented
            idx = np.unique(np.linspace(0, len(images) - 1, limit).round().astype(int))
    paths = [images.paths[i] for i in idx]
    targets = targets[idx]
    k = min(5, runner.num_outputs)
    workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
    runner.run(runner.prepare(paths[0]))  # warm-up: first-call allocation is not a per-image cost
    times = np.empty(len(paths))
    preds = np.empty(len(paths), np.int64)
    hit1 = hit5 = 0
    started = time.perf_counter()
    bar = tqdm(total=len(paths), desc=f"eval {Path(model_file).name}", unit="img", disable=not progress, leave=False)
    for i, feed in enumerate(prefetch(runner.prepare, paths, workers=workers)):
        t0 = time.perf_counter()
        logits = runner.run(feed)
        times[i] = time.perf_counter() - t0
        top = np.argsort(-logits, kind="stable")[:k]
        preds[i] = top[0]
        hit1 += int(top[0] == targets[i])
        hit5 += int(targets[i] in top)
        bar.update(1)
        if (i + 1) % 50 == 0:
            bar.set_postfix(top1=f"{100.0 * hit1 / (i + 1):.1f}")
    bar.close()
    seconds = time.perf_counter() - started
    n = len(paths)
    path = Path(model_file)
    return EvalResult(stage=stage or runner.kind, model=path.name, path=rel_to_repo(path), kind=runner.kind,
                      backend=runner.backend, weights=runner.weights, key=runner.key,
                      dataset=images.describe(), images=n, top1=100.0 * hit1 / n, top5=100.0 * hit5 / n,
                      images_per_s=n / seconds, latency_ms=1000.0 * float(np.median(times)),
                      latency_mean_ms=1000.0 * float(times.mean()), seconds=seconds,
                      input_size=[int(v) for v in runner.size], threads=threads, class_match=how,
                      size_mb=path.stat().st_size / 1e6, preds=preds.tolist())


def write_json(results, out, overwrite: bool = False) -> Path:
    items = results if isinstance(results, (list, tuple)) else [results]
    doc = [r.to_json() for r in items]
    return atomic_write_text(out, json.dumps(doc if len(doc) > 1 else doc[0], indent=1, default=str) + "\n",
                             overwrite=overwrite)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def cmd_eval(args) -> int:
    from helpers.board.checks import in_range
    from helpers.board.files import check_writable_target
    from helpers.training.datasets import DIGITS_DIR

    in_range("--threads", args.threads, 1, 256, integer=True)
    in_range("--workers", args.workers, 1, 64, integer=True)
    in_range("--limit", args.limit, 1, None, integer=True)
    if args.json:
        check_writable_target(args.json, args.overwrite)  # before the evaluation, not after it
    names = labels_from_file(args.class_names) if args.class_names else None
    res = evaluate(args.model, args.data or DIGITS_DIR, labels_file=args.labels, key=args.key, backend=args.backend,
                   threads=args.threads, workers=args.workers, limit=args.limit, class_names=names)
    print(res.summary())
    if args.json:
        print(f"wrote {rel_to_repo(write_json(res, args.json, overwrite=args.overwrite))}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="top-1/top-5 and images/s of a checkpoint, .onnx (float/NV12/INT8) or .bin",
                       description="Evaluate a model file on a labelled image set (ImageFolder, ImageNet val "
                                   "synset folders, or a flat folder with --labels FILE).")
    p.add_argument("model", help=".safetensors (from train), .onnx (float, NV12 board model, INT8) or .bin (board)")
    p.add_argument("--data", help="dataset root (its val/ is used when present) or an ImageFolder (default: data/digits)")
    p.add_argument("--labels", help="labels file for a flat image folder: '<image> <index|synset>' lines, or LOC_val_solution.csv")
    p.add_argument("--key", help="registry key (needed for a .bin; other files carry it)")
    p.add_argument("--class-names", help="class names for a .bin: its ONNX / checkpoint, or a text file (one per line)")
    p.add_argument("--backend", default="auto", help="auto, onnxruntime, hobot_dnn or bpu_infer_lib")
    p.add_argument("--threads", type=int, help="inference threads (default: the runtime's)")
    p.add_argument("--workers", type=int, help="decoding threads (default: half the cores, 1..4)")
    p.add_argument("--limit", type=int, help="evaluate this many images, spread evenly over the set")
    p.add_argument("--json", help="write the result as JSON to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.set_defaults(func=cmd_eval)
