"""The README words that differ between English and Chinese (one table for every generated block)."""
from __future__ import annotations

from typing import Dict

# ------------------------------------------------------------------------------------------------
# words that differ between the languages
# ------------------------------------------------------------------------------------------------
T: Dict[str, Dict[str, str]] = {
    "random_withheld": {"en": "n/a (random weights)", "cn": "不适用（随机权重）"},
    "key": {"en": "model", "cn": "模型"},
    "arch": {"en": "architecture", "cn": "架构"},
    "paper": {"en": "paper", "cn": "论文"},
    "code": {"en": "code", "cn": "代码"},
    "weights": {"en": "pretrained weights (Hugging Face hub)", "cn": "预训练权重（Hugging Face hub）"},
    "input": {"en": "input", "cn": "输入"},
    "boards": {"en": "boards", "cn": "开发板"},
    "board": {"en": "board", "cn": "开发板"},
    "mean_std": {"en": "mean / std (RGB, 0..1)", "cn": "均值 / 标准差（RGB，0..1）"},
    "params_torch": {"en": "params, PyTorch (M)", "cn": "参数量，PyTorch (M)"},
    "params_deploy": {"en": "params, deployed (M)", "cn": "参数量，部署 (M)"},
    "stages": {"en": "stages", "cn": "阶段数"},
    "last_stage": {"en": "last feature map", "cn": "最后特征图"},
    "params_pub": {"en": "params (M)", "cn": "参数量 (M)"},
    "float_top1": {"en": "float top-1 (%)", "cn": "浮点 top-1 (%)"},
    "quant_top1": {"en": "quantised top-1 (%)", "cn": "量化 top-1 (%)"},
    "lat1": {"en": "latency, 1 thread (ms)", "cn": "延迟，1 线程 (ms)"},
    "latn": {"en": "latency, multi-thread (ms)", "cn": "延迟，多线程 (ms)"},
    "fps": {"en": "FPS", "cn": "FPS"},
    "bin": {"en": "file (.bin / .hbm)", "cn": "文件（.bin / .hbm）"},
    "source": {"en": "source", "cn": "来源"},
    "space_pub": {"en": "NV12 range we feed", "cn": "输入的 NV12 范围"},
    "zoo": {"en": "RDK Model Zoo", "cn": "RDK Model Zoo"},
    "yaml": {"en": "mapper yaml", "cn": "mapper yaml"},
    "march": {"en": "march", "cn": "march"},
    "space": {"en": "input_space_and_range", "cn": "input_space_and_range"},
    "not_generated": {"en": "not generated yet", "cn": "尚未生成"},
    "none_published": {"en": "none published", "cn": "未发布"},
    "reparam": {"en": "yes (fused before export)", "cn": "是（导出前融合）"},
}


def t(word: str, lang: str) -> str:
    return T[word][lang]
