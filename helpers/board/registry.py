"""The model registry: every fact about every deployable variant, stated once.

Board-safe: plain data, no torch/timm. Yaml configs, README tables, notebooks and the download
list are generated from this file; ``tests/board/test_registry.py`` checks it against timm's
``pretrained_cfg``. Where a key's files live in the repository is also stated here, once, as
methods of :class:`ModelSpec` (``spec.float_onnx_path``, ``spec.yaml_path("x5")``, ...).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from helpers.board import files
from helpers.errors import HelpersError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Board:
    key: str          # "x3" / "x5": what the CLI takes
    name: str         # marketing name
    march: str        # the mapper's ``march``
    bpu: str          # what the vendor calls the BPU
    cpu: str


BOARDS: Dict[str, Board] = {
    "x3": Board("x3", "RDK X3", "bernoulli2", "2x Bernoulli2 @ 1 GHz, 5 TOPS int8", "4x Cortex-A53 @ 1.5 GHz"),
    "x5": Board("x5", "RDK X5", "bayes-e", "1x Bayes-e @ 1 GHz, 10 TOPS int8", "8x Cortex-A55 @ 1.8 GHz"),
}

ZOO_URL = "https://github.com/D-Robotics/rdk_model_zoo"
BIN_BASE_URL = "https://archive.d-robotics.cc/downloads/rdk_model_zoo"
#: the zoo's folder per board, in its download URLs and in ours: model/<Arch>/rdk_x3/, model/<Arch>/rdk_x5/
BOARD_DIR = {"x3": "rdk_x3", "x5": "rdk_x5"}


def _zoo_readme(board: str, arch: str) -> str:
    """The zoo README holding a board's published table: X5 on branch main
    (``samples/vision/classification/<Arch>/README.md``), X3 on branch rdk_x3
    (``demos/classification/<Arch>/README.md``); the ``model/download.sh`` next to it lists the URLs."""
    if board == "x3":
        return f"{ZOO_URL}/blob/rdk_x3/demos/classification/{arch}/README.md"
    return f"{ZOO_URL}/blob/main/samples/vision/classification/{arch}/README.md"


def _bin_url(board: str, name: str) -> str:
    return f"{BIN_BASE_URL}/{BOARD_DIR[board]}/{name}"


@dataclass(frozen=True)
class Published:
    """Figures the RDK Model Zoo publishes for a ``.bin`` measured on a board (not ours)."""

    board: str              # key of BOARDS
    bin_url: str
    params_m: float         # parameters, millions, as published
    float_top1: float       # ImageNet-1k val top-1 of the float ONNX, %
    quant_top1: float       # top-1 of the quantised .bin on the board, %
    latency_1t_ms: float    # single-thread latency, ms
    latency_mt_ms: float    # multi-thread latency, ms
    fps: float              # multi-thread throughput, frames/s
    source: str             # where the numbers come from
    note: str = ""

    @property
    def bin_name(self) -> str:
        return self.bin_url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelSpec:
    key: str                 # registry key == timm architecture name
    arch: str                # folder under notebooks/, model/, yaml/
    display: str             # human name, also the stem of the .bin we build
    timm_tag: str            # timm pretrained tag (weights on the Hugging Face hub)
    paper: str
    paper_url: str
    code_url: str
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    crop_pct: float          # timm's evaluation crop (for the timm-style resize only)
    interpolation: str       # timm's evaluation interpolation
    input_size: Tuple[int, int] = (224, 224)   # deployed (H, W)
    num_classes: int = 1000
    boards: Tuple[str, ...] = ("x3", "x5")
    reparameterizable: bool = False
    published: Tuple[Published, ...] = ()
    notes: str = ""

    @property
    def timm_name(self) -> str:
        return self.key

    @property
    def timm_id(self) -> str:
        """What ``timm.create_model(..., pretrained=True)`` is given."""
        return f"{self.key}.{self.timm_tag}"

    @property
    def hf_hub_id(self) -> str:
        return f"timm/{self.timm_id}"

    @property
    def bin_stem(self) -> str:
        """``output_model_file_prefix`` of the .bin we build, in the model zoo's naming style."""
        h, w = self.input_size
        return f"{self.display}_{w}x{h}_nv12"

    def published_for(self, board: str) -> Optional[Published]:
        for p in self.published:
            if p.board == board:
                return p
        return None

    # -- where this key's files live (the one home of these paths; folders are git-ignored) --------
    @property
    def float_onnx_path(self) -> Path:
        """``model/<Arch>/<key>.onnx``: what ``python -m helpers export KEY`` writes."""
        return files.MODEL_DIR / self.arch / f"{self.key}.onnx"

    @property
    def board_onnx_path(self) -> Path:
        """``model/<Arch>/<bin_stem>.onnx``: the PC stand-in for the ``.bin`` of the same stem."""
        return files.MODEL_DIR / self.arch / f"{self.bin_stem}.onnx"

    @property
    def bin_path(self) -> Path:
        """``model/<Arch>/<bin_stem>.bin``: where a ``.bin`` built with the toolchain is copied."""
        return files.MODEL_DIR / self.arch / f"{self.bin_stem}.bin"

    def published_bin_path(self, board_key: str) -> Optional[Path]:
        """``model/<Arch>/rdk_<board>/<name>.bin``: where the model zoo's ``.bin`` for ``board_key`` is
        downloaded to (None if none is published). The folder says the board: the X3 and X5 MobileNetV1
        files have the same name."""
        pub = self.published_for(board(board_key).key)
        return None if pub is None else files.MODEL_DIR / self.arch / BOARD_DIR[pub.board] / pub.bin_name

    def bin_candidates(self, board_key: str) -> List[Path]:
        """Where a ``.bin`` for ``board_key`` may be: the one we build, then the published one."""
        paths = [self.bin_path, self.published_bin_path(board_key)]
        return list(dict.fromkeys(p for p in paths if p is not None))

    def yaml_name(self, board_key: str) -> str:
        return f"{self.key}_{board(board_key).key}.yaml"

    def yaml_path(self, board_key: str) -> Path:
        """``yaml/<Arch>/<key>_<board>.yaml``: the committed, generated mapper config."""
        return files.YAML_DIR / self.arch / self.yaml_name(board_key)

    @property
    def calib_dir(self) -> Path:
        """``data/calib/<key>_f32``: the calibration data the committed yamls point at."""
        return files.DATA_DIR / "calib" / f"{self.key}_f32"

    def working_dir(self, board_key: str) -> Path:
        """``build/<Arch>/<key>_<board>``: the mapper's output folder for the committed yamls."""
        return files.REPO_ROOT / "build" / self.arch / f"{self.key}_{board(board_key).key}"


def _mobileone(variant: str, crop_pct: float, published: Tuple[Published, ...] = ()) -> ModelSpec:
    return ModelSpec(
        key=f"mobileone_{variant}", arch="MobileOne", display=f"MobileOne_{variant.upper()}",
        timm_tag="apple_in1k",
        paper="MobileOne: An Improved One millisecond Mobile Backbone",
        paper_url="https://arxiv.org/abs/2206.04040",
        code_url="https://github.com/apple/ml-mobileone",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=crop_pct, interpolation="bilinear",
        reparameterizable=True, published=published,
    )


def _pub(board: str, arch: str, name: str, params_m: float, float_top1: float, quant_top1: float,
         latency_1t_ms: float, latency_mt_ms: float, fps: float, note: str = "") -> Published:
    return Published(board=board, bin_url=_bin_url(board, name), params_m=params_m, float_top1=float_top1,
                     quant_top1=quant_top1, latency_1t_ms=latency_1t_ms, latency_mt_ms=latency_mt_ms, fps=fps,
                     source=_zoo_readme(board, arch), note=note)


# The zoo's RDK X5 MobileOne table (main: samples/vision/classification/MobileOne/README.md), one .bin per variant.
_MOBILEONE_X5 = {
    "s0": _pub("x5", "MobileOne", "MobileOne_S0_224x224_nv12.bin", 2.1, 69.25, 67.58, 0.80, 1.59, 2453.17),
    "s1": _pub("x5", "MobileOne", "MobileOne_S1_224x224_nv12.bin", 4.8, 72.31, 70.45, 1.31, 3.69, 1066.95),
    "s2": _pub("x5", "MobileOne", "MobileOne_S2_224x224_nv12.bin", 7.8, 74.75, 71.25, 2.11, 6.04, 653.68),
    "s3": _pub("x5", "MobileOne", "MobileOne_S3_224x224_nv12.bin", 10.1, 77.27, 75.75, 2.93, 9.04, 437.85),
    "s4": _pub("x5", "MobileOne", "MobileOne_S4_224x224_nv12.bin", 14.8, 78.75, 76.50, 4.58, 15.44, 256.52),
}
_MOBILEONE_X3_S1 = _pub(
    "x3", "MobileOne", "MobileOne_224x224_nv12.bin", 4.8, 72.00, 71.00, 4.50, 8.70, 455.87,
    note=("The zoo names this file only 'MobileOne'. It is S1: the zoo's X3 yaml "
          "(rdk_x3: demos/classification/MobileOne/yaml/MobileOne_config.yaml) converts mobileone_s1.onnx, "
          "and 4.8 M parameters and 72.00 % float top-1 are S1's (the README's export example shows S0)."))
_MOBILENETV1_NOTE = ("Quantised by the vendor's reference algorithm package; the zoo ships no ONNX for it, so its "
                     "weights are not timm's and its parameter count (1.33 M) differs from ours.")

MODELS: Dict[str, ModelSpec] = {m.key: m for m in [
    _mobileone("s0", 0.875, (_MOBILEONE_X5["s0"],)),
    _mobileone("s1", 0.9, (_MOBILEONE_X3_S1, _MOBILEONE_X5["s1"])),
    _mobileone("s2", 0.9, (_MOBILEONE_X5["s2"],)),
    _mobileone("s3", 0.9, (_MOBILEONE_X5["s3"],)),
    _mobileone("s4", 0.9, (_MOBILEONE_X5["s4"],)),
    ModelSpec(
        key="mobilenetv1_100", arch="MobileNetV1", display="MobileNetV1",
        timm_tag="ra4_e3600_r224_in1k",
        paper="MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
        paper_url="https://arxiv.org/abs/1704.04861",
        code_url="https://github.com/tensorflow/models/blob/master/research/slim/nets/mobilenet_v1.md",
        mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=0.875, interpolation="bicubic",
        published=(
            _pub("x3", "MobileNetV1", "mobilenetv1_224x224_nv12.bin", 1.33, 71.74, 65.36, 3.44, 6.10, 647.83,
                 note=_MOBILENETV1_NOTE),
            _pub("x5", "MobileNetV1", "mobilenetv1_224x224_nv12.bin", 1.33, 71.74, 65.36, 1.27, 2.90, 1356.25,
                 note=_MOBILENETV1_NOTE),
        ),
    ),
    ModelSpec(
        key="mobilenetv3_large_100", arch="MobileNetV3", display="MobileNetV3_Large",
        timm_tag="ra_in1k",
        paper="Searching for MobileNetV3",
        paper_url="https://arxiv.org/abs/1905.02244",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875, interpolation="bicubic",
        published=(_pub("x5", "MobileNetV3", "MobileNetV3_224x224_nv12.bin", 5.47, 74.75, 64.75, 2.02, 5.53,
                        714.22),),
    ),
    ModelSpec(
        key="mobilenetv4_conv_small", arch="MobileNetV4", display="MobileNetV4_conv_small",
        timm_tag="e2400_r224_in1k",
        paper="MobileNetV4 - Universal Models for the Mobile Ecosystem",
        paper_url="https://arxiv.org/abs/2404.10518",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875, interpolation="bicubic",
        published=(
            _pub("x3", "MobileNetV4", "MobileNetV4_224x224_nv12.bin", 3.76, 70.50, 70.26, 1.43, 2.96, 1309.17,
                 note=("The zoo names this file only 'MobileNetV4'; its X3 yaml "
                       "(rdk_x3: demos/classification/MobileNetV4/yaml/MobileNetV4_config.yaml) converts "
                       "mobilenetv4_conv_small.onnx.")),
            _pub("x5", "MobileNetV4", "MobileNetV4_conv_small_224x224_nv12.bin", 3.76, 70.75, 68.75, 1.18, 2.74,
                 1436.22),
        ),
    ),
    ModelSpec(
        key="mobilenetv4_conv_medium", arch="MobileNetV4", display="MobileNetV4_conv_medium",
        timm_tag="e500_r224_in1k",
        paper="MobileNetV4 - Universal Models for the Mobile Ecosystem",
        paper_url="https://arxiv.org/abs/2404.10518",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.95, interpolation="bicubic",
        notes=("timm's default tag for this model is e500_r256_in1k (trained at 256); we deploy at "
               "224 like the zoo's .bin, so we take the e500_r224_in1k weights."),
        published=(_pub("x5", "MobileNetV4", "MobileNetV4_conv_medium_224x224_nv12.bin", 9.68, 76.75, 75.14,
                        2.42, 6.91, 572.36),),
    ),
]}

ARCHS: Tuple[str, ...] = tuple(dict.fromkeys(m.arch for m in MODELS.values()))

#: Published training result for MobileOne from the mmpretrain recipe (8 GPUs, ImageNet-1k).
MOBILEONE_MMPRETRAIN = {
    "top1": 71.49, "fps": 1014, "hardware": "8 accelerators (BI x 8)",
    "config": "configs/mobileone/mobileone-s0_8xb32_in1k.py",
    "source": "https://github.com/open-mmlab/mmpretrain (MobileOne recipe)",
}


def get(key: str) -> ModelSpec:
    """The spec for ``key``; an unknown key names the close matches and the full list."""
    try:
        return MODELS[key]
    except KeyError:
        close = difflib.get_close_matches(str(key), MODELS, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise HelpersError(
            f"unknown model key {key!r}: {hint}known keys: {', '.join(MODELS)} "
            f"(python -m helpers list)") from None


def keys(arch: Optional[str] = None) -> List[str]:
    if arch is not None and arch not in ARCHS:
        raise HelpersError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    return [k for k, m in MODELS.items() if arch is None or m.arch == arch]


def published_files() -> List[Tuple[str, Published]]:
    """(key, published entry) for every ``.bin`` the model zoo publishes for these models."""
    return [(k, p) for k, m in MODELS.items() for p in m.published]


def board_of_path(path) -> Optional[str]:
    """The board a ``.bin`` is for when its folder says so (``.../rdk_x3/...``), else None."""
    parts = {p.lower() for p in Path(path).parts[:-1]}
    found = [b for b, d in BOARD_DIR.items() if d in parts]
    return found[0] if len(found) == 1 else None


def board(key: str) -> Board:
    try:
        return BOARDS[key]
    except KeyError:
        raise HelpersError(f"unknown board {key!r}; use one of: {', '.join(BOARDS)}") from None
