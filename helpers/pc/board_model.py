"""The board model on a PC: an ONNX with the ``.bin``'s input contract, built from the mapper yaml.

The mapper folds the colour conversion and the normalisation into the ``.bin``: the board feeds
NV12 uint8 and gets logits. :func:`build_board_model` does the same to our float ONNX, in ONNX ops,
so the PC and the board share one contract:

``data`` uint8 (1, H*3/2, W), flat NV12 (Y plane, then interleaved UV)
  -> split Y / UV; chroma converted and upsampled 2x by repetition (nearest) in one ConvTranspose
  -> YUV -> RGB with :func:`helpers.board.nv12.yuv_to_rgb_matrix` in the yaml's range, clipped to 0..255
  -> ``(x - mean_value) * scale_value`` from the yaml
  -> the float model's graph.

For an S-series yaml (``march`` nash-e/m/p) the input is the ``.hbm``'s: NV12 split into uint8 ``y``
``(1, H, W, 1)`` and ``uv`` ``(1, H/2, W/2, 2)`` (rdk_model_zoo samples/vision/mobilenetv4/conversion/README.md,
"Validation"); the rest of the graph is the same. :class:`helpers.board.runtime.OrtBackend` takes the packed
NV12 bytes for both and splits them for this one.

``rgb``/``bgr`` runtime inputs are supported too: uint8 NHWC (1, H, W, 3). ``yuv444``, ``gray`` and
``featuremap`` are refused. The NumPy reference is :func:`helpers.board.nv12.nv12_to_rgb_float`.

PC only: imports onnx inside the functions.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from helpers.pc import mapper, nash
from helpers.board import agreement, nv12, registry
from helpers.errors import HelpersError, first_line
from helpers.board.meta import (META_INPUT_SIZE, META_INPUT_TYPE, META_KEY, META_MARCH, META_MEAN_VALUE,
                                META_NV12_INPUTS, META_SCALE_VALUE, META_YAML, META_YUV_RANGE)
from helpers.board.files import atomic_output

SUPPORTED_RT = ("nv12", "rgb", "bgr")
PREFIX = "rdk_board/"   # names of the nodes and tensors we add


def _check_supported(pre: mapper.Preprocess) -> None:
    if pre.input_type_rt not in SUPPORTED_RT:
        raise HelpersError(f"input_type_rt {pre.input_type_rt!r} is not supported by the PC board model "
                           f"(supported: {', '.join(SUPPORTED_RT)}); set input_type_rt: 'nv12' in the yaml")
    if pre.input_type_train not in ("rgb", "bgr"):
        raise HelpersError(f"input_type_train {pre.input_type_train!r} is not supported by the PC board model; "
                           "our float models take rgb (input_type_train: 'rgb')")


def _float_input(model) -> Tuple[str, Tuple[int, ...]]:
    from onnx import TensorProto

    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise HelpersError(f"the float ONNX has {len(inputs)} inputs; the board model needs exactly one image input")
    inp = inputs[0]
    tt = inp.type.tensor_type
    if tt.elem_type != TensorProto.FLOAT:
        raise HelpersError(f"the float ONNX input {inp.name!r} is not float32; give the exported float model "
                           "(python -m helpers export KEY), not a board model")
    dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
    if len(dims) != 4:
        raise HelpersError(f"the float ONNX input {inp.name!r} has shape {dims}; expected 4-D (1, 3, H, W)")
    return inp.name, dims


def _opset(model) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    raise HelpersError("the float ONNX declares no default-domain opset")


def preprocess_nodes(pre: mapper.Preprocess, height: int, width: int, out_name: str, opset: int,
                     layout: str = "NCHW", split: bool = False):
    """The ONNX nodes, initializers and the uint8 input(s) that turn board input into ``out_name``.

    Returns ``(graph inputs, nodes, initializers)``; ``split`` (NV12 only): ``y`` and ``uv`` inputs as the
    S-series ``.hbm`` takes them, else one packed ``data`` input."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    p = PREFIX

    def const(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), p + name))
        return p + name

    def node(op: str, inputs: List[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [p + name], name=p + name, **attrs))
        return p + name

    h, w = height, width
    if pre.input_type_rt == "nv12":
        nv12.check_even(h, w)
        m, off = nv12.yuv_to_rgb_matrix(pre.yuv_range)
        if split:
            graph_inputs = [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, h, w, 1]),
                            helper.make_tensor_value_info("uv", TensorProto.UINT8, [1, h // 2, w // 2, 2])]
            y = node("Cast", ["y"], "y_f32", to=TensorProto.FLOAT)
            uv = node("Cast", ["uv"], "uv_f32", to=TensorProto.FLOAT)
        else:
            graph_inputs = [helper.make_tensor_value_info("data", TensorProto.UINT8, [1, h * 3 // 2, w])]
            x = node("Cast", ["data"], "nv12_f32", to=TensorProto.FLOAT)
            ax = const("axis1", np.array([1], np.int64))
            y = node("Slice", [x, const("y_start", np.array([0], np.int64)), const("y_end", np.array([h], np.int64)),
                               ax], "y")
            uv = node("Slice", [x, const("uv_start", np.array([h], np.int64)),
                                const("uv_end", np.array([h * 3 // 2], np.int64)), ax], "uv")
        # Y part: m[:, 0] is the same for all three channels (1 full, 255/219 limited): broadcast it;
        # the full range needs neither an offset nor a gain
        if not np.allclose(m[:, 0], m[0, 0]):  # pragma: no cover - guards a change of the matrix
            raise HelpersError("nv12.yuv_to_rgb_matrix has a channel-dependent luma column; update board_model")
        y = node("Reshape", [y, const("y_shape", np.array([1, 1, h, w], np.int64))], "y4")
        if off[0] != 0:
            y = node("Sub", [y, const("y_off", np.array(off[0], np.float32))], "y_centred")
        if m[0, 0] != 1:
            y = node("Mul", [y, const("y_gain", np.array(m[0, 0], np.float32))], "y_rgb")
        # chroma: (1, 2, H/2, W/2) -> ConvTranspose, kernel 2x2 stride 2, every tap = m[:, 1:]: applies the
        # colour matrix and upsamples 2x by repetition (nearest, exactly what nv12_to_rgb_float does) in one
        # op -> (1, 3, H, W). Far cheaper in onnxruntime than Expand, Resize or DepthToSpace.
        uv = node("Sub", [uv, const("uv_off", np.array(off[1], np.float32))], "uv_centred")
        uv = node("Reshape", [uv, const("uv_shape", np.array([1, h // 2, w // 2, 2], np.int64))], "uv4")
        uv = node("Transpose", [uv], "uv_nchw", perm=[0, 3, 1, 2])
        weight = np.ascontiguousarray(np.broadcast_to(m[:, 1:].T.reshape(2, 3, 1, 1), (2, 3, 2, 2)), np.float32)
        c = node("ConvTranspose", [uv, const("uv_to_rgb_2x", weight)], "chroma_up",
                 kernel_shape=[2, 2], strides=[2, 2])
        rgb = node("Add", [y, c], "rgb_raw")
        if opset >= 11:
            rgb = node("Clip", [rgb, const("lo", np.array(0.0, np.float32)), const("hi", np.array(255.0, np.float32))], "rgb")
        else:
            rgb = node("Max", [node("Min", [rgb, const("hi", np.array(255.0, np.float32))], "rgb_hi"),
                               const("lo", np.array(0.0, np.float32))], "rgb")
        src_order = "rgb"
    else:
        if split:
            raise HelpersError(f"input_type_rt {pre.input_type_rt!r}: the S-series board model takes nv12 only; "
                               "set input_type_rt: 'nv12' in the yaml")
        graph_inputs = [helper.make_tensor_value_info("data", TensorProto.UINT8, [1, h, w, 3])]
        x = node("Cast", ["data"], "nhwc_f32", to=TensorProto.FLOAT)
        rgb = node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
        src_order = pre.input_type_rt
    if src_order != pre.input_type_train:  # rgb <-> bgr
        rgb = node("Gather", [rgb, const("flip", np.array([2, 1, 0], np.int64))], "swapped", axis=1)
    mean = np.asarray(pre.mean_value, np.float32).reshape(1, -1, 1, 1)
    scale = np.asarray(pre.scale_value, np.float32).reshape(1, -1, 1, 1)
    t = node("Sub", [rgb, const("mean_value", mean)], "centred")
    t = node("Mul", [t, const("scale_value", scale)], "normalised" if layout == "NCHW" else "normalised_nchw")
    if layout == "NHWC":
        t = node("Transpose", [t], "normalised", perm=[0, 2, 3, 1])
    nodes.append(helper.make_node("Identity", [t], [out_name], name=p + "to_model"))
    return graph_inputs, nodes, inits


def _hw_of(pre: mapper.Preprocess, dims: Tuple[int, ...]) -> Tuple[int, int]:
    nhwc = pre.input_layout_train == "NHWC"
    c, (h, w) = (dims[3], dims[1:3]) if nhwc else (dims[1], dims[2:4])
    if dims[0] not in (1, -1) or c not in (3, -1):
        raise HelpersError(f"the float ONNX input has shape {dims}; expected batch 1 and 3 channels "
                           f"in {pre.input_layout_train} (check input_layout_train in the yaml)")
    if pre.input_shape is not None:
        if (h, w) != (-1, -1) and (h, w) != pre.input_shape:
            raise HelpersError(f"the yaml's input_shape says {pre.input_shape[1]}x{pre.input_shape[0]} but the "
                               f"float ONNX takes {w}x{h}; regenerate the yaml or re-export the model")
        h, w = pre.input_shape
    if h <= 0 or w <= 0:
        raise HelpersError("the float ONNX has a dynamic H/W and the yaml has no input_shape; set input_shape")
    return int(h), int(w)


def board_model_proto(onnx_path, yaml_path):
    """Build the board model in memory and return the ``onnx.ModelProto``."""
    import onnx

    cfg = mapper.load_config(yaml_path)
    pre = mapper.preprocess_of(cfg)
    _check_supported(pre)
    onnx_path = Path(onnx_path)
    if not onnx_path.exists():
        raise HelpersError(f"float ONNX not found: {onnx_path}; export it (python -m helpers export KEY)")
    try:
        model = onnx.load(str(onnx_path))
    except Exception as e:  # onnx raises DecodeError and friends
        raise HelpersError(f"{onnx_path} is not a readable ONNX file ({type(e).__name__}); re-export it") from None
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get(META_INPUT_TYPE):
        raise HelpersError(f"{onnx_path.name} is already a board model (input {meta[META_INPUT_TYPE]}); "
                           "give the float ONNX")
    name, dims = _float_input(model)
    if pre.input_name and pre.input_name != name:
        raise HelpersError(f"the yaml's input_name is {pre.input_name!r} but the float ONNX input is {name!r}")
    h, w = _hw_of(pre, dims)
    opset = _opset(model)
    if opset < 10:
        raise HelpersError(f"{onnx_path.name} uses opset {opset}; the board toolchain takes 10 or 11 - re-export")
    used = {n for node in model.graph.node for n in list(node.input) + list(node.output)}
    if any(n.startswith(PREFIX) for n in used):
        raise HelpersError(f"{onnx_path.name} already contains {PREFIX}* tensors; give the float ONNX")
    inner = PREFIX + "model_input"
    march = cfg["model_parameters"].get("march")
    split = pre.input_type_rt == "nv12" and nash.is_nash(march)
    graph_inputs, nodes, inits = preprocess_nodes(pre, h, w, inner, opset, pre.input_layout_train, split)

    g = model.graph
    for node in g.node:  # rename the float input to the pre-processing output
        for i, n in enumerate(node.input):
            if n == name:
                node.input[i] = inner
    for o in g.output:
        if o.name == name:
            raise HelpersError("the float ONNX passes its input straight to an output; not a classifier")
    old_inputs = [i for i in g.input if i.name != name]
    del g.input[:]
    g.input.extend(list(graph_inputs) + old_inputs)
    all_nodes = list(nodes) + list(g.node)
    del g.node[:]
    g.node.extend(all_nodes)
    g.initializer.extend(inits)

    meta.update({
        META_INPUT_TYPE: pre.input_type_rt,
        META_YAML: Path(yaml_path).name,
        META_MEAN_VALUE: json.dumps(list(pre.mean_value)),
        META_SCALE_VALUE: json.dumps(list(pre.scale_value)),
        META_INPUT_SIZE: json.dumps([h, w]),
    })
    if pre.input_type_rt == "nv12":
        meta[META_YUV_RANGE] = pre.yuv_range
        meta[META_NV12_INPUTS] = "split" if split else "packed"
    else:
        meta.pop(META_YUV_RANGE, None)
        meta.pop(META_NV12_INPUTS, None)
    if march:
        meta[META_MARCH] = str(march)
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise HelpersError(f"the merged board model does not pass onnx.checker ({first_line(e, 160)})") from None
    return model


def build_board_model(onnx_path, yaml_path, out=None, overwrite: bool = False) -> Path:
    """Write the board model for ``onnx_path`` + ``yaml_path``; returns its path.

    ``out`` defaults to :func:`default_board_model_path` of the model key in the ONNX metadata.
    """
    import onnx

    model = board_model_proto(onnx_path, yaml_path)
    if out is None:
        key = {p.key: p.value for p in model.metadata_props}.get(META_KEY)
        if not key:
            raise HelpersError(f"{Path(onnx_path).name} carries no {META_KEY} metadata; give --out FILE")
        march = {p.key: p.value for p in model.metadata_props}.get(META_MARCH)
        b = nash.board_of_march(march) if march else None
        out = registry.get(key).board_onnx_for(b) if b is not None else registry.get(key).board_onnx_path
    with atomic_output(out, overwrite=overwrite, suffix=".onnx") as tmp:
        onnx.save(model, str(tmp))
    return Path(out)


# ------------------------------------------------------------------------------------------------
# NumPy reference and the RGB-vs-NV12 comparison
# ------------------------------------------------------------------------------------------------
def reference_input(board_input: np.ndarray, pre: mapper.Preprocess, height: int, width: int) -> np.ndarray:
    """What the float model should see for ``board_input``, computed in NumPy (NCHW float32).

    NV12: :func:`helpers.board.nv12.nv12_to_rgb_float` in the yaml's range; rgb/bgr: uint8 NHWC. Then
    ``(x - mean_value) * scale_value``. A wrong-length NV12 buffer raises HelpersError.
    """
    _check_supported(pre)
    if pre.input_type_rt == "nv12":
        rgb = nv12.nv12_to_rgb_float(np.asarray(board_input), height, width, pre.yuv_range)
        order = "rgb"
    else:
        arr = np.asarray(board_input)
        if arr.dtype != np.uint8 or arr.size != height * width * 3:
            raise HelpersError(f"{pre.input_type_rt} input for {width}x{height} must be {height * width * 3} uint8 "
                               f"values (1xHxWx3); got {arr.size} values of {arr.dtype}")
        rgb = arr.reshape(height, width, 3).astype(np.float32)
        order = pre.input_type_rt
    if order != pre.input_type_train:
        rgb = rgb[:, :, ::-1]
    x = (rgb - np.asarray(pre.mean_value, np.float32)) * np.asarray(pre.scale_value, np.float32)
    x = x.astype(np.float32)
    return np.ascontiguousarray(x[None] if pre.input_layout_train == "NHWC" else x.transpose(2, 0, 1)[None])


def compare_paths(float_onnx, board_onnx, images: Sequence) -> Dict[str, object]:
    """Each image through the float RGB path and the board (NV12) path: :func:`helpers.board.agreement.compare`.

    Both paths start from the same ``board_resize`` frame. Returns the model facts, one
    :class:`~helpers.board.agreement.Agreement` per image (``rows``) and their
    :func:`~helpers.board.agreement.summarise` (``summary``).
    """
    from helpers.board.classifier import Classifier
    from helpers.board.image import board_resize, load_image

    b = Classifier(board_onnx)
    key = b.spec.key if b.spec is not None else None
    if not key:
        raise HelpersError(f"{Path(board_onnx).name} carries no {META_KEY}; cannot find the model's mean/std")
    if b.runtime.metadata.get(META_INPUT_TYPE) is None:
        raise HelpersError(f"{Path(board_onnx).name} is not a board model (no {META_INPUT_TYPE} metadata)")
    if b.kind != "nv12":
        raise HelpersError(f"{Path(board_onnx).name} takes {b.kind} input; the comparison checks NV12 board models")
    f = Classifier(float_onnx, key=key)
    rows = []
    for img in images:
        rgb = board_resize(load_image(img), b.size)
        a = agreement.compare(b, f, rgb)
        rows.append((Path(str(img)).name if not isinstance(img, np.ndarray) else "<array>", a))
    return {"key": key, "yuv_range": b.yuv_range, "weights": f.weights, "rows": rows,
            "summary": agreement.summarise([a for _, a in rows])}


def format_comparison(c: Dict[str, object]) -> str:
    s = c["summary"]
    lines = [f"{c['key']}: RGB float path vs board path (NV12, {c['yuv_range']} range), weights {c['weights']}"]
    if c["weights"] != "imagenet":
        lines.append("  (weights are not the pretrained ImageNet ones: the classes mean nothing; "
                     "only the agreement between the two paths does)")
    for name, a in c["rows"]:
        lines.append(f"  {name:24s} {'ok' if a.ok else 'FAILED':6s} contract {a.contract_rel_err:.1e}  "
                     f"PSNR {min(a.psnr_db, 99.0):4.1f} dB  logit r {a.logit_corr:.4f}  "
                     f"top-1 {'same' if a.top1_nv12 == a.top1_rgb else 'different'}  top-5 overlap {a.top5_overlap:.0%}")
    lines.append(f"  {s['passed']}/{s['images']} images pass ({agreement.RULE}); top-1 agreement "
                 f"{s['top1_agreement']:.0%}, mean top-5 overlap {s['top5_overlap']:.0%}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def cmd_board_model(args) -> int:
    from helpers.board.files import rel_to_repo

    if args.record and args.compare is None:  # before any work: nothing is written when the arguments are wrong
        raise HelpersError("--record needs --compare: it stores the RGB-vs-board comparison")
    out = build_board_model(args.onnx, args.yaml, out=args.out, overwrite=args.overwrite)
    from helpers.board.runtime import open_model

    m = open_model(out)
    print(f"wrote {rel_to_repo(out)}")
    print(m.describe())
    if args.compare is not None:
        from helpers.board.image import find_images, sample_images

        images = find_images(args.compare) if args.compare else sample_images()
        c = compare_paths(args.onnx, out, images)
        print(format_comparison(c))
        if args.record:
            from helpers.board.records import record_and_report

            s = c["summary"]
            row = {"key": c["key"], "weights": c["weights"], "images": s["images"], "passed": s["passed"],
                   "top1_agreement": 100.0 * s["top1_agreement"], "top5_overlap": 100.0 * s["top5_overlap"],
                   "worst_contract_rel_err": s["worst_contract_rel_err"], "min_logit_corr": s["min_logit_corr"]}
            record_and_report("nv12", [row], "python -m helpers board-model ONNX YAML --compare --record")
    return 0


def register(sub) -> None:
    p = sub.add_parser("board-model", help="build the PC board model (NV12 uint8 input, normalisation "
                                           "inside) from a float ONNX and a mapper yaml")
    p.add_argument("onnx", metavar="ONNX", help="the float ONNX (python -m helpers export KEY)")
    p.add_argument("yaml", metavar="YAML", help="the mapper yaml (yaml/<Arch>/<key>_<board>.yaml)")
    p.add_argument("--out", help="output .onnx (default: model/<Arch>/<bin_stem>.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--compare", nargs="?", const="", metavar="DIR",
                   help="then compare the RGB and board paths on the images in DIR (default: data/)")
    p.add_argument("--record", action="store_true", help="with --compare: store it in data/results/nv12.json")
    p.set_defaults(func=cmd_board_model)
