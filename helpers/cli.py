"""``python -m helpers``: the command line. Every error is one line and a non-zero exit.

Each feature module that has commands defines ``register(subparsers)``; it must keep heavy
imports (torch, timm, onnxsim) inside its functions so that ``--help`` stays fast and board-safe.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import List, Optional

from helpers.board import registry
from helpers.board.text import Banner, table
from helpers.errors import HelpersError, RandomWeightsWarning, first_line, one_line, unwrap_worker_error

#: modules that add subcommands (see their ``register``); listed here so ``--help`` shows them all
COMMAND_MODULES = [
    "helpers.pc.export",
    "helpers.pc.mapper_cli",
    "helpers.pc.calib",
    "helpers.pc.board_model",
    "helpers.pc.bundle",
    "helpers.board.download",
    "helpers.board.bench",
    "helpers.board.doctor",
    "helpers.training.datasets",
    "helpers.training.train",
    "helpers.training.evaluate",
    "helpers.pc.quantize",
    "helpers.pc.sensitivity",
    "helpers.training.demo",
    "helpers.docs.readme",
    "helpers.docs.notebooks",
]


def cmd_list(args) -> int:
    rows = []
    for m in registry.MODELS.values():
        pub = ", ".join(f"{registry.BOARDS[p.board].name}: {p.bin_name}" for p in m.published) or "-"
        rows.append([m.key, m.arch, m.timm_id, "x".join(map(str, m.input_size)), "/".join(m.boards), pub])
    print(table(["key", "arch", "timm weights", "input", "boards", "published .bin / .hbm"], rows))
    return 0


def cmd_info(args) -> int:
    m = registry.get(args.key)
    h, w = m.input_size
    print(f"{m.key}  ({m.arch})")
    print(f"  paper        : {m.paper}  {m.paper_url}")
    print(f"  code         : {m.code_url}")
    print(f"  timm weights : {m.timm_id}  (hub: {m.hf_hub_id})")
    print(f"  input        : {w}x{h} RGB, mean {m.mean}, std {m.std}")
    print(f"  re-param     : {'yes (fused before export)' if m.reparameterizable else 'no'}")
    print(f"  boards       : {', '.join(registry.BOARDS[b].name + ' (' + registry.BOARDS[b].march + ')' for b in m.boards)}")
    print(f"  our builds   : {m.bin_stem}.bin (X3/X5, hb_mapper), {m.bin_stem}.hbm (S100/S100P/S600, hb_compile)")
    na = lambda v: "-" if v is None else v  # noqa: E731 - a figure the zoo does not publish
    for p in m.published:
        print(f"  published on {registry.BOARDS[p.board].name}: {p.bin_url}  ({p.input_size[1]}x{p.input_size[0]}"
              f"{', sha256 ' + p.sha256 if p.sha256 else ''})")
        print(f"    params {na(p.params_m)} M, top-1 float {na(p.float_top1)} / quantised {na(p.quant_top1)}, "
              f"latency {na(p.latency_1t_ms)} ms (1 thread) / {na(p.latency_mt_ms)} ms "
              f"({p.threads_mt or 'multi'} threads), {na(p.fps)} FPS")
        print(f"    source: {p.source}" + (f"; URL: {p.url_source}" if p.url_source and p.url_source != p.source else ""))
        if p.note:
            print(f"    note: {p.note}")
    if m.notes:
        print(f"  note         : {m.notes}")
    return 0


def cmd_predict(args) -> int:
    from helpers.board.checks import in_range
    from helpers.board.classifier import Classifier

    in_range("--topk", args.topk, 1, 1000, integer=True)
    clf = Classifier(args.model, key=args.key, backend=args.backend, yuv_range=args.yuv_range)
    print(f"{clf.runtime.path.name}: backend {clf.backend}, input {clf.info}")
    if clf.random_weights:
        print("WARNING: this model was exported with RANDOM weights; the classes below mean nothing.")
    for img in args.images:
        print(f"{img}:")
        for p in clf.predict(img, k=args.topk):
            print(f"  {p}")
    return 0


class Terminated(BaseException):
    """SIGTERM / SIGHUP arrived: raised in the main thread so that ``finally`` blocks and context
    managers (the atomic writers' temporary files) clean up exactly as on Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_exceptions(signums=("SIGTERM", "SIGHUP")):
    """While inside, the given signals raise :class:`Terminated` (main thread only; handlers restored after)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in signums:
            num = getattr(signal, name, None)
            if num is None:
                continue
            with contextlib.suppress(ValueError, OSError):
                previous[num] = signal.signal(num, _raise_terminated)
    try:
        yield
    finally:
        for num, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(num, handler)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is our one-line error (exit 2) instead of usage text on stderr."""

    def error(self, message):
        raise HelpersError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("list", help="the model registry as a table")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", help="everything the registry knows about one model")
    p.add_argument("key")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("predict", help="top-k classes of images with a .onnx or .bin model")
    p.add_argument("model", help=".onnx (onnxruntime) or .bin (RDK board)")
    p.add_argument("images", nargs="+")
    p.add_argument("--key", help="registry key (needed for a .bin; ONNX files carry it)")
    p.add_argument("--backend", default="auto", help="auto, onnxruntime, hobot_dnn or bpu_infer_lib")
    p.add_argument("--yuv-range", choices=["full", "limited"], help="NV12 range (default: the model's)")
    p.add_argument("-k", "--topk", type=int, default=5)
    p.set_defaults(func=cmd_predict)
    for name in COMMAND_MODULES:  # each is light to import (heavy libraries load inside the commands)
        importlib.import_module(name).register(sub)
    return parser


def _show_random_once():
    """A warnings.showwarning that prints RandomWeightsWarning once, as one banner on stdout."""
    shown = []
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, RandomWeightsWarning):
            return default(message, category, filename, lineno, file, line)
        if not shown:
            shown.append(True)
            key, _, rest = str(message).partition(": ")
            title, _, text = rest.partition(": ")
            print(Banner(f"{title} ({key})" if text else "RANDOM WEIGHTS", text or str(message)), flush=True)

    return show


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        with signals_as_exceptions(), warnings.catch_warnings():
            args = build_parser().parse_args(argv)
            warnings.simplefilter("always", RandomWeightsWarning)
            warnings.showwarning = _show_random_once()
            return int(args.func(args) or 0)
    except HelpersError as e:
        if debug:
            traceback.print_exc()
        print(f"error: {one_line(unwrap_worker_error(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; temporary files removed, no output replaced", file=sys.stderr)
        return 130
    except Terminated as e:
        name = signal.Signals(e.signum).name if e.signum in signal.Signals._value2member_map_ else str(e.signum)
        print(f"terminated by {name}; temporary files removed, no output replaced", file=sys.stderr)
        return 128 + e.signum
    except RecursionError:
        print("error: the input is nested too deeply to process (run with --debug for the traceback)", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; give a smaller input (run with --debug for the traceback)", file=sys.stderr)
        return 1
    except OSError as e:  # a path the OS refuses (name too long, read-only, ...): what is wrong and what to do
        from helpers.board import files

        if e.errno not in files.PATH_ERRNOS or e.filename is None:
            return _unexpected(e, debug)
        if debug:
            traceback.print_exc()
        err = files.write_error(os.fsdecode(e.filename), e, verb="use", fix="give another path")
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except Exception as e:  # an unexpected failure: still one line, the traceback on request
        return _unexpected(e, debug)


def _unexpected(e: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    msg = first_line(unwrap_worker_error(e)) if str(e).strip() else ""
    print(f"error: {type(e).__name__}: {one_line(msg)} (run with --debug for the traceback)", file=sys.stderr)
    return 1
