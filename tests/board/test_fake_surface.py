"""The fakes in tests/fake_board offer only names the vendor's binaries have.

``tests/fake_board/vendor_surface.json`` holds the identifier strings of the compiled modules of the
wheels ``hobot-dnn-rdkx5`` and ``bpu_infer_lib_x3`` (recorded by tests/fake_board/record_vendor_surface.py).
Every public attribute, method and property of every object a fake hands out (module, model, tensors,
properties, shapes, quantisation records) must be among them: a fake that grows a convenience the real
runtime lacks fails here, so the backends cannot come to depend on it.
"""
import importlib
import json
import sys
from pathlib import Path

import pytest

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
RECORD = json.loads((FAKE_DIR / "vendor_surface.json").read_text(encoding="utf-8"))
FAKES = {"hobot_dnn.pyeasy_dnn": "hobot-dnn-rdkx5", "hobot_dnn_rdkx5.pyeasy_dnn": "hobot-dnn-rdkx5",
         "bpu_infer_lib": "bpu_infer_lib_x3"}


@pytest.fixture
def fakes(tmp_path):
    sys.path.insert(0, str(FAKE_DIR))
    try:
        import fake_models

        yield fake_models, tmp_path
    finally:
        sys.path.remove(str(FAKE_DIR))
        for m in list(sys.modules):
            if m.split(".")[0] in ("hobot_dnn", "hobot_dnn_rdkx5", "bpu_infer_lib", "_fake_common", "fake_models",
                                   "hbm_runtime", "hobot_vio_rdkx5"):
                sys.modules.pop(m)


def _public(obj) -> set:
    names = set(getattr(obj, "__dict__", {})) | {n for c in type(obj).__mro__[:-1] for n in vars(c)}
    if isinstance(obj, type):
        names = {n for c in obj.__mro__[:-1] for n in vars(c)}
    return {n for n in names if not n.startswith("_")}


def _walk(module, bin_path) -> dict:
    """name -> where it was offered, for the module and everything a load and one inference hand out."""
    import numpy as np

    offered = {}
    seen = []

    def visit(obj, where):
        if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)) or \
                any(obj is s for s in seen):
            return
        if isinstance(obj, (list, tuple)):
            for i, o in enumerate(obj):
                visit(o, f"{where}[{i}]")
            return
        seen.append(obj)
        for n in _public(obj):
            offered.setdefault(n, where)
            try:
                value = getattr(obj, n)
            except Exception:
                continue
            if not callable(value) or isinstance(value, type):
                visit(value, f"{where}.{n}")

    exported = [n for n in getattr(module, "__all__", None) or
                [n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__]]
    for n in exported:
        if not n.startswith("_"):
            offered.setdefault(n, module.__name__)
    if hasattr(module, "load"):
        models = module.load(str(bin_path))
        visit(models, "load()")
        out = models[0].forward([np.zeros(224 * 336, np.uint8).reshape(336, 224)] if "rdkx5" in module.__name__
                                else np.zeros(224 * 336, np.uint8).reshape(336, 224))
        visit(out, "forward()")
    else:
        inf = module.Infer(False)
        assert inf.load_model(str(bin_path))
        inf.read_input(np.zeros(224 * 336, np.uint8), 0)
        inf.forward()
        inf.get_output()
        visit(inf, "Infer")
    return offered


def test_the_record_holds_both_wheels():
    for pip_name in set(FAKES.values()):
        w = RECORD["wheels"][pip_name]
        assert w.get("sha256") and len(w["names"]) > 100, pip_name
    assert "validShape" in RECORD["wheels"]["bpu_infer_lib_x3"]["names"]


@pytest.mark.parametrize("module_name", list(FAKES))
@pytest.mark.parametrize("output", ["F32", "S8"])
def test_fakes_offer_only_recorded_names(fakes, module_name, output):
    fake_models, tmp = fakes
    path = fake_models.write_fake_bin(tmp / "m.bin", output=output, align=4)
    offered = _walk(importlib.import_module(module_name), path)
    assert len(offered) >= 8  # the walk reached the tensors and their properties
    known = set(RECORD["wheels"][FAKES[module_name]]["names"])
    extra = {n: w for n, w in offered.items() if n not in known}
    assert extra == {}, f"{module_name} fake offers names the vendor binary lacks: {extra}"


# -- hbm_runtime: its wheel ships a stub (HB_HBMRuntime.pyi), recorded class by class ----------------------------
HBM = RECORD["wheels"]["hbm-runtime"]
ENUMS = ("hbDNNDataType", "hbDNNQuantiType")
#: the one name the X5 build (RDK OS >= 3.5) has beyond the recorded wheel: its packed input's type, which the
#: model zoo reads as "NV12" (D-Robotics/rdk_model_zoo samples/_shared/runtime_meta.py, cls_binding.py)
X5_EXTRA = {"hbDNNDataType": {"NV12"}}


def _walk_hbm(module, path, arrays) -> list:
    """(class, public names, enum member name or None) of every object the fake hands out: the module's
    exports, the runtime and every property value, the quantisation and scheduling records, run's result."""
    import numpy as np

    found, seen = [], []

    def visit(obj):
        if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)) or \
                any(obj is s for s in seen):
            return
        if isinstance(obj, dict):
            for v in obj.values():
                visit(v)
            return
        if isinstance(obj, (list, tuple)):
            for v in obj:
                visit(v)
            return
        seen.append(obj)
        cls = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        found.append((cls, _public(obj), getattr(obj, "name", None) if cls in ENUMS and not isinstance(obj, type)
                      else None))
        for n in _public(obj):
            try:
                value = getattr(obj, n)
            except Exception:
                continue
            if not isinstance(value, (property, staticmethod)) and (not callable(value) or isinstance(value, type)):
                visit(value)  # a class's properties are offered names, not objects handed out

    for n in module.__all__:
        visit(getattr(module, n))
    rt = module.HB_HBMRuntime(str(path))
    visit(rt)
    m = rt.model_names[0]
    visit(rt.run({m: arrays(rt.input_shapes[m])}))
    return found


def test_the_record_holds_the_hbm_runtime_stub():
    assert HBM["wheel"].startswith("hbm_runtime-0.1.0.post1-") and HBM["sha256"]
    assert set(HBM["classes"]) == {"HB_HBMRuntime", "QuantParams", "SchedParam", "hbDNNDataType", "hbDNNQuantiType"}
    assert {"run", "output_quants", "output_strides", "version"} <= set(HBM["classes"]["HB_HBMRuntime"])
    assert {"name", "value"} <= set(HBM["names"])  # pybind11 enums: their members have name and value


@pytest.mark.parametrize("build,board,suffix", [("hbm", "s100", ".hbm"), ("bin", "x5", ".bin"),
                                                 ("bin_u8", "x5", ".bin")])
def test_hbm_runtime_fake_offers_only_the_stub(fakes, monkeypatch, build, board, suffix):
    import numpy as np

    fake_models, tmp = fakes
    monkeypatch.setenv("FAKE_HBM_BUILD", build)
    monkeypatch.setenv("FAKE_BOARD", board)
    kw = {"feed": "split"} if suffix == ".hbm" else {}
    path = fake_models.write_fake_bin(tmp / f"m{suffix}", board=board, output="S8", align=16, zero_point=True, **kw)
    module = importlib.import_module("hbm_runtime")
    assert list(module.__all__) == HBM["exports"]
    # beyond __all__ only the standard modules its __init__ imports, as the wheel's does (os, ctypes)
    assert {n for n in vars(module) if not n.startswith("_")} - set(HBM["exports"]) <= {"os", "ctypes"}

    def arrays(shapes):
        return {n: np.zeros(s, np.uint8) if len(s) != 4 or s[1] != 3 else np.zeros(224 * 336, np.uint8)
                for n, s in shapes.items()}

    found = _walk_hbm(module, path, arrays)
    classes = {c for c, _, _ in found}
    assert {"HB_HBMRuntime", "QuantParams", "SchedParam", "hbDNNDataType", "hbDNNQuantiType"} <= classes
    extra = {}
    for cls, names, member in found:
        allowed = set(HBM["classes"].get(cls, ())) | ({"name", "value"} if cls in ENUMS else set())
        bad = names - allowed
        if member is not None and member not in set(HBM["classes"][cls]) | (X5_EXTRA.get(cls, set())
                                                                            if build == "bin" else set()):
            bad.add(f"member {member}")
        if cls not in HBM["classes"]:
            bad.add(f"class {cls}")
        if bad:
            extra.setdefault(cls, set()).update(bad)
    assert extra == {}, f"the hbm_runtime fake offers what the recorded wheel lacks: {extra}"


def test_the_record_holds_the_camera_wheel():
    w = RECORD["wheels"]["hobot-vio-rdkx5"]
    assert w.get("sha256") and w["module"] == "hobot_vio_rdkx5.libsrcampy" and len(w["names"]) > 100
    # the camera calls helpers.board.camera makes, and their keywords, are in the binary
    for name in ("Camera", "open_cam", "get_img", "close_cam", "pipe_id", "video_index", "fps", "width", "height",
                 "module", "raw_height", "raw_width"):
        assert name in w["names"], name


def test_camera_fake_offers_only_recorded_names(fakes):
    """The camera fake: module, Camera, its methods and their keyword names, all in the wheel's strings."""
    import inspect

    lib = importlib.import_module("hobot_vio_rdkx5.libsrcampy")
    assert lib.__file__.startswith(str(FAKE_DIR))
    cam = lib.Camera()
    assert cam.open_cam(0, -1, 30, [224], [224]) == 0 and len(cam.get_img(2, 224, 224)) == 224 * 224 * 3 // 2
    offered = {n: "module" for n, v in vars(lib).items() if isinstance(v, type) and v.__module__ == lib.__name__}
    offered.update({n: "Camera" for n in _public(cam)})
    for meth in ("open_cam", "get_img", "close_cam"):
        offered.update({p: f"Camera.{meth}()" for p in inspect.signature(getattr(cam, meth)).parameters})
    cam.close_cam()
    known = set(RECORD["wheels"]["hobot-vio-rdkx5"]["names"])
    extra = {n: w for n, w in offered.items() if n not in known}
    assert extra == {}, f"the camera fake offers names the vendor binary lacks: {extra}"
    assert {"Camera", "open_cam", "get_img", "close_cam", "pipe_id", "video_index"} <= set(offered)
