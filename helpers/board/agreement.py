"""Does the board (NV12) path agree with the float RGB path? One check, used everywhere it is asked.

The notebooks (``InferenceDemo.compare_paths``), ``python -m helpers board-model --compare`` and
``benchmarks/board_model.py`` all call :func:`compare`. Board-safe: NumPy only.

Why these three scale-free checks, and not "top-1 equal and max |logit difference| below a bound":

1. *contract*: the board model on NV12 vs the float model on the same NV12 decoded in NumPy, relative
   L2 <= 1e-3. This isolates what the board model adds (colour conversion and normalisation inside the
   graph); it must be exact up to float rounding, whatever the weights.
2. *pixels*: NV12 decoded vs the original RGB, PSNR >= 30 dB: the encoder inverts the decoder.
3. *logits*: board model on NV12 vs float model on the original RGB: top-1 equal, or Pearson r >= 0.9.
   Chroma subsampling legitimately moves logits a little; on random or untrained weights the logits are
   near-ties (top-1 flips on noise) and their scale reaches 1e14 (random MobileOne), so an absolute
   bound or a bare top-1 rule fails models that are right and passes none that are wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence


import numpy as np

CONTRACT_TOL = 1e-3
PSNR_MIN_DB = 30.0
CORR_MIN = 0.9
#: the rule in one line, for tables and messages
RULE = (f"contract rel. L2 <= {CONTRACT_TOL:g}, PSNR >= {PSNR_MIN_DB:g} dB, "
        f"top-1 equal or logit r >= {CORR_MIN:g}")


@dataclass
class Agreement:
    """Board (NV12) path vs float RGB path on one image; see :meth:`InferenceDemo.compare_paths`."""

    skipped: Optional[str] = None
    contract_rel_err: float = float("nan")   # board model(NV12) vs float model(NV12 decoded in NumPy)
    psnr_db: float = float("nan")            # NV12 decoded in NumPy vs the original RGB pixels
    logit_corr: float = float("nan")         # Pearson r of board model(NV12) and float model(original RGB)
    colour_rel_err: float = float("nan")     # relative L2 of the same two logit vectors (reported only)
    top1_nv12: int = -1
    top1_rgb: int = -1
    top5_overlap: float = float("nan")
    hint: Optional[str] = None               # what to do when the contract check fails

    @property
    def contract_ok(self) -> bool:
        return self.contract_rel_err <= CONTRACT_TOL

    @property
    def pixels_ok(self) -> bool:
        return self.psnr_db >= PSNR_MIN_DB

    @property
    def logits_ok(self) -> bool:
        return self.top1_nv12 == self.top1_rgb or self.logit_corr >= CORR_MIN

    @property
    def ok(self) -> bool:
        return self.skipped is not None or (self.contract_ok and self.pixels_ok and self.logits_ok)

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "NV12-vs-RGB check skipped here (board)"
        return "NV12 path agrees with RGB path" if self.ok else "NV12 path DISAGREES with RGB path"

    def __str__(self) -> str:
        if self.skipped:
            return f"NV12 path vs RGB path: skipped ({self.skipped})"
        flag = lambda ok: "ok" if ok else "FAILED"  # noqa: E731
        return "\n".join([
            f"1. board model on NV12 vs float model on the same NV12 decoded in NumPy: relative L2 error "
            f"{self.contract_rel_err:.1e} (<= {CONTRACT_TOL:g}: {flag(self.contract_ok)})",
            f"2. NV12 decoded vs the original RGB pixels: PSNR {min(self.psnr_db, 99.0):.1f} dB "
            f"(>= {PSNR_MIN_DB:g} dB: {flag(self.pixels_ok)})",
            "3. board model on NV12 vs float model on the original RGB: top-1 class "
            + (f"{self.top1_nv12} on both" if self.top1_nv12 == self.top1_rgb else
               f"{self.top1_nv12} (NV12) and {self.top1_rgb} (RGB) differ")
            + f", logit correlation {self.logit_corr:.4f} (passes if the top-1 is the same or the correlation "
            f"is >= {CORR_MIN:g}: {flag(self.logits_ok)}); "
            f"relative L2 {self.colour_rel_err:.1%}, top-5 overlap {self.top5_overlap:.0%}",
            f"=> {self.verdict}",
        ] + ([f"   check 1: {self.hint}"] if self.hint and not self.contract_ok else [])
          + (["   check 2: the NV12 encoder does not invert the decoder (helpers.board.nv12)"] if not self.pixels_ok else []))

    __repr__ = __str__


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 0..255 images, in dB (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 0 else (1.0 if np.allclose(a, b) else 0.0)


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / ||b||`` in float64: scale-free (random MobileOne logits reach 1e14)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    den = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / den) if den > 0 else float(np.linalg.norm(a - b))


def compare(board, float_, rgb: np.ndarray, hint: Optional[str] = None) -> Agreement:
    """The three checks for one RGB uint8 frame already at the model size.

    ``board``: a :class:`helpers.board.classifier.Classifier` on the board model (NV12 input);
    ``float_``: one on the float ONNX (normalised NCHW input). ``hint``: what to say when check 1 fails.
    """
    from helpers.board import nv12 as nv12mod
    from helpers.board.image import normalize_nchw

    h, w = board.size
    n = nv12mod.rgb_to_nv12(rgb, board.yuv_range)
    decoded = nv12mod.nv12_to_rgb_float(n, h, w, board.yuv_range)
    l_nv12 = board.run(n)
    l_dec = float_.run(normalize_nchw(decoded, float_.mean, float_.std))
    l_rgb = float_.run(float_.feed(rgb))
    t_n, t_r = np.argsort(-l_nv12)[:5], np.argsort(-l_rgb)[:5]
    hint = hint or (f"the board model {board.runtime.path.name} and the float model {float_.runtime.path.name} "
                    "do not compute the same thing: were they built from the same export and yaml?")
    return Agreement(None, rel_l2(l_nv12, l_dec), psnr(decoded, rgb), pearson(l_nv12, l_rgb),
                     rel_l2(l_nv12, l_rgb), int(t_n[0]), int(t_r[0]),
                     len(set(t_n.tolist()) & set(t_r.tolist())) / 5, hint)


def summarise(results: Sequence[Agreement]) -> dict:
    """Over several images: how many passed, top-1 agreement, mean top-5 overlap and the worst of each check."""
    done = [a for a in results if a.skipped is None]
    n = len(done)
    nan = float("nan")
    return {
        "images": n,
        "passed": sum(a.ok for a in done),
        "ok": n > 0 and all(a.ok for a in done),
        "top1_agreement": sum(a.top1_nv12 == a.top1_rgb for a in done) / n if n else nan,
        "top5_overlap": sum(a.top5_overlap for a in done) / n if n else nan,
        "worst_contract_rel_err": max((a.contract_rel_err for a in done), default=nan),
        "min_psnr_db": min((a.psnr_db for a in done), default=nan),
        "min_logit_corr": min((a.logit_corr for a in done), default=nan),
        "max_colour_rel_err": max((a.colour_rel_err for a in done), default=nan),
    }
