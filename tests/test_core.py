"""Board-safe core: image loading, NV12 colour conversion, labels, runtime, registry, CLI."""
import io
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers.board import nv12, registry
from helpers.errors import HelpersError
from helpers.board.image import board_resize, load_image, normalize_nchw, timm_resize
from helpers.board.labels import imagenet_labels, softmax, topk
from helpers.board.runtime import available_backends, open_model


def smooth_image(h=64, w=96, seed=0):
    """A colourful image without sharp chroma edges (so 4:2:0 subsampling loses little)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(xx / 17.0 + seed)
    g = 128 + 100 * np.cos(yy / 13.0)
    b = 128 + 90 * np.sin((xx + yy) / 23.0)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


# ---------------------------------------------------------------- image loading

def test_load_image_modes(tmp_path):
    rgb = smooth_image()
    cases = {
        "gray.png": Image.fromarray(rgb[:, :, 0], "L"),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]), "RGBA"),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "pal.png": Image.fromarray(rgb).convert("P"),
        "rgb.jpg": Image.fromarray(rgb),
    }
    for name, img in cases.items():
        img.save(tmp_path / name)
        out = load_image(tmp_path / name)
        assert out.shape == (64, 96, 3) and out.dtype == np.uint8, name
    # RGBA keeps its colour channels, gray is replicated
    assert np.array_equal(load_image(tmp_path / "rgba.png"), rgb)
    g = load_image(tmp_path / "gray.png")
    assert np.array_equal(g[:, :, 0], rgb[:, :, 0]) and np.array_equal(g[:, :, 1], rgb[:, :, 0])


def test_load_16bit_png_scales_to_8bit(tmp_path):
    arr16 = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "deep.png")
    out = load_image(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    expected = np.rint(arr16 / 65535.0 * 255.0).astype(np.uint8)
    assert np.abs(out[:, :, 0].astype(int) - expected).max() <= 1
    assert out.max() > 200  # not truncated to the low byte


def test_exif_orientation_applied(tmp_path):
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(tmp_path / "rot.jpg")
    assert out.shape == (40, 20, 3)  # displayed upright: portrait
    assert out[:18, :, 0].mean() > 200 and out[22:, :, 0].mean() < 60  # red is now on top


def test_load_from_array_pil_and_bytes():
    rgb = smooth_image()
    assert np.array_equal(load_image(rgb), rgb)
    assert np.array_equal(load_image(Image.fromarray(rgb)), rgb)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    assert np.array_equal(load_image(buf.getvalue()), rgb)
    assert load_image(rgb.astype(np.float32) / 255.0).max() == rgb.max()


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "truncated", "text", "tiny"])
def test_bad_images_give_one_line_errors(tmp_path, case):
    p = tmp_path / "x.jpg"
    if case == "directory":
        p = tmp_path
    elif case == "empty":
        p.write_bytes(b"")
    elif case == "truncated":
        buf = io.BytesIO()
        Image.fromarray(smooth_image(128, 128)).save(buf, format="JPEG", quality=90)
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif case == "text":
        p.write_text("this is not a picture\n")
    elif case == "tiny":
        Image.fromarray(np.zeros((1, 5, 3), np.uint8)).save(tmp_path / "x.png")
        p = tmp_path / "x.png"
    with pytest.raises(HelpersError) as e:
        load_image(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p.name) in msg
    expected = {"missing": "not found", "directory": "directory", "empty": "empty", "truncated": "truncated",
                "text": "not an image", "tiny": "at least 2x2"}[case]
    assert expected in msg


def test_board_resize_and_timm_resize():
    rgb = smooth_image(300, 400)
    out = board_resize(rgb, (224, 224))
    assert out.shape == (224, 224, 3)
    assert np.array_equal(out, cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA))
    crop = timm_resize(rgb, (224, 224), crop_pct=0.875)
    assert crop.shape == (224, 224, 3)
    # timm: shorter side 300 -> 256, so the crop sees the centre, not the whole width
    x = normalize_nchw(out, registry.IMAGENET_MEAN, registry.IMAGENET_STD)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    assert np.isclose(x[0, 0, 0, 0], (out[0, 0, 0] / 255.0 - 0.485) / 0.229, atol=1e-6)


# ---------------------------------------------------------------- NV12

def test_limited_range_matches_opencv_i420_levels():
    """OpenCV's I420 is BT.601 limited range: black -> Y=16, white -> Y=235 (the fact our yaml relies on)."""
    for value, y_expected in ((0, 16), (255, 235)):
        img = np.full((4, 4, 3), value, np.uint8)
        buf = nv12.rgb_to_nv12(img, "limited")
        assert set(buf[:16]) == {y_expected}
        assert set(buf[16:]) == {128}
        i420 = cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420)
        assert set(i420.reshape(-1)[:16]) == {y_expected}


def test_full_range_levels_and_primary_colours():
    black, white = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)
    assert list(nv12.rgb_to_nv12(black, "full")) == [0, 0, 0, 0, 128, 128]
    assert list(nv12.rgb_to_nv12(white, "full")) == [255, 255, 255, 255, 128, 128]
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    # JFIF: Y = 0.299*255, Cb = 128 - 0.168736*255, Cr = 128 + 0.5*255 (clipped)
    assert list(nv12.rgb_to_nv12(red, "full")) == [76] * 4 + [85, 255]


def test_full_range_matches_pillow_jpeg_ycbcr():
    rgb = smooth_image(32, 32)
    ycc = np.asarray(Image.fromarray(rgb).convert("YCbCr"), np.int16)  # JFIF full range, 4:4:4
    buf = nv12.rgb_to_nv12(rgb, "full")
    y, uv = nv12.split_nv12(buf, 32, 32)
    assert np.abs(y.astype(np.int16) - ycc[:, :, 0]).max() <= 1
    cb = ycc[:, :, 1].reshape(16, 2, 16, 2).mean((1, 3))
    assert np.abs(uv[:, :, 0] - cb).max() <= 1.5


@pytest.mark.parametrize("yuv_range", ["full", "limited"])
def test_nv12_round_trip(yuv_range):
    rgb = smooth_image()
    back = nv12.nv12_to_rgb(nv12.rgb_to_nv12(rgb, yuv_range), 64, 96, yuv_range)
    err = np.abs(back.astype(int) - rgb.astype(int))
    # OpenCV's I420 (limited) has fewer levels and its own chroma siting: a little more error
    mean_tol, max_tol = (2.0, 12) if yuv_range == "full" else (2.5, 16)
    assert err.mean() < mean_tol and err.max() <= max_tol


def test_limited_decode_matches_opencv():
    rgb = smooth_image()
    buf = nv12.rgb_to_nv12(rgb, "limited")
    ours = nv12.nv12_to_rgb(buf, 64, 96, "limited").astype(int)
    cv = cv2.cvtColor(buf.reshape(96, 96), cv2.COLOR_YUV2RGB_NV12).astype(int)
    assert np.abs(ours - cv).max() <= 3


def test_range_mismatch_is_visible():
    """Feeding limited-range NV12 to a model told 'full' (regular) loses contrast: black is not black."""
    black = np.zeros((2, 2, 3), np.uint8)
    wrong = nv12.nv12_to_rgb_float(nv12.rgb_to_nv12(black, "limited"), 2, 2, "full")
    right = nv12.nv12_to_rgb_float(nv12.rgb_to_nv12(black, "limited"), 2, 2, "limited")
    assert wrong.min() >= 15 and right.max() < 1


def test_bgr_to_nv12_is_rgb_reversed():
    rgb = smooth_image()
    assert np.array_equal(nv12.bgr_to_nv12(rgb[:, :, ::-1]), nv12.rgb_to_nv12(rgb))


@pytest.mark.parametrize("shape", [(3, 4), (4, 5), (1, 2)])
def test_nv12_odd_or_tiny_size_refused(shape):
    with pytest.raises(HelpersError, match="even"):
        nv12.rgb_to_nv12(np.zeros((*shape, 3), np.uint8))


def test_nv12_wrong_buffer_length():
    with pytest.raises(HelpersError, match="needs 24"):
        nv12.split_nv12(np.zeros(23, np.uint8), 4, 4)
    with pytest.raises(HelpersError, match="unknown YUV range"):
        nv12.rgb_to_nv12(np.zeros((2, 2, 3), np.uint8), "studio")


# ---------------------------------------------------------------- labels

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


# ---------------------------------------------------------------- registry

def test_registry_has_the_nine_variants():
    assert sorted(registry.MODELS) == sorted([
        "mobileone_s0", "mobileone_s1", "mobileone_s2", "mobileone_s3", "mobileone_s4",
        "mobilenetv1_100", "mobilenetv3_large_100", "mobilenetv4_conv_small", "mobilenetv4_conv_medium"])
    assert set(registry.ARCHS) == {"MobileOne", "MobileNetV1", "MobileNetV3", "MobileNetV4"}
    assert {b.march for b in registry.BOARDS.values()} == {"bernoulli2", "bayes-e"}


@pytest.mark.parametrize("key", list(registry.MODELS))
def test_registry_matches_timm_pretrained_cfg(key):
    import timm

    spec = registry.get(key)
    cfg = timm.models.get_pretrained_cfg(spec.timm_id)
    assert cfg is not None, f"timm has no pretrained tag {spec.timm_id}"
    assert tuple(cfg.mean) == spec.mean and tuple(cfg.std) == spec.std
    assert tuple(cfg.input_size[1:]) == spec.input_size
    assert cfg.crop_pct == spec.crop_pct and cfg.interpolation == spec.interpolation
    assert cfg.num_classes == spec.num_classes
    assert cfg.hf_hub_id == spec.hf_hub_id


def test_unknown_key_suggests():
    with pytest.raises(HelpersError, match="did you mean mobilenetv3_large_100"):
        registry.get("mobilenetv3_large")


# ---------------------------------------------------------------- runtime

def tiny_onnx(path, h=4, w=4, classes=3):
    """A 1x3xHxW -> 1xC model built with onnx.helper (global average pool + matmul)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    wmat = np.arange(3 * classes, dtype=np.float32).reshape(3, classes) / 10
    g = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("MatMul", ["f", "w"], ["output"])],
        "tiny", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])],
        [numpy_helper.from_array(wmat, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 7
    helper.set_model_props(m, {"rdk.mean": "[0.5, 0.5, 0.5]", "rdk.std": "[0.5, 0.5, 0.5]",
                               "rdk.labels": '["a", "b", "c"]', "rdk.weights": "random"})
    onnx.save(m, path)
    return wmat


def test_onnxruntime_backend_and_classifier(tmp_path):
    from helpers.board.classifier import Classifier

    wmat = tiny_onnx(tmp_path / "tiny.onnx")
    rt = open_model(tmp_path / "tiny.onnx")
    assert rt.name == "onnxruntime" and rt.input.shape == (1, 3, 4, 4) and rt.input.dtype == "float32"
    assert "data: float32 [1, 3, 4, 4] NCHW" in rt.describe()
    clf = Classifier(tmp_path / "tiny.onnx")
    assert clf.random_weights and clf.labels == ["a", "b", "c"]
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 2] = 255  # blue: normalised input (-1, -1, +1)
    expected = np.array([-1, -1, 1], np.float32) @ wmat
    assert np.allclose(clf.logits(img), expected, atol=1e-5)
    preds = clf.predict(img, k=3)
    assert preds[0].index == int(np.argmax(expected)) and np.isclose(sum(p.prob for p in preds), 1.0)


@pytest.mark.parametrize("case", ["missing", "wrong_ext", "not_a_model", "bin_on_pc", "forced_backend", "directory"])
def test_bad_model_files(tmp_path, case):
    p = tmp_path / "m.onnx"
    backend = "auto"
    if case == "wrong_ext":
        p = tmp_path / "m.pt"
        p.write_bytes(b"123")
    elif case == "not_a_model":
        p.write_text("definitely not protobuf" * 10)
    elif case == "bin_on_pc":
        p = tmp_path / "m.bin"
        p.write_bytes(b"\0" * 64)
    elif case == "forced_backend":
        p = tmp_path / "m.bin"
        p.write_bytes(b"\0" * 64)
        backend = "hobot_dnn"
    elif case == "directory":
        p = tmp_path
    if "hobot_dnn" in available_backends():
        pytest.skip("a board runtime is installed here")
    with pytest.raises(HelpersError) as e:
        open_model(p, backend=backend)
    msg = str(e.value)
    assert "\n" not in msg
    assert {"missing": "not found", "wrong_ext": "must be .onnx", "not_a_model": "not a valid ONNX",
            "bin_on_pc": "needs an RDK board", "forced_backend": "not available here",
            "directory": "directory"}[case] in msg


# ---------------------------------------------------------------- CLI and board safety

def test_cli_list_shows_all_variants():
    r = run_cli("list")
    assert r.returncode == 0, r.stderr
    for key in registry.MODELS:
        assert key in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["info", "nope"], "unknown model key"),
    (["predict", "missing.onnx", "x.jpg"], "model file not found"),
])
def test_cli_errors_are_one_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and needle in r.stderr and "Traceback" not in r.stderr


def test_cli_predict(tmp_path):
    tiny_onnx(tmp_path / "tiny.onnx")
    Image.fromarray(smooth_image()).save(tmp_path / "img.png")
    r = run_cli("predict", str(tmp_path / "tiny.onnx"), str(tmp_path / "img.png"), "-k", "2")
    assert r.returncode == 0, r.stderr
    assert "RANDOM weights" in r.stdout and r.stdout.count("%") == 2


BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {"torch", "timm", "onnxsim", "onnx", "torchvision", "sklearn"}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked on the board: {name}")
    sys.meta_path.insert(0, Block())
""")


def test_board_parts_import_without_torch(tmp_path):
    """The board has no torch/timm/onnx: the runtime parts and the CLI must import and run without them."""
    code = BLOCKER + textwrap.dedent("""
        import helpers, helpers.board.registry, helpers.board.image, helpers.board.nv12, helpers.board.labels
        import helpers.board.runtime, helpers.board.classifier, helpers.board.files, helpers.cli
        from helpers.cli import main
        assert main(["list"]) == 0
        try:
            main(["--help"])
        except SystemExit as e:
            assert e.code == 0, e.code
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mobilenetv4_conv_medium" in r.stdout


def test_atomic_writes_leave_nothing_half_written(tmp_path):
    from helpers.board.files import atomic_output, atomic_write_text

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    atomic_write_text(target, "one")
    with pytest.raises(HelpersError, match="already exists"):
        atomic_write_text(target, "two")
    assert target.read_text() == "one"
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_current_umask())


def _current_umask():
    u = os.umask(0)
    os.umask(u)
    return u
