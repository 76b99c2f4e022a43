"""Measured results, one JSON file per kind in ``data/results/``: what the README tables are generated from.

Board-safe (standard library only), so ``python -m helpers bench MODEL --record`` works on a board.
Every file records the command that measured it, the machine and the date.
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


def _machine() -> str:
    return f"{platform.machine() or 'unknown CPU'}, {os.cpu_count()} CPU threads, {platform.system()}"


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
    if path.exists():
        try:
            old_rows = list(load_json(path, "results file", MAX_RESULTS_BYTES).get("rows", []))
        except (HelpersError, AttributeError, TypeError):
            old_rows = []  # unreadable: replaced by this run

    def ident(r):
        return tuple(json.dumps(r.get(k), sort_keys=True) for k in merge_on)

    if merge_on:
        new_ids = {ident(r) for r in rows}
        rows = [r for r in old_rows if ident(r) not in new_ids] + rows
        order = {k: i for i, k in enumerate(registry.MODELS)}
        rows.sort(key=lambda r: order.get(r.get("key"), len(order)))
    data = {"schema": 1, "name": name, "command": command, "machine": _machine(),
            "date": _dt.date.today().isoformat(), **extra, "rows": rows}
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
