"""Live frames into the model: an RDK MIPI camera, a USB camera, or a video file. Board-safe.

Three sources, one interface (:class:`Source`: ``read()`` -> :class:`Frame`, ``close()``):

* :class:`MipiCamera` - an RDK's MIPI camera through D-Robotics' camera API, ``libsrcampy.Camera``
  (``hobot_vio.libsrcampy`` on the RDK X3 image; ``hobot_vio_rdkx5.libsrcampy`` from the
  ``hobot-vio-rdkx5`` wheel on the X5). ``open_cam(pipe_id, video_index, fps, [W], [H])`` asks the
  camera pipeline's hardware scaler for NV12 at the model's input size, and ``get_img(2, W, H)`` returns
  that frame (bytes: Y plane, then interleaved UV): it goes to the model as it is, with no CPU resize
  and no colour conversion when its NV12 range is the model's (``camera_range``, below). Sources: the X3
  documentation (``HorizonRDK/rdk_x3_doc``, ``docs/python_development/pydev_multimedia_api_x3/object_camera.md``:
  return 0 / -1, ``get_img`` returns None on failure and its reference code checks ``if img is not None``,
  sizes 1/8 to 1.5 times the sensor's, lists give several outputs) and the X5 wheel's binary
  (``hobot_vio_rdkx5/libsrcampy.so`` 3.0.6: its keyword lists ``pipe_id, video_index, fps, width, height,
  raw_height, raw_width`` for ``open_cam`` and ``module, width, height`` for ``get_img``; recorded in
  ``tests/fake_board/vendor_surface.json``).
* :class:`CvCamera` - a USB (UVC) camera through OpenCV (V4L2 on Linux): BGR frames, resized and
  converted by our board pre-processing (:meth:`helpers.board.classifier.Classifier.prepare`, i.e.
  :func:`helpers.board.nv12.prepare_nv12`), as the board does for a photo.
* :class:`VideoFile` - a video file through OpenCV (the PC stand-in, and what CI runs), looped.

The X5 scaler (VSE) picks an output channel by size (the wheel's ``libhbspdev.so`` exports
``spdev::VPPCamera::SelectVseChn``; D-Robotics' source of it, ``vpp_camera.cpp`` of hobot-spdev for
the X5): channel 0 scales down to at most 4096x3076, channels 1 and 2 to at most 1920x1080, 3 and 4 to
at most 1280x720, channel 5 scales up (to at most 4096x3076). :func:`x5_scaler_channel` applies the
same rule so that a size the scaler cannot produce fails here with one line, not deep in the driver.
The scaler stretches the whole sensor frame to the requested size, like our :func:`board_resize`.

**The camera's NV12 range.** We found no D-Robotics statement of the range (full, or video/limited) that the
X3/X5 camera pipeline's NV12 is in: the X3 ISP guide (``HorizonRDK/rdk_x3_doc``,
``docs/multimedia_development/isp_system.md``, "Color Space Conversion") says only that the ISP's RGB->YUV
matrix and offsets come from the sensor's calibration (``RGB2YUV_CONVERSION``), with BT.709 as its example;
hobot-spdev's camera sources (``HorizonRDK/hobot-spdev``, ``src/cameras``, ``src/vpp_swap``) set no range;
the toolchain FAQ (``docs/common_questions/toolchain.md``, ``BGR2YUVBT601VIDEOTransformer``) says some
cameras deliver BT.601 video range. So ``MipiCamera(camera_range=None)`` assumes the model's range and says
so in one warning line; give ``camera_range="full"`` or ``"limited"`` when you know it (a grey card: video
range puts black near Y=16 and white near Y=235), and :func:`frame_feed` re-levels each frame into the
model's range (:func:`helpers.board.nv12.resize_nv12`, a lookup table per plane) when the two differ.

:func:`classify_live` runs ``source -> prepare -> run -> top-k`` and times each step per frame
(:class:`LiveResult`: FPS and where the time goes).
"""
from __future__ import annotations

import glob
import importlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from helpers.board import nv12 as nv12mod
from helpers.board.labels import Prediction, topk
from helpers.errors import HelpersError, first_line

#: the vendor camera modules, in the order they are tried (X5 wheel, X3 system image)
MIPI_MODULES = ("hobot_vio_rdkx5.libsrcampy", "hobot_vio.libsrcampy")
#: get_img's ``module`` argument for the scaler's output (the vendor's default, 2)
SCALER_MODULE = 2
#: X5 VSE output channels: (channel, direction, max width, max height), from SelectVseChn
X5_SCALER = ((0, "down", 4096, 3076), (1, "down", 1920, 1080), (2, "down", 1920, 1080),
             (3, "down", 1280, 720), (4, "down", 1280, 720), (5, "up", 4096, 3076))
#: the sensors' default output (X3 documentation: 1920x1080 for IMX219, IMX477, OV5647, F37)
DEFAULT_SENSOR = (1920, 1080)
#: the one line said when the MIPI camera's NV12 range is not given (no vendor statement of it found)
ASSUMED_RANGE = ("MIPI camera: its NV12 range is ASSUMED to be the model's (D-Robotics states none); if you know "
                 "it, pass camera_range='full' or 'limited' and frames are re-levelled into the model's range")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


def _size_text(wh) -> str:
    return f"{wh[0]}x{wh[1]}"


def x5_scaler_channel(sensor: Tuple[int, int], out: Tuple[int, int], taken: Sequence[int] = ()) -> int:
    """The X5 scaler channel that would produce ``out`` (W, H) from ``sensor`` (W, H), or a one-line error."""
    (sw, sh), (w, h) = sensor, out
    free = [c for c in X5_SCALER if c[0] not in taken]
    for ch, way, mw, mh in free:
        if way == "down" and ch == 0 and w <= sw and h <= sh and w <= mw and h <= mh:
            return ch
        if way == "down" and ch > 0 and (w <= sw or h <= sh) and w <= mw and h <= mh:
            return ch
        if way == "up" and w >= sw and h >= sh and w <= mw and h <= mh:
            return ch
    raise HelpersError(
        f"the RDK X5 scaler cannot make {w}x{h} from the {_size_text(sensor)} sensor frame: its channels scale "
        "down to at most 4096x3076 (ch 0), 1920x1080 (ch 1, 2), 1280x720 (ch 3, 4) and up on ch 5 (both sides "
        "larger, at most 4096x3076); ask for a size within those, or resize on the CPU (USB camera path)")


def x3_scaler_check(sensor: Tuple[int, int], out: Tuple[int, int]) -> None:
    """RDK X3: outputs are 1/8 to 1.5 times the sensor's size (vendor documentation, object_camera.md)."""
    (sw, sh), (w, h) = sensor, out
    if not (sw / 8 <= w <= sw * 1.5 and sh / 8 <= h <= sh * 1.5):
        raise HelpersError(f"the RDK X3 camera scaler makes 1/8 to 1.5 times the sensor's size "
                           f"({sw // 8}x{sh // 8} to {int(sw * 1.5)}x{int(sh * 1.5)} for {sw}x{sh}); "
                           f"{w}x{h} is outside it")


def check_scaler(module: str, sensor: Tuple[int, int], out: Tuple[int, int]) -> None:
    w, h = out
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise HelpersError(f"camera output {w}x{h}: NV12 needs positive, even width and height")
    if "rdkx5" in module:
        x5_scaler_channel(sensor, out)
    else:
        x3_scaler_check(sensor, out)


@dataclass
class Frame:
    """One frame: ``nv12`` (flat, Y then UV) at ``width`` x ``height``, or ``bgr`` (H, W, 3) uint8;
    ``yuv_range``: the range of an NV12 frame when its source knows it (None: assumed to be the model's)."""

    data: np.ndarray
    kind: str          # "nv12" or "bgr"
    width: int
    height: int
    yuv_range: Optional[str] = None

    def rgb(self, yuv_range: Optional[str] = None) -> np.ndarray:
        if self.kind == "nv12":
            r = yuv_range or self.yuv_range or nv12mod.DEFAULT_RANGE
            return nv12mod.nv12_to_rgb(self.data, self.height, self.width, r)
        return _cv2().cvtColor(self.data, _cv2().COLOR_BGR2RGB)  # a contiguous copy: a [..., ::-1] view is ~10x slower to resize


class Source:
    """A frame source; use as a context manager or call :meth:`close`."""

    name = "?"
    #: the lines that open and read this source, shown in the notebook (the calls themselves)
    calls: str = ""

    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def mipi_module() -> Optional[str]:
    """The first importable vendor camera module of :data:`MIPI_MODULES`, or None."""
    for name in MIPI_MODULES:
        try:
            importlib.import_module(name)
            return name
        except ImportError:
            continue
    return None


def mipi_calls(module: str, width: int, height: int, pipe_id: int = 0, video_index: int = -1, fps: int = 30) -> str:
    """The vendor calls :class:`MipiCamera` makes, as a user would write them."""
    pkg, mod = module.rsplit(".", 1)
    return "\n".join([
        f"from {pkg} import {mod}",
        f"cam = {mod}.Camera()",
        f"cam.open_cam({pipe_id}, {video_index}, {fps}, [{width}], [{height}])   # 0: opened; the scaler makes {width}x{height}",
        f"img = cam.get_img({SCALER_MODULE}, {width}, {height})   # NV12 bytes, or None when no frame is ready",
        "if img is None: raise RuntimeError('no camera frame (see dmesg | tail)')",
        "nv12 = np.frombuffer(img, np.uint8)   # Y plane, then UV",
        "cam.close_cam()",
    ])


class MipiCamera(Source):
    """An RDK MIPI camera whose hardware scaler delivers NV12 at ``size`` = (H, W) (the model's input).

    ``camera_range``: the NV12 range the camera pipeline delivers, ``"full"`` or ``"limited"``; None (no vendor
    statement found, see the module docstring) assumes the model's range and warns once, in one line."""

    def __init__(self, size: Tuple[int, int], module: Optional[str] = None, pipe_id: int = 0, video_index: int = -1,
                 fps: int = 30, sensor: Tuple[int, int] = DEFAULT_SENSOR, camera_range: Optional[str] = None):
        self.height, self.width = int(size[0]), int(size[1])
        self.yuv_range = nv12mod.check_range(camera_range) if camera_range is not None else None
        self.module = module or mipi_module()
        if self.module is None:
            raise HelpersError(f"no MIPI camera API here (tried {', '.join(MIPI_MODULES)}: not installed); "
                               "on an RDK X5: pip install hobot-vio-rdkx5; elsewhere use a USB camera or a video file")
        check_scaler(self.module, sensor, (self.width, self.height))
        lib = importlib.import_module(self.module)
        self.name = f"MIPI camera ({self.module}, {self.width}x{self.height} NV12 from the scaler)"
        self.calls = mipi_calls(self.module, self.width, self.height, pipe_id, video_index, fps)
        self.cam = lib.Camera()
        try:
            ret = self.cam.open_cam(pipe_id, video_index, fps, [self.width], [self.height])
        except (RuntimeError, TypeError, ValueError, OSError) as e:
            raise HelpersError(f"the MIPI camera did not open ({first_line(e)[:120]})") from None
        if ret not in (0, None):
            raise HelpersError(f"the MIPI camera did not open (open_cam returned {ret}): is a camera connected to "
                               f"the board's MIPI port (video_index {video_index})? see `dmesg | tail`")
        self._open = True
        if self.yuv_range is None:
            warnings.warn(ASSUMED_RANGE, stacklevel=2)

    def read(self) -> Frame:
        img = self.cam.get_img(SCALER_MODULE, self.width, self.height)
        need = self.width * self.height * 3 // 2
        if img is None or isinstance(img, int):
            raise HelpersError(f"the MIPI camera gave no frame (get_img returned {img!r})")
        data = np.frombuffer(img, np.uint8)
        if data.size != need:
            raise HelpersError(f"the MIPI camera gave {data.size} bytes; NV12 {self.width}x{self.height} is {need}")
        return Frame(data, "nv12", self.width, self.height, self.yuv_range)

    def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            self.cam.close_cam()


def _cv2():
    import cv2

    return cv2


class CvCamera(Source):
    """A USB (UVC) camera through OpenCV: ``device`` an index or a ``/dev/videoN`` path."""

    def __init__(self, device=0):
        cv2 = _cv2()
        self.device = device
        api = cv2.CAP_V4L2 if os.name == "posix" and hasattr(cv2, "CAP_V4L2") and Path("/dev").is_dir() else cv2.CAP_ANY
        self.cap = cv2.VideoCapture(device, api)
        ok = self.cap.isOpened()
        frame = self.cap.read()[1] if ok else None
        if frame is None:
            self.cap.release()
            raise HelpersError(f"camera {device} did not open or gave no frame")
        self._first = frame
        h, w = frame.shape[:2]
        self.name = f"USB camera {device} ({w}x{h} BGR; resized on the CPU)"
        self.calls = "\n".join([f"cap = cv2.VideoCapture({device!r}, cv2.CAP_V4L2)",
                                "ok, bgr = cap.read()          # H x W x 3, BGR", "cap.release()"])

    def read(self) -> Frame:
        frame, self._first = self._first, None
        if frame is None:
            ok, frame = self.cap.read()
            if not ok or frame is None:
                raise HelpersError(f"camera {self.device} stopped giving frames")
        return Frame(frame, "bgr", frame.shape[1], frame.shape[0])

    def close(self) -> None:
        self.cap.release()


class VideoFile(Source):
    """Frames of a video file (BGR, looped at its end), e.g. the clip CI generates."""

    def __init__(self, path, loop: bool = True):
        cv2 = _cv2()
        self.path = Path(path)
        if not self.path.is_file():
            raise HelpersError(f"video file not found: {self.path}")
        self.cap = cv2.VideoCapture(str(self.path))
        ok, frame = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or frame is None:
            self.cap.release()
            raise HelpersError(f"{self.path.name} does not decode as a video (OpenCV read no frame); "
                               "give an .mp4/.avi that plays, or a camera")
        self.loop, self._first = loop, frame
        self.name = f"video file {self.path.name} ({frame.shape[1]}x{frame.shape[0]} BGR; resized on the CPU)"
        self.calls = "\n".join([f"cap = cv2.VideoCapture({self.path.name!r})", "ok, bgr = cap.read()", "cap.release()"])

    def read(self) -> Frame:
        frame, self._first = self._first, None
        if frame is None:
            ok, frame = self.cap.read()
            if (not ok or frame is None) and self.loop:
                self.cap.set(_cv2().CAP_PROP_POS_FRAMES, 0)
                ok, frame = self.cap.read()
            if not ok or frame is None:
                raise HelpersError(f"{self.path.name} has no more frames")
        return Frame(frame, "bgr", frame.shape[1], frame.shape[0])

    def close(self) -> None:
        self.cap.release()


def video_devices() -> List[str]:
    return sorted(glob.glob("/dev/video[0-9]*"), key=lambda p: int(p[len("/dev/video"):] or 0))


def open_source(spec="auto", size: Tuple[int, int] = (224, 224), **mipi) -> Source:
    """``"auto"`` (MIPI camera, then each /dev/video*), ``"mipi"``, ``"usb"``/an index/``/dev/videoN``, or a video file.

    ``size`` = (H, W) is what the MIPI scaler is asked for (the model's input size).
    """
    if isinstance(spec, (str, os.PathLike)) and str(spec) not in ("auto", "mipi", "usb") \
            and not str(spec).startswith("/dev/video"):
        p = Path(spec)
        if p.suffix.lower() in VIDEO_SUFFIXES or p.exists():
            return VideoFile(p)
        raise HelpersError(f"camera source {str(spec)!r}: not a video file that exists, nor auto, mipi, usb, "
                           "a camera index or /dev/videoN")
    if spec == "mipi":
        return MipiCamera(size, **mipi)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.startswith("/dev/video")):
        return CvCamera(spec)
    tried: List[str] = []
    if spec == "auto":
        module = mipi_module()
        if module is None:
            tried.append(f"MIPI ({' / '.join(MIPI_MODULES)}: not installed)")
        else:
            try:
                return MipiCamera(size, module=module, **mipi)
            except HelpersError as e:
                tried.append(f"MIPI via {module} ({first_line(e)[:80]})")
    devices = video_devices()
    for dev in devices:
        try:
            return CvCamera(dev)
        except HelpersError:
            tried.append(f"{dev} (no frame)")
    if not devices:
        tried.append("/dev/video* (none)")
    raise HelpersError("no camera found: tried " + "; ".join(tried) + "; give a video file instead "
                       "(e.g. CAMERA = 'clip.mp4')")


@dataclass
class LiveResult:
    """Per-frame times (seconds) of capture, prepare, run and post-process, and the last frame's answer."""

    source: str
    frames: int
    wall_s: float
    steps: dict = field(default_factory=dict)   # step -> list of seconds per frame
    top: List[Prediction] = field(default_factory=list)
    last: Optional[Frame] = None
    scaler: bool = False  # frames came at the model's size from the hardware scaler (no CPU resize)

    STEPS = ("capture", "prepare", "run", "post-process")

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("nan")

    def ms(self, step: str) -> float:
        v = self.steps.get(step) or [float("nan")]
        return float(np.median(v)) * 1e3

    def table(self) -> str:
        total = sum(self.ms(s) for s in self.STEPS)
        lines = [f"{self.source}: {self.frames} frames, {self.fps:.1f} FPS",
                 f"{'step':>13}  {'median ms/frame':>15}  {'share':>6}"]
        lines += [f"{s:>13}  {self.ms(s):>15.3f}  {self.ms(s) / total:>6.0%}" for s in self.STEPS]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def frame_feed(clf, frame: Frame, frame_range: Optional[str] = None) -> np.ndarray:
    """What ``clf`` (a Classifier) is given for ``frame``: the scaler's NV12 as it is when it has the model's
    size and range, NV12 of another size or range resized and re-levelled plane by plane, BGR through the
    board pre-processing. ``frame_range`` overrides the frame's own range (default: the model's)."""
    h, w = clf.size
    if frame.kind == "nv12":
        src = frame_range or frame.yuv_range or clf.yuv_range
        if clf.kind == "nv12" and (frame.height, frame.width) == (h, w) and src == clf.yuv_range:
            return frame.data
        return clf.nv12_feed(frame.data, frame.height, frame.width, src)
    return clf.prepare(frame.rgb()).feed


def classify_live(clf, source: Source, frames: int = 100, seconds: Optional[float] = None, k: int = 1,
                  frame_range: Optional[str] = None) -> LiveResult:
    """Classify ``frames`` frames of ``source`` (or until ``seconds`` pass), timing every step."""
    if frames < 1:
        raise HelpersError(f"frames must be at least 1, got {frames}")
    steps = {s: [] for s in LiveResult.STEPS}
    clock = time.perf_counter
    top: List[Prediction] = []
    frame = None
    n = 0
    t_start = clock()
    scaler = False
    while n < frames and (seconds is None or clock() - t_start < seconds or n == 0):
        t0 = clock()
        frame = source.read()
        t1 = clock()
        feed = frame_feed(clf, frame, frame_range)
        scaler = feed is frame.data
        t2 = clock()
        logits = clf.run(feed)
        t3 = clock()
        top = topk(logits, k, clf.labels, probabilities=getattr(clf, "output_is_probability", False))
        t4 = clock()
        for s, a, b in zip(LiveResult.STEPS, (t0, t1, t2, t3), (t1, t2, t3, t4)):
            steps[s].append(b - a)
        n += 1
    return LiveResult(source.name, n, clock() - t_start, steps, top, frame, scaler)


def annotate(rgb: np.ndarray, text: str, fps: Optional[float] = None) -> np.ndarray:
    """``rgb`` with ``text`` (and the FPS) written in its top-left corner, on a dark band. A label too long
    for the frame goes on two lines (the FPS on the second) and, if still too long, in smaller letters."""
    cv2 = _cv2()
    out = np.ascontiguousarray(rgb).copy()
    font, width = cv2.FONT_HERSHEY_SIMPLEX, out.shape[1]
    fps_text = f"{fps:.1f} FPS" if fps is not None else ""
    lines = [f"{text}  {fps_text}" if fps_text else text]
    scale = max(0.4, width / 640)

    def widest(s: float) -> int:
        return max(cv2.getTextSize(line, font, s, 1)[0][0] for line in lines)

    if widest(scale) + 8 > width and fps_text:
        lines = [text, fps_text]
    if widest(scale) + 8 > width:  # text width grows linearly with the scale
        scale = max(0.2, scale * (width - 8) / widest(scale))
    (_, th), base = cv2.getTextSize("Ag", font, scale, 1)
    step = th + base + 4
    cv2.rectangle(out, (0, 0), (min(width, widest(scale) + 8), step * len(lines) + 4), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        cv2.putText(out, line, (4, th + 4 + i * step), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_test_video(path, size: Tuple[int, int] = (640, 480), frames: int = 30, fps: float = 15.0) -> Path:
    """Write a short synthetic clip (a coloured gradient sliding across, a moving box) with OpenCV's MJPG
    AVI writer, which every OpenCV build has; for CI and PCs without a camera. ``size`` = (W, H)."""
    cv2 = _cv2()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise HelpersError(f"OpenCV cannot write {path.name} (no MJPG writer in this build)")
    xs = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    try:
        for i in range(frames):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0] = ((xs + 8 * i) % 256).astype(np.uint8)
            img[..., 1] = np.broadcast_to(ys, (h, w)).astype(np.uint8)
            img[..., 2] = 255 - img[..., 0]
            x0 = (i * 13) % max(1, w - w // 4)
            img[h // 3: h // 3 + h // 4, x0: x0 + w // 4] = (30, 200, 240)
            writer.write(img)
    finally:
        writer.release()
    return path
