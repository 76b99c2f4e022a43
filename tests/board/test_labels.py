"""helpers.board.labels: the ImageNet-1k names match timm's, softmax and top-k."""

import numpy as np
import pytest

from helpers.board.labels import imagenet_labels, softmax, topk
from helpers.errors import HelpersError


def test_labels_file_matches_timm():
    from helpers.board.labels import LABELS_FILE, labels_from_timm

    assert LABELS_FILE.read_text(encoding="utf-8").splitlines() == labels_from_timm()
    assert len(imagenet_labels()) == 1000


def test_softmax_stable_and_topk():
    logits = np.array([1e4, 1e4 - 1, -1e4, 0.0])
    p = softmax(logits)
    assert np.isfinite(p).all() and np.isclose(p.sum(), 1.0)
    assert np.isclose(p[0] / p[1], np.e)
    top = topk(logits, 2, labels=list("abcd"))
    assert [t.label for t in top] == ["a", "b"]
    imagenet = np.zeros(1000)
    imagenet[281] = 10
    assert topk(imagenet, 1)[0].label.startswith("tabby")
    with pytest.raises(HelpersError):
        topk(np.zeros(3), 1, labels=["a"])
