"""Where the notebook runs and how to show things there (board or PC, live frontend or headless). Board-safe."""
from __future__ import annotations

import os
from typing import List, Optional

from helpers.board.runtime import BOARD_BACKENDS, available_backends



#: env var: "1" hides the widgets (headless run), "0" shows them even when we would guess headless
HEADLESS_ENV = "RDK_HEADLESS"



def board_runtimes() -> List[str]:
    """The board runtimes importable here (empty on a PC)."""
    return [b for b in available_backends() if b in BOARD_BACKENDS]



def on_board() -> bool:
    return bool(board_runtimes())



def device_model() -> Optional[str]:
    """The board's name (e.g. 'D-Robotics RDK X5 V1.0', 'RDK S100'), None on a PC: :mod:`helpers.board.identity`."""
    from helpers.board.identity import device_model as _device_model

    return _device_model()



def live_frontend() -> bool:
    """Is a Jupyter frontend likely to render widgets?

    A kernel cannot see whether a browser is attached, so we decide from the environment:
    ``RDK_HEADLESS=1``/``0`` decides outright; otherwise we need an IPython *kernel* (not plain Python
    or terminal IPython), and no headless marker: ``MPLBACKEND=Agg`` (tests/conftest.py sets it for
    pytest/nbval, and a kernel started by Jupyter uses the inline backend instead) or ``CI``.
    """
    flag = os.environ.get(HEADLESS_ENV)
    if flag is not None and flag.strip():
        return flag.strip().lower() in ("0", "false", "no", "off")
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    if os.environ.get("MPLBACKEND", "").lower() == "agg" or os.environ.get("CI"):
        return False
    return True



def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None



def show(obj) -> None:
    """``display`` in IPython, ``print`` elsewhere (figures are skipped outside IPython)."""
    if _in_ipython():
        from IPython.display import display

        display(obj)
    elif not hasattr(obj, "savefig"):
        print(obj)
