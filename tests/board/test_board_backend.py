"""The board backends (hobot_dnn, bpu_infer_lib) against tests/fake_board, and the board notebook path
without torch/timm/onnx/onnxsim.

The fake runs a .bin's sibling NV12 ONNX on onnxruntime and reports tensors with the vendor's
documented property names and strings; only a real board exercises the real runtimes.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.board import bench, nv12, registry
from helpers.board.classifier import Classifier
from helpers.errors import HelpersError
from helpers.board.files import REPO_ROOT
from helpers.board.image import board_resize, load_image
from helpers.board.runtime import BpuInferLibBackend, HobotDnnBackend, OrtBackend, available_backends, open_model

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
sys.path.insert(0, str(FAKE_DIR))  # fake_models only (PC side); the fake runtimes are added by the fixture
import fake_models  # noqa: E402

sys.path.remove(str(FAKE_DIR))
FAKE_MODULES = ("hobot_dnn", "hobot_dnn.pyeasy_dnn", "bpu_infer_lib", "_fake_common")
KEY = "mobileone_s0"
BLOCKED = ("torch", "timm", "onnx", "onnxsim", "torchvision")

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
    np.testing.assert_allclose(clf.logits(photo), pc.logits(photo), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_board_rejects_a_wrong_feed(fake_board, fake_bin, backend):
    b = open_model(fake_bin, backend=backend)
    h, w = b.input.hw
    with pytest.raises(HelpersError, match="W\\*H\\*3/2"):
        b.run(np.zeros(h * w * 3 // 2, np.float32))
    with pytest.raises(HelpersError, match="W\\*H\\*3/2"):
        b.run(np.zeros(h * w, np.uint8))


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_board_load_failure_is_one_line(fake_board, tmp_path, backend):
    lonely = tmp_path / "lonely.bin"  # no sibling ONNX: the fake cannot "load" it
    lonely.write_bytes(b"x" * 64)
    with pytest.raises(HelpersError) as e:
        open_model(lonely, backend=backend)
    assert "could not load" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_bench_on_board_backends_uses_one_instance_per_thread(fake_board, fake_bin, backend, monkeypatch):
    import helpers.board.bench as bench_mod

    opened = []
    real_open = bench_mod.open_model

    def counting_open(*a, **k):
        opened.append(real_open(*a, **k))
        return opened[-1]

    monkeypatch.setattr(bench_mod, "open_model", counting_open)
    r = bench.benchmark(fake_bin, threads=(1, 3), seconds=0.3, backend=backend, warmup=1)
    assert r.backend == backend and [row.threads for row in r.rows] == [1, 3]
    assert all(row.frames > 0 for row in r.rows)
    assert len({id(b) for b in opened}) == len(opened) == 3  # a shared bpu_infer_lib Infer would raise
    assert "hrt_model_exec perf --model_file" in r.markdown()


def test_bench_surfaces_a_shared_infer_object(fake_board, fake_bin):
    """The fake catches two threads sharing one bpu_infer_lib object; bench reports it as one line."""
    b = open_model(fake_bin, backend="bpu_infer_lib")
    with pytest.raises(HelpersError, match="runtime failed"):
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
    """Everything the notebook does on a board, with torch/timm/onnx/onnxsim unimportable."""
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
    r = subprocess.run([sys.executable, "-c", "import onnx"], capture_output=True, text=True,
                       env=_env_with([site]), timeout=60)
    assert r.returncode != 0 and "not installed on the board" in r.stderr


def test_test_notebook_runs_on_the_fake_board(tmp_path, fake_bin):
    """One test notebook end to end on the fake board (nbclient), torch/onnx blocked in the kernel."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    path = REPO_ROOT / "notebooks" / "MobileOne" / "test_MobileOne.ipynb"
    if not path.exists():
        pytest.skip("notebook not written yet")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    nb = nbformat.read(path, as_version=4)
    env = _env_with([site, FAKE_DIR], MPLBACKEND="Agg", RDK_HEADLESS="1", RDK_WEIGHTS="random",
                    RDK_MODEL_FILE=fake_bin, RDK_BACKEND="auto", RDK_BENCH_SECONDS="0.2")
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        NotebookClient(nb, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = "\n".join(o.get("text", "") if o.get("output_type") == "stream" else json.dumps(o.get("data", {}))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "backend    : hobot_dnn" in text
    assert "RANDOM WEIGHTS" in text
    assert "hrt_model_exec perf --model_file" in text
    assert "checks passed" in text
