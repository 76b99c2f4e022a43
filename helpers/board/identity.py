"""Which RDK board this is: the one module that reads how a board names itself. Board-safe.

The strings are the registry's (:class:`helpers.board.registry.Board` ``soc_names``, ``board_types``,
``socinfo_names``, ``device_tree_models``); the order of the files follows the vendor's
``samples/_shared/platforms.py`` (D-Robotics/rdk_model_zoo) with its ``platforms/registry.json``:

1. ``/sys/class/boardinfo/soc_name`` (S100, S100P, S600; some X5 images): exact, lower-cased; an S100
   whose ``/sys/class/boardinfo/board_type`` says ``s100p`` / ``rdk s100p`` is an S100P;
2. ``/sys/class/socinfo/soc_name`` (X5 boards without boardinfo: ``x5u``, ``x5h``, ``x5m``);
3. ``/proc/device-tree/model`` (X3, X5: e.g. ``D-Robotics RDK X5 V1.0``), by substring.

``root`` lets tests point at a fake file tree; nothing here caches, so a test may change the files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from helpers.board import registry

SOC_NAME = "sys/class/boardinfo/soc_name"
BOARD_TYPE = "sys/class/boardinfo/board_type"
SOCINFO_NAME = "sys/class/socinfo/soc_name"
DEVICE_TREE_MODEL = "proc/device-tree/model"


def _read(root: Path, rel: str) -> Optional[str]:
    try:
        with open(root / rel, "rb") as fh:
            text = fh.read(256).decode("utf-8", "replace")
    except OSError:
        return None
    return text.strip("\x00 \t\r\n") or None


@dataclass(frozen=True)
class Identity:
    """What this machine says about itself, and the board it resolves to (None: not an RDK we know)."""

    board: Optional[registry.Board]
    soc_name: Optional[str] = None
    board_type: Optional[str] = None
    socinfo_name: Optional[str] = None
    device_tree_model: Optional[str] = None

    def describe(self) -> str:
        """One line: the board (or that none was recognised) and the strings it was read from."""
        seen = [f"{rel}={value!r}" for rel, value in (
            (SOC_NAME, self.soc_name), (BOARD_TYPE, self.board_type), (SOCINFO_NAME, self.socinfo_name),
            (DEVICE_TREE_MODEL, self.device_tree_model)) if value]
        what = f"{self.board.name} (march {self.board.march})" if self.board else "not a known RDK board"
        return f"{what}" + (f"; read /{', /'.join(seen)}" if seen else "; no board identity files (a PC?)")


def match(soc_name: Optional[str] = None, board_type: Optional[str] = None, socinfo_name: Optional[str] = None,
          device_tree_model: Optional[str] = None) -> Optional[registry.Board]:
    """The registry board these identity strings name, else None (the vendor's precedence, see above)."""
    boards = list(registry.BOARDS.values())
    if soc_name:
        soc, kind = soc_name.strip().lower(), (board_type or "").strip().lower()
        for b in boards:  # the refinement first: an S100 whose board_type says S100P
            if b.base_soc and soc == b.base_soc and kind in b.board_types:
                return b
        found = [b for b in boards if soc in b.soc_names]
        return found[0] if len(found) == 1 else None
    if socinfo_name:
        found = [b for b in boards if socinfo_name.strip().lower() in b.socinfo_names]
        return found[0] if len(found) == 1 else None
    if device_tree_model:
        text = device_tree_model.upper()
        found = [b for b in boards if any(m.upper() in text for m in b.device_tree_models)]
        return found[0] if len(found) == 1 else None
    return None


def identify(root="/") -> Identity:
    """Read the identity files under ``root`` (default: this machine) once and resolve the board."""
    root = Path(root)
    soc, kind = _read(root, SOC_NAME), _read(root, BOARD_TYPE)
    socinfo = None if soc else _read(root, SOCINFO_NAME)
    dt = _read(root, DEVICE_TREE_MODEL)
    board = match(soc, kind, socinfo, dt if not (soc or socinfo) else None)
    return Identity(board, soc, kind, socinfo, dt)


def board_here(root="/") -> Optional[registry.Board]:
    """The board this machine is, else None (a PC, or an RDK these files do not name)."""
    return identify(root).board


def device_model(root="/") -> Optional[str]:
    """A human name for this machine: the device-tree model, else the board the SoC files name, else None."""
    ident = identify(root)
    return ident.device_tree_model or (ident.board.name if ident.board else None)
