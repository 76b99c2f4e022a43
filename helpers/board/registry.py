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


def _zoo_readme(arch: str, lang: str = "") -> str:
    return f"{ZOO_URL}/blob/rdk_x5_legacy/demos/classification/{arch}/README{lang}.md"


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
        """Where the model zoo's ``.bin`` for ``board_key`` is downloaded to (None if none is published)."""
        pub = self.published_for(board(board_key).key)
        return None if pub is None else files.MODEL_DIR / self.arch / pub.bin_name

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


_MOBILEONE_X3 = Published(
    board="x3", bin_url=f"{BIN_BASE_URL}/rdk_x3/MobileOne_224x224_nv12.bin",
    params_m=4.8, float_top1=72.00, quant_top1=71.00,
    latency_1t_ms=4.50, latency_mt_ms=8.70, fps=455.87,
    source=_zoo_readme("MobileOne"),
    note=("The zoo names this model only 'MobileOne'; its export example uses S0, and its float "
          "top-1 (72.00) is close to S0's, but its parameter count (4.8 M) is S1's fused count. "
          "We attribute it to S0 and flag the doubt."),
)

MODELS: Dict[str, ModelSpec] = {m.key: m for m in [
    _mobileone("s0", 0.875, (_MOBILEONE_X3,)),
    _mobileone("s1", 0.9),
    _mobileone("s2", 0.9),
    _mobileone("s3", 0.9),
    _mobileone("s4", 0.9),
    ModelSpec(
        key="mobilenetv1_100", arch="MobileNetV1", display="MobileNetV1",
        timm_tag="ra4_e3600_r224_in1k",
        paper="MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
        paper_url="https://arxiv.org/abs/1704.04861",
        code_url="https://github.com/tensorflow/models/blob/master/research/slim/nets/mobilenet_v1.md",
        mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=0.875, interpolation="bicubic",
        published=(Published(
            board="x5", bin_url=f"{BIN_BASE_URL}/rdk_x5/mobilenetv1_224x224_nv12.bin",
            params_m=1.33, float_top1=71.74, quant_top1=65.36,
            latency_1t_ms=1.27, latency_mt_ms=2.90, fps=1356.25,
            source=_zoo_readme("MobileNetV1", "_cn"),
            note=("Quantised by the vendor's reference algorithm package; the zoo ships no ONNX for "
                  "it, so its weights are not timm's and its parameter count differs from ours."),
        ),),
    ),
    ModelSpec(
        key="mobilenetv3_large_100", arch="MobileNetV3", display="MobileNetV3_Large",
        timm_tag="ra_in1k",
        paper="Searching for MobileNetV3",
        paper_url="https://arxiv.org/abs/1905.02244",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875, interpolation="bicubic",
        published=(Published(
            board="x5", bin_url=f"{BIN_BASE_URL}/rdk_x5/MobileNetV3_224x224_nv12.bin",
            params_m=5.47, float_top1=74.75, quant_top1=64.75,
            latency_1t_ms=2.02, latency_mt_ms=5.53, fps=714.22,
            source=_zoo_readme("MobileNetV3"),
        ),),
    ),
    ModelSpec(
        key="mobilenetv4_conv_small", arch="MobileNetV4", display="MobileNetV4_conv_small",
        timm_tag="e2400_r224_in1k",
        paper="MobileNetV4 - Universal Models for the Mobile Ecosystem",
        paper_url="https://arxiv.org/abs/2404.10518",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875, interpolation="bicubic",
        published=(Published(
            board="x5", bin_url=f"{BIN_BASE_URL}/rdk_x5/MobileNetV4_conv_small_224x224_nv12.bin",
            params_m=3.76, float_top1=70.75, quant_top1=68.75,
            latency_1t_ms=1.18, latency_mt_ms=2.74, fps=1436.22,
            source=_zoo_readme("MobileNetV4"),
        ),),
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
        published=(Published(
            board="x5", bin_url=f"{BIN_BASE_URL}/rdk_x5/MobileNetV4_conv_medium_224x224_nv12.bin",
            params_m=9.68, float_top1=76.75, quant_top1=75.14,
            latency_1t_ms=2.42, latency_mt_ms=6.91, fps=572.36,
            source=_zoo_readme("MobileNetV4"),
        ),),
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


def board(key: str) -> Board:
    try:
        return BOARDS[key]
    except KeyError:
        raise HelpersError(f"unknown board {key!r}; use one of: {', '.join(BOARDS)}") from None
