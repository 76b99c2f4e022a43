"""INT8 preview on the PC: onnxruntime static quantisation of the float ONNX (PC only).

``python -m helpers quantize ONNX --calib DIR --out FILE [--data DIR]``

**This is not the board's quantiser.** The ``.bin`` is quantised by the vendor toolchain
(``hb_mapper makertbin``: its own calibration algorithms, per-layer choices and BPU kernels).
What we do here is a PC-side estimate of the float -> INT8 drop that the model zoo's tables report,
with a different tool: ``onnxruntime.quantization.quantize_static``.

* Input: the **float ONNX** (not the NV12 board model). The calibration files are exactly what the
  mapper gets (``python -m helpers calib``: raw float32 RGB NCHW, 0..255, un-normalised); the
  reader applies the float ONNX's own mean/std (``rdk.mean``/``rdk.std`` metadata) to them, which
  is what the mapper's ``mean_value``/``scale_value`` do inside the ``.bin``. Quantising the board
  model instead would quantise its NV12->RGB front end too and would need NV12 calibration data
  that the mapper never sees; and the INT8 model evaluated through the same preprocessing as the
  float one isolates the effect of int8 weights and activations.
* QDQ format, int8 activations and weights (S8S8, onnxruntime's first recommendation for QDQ),
  MinMax calibration, after ``quant_pre_process``. The INT8 file is opset 13 (per-channel
  Q/DQ needs it); it is a PC-only preview - the toolchain gets the float opset-11 ONNX.
* Per-channel weight scales: ``--per-channel auto`` (default) builds both variants and keeps the
  one whose logits agree better with the float model on the calibration samples (top-1 agreement,
  then relative logit error) - measured, no labels needed. ``on``/``off`` force one.
* The INT8 file keeps the float file's metadata (key, labels, mean/std) and adds
  ``rdk.quantization``; it runs through ``eval``/``predict`` like the float ONNX.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.errors import HelpersError
from helpers.board.meta import META_INPUT_TYPE, META_MEAN, META_QUANT, META_STD
from helpers.board.files import atomic_output, check_writable_target, rel_to_repo

#: opset of the INT8 file: per-channel Q/DQ (an ``axis`` attribute) needs 13. The INT8 model is a
#: PC-only preview; the board toolchain takes the float opset-11 ONNX, never this file.
QDQ_OPSET = 13
BPU_NOTE = ("onnxruntime's quantiser on the PC, not the BPU's (hb_mapper): a PC-side estimate of the "
            "float->int8 drop, not the board's number")


def calibration_files(calib_dir) -> List[Path]:
    """The sample files in a calibration folder (sorted); a clear error for an empty one."""
    d = Path(calib_dir)
    if not d.is_dir():
        raise HelpersError(f"calibration folder not found: {d} (make it with: python -m helpers calib KEY --images DIR)")
    files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise HelpersError(f"{d} holds no calibration samples; make them with: python -m helpers calib KEY --images DIR")
    return files


class RawCalibrationReader:
    """``CalibrationDataReader`` over the mapper's raw float32 files, normalised for the float ONNX."""

    def __init__(self, files: Sequence[Path], input_name: str, size: Tuple[int, int], mean, std):
        from helpers.pc.calib import read_sample

        self.input_name = input_name
        mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.samples = [((read_sample(f, size) / 255.0 - mean) / std).astype(np.float32) for f in files]
        self._it = iter(self.samples)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        x = next(self._it, None)
        return None if x is None else {self.input_name: x}

    def rewind(self) -> None:
        self._it = iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)


def _reader_class():
    """The reader as a real subclass of onnxruntime's CalibrationDataReader (imported lazily)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(RawCalibrationReader, CalibrationDataReader):
        pass

    return Reader


@dataclass
class Candidate:
    per_channel: bool
    top1_agreement: float    # % of calibration samples with the float model's top-1
    logit_rel_err: float     # mean ||int8 - float|| / ||float|| over the samples
    seconds: float
    method: str = "minmax"   # the calibration (helpers.pc.precision.Method.label)


@dataclass
class QuantizeResult:
    path: Path
    source: Path
    per_channel: bool
    choice: str                      # how per_channel was chosen
    candidates: List[Candidate]
    samples: int
    size_mb_float: float
    size_mb_int8: float
    settings: Dict = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"INT8 (QDQ) model: {rel_to_repo(self.path)}  ({self.size_mb_int8:.2f} MB; float "
                 f"{self.size_mb_float:.2f} MB)",
                 f"  calibration : {self.samples} samples, {self.settings.get('calibrate_method')}, "
                 f"activations {self.settings.get('activation_type')}, weights {self.settings.get('weight_type')}"]
        kept = self.settings.get("calibration")
        for c in self.candidates:
            mark = "  <- kept" if c.per_channel == self.per_channel and c.method == (kept or c.method) else ""
            lines.append(f"  {c.method:>16s}, per-channel {'on ' if c.per_channel else 'off'}: top-1 agreement "
                         f"with float {c.top1_agreement:.1f} %, logit rel. error {c.logit_rel_err:.4f}{mark}")
        if self.settings.get("int16_nodes") or self.settings.get("float_nodes"):
            lines.append(f"  kept nodes  : {len(self.settings.get('int16_nodes', []))} in int16, "
                         f"{len(self.settings.get('float_nodes', []))} in float")
        lines.append(f"  choice      : {self.choice}")
        lines.append(f"  note        : {BPU_NOTE}")
        return "\n".join(lines)


def _float_io(path: Path):
    from helpers.board.runtime import open_model

    be = open_model(path)
    meta = be.metadata
    if meta.get(META_INPUT_TYPE):
        raise HelpersError(f"{path.name} is a board model ({meta[META_INPUT_TYPE]} input); quantise the float ONNX "
                           "it was built from (python -m helpers export KEY)")
    if meta.get(META_QUANT):
        raise HelpersError(f"{path.name} is already quantised; give the float ONNX")
    info = be.input
    if info.dtype != "float32":
        raise HelpersError(f"{path.name} takes {info.dtype} input; give the exported float32 ONNX")
    if META_MEAN not in meta:
        raise HelpersError(f"{path.name} carries no rdk.mean/rdk.std metadata; export it with python -m helpers export")
    return be, info, json.loads(meta[META_MEAN]), json.loads(meta[META_STD]), meta


def _agreement(float_be, int8_path: Path, reader: RawCalibrationReader) -> Tuple[float, float]:
    from helpers.board.runtime import open_model

    q = open_model(int8_path)
    agree, errs = 0, []
    for x in reader.samples:
        a = np.asarray(float_be.run(x)[0], np.float64).reshape(-1)
        b = np.asarray(q.run(x)[0], np.float64).reshape(-1)
        agree += int(np.argmax(a) == np.argmax(b))
        errs.append(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-12))
    return 100.0 * agree / len(reader.samples), float(np.mean(errs))


def _to_opset(path: Path, opset: int) -> None:
    """Per-axis (per-channel) QuantizeLinear/DequantizeLinear exist from opset 13: convert up."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(path))
    current = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=opset)
    if current < opset:
        model = version_converter.convert_version(model, opset)
        onnx.save(model, str(path))


def calibrated_candidates(pre: Path, reader, float_be, methods, choices, sch, tmpd: Path,
                          int16: Sequence[str] = (), float_nodes: Sequence[str] = ()):
    """Calibrate once per method, build one model per (method, per-channel) and measure it.

    Returns ``(candidates, {(method label, per_channel): (model path, ranges file, Method)})``.
    """
    from helpers.pc import precision

    candidates: List[Candidate] = []
    built = {}
    for mi, m in enumerate(methods):
        t0 = time.perf_counter()
        cache = precision.calibrate(pre, reader, m, tmpd / f"ranges{mi}.json", sch.activation_symmetric)
        cal_s = time.perf_counter() - t0
        for pc in choices:
            t0 = time.perf_counter()
            q = precision.build(pre, tmpd / f"int8_{mi}_pc{int(pc)}.onnx", cache, m, sch, pc,
                                int16=int16, float_nodes=float_nodes)
            agree, err = _agreement(float_be, q, reader)
            candidates.append(Candidate(pc, agree, err, time.perf_counter() - t0 + cal_s, m.label))
            built[(m.label, pc)] = (q, cache, m)
            cal_s = 0.0
    return candidates, built


def best_candidate(candidates: Sequence[Candidate]) -> Candidate:
    """The candidate that agrees best with float (top-1 agreement, then logit error)."""
    return max(candidates, key=lambda c: (round(c.top1_agreement, 6), -c.logit_rel_err))


def prepared(src: Path, tmpd: Path) -> Path:
    """``quant_pre_process`` + opset 13: the model every variant is quantised from."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = Path(tmpd) / "pre.onnx"
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    _to_opset(pre, QDQ_OPSET)
    return pre


def quantize(onnx_path, calib_dir, out, per_channel: str = "auto", overwrite: bool = False,
             count: Optional[int] = None, calibrate_method: str = "minmax", scheme: str = "ort",
             calibration_type: Optional[str] = None, max_percentile: Optional[float] = None,
             int16_nodes: Sequence[str] = (), float_nodes: Sequence[str] = ()) -> QuantizeResult:
    """Quantise the float ONNX at ``onnx_path`` with the calibration samples in ``calib_dir``.

    ``scheme`` / ``calibration_type`` (the mapper's names) / kept nodes: :mod:`helpers.pc.precision`.
    ``int16_nodes`` keep their activations in int16, ``float_nodes`` stay float (what a yaml's
    ``node_info`` / ``run_on_cpu`` ask of the toolchain).
    """
    import onnx

    from helpers.pc import precision

    src, out = Path(onnx_path), Path(out)
    if per_channel not in ("auto", "on", "off"):
        raise HelpersError(f"--per-channel must be auto, on or off; got {per_channel!r}")
    sch = precision.scheme(scheme)
    methods = precision.methods(calibration_type, calibrate_method, max_percentile)
    check_writable_target(out, overwrite)
    float_be, info, mean, std, meta = _float_io(src)
    files = calibration_files(calib_dir)
    if count is not None:
        from helpers.pc.calib import pick

        files = pick(files, count)
    reader = _reader_class()(files, info.name, info.hw, mean, std)
    settings = {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "scheme": sch.name,
                "activation_type": "int8", "weight_type": "int8",
                "activation_symmetric": sch.activation_symmetric,
                "calibrate_method": calibration_type or calibrate_method, "samples": len(reader)}
    if int16_nodes or float_nodes:
        settings.update(int16_nodes=list(int16_nodes), float_nodes=list(float_nodes))
    if sch.per_channel is not None:
        if per_channel == "off":
            raise HelpersError(f"--scheme {sch.name} has per-channel weights; drop --per-channel off")
        choices = [sch.per_channel]
    else:
        choices = {"auto": [False, True], "on": [True], "off": [False]}[per_channel]
    with tempfile.TemporaryDirectory(prefix="rdk-quant-") as tmpd:
        pre = prepared(src, Path(tmpd))
        candidates, built = calibrated_candidates(pre, reader, float_be, methods, choices, sch, Path(tmpd),
                                                  int16=int16_nodes, float_nodes=float_nodes)
        best = best_candidate(candidates)
        if len(candidates) == 1:
            choice = f"forced ({per_channel if sch.per_channel is None else 'scheme ' + sch.name})"
        else:
            what = []
            if len(choices) > 1:
                what.append(f"per-channel {'on' if best.per_channel else 'off'}")
            if len(methods) > 1:
                what.append(f"calibration {best.method}")
            choice = (f"auto: {', '.join(what)} agrees best with the float model "
                      f"on the {len(reader)} calibration samples")
        model = onnx.load(str(built[(best.method, best.per_channel)][0]))
        settings["per_channel"] = best.per_channel
        settings["calibration"] = best.method
        merged = dict(meta)
        merged[META_QUANT] = json.dumps(settings)
        del model.metadata_props[:]
        for k, v in merged.items():
            model.metadata_props.add(key=k, value=str(v))
        with atomic_output(out, overwrite=overwrite, suffix=".onnx") as tmp:
            onnx.save(model, str(tmp))
    return QuantizeResult(path=out, source=src, per_channel=best.per_channel, choice=choice, candidates=candidates,
                          samples=len(reader), size_mb_float=src.stat().st_size / 1e6,
                          size_mb_int8=out.stat().st_size / 1e6, settings=settings)


def compare(float_onnx, int8_onnx, data, labels_file=None, limit: Optional[int] = None, progress: bool = True):
    """Evaluate the float and the INT8 model on the same labelled data: (float, int8) EvalResults."""
    from helpers.training.evaluate import evaluate

    f = evaluate(float_onnx, data, labels_file=labels_file, limit=limit, stage="ONNX float", progress=progress)
    q = evaluate(int8_onnx, data, labels_file=labels_file, limit=limit, stage="ONNX INT8", progress=progress)
    return f, q


def record_row(res: QuantizeResult, f, q) -> Dict:
    """The row ``--record`` stores in data/results/quantize.json (helpers.docs.readme FIELDS)."""
    return {"key": f.key, "dataset": f.dataset, "images": f.images, "float_top1": round(f.top1, 2),
            "int8_top1": round(q.top1, 2), "latency_ms": round(q.latency_ms, 3),
            "latency_ratio": round(q.latency_ms / f.latency_ms, 3) if f.latency_ms else None,
            "size_mb": round(res.size_mb_int8, 2)}


def yaml_choice(path) -> Dict:
    """What a mapper yaml asks of the quantiser: kept nodes and its calibration_type / max_percentile."""
    from helpers.pc import mapper, node_info

    cfg = mapper.load_config(path)
    int16, cpu = node_info.kept_nodes(cfg)
    cp = cfg.get("calibration_parameters") if isinstance(cfg.get("calibration_parameters"), dict) else {}
    mp = cp.get("max_percentile")
    return {"int16_nodes": int16, "float_nodes": cpu, "calibration_type": cp.get("calibration_type") or "default",
            "max_percentile": float(mp) if mp not in (None, "") else None}


def cmd_quantize(args) -> int:
    from helpers.board.checks import in_range

    if args.record and not args.data:  # before any work: nothing is written when the arguments are wrong
        raise HelpersError("--record needs --data DIR: the table reports accuracy, measured on labelled images")
    in_range("--count", args.count, 1, None, integer=True)
    in_range("--limit", args.limit, 1, None, integer=True)
    choice = yaml_choice(args.yaml) if args.yaml else {}
    if args.calibration_type:
        choice["calibration_type"] = args.calibration_type
    res = quantize(args.onnx, args.calib, args.out, per_channel=args.per_channel, overwrite=args.overwrite,
                   count=args.count, calibrate_method=args.method, scheme=args.scheme, **choice)
    print(res.summary())
    if args.data:
        f, q = compare(args.onnx, res.path, args.data, labels_file=args.labels, limit=args.limit)
        print(f"  float : top-1 {f.top1:.2f} %, top-5 {f.top5:.2f} %, {f.latency_ms:.2f} ms/image, {f.images_per_s:.1f} images/s")
        print(f"  int8  : top-1 {q.top1:.2f} %, top-5 {q.top5:.2f} %, {q.latency_ms:.2f} ms/image, {q.images_per_s:.1f} images/s")
        print(f"  drop  : {f.top1 - q.top1:+.2f} pt top-1 (float - int8) on {f.images} images; "
              f"latency int8/float {q.latency_ms / f.latency_ms:.2f}")
        if args.record:
            from helpers.board.records import record_and_report

            record_and_report("quantize", [record_row(res, f, q)],
                              "python -m helpers quantize ONNX --calib DIR --out FILE --data DIR --record",
                              weights=f.weights)
    else:
        print(f"accuracy: python -m helpers eval {rel_to_repo(res.path)} --data DIR")
    return 0


def register(sub) -> None:
    p = sub.add_parser("quantize", help="INT8 preview: onnxruntime static quantisation (QDQ) of the float ONNX",
                       description="PC-side INT8 estimate with onnxruntime (NOT the BPU's quantiser, hb_mapper).")
    p.add_argument("onnx", help="the float ONNX (python -m helpers export)")
    p.add_argument("--calib", required=True, help="calibration folder (python -m helpers calib: raw float32 RGB 0..255)")
    p.add_argument("--out", required=True, help="INT8 ONNX to write")
    p.add_argument("--per-channel", default="auto", choices=["auto", "on", "off"],
                   help="per-channel weight scales (auto: build both, keep the one closer to float)")
    p.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"],
                   help="onnxruntime calibration method (ignored with --calibration-type / --yaml)")
    p.add_argument("--scheme", default="ort", choices=["ort", "bpu"],
                   help="ort: onnxruntime defaults (asymmetric activations); bpu: symmetric int8 activations "
                        "per tensor + symmetric per-channel weights")
    p.add_argument("--calibration-type", choices=["default", "max", "kl"],
                   help="calibrate as the mapper's calibration_type (default: search max / max 0.99995 / kl)")
    p.add_argument("--yaml", help="mapper yaml whose node_info (int16) / run_on_cpu (float) nodes and "
                                  "calibration_type the preview honours")
    p.add_argument("--count", type=int, help="use this many calibration samples (default: all)")
    p.add_argument("--data", help="labelled data (ImageFolder / its val/) to report accuracy and speed vs float")
    p.add_argument("--labels", help="labels file for a flat image folder (see eval --help)")
    p.add_argument("--limit", type=int, help="evaluate this many images of --data")
    p.add_argument("--record", action="store_true", help="store the comparison in data/results/quantize.json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_quantize)
