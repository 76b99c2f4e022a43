"""helpers.board.image: loading every image kind, one-line errors for bad ones, the two resizes."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from testkit import smooth_image

from helpers.board import registry
from helpers.board.image import board_resize, load_image, normalize_nchw, resize_plane, timm_resize
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
    # shrinks by less than 2x on both axes: exactly OpenCV's bilinear, nothing else
    assert np.array_equal(out, cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR))
    crop = timm_resize(rgb, (224, 224), crop_pct=0.875)
    assert crop.shape == (224, 224, 3)
    # timm: shorter side 300 -> 256, so the crop sees the centre, not the whole width
    x = normalize_nchw(out, registry.IMAGENET_MEAN, registry.IMAGENET_STD)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    assert np.isclose(x[0, 0, 0, 0], (out[0, 0, 0] / 255.0 - 0.485) / 0.229, atol=1e-6)


def test_board_resize_box_filters_where_shrinking_2x_or_more():
    """448x672 -> 224x224: both axes shrink 2x or more, so a 2x2 box to 224x336 first, then bilinear to 224."""
    rgb = np.random.default_rng(0).integers(0, 256, (448, 672, 3), dtype=np.uint8)
    out = board_resize(rgb, (224, 224)).astype(np.float64)
    box = rgb.astype(np.float64).reshape(224, 2, 336, 2, 3).mean((1, 3))  # NumPy 2x2 block means
    ref = cv2.resize(box.astype(np.float32), (224, 224), interpolation=cv2.INTER_LINEAR)
    assert np.abs(out - ref).max() <= 1.0  # uint8 rounding of the intermediate
    plain = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    assert np.abs(plain - ref).mean() > 10  # the plain bilinear step is really something else here
    assert np.array_equal(board_resize(rgb, (224, 224), antialias=False), plain.astype(np.uint8))


@pytest.mark.parametrize("shape", [(1080, 1920), (481, 641), (1200, 1600)])
def test_board_resize_anti_aliasing_on_fine_stripes(shape):
    """Stripes of period 3 (0, 0, 255) shrunk 2.9-8.6x: the ideal result is their mean (85) everywhere.

    A 2-tap box only halves this frequency, so at 2.9x (one halving) aliasing is halved; from 4x on
    (two halvings) a quarter at most. Bilinear alone keeps the stripes at full contrast."""
    h, w = shape
    stripes = np.where(np.arange(w) % 3 == 2, 255, 0).astype(np.uint8)
    rgb = np.repeat(np.broadcast_to(stripes, (h, w))[:, :, None], 3, axis=2).copy()
    aa = board_resize(rgb, (224, 224)).astype(int)
    plain = board_resize(rgb, (224, 224), antialias=False).astype(int)
    err_aa, err_plain = np.abs(aa - 85).mean(), np.abs(plain - 85).mean()
    assert aa.shape == (224, 224, 3) and err_plain > 60 and err_aa < 0.55 * err_plain
    if min(h, w) >= 4 * 224:
        assert err_aa < 0.33 * err_plain


def test_resize_plane_two_channels_and_identity():
    uv = np.random.default_rng(1).integers(0, 256, (60, 80, 2), dtype=np.uint8)
    assert resize_plane(uv, (60, 80)) is uv
    out = resize_plane(uv, (14, 20))
    assert out.shape == (14, 20, 2) and out.dtype == np.uint8
