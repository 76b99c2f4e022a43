"""Measured results, one JSON file per kind in ``data/results/``: what the README tables are generated from.

Board-safe (standard library only), so ``python -m helpers bench MODEL --record`` works on a board.
Every row records the command that measured it, the machine (CPU model, threads, OS) and the date; the
file-level ``command``/``machine``/``date`` are those of its latest run.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from helpers.board import registry
from helpers.board.files import DATA_DIR, atomic_write_text, rel_to_repo
from helpers.board.safe_read import load_json
from helpers.errors import HelpersError

RESULTS_DIR = DATA_DIR / "results"
#: a results file holds a few hundred rows at most
MAX_RESULTS_BYTES = 8 << 20


#: what every row says about its own measurement (stamped by :func:`record_result`), so that rows
#: measured on different machines, days or commands can share one file
ROW_STAMPS = ("machine", "date", "command")


def _cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as Linux reports it ('' where it does not, e.g. on many ARM boards)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == "model name" and value.strip():
                    return re.sub(r"\s+", " ", re.sub(r"\((R|TM)\)", "", value, flags=re.I)).strip()
    except OSError:
        pass
    return ""


def machine() -> str:
    """``Intel Xeon Processor, x86_64, 2 CPU threads, Linux``: what a row was measured on."""
    parts = [_cpu_model(), platform.machine() or "unknown CPU", f"{os.cpu_count()} CPU threads", platform.system()]
    return ", ".join(p for p in parts if p)


def record_result(name: str, rows: Sequence[Dict[str, Any]], command: str,
                  merge_on: Sequence[str] = ("key",), results_dir: Optional[Path] = None,
                  **extra: Any) -> Path:
    """Write (or update) ``data/results/<name>.json`` for the README tables.

    ``rows`` replace earlier rows that have the same values in ``merge_on`` (so recording one model
    keeps the others); ``command`` is the command line a reader can run to measure them again
    (write it with placeholders, e.g. ``python -m helpers bench FILE --record``). ``extra`` goes
    into the file as is (e.g. ``dataset="digits val split"``). Then run ``python -m helpers readme``.
    """
    if not re.fullmatch(r"[a-z0-9_]+", name or ""):
        raise HelpersError(f"result name {name!r} must be lower-case letters, digits and '_'")
    rows = [dict(r) for r in rows]
    for r in rows:
        if not isinstance(r, dict):
            raise HelpersError(f"result rows must be dicts, got {type(r).__name__}")
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    old_rows: List[Dict[str, Any]] = []
    old_file: Dict[str, Any] = {}
    if path.exists():
        try:
            old_file = load_json(path, "results file", MAX_RESULTS_BYTES)
            old_rows = list(old_file.get("rows", []))
        except (HelpersError, AttributeError, TypeError):
            old_file, old_rows = {}, []  # unreadable: replaced by this run
        if not isinstance(old_file, dict):
            old_file = {}

    def ident(r):
        return tuple(json.dumps(r.get(k), sort_keys=True) for k in merge_on)

    # each row keeps the machine, date and command (and weights, when the file states them) it was
    # measured with: the new rows get this run's, older rows the ones their file stated
    stamps = {"machine": machine(), "date": _dt.date.today().isoformat(), "command": command}
    if "weights" in extra:
        stamps["weights"] = extra["weights"]
    for r in rows:
        for k, v in stamps.items():
            r.setdefault(k, v)
    old_stamps = {k: old_file.get(k) for k in ROW_STAMPS + ("weights",) if old_file.get(k)}
    old_rows = [{**old_stamps, **r} for r in old_rows if isinstance(r, dict)]
    if merge_on:
        new_ids = {ident(r) for r in rows}
        rows = [r for r in old_rows if ident(r) not in new_ids] + rows
        order = {k: i for i, k in enumerate(registry.MODELS)}
        rows.sort(key=lambda r: order.get(r.get("key"), len(order)))
    data = {"schema": 1, "name": name, "command": command, "machine": stamps["machine"],
            "date": stamps["date"], **extra, "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n", overwrite=True)
    os.chmod(path, 0o644)
    return path


def record_and_report(name: str, rows: Sequence[Dict[str, Any]], command: str, log: Callable = print,
                      **kwargs: Any) -> Path:
    """:func:`record_result`, then tell the user where it went and what to run next (the CLIs' ``--record``)."""
    path = record_result(name, rows, command, **kwargs)
    log(f"recorded in {rel_to_repo(path)} (then: python -m helpers readme)")
    return path


def load_result(name: str, results_dir: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    """The result file ``name`` or ``None`` when it was never recorded; a broken file is an error."""
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    if not path.exists():
        return None
    data = load_json(path, "results file", MAX_RESULTS_BYTES,
                     fix="re-run the command that records it or delete the file")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or not data.get("command"):
        raise HelpersError(f"{rel_to_repo(path)} needs a 'command' and a list of 'rows' "
                           "(write it with helpers.board.records.record_result)")
    if not all(isinstance(r, dict) for r in data["rows"]):
        raise HelpersError(f"{rel_to_repo(path)}: every row must be a JSON object")
    return data
