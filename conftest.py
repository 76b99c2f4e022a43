"""Shared test setup (repo root, so it also applies to `pytest --nbval-lax notebooks` alone).

Tests and the notebooks they execute use random weights: no hub access. The training notebook
trains for RDK_TRAIN_EPOCHS epochs (a short, consistency-only run here; the full run is
`python -m helpers demo`, whose numbers docs/measured.md reports).
"""
import os

import pytest

os.environ.setdefault("RDK_WEIGHTS", "random")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RDK_TRAIN_EPOCHS", "8")
# the quantisation notebook: a short training, the first 3 layers ranked, one calibration method
os.environ.setdefault("RDK_QUANT_EPOCHS", "1")
os.environ.setdefault("RDK_SENS_LAYERS", "3")
os.environ.setdefault("RDK_SENS_CALIBRATION", "max")


@pytest.fixture(scope="session")
def random_onnx(tmp_path_factory):
    """``random_onnx(key)`` -> path of a float ONNX of ``key`` exported with random weights (cached)."""
    cache = {}
    root = tmp_path_factory.mktemp("onnx")

    def get(key: str):
        if key not in cache:
            from helpers.pc.export import export_onnx

            cache[key] = export_onnx(key, weights="random", out=root / f"{key}.onnx").path
        return cache[key]

    return get
