"""The test notebooks' widgets: model and image pickers, an upload box, step-by-step progress while a model is made.

Presentation only: each change calls :class:`helpers.notebooks.inference.InferenceDemo` methods.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from helpers.board import registry
from helpers.board.image import sample_images
from helpers.errors import HelpersError
from helpers.notebooks.display import HEADLESS_ENV, collect_outputs, live_frontend, on_board, show


class StepProgress:
    """Progress of in-widget work, one line per step as it starts: ``step I/N: <name>``, then ``done: ...``.

    Plain printed lines, so they reach the widget's output area as they are printed (a comm message's
    handler runs in the kernel while its outputs stream out; the kernel says Busy until the handler
    returns). A line is printed when a step *starts*, so a long step (the export) is named while it runs;
    a bar that advances when a step ends would stand still through it.
    """

    def __init__(self, steps: Sequence[str], write: Callable[[str], None] = print):
        self.steps, self.write, self.index = list(steps), write, 0

    def begin(self) -> None:
        if self.steps:
            self._announce()

    def step_done(self, text: str) -> None:
        """``on_step`` of :func:`helpers.pc.make.Steps`: the current step finished with ``text``."""
        self.write(f"  done: {text}")
        self.index += 1
        if self.index < len(self.steps):
            self._announce()

    def _announce(self) -> None:
        self.write(f"step {self.index + 1}/{len(self.steps)}: {self.steps[self.index]} ...")


def switch_with_progress(demo, key: str, write: Callable[[str], None] = print) -> None:
    """:meth:`switch_model` for the widget: say what will be made, then each step as it starts (:class:`StepProgress`)."""
    steps = []
    if demo.model_kind in ("auto", "board-onnx", "float-onnx") and not on_board() and not demo.model_file:
        from helpers.pc.make import missing_steps

        kind = "float-onnx" if demo.model_kind == "float-onnx" else "board-onnx"
        steps = missing_steps(key, demo.board, kind)
    if not steps:
        demo.switch_model(key, announce=False)
        return
    write(f"{key}: making {len(steps)} missing file(s) first")
    progress = StepProgress(steps, write)
    progress.begin()
    demo.switch_model(key, announce=False, on_step=progress.step_done)


def interactive(demo):
    """Model and image pickers plus an upload box; each change re-runs the prediction.

    Returns the widget box. Displayed only in a live frontend (:func:`live_frontend`); headless
    runs (nbval) build it and make the first prediction, so the code path is tested. ``box.run()``
    re-runs the prediction as a pick in the frontend does.
    """
    import ipywidgets as w

    try:
        images = sample_images()
    except HelpersError:
        images = []
    current = Path(demo.image) if isinstance(demo.image, (str, os.PathLike)) else None
    image_options = [(p.name, str(p)) for p in images]
    if current is not None and str(current) not in dict(image_options).values():
        image_options.insert(0, (current.name, str(current)))
    model_pick = w.Dropdown(options=registry.keys(demo.spec.arch), value=demo.key, description="model")
    image_pick = w.Dropdown(options=image_options, value=str(current) if current is not None else None,
                            description="image")
    upload = w.FileUpload(accept="image/*", multiple=False, description="upload")
    out = w.Output()
    uploads = {}  # dropdown value -> (name, bytes) of an uploaded photo
    state = {"quiet": False}

    def predict() -> None:
        try:
            if model_pick.value != demo.key:
                switch_with_progress(demo, model_pick.value)
            src, name = image_pick.value, None
            if src in uploads:
                name, src = uploads[src]
            demo.show_prediction(demo.predict(src, name=name))
        except HelpersError as e:
            print(f"error: {e}")

    def run(_change=None):
        """A pick made in the frontend: the callback's output is set as ``out``'s state line by line as it
        comes (collect_outputs with on_change), so the steps show while a model is made and the kernel
        reads Busy until it is done; ``with out:`` let JupyterLab show Idle then (see collect_outputs)."""
        if state["quiet"]:
            return
        out.outputs = collect_outputs(predict, on_change=lambda outputs: setattr(out, "outputs", outputs))

    def on_upload(change):
        if not upload.value:
            return
        item = upload.value[0]
        name = str(item.get("name") or "uploaded image")
        tag = f"upload:{len(uploads)}:{name}"
        uploads[tag] = (name, bytes(item["content"]))
        state["quiet"] = True  # adding the option must not run the old choice first
        try:
            image_pick.options = list(image_pick.options) + [(f"{name} (uploaded)", tag)]
            image_pick.value = tag
        finally:
            state["quiet"] = False
        run()

    model_pick.observe(run, names="value")
    image_pick.observe(run, names="value")
    upload.observe(on_upload, names="value")
    box = w.VBox([w.HBox([model_pick, image_pick, upload]), out])
    box.run = run  # for tests and scripts
    box.upload = on_upload
    # The first prediction is made while the cell runs: gathered in the kernel and given to ``out`` as its
    # state, not routed by ``with out:``, which needs answers from the frontend that nbclient (nbconvert
    # --execute, papermill, nbval) gives on the channel it waits on, stalling the run (see collect_outputs).
    out.outputs = collect_outputs(predict)
    if live_frontend():
        show(box)
    else:
        print("widgets: built and run once, not displayed (no live Jupyter frontend: "
              f"{HEADLESS_ENV}=1, MPLBACKEND=Agg or CI); open the notebook in JupyterLab to use them")
    return box
