"""The test notebooks in real JupyterLab, in a real (headless Chromium) browser: what a person sees.

Starts JupyterLab on localhost with a copy of ``test_<Arch>.ipynb``, opens it in Debian's Chromium
driven by Playwright (``executable_path``: no browser download), runs all cells and checks what is on
the screen: no error output, the figures, the widgets, one random-weights box per output, and that
choosing another photo in the image widget changes the prediction.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``). Without it the test is skipped, unless
``RDK_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where a missing browser is a failure.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers.board.files import REPO_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("RDK_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists() or not shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)):
    if REQUIRED:
        raise RuntimeError(f"RDK_REQUIRE_BROWSER=1 but {CHROMIUM} or jupyter-lab is missing (apt-get install chromium)")
    pytest.skip("needs Debian's chromium (apt-get install chromium) and jupyterlab", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")


#: JupyterLab user settings: render every cell (the default virtualises off-screen cells away, and the
#: checks below read the whole notebook) and no news pop-up over the page
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    # a repository root of its own: the real data/ and yaml/, an empty model/ (so the notebook makes its files,
    # as on a fresh clone) and nothing JupyterLab could save into the real notebooks
    for name in ("data", "yaml"):
        (root / name).symlink_to(REPO_ROOT / name)
    (root / "model").mkdir()
    settings = root / ".lab-settings"
    for rel, value in SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port, token = free_port(), "rdk-test"
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "CI", "RDK_HEADLESS")}
    env.update(RDK_WEIGHTS="random", RDK_REPO_ROOT=str(root), RDK_BENCH_SECONDS="0.2",
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".rt"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"))
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield root, base, token
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def accept_dialogs(page):
    """JupyterLab may ask which kernel to use (e.g. while the first one is still starting): take the default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator(".jp-mod-accept").first.click()
        page.wait_for_timeout(500)


def run_all(page):
    page.wait_for_timeout(2000)
    accept_dialogs(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_done(page, timeout_s: float = 240):
    """Until every code cell has run: no '[*]' prompt and the kernel idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        accept_dialogs(page)
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if busy == 0 and prompts and all(p.strip() not in ("[ ]:", "[ ]") for p in prompts):
            return
        page.wait_for_timeout(500)
    shot = Path(os.environ.get("RDK_BROWSER_SHOTS", "/tmp")) / "jupyterlab_timeout.png"
    page.screenshot(path=str(shot))
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    raise AssertionError(f"the notebook did not finish running in time (prompts {prompts}; screenshot {shot})")


ARCH = "MobileOne"
OTHER_KEY = "mobileone_s1"


def outputs_text(page, selector=".jp-OutputArea-output") -> str:
    return "\n".join(page.locator(selector).all_inner_texts())


def wait_for(predicate, timeout_s: float, page, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        page.wait_for_timeout(300)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_all_then_use_the_widgets(lab, browser):
    root, base, token = lab
    src = REPO_ROOT / "notebooks" / ARCH / f"test_{ARCH}.ipynb"
    (root / "notebooks" / ARCH).mkdir(parents=True)
    shutil.copy(src, root / "notebooks" / ARCH / src.name)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/tree/notebooks/{ARCH}/{src.name}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90000)
    page.wait_for_timeout(3000)  # the kernel's language_info has arrived by now
    accept_dialogs(page)
    # unedited, it is not modified: the committed metadata is what JupyterLab writes (NOTEBOOK_METADATA)
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, "the unedited notebook opened as modified"
    run_all(page)
    wait_done(page)
    page.screenshot(path=str(root / "after_run.png"))

    # no error output, and no warning text (the random-weights warning is shown as one box, not on stderr)
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    assert stderr == [], stderr
    assert "Traceback" not in outputs_text(page)
    # every figure is there: NV12 planes, the prediction, the prediction drawn by the widget
    assert page.locator(".jp-OutputArea-output img").count() >= 3
    # at most one random-weights box per cell output
    cells = page.locator(".jp-CodeCell")
    boxes = [cells.nth(i).locator(".rdk-banner").count() for i in range(cells.count())]
    assert max(boxes) == 1 and sum(boxes) >= 2, boxes
    # the widgets are real widgets
    assert "Error displaying widget" not in outputs_text(page)
    selects = page.locator(".jupyter-widgets select")
    assert selects.count() == 2, selects.count()
    model_pick, image_pick = selects.nth(0), selects.nth(1)
    widget_out = page.locator(".jupyter-widgets.widget-output").last

    # another photo: the prediction follows it
    before = widget_out.inner_text()
    assert "chelsea.jpg:" in before
    image_pick.select_option(label="coffee.jpg")
    wait_for(lambda: "coffee.jpg:" in widget_out.inner_text(), 60, page, "the prediction for coffee.jpg")
    after = widget_out.inner_text()
    assert "chelsea.jpg:" not in after and after.split("coffee.jpg:")[1] != before.split("chelsea.jpg:")[1]

    # another model whose files are missing: it says what it makes, shows a bar, then predicts
    model_pick.select_option(OTHER_KEY)
    wait_for(lambda: "missing file(s) first" in widget_out.inner_text(), 60, page, "the making notice")
    assert widget_out.locator(".widget-hprogress, progress, .progress").count() >= 1
    wait_for(lambda: "coffee.jpg:" in widget_out.inner_text()
             and widget_out.locator(".rdk-banner").count() == 1, 240, page, f"the prediction with {OTHER_KEY}")
    assert (root / "model" / ARCH / f"{OTHER_KEY}.onnx").is_file()
    wait_for(lambda: widget_out.locator("img").count() == 1, 60, page, "the new prediction figure")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    page.screenshot(path=str(root / "after_switch.png"))
    assert widget_out.locator(".rdk-banner").count() == 1
