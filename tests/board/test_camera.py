"""helpers.board.camera: the scaler rules, the MIPI camera on the recorded fake, video files, bad input."""
import importlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers.board import camera
from helpers.errors import HelpersError

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
sys.path.insert(0, str(FAKE_DIR))
import fake_models  # noqa: E402

sys.path.pop(0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return fake_models.tiny_nv12_model(tmp_path_factory.mktemp("cam") / "tiny.onnx", key="mobilenetv4_conv_small")


@pytest.fixture
def clf(tiny):
    from helpers.board.classifier import Classifier

    return Classifier(tiny)


@pytest.fixture
def fake_vio(monkeypatch):
    """The recorded-surface camera fake as hobot_vio_rdkx5.libsrcampy."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    for m in [m for m in sys.modules if m.split(".")[0] == "hobot_vio_rdkx5"]:
        monkeypatch.delitem(sys.modules, m)
    yield importlib.import_module("hobot_vio_rdkx5.libsrcampy")
    for m in [m for m in sys.modules if m.split(".")[0] == "hobot_vio_rdkx5"]:
        sys.modules.pop(m)


# expected channels worked out by hand from the vendor's SelectVseChn (sensor 1920x1080)
@pytest.mark.parametrize("out,taken,expected", [
    ((224, 224), (), 0),            # both sides smaller: the big downscaler
    ((1920, 1080), (), 0),          # same size
    ((224, 224), (0,), 1),          # ch 0 taken: the next downscaler that fits
    ((1280, 720), (0, 1, 2), 3),
    ((1600, 900), (0, 1, 2), None),   # ch 3, 4 stop at 1280x720; ch 5 only scales up
    ((1920, 1080), (0, 1, 2), 5),     # the same size counts as "up" for ch 5
    ((2560, 1440), (), 5),          # both larger: the upscaler
    ((2000, 1000), (), None),       # wider but shorter: no channel does that
    ((5000, 4000), (), None),       # beyond the upscaler's 4096x3076
])
def test_x5_scaler_channels(out, taken, expected):
    if expected is None:
        with pytest.raises(HelpersError, match="X5 scaler cannot make") as e:
            camera.x5_scaler_channel((1920, 1080), out, taken)
        assert "\n" not in str(e.value) and "4096x3076 (ch 0), 1920x1080 (ch 1, 2), 1280x720 (ch 3, 4)" in str(e.value)
    else:
        assert camera.x5_scaler_channel((1920, 1080), out, taken) == expected


def test_x3_scaler_range():
    camera.x3_scaler_check((1920, 1080), (240, 136))
    camera.x3_scaler_check((1920, 1080), (2880, 1620))
    for bad in ((200, 120), (2882, 1080)):
        with pytest.raises(HelpersError, match="1/8 to 1.5"):
            camera.x3_scaler_check((1920, 1080), bad)
    with pytest.raises(HelpersError, match="even"):
        camera.check_scaler("hobot_vio.libsrcampy", (1920, 1080), (225, 224))


def test_mipi_camera_frames_go_to_the_model_as_they_are(fake_vio, clf):
    with camera.open_source("mipi", size=clf.size) as cam:
        assert cam.module == "hobot_vio_rdkx5.libsrcampy" and "cam.open_cam(0, -1, 30, [224], [224])" in cam.calls
        assert "if img is None:" in cam.calls   # the vendor returns None when no frame is ready
        frame = cam.read()
        assert (frame.kind, frame.width, frame.height, frame.data.size) == ("nv12", 224, 224, 224 * 224 * 3 // 2)
        assert camera.frame_feed(clf, frame) is frame.data  # no CPU resize, no conversion
        r = camera.classify_live(clf, cam, frames=5)
    assert r.frames == 5 and r.scaler and len(r.top) == 1
    assert all(len(r.steps[s]) == 5 for s in r.STEPS) and r.fps > 0
    assert "capture" in r.table() and "post-process" in r.table()
    assert np.array_equal(r.last.rgb().shape, (224, 224, 3))


def _relevel_by_hand(nv12, h, w, src):
    """BT.601 re-levelling written out here (not the code under test): limited <-> full, Y then UV."""
    v = np.asarray(nv12, np.float64)
    y, c = v[: h * w], v[h * w:]
    if src == "limited":   # to full
        y, c = (y - 16) * 255 / 219, (c - 128) * 255 / 224 + 128
    else:                  # to limited
        y, c = 16 + y * 219 / 255, 128 + (c - 128) * 224 / 255
    return np.clip(np.rint(np.concatenate([y, c])), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("model_range,camera_range", [("full", "limited"), ("limited", "full")])
def test_mipi_camera_range_other_than_the_model_is_relevelled(fake_vio, tiny, model_range, camera_range):
    from helpers.board.classifier import Classifier

    clf = Classifier(tiny, yuv_range=model_range)
    with camera.open_source("mipi", size=clf.size, camera_range=camera_range) as cam:
        frame = cam.read()
        assert frame.yuv_range == camera_range
        feed = camera.frame_feed(clf, frame)
        r = camera.classify_live(clf, cam, frames=2)
    assert feed is not frame.data and not r.scaler
    np.testing.assert_array_equal(feed, _relevel_by_hand(frame.data, 224, 224, camera_range))


def test_mipi_camera_range_unknown_is_assumed_loudly(fake_vio, clf):
    with pytest.warns(UserWarning) as w:
        cam = camera.MipiCamera(clf.size)
    text = str(w[0].message)
    assert "ASSUMED" in text and "camera_range=" in text and "\n" not in text
    with cam:
        frame = cam.read()
        assert frame.yuv_range is None and camera.frame_feed(clf, frame) is frame.data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = camera.MipiCamera(clf.size, camera_range=clf.yuv_range)   # the same range: straight in, no warning
    with same:
        frame = same.read()
        assert camera.frame_feed(clf, frame) is frame.data
    with pytest.raises(HelpersError, match="unknown YUV range"):
        camera.MipiCamera(clf.size, camera_range="tv")


def test_mipi_bad_input_is_one_line(fake_vio, monkeypatch):
    with pytest.raises(HelpersError, match="X5 scaler cannot make 2000x1000"):
        camera.MipiCamera((1000, 2000))
    monkeypatch.setenv("FAKE_NO_CAMERA", "1")
    with pytest.raises(HelpersError, match="open_cam returned -1") as e:
        camera.MipiCamera((224, 224))
    assert "\n" not in str(e.value)


def test_no_camera_names_what_was_tried(monkeypatch):
    monkeypatch.setattr(camera, "mipi_module", lambda: None)
    monkeypatch.setattr(camera, "video_devices", lambda: [])
    with pytest.raises(HelpersError) as e:
        camera.open_source("auto")
    msg = str(e.value)
    assert msg.startswith("no camera found: tried MIPI (hobot_vio_rdkx5.libsrcampy / hobot_vio.libsrcampy: not installed)")
    assert "/dev/video* (none)" in msg and "\n" not in msg
    with pytest.raises(HelpersError, match="no MIPI camera API here"):
        camera.MipiCamera((224, 224))


def test_video_file_runs_through_the_board_preprocessing(tmp_path, clf):
    from helpers.board.nv12 import prepare_nv12

    clip = camera.write_test_video(tmp_path / "clip.avi", (320, 240), frames=4)
    with camera.open_source(clip) as src:
        first = src.read()
        assert (first.kind, first.width, first.height) == ("bgr", 320, 240)
        assert np.array_equal(camera.frame_feed(clf, first), prepare_nv12(first.data[:, :, ::-1], clf.size, clf.yuv_range))
        assert np.array_equal(first.rgb(), first.data[:, :, ::-1])
        r = camera.classify_live(clf, src, frames=9)  # more than the clip has: it loops
    assert r.frames == 9 and not r.scaler


def test_bad_video_sources(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video" * 50)
    with pytest.raises(HelpersError, match="broken.mp4 does not decode"):
        camera.open_source(bad)
    with pytest.raises(HelpersError, match="video file not found"):
        camera.open_source(tmp_path / "missing.mp4")
    with pytest.raises(HelpersError, match="not a video file that exists"):
        camera.open_source("webcam-please")


def test_annotate_fits_a_long_label_into_a_small_frame():
    """The camera notebook's label ("top-1: class 0 (1.00)  [random weights]  305.9 FPS") on a 224-wide frame ran
    off its right edge: the last columns must be the untouched band end, not text cut mid-letter."""
    img = np.full((224, 224, 3), 200, np.uint8)
    out = camera.annotate(img, "top-1: class 0 (1.00)  [random weights]", fps=305.9)
    band = out[:, :, 0] != 200                      # the dark band and the text on it
    rows = np.flatnonzero(band.any(axis=1))
    text = out[rows[0]:rows[-1] + 1] > 220           # the white letters (the frame is 200 grey)
    cols = np.flatnonzero(text.any(axis=(0, 2)))
    assert cols.size and cols[-1] < 224 - 2, f"text reaches column {cols[-1]} of 224"


def test_annotate_writes_on_a_copy():
    img = np.full((60, 200, 3), 200, np.uint8)
    out = camera.annotate(img, "tabby cat 0.91", fps=12.5)
    assert out.shape == img.shape and (img == 200).all() and (out[:10, :20] != 200).any()
