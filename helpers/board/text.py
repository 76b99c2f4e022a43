"""Text the user reads: aligned tables (terminal and markdown) and warning boxes. Board-safe (standard library only).

One table formatter for the CLI, the demo, the export summary and the generated READMEs.
"""
from __future__ import annotations

import html
from typing import Optional, Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: Optional[str] = None) -> str:
    """A plain-text table with a dashed rule under the header.

    ``align``: one character per column, ``l`` or ``r`` (default: every column left-aligned).
    """
    header = [str(h) for h in header]
    body = [[str(c) for c in r] for r in rows]
    for r in body:
        if len(r) != len(header):
            raise ValueError(f"row has {len(r)} cells, header {len(header)}: {r}")
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align must be one of 'l'/'r' per column, got {align!r}")
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:{'<' if a == 'l' else '>'}{w}}}" for a, w in zip(align, widths))
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in body]
    return "\n".join(line.rstrip() for line in lines)


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; ``|`` inside a cell is escaped."""
    def cell(c: object) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


class Banner:
    """A coloured box in a notebook, a framed block in plain text."""

    def __init__(self, title: str, text: str, colour: str = "#b00020"):
        self.title, self.text, self.colour = title, text, colour

    def _repr_html_(self) -> str:
        return (f'<div class="rdk-banner" style="border:3px solid {self.colour};background:#fff3f3;padding:8px 12px;'
                f'margin:6px 0"><b style="color:{self.colour}">{html.escape(self.title)}</b><br>'
                f"{html.escape(self.text)}</div>")

    def __repr__(self) -> str:
        bar = "!" * 78
        return f"{bar}\n!! {self.title}\n!! {self.text}\n{bar}"

    __str__ = __repr__
