"""Quantisation schemes and calibration methods of the INT8 preview, and per-node precision (PC only).

Two schemes (``--scheme``):

* ``ort`` (the default of ``python -m helpers quantize``, unchanged): onnxruntime's QDQ defaults -
  int8 activations per tensor with a zero point (asymmetric), symmetric int8 weights, per-channel
  weight scales chosen by measurement (``--per-channel auto``).
* ``bpu``: closer to what the BPU does - symmetric int8 activations per tensor (zero point 0) and
  symmetric per-channel int8 weights. (The PTQ guide does not spell out the BPU's number format;
  symmetric int8 with per-channel weights is what its calibration nodes hold: one scale per tensor
  or per channel, no zero point - rdk_doc ``ptq_process.md``, "calibrated_model.onnx".)

Calibration, named as the mapper's ``calibration_type`` names it (rdk_doc ``ptq_process.md``,
calibration parameters and "accuracy tuning"), side by side with onnxruntime's calibrators:

============  ==============================================  =========================================
mapper        what the mapper does                            the PC preview (onnxruntime)
============  ==============================================  =========================================
``max``       max of |x| over the calibration data;           ``MinMax``; with ``max_percentile`` < 1:
              ``max_percentile`` clips (default 1.0)           ``Percentile`` at 100 x max_percentile
``kl``        KL-divergence threshold                          ``Entropy`` (KL divergence of histograms)
``default``   tries max, max with percentile 0.99995 and KL,  the same three (``MinMax``, ``Percentile``
              keeps the one whose output agrees best with      99.995, ``Entropy``); keeps the one whose
              float (cosine similarity, first sample)          INT8 model agrees best with float on the
                                                               calibration samples (top-1, then logit
                                                               error)
``mix``       per-node search over several methods            not previewed (error)
``load``      QAT model's own scales                           not previewed (error)
``skip``      random calibration (speed checks only)           not previewed (error)
(none)        -                                                ``Distribution``: fits a distribution for
                                                               float8 scales; no mapper counterpart,
                                                               not offered
============  ==============================================  =========================================

Ranges are computed **once** per method with onnxruntime's calibrator (``create_calibrator``) and
stored with ``save_tensors_data``; every variant (all-int8, one node kept, the top-k kept) is then
built from the stored ranges through ``quantize_static(calibration_cache_path=...)`` without
running the calibration data again.

Kept nodes (what the yaml's ``node_info`` / ``run_on_cpu`` ask for, :mod:`helpers.pc.node_info`):
``int16`` - the node's activation inputs and outputs are quantised to int16 (onnxruntime's
``TensorQuantOverrides``; the model moves to opset 21, which 16-bit Q/DQ needs), its weights stay
int8; ``float`` - the node is left out of quantisation (``nodes_to_exclude``), as on the X3's CPU.
Per board: X5 and the S boards (nash, ``hb_compile``) keep nodes in int16 (``node_info``) and can put the
whole model in int16 (``optimization: set_all_nodes_int16``: the preview's "every layer kept" ceiling);
X3 keeps them in float on the CPU (:mod:`helpers.pc.node_info` has the sources). The calibration types
above are the ones the zoo's S configs use too (``calibration_type: default``, ptq_s.yaml).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from helpers.errors import HelpersError


@dataclass(frozen=True)
class Scheme:
    name: str
    activation_symmetric: bool
    per_channel: Optional[bool]      # None: measured (quantize --per-channel auto)
    text: str


SCHEMES: Dict[str, Scheme] = {
    "ort": Scheme("ort", False, None, "onnxruntime QDQ defaults: asymmetric int8 activations per tensor, "
                                      "symmetric int8 weights, per-channel chosen by measurement"),
    "bpu": Scheme("bpu", True, True, "BPU-like: symmetric int8 activations per tensor, symmetric "
                                     "per-channel int8 weights"),
}

#: the mapper's calibration_type values the preview reproduces, and the ones it cannot
CALIBRATION_TYPES = ("default", "max", "kl")
NOT_PREVIEWED = {
    "mix": "the mapper's per-node search over several methods; the preview has no equivalent (use default)",
    "load": "scales from a QAT model; nothing to calibrate on the PC",
    "skip": "random calibration for speed checks; its accuracy means nothing",
}
#: the onnxruntime method names ``quantize --method`` has always taken
ORT_METHODS = ("minmax", "entropy", "percentile")
DEFAULT_PERCENTILE = 99.995     # the mapper's default search tries max_percentile 0.99995


@dataclass(frozen=True)
class Method:
    """One onnxruntime calibration: a label for tables, the calibrator and its options."""
    label: str
    ort: str                         # CalibrationMethod member name
    options: Tuple[Tuple[str, float], ...] = ()

    def calibration_method(self):
        from onnxruntime.quantization import CalibrationMethod

        return getattr(CalibrationMethod, self.ort)


def scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise HelpersError(f"--scheme must be one of {', '.join(SCHEMES)}; got {name!r}")
    return SCHEMES[name]


def methods(calibration_type: Optional[str] = None, ort_method: str = "minmax",
            max_percentile: Optional[float] = None) -> List[Method]:
    """The onnxruntime calibrations for a mapper ``calibration_type`` (or an onnxruntime method name)."""
    if calibration_type is None:
        if ort_method not in ORT_METHODS:
            raise HelpersError(f"--method must be one of {', '.join(ORT_METHODS)}; got {ort_method!r}")
        return [{"minmax": Method("minmax", "MinMax"), "entropy": Method("entropy", "Entropy"),
                 "percentile": Method("percentile 99.999", "Percentile")}[ort_method]]
    if calibration_type in NOT_PREVIEWED:
        raise HelpersError(f"calibration_type {calibration_type!r} cannot be previewed: "
                           f"{NOT_PREVIEWED[calibration_type]}")
    if calibration_type not in CALIBRATION_TYPES:
        raise HelpersError(f"calibration_type must be one of {', '.join(CALIBRATION_TYPES)} (the mapper's names); "
                           f"got {calibration_type!r}")
    if max_percentile is not None and not 0.0 < max_percentile <= 1.0:
        raise HelpersError(f"max_percentile must be in (0, 1], got {max_percentile}")
    if calibration_type == "kl":
        return [Method("kl", "Entropy")]
    if calibration_type == "max":
        if max_percentile is None or max_percentile >= 1.0:
            return [Method("max", "MinMax")]
        return [Method(f"max {max_percentile:g}", "Percentile", (("percentile", 100.0 * max_percentile),))]
    return [Method("max", "MinMax"),
            Method(f"max {DEFAULT_PERCENTILE / 100:g}", "Percentile", (("percentile", DEFAULT_PERCENTILE),)),
            Method("kl", "Entropy")]


def calibrate(pre: Path, reader, method: Method, cache: Path, symmetric: bool) -> Path:
    """Run the calibration data through ``pre`` once and store the tensor ranges in ``cache`` (JSON)."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    reader.rewind()
    extra = dict(method.options)
    extra["symmetric"] = symmetric
    with _quiet():    # the histogram calibrators print progress
        calibrator = create_calibrator(Path(pre), None, augmented_model_path=str(Path(cache).with_suffix(".aug.onnx")),
                                       calibrate_method=method.calibration_method(), extra_options=extra)
        calibrator.collect_data(reader)
        ranges = calibrator.compute_data()
    save_tensors_data(ranges, cache)
    reader.rewind()
    return Path(cache)


def activation_tensors(model, nodes: Sequence[str]) -> List[str]:
    """The non-constant inputs and the outputs of ``nodes`` (an onnx ModelProto)."""
    consts = {i.name for i in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    by_name = {n.name: n for n in model.graph.node}
    missing = [n for n in nodes if n not in by_name]
    if missing:
        raise HelpersError(f"node {missing[0]!r} is not in the model; give ONNX node names "
                           "(python -m helpers sensitivity lists them)")
    out: List[str] = []
    for name in nodes:
        node = by_name[name]
        for t in list(node.input) + list(node.output):
            if t and t not in consts and t not in out:
                out.append(t)
    return out


#: 16-bit QuantizeLinear / DequantizeLinear need opset 21
INT16_OPSET = 21


def to_int16_opset(pre: Path, out: Path) -> Path:
    """``pre`` converted to opset 21 once, so that int16 variants do not each convert it again."""
    import onnx
    from onnx import version_converter

    onnx.save(version_converter.convert_version(onnx.load(str(pre)), INT16_OPSET), str(out))
    return Path(out)


@contextlib.contextmanager
def _quiet():
    """onnxruntime's quantiser prints progress and logs an opset warning per model: keep them out."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def build(pre: Path, out: Path, cache: Path, method: Method, sch: Scheme, per_channel: bool,
          int16: Sequence[str] = (), float_nodes: Sequence[str] = (), only: Optional[Sequence[str]] = None) -> Path:
    """An INT8 QDQ model of ``pre`` from stored ranges: ``int16`` nodes at 16 bit, ``float_nodes``
    not quantised, or ``only`` these nodes quantised (everything else float)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    extra: Dict = {"ActivationSymmetric": sch.activation_symmetric, "WeightSymmetric": True}
    if int16:
        tensors = activation_tensors(onnx.load(str(pre)), int16)
        extra["TensorQuantOverrides"] = {t: [{"quant_type": QuantType.QInt16}] for t in tensors}
    with _quiet():
        quantize_static(str(pre), str(out), None, quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=method.calibration_method(), calibration_cache_path=str(cache),
                        nodes_to_exclude=list(float_nodes) or None,
                        nodes_to_quantize=list(only) if only is not None else None, extra_options=extra)
    return Path(out)


def layers(model, op_types: Sequence[str] = ("Conv", "Gemm", "MatMul"),
           among: Optional[Sequence[str]] = None) -> List[Tuple[str, str]]:
    """``[(node name, op type)]`` of the quantisable compute layers, in graph order.

    ``among``: keep only names also found there (the float ONNX the mapper gets), so every name
    a ranking reports can go into its yaml.
    """
    keep = set(among) if among is not None else None
    return [(n.name, n.op_type) for n in model.graph.node
            if n.op_type in op_types and n.name and (keep is None or n.name in keep)]
