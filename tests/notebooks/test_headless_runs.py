"""A test notebook batch-run the way a user does it: plain ``jupyter nbconvert --to notebook --execute``
and papermill, each in a subprocess with the environment a user has (no MPLBACKEND, RDK_HEADLESS or CI:
the widgets are displayed), under a time bound far below a stall.

The stall this guards against: nbclient (behind nbconvert, papermill and nbval) plays the frontend's part
for ipywidgets ``Output`` widgets. When a cell fills one with ``with out:``, nbclient answers every
output routed into it with a ``comm_msg`` sent on the shell channel while it polls that channel for the
cell's reply; now and then the reply goes unnoticed until the poll times out (jupyter/nbclient issue
312): a whole cell timeout, or forever with nbconvert's and papermill's default of none. It came and
went from run to run here, so besides the time bound the runs record every such ``comm_msg`` (a
``sitecustomize`` that wraps nbclient's ``OutputWidget.send`` and only writes a line) and there must be
none: that part fails on every run when the pattern is back, stalled or not.
"""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers.board.files import REPO_ROOT

ARCH = "MobileOne"
NOTEBOOK = REPO_ROOT / "notebooks" / ARCH / f"test_{ARCH}.ipynb"
#: seconds per run: a run takes 10-25 s on an idle 2-core machine (the first one exports the model), 65 s with
#: the machine loaded 4x; a stall lasts as long as the cell timeout, with nbconvert's and papermill's default forever
BOUND = 300
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: observes only: one line per comm_msg nbclient sends for an Output widget it plays
RECORDER = textwrap.dedent("""
    import os
    try:
        from nbclient import output_widget
    except ImportError:
        output_widget = None
    if output_widget is not None and os.environ.get("RDK_TEST_WIDGET_LOG"):
        _send = output_widget.OutputWidget.send

        def _recorded_send(self, *args, **kwargs):
            with open(os.environ["RDK_TEST_WIDGET_LOG"], "a") as fh:
                fh.write(f"comm_msg to Output widget {self.comm_id}\\n")
            return _send(self, *args, **kwargs)

        output_widget.OutputWidget.send = _recorded_send
""")


@pytest.fixture(scope="module")
def user_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("headless")
    site = root / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(RECORDER)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "RDK_HEADLESS", "CI")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(REPO_ROOT), env.get("PYTHONPATH", "")]),
               RDK_WEIGHTS="random", RDK_MODEL_DIR=str(root / "model"), RDK_BENCH_SECONDS="0.1",
               RDK_TEST_WIDGET_LOG=str(root / "widget_comm.log"))
    return root, env


def _run(cmd, env, what):
    t = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not finish in {BOUND} s (a normal run takes 10-65 s): a cell is stalled")
    took = time.monotonic() - t
    assert proc.returncode == 0, f"{what} failed:\n{proc.stderr[-3000:]}"
    return took


def _check(out_path: Path, log: Path, took: float, what: str):
    recorded = log.read_text().splitlines() if log.exists() else []
    assert not recorded, (f"{what}: nbclient sent {len(recorded)} comm_msg(s) for an Output widget on the shell "
                          f"channel (the pattern that stalls a headless run); took {took:.1f} s")
    nb = json.loads(out_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "not every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    # the widgets are displayed (no headless marker here) and carry the first prediction in their state
    assert any(WIDGET_VIEW in o.get("data", {}) for o in code[-1].get("outputs", [])), "widget box not displayed"
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    shown = [o for m in state.values() if m.get("model_name") == "OutputModel"
             for o in m["state"].get("outputs", [])]
    assert any("chelsea.jpg:" in o.get("text", "") for o in shown), "the widget's Output holds no prediction"
    assert any("image/png" in o.get("data", {}) for o in shown), "the widget's Output holds no figure"


def test_plain_nbconvert_execute(user_env):
    root, env = user_env
    log = root / "widget_comm.log"
    log.unlink(missing_ok=True)
    took = _run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK),
                 "--output-dir", str(root), "--output", "nbconvert_out"], env, "jupyter nbconvert --execute")
    _check(root / "nbconvert_out.ipynb", log, took, "nbconvert")


def test_papermill(user_env):
    pytest.importorskip("papermill")
    root, env = user_env
    log = root / "widget_comm.log"
    log.unlink(missing_ok=True)
    out = root / "papermill_out.ipynb"
    took = _run([sys.executable, "-m", "papermill", str(NOTEBOOK), str(out), "-k", "python3",
                 "--cwd", str(NOTEBOOK.parent), "-p", "TOPK", "3", "--no-progress-bar"], env, "papermill")
    _check(out, log, took, "papermill")
    cells = json.loads(out.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "TOPK = 3" in "".join(injected[0]["source"])


CAMERA_NOTEBOOK = REPO_ROOT / "notebooks" / ARCH / f"camera_{ARCH}.ipynb"


def _check_camera(out_path: Path, frames: int):
    nb = json.loads(out_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "not every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join("".join(o.get("text", "")) for c in code for o in c.get("outputs", []))
    assert f": {frames} frames, " in text, text[-1500:]   # the table of classify_live: FRAMES as set
    return nb


def test_camera_notebook_plain_nbconvert(user_env):
    """The camera notebook the way a user batch-runs it (no camera here: the generated clip); ~5 s once the
    test notebook's model exists (same RDK_MODEL_DIR), ~30 s when it exports the model first."""
    root, env = user_env
    env = dict(env, RDK_CAMERA_FRAMES="8")
    _run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(CAMERA_NOTEBOOK),
          "--output-dir", str(root), "--output", "camera_nbconvert_out"], env, "jupyter nbconvert --execute (camera)")
    _check_camera(root / "camera_nbconvert_out.ipynb", 8)


def test_camera_notebook_papermill_parameters(user_env):
    """papermill's -p lands after the tagged parameters cell: FRAMES=5 overrides the environment's 8."""
    pytest.importorskip("papermill")
    root, env = user_env
    env = dict(env, RDK_CAMERA_FRAMES="8")
    out = root / "camera_papermill_out.ipynb"
    _run([sys.executable, "-m", "papermill", str(CAMERA_NOTEBOOK), str(out), "-k", "python3",
          "--cwd", str(CAMERA_NOTEBOOK.parent), "-p", "FRAMES", "5", "-p", "CAMERA_RANGE", "limited",
          "--no-progress-bar"], env, "papermill (camera)")
    nb = _check_camera(out, 5)
    ids = [c.get("id") for c in nb["cells"]]
    injected = [i for i, c in enumerate(nb["cells"]) if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and injected[0] == ids.index("parameters") + 1
