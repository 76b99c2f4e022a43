"""helpers.board.image: loading every image kind, one-line errors for bad ones, the two resizes."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from testkit import smooth_image

from helpers.board import registry
from helpers.board.image import board_resize, load_image, normalize_nchw, timm_resize
from helpers.errors import HelpersError


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
