"""Image datasets: the bundled digits, and readers for ImageFolder and the ImageNet val layouts.

Bundled default: scikit-learn's 8x8 handwritten digits (1,797 real images, 10 classes, shipped
inside scikit-learn, so no download). ``python -m helpers data digits`` writes them as an
ImageFolder, ``data/digits/{train,val}/<digit>/<sklearn index>.png``, with

* a fixed-seed stratified train/val split (``sklearn.model_selection.train_test_split``);
* each digit tinted with a random (seeded) ink and paper colour (:func:`random_colours`): hues
  vary freely, so the digit is partly carried by chroma and the NV12 path (chroma at half
  resolution, the YUV->RGB matrix) is really exercised, not just the Y plane;
* upscaled from 8x8 to the training resolution with bilinear interpolation.

Resolution: :data:`DIGITS_SIZE` = 32, four times the original 8x8, even (NV12 needs even sizes).
MobileOne's total stride is 32, so the final feature map is 1x1. Measured on 2 CPU cores (one
epoch of MobileOne-S0 over the 1,347 training images, one k x k branch): about 10 s at 32 px; with
the model's default four branches 26 s at 32 px and 38 s at 64 px. 32 px with one branch keeps
``python -m helpers demo`` inside its 10-minute budget (see :mod:`helpers.training.demo`).

Readers (:func:`load_split`): an ImageFolder (``DIR/<class>/<image>``, recursive inside a class
folder); the ImageNet val layout as synset folders (``DIR/n01440364/...``: mapped to the model's
1000 outputs through ``helpers.board.labels``); or a flat folder of images with a labels file
(``FILE.txt`` lines ``<image> <index|synset>``, or the Kaggle ``LOC_val_solution.csv``).

For training (:mod:`helpers.training.train`): :class:`TorchImages` (a torch-style dataset over a split),
:class:`TrainTransform` (timm's augmentation) and :class:`DeployedTransform` (the board's resize).

Board-safe at import (numpy only); scikit-learn / OpenCV / torch are imported inside the functions.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.errors import HelpersError
from helpers.board.image import IMAGE_EXTS
from helpers.board.files import DATA_DIR, atomic_output_dir, check_output_dir, rel_to_repo


#: the bundled dataset's folder, resolution and split
DIGITS_DIR = DATA_DIR / "digits"
DIGITS_SIZE = 32
MAX_DIGITS_SIZE = 512
DIGITS_VAL_FRACTION = 0.25
DIGITS_SEED = 0
#: tint (see random_colours): luma ranges of paper and ink, and the largest chroma offset
PAPER_Y = (185.0, 230.0)
INK_Y = (30.0, 85.0)
TINT_CHROMA = 40.0
INFO_FILE = "dataset.json"
#: a labels file: ImageNet's 50,000 validation lines are about 3 MB
MAX_LABELS_BYTES = 64 << 20
SYNSET_RE = re.compile(r"^n\d{8}$")


# ------------------------------------------------------------------------------------------------
# the bundled digits
# ------------------------------------------------------------------------------------------------
def tint_digit(img8: np.ndarray, fg, bg, size: int) -> np.ndarray:
    """One 8x8 digit (values 0..16) -> ``size`` x ``size`` RGB uint8, ink ``fg`` on paper ``bg``."""
    import cv2

    alpha = np.asarray(img8, np.float32) / 16.0
    alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_LINEAR)[:, :, None]
    rgb = np.asarray(bg, np.float32) * (1.0 - alpha) + np.asarray(fg, np.float32) * alpha
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def random_colours(rng: np.random.Generator, n: int, chroma: float = None) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` (ink, paper) RGB colour pairs, drawn in YUV (BT.601 full range, :mod:`helpers.board.nv12`).

    Paper is light (Y in :data:`PAPER_Y`), ink dark (Y in :data:`INK_Y`); each gets its own random
    chroma (U, V offsets up to ``chroma`` from neutral, in gamut). So the digit's shape is carried by
    luma with a consistent polarity, and every image has its own colours, which reach the model
    only through the NV12 chroma planes on the board. (Fully random RGB pairs - light-on-dark mixed
    with dark-on-light and strong colour casts - make a network trained from scratch on 1,347
    images need many times the demo's time budget.)
    """
    from helpers.board.nv12 import yuv_to_rgb_matrix

    chroma = TINT_CHROMA if chroma is None else float(chroma)
    m, off = yuv_to_rgb_matrix("full")

    def draw(y_range):
        while True:
            yuv = np.array([rng.uniform(*y_range), *rng.uniform(-chroma, chroma, 2)]) + np.array([0.0, 128.0, 128.0])
            rgb = m.astype(np.float64) @ (yuv - off)
            if rgb.min() >= 0.0 and rgb.max() <= 255.0:
                return np.rint(rgb).astype(np.int64)

    ink = np.stack([draw(INK_Y) for _ in range(n)])
    paper = np.stack([draw(PAPER_Y) for _ in range(n)])
    return ink, paper


def _digits_info(size: int, val_fraction: float, seed: int) -> Dict:
    return {"name": "digits", "source": "sklearn.datasets.load_digits (UCI optical recognition of "
            "handwritten digits, 8x8, 1797 images)", "size": int(size), "val_fraction": float(val_fraction),
            "seed": int(seed), "tint": {"paper_y": list(PAPER_Y), "ink_y": list(INK_Y), "chroma": TINT_CHROMA},
            # hints for training: digits must not be mirrored, crops must keep the digit; the from-scratch
            # recipe (SGD 0.1, batch 32) reached 96 % in 40 epochs; AdamW (lr 2e-3..1e-2) was at 12-28 % after 4-8
            "train_hints": {"hflip": 0.0, "scale": [0.8, 1.0], "color_jitter": 0.2, "opt": "sgd", "lr": 0.1,
                            "weight_decay": 1e-4, "batch_size": 32}}


def is_digits_name(rel: str) -> bool:
    """A file :func:`make_digits` writes: what ``--overwrite`` may replace in a folder without a manifest."""
    return re.fullmatch(r"dataset\.json|(train|val)/\d+/\d+\.png", rel) is not None


def digits_ready(out, size: int = DIGITS_SIZE, val_fraction: float = DIGITS_VAL_FRACTION,
                 seed: int = DIGITS_SEED) -> bool:
    """True when ``out`` already holds the digits made with these parameters."""
    info = read_info(out)
    want = _digits_info(size, val_fraction, seed)
    return info is not None and all(info.get(k) == v for k, v in want.items()) \
        and (Path(out) / "train").is_dir() and (Path(out) / "val").is_dir()


def make_digits(out=None, size: int = DIGITS_SIZE, val_fraction: float = DIGITS_VAL_FRACTION,
                seed: int = DIGITS_SEED, overwrite: bool = False, progress: bool = True) -> Path:
    """Write the tinted digits as an ImageFolder with ``train/`` and ``val/`` under ``out``.

    Idempotent: when ``out`` already holds the same dataset it is left alone. A different or
    foreign folder is replaced only with ``overwrite``. Built under a temporary name and renamed.
    """
    out = Path(out) if out is not None else DIGITS_DIR
    size = int(size)
    if not 8 <= size <= MAX_DIGITS_SIZE or size % 2:
        raise HelpersError(f"--size must be an even number of pixels in 8..{MAX_DIGITS_SIZE} (NV12 needs even "
                           f"sizes), got {size}")
    if not 0.05 <= val_fraction <= 0.5:
        raise HelpersError(f"val_fraction must be between 0.05 and 0.5, got {val_fraction}")
    if digits_ready(out, size, val_fraction, seed):
        return out
    if out.exists():
        if not out.is_dir():
            raise HelpersError(f"{out} exists and is not a folder; give another --out")
        if any(out.iterdir()) and not overwrite:
            have = read_info(out)
            what = (f"digits made with other settings (size {have.get('size')})" if have and have.get("name") == "digits"
                    else "other files")
            raise HelpersError(f"{rel_to_repo(out)} already holds {what}; pass --overwrite to replace it "
                               "or give another --out")
    check_output_dir(out, overwrite, is_digits_name, "dataset")  # --overwrite replaces only our own files
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from tqdm.auto import tqdm

    import cv2

    digits = load_digits()
    idx = np.arange(len(digits.target))
    train_idx, val_idx = train_test_split(idx, test_size=val_fraction, stratify=digits.target,
                                          random_state=seed)
    fg, bg = random_colours(np.random.default_rng(seed), len(idx))
    with atomic_output_dir(out, overwrite, is_digits_name) as tmp:
        jobs = [("train", i) for i in sorted(train_idx)] + [("val", i) for i in sorted(val_idx)]
        for split, i in tqdm(jobs, desc=f"digits {size}px", unit="img", disable=not progress):
            folder = tmp / split / str(int(digits.target[i]))
            folder.mkdir(parents=True, exist_ok=True)
            rgb = tint_digit(digits.images[i], fg[i], bg[i], size)
            if not cv2.imwrite(str(folder / f"{int(i):04d}.png"), rgb[:, :, ::-1]):
                raise HelpersError(f"could not write images under {out.parent}; check free space and permissions")
        info = _digits_info(size, val_fraction, seed)
        info.update(classes=[str(c) for c in range(10)], train_images=len(train_idx), val_images=len(val_idx))
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return out


def read_info(root) -> Optional[Dict]:
    """The ``dataset.json`` a dataset root carries (the bundled digits do), or None."""
    from helpers.board.safe_read import load_json

    f = Path(root) / INFO_FILE
    if not f.is_file():
        return None
    try:  # bounded: a dataset.json is a few hundred bytes
        info = load_json(f, INFO_FILE)
    except HelpersError:
        return None
    return info if isinstance(info, dict) else None


# ------------------------------------------------------------------------------------------------
# readers
# ------------------------------------------------------------------------------------------------
@dataclass
class ImageSet:
    """A labelled list of image files.

    ``classes`` are the class names (folder names / synsets) and ``targets`` index into them;
    for a file list labelled with plain class indices, ``classes`` is None and ``targets`` are
    already the model's output indices.
    """

    root: Path
    paths: List[Path]
    targets: List[int]
    classes: Optional[List[str]]
    layout: str                      # "imagefolder", "imagenet-synsets", "file-list"
    info: Dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def describe(self) -> str:
        n = "?" if self.classes is None else len(self.classes)
        return f"{rel_to_repo(self.root)}: {len(self)} images, {n} classes ({self.layout})"


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")


def _images_under(folder: Path) -> List[Path]:
    return sorted((p for p in folder.rglob("*") if _is_image(p)
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                  key=lambda p: p.relative_to(folder).as_posix())


def image_folder(folder) -> ImageSet:
    """Read ``folder/<class>/<images>`` (class names sorted, as torchvision's ImageFolder does)."""
    folder = Path(folder)
    if not folder.exists():
        raise HelpersError(f"data folder not found: {folder} (make the bundled one with: python -m helpers data digits)")
    if not folder.is_dir():
        raise HelpersError(f"{folder} is not a folder; give an ImageFolder (DIR/<class>/<image>)")
    class_dirs = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
                        key=lambda d: d.name)
    if not class_dirs:
        loose = [p for p in folder.iterdir() if _is_image(p)]
        if loose:
            raise HelpersError(f"{folder} holds images but no class folders; use DIR/<class>/<image>, or give a "
                               "labels file (--labels FILE.txt with '<image> <class index|synset>' lines)")
        raise HelpersError(f"{folder} holds no class folders; an ImageFolder is DIR/<class>/<image>")
    paths, targets, empty = [], [], []
    for i, d in enumerate(class_dirs):
        files = _images_under(d)
        if not files:
            empty.append(d.name)
        paths += files
        targets += [i] * len(files)
    if empty:
        raise HelpersError(f"class folder(s) with no images in {folder}: {', '.join(empty[:5])}"
                           f"{' ...' if len(empty) > 5 else ''}; add images ({'/'.join(IMAGE_EXTS[:3])}...) or remove them")
    if len(class_dirs) < 2:
        raise HelpersError(f"{folder} has only one class ({class_dirs[0].name}); classification needs at least "
                           "two class folders")
    names = [d.name for d in class_dirs]
    synsets = all(SYNSET_RE.match(n) for n in names)
    return ImageSet(folder, paths, targets, names, "imagenet-synsets" if synsets else "imagefolder")


def _synset_index() -> Dict[str, int]:
    from helpers.board.labels import imagenet_synsets_and_labels

    return {s: i for i, s in enumerate(imagenet_synsets_and_labels()[0])}


def file_list(images, labels_file) -> ImageSet:
    """A flat image folder plus a labels file.

    ``.txt``: one ``<relative image path> <label>`` per line, label an integer class index or a
    synset (e.g. ``ILSVRC2012_val_00000001.JPEG 65``). ``.csv``: Kaggle's ``LOC_val_solution.csv``
    (``ImageId,PredictionString``, the first word of PredictionString is the synset).
    """
    images, labels_file = Path(images), Path(labels_file)
    if not labels_file.is_file():
        raise HelpersError(f"labels file not found: {labels_file}")
    if not images.is_dir():
        raise HelpersError(f"image folder not found: {images}")
    from helpers.board.safe_read import read_bytes

    entries: List[Tuple[str, str]] = []
    text = read_bytes(labels_file, "labels file", MAX_LABELS_BYTES).decode("utf-8", errors="replace").splitlines()
    if labels_file.suffix.lower() == ".csv":
        import csv

        rows = list(csv.reader(text))
        if not rows or [c.strip() for c in rows[0][:2]] != ["ImageId", "PredictionString"]:
            raise HelpersError(f"{labels_file.name}: a .csv labels file must be LOC_val_solution.csv "
                               "(header ImageId,PredictionString)")
        entries = [(r[0].strip(), r[1].split()[0]) for r in rows[1:] if len(r) >= 2 and r[1].split()]
    else:
        for n, line in enumerate(text, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise HelpersError(f"{labels_file.name} line {n}: expected '<image> <label>', got {line.strip()[:60]!r}")
            entries.append((parts[0].strip(), parts[1].strip()))
    if not entries:
        raise HelpersError(f"{labels_file} lists no images")
    by_stem = None
    paths, raw = [], []
    for name, label in entries:
        p = images / name
        if not p.is_file():
            if by_stem is None:  # LOC_val_solution names images without extension
                by_stem = {q.stem: q for q in images.iterdir() if _is_image(q)}
            p = by_stem.get(Path(name).stem if Path(name).suffix.lower() in IMAGE_EXTS else name)
            if p is None:
                raise HelpersError(f"{labels_file.name} names {name!r} but it is not in {images}")
        paths.append(p)
        raw.append(label)
    if all(r.isdigit() for r in raw):
        targets = [int(r) for r in raw]
        if len(set(targets)) < 2:
            raise HelpersError(f"{labels_file.name} has only one class; evaluation needs at least two")
        return ImageSet(images, paths, targets, None, "file-list")
    if all(SYNSET_RE.match(r) for r in raw):
        names = sorted(set(raw))
        pos = {s: i for i, s in enumerate(names)}
        if len(names) < 2:
            raise HelpersError(f"{labels_file.name} has only one class; evaluation needs at least two")
        return ImageSet(images, paths, [pos[r] for r in raw], names, "file-list")
    bad = next(r for r in raw if not (r.isdigit() or SYNSET_RE.match(r)))
    raise HelpersError(f"{labels_file.name}: labels must all be class indices or all synsets (n01440364); got {bad!r}")


def split_dir(data, split: str) -> Path:
    """``data/<split>`` when it exists (a dataset root with train/ and val/), else ``data`` itself."""
    data = Path(data)
    if not data.exists():
        raise HelpersError(f"data folder not found: {data} (the bundled digits: python -m helpers data digits)")
    sub = data / split
    return sub if sub.is_dir() else data


def load_split(data, split: str = "val", labels_file=None) -> ImageSet:
    """The ``split`` of the dataset at ``data``: ``data/<split>`` if present, else ``data``.

    With ``labels_file``, ``data`` is a flat image folder described by that file.
    """
    if labels_file is not None:
        s = file_list(data, labels_file)
    else:
        s = image_folder(split_dir(data, split))
    root_info = read_info(data) or {}
    s.info = root_info
    return s


def check_same_classes(train: ImageSet, val: ImageSet) -> None:
    """Training and validation must name the same classes (in any order on disk)."""
    if train.classes is None or val.classes is None:
        raise HelpersError("training needs class names: use ImageFolder train/ and val/ folders")
    a, b = set(train.classes), set(val.classes)
    if a != b:
        only_t, only_v = sorted(a - b), sorted(b - a)
        parts = ([f"only in train: {', '.join(only_t[:5])}"] if only_t else []) + \
                ([f"only in val: {', '.join(only_v[:5])}"] if only_v else [])
        raise HelpersError(f"val classes differ from training ({'; '.join(parts)}); give train/ and val/ "
                           "folders with the same class folders")


def model_targets(images: ImageSet, labels: Optional[Sequence[str]], num_outputs: int) -> Tuple[np.ndarray, str]:
    """The model-output index of every image, and how classes were matched.

    ``labels``: the class names the model carries (``rdk.labels``; training's classes). Without
    them a 1000-output model is taken to be ImageNet-1k and matched by synset.
    """
    if images.classes is None:  # index-labelled file list
        t = np.asarray(images.targets, np.int64)
        if t.max() >= num_outputs:
            raise HelpersError(f"labels go up to class {int(t.max())} but the model has {num_outputs} outputs")
        return t, "class indices from the labels file"
    if labels is not None:
        labels = [str(x) for x in labels]
        if len(labels) != num_outputs:
            raise HelpersError(f"the model carries {len(labels)} class names for {num_outputs} outputs; re-export it")
        pos = {n: i for i, n in enumerate(labels)}
        unknown = [c for c in images.classes if c not in pos]
        if unknown:
            raise HelpersError(f"val classes differ from the model's training classes: {', '.join(unknown[:5])} "
                               f"not among {', '.join(labels[:10])}{' ...' if len(labels) > 10 else ''}; "
                               "evaluate on data with the classes the model was trained on")
        lut = np.asarray([pos[c] for c in images.classes], np.int64)
        return lut[np.asarray(images.targets, np.int64)], "by class name"
    if num_outputs == 1000:
        syn = _synset_index()
        unknown = [c for c in images.classes if c not in syn]
        if unknown:
            raise HelpersError(f"an ImageNet-1k model needs synset class folders (n01440364 ...); {images.root.name} "
                               f"has {', '.join(unknown[:3])}; use the ImageNet val layout or a model trained on these classes")
        lut = np.asarray([syn[c] for c in images.classes], np.int64)
        return lut[np.asarray(images.targets, np.int64)], "ImageNet synsets"
    raise HelpersError(f"the model has {num_outputs} outputs and carries no class names (rdk.labels); "
                       "export it with labels (helpers.pc.export.export_onnx(..., labels=...))")


def sample_grid(root, split: str = "val", per_class: int = 4):
    """A matplotlib figure of the first ``per_class`` images of every class of ``split``, at 90 dpi.

    A ``matplotlib.figure.Figure`` on its own Agg canvas (:mod:`helpers.board.plot`), never pyplot, so the inline
    backend's flush after a comm message cannot show or close it half-drawn. In a notebook:
    ``helpers.notebooks.display.show_figure(sample_grid(...))``.
    """
    from helpers.board import plot
    from helpers.board.image import load_image

    s = load_split(root, split)
    classes = s.classes or sorted({str(t) for t in s.targets})
    fig = plot.figure((1.1 * len(classes), 1.1 * per_class), dpi=90)
    axes = fig.subplots(per_class, len(classes), squeeze=False)
    for c, name in enumerate(classes):
        paths = [p for p, t in zip(s.paths, s.targets) if t == c][:per_class]
        for r in range(per_class):
            ax = axes[r][c]
            ax.axis("off")
            if r < len(paths):
                ax.imshow(load_image(paths[r]))
        axes[0][c].set_title(name, fontsize=9)
    fig.suptitle(f"{s.describe()}", fontsize=8)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# torch datasets and transforms for training (torch and PIL imported when called)
# ------------------------------------------------------------------------------------------------
class TorchImages:
    """A torch-style dataset over an ImageSet: (transformed image, target)."""

    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images.paths[i]), self.images.targets[i]


class DeployedTransform:
    """Path -> normalised CHW tensor, with the board's resize (what ``eval`` and the board see)."""

    def __init__(self, size: Tuple[int, int], mean, std):
        self.size, self.mean, self.std = size, mean, std

    def __call__(self, path):
        import torch

        from helpers.board.image import deployed_input

        return torch.from_numpy(deployed_input(path, self.size, self.mean, self.std)[0])


class TrainTransform:
    """Path -> augmented, normalised tensor with timm's training transform."""

    def __init__(self, tf):
        self.tf = tf

    def __call__(self, path):
        from PIL import Image

        from helpers.board.image import load_image

        return self.tf(Image.fromarray(load_image(path)))


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def cmd_data(args) -> int:
    out = Path(args.out) if args.out else DIGITS_DIR
    if not 8 <= args.size <= MAX_DIGITS_SIZE or args.size % 2:
        make_digits(out, size=args.size)  # its one-line range error, before anything is read
    was_ready = digits_ready(out, args.size)
    out = make_digits(out, size=args.size, overwrite=args.overwrite)
    info = read_info(out) or {}
    state = "already up to date" if was_ready else "wrote"
    print(f"{state}: {rel_to_repo(out)}  ({info.get('train_images')} train / {info.get('val_images')} val images, "
          f"10 classes, {args.size}x{args.size} RGB PNG, seed {info.get('seed')})")
    print(f"next: python -m helpers train mobileone_s0 --data {rel_to_repo(out)} --weights random --img-size {args.size}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="write the bundled dataset (scikit-learn digits, tinted) as an ImageFolder")
    p.add_argument("name", choices=["digits"], help="dataset to write (digits: sklearn's 8x8 handwritten digits)")
    p.add_argument("--out", help=f"output folder (default: {rel_to_repo(DIGITS_DIR)})")
    p.add_argument("--size", type=int, default=DIGITS_SIZE, help=f"image size in pixels, even (default {DIGITS_SIZE})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing, different dataset folder")
    p.set_defaults(func=cmd_data)
