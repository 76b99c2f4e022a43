"""The contract every hostile input is held to, and the means to check it.

A refused input must: exit non-zero; print exactly one line on stderr, ``error: ...`` (or the
signal's line), and no traceback anywhere; leave the work folder exactly as it was (no new file,
no hidden temporary, every existing file byte-for-byte unchanged); and finish within a time bound
(a hang is cut by an interval timer and fails the test).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
#: per-case bound (seconds) of an in-process command; the heavy ones (torch) pass their own
DEFAULT_LIMIT = 20.0


#: a tqdm progress-bar segment (``desc:  40%|####  | 2/5 [...]``): output, not a message line
PROGRESS = re.compile(r"\d+%\|")


def message_lines(err: str) -> List[str]:
    """The lines of ``err`` that are messages: tqdm's progress-bar segments (split at ``\r``) dropped."""
    return [s for s in re.split(r"[\r\n]", err) if s.strip() and not PROGRESS.search(s)]


class Hung(Exception):
    """The command did not finish within its time bound."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hung` in the main thread after ``seconds`` (SIGALRM also interrupts blocking calls)."""
    def fire(signum, frame):
        raise Hung(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def snapshot(root: Path) -> Dict[str, Tuple]:
    """Every entry under ``root`` (hidden ones too, links not followed): kind, size, content hash."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode))
    return out


def changes(before: Dict[str, Tuple], after: Dict[str, Tuple]) -> List[str]:
    """What differs: ``+new``, ``-removed``, ``~changed`` entries."""
    return ([f"+{k}" for k in sorted(set(after) - set(before))] + [f"-{k}" for k in sorted(set(before) - set(after))]
            + [f"~{k}" for k in sorted(set(before) & set(after)) if before[k] != after[k]])


@dataclass
class Run:
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def err_lines(self) -> List[str]:
        return message_lines(self.err)


def run_main(argv: Sequence[str], limit: float = DEFAULT_LIMIT) -> Run:
    """``python -m helpers ARGV`` in this process (helpers.cli.main), stdout/stderr captured, time-bounded.

    Warnings are recorded under Python's default filters (what a real run prints on stderr, which
    pytest would otherwise swallow) and appended to ``err`` as lines: a warning is a second line.
    """
    import warnings

    from helpers.cli import main

    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", quiet)
        with time_limit(limit), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as e:  # argparse --help and friends
                rc = int(e.code or 0)
    shown = "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return Run(rc, out.getvalue(), err.getvalue() + shown, time.perf_counter() - t0)


def assert_refused(r: Run, before: Dict[str, Tuple], root: Path, needle: Optional[str] = None,
                   limit: float = DEFAULT_LIMIT) -> None:
    """The contract for a refused input (see the module docstring)."""
    assert r.rc != 0, f"exit 0 for a hostile input; stdout: {r.out[-300:]!r}"
    assert "Traceback" not in r.out + r.err, r.err[-2000:]
    assert len(r.err_lines) == 1, f"stderr is not one line: {r.err[-1500:]!r}"
    line = r.err_lines[0]
    assert line.startswith(("error: ", "terminated by ", "interrupted")) and len(line) < 800, line[:300]
    assert "run with --debug" not in line, f"an unexpected error, not an actionable one: {line[:300]}"
    if needle is not None:
        assert needle.lower() in line.lower(), line
    assert changes(before, snapshot(root)) == [], f"the work folder changed; message was: {line}"
    assert r.seconds < limit, f"took {r.seconds:.1f} s (bound {limit:g} s)"


def assert_checker_refused(r: Run, before, root: Path, needle: str, limit: float = DEFAULT_LIMIT) -> None:
    """check-yaml reports on stdout (one ``error:`` line per finding, then a summary) and exits 1."""
    assert r.rc == 1 and r.err == "", (r.rc, r.err[-500:])
    assert "Traceback" not in r.out
    lines = r.out.splitlines()
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert errors and any(needle.lower() in ln.lower() for ln in errors), r.out[-1000:]
    assert all(len(ln) <= 700 for ln in lines), max(len(ln) for ln in lines)
    assert lines[-1].endswith(("error(s), 0 warning(s))", "warning(s))")) and "FAILED" in lines[-1]
    assert changes(before, snapshot(root)) == []
    assert r.seconds < limit, f"took {r.seconds:.1f} s (bound {limit:g} s)"


# ------------------------------------------------------------------------------------------------
# subprocesses, for signals and races
# ------------------------------------------------------------------------------------------------
#: run the CLI with every calibration sample slowed down (a long run to signal or race, deterministically)
SLOW_CALIB = """
import sys, time
import helpers.pc.calib as calib
_sample = calib.sample
def slow(*a, **k):
    time.sleep({delay})
    return _sample(*a, **k)
calib.sample = slow
from helpers.cli import main
sys.exit(main(sys.argv[1:]))
"""


def spawn(argv: Sequence[str], delay: float = 0.0) -> subprocess.Popen:
    """``python -m helpers ARGV`` (calibration slowed by ``delay`` s per sample) as a child process."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    code = SLOW_CALIB.format(delay=delay)
    return subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO))


def wait_for(pred, timeout: float, what: str) -> None:
    t0 = time.perf_counter()
    while not pred():
        if time.perf_counter() - t0 > timeout:
            raise Hung(f"{what}: not seen within {timeout:g} s")
        time.sleep(0.02)


def tmp_entries(root: Path) -> List[Path]:
    """Our temporary names anywhere under ``root``."""
    return [p for p in root.rglob(".rdktmp.*")]


def finish(proc: subprocess.Popen, timeout: float) -> Run:
    t0 = time.perf_counter()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Hung(f"the child did not exit within {timeout:g} s") from None
    return Run(proc.returncode, out, err, time.perf_counter() - t0)
