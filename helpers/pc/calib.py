"""Calibration data for the mapper's ``cal_data_dir``.

Format (vendor PTQ guide, rdk_doc ``ptq_process.md``): one file per sample, written with
``numpy.tofile`` and read back by the toolchain with ``numpy.fromfile`` - raw, headerless, no
``.npy`` header; any file suffix. Each sample has the training-side type, layout and shape of the
yaml (``input_type_train`` rgb, ``input_layout_train`` NCHW, ``input_shape`` 1x3xHxW) and is NOT
normalised: the mapper folds ``mean_value`` / ``scale_value`` into the model. We write float32
(``cal_data_type: 'float32'``, and the folder name ends in ``_f32``, the guide's fallback rule for
the same thing), 0..255, resized with :func:`helpers.board.image.board_resize` exactly like the board
pipeline. The guide asks for about 100 samples.

Grayscale (1-channel) images are converted to RGB by repeating the channel, with a warning: the
board pipeline converts them the same way, so they are legitimate samples (ImageNet has some).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError, brief
from helpers.board.files import atomic_output_dir, check_output_dir
from helpers.board.files import rel_to_repo
from helpers.board.image import board_resize, find_images, load_image, to_nchw_float

SAMPLE_SUFFIX = ".rgb"
DEFAULT_COUNT = 100
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


class GrayscaleImageWarning(UserWarning):
    """A 1-channel image was converted to RGB for calibration."""


def pick(files: List[Path], count: Optional[int]) -> List[Path]:
    """``count`` files spread evenly over the sorted list (class folders are all represented)."""
    if count is None or count >= len(files):
        return list(files)
    if count < 1:
        raise HelpersError(f"--count must be at least 1, got {count}")
    idx = np.linspace(0, len(files) - 1, count).round().astype(int)
    return [files[i] for i in idx]


def is_grayscale(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode in GRAY_MODES
    except Exception:  # unreadable: load_image reports it
        return False


def sample(path, size: Tuple[int, int]) -> np.ndarray:
    """One calibration sample: RGB, board_resize to ``size`` (H, W), NCHW float32 0..255 (1, 3, H, W)."""
    return to_nchw_float(board_resize(load_image(path), size))


def is_sample_name(rel: str) -> bool:
    """A file a calibration run writes (directly in the folder, ``*.rgb``): what ``--overwrite`` may replace."""
    return "/" not in rel and rel.endswith(SAMPLE_SUFFIX) and not rel.startswith(".")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise HelpersError(f"{out} exists and is not a folder; give a new folder for the calibration data")
        if not overwrite and any(out.iterdir()):
            raise HelpersError(f"{out} already exists and is not empty; pass --overwrite to replace it")
        foreign = [p.name for p in out.iterdir() if not (p.is_file() and p.suffix == SAMPLE_SUFFIX)]
        if foreign and any(out.iterdir()):
            raise HelpersError(f"{out} holds files that are not calibration samples (e.g. {brief(foreign[0])}); "
                               "refusing to replace it, give another --out")
    check_output_dir(out, overwrite, is_sample_name, "calibration data")


def write_calibration(key: str, images, out=None, count: Optional[int] = DEFAULT_COUNT,
                      overwrite: bool = False, progress: bool = True,
                      size: Optional[Tuple[int, int]] = None) -> Path:
    """Write calibration samples of ``key`` from the images under ``images`` into ``out``.

    ``out`` defaults to the folder the committed yamls name (``data/calib/<key>_f32``); ``size``
    (H, W) to the registry's input size (the demo deploys at the digits' size). The folder
    is built next to ``out`` under a temporary name and renamed into place when complete.
    Unreadable images are skipped with a warning; if none is readable, nothing is written.
    """
    from tqdm.auto import tqdm

    spec = registry.get(key)
    size = tuple(size) if size is not None else spec.input_size
    out = Path(out) if out is not None else registry.get(key).calib_dir
    _check_out(out, overwrite)
    files = pick(find_images(images), count)
    written, skipped, gray = 0, [], []
    # no manifest inside: the mapper reads every file of cal_data_dir as a sample
    with atomic_output_dir(out, overwrite, is_sample_name, manifest=False) as tmp:
        for i, f in enumerate(tqdm(files, desc=f"calibration {key}", unit="img", disable=not progress)):
            try:
                if is_grayscale(f):
                    gray.append(f.name)
                x = sample(f, size)
            except HelpersError as e:
                skipped.append(f"{f.name}: {e}")
                continue
            x.tofile(tmp / f"{i:05d}_{f.stem}{SAMPLE_SUFFIX}")
            written += 1
        if not written:
            raise HelpersError(f"none of the {len(files)} images in {images} could be read "
                               f"(first: {skipped[0] if skipped else '?'}); give readable images")
        if skipped:
            bombs = sum("decompression bomb" in s for s in skipped)
            what = f" ({bombs} too large to decode: decompression bomb?)" if bombs else ""
            warnings.warn(f"skipped {len(skipped)} unreadable image(s){what}, e.g. {skipped[0]}", stacklevel=2)
        if gray:
            warnings.warn(f"{len(gray)} grayscale image(s) converted to RGB by repeating the channel "
                          f"(as the board pipeline does), e.g. {gray[0]}", GrayscaleImageWarning, stacklevel=2)
    return out


def read_sample(path, size: Tuple[int, int]) -> np.ndarray:
    """Read one sample back the way the toolchain does (``numpy.fromfile``) as (1, 3, H, W)."""
    h, w = size
    x = np.fromfile(str(path), dtype=np.float32)
    if x.size != 3 * h * w:
        raise HelpersError(f"{path} holds {x.size} float32 values; a {w}x{h} sample needs {3 * h * w}")
    return x.reshape(1, 3, h, w)


def run_printing_warnings(fn, *args, **kwargs):
    """Call ``fn``; print the warnings it raised as ``warning: ...`` lines (for the CLI)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, (UserWarning, RuntimeWarning)):
            print(f"warning: {w.message}")
    return result


def cmd_calib(args) -> int:
    from helpers.board.checks import in_range

    in_range("--count", args.count, 1, 100_000, integer=True)
    out = run_printing_warnings(write_calibration, args.key, args.images, args.out, count=args.count,
                                overwrite=args.overwrite)
    n = len([p for p in out.iterdir() if p.suffix == SAMPLE_SUFFIX])
    h, w = registry.get(args.key).input_size
    print(f"wrote {n} samples (float32 1x3x{h}x{w} RGB 0..255, numpy.tofile) to {rel_to_repo(out)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("calib", help="calibration data for the mapper (raw float32 RGB NCHW files)")
    p.add_argument("key", help="registry key (python -m helpers list)")
    p.add_argument("--images", required=True, help="folder of images (searched recursively)")
    p.add_argument("--out", help="output folder (default: data/calib/<key>_f32, what the yamls name)")
    p.add_argument("--count", type=int, default=DEFAULT_COUNT,
                   help=f"number of samples, spread evenly over the sorted images (default {DEFAULT_COUNT})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing calibration folder")
    p.set_defaults(func=cmd_calib)
