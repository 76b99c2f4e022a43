"""helpers.notebooks.inference: model resolution and making, bad inputs, honest outputs, the NV12-vs-RGB check,
widgets and the headless rule. Models are tiny ONNX graphs (tests/fake_board/fake_models.py) written to
a temporary folder; the real export is replaced by one that writes a tiny float model, so the flow
(export -> board model from the committed yaml -> load) runs in seconds."""
import io
from datetime import datetime, timezone
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from helpers.notebooks import inference as nb
from helpers.board import agreement, files, nv12, registry
from helpers.pc import make
from helpers.errors import HelpersError
from helpers.board.labels import imagenet_labels
from helpers.board.runtime import available_backends

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_board"))
import fake_models  # noqa: E402

sys.path.pop(0)
KEY = "mobileone_s0"


@pytest.fixture
def photo(tmp_path):
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 319, y * 255 // 239, (x + y) * 255 // 558], axis=2).astype(np.uint8)
    p = tmp_path / "photo.png"
    Image.fromarray(rgb).save(p)
    return p


@pytest.fixture
def models(tmp_path, monkeypatch):
    """Model paths in tmp_path; 'export' writes a tiny float model and records its calls."""
    root = tmp_path / "model"
    calls = []
    monkeypatch.setattr(files, "MODEL_DIR", root)   # every spec path method reads it at call time
    monkeypatch.setattr(make, "can_make_models", lambda: True)
    import helpers.pc.export

    def fake_export(key, weights="imagenet", out=None, **kw):
        calls.append((key, weights))
        fake_models.tiny_float_model(out, key=key, weights=weights, size=registry.get(key).input_size)
        return SimpleNamespace(path=Path(out))

    monkeypatch.setattr(helpers.pc.export, "export_onnx", fake_export)
    return SimpleNamespace(root=root, calls=calls)


def demo(photo, **kw):
    kw.setdefault("weights", "random")
    return nb.InferenceDemo(kw.pop("key", KEY), image=photo, **kw)


def one_line_error(fn, needle):
    with pytest.raises(HelpersError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert needle in msg, msg
    return msg


# ------------------------------------------------------------------ making missing files (PC)

def test_missing_models_are_made_once_and_reported(models, photo, capsys):
    d = demo(photo)
    d.load()
    out = capsys.readouterr().out
    assert models.calls == [(KEY, "random")]
    assert out.count("made       :") == 2 and "exported" in out and "built the NV12 board model" in out
    assert f"yaml/MobileOne/{KEY}_x5.yaml" in out  # the committed yaml of BOARD
    assert d.choice.kind == "board-onnx" and d.choice.path == registry.get(KEY).board_onnx_path and d.choice.path.exists()
    assert d.backend == "onnxruntime"
    demo(photo).load()
    assert models.calls == [(KEY, "random")] and "made       :" not in capsys.readouterr().out


def test_float_kind_runs_the_float_onnx(models, photo):
    d = demo(photo, model_kind="float-onnx")
    clf = d.load()
    assert d.choice.kind == "float-onnx" and clf.kind == "float"
    assert not registry.get(KEY).board_onnx_path.exists()  # not made until needed
    a = d.compare_paths()  # needs the board model: made now
    assert registry.get(KEY).board_onnx_path.exists() and a.ok, a


def test_existing_file_with_other_weights_is_used_and_flagged(models, photo, capsys):
    demo(photo).load()
    capsys.readouterr()
    d = demo(photo, weights="imagenet")
    d.load()
    out = capsys.readouterr().out
    assert "already exists with random weights (you asked for imagenet)" in out
    assert d.random and "RANDOM WEIGHTS" in out  # the file decides, not the request


def test_on_a_machine_without_the_toolchain_a_missing_file_is_explained(models, photo, monkeypatch):
    monkeypatch.setattr(make, "can_make_models", lambda: False)
    msg = one_line_error(lambda: demo(photo).load(), "cannot build it")
    assert "python -m helpers export" in msg and models.calls == []


# ------------------------------------------------------------------ bad input (each one a test)

def test_bad_image_path(tmp_path):
    one_line_error(lambda: nb.InferenceDemo(KEY, image="no/such/photo.jpg"), "image not found")
    one_line_error(lambda: nb.InferenceDemo(KEY, image=tmp_path / "missing.jpg"), "image not found")


def test_bin_on_a_pc(tmp_path, photo):
    if nb.on_board():
        pytest.skip("a board runtime is installed here")
    fake = tmp_path / "MobileOne_S0_224x224_nv12.bin"
    fake.write_bytes(b"\0" * 1024)
    one_line_error(lambda: demo(photo, model_file=fake).load(), "needs an RDK board")
    one_line_error(lambda: demo(photo, model_kind="bin").load(), "needs an RDK board")


def test_onnx_input_size_differs_from_the_registry(tmp_path, photo):
    small = fake_models.tiny_float_model(tmp_path / "small.onnx", key=KEY, size=(160, 160))
    msg = one_line_error(lambda: demo(photo, model_file=small).load(), "registry")
    assert "160x160" in msg and "224x224" in msg


def test_unknown_model_key(photo):
    one_line_error(lambda: demo(photo, key="mobileone_s9"), "unknown model key")


@pytest.mark.parametrize("backend", ["hobot_dnn", "bpu_infer_lib"])
def test_forced_backend_not_available(photo, backend):
    if backend in available_backends():
        pytest.skip(f"{backend} is installed here")
    one_line_error(lambda: demo(photo, backend=backend), "not available here")


@pytest.mark.parametrize("kw,needle", [({"backend": "cuda"}, "unknown backend"),
                                       ({"model_kind": "tflite"}, "MODEL_KIND"),
                                       ({"topk": 0}, "TOPK"), ({"board": "x9"}, "unknown board")])
def test_other_bad_parameters(photo, kw, needle):
    one_line_error(lambda: demo(photo, **kw), needle)


def test_relative_image_paths_fall_back_to_the_repo_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    first = nb.sample_images()[0]
    assert Path(nb.resolve_image(f"data/{first.name}")) == first


# ------------------------------------------------------------------ honest outputs

def test_random_weights_never_show_label_names(models, photo, capsys):
    d = demo(photo)
    d.load()
    assert d.random
    r = d.predict()
    assert r.random and r.logits.shape == (1000,) and abs(r.probs.sum() - 1) < 1e-9
    text = str(r)
    for p in r.top:
        assert imagenet_labels()[p.index] not in text
        assert f"class {p.index:4d}" in text
    fig = d.prediction_figure(r)
    ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert ticks == [f"class {p.index}" for p in reversed(r.top)]
    assert "RANDOM WEIGHTS" in fig._suptitle.get_text()
    d.show_prediction(r)
    assert "RANDOM WEIGHTS" in capsys.readouterr().out


def test_trained_weights_show_label_names(tmp_path, photo):
    m = fake_models.tiny_nv12_model(tmp_path / "trained.onnx", key=KEY, weights="imagenet")
    d = demo(photo, model_file=m, weights="imagenet")
    d.load()
    assert not d.random and d.banner() is None
    r = d.predict()
    for p in r.top:
        assert imagenet_labels()[p.index] in str(r)
    ticks = [t.get_text() for t in d.prediction_figure(r).axes[1].get_yticklabels()]
    assert all(imagenet_labels()[p.index][:20] in t for p, t in zip(reversed(r.top), ticks))


def test_a_bin_without_metadata_is_random_when_the_run_says_so(tmp_path, photo, monkeypatch):
    """A .bin carries no weights metadata: with WEIGHTS='random' its output is flagged, otherwise not."""
    m = fake_models.tiny_nv12_model(tmp_path / "nometa.onnx", key=KEY, weights="unknown")
    assert demo(photo, model_file=m, weights="random").random
    assert not demo(photo, model_file=m, weights="imagenet").random


def test_nv12_summary_matches_the_layout(models, photo):
    d = demo(photo)
    d.load()
    h, w = registry.get(KEY).input_size
    text = d.nv12_summary()
    assert f"{w * h * 3 // 2} bytes" in text and f"= {w * h} bytes" in text and f"= {w * h // 2} bytes" in text
    assert "full" in text and "regular" in text
    n = d.nv12_of()
    assert n.dtype == np.uint8 and n.size == w * h * 3 // 2
    fig = d.nv12_figure()
    assert len(fig.axes) == 4


# ------------------------------------------------------------------ NV12 path vs RGB path

def test_paths_agree_for_a_correct_board_model(models, photo):
    d = demo(photo)
    d.load()
    a = d.compare_paths()
    assert a.ok and a.skipped is None, a
    assert a.contract_rel_err < 1e-5 and a.psnr_db > 30 and a.logit_corr > 0.9
    assert "agrees" in a.verdict


def test_paths_disagree_when_the_board_model_lies_about_its_range(models, photo):
    """Metadata says limited range, the graph decodes full range: the contract check must fail."""
    import onnx

    d = demo(photo)
    d.load()
    path = registry.get(KEY).board_onnx_path
    m = onnx.load(str(path))
    for p in m.metadata_props:
        if p.key == "rdk.yuv_range":
            p.value = "limited"
    onnx.save(m, str(path))
    d2 = demo(photo)
    d2.load()
    a = d2.compare_paths()
    assert not a.contract_ok and not a.ok and "DISAGREES" in a.verdict, a


def test_pixel_check_fails_for_a_wrong_encoder(models, photo, monkeypatch):
    """An encoder with U and V swapped passes the contract (both sides decode the same bytes) but not PSNR."""
    d = demo(photo)
    d.load()
    real = nv12.rgb_to_nv12

    def swapped(rgb, yuv_range="full"):
        n = real(rgb, yuv_range).copy()
        y = rgb.shape[0] * rgb.shape[1]
        n[y:] = n[y:].reshape(-1, 2)[:, ::-1].reshape(-1)
        return n

    monkeypatch.setattr(nb.nv12mod, "rgb_to_nv12", swapped)
    a = d.compare_paths()
    assert a.contract_ok and not a.pixels_ok and not a.ok, a


def test_agreement_logic():
    good = agreement.Agreement(None, 1e-6, 40.0, 0.95, 0.2, 3, 7, 0.6)
    assert good.ok  # top-1 differs, correlation high
    assert not agreement.Agreement(None, 1e-6, 40.0, 0.5, 0.9, 3, 7, 0.2).ok
    assert agreement.Agreement(None, 1e-6, 40.0, 0.5, 0.9, 3, 3, 0.2).ok  # top-1 equal
    assert not agreement.Agreement(None, 1e-2, 40.0, 0.99, 0.0, 3, 3, 1.0).ok
    assert not agreement.Agreement(None, 1e-6, 20.0, 0.99, 0.0, 3, 3, 1.0).ok
    assert agreement.Agreement(skipped="board").ok


def test_psnr_and_pearson():
    a = np.zeros((4, 4, 3))
    assert agreement.psnr(a, a) == float("inf")
    assert agreement.psnr(a, a + 255) == pytest.approx(0.0)
    x = np.arange(10.0)
    assert agreement.pearson(x, 3 * x + 1) == pytest.approx(1.0) and agreement.pearson(x, -x) == pytest.approx(-1.0)


# ------------------------------------------------------------------ benchmark, where, widgets

def test_benchmark_report_shows_the_zoo_columns(models, photo):
    d = demo(photo, board="x5")  # the zoo publishes MobileOne_S0 for RDK X5 (its X3 file is S1)
    d.load()
    rep = d.benchmark(threads=(1, 2), seconds=0.2)
    md = rep._repr_markdown_()
    assert "Latency (single-threaded)" in md and "(published .bin)" in md and "RDK X5" in md
    assert "hrt_model_exec perf" in md


def test_where_and_about(models, photo):
    d = demo(photo)
    text = d.where_text()
    assert ("a PC" in text) != nb.on_board() and registry.get(KEY).bin_stem in text
    md = d.about()._repr_markdown_()
    assert registry.get(KEY).paper_url in md and "mobileone_s1" in md


@pytest.mark.parametrize("env,expected", [({"RDK_HEADLESS": "1"}, False), ({"RDK_HEADLESS": "0"}, True),
                                          ({}, False)])
def test_live_frontend(monkeypatch, env, expected):
    monkeypatch.delenv("RDK_HEADLESS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert nb.live_frontend() is expected  # {}: plain Python, no kernel


def test_widgets_rerun_on_upload_and_pick(models, photo, monkeypatch, capsys):
    monkeypatch.setenv("RDK_HEADLESS", "1")
    d = demo(photo)
    d.load()
    box = d.interactive()
    out = capsys.readouterr().out
    assert "not displayed" in out and "photo.png" in out  # run once headless
    model_pick, image_pick, upload = box.children[0].children
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), (200, 30, 30), np.uint8)).save(buf, format="PNG")
    upload.value = ({"name": "red.png", "type": "image/png", "size": buf.tell(),
                     "content": memoryview(buf.getvalue()), "last_modified": datetime.now(timezone.utc)},)
    out = capsys.readouterr().out
    assert "red.png:" in out and "<bytes>" not in out  # the upload was classified, under its own name
    assert image_pick.label == "red.png (uploaded)"    # and the picker says so
    assert out.count("!! RANDOM WEIGHTS") == 1         # one box for the one output
    image_pick.value = str(nb.sample_images()[1])
    assert nb.sample_images()[1].name in capsys.readouterr().out
    model_pick.value = "mobileone_s1"
    out = capsys.readouterr().out
    assert d.key == "mobileone_s1" and "mobileone_s1" in out and models.calls[-1] == ("mobileone_s1", "random")
    # it said what it would make before making it, and showed one box, not one per step
    assert "making 2 missing file(s) first" in out and out.index("making 2") < out.index("made       :")
    assert out.index("step 1/2: export") < out.index("step 2/2: build") < out.index("made       :")
    assert out.count("!! RANDOM WEIGHTS") == 1


def test_step_progress_names_each_step_as_it_starts():
    from helpers.notebooks.widgets import switch_with_progress

    lines = []

    class Demo:  # a switch that makes two files and reports each as make.Steps does
        model_kind, board, model_file = "auto", "x5", None

        def switch_model(self, key, announce=True, on_step=None):
            lines.append("<exporting>")
            on_step("exported A")
            lines.append("<building>")
            on_step("built B")
            lines.append("<loading>")

    import helpers.pc.make as make_mod
    steps = ["export model/A.onnx", "build model/B.onnx"]
    orig = make_mod.missing_steps
    make_mod.missing_steps = lambda key, board, kind: steps
    try:
        switch_with_progress(Demo(), "k", write=lines.append)
    finally:
        make_mod.missing_steps = orig
    assert lines == ["k: making 2 missing file(s) first",
                     "step 1/2: export model/A.onnx ...", "<exporting>", "  done: exported A",
                     "step 2/2: build model/B.onnx ...", "<building>", "  done: built B", "<loading>"]


def test_a_model_switch_shows_each_step_in_the_widget_while_it_runs(models, photo, monkeypatch):
    """In a kernel the widget's output area gets each line as it is printed: while the export runs it already
    says ``step 1/2: export ...``, while the board model is built ``step 2/2: build ...``."""
    import helpers.pc.board_model
    import helpers.pc.export
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("RDK_HEADLESS", "1")
    d = demo(photo)
    d.load()
    seen = {}
    box = None

    def text_now():
        return "".join(o.get("text", "") for o in box.children[1].outputs)

    export, build = helpers.pc.export.export_onnx, helpers.pc.board_model.build_board_model

    def spy_export(*a, **kw):
        seen["export"] = text_now()
        return export(*a, **kw)

    def spy_build(*a, **kw):
        seen["build"] = text_now()
        return build(*a, **kw)

    monkeypatch.setattr(helpers.pc.export, "export_onnx", spy_export)
    monkeypatch.setattr(helpers.pc.board_model, "build_board_model", spy_build)
    InteractiveShell.instance()
    try:
        box = d.interactive()
        box.children[0].children[0].value = "mobileone_s1"
    finally:
        InteractiveShell.clear_instance()
    assert "step 1/2: export" in seen["export"] and "step 2/2" not in seen["export"]
    assert "step 2/2: build" in seen["build"] and "done: exported mobileone_s1" in seen["build"]
    final = box.children[1].outputs
    assert any("image/png" in o.get("data", {}) for o in final)  # and the prediction at the end


def test_probabilities_keep_three_significant_digits():
    assert [nb.fmt_prob(p) for p in (0.00152, 0.00148, 0.5, 0.98765)] == ["0.00152", "0.00148", "0.5", "0.988"]


def test_a_stale_board_model_is_reported_not_silently_replaced(models, photo, capsys):
    """Float ONNX re-exported after the board model was built: say so, keep the file, and the check fails."""
    import os

    demo(photo).load()
    board = registry.get(KEY).board_onnx_path
    before = board.read_bytes()
    fake_models.tiny_float_model(registry.get(KEY).float_onnx_path, key=KEY, seed=1)  # other weights
    t = board.stat().st_mtime + 10
    os.utime(registry.get(KEY).float_onnx_path, (t, t))
    capsys.readouterr()
    d = demo(photo)
    d.load()
    out = capsys.readouterr().out
    assert "is older than" in out and "--overwrite" in out
    assert board.read_bytes() == before
    a = d.compare_paths()
    assert not a.contract_ok and not a.ok and "is older than" in str(a)


# ------------------------------------------------------------------ figures (the figure contract)

def test_the_prediction_chart_is_1080x360_and_never_in_pyplot(models, photo, monkeypatch):
    """The chart the notebook and its widget show: exactly 12 x 4 in at 90 dpi, and while it is drawn pyplot
    holds no figure, so matplotlib-inline's flush_figures (run after a comm message, maybe on a subshell
    thread) has nothing to show or close half-drawn."""
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    from helpers.notebooks.display import collect_outputs

    d = demo(photo)
    d.load()
    r = d.predict()
    seen = []
    suptitle = Figure.suptitle

    def spy(self, *a, **kw):  # the chart is half-drawn here: what could a flush take?
        seen.append(list(plt.get_fignums()))
        return suptitle(self, *a, **kw)

    monkeypatch.setattr(Figure, "suptitle", spy)
    plt.close("all")
    InteractiveShell.instance()
    try:
        outputs = collect_outputs(lambda: d.show_prediction(r))
        nv12 = collect_outputs(d.show_nv12)
    finally:
        InteractiveShell.clear_instance()
    assert seen == [[], []] and plt.get_fignums() == []
    assert _png_sizes(outputs) == [(1080, 360)]       # 12 x 4 in at 90 dpi
    assert _png_sizes(nv12) == [(1260, 342)]           # 14 x 3.8 in at 90 dpi


def _png_sizes(outputs):
    import base64

    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    return [Image.open(io.BytesIO(p if isinstance(p, bytes) else base64.b64decode(p))).size for p in pngs]


def test_collect_outputs_takes_only_its_own_thread_and_reports_each_line(capsys):
    """Another thread's print (a cell run meanwhile on another subshell) stays out of the widget; each finished
    line of its own reaches on_change at once."""
    import threading

    from IPython.core.interactiveshell import InteractiveShell

    from helpers.notebooks.display import collect_outputs

    seen = []

    def work():
        print("step 1/2: a ...")
        t = threading.Thread(target=print, args=("from another thread",))
        t.start()
        t.join()
        print("step 2/2: b ...")

    InteractiveShell.instance()
    try:
        outputs = collect_outputs(work, on_change=lambda o: seen.append("".join(x.get("text", "") for x in o)))
    finally:
        InteractiveShell.clear_instance()
    assert [o["text"] for o in outputs] == ["step 1/2: a ...\nstep 2/2: b ...\n"]
    assert seen == ["step 1/2: a ...\n", "step 1/2: a ...\nstep 2/2: b ...\n"]
    assert "from another thread" in capsys.readouterr().out
