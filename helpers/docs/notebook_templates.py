"""The two templates of the per-architecture notebooks: ``test_<Arch>.ipynb`` and ``export_<Arch>.ipynb``.

A template is a list of :class:`Cell`. Each cell has a ``name`` (it becomes the notebook's cell id,
so keep it stable: renaming a cell changes every notebook's diff), markdown or code text with
``{{fact}}`` placeholders, and optionally ``when`` (the cell exists only where that fact is true).
To add a cell, insert a ``md(...)`` / ``code(...)`` where it belongs and run
``python -m helpers notebooks``. The facts are made in :func:`helpers.docs.notebooks.facts`: from
:mod:`helpers.board.registry` and from the architecture's ``notebooks/<Arch>/notebook_text.md``.

A code cell whose first line is ``# NBVAL_CHECK_OUTPUT`` is compared by nbval with the output stored
in the notebook; that output is stated here (``output=``), from the same facts, so the generator
never runs a notebook. Every other cell is written without outputs.

Text that differs only by a fact (re-parameterised or not) is a :data:`CHOICES` entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

CHECK = "# NBVAL_CHECK_OUTPUT"


@dataclass(frozen=True)
class Cell:
    name: str                       # the cell id: unique in its template, [A-Za-z0-9_-]
    kind: str                       # "markdown" or "code"
    source: str                     # text with {{fact}} placeholders
    when: Optional[str] = None      # name of a boolean fact; the cell exists only where it is true
    tags: Tuple[str, ...] = ()      # cell metadata tags (papermill's "parameters")
    output: Optional[str] = None    # the stdout nbval checks, for a cell starting with CHECK


def md(name: str, source: str, **kw) -> Cell:
    return Cell(name, "markdown", source.strip("\n"), **kw)


def code(name: str, source: str, **kw) -> Cell:
    return Cell(name, "code", source.strip("\n"), **kw)


#: name -> (boolean fact, text where it is true, text where it is false)
CHOICES: Dict[str, Tuple[str, str, str]] = {
    "export_model": ("reparameterizable", "fused", "model"),
    "params_note": ("reparameterizable", " (train-time, branches unfused)", ""),
    "reparam_step": ("reparameterizable",
                     "**re-parameterise**: fuse the branches, and check the fused model computes the same thing",
                     "(no re-parameterisation: nothing to fuse in this architecture)"),
}

# ---- the vendor cells (test notebooks, section 4): the board's own runtimes called directly. Both runtimes'
# sections run in every test notebook (4a hbm_runtime, 4b hobot_dnn.pyeasy_dnn), each with the vendor's module where
# the board has it and the stand-in elsewhere; the NV12 lines and the top-k are written once and shared.
NV12_CODE = """
import cv2
import numpy as np

model_file = str(demo.board_model_file())  # the .bin (X3/X5) or .hbm (S100/S600) on a board; on a PC the NV12 board model
full_range = demo.clf.yuv_range == "full"  # yaml input_space_and_range: regular (X3/X5 configs); S configs: bt601_video


def nv12_from_photo(path, h, w, full_range=True):
    \"\"\"The photo as the model's NV12 input: (Y plane then interleaved UV as one H*W*3/2 uint8 array, y, uv).\"\"\"
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)  # OpenCV reads BGR
    while rgb.shape[0] >= 2 * h and rgb.shape[1] >= 2 * w:  # 2x or more too big: average 2x2 blocks first
        rgb = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)  # stretch to the model's size
    if full_range:  # BT.601 full range
        y = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[:, :, 0]  # luma
        half = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)  # one colour per 2x2 pixels
        uv = cv2.cvtColor(half, cv2.COLOR_RGB2YCrCb)[:, :, [2, 1]]  # (Cb, Cr) = (U, V), interleaved
    else:  # BT.601 limited range (Y 16..235): what OpenCV's I420 gives
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # Y plane, then U plane, then V plane
        y = yuv[:h]
        uv = np.stack(yuv[h:].reshape(2, h // 2, w // 2), axis=-1)  # U and V, interleaved
    return np.concatenate([y.reshape(-1), uv.reshape(-1)]), y, uv
"""
NV12_CHECK = """
h, w = demo.clf.size  # the model's input size (each runtime reports it too, below)
nv12, y, uv = nv12_from_photo(demo.image, h, w, full_range)
ours = demo.nv12_of()  # our board path, same photo
diff = np.abs(nv12.astype(np.int16) - ours)
print(f"NV12 {w}x{h}, {demo.clf.yuv_range} range: {nv12.size} bytes, {nv12.dtype}")
print(f"these lines vs our board path: Y max {diff[:h * w].max()}, mean {diff[:h * w].mean():.4f} levels, "
      f"{100 * np.count_nonzero(diff[:h * w]) / (h * w):.3f} % of the pixels off; "
      f"UV max {diff[h * w:].max()}, mean {diff[h * w:].mean():.4f} levels")
if full_range:  # what the zoo samples' I420 conversion (limited range) would feed this model instead
    i420_y = nv12_from_photo(demo.image, h, w, full_range=False)[1].astype(np.int16)
    print(f"OpenCV's I420 (limited range) vs the full range the model expects: Y mean "
          f"{np.abs(i420_y - y).mean():.1f}, max {np.abs(i420_y - y).max()} levels off")
"""
HBM_IMPORT = """
try:  # RDK X5 with RDK OS >= 3.5 (in the image, package hobot-spdev), RDK S100/S600
    from hbm_runtime import HB_HBMRuntime, hbDNNQuantiType
except (ImportError, RuntimeError) as e:  # not installed (a PC, an RDK X3), or its libhbucp.so/libdnn.so missing
    print(f"hbm_runtime not usable here ({str(e).strip().splitlines()[0]}): the stand-in runs instead")
    from helpers.notebooks.standin import HB_HBMRuntime, hbDNNQuantiType
print("4a runs", HB_HBMRuntime.__module__)
"""
HBM_LOAD = """
rt = HB_HBMRuntime(model_file)
model = rt.model_names[0]
for side, names, shapes, dtypes, quants in (
        ("input", rt.input_names, rt.input_shapes, rt.input_dtypes, rt.input_quants),
        ("output", rt.output_names, rt.output_shapes, rt.output_dtypes, rt.output_quants)):
    for n in names[model]:
        q = quants[model][n]
        print(f"{side:6s} {n}: shape {list(shapes[model][n])}, {dtypes[model][n]}, {q.quant_type}, "
              f"{np.size(q.scale)} scale(s), {np.size(q.zero_point)} zero point(s)")
inputs, out_name = rt.input_names[model], rt.output_names[model][0]
if len(inputs) == 2:  # RDK S .hbm: split NV12, y (1, H, W, 1) and uv (1, H/2, W/2, 2), told apart by shape
    y_name, uv_name = sorted(inputs, key=lambda n: rt.input_shapes[model][n][-1])
    h, w = rt.input_shapes[model][y_name][1:3]
else:  # RDK X5 .bin: one packed NV12 tensor, reported as (1, 3, H, W)
    h, w = rt.input_shapes[model][inputs[0]][2:]
"""
HBM_RUN = """
nv12, y, uv = nv12_from_photo(demo.image, h, w, full_range)
if len(inputs) == 2:  # the two planes, shaped as the runtime reported them
    feed = {y_name: np.ascontiguousarray(y)[None, :, :, None], uv_name: uv[None]}
else:  # Y then UV in one buffer
    feed = {inputs[0]: nv12}
outputs = rt.run({model: feed})  # {model: {output: array}}; no casting: uint8, shapes as reported
logits = outputs[model][out_name].astype(np.float32)
q = rt.output_quants[model][out_name]
if q.quant_type == hbDNNQuantiType.SCALE:  # raw integers: (x - zero_point) * scale, per channel on q.axis
    per_axis = [-1 if i == q.axis else 1 for i in range(logits.ndim)]
    scale = np.asarray(q.scale, np.float32).reshape(per_axis if np.size(q.scale) > 1 else -1)
    zero = np.asarray(q.zero_point, np.float32).reshape(per_axis if np.size(q.zero_point) > 1 else -1)
    logits = (logits - (zero if zero.size else 0)) * scale
# NONE: the runtime already handed back float32, so there is nothing to undo
show_top(logits)
"""
DNN_IMPORT = """
dnn = None
if BOARD.startswith("s"):  # s100, s100p, s600
    print(f"RDK {BOARD.upper()}: the RDK S boards have no pyeasy_dnn (their .hbm files run with hbm_runtime, 4a): "
          "4b is skipped")
else:
    try:  # RDK X3, and RDK X5 images before RDK OS 3.5 (the X5 pip wheel: hobot_dnn_rdkx5.pyeasy_dnn)
        from hobot_dnn import pyeasy_dnn as dnn
    except ImportError as e:  # not there (a PC): the stand-in, the same API over onnxruntime; it prints STAND-IN
        print(f"hobot_dnn not usable here ({str(e).strip().splitlines()[0]}): the stand-in runs instead")
        from helpers.notebooks.standin import pyeasy_dnn as dnn
    print("4b runs", dnn.__name__)
"""
DNN_LOAD = """
if dnn is not None:  # None: an RDK S board (skipped above)
    model = dnn.load(model_file)[0]
    for side, tensors in (("input", model.inputs), ("output", model.outputs)):
        for t in tensors:
            p = t.properties
            print(f"{side:6s} {t.name}: shape {list(p.shape)}, {p.tensor_type}, {p.layout}, "
                  f"{len(p.scale_data)} scale(s)")
    h, w = model.inputs[0].properties.shape[2:]  # NV12 reported as (1, 3, H, W)
"""
DNN_RUN = """
if dnn is not None:
    nv12, y, uv = nv12_from_photo(demo.image, h, w, full_range)
    outs = model.forward(nv12.reshape(h * 3 // 2, w))  # hobot_dnn 2.x: one array; hobot_dnn_rdkx5 3.x: a list of one
    raw = np.asarray(outs[0].buffer)
    logits = raw.astype(np.float32).reshape(-1)
    scale = outs[0].properties.scale_data
    if len(scale):  # SCALE-quantised (int8/int32 output): one scale per class
        logits = logits * scale
    elif np.issubdtype(raw.dtype, np.integer):
        # SHIFT-quantised (x / 2**shift): pyeasy_dnn's properties carry no shift values (its binary has scale_data
        # only, no shift field), so the integers cannot be turned into logits here
        raise RuntimeError(f"{outs[0].name} is {raw.dtype} with no scale_data (a SHIFT-quantised output): pyeasy_dnn "
                           "does not report the shifts; run it with bpu_infer_lib (BACKEND) or rebuild the .bin "
                           "with a float output")
    # float32 with no scales: the runtime already dequantised, so there is nothing to undo
    show_top(logits)
"""


TEST = (
    md("intro", """
# {{arch}}: classify a photo on an RDK board, or on your PC

{{test_intro}}

**One notebook, two places.** The cells below are the same on an RDK board and on a PC:

| | on an RDK board | on a PC (and in CI) |
|---|---|---|
| model file | the `.bin` (RDK X3/X5) or `.hbm` (RDK S100/S600) in `model/{{arch}}/` (BPU, int8) | the NV12 **board model** `model/{{arch}}/*_nv12*.onnx`: the float network plus the board file's input contract (NV12 in, normalisation inside), built from the same yaml |
| runtime | `hbm_runtime` (RDK X5 with RDK OS >= 3.5, RDK S), else `hobot_dnn.pyeasy_dnn` (in the system image) or `bpu_infer_lib` | `onnxruntime` |
| needs | `requirements-board.txt` and the board's system runtime | `requirements.txt` |

On a PC a missing model file is made for you (export from timm, then the board model) and the
notebook says what it did. On a board a missing `.bin` is explained (download or build it).
The steps: what runs where, load the model, look at the NV12 input, the same with the vendor's runtime
called directly (the lines to copy into your own program), run, check, measure, play.
"""),
    code("imports", """
import os

from helpers.notebooks import inference as nb
"""),
    md("parameters-text", """
## Parameters

Change these, or set the environment variables before starting Jupyter. `KEY` is any registry key of
this architecture (step 1 lists them; `python -m helpers list` shows all).{{key_hint}}
`BACKEND` forces a runtime (`onnxruntime`, `hbm_runtime`, `hobot_dnn`, `bpu_infer_lib`); `MODEL_KIND` picks
the file (`bin`: the board file, `.bin` on RDK X3/X5 or `.hbm` on RDK S100/S600; `board-onnx`; or `float-onnx`
for the plain float ONNX with normalisation on the CPU);
`MODEL_FILE` runs a file of your own. `WEIGHTS = "random"` is what tests and CI use (no download):
then every output is flagged as meaningless.
"""),
    code("parameters", """
KEY = "{{key}}"
BOARD = "{{board}}"  # x3, x5, s100, s100p or s600: which yaml, which board file, which published figures
IMAGE = "{{sample_image}}"  # relative paths: this folder first, then the repository root
BACKEND = os.environ.get("RDK_BACKEND", "auto")
MODEL_KIND = os.environ.get("RDK_MODEL_KIND", "auto")
MODEL_FILE = os.environ.get("RDK_MODEL_FILE")
TOPK = 5
WEIGHTS = os.environ.get("RDK_WEIGHTS", "imagenet")
""", tags=("parameters",)),
    md("where-text", """
## 1. What runs where

The backend is detected from what can be imported: a board runtime means we are on a board.
"""),
    code("where", """
demo = nb.InferenceDemo(KEY, board=BOARD, image=IMAGE, backend=BACKEND, model_kind=MODEL_KIND,
                        weights=WEIGHTS, topk=TOPK, model_file=MODEL_FILE)
demo.where()
demo.about()
"""),
    md("load-text", """
## 2. Load the model and look at its inputs and outputs

A `.bin` reports its NV12 input as `(1, 3, H, W)` in `NCHW`; our board-model ONNX stores the bytes
as `(1, H*3/2, W)` but `helpers.board.runtime` reports it the same way, so the rest of the notebook cannot
tell the two apart. If the file had to be made, the lines starting with `made` say how.
"""),
    code("load", """
clf = demo.load()
"""),
    md("nv12-text", """
## 3. The image, and the NV12 the board sees

The board pipeline stretches the photo to the model's input size and converts it to NV12: a
full-resolution luma (Y) plane followed by one interleaved (U, V) pair per 2x2 pixels. The colour
range must match the yaml's `input_space_and_range`. The right-most picture is the NV12 decoded
back to RGB: that, not the original, is what the network gets.
"""),
    code("nv12-summary", """
# NBVAL_CHECK_OUTPUT
print(demo.nv12_summary())
""", output="""
board input : {{w}}x{{h}} NV12, {{nv12_bytes}} bytes = W*H*3/2, uint8, flat
Y plane     : {{w}}x{{h}} = {{y_bytes}} bytes (luma, one byte per pixel)
UV plane    : {{uv_w}}x{{uv_h}} pairs = {{uv_bytes}} bytes (U,V interleaved, one pair per 2x2 pixels)
range       : full (yaml input_space_and_range: regular), BT.601
"""),
    code("nv12-show", """
demo.show_nv12()
"""),
    md("vendor-text", """
## 4. The same, with the vendor's runtime: the lines to copy

Everything else in this notebook calls our `helpers`. This section calls the board's own runtimes
directly, as your program would: import one, load the model, look at its tensors, make the NV12 input
from the photo with OpenCV and NumPy, run, dequantise, softmax, top-k. D-Robotics ships two Python
runtimes, and both run here, whatever `BOARD` says: **4a** `hbm_runtime` (`HB_HBMRuntime`) and **4b**
`hobot_dnn.pyeasy_dnn`. Copy the one your board has (this notebook's default `BOARD`,
{{vendor_board_runtime}}); the NV12 function and the top-k function below serve both.

Where a runtime is missing (on a PC, `hbm_runtime` on an RDK X3 or an older X5 image), its import falls back
to `helpers.notebooks.standin`, and the cell prints why: the vendor's API over onnxruntime and the NV12
board model (on a PC), or over the board runtime `helpers.board.runtime` finds (on a board). It prints a
`STAND-IN` line when it loads a model, and it offers no name the vendor's module lacks (checked against the
recorded wheels, `tests/notebooks/test_standin.py`). The RDK S boards have no `pyeasy_dnn`: there 4b says so
and skips.
"""),
    md("vendor-nv12-text", """
**The NV12 input, for both runtimes.** The function below makes the bytes our board path makes
(`demo.nv12_of()`, from `helpers.board.nv12.prepare_nv12`), and the cell after it measures the difference
on this photo. Two choices matter:

* **colour range.** It must be the one the file was built with (`input_space_and_range` in its yaml;
  `demo.clf.yuv_range` says which this notebook feeds). `regular` is BT.601 *full* range, OpenCV's
  `COLOR_RGB2YCrCb` (Cb, Cr = U, V): our X3/X5 configs and, per the zoo's configs that name them, its
  published X3/X5/S files of these models (the README's FAQ on ranges lists each file's source).
  `bt601_video` is BT.601 *limited* range (Y 16..235), OpenCV's `COLOR_RGB2YUV_I420`, as the zoo's S
  samples convert: the S configs we generate. The wrong one moves every level: for a full-range model the
  check cell prints by how much.
* **resize.** While the photo is at least twice the model's size on both axes, our board path first
  averages 2x2 blocks (anti-aliasing), then stretches bilinearly; so does this function. A single bilinear
  shrink by more than 2x skips pixels.

The check cell prints how many luma pixels differ and by how much. On the sample photos coffee, chelsea
and rocket (no halving at 224x224 or 256x256) UV is identical and Y is off by one level in under 0.1 % of the
pixels (OpenCV rounds `COLOR_RGB2GRAY`, which our path uses, and `COLOR_RGB2YCrCb` differently). Where a
halved size is odd, our path drops the odd row or column before the last resize, so the two differ by a
fraction of a pixel's shift: on `data/hubble_deep_field.jpg`, all stars, the mean Y difference is about 2.8
levels. Both are measured by
`tests/notebooks/test_standin.py::test_the_nv12_lines_match_our_board_path_on_the_sample_photos`.
"""),
    code("vendor-nv12", NV12_CODE),
    code("vendor-nv12-check", NV12_CHECK),
    md("vendor-top-text", """
**Softmax and top-k**, the same for either runtime's logits: the function below is called at the end of 4a and 4b.
"""),
    code("vendor-top", """
def show_top(logits):
    logits = logits.reshape(-1)
    if demo.output_is_probability:  # the file ends in softmax already (registry: published output_is_probability)
        probs = logits.astype(np.float64)
    else:
        probs = np.exp(logits - logits.max())  # softmax
        probs /= probs.sum()
    labels = demo.clf.labels  # the 1000 ImageNet-1k class names (helpers/board/imagenet1k_labels.txt)
    if demo.random:
        print("RANDOM WEIGHTS: class indices only, they mean nothing")
    for i in np.argsort(probs)[::-1][:TOPK]:
        print(f"  {probs[i]:.3g}  " + (f"class {i}" if demo.random else f"{labels[i]} (class {i})"))
"""),
    md("vendor-hbm-text", """
### 4a. hbm_runtime (RDK X5 with RDK OS >= 3.5, RDK S100/S600)

{{vendor_hbm_where}}
"""),
    code("vendor-import-hbm", HBM_IMPORT),
    code("vendor-load-hbm", HBM_LOAD),
    code("vendor-run-hbm", HBM_RUN),
    md("vendor-dnn-text", """
### 4b. hobot_dnn.pyeasy_dnn (RDK X3, RDK X5 images before RDK OS 3.5)

{{vendor_dnn_where}}
"""),
    code("vendor-import-dnn", DNN_IMPORT),
    code("vendor-load-dnn", DNN_LOAD),
    code("vendor-run-dnn", DNN_RUN),
    md("predict-text", """
## 5. Run

The top-k classes (k = `TOPK`) with their probabilities (softmax of the model's logits). With random
weights the class names are withheld: the indices only show that the pipeline runs.
"""),
    code("predict", """
result = demo.predict()
demo.show_prediction(result)
"""),
    md("compare-text", """
## 6. Check: does the board path agree with the float RGB path?

On a PC the same photo goes through the board model as NV12 and through the float ONNX as RGB.
Three checks, chosen to hold for trained and for random weights alike (details and the measured
values behind the thresholds: `helpers.notebooks.inference.InferenceDemo.compare_paths`):

1. on the *same* pixels the board model must match the float model to float precision: this
   checks the colour range, mean and scale folded into the board model;
2. the NV12 decoded back must be close to the original photo (PSNR): this checks our NV12 encoder;
3. against the original RGB, the top-1 must be equal or the logits strongly correlated. NV12 keeps
   one colour sample per 2x2 pixels, so the logits move a little. With random weights the logits
   are nearly flat and their top-1 is not stable, hence the correlation.

On a board this check is skipped: there the question is the accuracy of the quantised `.bin`,
which is the evaluation's job, not this notebook's.
"""),
    code("compare", """
agreement = demo.compare_paths()
agreement
"""),
    code("checks", """
# NBVAL_CHECK_OUTPUT
assert result.logits.shape == (demo.spec.num_classes,), result.logits.shape
assert abs(result.probs.sum() - 1.0) < 1e-6, result.probs.sum()
assert demo.backend in nb.BACKENDS[1:], demo.backend
assert agreement.ok, agreement
print(f"checks passed: {demo.spec.num_classes} outputs, probabilities sum to 1, backend reported, "
      f"{agreement.verdict}")
""", output="""
checks passed: {{num_classes}} outputs, probabilities sum to 1, backend reported, NV12 path agrees with RGB path
"""),
    md("bench-text", """
## 7. Latency and FPS

The two figures of the RDK Model Zoo tables: **single-worker latency** (one worker calling the
runtime back to back) and **multi-worker latency and throughput** (several workers, each with its
own runtime instance, calling it at once). On a board runtime the workers are **processes**:
`hobot_dnn`'s forward holds Python's GIL for the whole BPU call (`HorizonRDK/hobot-spdev`,
`src/python/dnn_python.cpp`), so threads would take turns and show the single-worker rate. On
onnxruntime, which releases the GIL, they are threads. Measured now by `helpers.board.bench`, only the
runtime call timed; the published row, when the zoo has one for this model and board, is labelled as such.
On a board with the vendor's tool, its own figure runs beside ours:
`hrt_model_exec perf --model_file FILE --thread_num N --frame_count K` (elsewhere the notes show the command).
Below them, the **end-to-end** rate on this photo: decode -> resize -> NV12 -> run -> top-5, serially and
with N workers preparing the next frames while the model runs. Far below the runtime-only FPS means the
CPU, not the model, limits the pipeline. On a PC these are CPU numbers, not BPU ones. The command line
here is `python -m helpers bench MODEL_FILE --workers 1,2,4 --seconds S`.
"""),
    code("bench", """
demo.benchmark()
"""),
    md("interactive-text", """
## 8. Try other models and your own photos

Pick a model variant or a sample photo, or upload an image: the prediction re-runs (a variant
whose file is missing is made first, on a PC). A kernel cannot tell whether a browser is watching,
so headless runs are recognised from the environment: `RDK_HEADLESS=1`, `MPLBACKEND=Agg` (set by
the tests for nbval) or `CI`; there the widgets are built and run once but not displayed.
`RDK_HEADLESS=0` forces the display. Widgets live in the running kernel and are not saved with the
notebook: reopened later, this cell shows "Error displaying widget: model not found" until you run it again.
"""),
    code("interactive", """
demo.interactive();
"""),
    md("next", """
## What next

* Real predictions on a PC: `WEIGHTS = "imagenet"` (needs access to the Hugging Face hub once).
* On the board: download the published board file with `bash model/{{arch}}/download.sh --board BOARD`
  (the zoo publishes `.bin` files for RDK X3/X5), or build your own `.bin`/`.hbm` from the yaml in
  `yaml/{{arch}}/` with the vendor toolchain (`python -m helpers bundle --help` prepares everything it needs),
  copy it to `model/{{arch}}/` and re-run this notebook there.
* Measure another file: `python -m helpers bench model/{{arch}}/<file> --workers 1,2,4`.
* All commands: `python -m helpers --help`.
"""),
)

EXPORT = (
    md("intro", """
# {{arch}}: export to ONNX for the RDK toolchain

{{export_intro}}

This notebook takes a model from timm to the float ONNX file that the D-Robotics mapper (`hb_mapper`) quantises into a board `.bin`:

1. **create** the PyTorch model with the chosen weights;
2. {{reparam_step}};
3. **export** with `torch.onnx.export`, **check** with `onnx.checker`, **simplify** with onnxsim;
4. **check the file**: opset, input and output names and shapes;
5. **parity**: onnxruntime against PyTorch on the same input;
6. **parameter count** of both, next to the published figure;
7. where the file went and what to do with it next.

One notebook serves every {{arch}} variant: change `KEY` below. The same steps are available on the command line: `python -m helpers export KEY --weights imagenet|random|PATH`.
"""),
    code("imports", """
import os

from helpers.pc import export, models
from helpers.notebooks import export_report as report
"""),
    md("parameters-text", """
## Parameters

* `KEY`: which variant of this architecture (`python -m helpers list` shows them all).
* `WEIGHTS`: `"imagenet"` (timm's trained weights; needs the Hugging Face hub once, then its cache),
  the path of a checkpoint (`.safetensors`, or `.pth`/`.pt`/`.pth.tar`), or `"random"`. Tests and CI
  set the environment variable `RDK_WEIGHTS=random` because they have no network: the model is then
  **untrained**, a banner below says so, and nothing it predicts means anything. The export steps and
  every check in this notebook still apply.
* `OPSET`: 11 by default. The RDK X3 toolchain accepts only ONNX opset 10 or 11; the X5 examples all use 11.
* `OVERWRITE`: replace an existing `model/<Arch>/<KEY>.onnx` that another run made with other weights.
"""),
    code("parameters", """
KEY = "{{key}}"
WEIGHTS = os.environ.get("RDK_WEIGHTS", "imagenet")
OPSET = export.DEFAULT_OPSET
OVERWRITE = False
""", tags=("parameters",)),
    code("introduce", """
spec = report.introduce(KEY, WEIGHTS, arch="{{arch}}")
"""),
    md("create-text", """
## 1. Create the PyTorch model

`helpers.pc.models.create_model` builds the timm model in eval mode. With `imagenet` it loads timm's pretrained weights (if the hub cannot be reached it stops and names the two offline choices). A checkpoint is read with `torch.load(weights_only=True)` or safetensors; its head size sets the number of classes. With `random` the weights are seeded, and the BatchNorm statistics are settled by a few training-mode passes over random images, so that outputs stay well scaled and the comparisons below are meaningful (an untrained network with fresh statistics can blow up to ~1e8).
"""),
    code("create", """
model = models.create_model(KEY, WEIGHTS)
print(f"{KEY}: {models.count_torch_params(model):,} parameters in PyTorch{{params_note}}")
"""),
    md("reparam-text", """
## 2. Re-parameterise

{{reparameterize}}
""", when="reparameterizable"),
    code("reparam", """
fused = models.reparameterize(model)
max_abs, rel = models.check_reparameterization(model, fused, models.parity_input(KEY))
print(report.reparam_report(model, fused, max_abs, rel))
""", when="reparameterizable"),
    code("reparam-checks", """
assert models.multi_branch_modules(fused) == []
assert rel <= models.REPARAM_RTOL, rel
""", when="reparameterizable"),
    md("export-text", """
## 3. Export, check, simplify

`export_onnx` runs `torch.onnx.export` with batch 1, NCHW float32, input `data`, output `output` and opset `OPSET`. It uses the TorchScript exporter (`dynamo=False`): torch's newer exporter always builds opset 18 and cannot convert these models down to 11 (the reason is in `helpers/pc/export.py`). Then `onnx.checker` validates the graph, onnxsim simplifies it (folding constants, removing identities) and checks the simplified graph against the original, the registry's facts (key, mean/std, input size, weights origin, opset) go into the ONNX metadata, and onnxruntime must reproduce PyTorch's logits. Only then is the file moved into place, so a failed check never leaves a file behind.

**Where it goes.** `model/<Arch>/<KEY>.onnx`, which the yamls and the other notebooks read. A re-run replaces its own earlier output (same weights choice) or a random-weights placeholder. It never replaces an export made with other weights: a random-weights run (CI) then writes `<KEY>.random.onnx` beside it, and any other run stops and asks for `OVERWRITE = True`.
"""),
    code("export", """
target = export.choose_output(KEY, WEIGHTS, overwrite=OVERWRITE)
print(target.reason)
result = export.export_onnx(KEY, weights=WEIGHTS, model={{export_model}}, out=target.path, overwrite=target.overwrite, opset=OPSET)
"""),
    code("export-summary", """
print(result.summary())
"""),
    md("inspect-text", """
## 4. Check the file

What the mapper yaml and the board code rely on, read back from the written file: the opset (the X3 toolchain also needs `ir_version` <= 7), one input `data` of shape (1, 3, H, W) float32 and one output `output` with the class logits.
"""),
    code("inspect", """
# NBVAL_CHECK_OUTPUT
info = export.inspect_onnx(result.path)
print(info.signature())
assert info.opset == OPSET and info.ir_version <= export.MAX_IR_VERSION_X3
assert info.inputs == [("data", "float32", (1, 3, *spec.input_size))]
assert [name for name, _, _ in info.outputs] == ["output"]
""", output="""
opset 11, ir_version 6
input  data: float32 [1, 3, {{h}}, {{w}}]
output output: float32 [1, {{num_classes}}]
"""),
    md("parity-text", """
## 5. Parity: onnxruntime vs PyTorch

The export already refused to write a file whose onnxruntime output differs from PyTorch's. Here the check is repeated independently on a different input: the largest absolute difference of the logits, and that divided by the largest logit (relative error).
"""),
    code("parity", """
x = models.parity_input(KEY, seed=1)
max_abs, rel = models.relative_error(models.torch_forward({{export_model}}, x), export.onnx_forward(result.path, x))
print(f"max abs {max_abs:.2e}, relative {rel:.2e} (limit {export.PARITY_RTOL:g})")
assert rel <= export.PARITY_RTOL, rel
"""),
    md("params-text", """
## 6. Parameter count

PyTorch counts every parameter of the exported module. The ONNX count sums the initialisers, as the RDK Model Zoo's export script does. The two differ by the folded BatchNorms; with random weights the exporter also merges initialisers that happen to be identical (zero biases), so the count per use is the one comparable to a trained model. Published figures come from the model zoo and are labelled with their source.
"""),
    code("params", """
print(report.param_report(result))
"""),
    md("next-text", """
## 7. Where the file went, and what next

The mapper yaml (`python -m helpers yaml KEY --board x5`, or `x3`) points at this file; `python -m helpers bundle` packs it with the yaml and calibration data for the vendor toolchain; `python -m helpers board-model` builds the NV12 PC stand-in of the `.bin` for `test_{{arch}}.ipynb`.
"""),
    code("next", """
print(report.next_steps(result))
"""),
)

#: notebook file stem prefix -> template; ``notebooks/<Arch>/<prefix>_<Arch>.ipynb``
TEMPLATES: Dict[str, Tuple[Cell, ...]] = {"test": TEST, "export": EXPORT}
