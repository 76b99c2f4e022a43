"""Image loading and resizing. Board-safe: numpy, Pillow and OpenCV only.

Two resizes, used in different places:

* :func:`board_resize` stretches the whole frame to the model's input size with OpenCV. It is
  what our board pipeline does (``test_*.ipynb``, ``predict``, calibration data, evaluation), so
  the calibration data, the PC emulation and the board all see the same pixels. An NV12 model's feed
  (:func:`helpers.board.nv12.prepare_nv12`) has its geometry and anti-aliasing, with the last
  bilinear step on the NV12 planes.
* :func:`timm_resize` is timm's evaluation transform (shorter side to ``size / crop_pct`` then a
  centre crop). Use it only to compare against timm's published float accuracy.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple, Union

import numpy as np

from helpers.board.files import DATA_DIR, rel_to_repo
from helpers.errors import HelpersError

if TYPE_CHECKING:  # pragma: no cover
    import PIL.Image

ImageLike = Union[str, "os.PathLike[str]", bytes, np.ndarray, "PIL.Image.Image"]

MIN_SIDE = 2


def _refuse_bombs() -> None:
    """Pillow warns (``DecompressionBombWarning``) above ``Image.MAX_IMAGE_PIXELS`` and raises above twice
    that; make the warning an error too (unless a filter says so already), so either is one line, not a print."""
    import warnings

    from PIL import Image

    if not any(f[0] == "error" and f[2] is Image.DecompressionBombWarning for f in warnings.filters):
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _open_pil(src) -> "PIL.Image.Image":
    from PIL import Image, UnidentifiedImageError

    _refuse_bombs()

    if isinstance(src, (bytes, bytearray)):
        name, fp = "<bytes>", io.BytesIO(src)
    else:
        path = Path(src)
        name = str(path)
        if not path.exists():
            raise HelpersError(f"image not found: {path}")
        if path.is_dir():
            raise HelpersError(f"{path} is a directory; give an image file (jpg, png, ...)")
        if path.stat().st_size == 0:
            raise HelpersError(f"{path} is empty (0 bytes); re-download or replace it")
        fp = path
    try:
        img = Image.open(fp)
        img.load()  # decode now, so truncation is found here and not later
    except UnidentifiedImageError:
        raise HelpersError(f"{name} is not an image Pillow can read (corrupt, or not an image file)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise HelpersError(f"{name} is too large to decode safely, a decompression bomb? ({e}); "
                           "resize or remove it") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise HelpersError(f"{name} is truncated or corrupt ({e}); re-download or replace it") from None
    return img


def _pil_to_rgb(img) -> np.ndarray:
    from PIL import ImageOps

    img = ImageOps.exif_transpose(img)  # phones store rotation in EXIF
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grayscale: scale to 8 bits by the type's full range
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    # L, LA, P, RGBA, CMYK, YCbCr, 1 ...: Pillow's conversion, as timm's loader does (alpha dropped)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif arr.dtype in (np.float32, np.float64):
        scale = 255.0 if arr.size and float(np.nanmax(arr)) <= 1.0 else 1.0
        arr = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise HelpersError(f"unsupported image array dtype {arr.dtype}; use uint8, uint16 or float")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise HelpersError(f"image array must be HxW, HxWx1, HxWx3 or HxWx4 (RGB order); got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def load_image(src: ImageLike) -> np.ndarray:
    """Load ``src`` (path, bytes, PIL image or array) as an RGB ``uint8`` array of shape HxWx3.

    EXIF orientation is applied; grayscale, palette, RGBA, CMYK and 16-bit images are converted.
    Arrays are taken to be RGB already. Corrupt, empty or too-small inputs raise ``HelpersError``.
    """
    try:
        from PIL import Image
        is_pil = isinstance(src, Image.Image)
    except ImportError:  # pragma: no cover - Pillow is a board requirement
        is_pil = False
    if isinstance(src, np.ndarray):
        rgb = _array_to_rgb(src)
    elif is_pil:
        rgb = _pil_to_rgb(src)
    elif isinstance(src, (str, os.PathLike, bytes, bytearray)):
        rgb = _pil_to_rgb(_open_pil(src))
    else:
        raise HelpersError(f"cannot load an image from {type(src).__name__}; give a path, bytes, PIL image or array")
    h, w = rgb.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        where = f"{src}: " if isinstance(src, (str, os.PathLike)) else ""
        raise HelpersError(f"{where}image is {w}x{h} pixels; need at least {MIN_SIDE}x{MIN_SIDE}")
    return rgb


def resize_plane(img: np.ndarray, size: Tuple[int, int], antialias: bool = True,
                 dst: Optional[np.ndarray] = None) -> np.ndarray:
    """Stretch an HxW or HxWxC ``uint8`` image to ``size`` = (H, W): the one resize the deployed model sees.

    Bilinear (``cv2.INTER_LINEAR``, half-pixel centres), as OpenCV's native resize. Where both axes
    shrink by 2x or more the image is first halved (repeatedly, while that holds) with ``INTER_LINEAR``
    at exactly half the size: at a factor of exactly 2 OpenCV's bilinear samples between each pair of
    pixels, so each halving is a 2x2 box filter (as ``INTER_AREA`` 2x) and keeps the frame's geometry.
    The bilinear step that follows then shrinks less, so far fewer source pixels are skipped (aliasing
    measured by ``benchmarks/preprocess.py``). Halving only one axis (e.g. 451x300 -> 224x224) is not
    done: OpenCV has no fast path for it and, measured, it did not reduce the error. An odd size loses
    its last row or column before a halving. ``antialias=False``: one plain bilinear step. ``dst``: an
    array of the result's shape to write into (returned).
    """
    import cv2

    h, w = size
    if antialias:
        img = halvings(img, size)
    if img.shape[:2] == (h, w):
        if dst is None:
            return img
        dst[...] = img
        return dst
    if dst is None:
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(img, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)


def halvings(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """The anti-aliasing of :func:`resize_plane`: halve ``img`` (exact 2x2 means) while both axes are at
    least twice ``size`` = (H, W). Returns ``img`` itself when no halving applies."""
    import cv2

    h, w = size
    while img.shape[0] >= 2 * h and img.shape[1] >= 2 * w:
        th, tw = img.shape[0] // 2, img.shape[1] // 2
        img = cv2.resize(img[: 2 * th, : 2 * tw], (tw, th), interpolation=cv2.INTER_LINEAR)
    return img


def board_resize(rgb: np.ndarray, size: Tuple[int, int], antialias: bool = True) -> np.ndarray:
    """Stretch the whole RGB frame to ``size`` = (H, W), as our board pipeline does (see :func:`resize_plane`).

    Calibration data, ``eval``, the demo, the notebooks and the board all resize with this.
    """
    return resize_plane(rgb, size, antialias)


def timm_resize(rgb: np.ndarray, size: Tuple[int, int], crop_pct: float = 0.875,
                interpolation: str = "bicubic") -> np.ndarray:
    """timm's evaluation transform: shorter side to ``size/crop_pct``, then centre crop ``size``."""
    from PIL import Image

    h, w = size
    scale_to = int(round(min(h, w) / crop_pct))
    img = Image.fromarray(rgb)
    iw, ih = img.size
    if iw <= ih:
        nw, nh = scale_to, int(round(ih * scale_to / iw))
    else:
        nw, nh = int(round(iw * scale_to / ih)), scale_to
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
                "nearest": Image.NEAREST}.get(interpolation, Image.BICUBIC)
    img = img.resize((nw, nh), resample)
    left, top = int(round((nw - w) / 2.0)), int(round((nh - h) / 2.0))
    return np.asarray(img.crop((left, top, left + w, top + h)), dtype=np.uint8)


def normalize_nchw(rgb: np.ndarray, mean, std) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 1x3xHxW with ``(x/255 - mean) / std``."""
    x = rgb.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def deployed_input(src: ImageLike, size: Tuple[int, int], mean, std) -> np.ndarray:
    """What a float model sees on the deployed path: load, :func:`board_resize`, normalise (1x3xHxW)."""
    return normalize_nchw(board_resize(load_image(src), size), mean, std)


def to_nchw_float(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 1x3xHxW in 0..255, un-normalised (the mapper's training input)."""
    return np.ascontiguousarray(rgb.astype(np.float32).transpose(2, 0, 1)[None])


#: the image files every folder reader accepts (calibration, datasets, --compare, the notebooks)
IMAGE_EXTS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")

#: the photographs shipped in data/ (source and licence: data/README.md); camera.jpg is 1-channel
SAMPLE_IMAGES = ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "camera.jpg", "hubble_deep_field.jpg")


def sample_images() -> List[Path]:
    """Paths of the sample photographs in ``data/`` (see ``data/README.md``)."""
    paths = [DATA_DIR / n for n in SAMPLE_IMAGES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise HelpersError(f"sample image(s) missing from {rel_to_repo(DATA_DIR)}: {', '.join(missing)}; "
                           "restore them with git checkout data/")
    return paths


def find_images(folder) -> List[Path]:
    """Image files under ``folder`` (recursive), sorted by relative path: a deterministic order."""
    folder = Path(folder)
    if not folder.exists():
        raise HelpersError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise HelpersError(f"{folder} is not a folder; give a folder of images (jpg, png, ...)")
    try:
        files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS
                        and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                       key=lambda p: p.relative_to(folder).as_posix())
    except PermissionError as e:
        raise HelpersError(f"cannot read {folder}: {e.strerror}; check its permissions") from None
    if not files:
        raise HelpersError(f"no images ({', '.join(IMAGE_EXTS)}) in {folder}; give a folder of "
                           "representative photos (about 100)")
    return files
