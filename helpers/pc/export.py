"""Export a registry model to the float ONNX the board toolchain takes (PC only).

create (timm: ImageNet weights, a local checkpoint, or seeded random weights) -> re-parameterise
(MobileOne) -> ``torch.onnx.export`` -> ``onnx.checker`` -> ``onnxsim`` -> metadata -> parity
(onnxruntime vs PyTorch) -> parameter counts -> atomic write to ``model/<Arch>/<key>.onnx``.

torch, timm, onnx, onnxsim and onnxruntime are imported inside the functions, so that
``python -m helpers --help`` stays light.
"""
from __future__ import annotations

import copy
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError, first_line
from helpers.board.meta import META_INPUT_SIZE, META_KEY, META_LABELS, META_MEAN, META_NUM_CLASSES, META_OPSET, META_STD, META_TIMM_ID, META_WEIGHTS
from helpers.board.files import atomic_output, check_writable_target, rel_to_repo
from helpers.pc.models import IMAGENET, RANDOM, ParityError, check_reparameterization, count_torch_params, create_model, multi_branch_modules, parity_input, relative_error, reparameterize, torch_forward, weights_label

#: Default ONNX opset. The X3 toolchain (march bernoulli2) takes ONNX opset 10 or 11 only, with
#: ir_version <= 7 (D-Robotics rdk_doc, ptq_process.md, and the hb_mapper error "only model with
#: opset_version 10/11 is supported" in rdk_doc 08_FAQ/05_toolchain.md). No source states a higher limit for the X5 (bayes-e); every
#: D-Robotics X5 example exports with opset 11. So 11 serves both boards.
DEFAULT_OPSET = 11
X3_OPSETS = (10, 11)
MIN_OPSET, MAX_OPSET = 10, 17
MAX_IR_VERSION_X3 = 7

INPUT_NAME = "data"
OUTPUT_NAME = "output"


#: Parity tolerance: max |onnxruntime - torch| / max |torch| on the same input.
PARITY_RTOL = 1e-4


# ------------------------------------------------------------------------------------------------
# small utilities
# ------------------------------------------------------------------------------------------------
def check_opset(opset: int) -> int:
    """Validate ``opset`` (10..17); above 11 warn that the X3 toolchain refuses it."""
    try:
        opset = int(opset)
    except (TypeError, ValueError):
        raise HelpersError(f"opset must be an integer, got {opset!r}; use {DEFAULT_OPSET} (the default)") from None
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise HelpersError(f"opset {opset} is not supported here; use {MIN_OPSET}..{MAX_OPSET} "
                           f"({'/'.join(map(str, X3_OPSETS))} for the RDK X3 toolchain; default {DEFAULT_OPSET})")
    if opset not in X3_OPSETS:
        warnings.warn(f"opset {opset}: the RDK X3 toolchain (bernoulli2) accepts only opset "
                      f"{' or '.join(map(str, X3_OPSETS))} and will refuse this file; the X5 limit is "
                      f"unpublished (its examples use {DEFAULT_OPSET})", UserWarning, stacklevel=3)
    return opset


# ------------------------------------------------------------------------------------------------
# parameter counts
# ------------------------------------------------------------------------------------------------
def onnx_param_counts(model_proto) -> Tuple[int, int]:
    """(elements over all initialisers, elements counted once per consuming node).

    The first is what the seed's ``count_parameters`` sums. The exporter and onnxsim merge
    initialisers with identical values, which happens with untrained weights (zero biases, unit
    BatchNorm); the second count undoes that merge, so it matches a trained model's count.
    """
    sizes = {t.name: int(np.prod(t.dims)) if len(t.dims) else 1 for t in model_proto.graph.initializer}
    uses: Dict[str, int] = {}
    for node in model_proto.graph.node:
        for name in set(node.input):
            if name in sizes:
                uses[name] = uses.get(name, 0) + 1
    return sum(sizes.values()), sum(n * max(uses.get(k, 1), 1) for k, n in sizes.items())


# ------------------------------------------------------------------------------------------------
# the ONNX file
# ------------------------------------------------------------------------------------------------
@dataclass
class OnnxInfo:
    """What an ONNX file declares: used by tests and notebooks to assert the exported contract."""

    path: Path
    opset: int
    ir_version: int
    inputs: List[Tuple[str, str, Tuple[int, ...]]]    # (name, elem type, shape)
    outputs: List[Tuple[str, str, Tuple[int, ...]]]
    metadata: Dict[str, str]
    nodes: int
    op_types: Dict[str, int]
    params: int
    params_per_use: int

    def signature(self) -> str:
        """Deterministic text: opset, ir version, inputs and outputs."""
        rows = [f"opset {self.opset}, ir_version {self.ir_version}"]
        rows += [f"input  {n}: {t} {list(s)}" for n, t, s in self.inputs]
        rows += [f"output {n}: {t} {list(s)}" for n, t, s in self.outputs]
        return "\n".join(rows)


def inspect_onnx(path: Union[str, Path]) -> OnnxInfo:
    import onnx

    path = Path(path)
    if not path.is_file():
        raise HelpersError(f"ONNX file not found: {path}; export it (python -m helpers export KEY)")
    try:
        proto = onnx.load(str(path))
    except Exception as e:
        raise HelpersError(f"{path} is not a readable ONNX file ({first_line(e)}); re-export it") from None

    def io(values):
        out = []
        for v in values:
            tt = v.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
            out.append((v.name, onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name, dims))
        return out

    init_names = {t.name for t in proto.graph.initializer}
    ops: Dict[str, int] = {}
    for n in proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    params, per_use = onnx_param_counts(proto)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), -1)
    return OnnxInfo(path=path, opset=int(opset), ir_version=int(proto.ir_version),
                    inputs=io(v for v in proto.graph.input if v.name not in init_names),
                    outputs=io(proto.graph.output),
                    metadata={p.key: p.value for p in proto.metadata_props},
                    nodes=len(proto.graph.node), op_types=dict(sorted(ops.items())),
                    params=params, params_per_use=per_use)


def read_metadata(path: Union[str, Path]) -> Dict[str, str]:
    return inspect_onnx(path).metadata


def export_metadata(key: str, weights: Union[str, Path], opset: int, input_size: Sequence[int],
                    num_classes: int, labels: Optional[Sequence[str]] = None) -> Dict[str, str]:
    spec = registry.get(key)
    meta = {
        META_KEY: spec.key,
        META_MEAN: json.dumps(list(spec.mean)),
        META_STD: json.dumps(list(spec.std)),
        META_INPUT_SIZE: json.dumps([int(v) for v in input_size]),
        META_WEIGHTS: weights_label(weights),
        META_OPSET: str(int(opset)),
        META_NUM_CLASSES: str(int(num_classes)),
        META_TIMM_ID: spec.timm_id,
    }
    if labels is not None:
        meta[META_LABELS] = json.dumps([str(v) for v in labels], ensure_ascii=False)
    return meta


def _torch_to_onnx(model, x, path: Path, opset: int) -> None:
    import torch

    # dynamo=False (the TorchScript exporter). torch 2.14 defaults to the dynamo exporter, which
    # always builds opset 18 (ir_version 10) and then tries onnx's version converter to go down to
    # the requested opset; for these models that fails (ReduceMean's axes adapter) and it leaves
    # an opset-18 file, which the X3 toolchain refuses (opset 10/11, ir_version <= 7). The
    # TorchScript exporter writes opset 11 / ir_version 6 directly, folds BatchNorm into the
    # convolutions, and decomposes HardSwish (opset 14) into HardSigmoid*x. Measured here with
    # mobilenetv3_large_100: dynamo 10-17 s and opset 18; TorchScript 3 s and opset 11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice, and tracer warnings
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          do_constant_folding=True, export_params=True)


def _simplify(proto):
    import contextlib
    import io

    from onnxsim import simplify

    with contextlib.redirect_stdout(io.StringIO()):  # its "Checking 0/1..." progress line
        simplified, ok = simplify(proto, check_n=1)
    if not ok:
        raise ParityError("onnxsim's check failed: the simplified model's outputs differ from the "
                          "original; export with a different opset or report the model")
    return simplified


def _ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]


@dataclass
class ExportResult:
    path: Path
    key: str
    opset: int
    weights: str                 # rdk.weights: imagenet / random / checkpoint file name
    params_torch: int            # parameters of the exported PyTorch model (after re-param)
    params_onnx: int             # elements of the ONNX initialisers (as the seed counts them)
    max_abs_err: float           # onnxruntime vs torch, same input
    rel_err: float               # max_abs_err / max |torch output|
    seconds: float               # torch.onnx.export + checker + onnxsim (+ metadata)
    input_size: Tuple[int, int]
    num_classes: int = 1000
    params_torch_unfused: Optional[int] = None     # MobileOne before re-param
    params_onnx_per_use: int = 0                   # ONNX count with merged initialisers undone
    reparam_max_abs_err: Optional[float] = None
    reparam_rel_err: Optional[float] = None
    nodes_exported: int = 0
    nodes_simplified: int = 0
    ir_version: int = 0
    seconds_total: float = 0.0                     # including model creation and parity
    metadata: Dict[str, str] = field(default_factory=dict)

    @property
    def published_params_m(self) -> Optional[float]:
        """The parameter count (millions) the model zoo publishes for this key, if any."""
        spec = registry.get(self.key)
        return spec.published[0].params_m if spec.published else None

    def summary(self) -> str:
        h, w = self.input_size
        spec = registry.get(self.key)
        lines = [f"{self.key}: {rel_to_repo(self.path)}",
                 f"  weights      : {self.weights}" + ("   <- RANDOM: predictions mean nothing" if self.weights == RANDOM else ""),
                 f"  graph        : opset {self.opset} (ir_version {self.ir_version}), input {INPUT_NAME} float32 "
                 f"[1, 3, {h}, {w}] -> output {OUTPUT_NAME} [1, {self.num_classes}]",
                 f"  nodes        : {self.nodes_exported} exported -> {self.nodes_simplified} after onnxsim"]
        if registry.get(self.key).reparameterizable and self.reparam_rel_err is None:
            lines.append("  re-param     : the model was given already fused (no branch modules)")
        elif self.reparam_rel_err is not None:
            lines.append(f"  re-param     : {self.params_torch_unfused:,} -> {self.params_torch:,} parameters; fused vs "
                         f"unfused max abs {self.reparam_max_abs_err:.2e}, relative {self.reparam_rel_err:.2e}")
        lines.append(f"  parameters   : torch {self.params_torch:,}, ONNX initialisers {self.params_onnx:,}")
        if self.params_onnx_per_use != self.params_onnx:
            lines.append(f"                 ({self.params_onnx_per_use:,} counting merged identical initialisers once "
                         "per use: untrained weights repeat values)")
        pub = self.published_params_m
        if pub is not None:
            p = spec.published[0]
            lines.append(f"  published    : {pub} M parameters ({registry.BOARDS[p.board].name} .bin, {p.source})")
        lines.append(f"  parity       : onnxruntime vs torch max abs {self.max_abs_err:.2e}, relative "
                     f"{self.rel_err:.2e} (limit {PARITY_RTOL:g})")
        lines.append(f"  time         : {self.seconds:.1f} s export+simplify, {self.seconds_total:.1f} s in all")
        return "\n".join(lines)

    def row(self) -> List[str]:
        return [self.key, f"{self.params_torch:,}", f"{self.params_onnx:,}", f"{self.params_onnx_per_use:,}",
                f"{self.max_abs_err:.1e}", f"{self.rel_err:.1e}", f"{self.seconds:.1f}", str(self.opset)]


RESULT_HEADER = ["key", "params torch", "params ONNX", "ONNX per use", "max abs err", "rel err",
                 "export+simplify s", "opset"]


def results_table(results: Sequence[ExportResult]) -> str:
    from helpers.board.text import table

    return table(RESULT_HEADER, [r.row() for r in results], "l" + "r" * (len(RESULT_HEADER) - 1))


def export_onnx(key: str, weights: Union[str, Path] = IMAGENET, out: Optional[Union[str, Path]] = None,
                opset: int = DEFAULT_OPSET, overwrite: bool = False,
                input_size: Optional[Sequence[int]] = None, num_classes: Optional[int] = None,
                labels: Optional[Sequence[str]] = None, seed: int = 0, model=None) -> ExportResult:
    """Export ``key`` to a float ONNX (batch 1, NCHW float32, ``data`` -> ``output``).

    ``model``: an already built/trained ``nn.Module`` of this key to export instead of creating
    one (``weights`` then only labels it in the metadata). ``labels``: class names stored as
    ``rdk.labels`` (for heads other than ImageNet-1k). Refuses to replace ``out`` unless
    ``overwrite``; nothing is written when a check fails.
    """
    import onnx

    spec = registry.get(key)
    opset = check_opset(opset)
    out = Path(out) if out is not None else registry.get(key).float_onnx_path
    check_writable_target(out, overwrite)  # fail before the slow part
    from helpers.board.checks import in_range

    in_range("num_classes", num_classes, 2, 100_000, integer=True)
    h, w = (int(v) for v in (input_size or spec.input_size))
    for side in (h, w):
        in_range("input_size", side, 32, 4096, integer=True, hint="H and W in pixels")
    started = time.perf_counter()

    if model is None:
        model = create_model(key, weights, num_classes=num_classes, seed=seed)
    else:
        model = copy.deepcopy(model).cpu().float()
    model.eval()
    x = parity_input(key, (h, w), seed)

    params_unfused = count_torch_params(model)
    reparam = (None, None)
    if spec.reparameterizable and multi_branch_modules(model):  # a given model may come fused already
        fused = reparameterize(model)
        reparam = check_reparameterization(model, fused, x)
        model = fused
    ref = torch_forward(model, x)
    if ref.ndim != 2 or ref.shape[0] != 1:
        raise HelpersError(f"{key}: the model returns shape {ref.shape}; expected (1, classes) logits")
    classes = int(ref.shape[1])
    if labels is not None and len(labels) != classes:
        raise HelpersError(f"{len(labels)} labels given for a {classes}-class model; give one name per class")
    meta = export_metadata(key, weights, opset, (h, w), classes, labels)

    with atomic_output(out, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        _torch_to_onnx(model, x, tmp, opset)
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto, full_check=True)
        nodes_exported = len(proto.graph.node)
        proto = _simplify(proto)
        del proto.metadata_props[:]
        for k, v in meta.items():
            proto.metadata_props.add(key=k, value=v)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
        seconds = time.perf_counter() - t0
        got = _ort_run(tmp, x.numpy())
        max_abs, rel = relative_error(ref, got)
        if not rel <= PARITY_RTOL:
            raise ParityError(f"{key}: onnxruntime and torch disagree: max abs {max_abs:.3g}, relative "
                              f"{rel:.3g} > {PARITY_RTOL:g}; {out.name} not written")
        params_onnx, per_use = onnx_param_counts(proto)
        ir_version = int(proto.ir_version)
        nodes_simplified = len(proto.graph.node)

    return ExportResult(
        path=out, key=key, opset=opset, weights=meta[META_WEIGHTS], params_torch=count_torch_params(model),
        params_onnx=params_onnx, max_abs_err=max_abs, rel_err=rel, seconds=seconds, input_size=(h, w),
        num_classes=classes, params_torch_unfused=params_unfused if reparam[0] is not None else None,
        params_onnx_per_use=per_use, reparam_max_abs_err=reparam[0], reparam_rel_err=reparam[1],
        nodes_exported=nodes_exported, nodes_simplified=nodes_simplified, ir_version=ir_version,
        seconds_total=time.perf_counter() - started, metadata=meta)


def onnx_forward(path: Union[str, Path], x) -> np.ndarray:
    """Logits of the float ONNX at ``path`` for ``x`` (a torch tensor or array), via onnxruntime."""
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    return _ort_run(Path(path), np.ascontiguousarray(arr, dtype=np.float32))


# ------------------------------------------------------------------------------------------------
# notebooks: where to write without clobbering someone else's file
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputChoice:
    path: Path
    overwrite: bool
    reason: str


def choose_output(key: str, weights: Union[str, Path], overwrite: bool = False) -> OutputChoice:
    """Where a notebook run writes, replacing only files it may replace.

    * no file yet -> ``model/<Arch>/<key>.onnx``;
    * the file there was exported with the same weights choice, or with random weights (a
      placeholder by definition) -> replace it (a re-run);
    * it holds another export (ImageNet or a checkpoint, or it is not ours) and this run uses
      random weights (CI) -> keep it and write ``<key>.random.onnx`` beside it;
    * otherwise stop, unless ``overwrite``.
    """
    default = registry.get(key).float_onnx_path
    label = weights_label(weights)
    if not default.exists():
        return OutputChoice(default, False, f"new file {rel_to_repo(default)}")
    if overwrite:
        return OutputChoice(default, True, f"replacing {rel_to_repo(default)} (overwrite requested)")
    try:
        meta = read_metadata(default)
    except HelpersError:
        meta = {}
    old = meta.get(META_WEIGHTS) if meta.get(META_KEY) == key else None
    if old is not None and old in (label, RANDOM):
        return OutputChoice(default, True, f"replacing {rel_to_repo(default)}: an earlier export of {key} "
                                           f"with weights {old!r}")
    if label == RANDOM:
        side = default.with_name(f"{key}.{RANDOM}.onnx")
        return OutputChoice(side, True, f"kept {rel_to_repo(default)} (weights {old or 'unknown'!r}); this "
                                        f"random-weights run writes {rel_to_repo(side)}")
    raise HelpersError(f"{rel_to_repo(default)} holds an export with weights {old or 'unknown'!r}, this run "
                       f"uses {label!r}: move it away or set OVERWRITE = True")


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def cmd_export(args) -> int:
    from helpers.board.checks import in_range

    in_range("--num-classes", args.num_classes, 2, 100_000, integer=True,
             hint="the classifier's number of classes (omit it to keep the checkpoint's)")
    in_range("--seed", args.seed, 0, 2 ** 32 - 1, integer=True)
    result = export_onnx(args.key, weights=args.weights, out=args.out, opset=args.opset,
                         overwrite=args.overwrite, seed=args.seed, num_classes=args.num_classes)
    print(result.summary())
    if args.record:
        from helpers.board.records import record_and_report

        row = {k: getattr(result, k) for k in ("key", "weights", "opset", "params_torch", "params_onnx",
                                               "max_abs_err", "rel_err", "seconds")}
        record_and_report("export", [row], "python -m helpers export KEY --weights random --record")
    print(f"next: python -m helpers yaml {args.key} --board x5   (mapper yaml for this ONNX)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a registry model to float ONNX (model/<Arch>/<key>.onnx)",
                              description="Export KEY to a float ONNX: batch 1, NCHW float32, input 'data', "
                                          "output 'output', onnxsim-simplified, parity-checked.")
    p.add_argument("key", help="registry key (python -m helpers list)")
    p.add_argument("--weights", default=IMAGENET,
                   help="imagenet (timm pretrained, default), random (untrained, seeded) or PATH to a "
                        ".safetensors/.pth checkpoint")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET}; the X3 toolchain takes 10/11 only)")
    p.add_argument("--out", help="output file (default model/<Arch>/<key>.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights and the parity input")
    p.add_argument("--num-classes", type=int, help="classifier size (default: the checkpoint's)")
    p.add_argument("--record", action="store_true", help="store the row in data/results/export.json (README tables)")
    p.set_defaults(func=cmd_export)
