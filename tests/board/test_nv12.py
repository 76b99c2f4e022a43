"""helpers.board.nv12 against OpenCV and Pillow: both ranges, round trips, bad sizes."""

import cv2
import numpy as np
import pytest
from PIL import Image
from testkit import smooth_image

from helpers.board import nv12
from helpers.board.image import board_resize
from helpers.errors import HelpersError


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


def _jfif_nv12_reference(rgb):
    """Independent NumPy reference: JFIF full-range BT.601 (ITU-T T.871), chroma of each 2x2 block's mean RGB."""
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    h, w = rgb.shape[:2]
    m = x.reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3))
    cb = 128 - 0.168736 * m[..., 0] - 0.331264 * m[..., 1] + 0.5 * m[..., 2]
    cr = 128 + 0.5 * m[..., 0] - 0.418688 * m[..., 1] - 0.081312 * m[..., 2]
    return y, np.stack([cb, cr], axis=-1)


@pytest.mark.parametrize("kind", ["smooth", "noise"])
def test_full_range_opencv_route_matches_numpy_reference(kind):
    """The OpenCV route (YCrCb + half-size chroma) is within one level of the exact JFIF transform, unbiased."""
    rng = np.random.default_rng(3)
    rgb = smooth_image(64, 96) if kind == "smooth" else rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    y_ref, uv_ref = _jfif_nv12_reference(rgb)
    y, uv = nv12.split_nv12(nv12.rgb_to_nv12(rgb, "full"), 64, 96)
    # against the exact encoder's output (rounded once, as the previous NumPy-matrix encoder did)
    dy = y.astype(int) - np.clip(np.rint(y_ref), 0, 255)
    duv = uv.astype(int) - np.clip(np.rint(uv_ref), 0, 255)
    assert np.abs(dy).max() <= 1 and np.abs(duv).max() <= 1
    assert abs(dy.mean()) < 0.02 and abs(duv.mean()) < 0.1       # no bias to speak of
    # Y is exact but for OpenCV's fixed point; chroma is rounded twice (block mean, then YCrCb)
    assert (dy != 0).mean() < 0.01 and (duv != 0).mean() < 0.3


def test_limited_range_is_opencv_i420_reordered():
    """NV12 limited = OpenCV's I420 planes, U and V interleaved (not a re-derivation)."""
    rgb = np.random.default_rng(4).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    y, u, v = i420[:48], i420[48:60], i420[60:]
    assert np.array_equal(nv12.rgb_to_nv12(rgb, "limited"), np.concatenate([y, np.stack([u, v], 1).reshape(-1)]))


@pytest.mark.parametrize("yuv_range", ["full", "limited"])
@pytest.mark.parametrize("src", [(480, 640), (1080, 1920), (64, 96)])
def test_resize_nv12_planes_match_the_rgb_path(yuv_range, src):
    """Camera NV12 resized plane by plane ~= NV12 of the resized RGB frame (4:2:0 and rounding aside)."""
    h, w = src
    rgb = cv2.resize(smooth_image(), (w, h), interpolation=cv2.INTER_LINEAR)
    size = (224, 224) if h > 64 else (112, 160)  # the last one enlarges
    got = nv12.resize_nv12(nv12.rgb_to_nv12(rgb, yuv_range), h, w, size, yuv_range)
    want = nv12.rgb_to_nv12(board_resize(rgb, size), yuv_range)
    n = size[0] * size[1]
    dy, duv = got[:n].astype(int) - want[:n], got[n:].astype(int) - want[n:]
    assert np.abs(dy).max() <= 2 and abs(dy.mean()) < 0.25  # each uint8 halving rounds .5 up
    # full: both routes average chroma the same way; OpenCV's I420 (limited) subsamples its own way
    assert np.abs(duv).mean() < (0.5 if yuv_range == "full" else 1.5)
    back = nv12.nv12_to_rgb(got, *size, yuv_range).astype(int)
    assert np.abs(back - board_resize(rgb, size)).mean() < 3


def test_resize_nv12_converts_the_range():
    rgb = smooth_image(96, 128)
    full = nv12.rgb_to_nv12(rgb, "full")
    to_limited = nv12.resize_nv12(full, 96, 128, (48, 64), "full", "limited")
    want = nv12.rgb_to_nv12(board_resize(rgb, (48, 64)), "limited")
    assert np.abs(to_limited[: 48 * 64].astype(int) - want[: 48 * 64]).max() <= 2
    assert to_limited[: 48 * 64].min() >= 16 and to_limited[: 48 * 64].max() <= 235
    black = nv12.rgb_to_nv12(np.zeros((4, 4, 3), np.uint8), "limited")
    assert list(nv12.resize_nv12(black, 4, 4, (2, 2), "limited", "full")) == [0, 0, 0, 0, 128, 128]


def test_resize_nv12_bad_input():
    with pytest.raises(HelpersError, match="needs 24"):
        nv12.resize_nv12(np.zeros(23, np.uint8), 4, 4, (2, 2))
    with pytest.raises(HelpersError, match="even"):
        nv12.resize_nv12(np.zeros(24, np.uint8), 4, 4, (3, 2))


def _photo(h, w):
    """A real photograph (fine detail: the Hubble deep field) stretched to h x w."""
    from helpers.board.image import load_image, sample_images

    return cv2.resize(load_image(sample_images()[4]), (w, h), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("yuv_range", ["full", "limited"])
@pytest.mark.parametrize("src,size", [((480, 640), (224, 224)), ((1080, 1920), (224, 224)),
                                      ((757, 1001), (224, 224)), ((300, 520), (96, 128))])
def test_prepare_nv12_is_nv12_at_the_last_halving_resized_by_plane(yuv_range, src, size):
    """The board path for a large RGB frame: 2x2-mean halvings (OpenCV INTER_AREA, written out here),
    NV12 of the last one, each plane bilinear to the model size. Bit for bit, odd sizes cropped."""
    rgb, (h, w) = _photo(*src), size
    small = rgb
    while small.shape[0] >= 2 * h and small.shape[1] >= 2 * w:
        e = small[: small.shape[0] // 2 * 2, : small.shape[1] // 2 * 2]
        small = cv2.resize(e, (e.shape[1] // 2, e.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert small.shape[0] < rgb.shape[0]  # every case here halves at least once
    small = np.ascontiguousarray(small[: small.shape[0] // 2 * 2, : small.shape[1] // 2 * 2])
    y, uv = nv12.split_nv12(nv12.rgb_to_nv12(small, yuv_range), *small.shape[:2])
    want = np.concatenate([cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR).reshape(-1),
                           cv2.resize(uv, (w // 2, h // 2), interpolation=cv2.INTER_LINEAR).reshape(-1)])
    assert np.array_equal(nv12.prepare_nv12(rgb, size, yuv_range), want)


@pytest.mark.parametrize("yuv_range", ["full", "limited"])
def test_prepare_nv12_agrees_with_nv12_of_the_resized_rgb(yuv_range):
    """Against the RGB route (board_resize, then NV12): luma within rounding, chroma a near low-pass;
    without a halving (a 451x300 photo to 224x224) the two are the same bytes."""
    from helpers.board.image import load_image, sample_images

    size, n = (224, 224), 224 * 224
    for rgb in (_photo(480, 640), _photo(1080, 1920)):
        got = nv12.prepare_nv12(rgb, size, yuv_range).astype(int)
        want = nv12.rgb_to_nv12(board_resize(rgb, size), yuv_range).astype(int)
        dy, duv = np.abs(got[:n] - want[:n]), np.abs(got[n:] - want[n:])
        assert dy.mean() < 0.3 and np.percentile(dy, 99) <= 2, (dy.mean(), np.percentile(dy, 99))
        assert duv.mean() < 0.5, duv.mean()
    photo = load_image(sample_images()[0])
    assert np.array_equal(nv12.prepare_nv12(photo, size, yuv_range), nv12.rgb_to_nv12(board_resize(photo, size), yuv_range))


def test_prepare_nv12_keeps_the_anti_aliasing():
    """On a zone plate (every frequency up to Nyquist), the board path's luma is as close to an exact box
    filter (INTER_AREA) as board_resize's, and far closer than plain bilinear."""
    yy, xx = np.mgrid[0:1080, 0:1920].astype(np.float64)
    g = (127.5 + 127.5 * np.cos(np.pi * ((xx - 960) ** 2 + (yy - 540) ** 2) / 3840)).astype(np.uint8)
    zp = np.repeat(g[:, :, None], 3, axis=2)
    ref = cv2.resize(g, (224, 224), interpolation=cv2.INTER_AREA).astype(float)
    err = lambda y: np.abs(y.astype(float) - ref).mean()  # noqa: E731
    board = err(nv12.prepare_nv12(zp, (224, 224), "full")[: 224 * 224].reshape(224, 224))
    rgb_route = err(board_resize(zp, (224, 224))[:, :, 0])
    plain = err(nv12.prepare_nv12(zp, (224, 224), "full", antialias=False)[: 224 * 224].reshape(224, 224))
    assert board < rgb_route + 0.5 and board < plain / 3, (board, rgb_route, plain)


def test_prepare_nv12_bad_input():
    with pytest.raises(HelpersError, match="RGB uint8"):
        nv12.prepare_nv12(np.zeros((64, 64, 3), np.float32), (32, 32))
    with pytest.raises(HelpersError, match="RGB uint8"):
        nv12.prepare_nv12(np.zeros((64, 64), np.uint8), (32, 32))
    with pytest.raises(HelpersError, match="even"):
        nv12.prepare_nv12(np.zeros((64, 64, 3), np.uint8), (31, 32))
    with pytest.raises(HelpersError, match="unknown YUV range"):
        nv12.prepare_nv12(np.zeros((64, 64, 3), np.uint8), (32, 32), "bt709")
