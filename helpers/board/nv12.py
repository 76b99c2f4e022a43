"""RGB/BGR <-> NV12 (YUV 4:2:0, Y plane then interleaved UV) in both BT.601 ranges. Board-safe.

``full``    : Y, U, V in 0..255 (JPEG/JFIF). The mapper calls this ``regular``.
``limited`` : Y in 16..235, U/V in 16..240 ("video range"). The mapper calls this ``bt601_video``.
             OpenCV's ``COLOR_BGR2YUV_I420`` produces this range.

The YUV->RGB matrix below is the single definition used both by the NumPy reference
(:func:`nv12_to_rgb_float`) and by the ONNX graph that emulates the board model on a PC.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from helpers.errors import HelpersError

RANGES = ("full", "limited")
#: the mapper yaml's ``input_space_and_range`` value for each range, and back
YAML_SPACE_AND_RANGE = {"full": "regular", "limited": "bt601_video"}
RANGE_FROM_YAML = {v: k for k, v in YAML_SPACE_AND_RANGE.items()}
#: the range our yaml files declare and our board code produces (see docs/nv12.md, "Which NV12 range does the board expect?")
DEFAULT_RANGE = "full"


def check_range(yuv_range: str) -> str:
    if yuv_range not in RANGES:
        raise HelpersError(f"unknown YUV range {yuv_range!r}; use 'full' (yaml: regular) or 'limited' (yaml: bt601_video)")
    return yuv_range


def check_even(height: int, width: int) -> None:
    if height % 2 or width % 2 or height < 2 or width < 2:
        raise HelpersError(f"NV12 needs an even width and height of at least 2, got {width}x{height}; "
                           "resize to an even size first")


def nv12_size(height: int, width: int) -> int:
    check_even(height, width)
    return height * width * 3 // 2


def yuv_to_rgb_matrix(yuv_range: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(M, offset)`` such that ``rgb = M @ (yuv - offset)`` for BT.601 in ``yuv_range``."""
    check_range(yuv_range)
    kr, kb = 0.299, 0.114
    kg = 1.0 - kr - kb
    full = np.array([
        [1.0, 0.0, 2 * (1 - kr)],
        [1.0, -2 * (1 - kb) * kb / kg, -2 * (1 - kr) * kr / kg],
        [1.0, 2 * (1 - kb), 0.0],
    ])
    if yuv_range == "full":
        return full.astype(np.float32), np.array([0.0, 128.0, 128.0], np.float32)
    scale = np.diag([255.0 / 219.0, 255.0 / 224.0, 255.0 / 224.0])
    return (full @ scale).astype(np.float32), np.array([16.0, 128.0, 128.0], np.float32)


def _check_rgb(rgb) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise HelpersError(f"rgb_to_nv12 needs an RGB uint8 HxWx3 array, got {rgb.dtype} {rgb.shape}")
    check_even(*rgb.shape[:2])
    return rgb


def rgb_to_nv12(rgb: np.ndarray, yuv_range: str = DEFAULT_RANGE) -> np.ndarray:
    """RGB uint8 HxWx3 -> NV12 uint8, flat, length H*W*3/2 (what the board's ``forward`` takes).

    All OpenCV, written straight into the output buffer:

    * ``limited``: ``cv2.cvtColor(COLOR_RGB2YUV_I420)`` (BT.601 video range), U and V planes then
      interleaved with ``cv2.merge``.
    * ``full``: BT.601 full range as in JPEG/JFIF (the inverse of :func:`yuv_to_rgb_matrix`). Y is
      ``cv2.cvtColor(COLOR_RGB2GRAY)`` (the same weights). Chroma is that of each 2x2 block's mean RGB
      (the transform is affine, so this is the mean of the pixels' chroma): a bilinear resize to
      exactly half the size (at factor 2 it is the block mean, rounded to uint8; the chroma weights sum
      to zero, so that rounding adds no systematic bias), ``cv2.cvtColor(COLOR_RGB2YCrCb)`` on it (chroma centred
      on 128), Cb/Cr reordered to NV12's U, V. Within one level of the exact transform rounded once, mean
      difference under 0.1 level (``tests/board/test_nv12.py`` checks it against a NumPy reference).
    """
    import cv2

    check_range(yuv_range)
    rgb = _check_rgb(rgb)
    h, w = rgb.shape[:2]
    out = np.empty(h * w * 3 // 2, np.uint8)
    y_out, uv_out = out[: h * w].reshape(h, w), out[h * w:].reshape(h // 2, w // 2, 2)
    if yuv_range == "limited":
        i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
        q = h * w // 4
        y_out[:] = i420[: h * w].reshape(h, w)
        cv2.merge([i420[h * w: h * w + q].reshape(h // 2, w // 2), i420[h * w + q:].reshape(h // 2, w // 2)],
                  dst=uv_out)
        return out
    cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY, dst=y_out)  # Y = 0.299 R + 0.587 G + 0.114 B, as JFIF
    block_mean = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_LINEAR)  # exact half: 2x2 means
    ycrcb = cv2.cvtColor(block_mean, cv2.COLOR_RGB2YCrCb)
    cv2.mixChannels([ycrcb], [uv_out], [2, 0, 1, 1])  # (Y, Cr, Cb) -> (U = Cb, V = Cr)
    return out


def prepare_nv12(rgb: np.ndarray, size: Tuple[int, int], yuv_range: str = DEFAULT_RANGE,
                 antialias: bool = True) -> np.ndarray:
    """An RGB uint8 frame of any size -> the NV12 feed of a board model at ``size`` = (H, W).

    The board pipeline's pre-processing for NV12 models (``Classifier.prepare``). Same geometry and
    anti-aliasing as :func:`helpers.board.image.board_resize` (exact halvings while both axes shrink
    2x or more, then bilinear), but where a halving applied, the frame is converted to NV12 at the
    last halving and its planes are resized from there, as a camera's NV12 frame of that size would
    be (:func:`resize_nv12`): the final bilinear step then moves one luma byte and half a chroma pair
    per pixel instead of three RGB bytes, and the colour conversion runs before it (measured by
    ``benchmarks/preprocess.py``). Equal to ``resize_nv12(rgb_to_nv12(halved frame, cropped to even))``;
    within rounding of ``rgb_to_nv12(board_resize(rgb, size))`` in luma, and a slightly different
    low-pass in chroma (``tests/board/test_nv12.py``). Without a halving it *is* the latter.
    """
    from helpers.board.image import board_resize, halvings

    check_range(yuv_range)
    check_even(*size)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise HelpersError(f"prepare_nv12 needs an RGB uint8 HxWx3 array, got {rgb.dtype} {rgb.shape}")
    small = halvings(rgb, size) if antialias else rgb
    if small is rgb:
        return rgb_to_nv12(board_resize(rgb, size, antialias=False), yuv_range)
    ih, iw = small.shape[0] // 2 * 2, small.shape[1] // 2 * 2
    return resize_nv12(rgb_to_nv12(small[:ih, :iw], yuv_range), ih, iw, size, yuv_range, antialias=False)


def bgr_to_nv12(bgr: np.ndarray, yuv_range: str = DEFAULT_RANGE) -> np.ndarray:
    """BGR (OpenCV order) -> NV12; see :func:`rgb_to_nv12`."""
    return rgb_to_nv12(np.ascontiguousarray(np.asarray(bgr)[:, :, ::-1]), yuv_range)


def split_nv12(nv12: np.ndarray, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Check a flat NV12 buffer's length and return its planes: Y (H,W) and UV (H/2,W/2,2)."""
    buf = np.asarray(nv12)
    expected = nv12_size(height, width)
    if buf.dtype != np.uint8:
        raise HelpersError(f"NV12 data must be uint8, got {buf.dtype}")
    if buf.size != expected:
        raise HelpersError(f"NV12 buffer has {buf.size} bytes; {width}x{height} needs {expected} "
                           f"(= W*H*3/2)")
    buf = buf.reshape(-1)
    return buf[: height * width].reshape(height, width), buf[height * width:].reshape(height // 2, width // 2, 2)


def nv12_to_rgb_float(nv12: np.ndarray, height: int, width: int, yuv_range: str = DEFAULT_RANGE) -> np.ndarray:
    """NV12 -> RGB float32 HxWx3 in 0..255 (clipped), chroma upsampled by repetition.

    This is the reference the board-model ONNX graph is tested against.
    """
    y, uv = split_nv12(nv12, height, width)
    uv_full = uv.repeat(2, axis=0).repeat(2, axis=1)
    yuv = np.concatenate([y[:, :, None], uv_full], axis=2).astype(np.float32)
    m, off = yuv_to_rgb_matrix(yuv_range)
    rgb = (yuv - off) @ m.T
    return np.clip(rgb, 0.0, 255.0).astype(np.float32)


def nv12_to_rgb(nv12: np.ndarray, height: int, width: int, yuv_range: str = DEFAULT_RANGE) -> np.ndarray:
    """NV12 -> RGB uint8 HxWx3, for showing what the board sees."""
    return np.rint(nv12_to_rgb_float(nv12, height, width, yuv_range)).astype(np.uint8)


def _range_lut(src_range: str, dst_range: str):
    """Lookup tables (Y, UV) that re-level NV12 from ``src_range`` to ``dst_range`` (None when equal)."""
    if check_range(src_range) == check_range(dst_range):
        return None
    v = np.arange(256, dtype=np.float64)
    if dst_range == "limited":  # full -> limited
        y, c = 16 + v * 219 / 255, 128 + (v - 128) * 224 / 255
    else:                       # limited -> full
        y, c = (v - 16) * 255 / 219, 128 + (v - 128) * 255 / 224
    return tuple(np.clip(np.rint(t), 0, 255).astype(np.uint8) for t in (y, c))


def resize_nv12(nv12: np.ndarray, height: int, width: int, size: Tuple[int, int], src_range: str = DEFAULT_RANGE,
                dst_range: Optional[str] = None, antialias: bool = True) -> np.ndarray:
    """An NV12 frame (``height`` x ``width``, e.g. from an RDK camera) -> NV12 at ``size`` = (H, W), no RGB.

    The Y plane is resized to ``size`` and the interleaved UV plane to ``size / 2`` with the same resize
    as RGB frames (:func:`helpers.board.image.resize_plane`: exact halvings where shrinking 2x or more,
    then bilinear), so the model sees what :func:`rgb_to_nv12` of the resized RGB frame would give, to
    within the rounding of the two routes. ``dst_range`` (default ``src_range``): re-level with a lookup
    table when the camera's range is not the model's.
    """
    import cv2

    from helpers.board.image import resize_plane

    h, w = size
    check_even(h, w)
    y, uv = split_nv12(nv12, height, width)
    out = np.empty(h * w * 3 // 2, np.uint8)
    resize_plane(y, (h, w), antialias, dst=out[: h * w].reshape(h, w))
    resize_plane(uv, (h // 2, w // 2), antialias, dst=out[h * w:].reshape(h // 2, w // 2, 2))
    lut = _range_lut(src_range, dst_range or src_range)
    if lut is not None:
        cv2.LUT(out[: h * w], lut[0], dst=out[: h * w])
        cv2.LUT(out[h * w:], lut[1], dst=out[h * w:])
    return out
