"""The board backends (hobot_dnn, bpu_infer_lib) against tests/fake_board, and the board notebook path
without torch/timm/onnx/onnxsim.

The fake runs a .bin's sibling NV12 ONNX on onnxruntime and reports tensors with the vendor's
documented property names and strings; only a real board exercises the real runtimes.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.board import identity, bench, nv12, registry
from helpers.board.classifier import Classifier
from helpers.errors import HelpersError
from helpers.board.files import REPO_ROOT
from helpers.board.image import board_resize, load_image
from helpers.board.runtime import BpuInferLibBackend, HobotDnnBackend, OrtBackend, available_backends, open_model

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
sys.path.insert(0, str(FAKE_DIR))  # fake_models only (PC side); the fake runtimes are added by the fixture
import fake_models  # noqa: E402

sys.path.remove(str(FAKE_DIR))
FAKE_MODULES = ("hobot_dnn", "hobot_dnn.pyeasy_dnn", "hobot_dnn_rdkx5", "hobot_dnn_rdkx5.pyeasy_dnn",
                "bpu_infer_lib", "_fake_common", "hbm_runtime", "hbm_runtime.HB_HBMRuntime")
RDKX5 = "hobot_dnn_rdkx5.pyeasy_dnn"
KEY = "mobileone_s0"
BLOCKED = ("torch", "timm", "onnx", "onnxsim", "torchvision", "onnxruntime")

#: a sitecustomize that makes the blocked packages unimportable (for subprocesses and kernels)
BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    class _BoardBlocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ImportError(f"not installed on the board: {{name}}")
    sys.meta_path.insert(0, _BoardBlocker())
""")


def _purge():
    for m in FAKE_MODULES:
        sys.modules.pop(m, None)
    sys.path_importer_cache.clear()


@pytest.fixture
def fake_board():
    """Put the fake vendor runtimes on sys.path for one test."""
    _purge()
    sys.path.insert(0, str(FAKE_DIR))
    try:
        yield FAKE_DIR
    finally:
        sys.path.remove(str(FAKE_DIR))
        _purge()


@pytest.fixture
def fake_bin(tmp_path):
    return fake_models.fake_bin(tmp_path / "board", KEY)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "photo.png"
    y, x = np.mgrid[0:300, 0:400]
    rgb = np.stack([(x * 255 // 399), (y * 255 // 299), ((x + y) * 255 // 698)], axis=2).astype(np.uint8)
    Image.fromarray(rgb).save(p)
    return p


def test_fake_is_not_on_the_path_by_default():
    assert "hobot_dnn" not in available_backends() and "bpu_infer_lib" not in available_backends()


@pytest.mark.parametrize("tensor_type", ["NV12", "NV12_SEPARATE"])
def test_hobot_dnn_reports_the_bin_contract(fake_board, fake_bin, monkeypatch, tensor_type):
    monkeypatch.setenv("FAKE_BOARD_TENSOR_TYPE", tensor_type)
    b = open_model(fake_bin)  # auto: hobot_dnn first, as on the board image
    assert isinstance(b, HobotDnnBackend) and b.name == "hobot_dnn"
    h, w = registry.get(KEY).input_size
    assert b.input.shape == (1, 3, h, w) and b.input.dtype == "nv12" and b.input.layout == "NCHW"
    assert b.input.hw == (h, w)
    assert b.outputs[0].shape == (1, 1000, 1, 1) and b.outputs[0].dtype == "float32"


def test_bpu_infer_lib_reports_the_bin_contract(fake_board, fake_bin):
    b = open_model(fake_bin, backend="bpu_infer_lib")
    assert isinstance(b, BpuInferLibBackend)
    h, w = registry.get(KEY).input_size
    assert (b.input.shape, b.input.dtype, b.input.layout) == ((1, 3, h, w), "nv12", "NCHW")
    assert b.outputs[0].shape == (1, 1000, 1, 1) and b.outputs[0].dtype == "float32"


def test_board_and_pc_describe_the_input_alike(fake_board, fake_bin):
    pc = OrtBackend(fake_bin.with_suffix(".onnx"))
    for name in ("hobot_dnn", "bpu_infer_lib"):
        board = open_model(fake_bin, backend=name)
        assert (board.input.shape, board.input.dtype, board.input.layout) == \
               (pc.input.shape, pc.input.dtype, pc.input.layout)


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_board_logits_are_the_numpy_reference(fake_board, fake_bin, photo, backend):
    """Image -> NV12 -> board runtime -> logits equals the tiny model computed in NumPy from the same bytes."""
    clf = Classifier(fake_bin, key=KEY, backend=backend)
    assert clf.backend == backend and clf.kind == "nv12"
    size = registry.get(KEY).input_size
    nv = nv12.rgb_to_nv12(board_resize(load_image(photo), size), clf.yuv_range)
    expected = fake_models.tiny_nv12_reference(nv, size)
    np.testing.assert_allclose(clf.logits(photo), expected, rtol=1e-4, atol=1e-4)
    pc = Classifier(fake_bin.with_suffix(".onnx"))
    # the fake computes in float64 NumPy, onnxruntime in float32
    np.testing.assert_allclose(clf.logits(photo), pc.logits(photo), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_board_rejects_a_wrong_feed(fake_board, fake_bin, backend):
    b = open_model(fake_bin, backend=backend)
    h, w = b.input.hw
    with pytest.raises(HelpersError, match="W\\*H\\*3/2"):
        b.run(np.zeros(h * w * 3 // 2, np.float32))
    with pytest.raises(HelpersError, match="W\\*H\\*3/2"):
        b.run(np.zeros(h * w, np.uint8))


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
@pytest.mark.parametrize("case", ["corrupt", "other_board"])
def test_board_load_failure_is_one_line(fake_board, tmp_path, backend, case):
    bad = tmp_path / "bad.bin"
    if case == "corrupt":
        bad.write_bytes(b"\x7fELF" + b"x" * 64)  # not a model: the real runtime fails in hbDNNInitializeFromFiles
    else:
        fake_models.write_fake_bin(bad, board="x3")  # the fake board is an X5 (bayes-e)
    with pytest.raises(HelpersError) as e:
        open_model(bad, backend=backend)
    msg = str(e.value)
    assert "could not load bad.bin" in msg and "\n" not in msg
    assert "re-download" in msg and "another BPU" in msg


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib", "hbm_runtime"])
def test_a_bin_in_the_other_boards_folder_is_refused_before_loading(fake_board, tmp_path, backend, monkeypatch):
    from helpers.board import runtime

    monkeypatch.setenv("FAKE_HBM_BUILD", "bin")
    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["x5"])
    path = fake_models.write_fake_bin(tmp_path / "MobileOne" / "rdk_x3" / "MobileOne_224x224_nv12.bin", board="x3")
    with pytest.raises(HelpersError) as e:
        open_model(path, backend=backend)
    msg = str(e.value)
    assert "is the RDK X3 build (bernoulli2) but this is an RDK X5" in msg and "--board x5" in msg


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_a_bin_without_nv12_input_is_one_line(fake_board, tmp_path, backend):
    path = fake_models.write_fake_bin(tmp_path / "rgb.bin", input_type="RGB")
    b = open_model(path, backend=backend)
    assert b.input.dtype == "rgb" and b.input.layout == "NHWC"
    with pytest.raises(HelpersError) as e:
        Classifier(path, key=KEY, backend=backend)
    assert "takes rgb input, not NV12" in str(e.value) and "input_type_rt: 'nv12'" in str(e.value)


def test_missing_runtime_names_the_fix(tmp_path):
    path = fake_models.write_fake_bin(tmp_path / "m.bin")
    for backend in ("auto", "bpu_infer_lib"):
        with pytest.raises(HelpersError) as e:
            open_model(path, backend=backend)
        assert "pip install bpu_infer_lib_x5" in str(e.value) and "\n" not in str(e.value)


def _photo_nv12(photo, clf):
    size = registry.get(KEY).input_size
    return nv12.rgb_to_nv12(board_resize(load_image(photo), size), clf.yuv_range)


@pytest.mark.parametrize("backend,module", [("hobot_dnn", None), ("hobot_dnn", RDKX5), ("bpu_infer_lib", None)])
@pytest.mark.parametrize("output,layout,align", [("F32", "NCHW", 0), ("S8", "NCHW", 0), ("S32", "NHWC", 0),
                                                 ("S8", "NCHW", 4), ("F32", "NHWC", 16), ("S32", "NCHW", 8)])
def test_quantised_padded_and_nhwc_outputs_become_the_logits(fake_board, tmp_path, photo, monkeypatch,
                                                             backend, module, output, layout, align):
    """Raw int8/int32 buffers are dequantised with the reported scales, padding is cut, NHWC read right."""
    import _fake_common

    from helpers.board import runtime

    if module is None and backend == "hobot_dnn" and align:
        pytest.skip("hobot_dnn 2.x reports no alignedShape (its buffer is validShape)")
    if module:
        monkeypatch.setitem(runtime.MODULES, "hobot_dnn", ("no_such_runtime.pyeasy_dnn", module))
    path = fake_models.write_fake_bin(tmp_path / "q.bin", output=output, layout=layout, align=align)
    clf = Classifier(path, key=KEY, backend=backend)
    assert clf.runtime.module == module if module else True
    out = clf.runtime.outputs[0]
    want_shape = (1, 1000, 1, 1) if layout == "NCHW" else (1, 1, 1, 1000)
    assert out.shape == want_shape and out.layout == layout
    assert out.dtype == {"F32": "float32", "S8": "int8", "S32": "int32"}[output]
    nv = _photo_nv12(photo, clf)
    expected = fake_models.tiny_nv12_reference(nv, registry.get(KEY).input_size)
    scales = _fake_common.output_scales(registry.get(KEY).input_size, 1000, 0, output)
    tol = (scales / 2 + 1e-4) if output != "F32" else 1e-4
    got = clf.logits(photo)
    assert got.shape == (1000,) and np.all(np.abs(got - expected) <= tol)
    if output == "S8":  # read as logits without the scales, the raw integers would be far off
        assert np.abs(clf.runtime.codecs[0].scale[0] - 1) > 0.5


@pytest.mark.parametrize("form", ["int", "pybind", "str"])
def test_bpu_infer_lib_enums_in_every_form(fake_board, fake_bin, monkeypatch, form):
    monkeypatch.setenv("FAKE_BOARD_ENUMS", form)
    b = open_model(fake_bin, backend="bpu_infer_lib")
    assert (b.input.dtype, b.input.layout) == ("nv12", "NCHW")
    assert (b.outputs[0].dtype, b.outputs[0].layout) == ("float32", "NCHW")


def test_tensor_shape_is_not_iterable_and_still_read(fake_board, fake_bin):
    import bpu_infer_lib

    inf = bpu_infer_lib.Infer(False)
    assert inf.load_model(str(fake_bin))
    with pytest.raises(TypeError):
        tuple(inf.inputs[0].properties.validShape)
    h, w = registry.get(KEY).input_size
    assert open_model(fake_bin, backend="bpu_infer_lib").input.shape == (1, 3, h, w)


def test_both_hobot_dnn_module_names(fake_board, fake_bin, monkeypatch):
    from helpers.board import runtime

    assert open_model(fake_bin).module == "hobot_dnn.pyeasy_dnn"
    monkeypatch.setitem(runtime.MODULES, "hobot_dnn", ("no_such_runtime.pyeasy_dnn", RDKX5))
    b = open_model(fake_bin)
    assert b.name == "hobot_dnn" and b.module == RDKX5 and b._list_feed


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_bench_on_board_backends_uses_one_instance_per_thread(fake_board, fake_bin, backend, monkeypatch):
    import helpers.board.bench as bench_mod

    opened = []
    real_open = bench_mod.open_model

    def counting_open(*a, **k):
        opened.append(real_open(*a, **k))
        return opened[-1]

    monkeypatch.setattr(bench_mod, "open_model", counting_open)
    r = bench.benchmark(fake_bin, threads=(1, 3), seconds=0.3, backend=backend, warmup=1, mode="threads")
    assert r.backend == backend and [row.threads for row in r.rows] == [1, 3]
    assert all(row.frames > 0 for row in r.rows)
    assert len({id(b) for b in opened}) == len(opened) == 3  # a shared bpu_infer_lib Infer would raise
    assert "hrt_model_exec perf --model_file" in r.markdown()


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_bench_on_board_backends_runs_processes_by_default(fake_board, fake_bin, backend):
    """A board runtime may hold the GIL (hobot_dnn does): by default each worker is a process that opens
    the fake runtime itself (the fake is found through the sys.path the workers inherit)."""
    r = bench.benchmark(fake_bin, threads=(1, 2), seconds=0.3, backend=backend, warmup=1)
    assert r.mode == "processes" and [(row.threads, row.mode) for row in r.rows] == [(1, "processes"), (2, "processes")]
    assert all(row.frames > 0 for row in r.rows)


def test_bench_surfaces_a_shared_infer_object(fake_board, fake_bin):
    """The fake catches two threads sharing one bpu_infer_lib object; bench reports it as one line."""
    b = open_model(fake_bin, backend="bpu_infer_lib")
    with pytest.raises(HelpersError, match="could not run .*one per thread"):
        for _ in range(20):
            bench.measure([b, b, b], bench.make_feed(b.input), 0.3, warmup=0)


def test_missing_bin_on_a_board_says_how_to_get_it(fake_board):
    from helpers.notebooks import inference as nb

    for board in ("x3", "x5"):
        if any(p.exists() for p in registry.get(KEY).bin_candidates(board)):
            pytest.skip("a .bin is present in model/")
        with pytest.raises(HelpersError) as e:
            nb.resolve_model(KEY, board=board)
        msg = str(e.value)
        assert "\n" not in msg and "no .bin for" in msg and "build" in msg
        if registry.get(KEY).published_for(board) is not None:
            assert f"bash model/{registry.get(KEY).arch}/download.sh" in msg
        else:
            assert "publishes none" in msg


def _env_with(path_entries, **extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in path_entries] + [env.get("PYTHONPATH", "")])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_board_notebook_path_without_torch(tmp_path, fake_bin, photo):
    """Everything the notebook does on a board, with torch/timm/onnx/onnxsim/onnxruntime unimportable."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    code = textwrap.dedent(f"""
        import sys
        from helpers.notebooks import inference as nb
        demo = nb.InferenceDemo({KEY!r}, image={str(photo)!r}, weights="random", model_file={str(fake_bin)!r})
        demo.where()
        clf = demo.load()
        assert demo.backend == "hobot_dnn", demo.backend
        assert demo.random  # a .bin run with WEIGHTS=random is not presented as a prediction
        print(demo.nv12_summary())
        demo.nv12_figure()
        r = demo.predict()
        assert r.logits.shape == (1000,) and abs(r.probs.sum() - 1) < 1e-6
        demo.prediction_figure(r)
        a = demo.compare_paths()
        assert a.skipped and a.ok
        print(demo.benchmark(threads=(1, 2), seconds=0.2))
        demo.interactive()
        bad = [m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}]
        assert not bad, bad
        print("BOARD PATH OK")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=_env_with([site, FAKE_DIR], MPLBACKEND="Agg", RDK_HEADLESS="1"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "BOARD PATH OK" in r.stdout and "RANDOM WEIGHTS" in r.stdout
    assert "blocked" not in r.stderr


def test_blocker_really_blocks(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    for mod in BLOCKED:
        r = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True, text=True,
                           env=_env_with([site]), timeout=60)
        assert r.returncode != 0 and "not installed on the board" in r.stderr, mod


def _notebook_parameters(nb) -> dict:
    """KEY and BOARD as the notebook's parameters cell sets them."""
    import re

    src = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return {k: re.search(rf'^{k} = "([^"]+)"', src, re.M).group(1) for k in ("KEY", "BOARD")}


def _bin_where_the_readme_says(model_dir: Path, key: str, board: str) -> Path:
    """The published file's place (model/<Arch>/rdk_<board>/<name>) or, when the zoo has none for this
    board, where a build is copied (model/<Arch>/<bin_stem>.bin, or .hbm on an S board): the two places the
    READMEs name. An S board's file is a fake .hbm (split NV12, quantised output with zero points)."""
    spec = registry.get(key)
    pub = spec.published_for(board)
    b = registry.board(board)
    rel = Path(spec.arch) / (f"{registry.BOARD_DIR[board]}/{pub.bin_name}" if pub else f"{spec.bin_stem}{b.suffix}")
    if b.suffix == ".hbm":
        return fake_models.write_fake_hbm(model_dir / rel, board=board, size=pub.input_size if pub else spec.input_size)
    return fake_models.write_fake_bin(model_dir / rel, board=board, size=spec.input_size,
                                      output="S8" if pub else "F32")


@pytest.mark.parametrize("arch", registry.ARCHS)
def test_test_notebook_runs_on_the_fake_board(tmp_path, arch):
    """The board user's day: every test notebook end to end (nbclient) on the fake board, with torch, timm,
    torchvision, onnx, onnxsim and onnxruntime unimportable in the kernel and the .bin found by the
    notebook itself where the README says to put it (RDK_MODEL_DIR points model/ at a temporary folder).
    This board's image has no hbm_runtime (an RDK X3, or an X5 before RDK OS 3.5): auto runs the .bin with
    hobot_dnn; section 4b runs the fake ``hobot_dnn.pyeasy_dnn`` itself, and 4a's import falls back to the
    stand-in, which says so."""
    _run_test_notebook(tmp_path, arch, "hobot_dnn")


def test_test_notebook_runs_on_the_hbm_runtime_fake(tmp_path):
    """The same day on an RDK X5 with RDK OS >= 3.5.0: its hbm_runtime takes the .bin (packed NV12), and auto
    prefers it to hobot_dnn; section 4a runs the fake hbm_runtime itself (and 4b the fake pyeasy_dnn, which this
    image still has). One notebook: the others differ from it in parameters only."""
    _run_test_notebook(tmp_path, "MobileOne", "hbm_runtime", FAKE_HBM_BUILD="bin")


@pytest.mark.parametrize("board", ["s100", "s100p", "s600"])
def test_test_notebook_runs_with_an_s_board_on_the_hbm_runtime_fake(tmp_path, board):
    """A user on an RDK S100/S100P/S600 sets BOARD in the parameters cell (as papermill -p BOARD would): the
    notebook finds the .hbm where the README says, auto runs it with hbm_runtime, and the vendor cells feed
    split Y and UV (in the range of the file: a published one's as the registry records it, ours bt601_video)
    to the fake's .hbm, dequantising its int8 output."""
    nbformat = pytest.importorskip("nbformat")
    key = _notebook_parameters(nbformat.read(REPO_ROOT / "notebooks" / "MobileNetV4" / "test_MobileNetV4.ipynb",
                                             as_version=4))["KEY"]
    pub = registry.get(key).published_for(board)
    want = pub.yuv_range if pub else "limited"  # S100P: no published file, our build (bt601_video)
    text = _run_test_notebook(tmp_path, "MobileNetV4", "hbm_runtime", board=board, FAKE_HBM_BUILD="hbm")
    assert f", {want} range: " in text  # the cell's conversion follows the file's range
    assert "SCALE" in text  # the int8 output came back raw and the cell dequantised it


def _run_test_notebook(tmp_path, arch, runtime_name, board=None, **extra_env):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    path = REPO_ROOT / "notebooks" / arch / f"test_{arch}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if board is not None:  # the parameters cell, as a user (or papermill -p BOARD) changes it
        cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
        cell.source = re.sub(r'^BOARD = "[^"]+"', f'BOARD = "{board}"', cell.source, flags=re.M)
    params = _notebook_parameters(nb)
    model_dir = tmp_path / "model"
    bin_path = _bin_where_the_readme_says(model_dir, params["KEY"], params["BOARD"])
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    fakes = FAKE_DIR
    if runtime_name != "hbm_runtime":  # an RDK X3, or an X5 before RDK OS 3.5: no hbm_runtime in the image
        fakes = tmp_path / "fakes"
        fakes.mkdir()
        for entry in FAKE_DIR.iterdir():
            if entry.name != "hbm_runtime":
                (fakes / entry.name).symlink_to(entry)
    env = _env_with([site, fakes], MPLBACKEND="Agg", RDK_HEADLESS="1", RDK_WEIGHTS="random",
                    RDK_MODEL_DIR=model_dir, RDK_BACKEND="auto", RDK_BENCH_SECONDS="0.1",
                    FAKE_BOARD=params["BOARD"], **extra_env)
    env.pop("RDK_MODEL_FILE", None)
    if "FAKE_HBM_BUILD" not in extra_env:
        env.pop("FAKE_HBM_BUILD", None)
    probe = (f"import sys; import importlib.util as u; print('blocked loaded:', sorted(m for m in sys.modules "
             f"if m.split('.')[0] in {BLOCKED!r}), 'onnxruntime importable:', end=' ')\n"
             "try:\n    import onnxruntime; print(True)\nexcept ImportError:\n    print(False)")
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        client = NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = "\n".join(o.get("text", "") if o.get("output_type") == "stream" else json.dumps(o.get("data", {}))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"backend    : {runtime_name}" in text, text[-3000:]
    assert bin_path.name in text and f"board {bin_path.suffix} (BPU)" in text, text[:6000]
    assert "RANDOM WEIGHTS" in text
    assert "hrt_model_exec perf --model_file" in text
    assert "checks passed" in text
    assert "blocked loaded: [] onnxruntime importable: False" in text
    assert "these lines vs our board path: Y max" in text  # the vendor cells ran
    # section 4 runs both runtimes: each one the board has is the vendor's (here the fake), never the stand-in
    if not (fakes / "hbm_runtime").exists():  # no hbm_runtime on this board: 4a's stand-in ran the .bin
        assert "hbm_runtime not usable here (No module named 'hbm_runtime'): the stand-in runs instead" in text
        assert f"STAND-IN, not hbm_runtime: {bin_path.name} runs on hobot_dnn through helpers.board.runtime" in text
    else:
        assert "4a runs hbm_runtime" in text and "STAND-IN, not hbm_runtime" not in text
    if params["BOARD"].startswith("s"):  # no pyeasy_dnn on an S board: 4b says so and skips
        assert "the RDK S boards have no pyeasy_dnn" in text and "4b runs" not in text
    else:  # the fake hobot_dnn.pyeasy_dnn ran the .bin for real in 4b
        assert "4b runs hobot_dnn.pyeasy_dnn" in text and "hobot_dnn not usable here" not in text
    assert "STAND-IN, not hobot_dnn.pyeasy_dnn" not in text
    sections = 1 if params["BOARD"].startswith("s") else 2  # the top-k of each runtime section that ran
    assert text.count("RANDOM WEIGHTS: class indices only") == sections
    return text


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_the_vendor_cells_standin_runs_a_bin_on_a_board_without_hbm_runtime(fake_board, tmp_path, capsys, backend,
                                                                            monkeypatch):
    """On a board whose image lacks hbm_runtime (RDK X3, X5 before RDK OS 3.5), the vendor cells' ``except
    ImportError`` gives the stand-in: it runs the .bin through the board runtime helpers finds, says so, and
    hands back what hbm_runtime would (packed NV12 reported (1, 3, H, W) uint8; float32 outputs, quant NONE)."""
    from helpers.notebooks import standin

    if backend == "bpu_infer_lib":
        monkeypatch.setitem(sys.modules, "hobot_dnn", None)  # only bpu_infer_lib on this "board"
        monkeypatch.setitem(sys.modules, "hobot_dnn_rdkx5", None)
    path = fake_models.write_fake_bin(tmp_path / "rdk_x5" / "m.bin", output="S8", align=4)
    rt = standin.HB_HBMRuntime(str(path))
    line = capsys.readouterr().out
    assert f"STAND-IN, not hbm_runtime: m.bin runs on {backend} through helpers.board.runtime" in line
    m = rt.model_names[0]
    name = rt.input_names[m][0]
    assert rt.input_shapes[m][name] == [1, 3, 224, 224] and str(rt.input_dtypes[m][name]) == "hbDNNDataType.U8"
    out_name = rt.output_names[m][0]
    assert rt.output_quants[m][out_name].quant_type == standin.hbDNNQuantiType.NONE
    nv12 = np.random.default_rng(2).integers(0, 256, 224 * 224 * 3 // 2, dtype=np.uint8)
    got = rt.run({m: {name: nv12}})[m][out_name]
    assert got.dtype == np.float32
    expected = HobotDnnBackend(path).run(nv12)[0] if backend == "hobot_dnn" else BpuInferLibBackend(path).run(nv12)[0]
    np.testing.assert_array_equal(got.reshape(-1), np.asarray(expected).reshape(-1))
