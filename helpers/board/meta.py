"""Every ``rdk.*`` metadata key our files carry, in one place. Board-safe (standard library only).

Values are strings (ONNX ``metadata_props`` and safetensors metadata hold strings); lists and
numbers are JSON. Who writes what:

* ``helpers.pc.export``: the float ONNX (model key, weights, mean/std, input size, opset, ...).
* ``helpers.pc.board_model``: the NV12 board model (the float keys plus input type, range, yaml values).
* ``helpers.pc.quantize``: the INT8 preview (``rdk.quantization``).
* ``helpers.training.train``: safetensors checkpoints (classes, epochs, ...).
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional

# -- every model file ------------------------------------------------------------------------------
META_KEY = "rdk.model_key"              # the registry key
META_WEIGHTS = "rdk.weights"            # imagenet / random / the checkpoint's file name
META_LABELS = "rdk.labels"              # JSON list of class names when not ImageNet-1k
META_MEAN = "rdk.mean"                  # JSON [3] of the float model's input normalisation
META_STD = "rdk.std"
META_INPUT_SIZE = "rdk.input_size"      # JSON [H, W]
# -- the float ONNX (export) -----------------------------------------------------------------------
META_OPSET = "rdk.opset"
META_NUM_CLASSES = "rdk.num_classes"
META_TIMM_ID = "rdk.timm_id"
# -- the NV12 board model (board-model) ------------------------------------------------------------
META_INPUT_TYPE = "rdk.input_type_rt"   # nv12 / rgb / bgr for a board-contract model; absent: float NCHW
META_YUV_RANGE = "rdk.yuv_range"
META_YAML = "rdk.board_yaml"
META_MEAN_VALUE = "rdk.mean_value"
META_SCALE_VALUE = "rdk.scale_value"
META_NV12_INPUTS = "rdk.nv12_inputs"    # packed (one (1,H*3/2,W) input, as a .bin) / split (y + uv, as an .hbm)
META_MARCH = "rdk.march"                # the march of the yaml a board model was built from
# -- the INT8 preview (quantize) -------------------------------------------------------------------
META_QUANT = "rdk.quantization"
# -- training checkpoints (safetensors metadata) ---------------------------------------------------
META_CLASSES = "rdk.classes"
META_IMG_SIZE = "rdk.img_size"
META_EPOCH = "rdk.epoch"
META_EPOCHS = "rdk.epochs"
META_REPARAMETERIZED = "rdk.reparameterized"
META_VAL_TOP1 = "rdk.val_top1"
META_INIT_WEIGHTS = "rdk.init_weights"
META_CONV_BRANCHES = "rdk.conv_branches"

RANDOM_WEIGHTS = "random"


def labels_from_metadata(meta: Dict[str, str]) -> Optional[List[str]]:
    """The class names a model file carries (None: ImageNet-1k, or none stored)."""
    raw = meta.get(META_LABELS)
    return list(json.loads(raw)) if raw else None
