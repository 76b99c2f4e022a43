"""Range checks for numeric options, at the boundary, with the allowed range in the message. Board-safe."""
from __future__ import annotations

import math
from typing import Optional

from helpers.errors import HelpersError, brief


def _range_text(lo, hi, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        a, b = ("(" if lo_open else "["), (")" if hi_open else "]")
        return f"in {a}{lo:g}, {hi:g}{b}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


def in_range(name: str, value, lo: Optional[float] = None, hi: Optional[float] = None, *,
             lo_open: bool = False, hi_open: bool = False, integer: bool = False, hint: str = ""):
    """``value`` unchanged when it is a finite number in the range (``None`` passes); else a HelpersError
    naming ``name`` (e.g. ``--lr``) and the allowed range."""
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if integer and ok and not float(v).is_integer():
        ok = False
    ok = ok and math.isfinite(v) and not (
        lo is not None and (v < lo or (lo_open and v == lo))) and not (
        hi is not None and (v > hi or (hi_open and v == hi)))
    if not ok:
        kind = "an integer " if integer else "a number "
        raise HelpersError(f"{name} must be {kind}{_range_text(lo, hi, lo_open, hi_open)}, got {brief(value, 40)}"
                           + (f"; {hint}" if hint else ""))
    return value
