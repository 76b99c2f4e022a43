"""The vendor PTQ guide's rules on a mapper yaml's input types, as data (used by ``check-yaml``).

Source: D-Robotics/rdk_doc, ``docs/07_Advanced_development/04_toolchain_development/intermediate/
ptq_process.md``: the ``input_type_train`` x ``input_type_rt`` table in "转换内部过程解读" (the toolchain
opens only these conversions), and the notes under the yaml template (nv12/yuv444 inputs need even
sizes; RDK X3 does not support ``input_type_rt: yuv444`` with ``input_layout_rt: NCHW``;
``input_layout_rt`` is not needed for nv12). Every config the RDK Model Zoo publishes for these models
(nv12 from rgb, NCHW) passes: ``tests/pc/test_ptq_rules.py`` checks excerpts of them. The S-series
(``hb_compile``, nash) configs the zoo publishes use the same conversions (nv12 from rgb or bgr, NCHW;
``tests/pc/test_nash.py``); we know of no nash-only input-type rule, so these apply to nash as written.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

INPUT_TYPES_TRAIN = ("rgb", "bgr", "yuv444", "gray", "featuremap")
INPUT_TYPES_RT = ("rgb", "bgr", "yuv444", "nv12", "gray", "featuremap")

#: input_type_train -> the input_type_rt values the toolchain converts from (the guide's Y cells)
SUPPORTED_RT: Dict[str, Tuple[str, ...]] = {
    "yuv444": ("nv12", "yuv444"),
    "rgb": ("nv12", "yuv444", "rgb", "bgr"),
    "bgr": ("nv12", "yuv444", "rgb", "bgr"),
    "gray": ("gray",),
    "featuremap": ("featuremap",),
}


def input_type_errors(rt: Optional[str], train: Optional[str], layout_rt: Optional[str],
                      march: Optional[str]) -> List[str]:
    """The guide's objections to this ``input_type_rt`` / ``input_type_train`` / ``input_layout_rt``."""
    out = []
    if rt in INPUT_TYPES_RT and train in SUPPORTED_RT and rt not in SUPPORTED_RT[train]:
        ok = ", ".join(SUPPORTED_RT[train])
        out.append(f"input_type_rt {rt!r} from input_type_train {train!r} is not a conversion the toolchain "
                   f"offers (PTQ guide, input_type_rt x input_type_train table): with {train} training input "
                   f"use input_type_rt {ok}")
    if march == "bernoulli2" and rt == "yuv444" and layout_rt == "NCHW":
        out.append("RDK X3 (bernoulli2) does not support input_type_rt 'yuv444' with input_layout_rt 'NCHW' "
                   "(PTQ guide); use input_layout_rt 'NHWC' (or input_type_rt 'nv12')")
    return out
