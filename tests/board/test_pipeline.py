"""helpers.board.pipeline: order, overlap of prepare with run (shown with events, not timings), throughput rows."""
import random
import threading
import time

import numpy as np
import pytest

from helpers.board import pipeline
from helpers.board.classifier import Prepared
from helpers.errors import HelpersError


class FakeClassifier:
    """prepare() records its thread; run() of frame i waits for prepare(i + 1) to have started."""

    labels = ["zero", "one", "two", "three"]

    def __init__(self, n, need_overlap=True):
        self.started = [threading.Event() for _ in range(n + 1)]
        self.prepare_threads, self.run_threads, self.overlapped = set(), set(), []
        self.need_overlap = need_overlap

    def prepare(self, i):
        self.started[i].set()
        self.prepare_threads.add(threading.current_thread().name)
        time.sleep(random.random() * 0.002)
        return Prepared(np.zeros(1), np.array([i], np.int64))

    def run(self, feed):
        i = int(feed[0])
        self.run_threads.add(threading.current_thread().name)
        if self.need_overlap and i + 1 < len(self.started) - 1:
            self.overlapped.append(self.started[i + 1].wait(timeout=5))
        logits = np.zeros(4, np.float32)
        logits[i % 4] = 1
        return logits


def test_classify_stream_keeps_order_and_prepares_ahead():
    n = 12
    clf = FakeClassifier(n)
    tops = [p[0].label for p in pipeline.classify_stream(clf, range(n), workers=2, k=1)]
    assert tops == [FakeClassifier.labels[i % 4] for i in range(n)]
    assert all(clf.overlapped) and len(clf.overlapped) == n - 1   # frame i+1 was being prepared during run(i)
    assert all(t.startswith("prepare") for t in clf.prepare_threads)
    assert clf.run_threads == {threading.current_thread().name}


def test_serial_stream_runs_everything_in_one_thread():
    clf = FakeClassifier(5, need_overlap=False)
    assert len(list(pipeline.classify_stream(clf, range(5), workers=0))) == 5
    assert clf.prepare_threads == clf.run_threads == {threading.current_thread().name}


def test_prefetch_keeps_order_and_runs_ahead():
    seen = []

    def slow(i):
        time.sleep(random.random() * 0.005)
        seen.append(threading.current_thread().name)
        return i * i

    assert list(pipeline.prefetch(slow, range(30), workers=3)) == [i * i for i in range(30)]
    assert all(n.startswith("prepare") for n in seen)


def test_prefetch_surfaces_worker_errors():
    def boom(i):
        if i == 3:
            raise HelpersError("frame 3 is corrupt")
        return i

    with pytest.raises(HelpersError, match="frame 3"):
        list(pipeline.prefetch(boom, range(10), workers=2))


def test_throughput_counts_every_source_at_least_once():
    clf = FakeClassifier(100, need_overlap=False)
    row = pipeline.throughput(clf, [0, 1, 2], workers=2, seconds=0.0)
    assert row.frames >= 3 and row.workers == 2 and row.fps > 0 and row.label == "2 prepare threads"
    assert pipeline.throughput(clf, [0], workers=0, seconds=0.0).label == "serial"
    with pytest.raises(HelpersError, match="no images"):
        pipeline.throughput(clf, [], workers=1, seconds=0.1)


def test_classifier_nv12_feed_from_a_camera_frame(tmp_path):
    """An NV12 frame goes to an NV12 model resized plane by plane; a float model gets RGB from it."""
    import sys
    from pathlib import Path

    import cv2
    from testkit import smooth_image, tiny_onnx

    from helpers.board import nv12
    from helpers.board.classifier import Classifier
    from helpers.board.image import board_resize

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_board"))
    import fake_models

    sys.path.pop(0)
    clf = Classifier(fake_models.tiny_nv12_model(tmp_path / "m.onnx", yuv_range="full"), key="mobileone_s0")
    rgb = cv2.resize(smooth_image(), (640, 480), interpolation=cv2.INTER_LINEAR)
    frame = nv12.rgb_to_nv12(rgb, "limited")  # a camera in video range, the model in full range
    feed = clf.nv12_feed(frame, 480, 640, frame_range="limited")
    assert np.array_equal(feed, nv12.resize_nv12(frame, 480, 640, (224, 224), "limited", "full"))
    prepared = clf.prepare(rgb)
    via_rgb = prepared.feed
    assert np.abs(feed[: 224 * 224].astype(int) - via_rgb[: 224 * 224]).mean() < 1.0
    # an NV12 model's feed is the board path from the frame as loaded; its resized RGB only when asked
    assert np.array_equal(via_rgb, nv12.prepare_nv12(rgb, (224, 224), "full"))
    assert prepared.resized is None and np.array_equal(prepared.rgb, board_resize(rgb, (224, 224)))
    tiny_onnx(tmp_path / "f.onnx", h=64, w=64)
    flt = Classifier(tmp_path / "f.onnx")
    x = flt.nv12_feed(nv12.rgb_to_nv12(rgb, "full"), 480, 640)
    assert x.shape == (1, 3, 64, 64) and np.abs(x - flt.prepare(board_resize(rgb, (64, 64))).feed).mean() < 0.05
