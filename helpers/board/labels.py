"""ImageNet-1k class names, softmax and top-k. Board-safe (numpy only).

``imagenet1k_labels.txt`` holds one ``synset<TAB>description`` line per class index. It was
generated from timm's own class info by :func:`labels_from_timm`; a test checks it still matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from helpers.errors import HelpersError

LABELS_FILE = Path(__file__).with_name("imagenet1k_labels.txt")


@lru_cache(maxsize=1)
def imagenet_synsets_and_labels() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    rows = [line.split("\t", 1) for line in LABELS_FILE.read_text(encoding="utf-8").splitlines()]
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def imagenet_labels() -> Tuple[str, ...]:
    """The 1000 ImageNet-1k descriptions, by class index."""
    return imagenet_synsets_and_labels()[1]


def labels_from_timm() -> List[str]:
    """Regenerate the label file's lines from timm (PC only)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [f"{info.index_to_label_name(i)}\t{info.index_to_description(i)}" for i in range(info.num_classes())]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float64 (large logits do not overflow)."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    prob: float

    def __str__(self) -> str:
        return f"{self.prob * 100:6.2f}%  {self.index:4d}  {self.label}"


def topk(logits: np.ndarray, k: int = 5, labels: Optional[Sequence[str]] = None,
         probabilities: bool = False) -> List[Prediction]:
    """Top-``k`` classes of one logit vector (any shape with N elements, e.g. 1xNx1x1); ``probabilities``:
    the vector already is softmax output (a model ending in softmax), so it is not softmaxed again."""
    flat = np.asarray(logits).reshape(-1)
    if flat.size == 0:
        raise HelpersError("the model returned an empty output")
    if labels is None and flat.size == 1000:
        labels = imagenet_labels()
    if labels is not None and len(labels) != flat.size:
        raise HelpersError(f"the model has {flat.size} classes but {len(labels)} labels were given")
    if k < 1:
        raise HelpersError(f"top-k needs k >= 1, got {k}")
    probs = np.asarray(flat, dtype=np.float64) if probabilities else softmax(flat)
    k = min(k, flat.size)
    idx = np.argsort(-probs, kind="stable")[:k]
    return [Prediction(int(i), labels[i] if labels is not None else f"class {i}", float(probs[i])) for i in idx]
