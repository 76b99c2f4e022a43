"""Image in, top-k out: the same code path on a board (.bin) and on a PC (.onnx). Board-safe.

The input the model declares decides the preprocessing:

* ``nv12``  (a board .bin, or our NV12 board-model ONNX): board resize -> NV12 in the yaml's range;
  mean/std live inside the model.
* ``rgb``/``bgr`` uint8 NHWC board models: board resize, channel order; mean/std inside the model.
* ``float32`` NCHW (the exported ONNX): board resize -> (x/255 - mean)/std, mean/std from the
  model's metadata or the registry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from helpers.board import nv12 as nv12mod
from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.image import ImageLike, board_resize, load_image, normalize_nchw
from helpers.board.labels import Prediction, imagenet_labels, softmax, topk
from helpers.board.runtime import BOARD_BACKENDS, Backend, open_model
from helpers.board.meta import META_KEY, META_MEAN, META_STD, META_WEIGHTS, META_YUV_RANGE, labels_from_metadata


@dataclass
class Prepared:
    """What one image becomes before it reaches the model: the feed, and the resized RGB frame.

    An NV12 model's feed is made from the source frame (:func:`helpers.board.nv12.prepare_nv12`), so its
    resized RGB (for figures) is computed only when asked for.
    """

    resized: Optional[np.ndarray]           # the RGB frame at the model size, or None until asked for
    feed: np.ndarray                        # what is handed to the backend
    source: Optional[np.ndarray] = None     # the RGB frame as loaded (any size)
    size: Optional[Tuple[int, int]] = None  # the model's (H, W)

    @property
    def rgb(self) -> np.ndarray:
        """The RGB frame at the model size (:func:`helpers.board.image.board_resize` of the source)."""
        if self.resized is None:
            self.resized = board_resize(self.source, self.size)
        return self.resized


def board_feed(rgb: np.ndarray, kind: str, yuv_range: str = nv12mod.DEFAULT_RANGE) -> np.ndarray:
    """The feed of a board model (``nv12``, ``rgb`` or ``bgr`` input) for an RGB uint8 HxWx3 frame already
    at its size (:meth:`Classifier.feed`). A source frame of another size goes through
    :meth:`Classifier.prepare` instead, which for NV12 resizes and converts at once
    (:func:`helpers.board.nv12.prepare_nv12`); the agreement check encodes the same pixels with
    :func:`helpers.board.nv12.rgb_to_nv12` itself, as this function does for ``nv12``.
    """
    if kind == "nv12":
        return nv12mod.rgb_to_nv12(rgb, yuv_range)
    if kind == "rgb":
        return np.ascontiguousarray(rgb[None])
    if kind == "bgr":
        return np.ascontiguousarray(rgb[None, :, :, ::-1])
    raise HelpersError(f"board input type {kind!r} is not supported; use nv12, rgb or bgr")


def _check_float_input(name: str, info) -> None:
    """A float model must take one 1x3xHxW float32 image of a fixed size: say what else it takes."""
    shape = tuple(info.shape)
    if info.dtype not in ("float32", "float"):
        raise HelpersError(f"{name} takes {info.dtype} input; these tools feed float32 1x3xHxW images "
                           "(or the board model's NV12 uint8) - re-export it (python -m helpers export KEY)")
    if len(shape) != 4:
        raise HelpersError(f"{name} takes a {len(shape)}-D input {list(shape)}; expected one 1x3xHxW image")
    if info.layout == "NCHW" and shape[1] != 3:
        if shape[3] == 3:
            raise HelpersError(f"{name} takes NHWC input {list(shape)} (channels last); these tools feed NCHW "
                               "1x3xHxW - export with channels first (python -m helpers export KEY)")
        raise HelpersError(f"{name} takes input {list(shape)} with {shape[1]} channels; expected 1x3xHxW RGB")
    if any(d <= 0 for d in info.hw):
        raise HelpersError(f"{name} has a dynamic input size {list(shape)}; export it with a fixed H and W")


class Classifier:
    """Load a model file and classify images with it.

    ``key`` names the registry entry when the file does not carry it (a .bin does not).
    ``yuv_range`` overrides the NV12 range (default: the model's metadata, else the registry's).
    """

    def __init__(self, model_path, key: Optional[str] = None, backend: str = "auto",
                 yuv_range: Optional[str] = None, threads: Optional[int] = None,
                 labels: Optional[Sequence[str]] = None):
        self.runtime: Backend = open_model(model_path, backend=backend, threads=threads)
        meta = self.runtime.metadata
        key = key or meta.get(META_KEY)
        self.spec = registry.get(key) if key else None
        self.info = self.runtime.input
        self.kind = self.info.dtype if self.info.dtype in ("nv12", "rgb", "bgr") else "float"
        if self.runtime.name in BOARD_BACKENDS and self.kind != "nv12":
            where = f" ({self.spec.yaml_path('x5').parent.name}/ in yaml/)" if self.spec else ""
            raise HelpersError(f"{self.runtime.path.name} takes {self.info.dtype} input, not NV12: these notebooks "
                               "feed the board NV12 (and hobot_dnn copies only NV12 whole); rebuild it with "
                               f"input_type_rt: 'nv12' in its mapper yaml{where}")
        if self.kind == "float":
            _check_float_input(self.runtime.path.name, self.info)
        self.size = self.info.hw
        sizes = {tuple(self.spec.input_size)} | {tuple(p.input_size) for p in self.spec.published} if self.spec else set()
        if self.spec is not None and self.spec.num_classes == self._num_outputs() and tuple(self.size) not in sizes:
            h, w = self.spec.input_size
            raise HelpersError(f"{self.runtime.path.name} takes {self.size[1]}x{self.size[0]} input but the registry "
                               f"deploys {self.spec.key} at {w}x{h}; re-export it or pass the right key")
        # A file the zoo publishes: the range its vendor config names and whether it outputs probabilities
        # (registry.Published, with sources). Else an .hbm without our metadata is one of ours from an S config
        # we generate (bt601_video: helpers.pc.nash.DEFAULT_RANGE says why); else our X3/X5 default.
        self.published = registry.published_of_path(self.runtime.path, self.spec.key if self.spec else None)
        if self.published is not None:
            default = self.published.yuv_range
        else:
            default = "limited" if self.runtime.path.suffix == ".hbm" else nv12mod.DEFAULT_RANGE
        self.yuv_range = nv12mod.check_range(yuv_range or meta.get(META_YUV_RANGE) or default)
        #: the output is already softmax probabilities (the registry says so for this published file)
        self.output_is_probability = bool(self.published is not None and self.published.output_is_probability)
        if self.kind == "float":
            if META_MEAN in meta:
                self.mean, self.std = json.loads(meta[META_MEAN]), json.loads(meta[META_STD])
            elif self.spec is not None:
                self.mean, self.std = self.spec.mean, self.spec.std
            else:
                raise HelpersError(f"{self.runtime.path.name} carries no mean/std metadata; give the registry key "
                                   "(--key KEY on the command line, key=... in Python; keys: python -m helpers list)")
        self.labels = list(labels) if labels is not None else labels_from_metadata(meta)
        if self.labels is None and self._num_outputs() == 1000:
            self.labels = list(imagenet_labels())
        self.weights = meta.get(META_WEIGHTS, "unknown")

    def _num_outputs(self) -> int:
        shape = self.runtime.outputs[0].shape
        return int(np.prod([d for d in shape if d and d > 0])) if shape else 0

    @property
    def random_weights(self) -> bool:
        """True when the model was exported with random weights: its labels mean nothing."""
        return self.weights == "random"

    @property
    def backend(self) -> str:
        return self.runtime.name

    def feed(self, rgb: np.ndarray) -> np.ndarray:
        """What the runtime is given for an RGB uint8 frame already at the model size (see :func:`board_feed`)."""
        if self.kind == "float":
            return normalize_nchw(rgb, self.mean, self.std)
        return board_feed(rgb, self.kind, self.yuv_range)

    def prepare(self, image: ImageLike) -> Prepared:
        """Load and resize one image, and build the feed: what the board pipeline does per frame."""
        frame = load_image(image)
        if self.kind == "nv12":
            return Prepared(None, nv12mod.prepare_nv12(frame, self.size, self.yuv_range), frame, self.size)
        rgb = board_resize(frame, self.size)
        return Prepared(rgb, self.feed(rgb), frame, self.size)

    def nv12_feed(self, frame: np.ndarray, height: int, width: int, frame_range: Optional[str] = None) -> np.ndarray:
        """The feed for an NV12 camera frame (``height`` x ``width``, in ``frame_range``, default the model's).

        An NV12 model gets the frame resized plane by plane (:func:`helpers.board.nv12.resize_nv12`), with
        no RGB round trip; other models get the resized frame converted to RGB.
        """
        frame_range = frame_range or self.yuv_range
        if self.kind == "nv12":
            return nv12mod.resize_nv12(frame, height, width, self.size, frame_range, self.yuv_range)
        small = nv12mod.resize_nv12(frame, height, width, self.size, frame_range)
        return self.feed(nv12mod.nv12_to_rgb(small, *self.size, frame_range))

    def logits(self, image: ImageLike) -> np.ndarray:
        """The raw output vector for one image (float32, flattened)."""
        return self.run(self.prepare(image).feed)

    def run(self, feed: np.ndarray) -> np.ndarray:
        return np.asarray(self.runtime.run(feed)[0], dtype=np.float32).reshape(-1)

    def to_probs(self, output: np.ndarray) -> np.ndarray:
        """Class probabilities from the raw output: softmax, unless the output already is probabilities."""
        if self.output_is_probability:
            return np.asarray(output, dtype=np.float64).reshape(-1)
        return softmax(output)

    def probs(self, image: ImageLike) -> np.ndarray:
        return self.to_probs(self.logits(image))

    def predict(self, image: ImageLike, k: int = 5) -> List[Prediction]:
        return topk(self.logits(image), k, self.labels, probabilities=self.output_is_probability)
