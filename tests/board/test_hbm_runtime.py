"""The hbm_runtime backend against tests/fake_board/hbm_runtime: X5 .bin (packed NV12, the RDK OS >= 3.5 build)
and S-series .hbm (split NV12), dequantisation, padding, the one-line errors, auto-detection and doctor."""
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.board import identity, nv12, registry, runtime
from helpers.board.classifier import Classifier
from helpers.board.image import board_resize, load_image
from helpers.board.runtime import HobotDnnBackend, open_model, runtime_version
from helpers.errors import HelpersError

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
sys.path.insert(0, str(FAKE_DIR))
import fake_models  # noqa: E402

sys.path.remove(str(FAKE_DIR))
FAKE_TOPS = ("hobot_dnn", "hobot_dnn_rdkx5", "bpu_infer_lib", "_fake_common", "hbm_runtime")
KEY = "mobileone_s0"
SIZE = registry.get(KEY).input_size
FAKE_ENVS = ("FAKE_BOARD", "FAKE_HBM_BUILD", "FAKE_HBM_OUTPUT", "FAKE_HBM_RUN_ERROR", "FAKE_HBM_ENUMS",
             "FAKE_HBM_MISSING_LIBS", "HBM_RUNTIME_SKIP_CHECK")


def _purge():
    for m in list(sys.modules):
        if m.split(".")[0] in FAKE_TOPS:
            sys.modules.pop(m)
    sys.path_importer_cache.clear()


@pytest.fixture
def board(monkeypatch):
    """The fake runtimes on sys.path; ``board(build=..., key=...)`` sets the fake's switches."""
    for k in FAKE_ENVS:
        monkeypatch.delenv(k, raising=False)
    _purge()
    sys.path.insert(0, str(FAKE_DIR))

    def setup(build="bin", key="x5", **env):
        monkeypatch.setenv("FAKE_HBM_BUILD", build)
        monkeypatch.setenv("FAKE_BOARD", key)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        _purge()  # the fake reads its switches at import / per call

    try:
        yield setup
    finally:
        sys.path.remove(str(FAKE_DIR))
        _purge()


@pytest.fixture(scope="module")
def photo_nv12(tmp_path_factory):
    from PIL import Image

    p = tmp_path_factory.mktemp("img") / "photo.png"
    y, x = np.mgrid[0:300, 0:400]
    Image.fromarray(np.stack([x * 255 // 399, y * 255 // 299, (x + y) * 255 // 698], 2).astype(np.uint8)).save(p)
    return p, nv12.rgb_to_nv12(board_resize(load_image(p), SIZE), "full")


def _x5_bin(tmp_path, **kw):
    return fake_models.write_fake_bin(tmp_path / "rdk_x5" / "m_224x224_nv12.bin", size=SIZE, **kw)


def _hbm(tmp_path, **kw):
    return fake_models.write_fake_hbm(tmp_path / "m_224x224_nv12.hbm", size=SIZE, **kw)


# -- feeds --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("packed_shape,fed", [("nchw", (224 * 224 * 3 // 2,)), ("rows", (1, 336, 224, 1)),
                                              ("flat", (224 * 224 * 3 // 2,))])
def test_x5_bin_packed_feed(board, tmp_path, photo_nv12, packed_shape, fed):
    """X5 .bin: one packed input, reshaped to what the runtime reports (flat when its (1,3,H,W) cannot hold it)."""
    board("bin")
    _, nv = photo_nv12
    b = open_model(_x5_bin(tmp_path, packed_shape=packed_shape))  # auto: hbm_runtime first when it takes .bin
    assert b.name == "hbm_runtime" and b.notes == []
    assert (b.input.shape, b.input.dtype, b.input.layout) == ((1, 3, 224, 224), "nv12", "NCHW")
    arrays = b.feed_dict(nv)
    assert [a.shape for a in arrays.values()] == [fed] and list(arrays.values())[0].dtype == np.uint8
    np.testing.assert_array_equal(list(arrays.values())[0].reshape(-1), nv.reshape(-1))
    np.testing.assert_allclose(b.run(nv)[0].reshape(-1), fake_models.tiny_nv12_reference(nv, SIZE), atol=1e-4)


@pytest.mark.parametrize("name", ["m_224x224_nv12.bin", "model.bin"])
def test_x5_bin_packed_input_reported_as_u8(board, tmp_path, photo_nv12, name):
    """An X5 image whose hbm_runtime types the packed input U8 (1,3,H,W), not NV12 (the zoo accepts either):
    a .bin's single (1,3,H,W) uint8 input is the packed NV12 image, whatever the file is called."""
    board("bin_u8")
    _, nv = photo_nv12
    import hbm_runtime  # the fake (the fixture put it on the path)

    path = fake_models.write_fake_bin(tmp_path / "rdk_x5" / name, size=SIZE)
    rt = hbm_runtime.HB_HBMRuntime(str(path))
    m = rt.model_names[0]
    assert rt.input_dtypes[m]["images"].name == "U8" and rt.input_shapes[m]["images"] == [1, 3, 224, 224]
    b = open_model(path)
    assert b.name == "hbm_runtime"
    assert (b.input.shape, b.input.dtype, b.input.layout) == ((1, 3, 224, 224), "nv12", "NCHW")
    assert "U8" in b.input.note and any("packed NV12" in n for n in b.notes)
    np.testing.assert_allclose(b.run(nv)[0].reshape(-1), fake_models.tiny_nv12_reference(nv, SIZE), atol=1e-4)


def test_rgb_bin_reporting_u8_is_refused_in_one_line(board, tmp_path, photo_nv12):
    """A .bin compiled for RGB uint8 (1,3,H,W) (the fake: a strict shape check) refuses the packed bytes."""
    board("bin_u8")
    b = open_model(_x5_bin(tmp_path, input_dtype="U8"))
    msg = _one_line(lambda: b.run(photo_nv12[1]))
    assert "Mismatch in tensor dimensions" in msg and "input_type_rt: nv12" in msg


def test_u8_nchw_input_of_an_hbm_stays_a_plain_image(board, tmp_path):
    """The rule is for a .bin (X5 packed NV12) only: an S-series .hbm with one U8 (1,3,H,W) input is an image."""
    board("hbm", "s100")
    b = open_model(_hbm(tmp_path, feed="packed", packed_shape="nchw", input_dtype="U8"))
    assert (b.input.shape, b.input.dtype) == ((1, 3, 224, 224), "uint8")


@pytest.mark.parametrize("names,swap", [(None, False), (["in0", "in1"], True), (["img_y", "img_uv"], True)])
def test_hbm_split_feed_matched_by_shape(board, tmp_path, photo_nv12, names, swap):
    """S-series .hbm: Y (1,H,W,1) and UV (1,H/2,W/2,2) found by their shapes, whatever their order or names."""
    board("hbm", "s100")
    _, nv = photo_nv12
    kw = {"input_names": names} if names else {}
    path = _hbm(tmp_path, swap=swap, **kw)
    b = open_model(path)
    assert b.name == "hbm_runtime" and (b.input.shape, b.input.dtype) == ((1, 3, 224, 224), "nv12")
    arrays = b.feed_dict(nv)
    y_name = [n for n, a in arrays.items() if a.shape == (1, 224, 224, 1)]
    uv_name = [n for n, a in arrays.items() if a.shape == (1, 112, 112, 2)]
    assert len(y_name) == len(uv_name) == 1
    np.testing.assert_array_equal(arrays[y_name[0]].reshape(-1), nv.reshape(-1)[: 224 * 224])
    np.testing.assert_array_equal(arrays[uv_name[0]].reshape(-1), nv.reshape(-1)[224 * 224:])
    # the raw int8 output with per-channel scales and zero points -3..3 comes back as the logits
    import hbm_runtime  # the fake (the fixture put it on the path)

    rt = hbm_runtime.HB_HBMRuntime(str(path))
    q = rt.output_quants[rt.model_names[0]]["output"]
    assert np.any(q.zero_point != 0) and q.scale.size == 1000 and q.axis == 1
    got = b.run(nv)[0].reshape(-1)
    want = fake_models.tiny_nv12_reference(nv, SIZE)
    assert np.all(np.abs(got - want) <= q.scale / 2 + 1e-5)
    raw = rt.run({rt.model_names[0]: arrays})[rt.model_names[0]]["output"]
    assert raw.dtype == np.int8 and np.abs(raw.astype(np.float64) - want).max() > 1  # not logits as they come


def test_names_contradicting_the_shapes_are_refused(board, tmp_path):
    board("hbm", "s100")
    with pytest.raises(HelpersError) as e:
        open_model(_hbm(tmp_path, input_names=["data_uv", "data_y"]))  # Y-shaped input named uv
    assert "names say the opposite" in str(e.value) and "\n" not in str(e.value)


# -- outputs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["view", "padded"])
@pytest.mark.parametrize("layout,output", [("2D", "S8"), ("NHWC", "S32"), ("NCHW", "S8")])
def test_dequantised_per_axis_with_zero_point_and_padding_cut(board, tmp_path, mode, layout, output):
    """Four raw values, their scales and zero points given here; expected (q - zp) * scale worked out by hand."""
    board("hbm", "s100", FAKE_HBM_OUTPUT=mode)
    path = _hbm(tmp_path, output=output, layout=layout, align=16, fixed=[3, 2, 5, -1],
                scale=[0.5, 0.25, 2.0, 1.0], zp=[1, -2, 0, 3])
    b = open_model(path)
    out = b.outputs[0]
    assert out.shape == {"2D": (1, 4), "NHWC": (1, 1, 1, 4), "NCHW": (1, 4, 1, 1)}[layout]
    assert b.codecs[0].aligned[-1] == 16 and b.codecs[0].aligned[:-1] == out.shape[:-1]
    got = b.run(np.zeros(224 * 224 * 3 // 2, np.uint8))[0]
    # (3-1)*0.5 = 1.0, (2+2)*0.25 = 1.0, (5-0)*2 = 10.0, (-1-3)*1 = -4.0
    assert got.shape == out.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got.reshape(-1), [1.0, 1.0, 10.0, -4.0])


def test_a_scale_record_on_a_float_output_is_ignored(board, tmp_path):
    board("bin")
    b = open_model(_x5_bin(tmp_path, fixed=[1.5, -2.0], scale=[10.0, 10.0], zp=[1, 1], vestigial=True))
    np.testing.assert_array_equal(b.run(np.zeros(224 * 224 * 3 // 2, np.uint8))[0].reshape(-1), [1.5, -2.0])


def test_enums_as_plain_integers(board, tmp_path):
    """The stub annotates hbDNNDataType as int: an integer is named through the module's own enum class."""
    board("hbm", "s100", FAKE_HBM_ENUMS="int")
    b = open_model(_hbm(tmp_path, fixed=[4], scale=[0.5], zp=[2]))
    assert b.outputs[0].dtype == "int8" and b.run(np.zeros(224 * 336, np.uint8))[0].reshape(-1).tolist() == [1.0]


# -- one-line errors ------------------------------------------------------------------------------------------

def _one_line(fn) -> str:
    with pytest.raises(HelpersError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def test_missing_libraries(board, tmp_path, monkeypatch):
    board("bin", FAKE_HBM_MISSING_LIBS="libhbucp.so")
    path = _x5_bin(tmp_path)
    msg = _one_line(lambda: open_model(path, backend="hbm_runtime"))
    assert "cannot start (libhbucp.so missing)" in msg and "apt-get install -y hobot-dnn" in msg
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["x5"])
    msg = _one_line(lambda: open_model(path, backend="hbm_runtime"))
    assert "pip uninstall hbm-runtime" in msg and "RDK OS >= 3.5.0" in msg
    assert open_model(path).name == "hobot_dnn"  # auto passes over an hbm_runtime that cannot start
    monkeypatch.setenv("HBM_RUNTIME_SKIP_CHECK", "1")  # the wheel's own way round its check
    _purge()
    assert open_model(path).name == "hbm_runtime"


def test_wrong_dtype_and_shape_of_a_plain_input(board, tmp_path):
    board("bin")
    b = open_model(_x5_bin(tmp_path, input_dtype="F32", packed_shape="nchw"))
    assert (b.input.dtype, b.input.shape) == ("float32", (1, 3, 224, 224))
    msg = _one_line(lambda: b.run(np.zeros((1, 3, 224, 224))))
    assert "is float32 and got float64" in msg and "astype(np.float32)" in msg
    msg = _one_line(lambda: b.run(np.zeros((1, 3, 100, 100), np.float32)))
    assert "[1, 3, 224, 224] and got [1, 3, 100, 100]" in msg


def test_wrong_nv12_feed(board, tmp_path):
    board("hbm", "s100")
    b = open_model(_hbm(tmp_path))
    assert "W*H*3/2" in _one_line(lambda: b.run(np.zeros(224 * 336, np.float32)))
    assert "W*H*3/2" in _one_line(lambda: b.run(np.zeros(224 * 224, np.uint8)))


@pytest.mark.parametrize("kind,words", [("dnn", "DNN Error (code: "), ("ucp", "UCP Error (code: ")])
def test_runtime_errors_at_run(board, tmp_path, monkeypatch, kind, words):
    board("hbm", "s100")
    b = open_model(_hbm(tmp_path))
    monkeypatch.setenv("FAKE_HBM_RUN_ERROR", kind)
    msg = _one_line(lambda: b.run(np.zeros(224 * 336, np.uint8)))
    assert f"hbm_runtime could not run m_224x224_nv12.hbm: {words}" in msg and "python -m helpers doctor" in msg


def test_an_hbm_on_an_x5_and_a_bin_on_an_s_board(board, tmp_path, monkeypatch):
    board("hbm", "s100")
    hbm_path, bin_path = _hbm(tmp_path), _x5_bin(tmp_path)
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["x5"])
    msg = _one_line(lambda: open_model(hbm_path))
    assert "is an .hbm (RDK S100/S600, nash BPU) but this is an RDK X5 (bayes-e)" in msg and "--board x5" in msg
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["s100"])
    msg = _one_line(lambda: open_model(bin_path))
    assert "is a .bin (RDK X3/X5 BPU) but this is an RDK S100 (nash-e)" in msg and "--board s100" in msg


def test_the_march_a_file_says_it_was_compiled_for(board, tmp_path, monkeypatch):
    board("hbm", "s100")
    path = _hbm(tmp_path, desc="mobileone, march nash-m, toolkit 3.2")
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["s100"])
    msg = _one_line(lambda: open_model(path))
    assert "was compiled for nash-m (its hbm_descs / model_descs say so) but this RDK S100 has nash-e" in msg


def test_multi_input_model(board, tmp_path):
    board("hbm", "s100")
    msg = _one_line(lambda: open_model(_hbm(tmp_path, feed="multi")))
    assert "has 3 inputs (a F32 [1, 3, 224, 224]" in msg and "split pair y (1,H,W,1)" in msg


def test_corrupt_hbm(board, tmp_path):
    board("hbm", "s100")
    bad = tmp_path / "bad.hbm"
    bad.write_bytes(b"\x7fELF" + b"x" * 64)
    msg = _one_line(lambda: open_model(bad))
    assert "hbm_runtime could not load bad.hbm (hbDNN initialize from" in msg and "re-download" in msg


def test_hbm_needs_hbm_runtime(tmp_path):
    path = fake_models.write_fake_hbm(tmp_path / "m.hbm")
    assert "needs hbm_runtime" in _one_line(lambda: open_model(path))  # no fake on the path: a PC
    assert "cannot run it (use hbm_runtime)" in _one_line(lambda: open_model(path, backend="hobot_dnn"))
    assert "cannot run it (use hbm_runtime)" in _one_line(lambda: open_model(path, backend="onnxruntime"))


# -- auto-detection -------------------------------------------------------------------------------------------

def test_a_bin_refused_by_an_hbm_only_runtime_falls_back_with_a_note(board, tmp_path, capsys):
    board("hbm")  # the PyPI wheel's build on an X5 (as HBM_RUNTIME_SKIP_CHECK would let it start)
    path = _x5_bin(tmp_path)
    b = open_model(path)
    assert isinstance(b, HobotDnnBackend) and len(b.notes) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "note: this hbm_runtime" in out and "loads .hbm files only" in out
    assert "running it with hobot_dnn" in out
    open_model(path)
    assert capsys.readouterr().out == ""  # once per file, not once per benchmark thread
    msg = _one_line(lambda: open_model(path, backend="hbm_runtime"))
    assert "loads .hbm files only" in msg and "backend='hobot_dnn'" in msg


def test_auto_order(board, tmp_path, monkeypatch):
    board("bin")
    path = _x5_bin(tmp_path)
    assert open_model(path).name == "hbm_runtime"
    assert open_model(path, backend="hobot_dnn").name == "hobot_dnn"
    monkeypatch.setitem(runtime.MODULES, "hbm_runtime", ("no_such_hbm_runtime",))
    assert open_model(path).name == "hobot_dnn"
    monkeypatch.setitem(runtime.MODULES, "hobot_dnn", ("no_such_runtime.pyeasy_dnn",))
    assert open_model(path).name == "bpu_infer_lib"
    assert runtime.BOARD_BACKENDS == ("hbm_runtime", "hobot_dnn", "bpu_infer_lib")


def test_classifier_on_hbm_runtime(board, tmp_path, photo_nv12):
    board("bin")
    p, nv = photo_nv12
    path = fake_models.fake_bin(tmp_path / "board", KEY, onnx=False, output="S8", zero_point=True)
    clf = Classifier(path, key=KEY, backend="hbm_runtime")
    assert clf.backend == "hbm_runtime" and clf.kind == "nv12"
    nv = nv12.rgb_to_nv12(board_resize(load_image(p), SIZE), clf.yuv_range)
    want = fake_models.tiny_nv12_reference(nv, SIZE)
    scale = np.asarray(clf.runtime.codecs[0].scale)  # int8 of this tiny net: steps of about 10 (checked above)
    assert scale.size == 1000 and np.all(np.abs(clf.logits(p) - want) <= scale / 2 + 1e-4)
    assert "runtime : hbm_runtime 3.7.0-fake" in clf.runtime.describe()


# -- versions and doctor ----------------------------------------------------------------------------------------

def test_runtime_version_names_the_library(board, monkeypatch):
    from importlib import metadata

    board("bin")  # as on the X5 image: no pip metadata, the library says its version
    assert runtime_version("hbm_runtime") == ("hbm_runtime 3.7.0-fake (HB_HBMRuntime.version())", None)
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda d: "0.1.0.post1" if d == "hbm-runtime" else real(d))
    assert runtime_version("hbm_runtime") == ("hbm-runtime 0.1.0.post1, HB_HBMRuntime.version() 3.7.0-fake", None)


def test_doctor_reports_hbm_runtime(board, tmp_path, capsys, monkeypatch):
    from helpers.cli import main

    board("bin")
    root = tmp_path / "model"
    _x5_bin(root / "MobileOne", output="S8", zero_point=True)
    assert main(["doctor", "--model-dir", str(root), "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "hbm_runtime (hbm_runtime 3.7.0-fake (HB_HBMRuntime.version()))" in out
    assert "hobot_dnn.pyeasy_dnn (" in out and "bpu_infer_lib (" in out
    assert "runtime : hbm_runtime (hbm_runtime, hbm_runtime 3.7.0-fake" in out and "verdict : OK" in out
    assert "input   : images: nv12 [1, 3, 224, 224] NCHW (packed: NV12 [1, 3, 224, 224])" in out
    monkeypatch.setenv("FAKE_HBM_MISSING_LIBS", "libdnn.so")
    _purge()
    main(["doctor", "--model-dir", str(root), "--runs", "1"])
    out = capsys.readouterr().out
    assert "hbm_runtime (installed but not usable: hbm_runtime is installed but cannot start (libdnn.so" in out
    assert "runtime : hobot_dnn" in out


def test_an_s600_hbm_on_an_s100_is_refused_before_the_runtime_loads_it(board, tmp_path, monkeypatch):
    """The backend itself runs the wrong-board check (the folder names the board the file was compiled for)."""
    board(build="hbm", key="s100")
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["s100"])
    path = fake_models.write_fake_hbm(tmp_path / "rdk_s600" / "m.hbm")
    with pytest.raises(HelpersError, match=r"RDK S600 build \(nash-p\) but this is an RDK S100 \(nash-e\): "
                                           r"use the file under rdk_s100/"):
        runtime.open_model(path)


# -- the published files: their NV12 range and output as the registry records them ---------------------------

def _published_hbm(tmp_path, key, board_key="s100"):
    pub = registry.get(key).published_for(board_key)
    path = tmp_path / registry.BOARD_DIR[board_key] / pub.bin_name
    return pub, fake_models.write_fake_hbm(path, board=board_key, size=pub.input_size)


def test_a_published_hbm_is_fed_the_range_its_vendor_config_names(board, tmp_path):
    board("hbm", "s100")
    pub, path = _published_hbm(tmp_path, "mobilenetv4_conv_small")
    assert pub.yuv_range == "full" and "mobilenetv4_small_config.yaml" in pub.yuv_range_source
    assert Classifier(path, key="mobilenetv4_conv_small", backend="hbm_runtime").yuv_range == "full"
    ours = fake_models.write_fake_hbm(tmp_path / "rdk_s100" / "MobileNetV4_conv_small_224x224_nv12.hbm", size=SIZE)
    assert Classifier(ours, key="mobilenetv4_conv_small", backend="hbm_runtime").yuv_range == "limited"


def test_a_published_file_that_outputs_probabilities_is_not_softmaxed_again(board, tmp_path, photo_nv12):
    board("hbm", "s100")
    pub, path = _published_hbm(tmp_path, "mobilenetv1_100")
    assert pub.output_is_probability and pub.yuv_range == "limited"
    clf = Classifier(path, key="mobilenetv1_100", backend="hbm_runtime")
    out = clf.logits(photo_nv12[0])
    top = clf.predict(photo_nv12[0], k=3)
    assert clf.output_is_probability and top[0].index == int(np.argmax(out))
    assert [p.prob for p in top] == pytest.approx(sorted(out.tolist(), reverse=True)[:3])
    assert clf.probs(photo_nv12[0]) == pytest.approx(out)
