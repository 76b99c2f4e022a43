"""The vendor's own benchmark, ``hrt_model_exec perf``, run where it exists and its figures read back.

Board-safe (standard library). ``hrt_model_exec`` is D-Robotics' C++ tool on the RDK images; ``perf``
loads a ``.bin``/``.hbm``, runs ``--thread_num`` C++ threads for ``--frame_count`` frames and prints a
summary. Its published multi-thread figures come from this tool, so a board notebook shows its row
beside ours (our Python workers pay for Python; the tool does not).

The summary's format, as the vendor documents it (we parse the words, not the spacing):

* RDK X3 toolchain guide (``HorizonRDK/rdk_x3_doc``, ``docs/toolchain_development/intermediate/ptq_process.md``;
  English: ``D-Robotics/rdk_doc_en``, same path): a ``Running condition:`` block (``Thread number is:``,
  ``Frame count is:``, ``Program run time: ... ms``) then ``Perf result:`` with ``Frame totally latency
  is: ... ms``, ``Average latency is: ... ms`` and ``Frame rate is: ... FPS``, the words padded with
  runs of spaces so that the colons line up;
* RDK Model Zoo S100 pages (``D-Robotics/rdk_model_zoo``, ``samples/vision/mobilenetv4/README.md``): the
  same lines as a Markdown list (``- Average latency is: 0.388 ms``);
* newer tools also print progress lines ``Frame count: 200,  Thread Average: ... ms, ... FPS: ...``
  before the summary; when a run is cut short the summary is missing and the last progress line is
  used (:attr:`HrtPerf.partial`).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from helpers.errors import HelpersError, first_line

TOOL = "hrt_model_exec"
DEFAULT_FRAMES = 1000
TIMEOUT = 300.0

_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_THREADS = re.compile(r"Thread\s+number\s+is\s*:\s*([0-9]+)", re.I)
_FRAMES = re.compile(r"Frame\s+count\s+is\s*:\s*([0-9]+)", re.I)
_LATENCY = re.compile(r"Average\s+latency\s+is\s*:\s*" + _NUM + r"\s*ms", re.I)
_FPS = re.compile(r"Frame\s+rate\s+is\s*:\s*" + _NUM + r"\s*FPS", re.I)
_PROGRESS = re.compile(r"Frame\s+count\s*:\s*([0-9]+)\s*,\s*Thread\s+Average\s*:\s*" + _NUM +
                       r"\s*ms.*?FPS\s*:\s*" + _NUM, re.I)


def hrt_model_exec_command(model_file, threads: int = 4, frames: int = DEFAULT_FRAMES) -> str:
    """The vendor's board-side benchmark for a ``.bin``/``.hbm``, as one would type it (file name only)."""
    return f"{TOOL} perf --model_file {Path(model_file).name} --thread_num {threads} --frame_count {frames}"


def command_args(model_file, threads: int, frames: int = DEFAULT_FRAMES) -> List[str]:
    return [TOOL, "perf", "--model_file", str(model_file), "--thread_num", str(int(threads)),
            "--frame_count", str(int(frames))]


@dataclass(frozen=True)
class HrtPerf:
    """What ``hrt_model_exec perf`` reported."""

    threads: int
    frames: int
    latency_ms: float
    fps: float
    command: str = ""
    partial: bool = False   # read from a progress line: the run did not print its summary

    def line(self) -> str:
        return (f"hrt_model_exec perf: {self.threads} thread{'s' if self.threads != 1 else ''}, {self.frames} frames: "
                f"average latency {self.latency_ms:.3f} ms, {self.fps:.1f} FPS" + (" (partial run)" if self.partial else ""))


def parse_perf(text: str, command: str = "") -> HrtPerf:
    """Read the figures of ``hrt_model_exec perf``'s console output (see the module docstring)."""
    lat, fps = _LATENCY.findall(text), _FPS.findall(text)
    threads = _THREADS.findall(text)
    frames = _FRAMES.findall(text)
    if lat and fps:
        return HrtPerf(int(threads[-1]) if threads else 1, int(frames[-1]) if frames else 0,
                       float(lat[-1]), float(fps[-1]), command)
    progress = _PROGRESS.findall(text)
    if progress:
        count, avg, rate = progress[-1]
        return HrtPerf(int(threads[-1]) if threads else 1, int(count), float(avg), float(rate), command, partial=True)
    tail = first_line(Exception(text.strip().splitlines()[-1] if text.strip() else "no output"))
    raise HelpersError(f"could not read hrt_model_exec perf's figures (no 'Average latency is:' / 'Frame rate is:' "
                       f"lines); its last line was: {tail}")


def available() -> bool:
    return shutil.which(TOOL) is not None


def run_perf(model_file, threads: int, frames: int = DEFAULT_FRAMES, timeout: float = TIMEOUT) -> HrtPerf:
    """Run ``hrt_model_exec perf`` on ``model_file`` and parse it (a board with the tool on its PATH)."""
    args = command_args(model_file, threads, frames)
    shown = hrt_model_exec_command(model_file, threads, frames)
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise HelpersError(f"{TOOL} is not installed here (it comes with the RDK system image)") from None
    except subprocess.TimeoutExpired:
        raise HelpersError(f"`{shown}` did not finish within {timeout:g} s; give fewer --frame_count") from None
    text = (r.stdout or "") + "\n" + (r.stderr or "")
    if r.returncode != 0 and not _FPS.search(text):
        last = [ln for ln in text.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        raise HelpersError(f"`{shown}` failed (exit code {r.returncode}): {last[0][:200]}")
    return parse_perf(text, shown)


def maybe_run(model_file, threads: int, frames: int = DEFAULT_FRAMES) -> Optional[HrtPerf]:
    """:func:`run_perf` when the tool exists and the file is a board model, else None."""
    if not available() or Path(model_file).suffix.lower() not in (".bin", ".hbm"):
        return None
    return run_perf(model_file, threads, frames)
