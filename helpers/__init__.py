"""Helpers for the RDK mobile-classification notebooks.

Importing this package, and its runtime modules (registry, image, nv12, labels, runtime,
classifier, files), never imports torch, timm or onnxsim: they run on the board.
The PC-side modules (export, board_model, train, ...) import those inside their functions.
"""
from helpers.errors import HelpersError

__version__ = "0.1.0"
__all__ = ["HelpersError", "__version__"]
