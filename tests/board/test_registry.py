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
    assert {b.march for b in registry.BOARDS.values()} == {"bernoulli2", "bayes-e"}


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
