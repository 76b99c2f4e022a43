"""The words under a kept-layers result (sensitivity.explain), the sensitivity figure and the kept yaml's header,
on constructed numbers (no model is run)."""
import pytest
import yaml

from helpers.errors import HelpersError
from helpers.pc import mapper, sensitivity as S
from helpers.pc.sensitivity import Score


def result(n_layers=44, ranked=44, chosen=2, budget_k=2, base_err=0.40, ceiling_err=0.10, chosen_err=0.38,
           board="x5", scheme="bpu", calibration="max"):
    names = [f"/stages/stages.{i // 5}/stages.{i // 5}.{i % 5}/reparam_conv/Conv" for i in range(ranked)]
    layers = [Score(n, "Conv", 90.0, 95.0, base_err - 0.02 + 0.0005 * i) for i, n in enumerate(names)]
    n_cum = max(budget_k, chosen)
    cumulative = [Score(f"top {k}", "-", 90.0, 95.0, chosen_err + 0.001 * abs(chosen - k)) for k in range(1, n_cum + 1)]
    keep_as = "float" if board == "x3" else "int16"
    return S.SensitivityResult(
        key="mobileone_s0", board=board, keep_as=keep_as, scheme=scheme, calibration=calibration, mode="keep",
        rank_data="300 images of train", layers=layers, n_layers=n_layers, budget_k=budget_k,
        baseline=Score("all int8", "-", 89.0, 94.0, base_err), float_top1_rank=96.0, cumulative=cumulative,
        chosen=names[:chosen], target=1.0, ceiling=Score("all kept", "-", 95.0, 99.0, ceiling_err),
        rank_images=300, rank_split="train")


def text(lines):
    return "\n".join(lines)


def test_met_says_met_and_nothing_to_try():
    out = S.explain(result(), 96.0, 94.0, 95.5, 450)
    assert out[0].startswith("target:") and "met;" in out[0] and "missed" not in text(out)
    assert "-0.50" not in out[0] and "+0.50 with 2 of 44" in out[0] and "one image = 0.22 point" in out[0]
    assert not any(x.startswith("Try:") for x in out)


def test_kept_worse_than_all_int8_says_so_with_the_image_count():
    # the numbers: float - INT8 +7.11 all-INT8, +8.00 with 2 of 44 kept, on 450 images (4 images apart)
    out = S.explain(result(), 96.0, 96.0 - 7.11, 96.0 - 8.00, 450)
    t = text(out)
    assert "missed" in out[0] and "+7.11" in out[0] and "+8.00" in out[0]
    assert "do not beat all-INT8 (-0.89 points, 4 image(s))" in t and "300 train images" in t
    assert "within noise" not in t
    # the ceiling removes 75 % of the error, the 2 chosen 5 %: spread over more layers than the budget
    assert "removes 75 % of the INT8 logit error, the 2 chosen 5 % (on the ranking images)" in t
    assert "more layers (--budget / --max-k; the budget of 2 is the limit" in t
    assert "another calibration type (this run kept max; RDK_SENS_CALIBRATION or --calibration-type kl / default)" in t
    assert "calibration images" in t
    assert "quantisation-aware" not in t and "per-channel" not in t        # bpu scheme: per-channel already
    assert "set_all_nodes_int16" in t                                      # X5: the whole model in int16


def test_low_ceiling_points_away_from_more_layers():
    out = S.explain(result(ceiling_err=0.36), 96.0, 90.0, 92.0, 450)
    t = text(out)
    assert "recover 2.00 points (9 images) of the 6.00 lost" in t
    assert "removes only 10 % of the INT8 logit error" in t and "int8 weights stay int8" in t
    assert "more layers (" not in t and "quantisation-aware training" in t


def test_a_short_ranking_and_a_short_training_are_named():
    res = result(ranked=3, chosen=1, budget_k=2, ceiling_err=0.39, board="x3", scheme="ort")
    out = S.explain(res, 96.0, 90.0, 90.2, 500, epochs_note="trained 1 epoch")
    t = text(out)
    assert "barely beat all-INT8 (+0.20 points, 1 image(s), within noise)" in t
    assert "Only 3 of 44 layers were ranked" in t and "Ceiling of the 3 ranked layer(s): keeping them all as float" in t
    assert "not measured" in t and "will not fix" not in t and "quantisation-aware" not in t
    assert "int8 weights" not in t and "per-channel weights (--scheme bpu)" in t
    assert "set_all_nodes_int16" not in t and out[-1] == "trained 1 epoch"


def test_all_int8_within_target_keeps_none():
    out = S.explain(result(), 96.0, 95.5, 94.5, 200)
    assert "missed" in out[0] and "already within the target; the kept layers cost 1.00 points (2 image(s))" in out[1]
    with pytest.raises(HelpersError, match="number of images"):
        S.explain(result(), 96.0, 95.5, 94.5, 0)


def test_over_budget_is_a_miss_even_when_close_to_float():
    out = S.explain(result(chosen=2, budget_k=1), 96.0, 90.0, 95.5, 450)
    assert "missed" in out[0]


def test_figure_is_agg_labels_inside_legend_off_the_axes_and_differences_shown():
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    res = result()
    fig = res.plot(limit=20)
    assert type(fig) is Figure and isinstance(fig.canvas, FigureCanvasAgg)
    assert "matplotlib.pyplot" not in __import__("sys").modules or not matplotlib.pyplot.get_fignums()
    png = res.png()
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (w, h) == (round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))
    fig.canvas.draw()                       # the layout is made when the figure is drawn
    r = fig.canvas.get_renderer()
    box = fig.bbox
    ax, ax2 = fig.axes
    labels = [t for a in fig.axes for t in a.get_yticklabels() + a.get_xticklabels() if t.get_text()]
    assert len(ax.get_yticklabels()) == 20
    for t in labels:
        e = t.get_window_extent(r)
        assert e.x0 >= box.x0 - 1 and e.y0 >= box.y0 - 1 and e.x1 <= box.x1 + 1 and e.y1 <= box.y1 + 1, t.get_text()
    for legend in fig.legends + [a.get_legend() for a in fig.axes if a.get_legend()]:
        e = legend.get_window_extent(r)
        assert not any(e.overlaps(a.get_window_extent(r)) for a in fig.axes), "legend over a plot"
    # the bars are the change against all-INT8: their axis spans the spread of the layers, not 0..0.4
    lo, hi = ax.get_xlim()
    spread = max(s.logit_err for s in res.layers[:20]) - min(s.logit_err for s in res.layers[:20])
    assert hi - lo < 0.1 * res.baseline.logit_err and hi - lo > spread
    assert "300 train images" in fig.get_suptitle() and "1347" not in fig.get_suptitle()


def test_kept_yaml_header_names_its_own_size_output_and_config(tmp_path):
    base = tmp_path / "mobileone_s0_x5.yaml"
    base.write_text(mapper.generate_yaml("mobileone_s0", "x5", onnx_model="mobileone_s0.onnx", run_from="cd here",
                                         command="python -m helpers demo", input_size=(32, 32),
                                         config_name=base.name), encoding="utf-8")
    head = base.read_text(encoding="utf-8")
    assert "-> MobileOne_S0_32x32_nv12.bin" in head and "1x3x32x32" in head and "--config mobileone_s0_x5.yaml" in head
    out = S.variant_yaml("mobileone_s0", "x5", ["/stem/reparam_conv/Conv"], tmp_path / "mobileone_s0_x5_kept.yaml",
                         base=base)
    text = out.read_text(encoding="utf-8")
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert any("-> MobileOne_S0_32x32_nv12.bin" in ln for ln in header)
    assert any("--config mobileone_s0_x5_kept.yaml" in ln for ln in header)
    assert any("--input-shape data 1x3x32x32" in ln for ln in header)
    assert "224" not in "\n".join(header) and "--config mobileone_s0_x5.yaml" not in text
    assert yaml.safe_load(text)["model_parameters"]["output_model_file_prefix"] == "MobileOne_S0_32x32_nv12"


def test_retitle_follows_the_body_not_the_registry():
    header = ["# X5 mapper config for k: float ONNX -> A_224x224_nv12.bin",
              "#   hb_mapper checker --model m.onnx --input-shape data 1x3x224x224",
              "#   hb_mapper makertbin --config base.yaml --model-type onnx", "# unrelated -> line"]
    cfg = {"model_parameters": {"output_model_file_prefix": "B_64x48_nv12"},
           "input_parameters": {"input_shape": "1x3x48x64"}}
    assert S.retitle(header, cfg, "base.yaml", "v.yaml").splitlines() == [
        "# X5 mapper config for k: float ONNX -> B_64x48_nv12.bin",
        "#   hb_mapper checker --model m.onnx --input-shape data 1x3x48x64",
        "#   hb_mapper makertbin --config v.yaml --model-type onnx", "# unrelated -> line"]
