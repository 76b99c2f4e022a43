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


_S_SAMPLE = "D-Robotics/rdk_model_zoo samples/vision/mobilenetv4/conversion/ptq_s.yaml"
_IDENTITY = "D-Robotics/rdk_model_zoo platforms/registry.json (targets) and samples/_shared/platforms.py"


@dataclass(frozen=True)
class Board:
    """One board generation, resolved once (:func:`board`) and passed down as this object.

    ``family`` "x": ``hb_mapper makertbin`` builds a ``.bin`` that takes one packed NV12 tensor;
    ``family`` "s": ``hb_compile`` builds an ``.hbm`` that takes NV12 split into ``y (1,H,W,1)`` and
    ``uv (1,H/2,W/2,2)`` (rdk_model_zoo samples/vision/mobilenetv4/conversion/README.md, "Validation").
    How a board names itself: :mod:`helpers.board.identity` reads it, the strings are here.
    """

    key: str          # "x3" / "x5" / "s100" / "s100p" / "s600": what the CLI takes
    name: str         # marketing name
    march: str        # the toolchain's ``march``
    bpu: str          # what the vendor calls the BPU
    cpu: str
    family: str = "x"                      # "x" (X3/X5) or "s" (S100/S100P/S600)
    toolchain: str = "hb_mapper makertbin"  # the compile command
    toolchain_version: str = ""            # the OpenExplorer release the published files were built with
    runtimes: Tuple[str, ...] = ()         # Python runtimes that load its files (backend names of runtime.py)
    suffix: str = ".bin"                   # model file suffix
    nv12_inputs: str = "packed"            # "packed": one (1, H*3/2, W) tensor; "split": y + uv
    zoo_dir: str = ""                      # the zoo's folder in download URLs, ours under model/<Arch>/
    soc_names: Tuple[str, ...] = ()        # /sys/class/boardinfo/soc_name values (lower case)
    board_types: Tuple[str, ...] = ()      # /sys/class/boardinfo/board_type values refining base_soc
    base_soc: str = ""
    socinfo_names: Tuple[str, ...] = ()    # /sys/class/socinfo/soc_name values
    device_tree_models: Tuple[str, ...] = ()  # substrings of /proc/device-tree/model
    source: str = ""

    @property
    def is_s(self) -> bool:
        """An S-series board: hb_compile, .hbm, split NV12."""
        return self.family == "s"

    @property
    def compiler(self) -> str:
        """The toolchain's executable (``hb_mapper`` / ``hb_compile``)."""
        return self.toolchain.split()[0]


def _s_board(key: str, name: str, march: str, **kw) -> Board:
    return Board(key, name, march, f"Nash ({march})", "", family="s", toolchain="hb_compile",
                 toolchain_version="OpenExplorer S 3.7.0 (the published files; " + _S_SAMPLE + ")",
                 runtimes=("hbm_runtime",), suffix=".hbm", nv12_inputs="split", zoo_dir=f"rdk_{key}",
                 source=f"march: {_S_SAMPLE}; identity: {_IDENTITY}", **kw)


BOARDS: Dict[str, Board] = {
    "x3": Board("x3", "RDK X3", "bernoulli2", "2x Bernoulli2 @ 1 GHz, 5 TOPS int8", "4x Cortex-A53 @ 1.5 GHz",
                toolchain_version="OpenExplorer 1.x (X3 / XJ3 toolchain)", runtimes=("hobot_dnn", "bpu_infer_lib"),
                zoo_dir="rdk_x3", device_tree_models=("RDK X3",),
                source="D-Robotics/rdk_model_zoo branch rdk_x3 (demos/classification/*/yaml)"),
    "x5": Board("x5", "RDK X5", "bayes-e", "1x Bayes-e @ 1 GHz, 10 TOPS int8", "8x Cortex-A55 @ 1.8 GHz",
                toolchain_version="OpenExplorer 1.2.8", runtimes=("hobot_dnn", "bpu_infer_lib", "hbm_runtime"),
                zoo_dir="rdk_x5", soc_names=("x5",), socinfo_names=("x5u", "x5h", "x5m"),
                device_tree_models=("RDK X5",),
                source="D-Robotics/rdk_model_zoo samples/vision/mobilenetv4/conversion/ptq_x5.yaml; identity: "
                       + _IDENTITY),
    "s100": _s_board("s100", "RDK S100", "nash-e", soc_names=("s100",)),
    "s100p": _s_board("s100p", "RDK S100P", "nash-m", soc_names=("s100p",), base_soc="s100",
                      board_types=("s100p", "rdk s100p")),
    "s600": _s_board("s600", "RDK S600", "nash-p", soc_names=("s600",)),
}

ZOO_URL = "https://github.com/D-Robotics/rdk_model_zoo"
BIN_BASE_URL = "https://archive.d-robotics.cc/downloads/rdk_model_zoo"
#: the zoo's folder per board, in its download URLs and in ours: model/<Arch>/rdk_x3/, .../rdk_s100/
BOARD_DIR = {k: b.zoo_dir for k, b in BOARDS.items()}
#: the S-series release manifest: every published .hbm's URL and (where recorded) SHA-256
S_MANIFEST = f"{ZOO_URL}/blob/main/docs/release/s/models.yaml"


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
    """A model file the RDK Model Zoo publishes (``.bin`` for X3/X5, ``.hbm`` for S100/S100P/S600) and the
    figures it publishes for it (not ours). A figure the zoo does not publish is None: nothing is derived."""

    board: str              # key of BOARDS
    bin_url: str            # the file's URL, as published (named bin_url for history: .hbm files too)
    params_m: Optional[float]      # parameters, millions, as published
    float_top1: Optional[float]    # top-1 of the float ONNX, % (on ``dataset``)
    quant_top1: Optional[float]    # top-1 of the quantised file on the board, %
    latency_1t_ms: Optional[float]  # single-thread latency, ms
    latency_mt_ms: Optional[float]  # multi-thread latency, ms
    fps: Optional[float]           # multi-thread throughput, frames/s
    source: str             # where the numbers come from
    note: str = ""
    input_size: Tuple[int, int] = (224, 224)   # (H, W) the file takes
    sha256: Optional[str] = None    # the publisher's digest, where its manifest records one
    url_source: str = ""            # where the URL is listed (the manifest), when not ``source``
    dataset: str = "ImageNet-1k val"   # what the top-1 figures are measured on
    threads_mt: Optional[int] = None   # threads of the multi-thread figures, when published
    params_source: str = ""         # where ``params_m`` is published, when not ``source``
    # The NV12 range the file was compiled for ("full" = yaml ``regular``, "limited" = ``bt601_video``): what
    # our code feeds it. It is read from the vendor config that built the file (``yuv_range_source``).
    yuv_range: str = "full"
    yuv_range_source: str = ""
    # True when the file's output is already softmax probabilities (no second softmax), with its source.
    output_is_probability: bool = False
    output_source: str = ""

    @property
    def bin_name(self) -> str:
        """The file name (``.bin`` or ``.hbm``)."""
        return self.bin_url.rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        return self.bin_url

    @property
    def suffix(self) -> str:
        return Path(self.bin_name).suffix


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
    boards: Tuple[str, ...] = ("x3", "x5", "s100", "s100p", "s600")
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

    def board_onnx_for(self, board_key) -> Path:
        """The PC stand-in for ``board_key``'s file: :attr:`board_onnx_path` (packed NV12, as the ``.bin``) for
        X3/X5; ``model/<Arch>/<bin_stem>_<board>.onnx`` (split NV12, as the ``.hbm``) for an S board."""
        b = board(board_key)
        return files.MODEL_DIR / self.arch / f"{self.bin_stem}_{b.key}.onnx" if b.is_s else self.board_onnx_path

    @property
    def bin_path(self) -> Path:
        """``model/<Arch>/<bin_stem>.bin``: where a ``.bin`` built with the toolchain is copied."""
        return files.MODEL_DIR / self.arch / f"{self.bin_stem}.bin"

    def built_path(self, board_key) -> Path:
        """``model/<Arch>/<bin_stem><suffix>``: where the file we build for ``board_key`` is copied
        (``.bin`` for X3/X5, ``.hbm`` for the S boards)."""
        return files.MODEL_DIR / self.arch / f"{self.bin_stem}{board(board_key).suffix}"

    def published_bin_path(self, board_key) -> Optional[Path]:
        """``model/<Arch>/rdk_<board>/<name>``: where the model zoo's file for ``board_key`` is
        downloaded to (None if none is published). The folder says the board: the X3 and X5 MobileNetV1
        files have the same name, and so have the S100 and S600 ``.hbm`` files."""
        pub = self.published_for(board(board_key).key)
        return None if pub is None else files.MODEL_DIR / self.arch / BOARD_DIR[pub.board] / pub.bin_name

    def bin_candidates(self, board_key) -> List[Path]:
        """Where a model file for ``board_key`` may be: the one we build, then the published one."""
        paths = [self.built_path(board_key), self.published_bin_path(board_key)]
        return list(dict.fromkeys(p for p in paths if p is not None))

    def yaml_name(self, board_key) -> str:
        return f"{self.key}_{board(board_key).key}.yaml"

    def yaml_path(self, board_key) -> Path:
        """``yaml/<Arch>/<key>_<board>.yaml``: the committed, generated mapper config."""
        return files.YAML_DIR / self.arch / self.yaml_name(board_key)

    @property
    def calib_dir(self) -> Path:
        """``data/calib/<key>_f32``: the calibration data the committed yamls point at."""
        return files.DATA_DIR / "calib" / f"{self.key}_f32"

    def working_dir(self, board_key) -> Path:
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


# Which vendor config built each published file, for its NV12 range (``input_space_and_range``; absent =
# ``regular``, full range, the toolchain default: helpers/pc/mapper.py ``range_of``). X3/X5: the yamls committed
# next to the zoo's published tables; none of them has the key. The later ``conversion/ptq_x5.yaml`` files
# (main) say ``bt601_video`` and claim the published parameters, but name other outputs (``mobilenetv4_x5``):
# docs/nv12.md ("Which NV12 range do the zoo's published files take?") says which we follow and why.
_X_YAML = {
    ("x3", "MobileOne"): f"{ZOO_URL}/blob/rdk_x3/demos/classification/MobileOne/yaml/MobileOne_config.yaml",
    ("x3", "MobileNetV4"): f"{ZOO_URL}/blob/rdk_x3/demos/classification/MobileNetV4/yaml/MobileNetV4_config.yaml",
    ("x5", "MobileOne"): f"{ZOO_URL}/blob/main/samples/vision/classification/MobileOne/yaml/MobileOne_S0_config.yaml"
                         " (S0..S4)",
    ("x5", "MobileNetV3"): f"{ZOO_URL}/blob/main/samples/vision/classification/MobileNetV3/yaml/"
                           "MobileNetV3_config.yaml",
    ("x5", "MobileNetV4"): f"{ZOO_URL}/blob/main/samples/vision/classification/MobileNetV4/yaml/"
                           "MobileNetV4_small.yaml, MobileNetV4_medium.yaml",
}
_NO_KEY = ": no input_space_and_range key (= regular)"
_V1_X3_RANGE = ("no config published for this file (quantised by the vendor's reference package); we assume the "
                "toolchain default, regular")
_V1_PTQ = f"{ZOO_URL}/blob/main/samples/vision/mobilenetv1/conversion/{{}}"


def _pub(board: str, arch: str, name: str, params_m: float, float_top1: float, quant_top1: float,
         latency_1t_ms: float, latency_mt_ms: float, fps: float, note: str = "", yuv_range: str = "full",
         yuv_range_source: str = "") -> Published:
    return Published(board=board, bin_url=_bin_url(board, name), params_m=params_m, float_top1=float_top1,
                     quant_top1=quant_top1, latency_1t_ms=latency_1t_ms, latency_mt_ms=latency_mt_ms, fps=fps,
                     source=_zoo_readme(board, arch), note=note, yuv_range=yuv_range,
                     yuv_range_source=yuv_range_source or _X_YAML[(board, arch)] + _NO_KEY)


# The S-series files (docs/release/s/models.yaml on the zoo's main branch: URL, file name; its sha256 is null
# for every file below). Figures: RDK S100 only, from the rdk_s sample READMEs ("hrt_model_exec perf
# --core_id=0 --frame_count=200", thread_num 1 and 3); the zoo publishes no S-series top-1 for these files
# and no S600 / S100P figures. S100P: the manifest lists no file of these models.
_S_PERF_README = f"{ZOO_URL}/blob/rdk_s/samples/vision/{{}}/README.md"
_S_CONVERSION = f"{ZOO_URL}/blob/main/samples/vision/{{}}/conversion/README.md"


def _hbm(board: str, sample: str, name: str, size: int = 224, params_m: Optional[float] = None,
         perf: Optional[Tuple[float, float, float, float]] = None, note: str = "", params_source: str = "",
         yuv_range: str = "full", yuv_range_source: str = "", output_is_probability: bool = False,
         output_source: str = "") -> Published:
    """A published .hbm; ``perf`` = (latency 1 thread ms, FPS 1 thread, latency 3 threads ms, FPS 3 threads)."""
    lat1, fps1, lat3, fps3 = perf if perf else (None, None, None, None)
    if perf:
        note = f"1 thread: {fps1} FPS. " + note
    return Published(board=board, bin_url=f"{BIN_BASE_URL}/{BOARD_DIR[board]}/MobileNet/{name}", params_m=params_m,
                     float_top1=None, quant_top1=None, latency_1t_ms=lat1, latency_mt_ms=lat3, fps=fps3,
                     source=_S_PERF_README.format(sample) if perf else S_MANIFEST, note=note.strip(),
                     input_size=(size, size), sha256=None, url_source=S_MANIFEST, dataset="",
                     threads_mt=3 if perf else None, params_source=params_source, yuv_range=yuv_range,
                     yuv_range_source=yuv_range_source, output_is_probability=output_is_probability,
                     output_source=output_source)


# The S configs whose output_model_file_prefix (and, for medium, 256x256 input) match the published .hbm files;
# none has input_space_and_range (= regular, full range). ptq_s.yaml (bt601_video) names other outputs
# (mobilenetv4_@TARGET@) and a 224x224 input, so it cannot have built the 256x256 medium file.
_S_CFG = f"{ZOO_URL}/blob/main/samples/vision/{{}}/conversion/{{}}" + _NO_KEY
_V4_PARAMS = f"{_S_CONVERSION.format('mobilenetv4')} ('Export': the exporter's count, small 3,761,480 / medium 9,681,560)"
_V3_PARAMS = (_zoo_readme("x5", "MobileNetV3") + " (the X5 table: the same timm mobilenetv3_large_100 the S config "
              "mobilenetv3_s_config.yaml converts; the S manifest records no parameters)")
_V1_S_RANGE = (_V1_PTQ.format("ptq_s.yaml") + ": bt601_video (the only S config for MobileNetV1; its 127.5 "
               "normalisation does not fit the MobileNet-Caffe source the conversion README names)")
_V1_S_OUTPUT = _S_CONVERSION.format("mobilenetv1") + " ('Validation': post-softmax probabilities)"

_V3_S_NOTE = ("Toolchain estimate (hb_compile perf, 1 core): 2616.81 FPS, 0.38 ms; quantised-vs-float output "
              "cosine 0.909 (conversion README, 'Validation').")
_V4S_S_NOTE = ("Toolchain estimate (1 core): 5698.18 FPS, 0.18 ms; output cosine 0.99988 "
               "(conversion README, 'Validation').")
_V4M_S_NOTE = ("The S file takes 256x256 (ours and the X5 file: 224x224). Toolchain estimate (1 core): 2468.07 FPS, "
               "0.41 ms; output cosine 0.999863 (conversion README, 'Validation').")
_V1_S_NOTE = ("Converted from a MobileNet-Caffe model (conversion README, 'Source model'), not timm's weights; "
              "its output is post-softmax probabilities.")
_V3_S_RANGE = dict(yuv_range_source=_S_CFG.format("mobilenetv3", "mobilenetv3_s_config.yaml"))
_V4S_S_FACTS = dict(params_m=3.761480, params_source=_V4_PARAMS,
                    yuv_range_source=_S_CFG.format("mobilenetv4", "mobilenetv4_small_config.yaml"))
_V4M_S_FACTS = dict(params_m=9.681560, params_source=_V4_PARAMS,
                    yuv_range_source=_S_CFG.format("mobilenetv4", "mobilenetv4_medium_config.yaml"))
_S_FILES = {
    "mobilenetv1_100": tuple(_hbm(b, "mobilenetv1", "mobilenetv1_224x224_nv12.hbm", note=_V1_S_NOTE,
                                  yuv_range="limited", yuv_range_source=_V1_S_RANGE, output_is_probability=True,
                                  output_source=_V1_S_OUTPUT)
                             for b in ("s100", "s600")),
    "mobilenetv3_large_100": (
        _hbm("s100", "mobilenetv3", "mobilenetv3_224x224_nv12.hbm", params_m=5.47, params_source=_V3_PARAMS,
             perf=(0.543, 1771.793, 0.881, 3276.057), note=_V3_S_NOTE, **_V3_S_RANGE),
        _hbm("s600", "mobilenetv3", "mobilenetv3_224x224_nv12.hbm", params_m=5.47, params_source=_V3_PARAMS,
             **_V3_S_RANGE)),
    "mobilenetv4_conv_small": (
        _hbm("s100", "mobilenetv4", "mobilenetv4_small_224x224_nv12.hbm", perf=(0.388, 2423.449, 0.557, 5130.441),
             note=_V4S_S_NOTE, **_V4S_S_FACTS),
        _hbm("s600", "mobilenetv4", "mobilenetv4_small_224x224_nv12.hbm", **_V4S_S_FACTS)),
    "mobilenetv4_conv_medium": (
        _hbm("s100", "mobilenetv4", "mobilenetv4_medium_256x256_nv12.hbm", 256, perf=(0.595, 1612.084, 0.962, 3000.570),
             note=_V4M_S_NOTE, **_V4M_S_FACTS),
        _hbm("s600", "mobilenetv4", "mobilenetv4_medium_256x256_nv12.hbm", 256,
             note="The S file takes 256x256 (ours and the X5 file: 224x224).", **_V4M_S_FACTS)),
}
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
          "and 4.8 M parameters and 72.00 % float top-1 are S1's (the zoo README's export example shows S0)."))
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
                 note=_MOBILENETV1_NOTE, yuv_range_source=_V1_X3_RANGE),
            _pub("x5", "MobileNetV1", "mobilenetv1_224x224_nv12.bin", 1.33, 71.74, 65.36, 1.27, 2.90, 1356.25,
                 note=_MOBILENETV1_NOTE, yuv_range="limited",
                 yuv_range_source=_V1_PTQ.format("ptq_x5.yaml") + ": bt601_video (the only X5 config for "
                                  "MobileNetV1)"),
        ) + _S_FILES["mobilenetv1_100"],
    ),
    ModelSpec(
        key="mobilenetv3_large_100", arch="MobileNetV3", display="MobileNetV3_Large",
        timm_tag="ra_in1k",
        paper="Searching for MobileNetV3",
        paper_url="https://arxiv.org/abs/1905.02244",
        code_url="https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/mobilenetv3.py",
        mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875, interpolation="bicubic",
        published=(_pub("x5", "MobileNetV3", "MobileNetV3_224x224_nv12.bin", 5.47, 74.75, 64.75, 2.02, 5.53,
                        714.22),) + _S_FILES["mobilenetv3_large_100"],
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
        ) + _S_FILES["mobilenetv4_conv_small"],
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
                        2.42, 6.91, 572.36),) + _S_FILES["mobilenetv4_conv_medium"],
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


def published_of_path(path, key: Optional[str] = None) -> Optional[Published]:
    """The published entry a model file is, by its name (and its folder's board when the name is shared, as
    the S100 and S600 ``.hbm`` files are), else None: a file we build is not a published one."""
    name, where = Path(path).name, board_of_path(path)
    found = [p for k, p in published_files() if p.bin_name == name and (key is None or k == key)
             and (where is None or p.board == where)]
    return found[0] if len({(p.yuv_range, p.output_is_probability) for p in found}) == 1 else None


def board_of_path(path) -> Optional[str]:
    """The board a model file is for when its folder says so (``.../rdk_x3/...``, ``.../rdk_s600/...``,
    or the zoo's own ``s100/`` / ``nash-e/`` sub-folders), else None."""
    parts = {p.lower() for p in Path(path).parts[:-1]}
    found = [b for b, d in BOARD_DIR.items() if d in parts]
    if not found:  # the zoo's S layout: model/s100/x.hbm, or per march: nash-e/x.hbm
        found = [k for k, b in BOARDS.items() if b.is_s and (k in parts or b.march in parts)]
    return found[0] if len(found) == 1 else None


def board(key) -> Board:
    """The :class:`Board` for ``key`` ("x3", ..., "s600"); a Board is returned as it is, so a function
    may take either and resolve once."""
    if isinstance(key, Board):
        return key
    try:
        return BOARDS[key]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(key), BOARDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise HelpersError(f"unknown board {key!r}{hint}; use one of: {', '.join(BOARDS)}") from None
