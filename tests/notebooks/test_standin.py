"""helpers.notebooks.standin: the vendor's API over onnxruntime, and nothing more.

Every public name of every object the stand-ins hand out (the modules' exports, the classes, a loaded
runtime, its properties' values, a run's result) is checked against what was recorded from the vendor's
wheels in tests/fake_board/vendor_surface.json: for ``hbm_runtime`` the ``.pyi`` class by class
(``classes``) and ``__all__`` (``exports``); for ``pyeasy_dnn`` the identifier strings of the
``hobot-dnn-rdkx5`` binary (``names``). The checkers are shown to catch an added name. Then what the
stand-ins compute and refuse, and section 4 of the test notebooks (both runtimes, any BOARD).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.board.runtime import OrtBackend
from helpers.docs import notebook_templates as tpl
from helpers.docs import notebooks
from helpers.errors import HelpersError
from helpers.notebooks import standin
from helpers.notebooks.standin import pyeasy_dnn

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
RECORD = json.loads((FAKE_DIR / "vendor_surface.json").read_text(encoding="utf-8"))["wheels"]
HBM = RECORD["hbm-runtime"]
DNN_NAMES = set(RECORD["hobot-dnn-rdkx5"]["names"])
sys.path.insert(0, str(FAKE_DIR))
import fake_models  # noqa: E402

sys.path.remove(str(FAKE_DIR))
SIZE = (224, 224)
NV12_BYTES = SIZE[0] * SIZE[1] * 3 // 2


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return fake_models.tiny_nv12_model(tmp_path_factory.mktemp("m") / "tiny_nv12.onnx", size=SIZE)


def _public(obj) -> set:
    classes = obj.__mro__[:-1] if isinstance(obj, type) else type(obj).__mro__[:-1]
    names = {n for c in classes for n in vars(c)}
    if not isinstance(obj, type):
        names |= set(getattr(obj, "__dict__", {}))
    return {n for n in names if not n.startswith("_")}


def _walk(roots, allowed) -> dict:
    """``where -> extra names`` for everything reachable from ``roots`` (values of properties, dicts, lists).

    ``allowed(obj)`` is the set of names ``obj`` may offer (None: any object of that kind is unknown)."""
    extra, seen = {}, []

    def visit(obj, where):
        if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)) or \
                any(obj is s for s in seen):
            return
        if isinstance(obj, (list, tuple)):
            for i, o in enumerate(obj):
                visit(o, f"{where}[{i}]")
            return
        if isinstance(obj, dict):
            for k, v in obj.items():
                visit(v, f"{where}[{k!r}]")
            return
        seen.append(obj)
        ok = allowed(obj)
        names = _public(obj)
        bad = sorted(names - ok) if ok is not None else [f"<{type(obj).__name__}: not a vendor class>"]
        if bad:
            extra[where] = bad
        if isinstance(obj, type):  # a class: its names are checked; its properties are walked on an instance
            return
        for n in names:
            try:
                value = getattr(obj, n)
            except Exception:
                continue
            if not callable(value) or isinstance(value, type):
                visit(value, f"{where}.{n}")

    for where, obj in roots:
        visit(obj, where)
    return extra


def _hbm_allowed(obj):
    name = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    return set(HBM["classes"][name]) if name in HBM["classes"] else None


def _hbm_extras(path) -> dict:
    extra = {}
    if not set(standin.__all__) <= set(HBM["exports"]):
        extra["__all__"] = sorted(set(standin.__all__) - set(HBM["exports"]))
    rt = standin.HB_HBMRuntime(str(path))
    out = rt.run({rt.model_names[0]: {"data": np.zeros(NV12_BYTES, np.uint8)}})
    roots = [(n, getattr(standin, n)) for n in standin.__all__] + [("HB_HBMRuntime()", rt), ("run()", out)]
    extra.update(_walk(roots, _hbm_allowed))
    return extra


def _dnn_extras(path) -> dict:
    extra = {}
    if not set(pyeasy_dnn.__all__) <= DNN_NAMES:
        extra["__all__"] = sorted(set(pyeasy_dnn.__all__) - DNN_NAMES)
    models = pyeasy_dnn.load(str(path))
    out = models[0].forward(np.zeros((SIZE[0] * 3 // 2, SIZE[1]), np.uint8))
    extra.update(_walk([("load()", models), ("forward()", out)], lambda obj: DNN_NAMES))
    return extra


def test_the_record_holds_the_hbm_runtime_stub():
    assert HBM["exports"] == ["HB_HBMRuntime", "hbDNNDataType", "hbDNNQuantiType", "QuantParams", "SchedParam"]
    assert {"run", "input_shapes", "output_quants"} <= set(HBM["classes"]["HB_HBMRuntime"])
    assert len(DNN_NAMES) > 100


def test_hbm_standin_offers_only_the_stub_names(model, capsys):
    assert _hbm_extras(model) == {}
    assert "STAND-IN, not hbm_runtime" in capsys.readouterr().out


def test_pyeasy_standin_offers_only_the_wheel_names(model):
    assert _dnn_extras(model) == {}


def test_the_checkers_catch_an_added_name(model, monkeypatch):
    monkeypatch.setattr(standin.HB_HBMRuntime, "describe", lambda self: "", raising=False)
    assert _hbm_extras(model) == {"HB_HBMRuntime": ["describe"], "HB_HBMRuntime()": ["describe"]}
    monkeypatch.undo()
    monkeypatch.setattr(standin, "__all__", standin.__all__ + ["VERSION"])
    assert _hbm_extras(model) == {"__all__": ["VERSION"]}
    monkeypatch.undo()
    init = standin.QuantParams.__init__

    def more(self):
        init(self)
        self.scale_len = 0

    monkeypatch.setattr(standin.QuantParams, "__init__", more)
    extras = _hbm_extras(model)
    assert extras and all(v == ["scale_len"] for v in extras.values()), extras
    monkeypatch.undo()
    monkeypatch.setattr(pyeasy_dnn.TensorProperties, "mean", 0.5, raising=False)
    assert "mean" in str(_dnn_extras(model))


def test_hbm_standin_reports_the_x5_contract_and_runs_like_our_backend(model, capsys):
    rt = standin.HB_HBMRuntime(str(model))
    line = capsys.readouterr().out.strip()
    assert line.startswith("STAND-IN, not hbm_runtime: tiny_nv12.onnx runs on onnxruntime") and "\n" not in line
    m = rt.model_names[0]
    assert rt.model_count == 1 and rt.input_names == {m: ["data"]} and rt.output_names == {m: ["output"]}
    assert rt.input_shapes[m]["data"] == [1, 3, 224, 224]  # as the zoo's cls_binding.py reads an X5 .bin
    assert str(rt.input_dtypes[m]["data"]) == "hbDNNDataType.U8" and rt.input_dtypes[m]["data"] == standin.hbDNNDataType.U8
    assert rt.output_shapes[m]["output"] == [1, 1000] and str(rt.output_dtypes[m]["output"]) == "hbDNNDataType.F32"
    q = rt.output_quants[m]["output"]
    assert q.quant_type == standin.hbDNNQuantiType.NONE and q.scale.size == 0 and q.zero_point.size == 0
    assert rt.input_strides[m]["data"] == [224 * 224 * 3, 224 * 224, 224, 1]
    nv12 = np.random.default_rng(0).integers(0, 256, NV12_BYTES, dtype=np.uint8)
    expected = fake_models.tiny_nv12_reference(nv12, SIZE)
    for feed in (nv12, nv12.reshape(1, 336, 224, 1)):  # the zoo's flat buffer, and its older 4-D view
        for arg in ({m: {"data": feed}}, {"data": feed}, feed):
            out = rt.run(arg)
            assert list(out) == [m] and list(out[m]) == ["output"]
            assert out[m]["output"].dtype == np.float32 and out[m]["output"].shape == (1, 1000)
            np.testing.assert_allclose(out[m]["output"].reshape(-1), expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(rt.run(nv12)[m]["output"].reshape(-1), OrtBackend(model).run(nv12)[0].reshape(-1))


@pytest.mark.parametrize("feed, kind, needle", [
    (np.zeros(NV12_BYTES, np.float32), TypeError, "must be uint8 (the runtime casts nothing)"),
    (np.zeros((336, 224), np.uint8), RuntimeError, "must have shape [75264] or [1, 336, 224, 1]"),
    (np.zeros(100, np.uint8), RuntimeError, "got [100]"),
    ([0] * NV12_BYTES, TypeError, "must be a numpy array"),
])
def test_hbm_standin_refuses_what_the_runtime_refuses(model, feed, kind, needle):
    rt = standin.HB_HBMRuntime(str(model))
    with pytest.raises(kind) as e:
        rt.run({"data": feed})
    assert needle in str(e.value) and isinstance(e.value, HelpersError) and "\n" not in str(e.value)


def test_hbm_standin_bad_names_and_files(model, tmp_path):
    rt = standin.HB_HBMRuntime([str(model)])
    with pytest.raises(RuntimeError, match=r"takes the inputs \['data'\]; got \['images'\]"):
        rt.run({"images": np.zeros(NV12_BYTES, np.uint8)})
    with pytest.raises(RuntimeError, match="unknown model"):
        rt.run({"other": {"data": np.zeros(NV12_BYTES, np.uint8)}})
    with pytest.raises(RuntimeError, match="model file not found"):
        standin.HB_HBMRuntime(str(tmp_path / "nope.onnx"))
    with pytest.raises(TypeError, match="model file path"):
        standin.HB_HBMRuntime(3)
    assert standin.HB_HBMRuntime.version().startswith("stand-in")


def _split_model(path, h=8, w=6):
    """A two-input board model as an S-series .hbm reports it: y (1, H, W, 1) and uv (1, H/2, W/2, 2)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Cast", ["uv"], ["uvf"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["y"], ["yf"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["yf"], ["ym"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("ReduceMean", ["uvf"], ["uvm"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Sub", ["ym", "uvm"], ["d"]),
             helper.make_node("Unsqueeze", ["d"], ["output"], axes=[1])]
    graph = helper.make_graph(nodes, "split", [
        helper.make_tensor_value_info("uv", TensorProto.UINT8, [1, h // 2, w // 2, 2]),
        helper.make_tensor_value_info("y", TensorProto.UINT8, [1, h, w, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1])])
    return fake_models._save(graph, path, {"rdk.input_type_rt": "nv12"})


def test_a_split_nv12_model_is_reported_and_fed_as_it_declares(tmp_path):
    rt = standin.HB_HBMRuntime(str(_split_model(tmp_path / "split.onnx")))
    m = rt.model_names[0]
    assert rt.input_names[m] == ["uv", "y"]
    assert rt.input_shapes[m] == {"uv": [1, 4, 3, 2], "y": [1, 8, 6, 1]}
    y, uv = np.full((1, 8, 6, 1), 100, np.uint8), np.full((1, 4, 3, 2), 40, np.uint8)
    assert rt.run({m: {"y": y, "uv": uv}})[m]["output"].tolist() == [[60.0]]
    with pytest.raises(RuntimeError, match=r"input 'y' must have shape \[1, 8, 6, 1\]"):
        rt.run({"y": y.reshape(1, 8, 6), "uv": uv})
    with pytest.raises(RuntimeError, match="bare array needs one model with one input"):
        rt.run(y)
    with pytest.raises(RuntimeError, match="does not take one packed NV12 input"):
        pyeasy_dnn.load(str(tmp_path / "split.onnx"))


def test_pyeasy_standin_runs_like_hobot_dnn(model, capsys):
    models = pyeasy_dnn.load(str(model))
    assert "STAND-IN, not hobot_dnn.pyeasy_dnn" in capsys.readouterr().out
    m = models[0]
    p = m.inputs[0].properties
    assert (p.tensor_type, p.dtype, p.layout, p.shape) == ("NV12", "uint8", "NCHW", (1, 3, 224, 224))
    nv12 = np.random.default_rng(1).integers(0, 256, NV12_BYTES, dtype=np.uint8)
    for arg in (nv12.reshape(336, 224), [nv12.reshape(336, 224)]):  # hobot_dnn 2.x, hobot_dnn_rdkx5 3.x
        out = m.forward(arg)
        assert out[0].properties.tensor_type == "float32" and out[0].properties.scale_data.size == 0
        np.testing.assert_allclose(out[0].buffer.reshape(-1), fake_models.tiny_nv12_reference(nv12, SIZE),
                                   rtol=1e-4, atol=1e-3)
    with pytest.raises(RuntimeError, match="takes 75264 NV12 bytes"):
        m.forward(np.zeros((10, 10), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        m.forward(np.zeros((336, 224), np.float32))


SECTION4 = ["vendor-nv12", "vendor-nv12-check", "vendor-top", "vendor-import-hbm", "vendor-load-hbm",
            "vendor-run-hbm", "vendor-import-dnn", "vendor-load-dnn", "vendor-run-dnn"]
REPO = Path(__file__).resolve().parents[2]


def _cells(board="x5", arch="MobileOne") -> dict:
    values = notebooks.facts(arch)
    return {c.id: c for c in notebooks.build(tpl.TEST, {**values, **notebooks.vendor_facts(board, values)}).cells}


def _run_cells(tmp_path, body, board="x5", model_file=None, pythonpath=(), **env) -> subprocess.CompletedProcess:
    """``body`` (cell sources) as one script after the notebook's own set-up, on the PC's model ``model_file``."""
    photo = REPO / "data" / "coffee.jpg"
    head = (f"from helpers.notebooks import inference as nb\nTOPK = 3\nBOARD = {board!r}\n"
            f"demo = nb.InferenceDemo('mobileone_s0', image={str(photo)!r}, weights='random', "
            f"model_file={str(model_file)!r})\ndemo.load()\n")
    script = tmp_path / "cells.py"
    script.write_text(head + "\n".join(body) + "\n")
    import os
    path = os.pathsep.join([*map(str, pythonpath), str(REPO)])
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg", **env})


@pytest.mark.parametrize("board", ["x3", "x5", "s100"])
def test_every_notebook_runs_both_runtimes_and_shares_nv12_and_top_k(board):
    """Both runtimes' sections are runnable cells whatever BOARD is (an X3 user runs pyeasy_dnn, an X5 user
    hbm_runtime), the NV12 conversion and the top-k are written once, and no text claims one runtime per BOARD."""
    cells = _cells(board)
    ids = list(cells)
    assert [i for i in ids if i in SECTION4] == SECTION4
    assert cells["vendor-hbm-text"].source.startswith(
        "### 4a. hbm_runtime (RDK X5 with RDK OS >= 3.5, RDK S100/S600)")
    assert cells["vendor-dnn-text"].source.startswith(
        "### 4b. hobot_dnn.pyeasy_dnn (RDK X3, RDK X5 images before RDK OS 3.5)")
    assert "vendor-other" not in ids
    code_cells = [c for c in cells.values() if c.cell_type == "code"]
    for needle in ("COLOR_RGB2YCrCb", "COLOR_RGB2YUV_I420", "np.exp(", "np.argsort("):
        assert [c.id for c in code_cells if needle in c.source] == (
            ["vendor-nv12"] if "COLOR" in needle else ["vendor-top"]), needle
    for cell in ("vendor-run-hbm", "vendor-run-dnn"):
        assert "nv12_from_photo(demo.image, h, w, full_range)" in cells[cell].source
        assert "show_top(logits)" in cells[cell].source
    text = "\n".join(c.source for c in cells.values())
    assert "runs the runtime of its" not in text and "Shown, not run" not in text
    # the PyPI wheel is the S-series build: never the X5's hbm_runtime
    assert "the wheel `hbm-runtime`, Python >= 3.10" not in text
    assert "(package `hobot-spdev`)" in cells["vendor-hbm-text"].source


def test_the_vendor_cells_run_both_runtimes_on_a_pc(model, tmp_path):
    """Section 4 of a test notebook, as a script on a PC: both imports fall back to the stand-in and say why,
    both runtimes run, the NV12 lines match our board path, and the two give the same logits."""
    cells = _cells("x3")
    body = [cells[i].source for i in SECTION4 if i != "vendor-run-hbm"]
    body.insert(SECTION4.index("vendor-run-hbm"), cells["vendor-run-hbm"].source + "\nlogits_hbm = logits")
    body.append("print('4a vs 4b', float(np.abs(logits_hbm.reshape(-1) - logits.reshape(-1)).max()))")
    r = _run_cells(tmp_path, body, board="x3", model_file=model)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert "hbm_runtime not usable here (No module named 'hbm_runtime'): the stand-in runs instead" in out
    assert "hobot_dnn not usable here (No module named 'hobot_dnn'): the stand-in runs instead" in out
    assert "4a runs helpers.notebooks.standin" in out and "4b runs helpers.notebooks.standin.pyeasy_dnn" in out
    assert "STAND-IN, not hbm_runtime" in out and "STAND-IN, not hobot_dnn.pyeasy_dnn" in out
    assert "input  data: shape [1, 3, 224, 224], NV12" in out
    assert "these lines vs our board path: Y max 1," in out and "UV max 0," in out
    assert out.count("RANDOM WEIGHTS: class indices only") == 2
    assert float(out.strip().splitlines()[-1].split()[-1]) < 1e-5


def test_on_an_s_board_pyeasy_dnn_says_it_is_absent_and_skips(model, tmp_path):
    """BOARD = "s100": 4b prints one line (the S boards have no pyeasy_dnn) and its cells do nothing, with
    no error; the stand-in pyeasy_dnn refuses an .hbm as the S boards would."""
    cells = _cells("x5")
    body = [cells[i].source for i in ("vendor-nv12", "vendor-top", "vendor-import-dnn", "vendor-load-dnn",
                                      "vendor-run-dnn")] + ["print('dnn is', dnn)"]
    r = _run_cells(tmp_path, body, board="s100", model_file=model)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines[-2:] == ["RDK S100: the RDK S boards have no pyeasy_dnn (their .hbm files run with hbm_runtime, "
                          "4a): 4b is skipped", "dnn is None"]
    hbm = tmp_path / "m.hbm"
    hbm.write_bytes(b"")
    with pytest.raises(RuntimeError, match="the RDK S boards have no pyeasy_dnn"):
        pyeasy_dnn.load(str(hbm))


def test_hbm_runtime_without_its_libraries_falls_back_and_says_why(model, tmp_path):
    """hbm_runtime raises RuntimeError on import when libhbucp.so/libdnn.so are missing (the PyPI wheel on an
    X5): the import cell catches it, prints the first line of the vendor's message, and uses the stand-in."""
    cells = _cells("x5")
    body = [cells[i].source for i in ("vendor-nv12", "vendor-top", "vendor-import-hbm", "vendor-load-hbm",
                                      "vendor-run-hbm")]
    r = _run_cells(tmp_path, body, model_file=model, pythonpath=[FAKE_DIR], FAKE_HBM_MISSING_LIBS="libhbucp.so")
    assert r.returncode == 0, r.stderr[-2000:]
    assert ("hbm_runtime not usable here (Missing Horizon runtime libraries (provided by the 'hobot-dnn' "
            "package):): the stand-in runs instead") in r.stdout
    assert "4a runs helpers.notebooks.standin" in r.stdout and "STAND-IN, not hbm_runtime" in r.stdout
    # the same fake without the switch is imported for real
    r = _run_cells(tmp_path, body[:3], model_file=model, pythonpath=[FAKE_DIR], FAKE_HBM_MISSING_LIBS="")
    assert r.returncode == 0 and "4a runs hbm_runtime" in r.stdout, r.stderr[-2000:]


class _Props:
    def __init__(self, scale):
        self.scale_data = np.asarray(scale, np.float32)


class _Out:
    def __init__(self, buffer, scale):
        self.name, self.buffer, self.properties = "output", buffer, _Props(scale)


@pytest.mark.parametrize("case", ["scale", "shift", "float"])
def test_the_pyeasy_dnn_run_cell_dequantises_or_refuses_a_shift_output(case):
    """pyeasy_dnn reports scale_data and no shift (the hobot-dnn-rdkx5 binary has no shift field): SCALE outputs
    are multiplied out, float32 ones kept, and an integer output without scales (SHIFT) is a one-line error."""
    assert not any("shift" in n.lower() for n in DNN_NAMES)  # else the cell should use it
    raw = np.arange(-3, 3, dtype=np.float32 if case == "float" else np.int8).reshape(1, 6, 1, 1)
    scale = np.full(6, 0.5) if case == "scale" else []

    class Model:
        def forward(self, arg):
            assert arg.shape == (6, 4) and arg.dtype == np.uint8
            return [_Out(raw, scale)]

    shown = []
    ns = {"dnn": object(), "model": Model(), "h": 4, "w": 4, "np": np, "full_range": True, "demo": type("Demo", (), {"image": "p.jpg"}),
          "nv12_from_photo": lambda *a: (np.zeros(24, np.uint8), None, None), "show_top": shown.append}
    src = _cells("x3")["vendor-run-dnn"].source
    if case == "shift":
        with pytest.raises(RuntimeError, match=r"^output is int8 with no scale_data \(a SHIFT-quantised output\)"):
            exec(src, ns)
        assert shown == []
        return
    exec(src, ns)
    want = np.arange(-3, 3) * (0.5 if case == "scale" else 1.0)
    np.testing.assert_array_equal(shown[0], want)


@pytest.mark.parametrize("photo", ["coffee", "chelsea", "rocket", "hubble_deep_field"])
def test_the_nv12_lines_match_our_board_path_on_the_sample_photos(photo):
    """What section 4's text states about the notebook's NV12 function against our board path
    (helpers.board.nv12.prepare_nv12, which demo.nv12_of() calls): on coffee, chelsea and rocket UV identical
    and Y off by one level in under 0.1 % of the pixels, in both colour ranges and at two model sizes; on
    hubble_deep_field (odd halved size) a mean Y difference of about 2.8 levels."""
    from types import SimpleNamespace

    from helpers.board.image import load_image
    from helpers.board.nv12 import prepare_nv12

    text = _cells("x5")["vendor-nv12-text"].source
    assert "under 0.1 % of the" in text and "about 2.8\nlevels" in text and \
        "test_the_nv12_lines_match_our_board_path_on_the_sample_photos" in text
    ns = {"demo": SimpleNamespace(board_model_file=lambda: "m.onnx", clf=SimpleNamespace(yuv_range="full"))}
    exec(_cells("x5")["vendor-nv12"].source, ns)
    path = REPO / "data" / f"{photo}.jpg"
    for h, w in ((224, 224), (256, 256)):
        for rng in ("full", "limited"):
            nv12, _, _ = ns["nv12_from_photo"](path, h, w, rng == "full")
            d = np.abs(nv12.astype(np.int16) - prepare_nv12(load_image(path), (h, w), rng))
            dy, duv = d[:h * w], d[h * w:]
            if photo == "hubble_deep_field":
                if rng == "full":
                    assert 2.6 <= dy.mean() <= 3.0, (h, w, dy.mean())
                continue
            assert duv.max() == 0 and dy.max() <= 1, (h, w, rng)
            assert np.count_nonzero(dy) < 0.001 * h * w, (h, w, rng, np.count_nonzero(dy))


def test_the_s_series_cells_feed_split_nv12_by_shape(model, tmp_path):
    """An S100/S600 notebook feeds y and uv, told apart by shape: its hbm_runtime cells run against a
    two-input board model whose inputs are listed uv first."""
    cells = _cells("s100")
    assert "y_name: np.ascontiguousarray(y)[None, :, :, None], uv_name: uv[None]" in cells["vendor-run-hbm"].source
    split = _split_model(tmp_path / "split.onnx", h=224, w=224)
    body = [cells["vendor-nv12"].source, cells["vendor-top"].source, cells["vendor-import-hbm"].source,
            f"model_file = {str(split)!r}", cells["vendor-load-hbm"].source, cells["vendor-run-hbm"].source,
            "print('y mean - uv mean', float(logits.reshape(-1)[0]), float(y.mean()) - float(uv.mean()))"]
    r = _run_cells(tmp_path, body, board="s100", model_file=model)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "input  uv: shape [1, 112, 112, 2]" in r.stdout and "input  y: shape [1, 224, 224, 1]" in r.stdout
    got, want = r.stdout.strip().splitlines()[-1].split()[-2:]
    assert abs(float(got) - float(want)) < 1e-3, r.stdout
