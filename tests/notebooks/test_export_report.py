"""helpers.notebooks.export_report: the sentence comparing the PyTorch and ONNX parameter counts is made from
the two numbers (issue 27: the notebook said they 'differ by the folded BatchNorms' under two equal counts)."""
from types import SimpleNamespace

import pytest

from helpers.notebooks import export_report as report


@pytest.mark.parametrize("torch_n, onnx_n, bn, needles, absent", [
    # MobileOne-S0 after re-parameterisation: no BatchNorm left, the counts are equal
    (2078504, 2078504, None, ["equal (2,078,504)", "no BatchNorm left to fold"], ["differ", "lower", "higher"]),
    (2078504, 2078504, 0, ["equal (2,078,504)", "no BatchNorm left to fold"], ["lower"]),
    (1000, 1000, 64, ["equal (1,000)", "although the model has 64 BatchNorm channels"], ["no BatchNorm left"]),
    # a BatchNorm model: ONNX lower by exactly its BatchNorm channels
    (3774632, 3757800, 16832, ["16,832 lower", "(3,757,800 vs 3,774,632)", "exactly 16,832 BatchNorm channels"],
     ["equal", "not explained"]),
    (3774632, 3757800, None, ["16,832 lower", "should be the number of BatchNorm channels"], ["equal", "exactly"]),
    (1100, 1000, 60, ["100 lower", "accounts for 60 of them", "the other 40 are not explained"], ["exactly"]),
    (1000, 1010, None, ["10 higher", "(1,010 vs 1,000)", "not PyTorch parameters"], ["lower", "equal"]),
])
def test_param_comparison_says_what_the_numbers_say(torch_n, onnx_n, bn, needles, absent):
    text = report.param_comparison(torch_n, onnx_n, bn)
    for n in needles:
        assert n in text, (n, text)
    for a in absent:
        assert a not in text, (a, text)
    assert text.count("\n") == 0 and text.endswith(".")


def test_param_report_prints_the_comparison_from_the_result():
    r = SimpleNamespace(key="mobileone_s0", params_torch=2078504, params_onnx=2078504, params_onnx_per_use=2078504)
    text = report.param_report(r)
    assert text.count("2,078,504") == 3 and "equal" in text and "folded" not in text
    r = SimpleNamespace(key="mobileone_s0", params_torch=1200, params_onnx=900, params_onnx_per_use=1000)
    text = report.param_report(r)
    assert "counted once per use       : 1,000" in text and "200 lower than the PyTorch count (1,000 vs 1,200)" in text


def test_published_lines_name_each_boards_own_file_type():
    """S-series files are .hbm, X3/X5 files .bin (MobileNetV4-small is published for X3, X5, S100 and S600)."""
    r = SimpleNamespace(key="mobilenetv4_conv_small", params_torch=10, params_onnx=10, params_onnx_per_use=10)
    lines = [ln for ln in report.param_report(r).splitlines() if ln.startswith("published")]
    assert any(ln.startswith("published (RDK S100 .hbm)") for ln in lines), lines
    assert any(ln.startswith("published (RDK X5 .bin)") for ln in lines), lines
    assert not [ln for ln in lines if "S100 .bin" in ln or "S600 .bin" in ln], lines


def test_batchnorm_channels_counts_the_channels():
    torch = pytest.importorskip("torch")
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                            torch.nn.Conv2d(8, 4, 1, bias=False), torch.nn.BatchNorm2d(4))
    assert report.batchnorm_channels(m) == 12
