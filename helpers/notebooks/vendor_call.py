"""The vendor call itself: the few lines a board user would copy to run a ``.bin`` without our helpers.

Shown by the test notebooks (``InferenceDemo.vendor_call``): run on a board, printed on a PC. The API is
the vendor's (sources in :mod:`helpers.board.vendor`): ``hobot_dnn.pyeasy_dnn`` 2.x takes one NV12
array shaped (H*3/2, W) (its forward copies dims[0] * dims[1] bytes), ``hobot_dnn_rdkx5`` 3.x a list
of arrays; ``bpu_infer_lib`` reads the input with ``read_input`` and leaves the raw output in ``data``.
Board-safe (text only).
"""
from __future__ import annotations

from typing import Optional


def vendor_call_lines(backend: str, module: Optional[str], path: str, size) -> str:
    """The vendor call itself, as a user would type it (see helpers/board/vendor.py for the API's sources)."""
    h, w = size
    if backend == "hbm_runtime":  # helpers/board/hbm.py: X5 .bin packed, S-series .hbm split Y / UV
        split = path.endswith(".hbm")
        feed = (f"dict(zip(names, (nv[:{h * w}].reshape(1, {h}, {w}, 1), nv[{h * w}:].reshape(1, {h // 2}, "
                f"{w // 2}, 2))))" if split else "{names[0]: nv}")
        note = "  # Y then UV, in input_shapes' order" if split else "  # one packed NV12 input (Y then UV)"
        return "\n".join([
            "from hbm_runtime import HB_HBMRuntime",
            f"rt = HB_HBMRuntime({path!r}); m = rt.model_names[0]; names = rt.input_names[m]",
            "print(rt.input_shapes[m], rt.input_dtypes[m], rt.output_dtypes[m])",
            f"nv = demo.nv12_of(); out = rt.run({{m: {feed}}}){note}",
            "print({k: v.reshape(-1)[:5] for k, v in out[m].items()}, rt.output_quants[m])  # raw: int when quantised"])
    if backend == "bpu_infer_lib":
        return "\n".join([
            "import bpu_infer_lib",
            f"inf = bpu_infer_lib.Infer(False); inf.load_model({path!r})",
            "p = inf.inputs[0].properties; print(p.tensorType, p.tensorLayout, p.validShape.dimensionSize[:4])",
            "inf.read_input(demo.nv12_of(), 0); inf.forward(); inf.get_output()",
            "print(inf.outputs[0].properties.tensorType, inf.outputs[0].data.reshape(-1)[:5])  # raw: int when quantised"])
    pkg = (module or "hobot_dnn.pyeasy_dnn").rsplit(".", 1)[0]
    feed = f"[demo.nv12_of().reshape({h * 3 // 2}, {w})]" if pkg == "hobot_dnn_rdkx5" else \
        f"demo.nv12_of().reshape({h * 3 // 2}, {w})"
    return "\n".join([
        f"from {pkg} import pyeasy_dnn as dnn",
        f"model = dnn.load({path!r})[0]",
        "p = model.inputs[0].properties; print(p.tensor_type, p.layout, p.shape)",
        f"out = model.forward({feed})  # NV12 uint8 as (H*3/2, W)",
        "print(out[0].properties.dtype, out[0].properties.scale_data[:3], out[0].buffer.reshape(-1)[:5])"])
