"""Fake ``hbm_runtime`` (tests only; NumPy only): the package of D-Robotics' ``hbm-runtime`` wheel.

Like the wheel's ``__init__`` (hbm_runtime 0.1.0.post1), importing it first checks that the board's
runtime libraries load, and raises ``RuntimeError`` naming the missing ones and the fix, unless
``HBM_RUNTIME_SKIP_CHECK=1``. Here no library is really opened: ``FAKE_HBM_MISSING_LIBS`` (comma-separated
sonames, e.g. ``libhbucp.so``) says which ones the fake board lacks. The names it exports are exactly the
wheel's ``__all__`` (recorded in tests/fake_board/vendor_surface.json). See ``HB_HBMRuntime`` for the rest.
"""
import os

_MISSING_ENV = "FAKE_HBM_MISSING_LIBS"
_LIBS = (("libhbucp.so", "Horizon UCP library"), ("libdnn.so", "Horizon DNN library"))


def _check_system_libs():
    if os.environ.get("HBM_RUNTIME_SKIP_CHECK", "0") == "1":
        return
    absent = {s.strip() for s in os.environ.get(_MISSING_ENV, "").split(",") if s.strip()}
    missing = [f"{so} ({what}) - {so}: cannot open shared object file: No such file or directory"
               for so, what in _LIBS if so in absent]
    if missing:
        # the wording of the wheel's error, so that the backend is tested against what a board prints
        raise RuntimeError("Missing Horizon runtime libraries (provided by the 'hobot-dnn' package):\n  - "
                           + "\n  - ".join(missing)
                           + "\n\nHow to fix:\n"
                             "  1) Install or upgrade the 'hobot-dnn' deb package:\n"
                             "     sudo apt-get update && sudo apt-get install -y hobot-dnn\n"
                             "  2) Set HBM_RUNTIME_SKIP_CHECK=1 to skip this check.\n")


_check_system_libs()

from .HB_HBMRuntime import HB_HBMRuntime, QuantParams, SchedParam, hbDNNDataType, hbDNNQuantiType  # noqa: E402

__all__ = ["HB_HBMRuntime", "hbDNNDataType", "hbDNNQuantiType", "QuantParams", "SchedParam"]
