"""The notebooks in real JupyterLab, in a real (headless Chromium) browser: what a person sees.

Starts JupyterLab on localhost with a copy of every committed notebook and opens them in Debian's
Chromium driven by Playwright (``executable_path``: no browser download):

- every notebook opens unmodified (JupyterLab marks a notebook dirty when it rewrites its metadata);
- ``test_<Arch>.ipynb``: Run All, then the checks of what is on the screen: no error output, every
  figure at the size it was drawn with, one random-weights box per output, the widgets; another photo
  changes the prediction; a switch to a model not yet on disk shows its progress (``step I/N: ...``,
  the kernel Busy until the chart) before the chart, and every switch shows exactly one chart, of
  the drawn size (12 x 4 in at 90 dpi = 1080 x 360 px);
  JupyterLab's Log Console (where stray outputs of widget callbacks land) stays empty;
- ``quantize_MobileOne.ipynb``: a short Run All (``RDK_QUANT_EPOCHS=1``, ``RDK_SENS_LAYERS=3``), no
  error output, every figure at its drawn size.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``). Without it the test is skipped, unless
``RDK_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where a missing browser is a failure. Screenshots of
failures go to ``RDK_BROWSER_SHOTS`` (default ``/tmp/browser-shots``).
"""
import base64
import json
import os
import re
import shutil
import socket
import struct
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
SHOTS = Path(os.environ.get("RDK_BROWSER_SHOTS", "/tmp/browser-shots"))

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
ARCH = "MobileOne"
OTHER_KEY = "mobileone_s1"  # not made by Run All: the switch to it makes its files
#: the prediction chart of the test notebook: 12 x 4 in at 90 dpi (the figure contract of helpers)
CHART_PX, CHART_DPI = (1080, 360), 90
#: the progress line of a model switch that makes files (the progress contract of helpers.notebooks)
STEP_RE = re.compile(r"step \d+/\d+: ")
NOTEBOOKS = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    # a repository root of its own: the real photos, results and yaml/, an empty model/ (so the notebooks make
    # their files, as on a fresh clone), a copy of notebooks/ and nothing JupyterLab or a kernel could save
    # into the real repository (data/digits, runs/ and model/ are made here)
    (root / "data").mkdir()
    for entry in (REPO_ROOT / "data").iterdir():
        if entry.name != "digits":
            (root / "data" / entry.name).symlink_to(entry)
    (root / "yaml").symlink_to(REPO_ROOT / "yaml")
    (root / "model").mkdir()
    for rel in NOTEBOOKS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / rel, root / rel)
    settings = root / ".lab-settings"
    for rel, value in SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port, token = free_port(), "rdk-test"
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "CI", "RDK_HEADLESS")}
    env.update(RDK_WEIGHTS="random", RDK_REPO_ROOT=str(root), RDK_BENCH_SECONDS="0.2",
               RDK_QUANT_EPOCHS="1", RDK_SENS_LAYERS="3",
               JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".rt"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"))
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.expose_app_in_browser=True"],
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


def shut_down_kernels(lab) -> None:
    """Every session of the server closed (its kernel too): a page closed by the test leaves them running."""
    _, base, token = lab
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


def open_notebook(lab, browser, rel: str, workspace: str):
    """A new page with ``rel`` open in a workspace of its own (no tabs restored from an earlier page), kernel idle."""
    _, base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{rel}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90000)
    page.wait_for_timeout(2000)  # the kernel's language_info has arrived by now
    accept_dialogs(page)
    return page


def fail(page, what: str, message: str):
    """A one-line assertion error naming a screenshot of the page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{what}.png"
    try:
        page.screenshot(path=str(shot))
    except Exception as e:  # the page is gone: the message matters more than the picture
        shot = f"none ({type(e).__name__})"
    raise AssertionError(f"{message} (screenshot {shot})")


def accept_dialogs(page):
    """JupyterLab may ask which kernel to use (e.g. while the first one is still starting): take the default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator(".jp-mod-accept").first.click()
        page.wait_for_timeout(500)


def run_all(page):
    page.wait_for_timeout(1000)
    accept_dialogs(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_done(page, timeout_s: float = 240, what: str = "run_all"):
    """Until every code cell has run: no '[*]' prompt and the kernel idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        accept_dialogs(page)
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if busy == 0 and prompts and all(p.strip() not in ("[ ]:", "[ ]") for p in prompts):
            return
        page.wait_for_timeout(500)
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    fail(page, f"{what}_timeout", f"the notebook did not finish running in {timeout_s:.0f} s (prompts {prompts})")


def outputs_text(page, selector=".jp-OutputArea-output") -> str:
    return "\n".join(page.locator(selector).all_inner_texts())


def wait_for(predicate, timeout_s: float, page, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        page.wait_for_timeout(300)
    fail(page, "timeout", f"timed out after {timeout_s:.0f} s waiting for {what}")


# ---- figures: what the PNG in the page says about how it was drawn
def png_size_dpi(data: bytes):
    """(width, height, dpi) of a PNG: its IHDR and its pHYs chunk (matplotlib's Agg writes the figure's dpi
    there; dpi None without it)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None, None, None
    w, h = struct.unpack(">II", data[16:24])
    pos, dpi = 8, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs":
            ppu_x, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            dpi = round(ppu_x * 0.0254) if unit == 1 else None
        if kind in (b"pHYs", b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return w, h, dpi


#: every <img> under a selector: what the browser decoded and the PNG's own header
IMAGES_JS = """(sel) => Array.from(document.querySelectorAll(sel)).map(img => ({
    w: img.naturalWidth, h: img.naturalHeight, src: img.src.startsWith('data:') ? img.src : ''}))"""


def figures(page, selector: str, with_png: bool = False):
    """[(width, height, dpi)] of the images under ``selector`` (dpi from the PNG, None if it has none);
    ``with_png``: [(width, height, dpi, PNG bytes)]."""
    out = []
    for img in page.evaluate(IMAGES_JS, selector):
        dpi, data = None, b""
        if img["src"].startswith("data:image/png;base64,"):
            data = base64.b64decode(img["src"].split(",", 1)[1])
            _, _, dpi = png_size_dpi(data)
        out.append((img["w"], img["h"], dpi, data) if with_png else (img["w"], img["h"], dpi))
    return out


def margins(png: bytes):
    """(left, top, right, bottom): px of background (the corner's colour) around what is drawn."""
    import io

    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    ys, xs = np.nonzero(np.abs(a - a[0, 0]).sum(axis=-1) > 30)
    if not len(xs):
        return None
    h, w = a.shape[:2]
    return int(xs.min()), int(ys.min()), int(w - 1 - xs.max()), int(h - 1 - ys.max())


def drawn_size_problem(w: int, h: int, dpi, png: bytes) -> str:
    """'' if a ``w`` x ``h`` px image looks like a figure as drawn (rendered by matplotlib's Agg at its dpi,
    figsize x dpi, not cropped); else what is wrong.

    A figure shown by the inline backend is cropped to its artists plus ``pad_inches`` = 0.1 in
    (``bbox_inches='tight'``; 12 x 4 in at 100 dpi came out 1176 x 397 px): background of 0.1 in
    (+-3 px) on all four sides is its mark. An uncropped figure has its layout's margins instead
    (constrained layout about 0.04 in, tight_layout about 0.15 in, more where an axes keeps its aspect):
    at least one side outside that band, in every figure of helpers we measured."""
    if not w or not h:
        return f"an image that did not load ({w} x {h} px)"
    if not dpi:
        return f"{w} x {h} px without a dpi in the PNG (not rendered by matplotlib's Agg)"
    pad, m = round(0.1 * dpi), margins(png)
    if m and all(abs(side - pad) <= 3 for side in m):
        return (f"{w} x {h} px at {dpi} dpi ({w / dpi:.2f} x {h / dpi:.2f} in) with {m} px of margin (left, top, "
                "right, bottom), all about 0.1 in: cropped by bbox_inches='tight' (the inline backend), not as drawn")
    return ""


def check_drawn_sizes(page, selector: str, what: str):
    problems = [p for p in (drawn_size_problem(*f) for f in figures(page, selector, with_png=True)) if p]
    if problems:
        fail(page, what, f"{what}: {len(problems)} figure(s) not at their drawn size: {problems[0]}")


# ---- JupyterLab's Log Console: where outputs of a kernel that belong to no cell or widget go
LOG_ENTRIES_RE = re.compile(r"(\d+) log entr")


def log_console_problem(page) -> str:
    """'' if the Log Console of the current notebook is empty; else a line saying what it holds.

    JupyterLab 4.6 shows a status-bar item (``.jp-LogConsoleStatusItem``, a badge with the count of new
    entries, its title '<n> log entries for <notebook>') once the notebook's logger has an entry. The
    widget manager logs each output of the kernel that no cell or Output widget took at level warning,
    the default level shown: e.g. a figure drawn in a widget callback and flushed by the inline backend."""
    item = page.locator(".jp-LogConsoleStatusItem [title]")
    if item.count() == 0:
        return ""
    title = item.first.get_attribute("title") or ""
    m = LOG_ENTRIES_RE.search(title)
    if m and int(m.group(1)) == 0:
        return ""
    item.first.click()  # opens the Log Console: say what the entries are
    page.wait_for_timeout(1000)
    panel = page.locator(".jp-LogConsolePanel")
    kinds = panel.locator(".jp-OutputArea-output").evaluate_all(
        "els => els.map(e => e.getAttribute('data-mime-type') || e.className)")
    sizes = figures(page, ".jp-LogConsolePanel .jp-OutputArea-output img")
    return (f"JupyterLab's Log Console is not empty: '{title}', entries {kinds}"
            + (f", images (w, h, dpi) {sizes}" if sizes else "") + ": stray output of the kernel (no cell took it)")


def check_log_console(page, what: str):
    problem = log_console_problem(page)
    if problem:
        fail(page, what, problem)


# ---- every committed notebook opens as committed
#: the notebooks open in the page's JupyterLab (``window.jupyterapp``: ``expose_app_in_browser``), each with its kernel
OPEN_ALL_JS = """async (paths) => {
    for (const path of paths) await window.jupyterapp.commands.execute('docmanager:open', {path});
}"""
#: each open notebook: its path, whether its kernel is ready and idle, whether it is dirty, its metadata now
PANELS_JS = """() => Array.from(window.jupyterapp.shell.widgets('main')).filter(w => w.sessionContext && w.context)
    .map(w => ({path: w.context.path, dirty: w.context.model.dirty,
                idle: w.sessionContext.isReady && (w.sessionContext.session?.kernel?.status === 'idle'),
                nb: w.context.model.toJSON()}))"""


def changed_keys(before, after, name: str = "") -> list:
    """The dotted keys whose values differ between two JSON values."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        return [k for key in sorted(set(before) | set(after))
                for k in changed_keys(before.get(key), after.get(key), f"{name}.{key}" if name else key)]
    return [name or "(all)"]


def test_every_notebook_opens_unmodified(lab, browser):
    """Open every committed notebook with its kernel: none is marked modified (a dot on its tab)."""
    page = open_notebook(lab, browser, NOTEBOOKS[0], workspace="open-all")
    try:
        page.evaluate(OPEN_ALL_JS, NOTEBOOKS[1:])
        wait_for(lambda: (accept_dialogs(page) or True) and len(page.evaluate(PANELS_JS)) == len(NOTEBOOKS)
                 and all(p["idle"] for p in page.evaluate(PANELS_JS)), 120, page,
                 f"{len(NOTEBOOKS)} notebooks open with idle kernels")
        page.wait_for_timeout(1500)  # each kernel's language_info has arrived by now
        dirty_tabs = page.locator(".lm-TabBar-tab.jp-mod-dirty .lm-TabBar-tabLabel").all_inner_texts()
        dirty = []
        for panel in page.evaluate(PANELS_JS):
            if panel["dirty"] or Path(panel["path"]).name in dirty_tabs:
                committed = json.loads((REPO_ROOT / panel["path"]).read_text())
                keys = changed_keys({k: v for k, v in committed.items() if k != "cells"},
                                    {k: v for k, v in panel["nb"].items() if k != "cells"})
                dirty.append(f"{panel['path']} (JupyterLab changed {', '.join(keys) or 'its cells'})")
        if dirty:
            fail(page, "opened_modified", f"{len(dirty)} of {len(NOTEBOOKS)} notebooks opened as modified (the "
                 f"committed metadata is not what JupyterLab writes): {'; '.join(dirty)}")
    finally:
        page.close()
        shut_down_kernels(lab)


# ---- the test notebook: Run All, then the widgets
@pytest.fixture(scope="module")
def test_notebook(lab, browser):
    """The test notebook open, all cells run: the page."""
    rel = f"notebooks/{ARCH}/test_{ARCH}.ipynb"
    page = open_notebook(lab, browser, rel, workspace="test-notebook")
    run_all(page)
    wait_done(page)
    yield page
    page.close()
    shut_down_kernels(lab)


def test_run_all_shows_outputs_and_figures(test_notebook):
    page = test_notebook
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
    assert page.locator(".jupyter-widgets select").count() == 2, page.locator(".jupyter-widgets select").count()
    # each figure as drawn: the prediction chart of the cell and of the widget at the contract's size
    check_drawn_sizes(page, ".jp-OutputArea-output img", "run_all_figures")
    cell = cells.filter(has=page.locator(".jp-InputArea", has_text="demo.show_prediction(result)"))
    assert cell.count() == 1, "no single cell runs demo.show_prediction(result)"
    for where, selector in (("the prediction cell", cell.locator(".jp-OutputArea-output img")),
                            ("the widget", page.locator(".jupyter-widgets.widget-output img"))):
        got = selector.evaluate_all("els => els.map(i => [i.naturalWidth, i.naturalHeight])")
        if got != [list(CHART_PX)]:
            fail(page, "run_all_chart", f"{where} shows chart(s) {got} px, expected one of {CHART_PX} px "
                 f"(12 x 4 in at {CHART_DPI} dpi)")
    check_log_console(page, "run_all_log_console")


def test_another_photo_changes_the_prediction(test_notebook):
    page = test_notebook
    widget_out = page.locator(".jupyter-widgets.widget-output").last
    before = widget_out.inner_text()
    assert "chelsea.jpg:" in before
    page.locator(".jupyter-widgets select").nth(1).select_option(label="coffee.jpg")
    wait_for(lambda: "coffee.jpg:" in widget_out.inner_text(), 60, page, "the prediction for coffee.jpg")
    after = widget_out.inner_text()
    assert "chelsea.jpg:" not in after and after.split("coffee.jpg:")[1] != before.split("chelsea.jpg:")[1]
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    check_log_console(page, "photo_log_console")


#: watches the widget's output area: every image added to it, and the first moment (ms since the
#: switch) at which the area showed a progress line, the kernel was busy, an image was added
WATCH_JS = """(el) => {
    const w = {imgs: [], progress: null, busy: null, firstImg: null, idleFrom: null, idle: null,
               t0: performance.now(), texts: []};
    const now = () => Math.round(performance.now() - w.t0);
    const look = () => {
        const text = el.innerText;
        if (w.progress === null && /step \\d+\\/\\d+: /.test(text)) w.progress = now();
        if (w.texts.length < 100 && w.texts[w.texts.length - 1] !== text) w.texts.push(text.slice(0, 400));
        const bar = document.querySelector('#jp-main-statusbar');
        const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
        const busy = (bar && /\\bBusy\\b/.test(bar.innerText)) || (ind && ind.getAttribute('data-status') === 'busy');
        if (busy && w.busy === null) w.busy = now();
        // idle for 300 ms or more after it was busy, before the chart: the status says the work is over
        if (w.busy !== null && w.firstImg === null && w.idle === null) {
            if (busy) w.idleFrom = null;
            else if (w.idleFrom === null) w.idleFrom = now();
            else if (now() - w.idleFrom >= 300) w.idle = w.idleFrom;
        }
    };
    const obs = new MutationObserver(records => {
        for (const r of records) for (const n of r.addedNodes) {
            const found = n.nodeName === 'IMG' ? [n]
                : (n.querySelectorAll ? Array.from(n.querySelectorAll('img')) : []);
            for (const img of found) { w.imgs.push(img); if (w.firstImg === null) w.firstImg = now(); }
        }
        look();
    });
    obs.observe(el, {childList: true, subtree: true, characterData: true});
    w.timer = setInterval(look, 50);
    w.stop = () => { obs.disconnect(); clearInterval(w.timer); };
    window.__rdkWatch = w;
}"""
WATCH_RESULT_JS = """() => { const w = window.__rdkWatch; w.stop();
    const charts = new Map();  // the same PNG rendered again (the output area redrawn) is the same chart
    for (const i of w.imgs) charts.set(i.src.length + ':' + i.src.slice(-64), [i.naturalWidth, i.naturalHeight]);
    return {imgs: Array.from(charts.values()), progress: w.progress, busy: w.busy, idle: w.idle,
            firstImg: w.firstImg, texts: w.texts}; }"""


def switch_model(page, key: str, makes_files: bool, timeout_s: float = 240) -> dict:
    """Pick ``key`` in the model dropdown and wait until its chart is shown and the kernel is idle again;
    what the watcher saw meanwhile, and the figures (w, h, dpi) the widget shows at the end."""
    widget_out = page.locator(".jupyter-widgets.widget-output").last
    images_before = page.locator(".jp-OutputArea-output img").count()
    widget_out.evaluate(WATCH_JS)
    page.locator(".jupyter-widgets select").nth(0).select_option(key)
    if makes_files:
        wait_for(lambda: "missing file" in widget_out.inner_text() or STEP_RE.search(widget_out.inner_text()),
                 60, page, f"the switch to {key} to start making its files")
    wait_for(lambda: page.evaluate("() => window.__rdkWatch.imgs.length") >= 1
             and widget_out.locator(".rdk-banner").count() == 1, timeout_s, page, f"the prediction with {key}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    page.wait_for_timeout(1500)  # a stray second render would arrive now
    seen = page.evaluate(WATCH_RESULT_JS)
    seen["figures"] = figures(page, ".jupyter-widgets.widget-output img")
    seen["images"] = (images_before, page.locator(".jp-OutputArea-output img").count())
    return seen


@pytest.fixture(scope="module")
def switches(lab, test_notebook):
    """Two model switches after the photo switch: to OTHER_KEY (its files made first), back to the first."""
    page = test_notebook
    first = page.locator(".jupyter-widgets select").nth(0).input_value()
    made = switch_model(page, OTHER_KEY, makes_files=True)
    page.screenshot(path=str(lab[0] / "after_switch.png"))
    back = switch_model(page, first, makes_files=False, timeout_s=60)
    return {OTHER_KEY: made, first: back}


def test_a_switch_makes_the_missing_files(lab, switches):
    root = lab[0]
    assert (root / "model" / ARCH / f"{OTHER_KEY}.onnx").is_file(), f"model/{ARCH}/{OTHER_KEY}.onnx was not made"


def test_a_switch_keeps_the_kernel_busy_until_the_chart(test_notebook, switches):
    page, seen = test_notebook, switches[OTHER_KEY]
    if seen["busy"] is None:
        fail(page, "switch_busy", f"the status bar never showed the kernel Busy while the switch to {OTHER_KEY} "
             "made the files")
    if seen["idle"] is not None:
        fail(page, "switch_idle", f"the status bar showed the kernel Idle from {seen['idle']} ms after the switch to "
             f"{OTHER_KEY} while it still made the files (the chart came at {seen['firstImg']} ms)")


def test_a_switch_shows_progress_before_the_chart(test_notebook, switches):
    page, seen = test_notebook, switches[OTHER_KEY]
    if seen["progress"] is None:
        lines = list(dict.fromkeys(line.strip() for t in seen["texts"][1:] for line in t.splitlines()))
        lines = [line for line in lines if line]
        fail(page, "switch_progress", f"the switch to {OTHER_KEY} showed no 'step I/N: <step>' line in the widget "
             f"while it made the files; it showed: {' | '.join(lines[:5])[:300]}")
    if seen["firstImg"] is not None and seen["firstImg"] < seen["progress"]:
        fail(page, "switch_order", f"the chart appeared {seen['firstImg']} ms after the switch to {OTHER_KEY}, "
             f"before the progress line ({seen['progress']} ms)")


def test_each_switch_shows_one_chart_as_drawn(test_notebook, switches):
    page = test_notebook
    for key, seen in switches.items():
        if len(seen["imgs"]) != 1:
            fail(page, "switch_charts", f"the switch to {key} put {len(seen['imgs'])} different image(s) "
                 f"{seen['imgs']} (w, h px) in the widget, expected exactly one chart")
        if seen["images"][1] != seen["images"][0]:
            fail(page, "switch_images", f"the switch to {key} changed the number of images in the notebook's "
                 f"outputs from {seen['images'][0]} to {seen['images'][1]} (it replaces the widget's one chart)")
        if seen["figures"] != [(*CHART_PX, CHART_DPI)]:
            fail(page, "switch_chart_size", f"after the switch to {key} the widget shows (w, h, dpi) "
                 f"{seen['figures']}, expected one chart of {CHART_PX[0]} x {CHART_PX[1]} px at {CHART_DPI} dpi")


def test_log_console_stays_empty(test_notebook, switches):
    check_log_console(test_notebook, "switch_log_console")


# ---- the quantisation notebook, a short run
def test_quantize_notebook_short_run(lab, browser):
    page = open_notebook(lab, browser, f"notebooks/{ARCH}/quantize_{ARCH}.ipynb", workspace="quantize")
    try:
        run_all(page)
        wait_done(page, timeout_s=420, what="quantize")
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                              ".jp-OutputArea-output.jp-mod-error, .jp-RenderedText[data-mime-type*='error']")
        text = outputs_text(page)
        if errors.count() or "Traceback" in text:
            first = (errors.all_inner_texts() or [text[text.find("Traceback"):]])[0].strip().splitlines()
            fail(page, "quantize_errors", f"quantize_{ARCH}.ipynb: {errors.count()} error/stderr output(s), "
                 f"the first: {' | '.join(first[:3])[:300]}")
        if page.locator(".jp-OutputArea-output img").count() == 0:
            fail(page, "quantize_figures", f"quantize_{ARCH}.ipynb showed no figure")
        check_drawn_sizes(page, ".jp-OutputArea-output img", "quantize_figures")
        check_log_console(page, "quantize_log_console")
    finally:
        page.close()
        shut_down_kernels(lab)
