"""helpers.board.registry against timm's pretrained_cfg, for every key the registry lists."""

import pytest

from helpers.board import registry
from helpers.errors import HelpersError


def test_the_registry_covers_the_project_scope():
    """The one place the scope is stated outside the registry: the models and boards the project promises
    (the top-level README). Every other test loops over the registry."""
    assert sorted(registry.MODELS) == sorted([
        "mobileone_s0", "mobileone_s1", "mobileone_s2", "mobileone_s3", "mobileone_s4",
        "mobilenetv1_100", "mobilenetv3_large_100", "mobilenetv4_conv_small", "mobilenetv4_conv_medium"])
    assert {k: b.march for k, b in registry.BOARDS.items()} == {
        "x3": "bernoulli2", "x5": "bayes-e", "s100": "nash-e", "s100p": "nash-m", "s600": "nash-p"}


@pytest.mark.parametrize("key", list(registry.MODELS))
def test_spec_is_consistent(key):
    spec = registry.get(key)
    assert spec.arch in registry.ARCHS and key in registry.keys(spec.arch)
    assert set(spec.boards) <= set(registry.BOARDS) and spec.boards
    assert {p.board for p in spec.published} <= set(spec.boards)
    assert spec.float_onnx_path.parent.name == spec.arch == spec.yaml_path(spec.boards[0]).parent.name
    assert spec.yaml_path("x5").name == f"{key}_x5.yaml" and spec.board_onnx_path.stem == spec.bin_stem
    assert spec.bin_candidates("x5")[0] == spec.bin_path


def test_unknown_board_is_one_line():
    with pytest.raises(HelpersError, match="unknown board 'x7'"):
        registry.get("mobileone_s0").yaml_path("x7")


@pytest.mark.parametrize("key", list(registry.MODELS))
def test_registry_matches_timm_pretrained_cfg(key):
    import timm

    spec = registry.get(key)
    cfg = timm.models.get_pretrained_cfg(spec.timm_id)
    assert cfg is not None, f"timm has no pretrained tag {spec.timm_id}"
    assert tuple(cfg.mean) == spec.mean and tuple(cfg.std) == spec.std
    assert tuple(cfg.input_size[1:]) == spec.input_size
    assert cfg.crop_pct == spec.crop_pct and cfg.interpolation == spec.interpolation
    assert cfg.num_classes == spec.num_classes
    assert cfg.hf_hub_id == spec.hf_hub_id


def test_unknown_key_suggests():
    with pytest.raises(HelpersError, match="did you mean mobilenetv3_large_100"):
        registry.get("mobilenetv3_large")


#: The RDK Model Zoo's 12 classification .bin files for these models, as its download scripts list them:
#: D-Robotics/rdk_model_zoo, branch main, samples/vision/classification/<Arch>/model/download.sh (RDK X5) and
#: branch rdk_x3, demos/classification/<Arch>/model/download.sh (RDK X3). Figures from the README.md beside each
#: (params M, float top-1, quantised top-1, 1-thread ms, multi-thread ms, FPS).
ZOO_FILES = {
    ("mobileone_s0", "x5"): ("rdk_x5/MobileOne_S0_224x224_nv12.bin", (2.1, 69.25, 67.58, 0.80, 1.59, 2453.17)),
    ("mobileone_s1", "x5"): ("rdk_x5/MobileOne_S1_224x224_nv12.bin", (4.8, 72.31, 70.45, 1.31, 3.69, 1066.95)),
    ("mobileone_s2", "x5"): ("rdk_x5/MobileOne_S2_224x224_nv12.bin", (7.8, 74.75, 71.25, 2.11, 6.04, 653.68)),
    ("mobileone_s3", "x5"): ("rdk_x5/MobileOne_S3_224x224_nv12.bin", (10.1, 77.27, 75.75, 2.93, 9.04, 437.85)),
    ("mobileone_s4", "x5"): ("rdk_x5/MobileOne_S4_224x224_nv12.bin", (14.8, 78.75, 76.50, 4.58, 15.44, 256.52)),
    ("mobilenetv1_100", "x5"): ("rdk_x5/mobilenetv1_224x224_nv12.bin", (1.33, 71.74, 65.36, 1.27, 2.90, 1356.25)),
    ("mobilenetv3_large_100", "x5"): ("rdk_x5/MobileNetV3_224x224_nv12.bin", (5.47, 74.75, 64.75, 2.02, 5.53, 714.22)),
    ("mobilenetv4_conv_small", "x5"): ("rdk_x5/MobileNetV4_conv_small_224x224_nv12.bin",
                                       (3.76, 70.75, 68.75, 1.18, 2.74, 1436.22)),
    ("mobilenetv4_conv_medium", "x5"): ("rdk_x5/MobileNetV4_conv_medium_224x224_nv12.bin",
                                        (9.68, 76.75, 75.14, 2.42, 6.91, 572.36)),
    # X3: the MobileOne file is S1 (its yaml converts mobileone_s1.onnx), the MobileNetV4 one conv_small
    ("mobileone_s1", "x3"): ("rdk_x3/MobileOne_224x224_nv12.bin", (4.8, 72.00, 71.00, 4.50, 8.70, 455.87)),
    ("mobilenetv1_100", "x3"): ("rdk_x3/mobilenetv1_224x224_nv12.bin", (1.33, 71.74, 65.36, 3.44, 6.10, 647.83)),
    ("mobilenetv4_conv_small", "x3"): ("rdk_x3/MobileNetV4_224x224_nv12.bin", (3.76, 70.50, 70.26, 1.43, 2.96, 1309.17)),
}


def test_the_registry_holds_the_zoos_twelve_bin_files():
    got = {(k, p.board): p for k, p in registry.published_files() if p.board in ("x3", "x5")}
    assert sorted(got) == sorted(ZOO_FILES)
    for (key, board), (tail, figures) in ZOO_FILES.items():
        p = got[key, board]
        assert p.bin_url == f"{registry.BIN_BASE_URL}/{tail}"
        assert (p.params_m, p.float_top1, p.quant_top1, p.latency_1t_ms, p.latency_mt_ms, p.fps) == figures
        assert p.source.startswith(registry.ZOO_URL) and ("rdk_x3" in p.source) == (board == "x3")


def test_published_files_land_on_distinct_paths_that_name_their_board():
    paths = {}
    for key, p in registry.published_files():
        path = registry.get(key).published_bin_path(p.board)
        assert path.parent.name == f"rdk_{p.board}" and registry.board_of_path(path) == p.board
        assert path.suffix == registry.board(p.board).suffix
        paths.setdefault(path, []).append((key, p.board))
    assert all(len(v) == 1 for v in paths.values()), paths  # the X3 and X5 mobilenetv1 files share a name (S100/S600 too)
    assert registry.board_of_path("model/MobileOne/MobileOne_S0_224x224_nv12.bin") is None


#: The S-series .hbm files of these models, as D-Robotics/rdk_model_zoo docs/release/s/models.yaml (branch main)
#: lists them (filename, url; sha256 null for all), with the input the file name states, and the S100 figures of
#: the rdk_s sample READMEs ("hrt_model_exec perf", 1 thread: ms; 3 threads: ms, FPS). S600: no figures.
#: S100P: the manifest has no file of these models. MobileOne: no S file.
S_FILES = {
    ("mobilenetv1_100", "s100"): ("rdk_s100/MobileNet/mobilenetv1_224x224_nv12.hbm", 224, None),
    ("mobilenetv1_100", "s600"): ("rdk_s600/MobileNet/mobilenetv1_224x224_nv12.hbm", 224, None),
    ("mobilenetv3_large_100", "s100"): ("rdk_s100/MobileNet/mobilenetv3_224x224_nv12.hbm", 224, (0.543, 0.881, 3276.057)),
    ("mobilenetv3_large_100", "s600"): ("rdk_s600/MobileNet/mobilenetv3_224x224_nv12.hbm", 224, None),
    ("mobilenetv4_conv_small", "s100"): ("rdk_s100/MobileNet/mobilenetv4_small_224x224_nv12.hbm", 224,
                                         (0.388, 0.557, 5130.441)),
    ("mobilenetv4_conv_small", "s600"): ("rdk_s600/MobileNet/mobilenetv4_small_224x224_nv12.hbm", 224, None),
    ("mobilenetv4_conv_medium", "s100"): ("rdk_s100/MobileNet/mobilenetv4_medium_256x256_nv12.hbm", 256,
                                          (0.595, 0.962, 3000.570)),
    ("mobilenetv4_conv_medium", "s600"): ("rdk_s600/MobileNet/mobilenetv4_medium_256x256_nv12.hbm", 256, None),
}


def test_the_registry_holds_the_zoos_s_series_hbm_files():
    got = {(k, p.board): p for k, p in registry.published_files() if registry.board(p.board).is_s}
    assert sorted(got) == sorted(S_FILES)
    for (key, board), (tail, side, figures) in S_FILES.items():
        p = got[key, board]
        assert p.bin_url == f"{registry.BIN_BASE_URL}/{tail}" and p.bin_name.endswith(".hbm")
        assert p.input_size == (side, side) and p.sha256 is None and p.url_source == registry.S_MANIFEST
        assert (p.latency_1t_ms, p.latency_mt_ms, p.fps) == (figures or (None, None, None))
        assert p.float_top1 is None and p.quant_top1 is None  # the zoo publishes no S-series top-1 for them
        assert (p.threads_mt == 3) == (figures is not None)


@pytest.mark.parametrize("key,suffix,inputs,tool,zoo", [
    ("x3", ".bin", "packed", "hb_mapper", "rdk_x3"), ("x5", ".bin", "packed", "hb_mapper", "rdk_x5"),
    ("s100", ".hbm", "split", "hb_compile", "rdk_s100"), ("s100p", ".hbm", "split", "hb_compile", "rdk_s100p"),
    ("s600", ".hbm", "split", "hb_compile", "rdk_s600")])
def test_board_objects_carry_the_toolchain_contract(key, suffix, inputs, tool, zoo):
    b = registry.board(key)
    assert (b.suffix, b.nv12_inputs, b.compiler, b.zoo_dir) == (suffix, inputs, tool, zoo)
    assert registry.board(b) is b  # resolved once, passed down as the object
    assert ("hbm_runtime" in b.runtimes) == (b.is_s or key == "x5")
    spec = registry.get("mobilenetv4_conv_small")
    assert spec.built_path(b).name == spec.bin_stem + suffix and spec.bin_candidates(key)[0] == spec.built_path(key)
    # the PC stand-ins of the two contracts never share a file (packed for .bin, split for .hbm)
    assert spec.board_onnx_for(b) == (spec.board_onnx_path if not b.is_s else
                                      spec.board_onnx_path.with_name(f"{spec.bin_stem}_{key}.onnx"))


def test_board_of_path_reads_the_zoos_s_layouts():
    assert registry.board_of_path("model/MobileNetV4/rdk_s600/mobilenetv4_small_224x224_nv12.hbm") == "s600"
    assert registry.board_of_path("samples/vision/mobilenetv4/model/s100/m.hbm") == "s100"
    assert registry.board_of_path("dinov2/nash-m/d.hbm") == "s100p"
    assert registry.board_of_path("model/MobileNetV4/m.hbm") is None


def test_unknown_board_suggests_the_close_one():
    with pytest.raises(HelpersError, match=r"unknown board 's10'.*did you mean s100"):
        registry.board("s10")


def test_every_published_file_records_its_nv12_range_and_output_with_sources():
    from helpers.board import nv12

    for key, p in registry.published_files():
        assert p.yuv_range in nv12.RANGES and p.yuv_range_source, (key, p.board)
        assert not p.output_is_probability or p.output_source, (key, p.board)
    # the S configs whose output names match the published .hbm files have no input_space_and_range (regular)
    for key in ("mobilenetv3_large_100", "mobilenetv4_conv_small", "mobilenetv4_conv_medium"):
        for b in ("s100", "s600"):
            assert registry.get(key).published_for(b).yuv_range == "full", (key, b)
    v1 = registry.get("mobilenetv1_100").published_for("s100")
    assert v1.output_is_probability and "ptq_s.yaml" in v1.yuv_range_source


def test_s_parameter_counts_name_a_source_that_publishes_them():
    for b in ("s100", "s600"):
        small = registry.get("mobilenetv4_conv_small").published_for(b)
        medium = registry.get("mobilenetv4_conv_medium").published_for(b)
        assert (small.params_m, medium.params_m) == (3.761480, 9.681560)
        assert "conversion/README.md" in small.params_source and "3,761,480" in small.params_source
        v3 = registry.get("mobilenetv3_large_100").published_for(b)
        assert v3.params_m == 5.47 and registry.S_MANIFEST not in v3.params_source and v3.params_source
