"""Evaluation on every backend we can run here, with models whose accuracy is known by construction."""
import json

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers.training import evaluate as E
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.labels import imagenet_synsets_and_labels
from helpers.board.meta import META_LABELS, META_MEAN, META_STD

SIZE = 16
COLOURS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 230)}


def colour_model(path, channel_to_class, num_outputs, labels=None, size=SIZE):
    """data (1,3,H,W) -> global mean per channel -> output[channel_to_class[c]] = mean of channel c.

    On solid-colour images its top-1 is the dominant channel's class: the expected accuracy is
    known without running any of the code under test.
    """
    w = np.zeros((3, num_outputs), np.float32)
    for c, k in enumerate(channel_to_class):
        w[c, k] = 1.0
    b = np.linspace(-0.01, -0.02, num_outputs).astype(np.float32)   # ties broken away from 0
    g = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "w", "b"], ["output"])],
        "colour", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, num_outputs])],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel()),
         helper.make_tensor("b", TensorProto.FLOAT, b.shape, b)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 6
    meta = {META_MEAN: json.dumps([0.0, 0.0, 0.0]), META_STD: json.dumps([1.0, 1.0, 1.0])}
    if labels is not None:
        meta[META_LABELS] = json.dumps(labels)
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))
    return path


def colour_folder(root, names=COLOURS, n=3, size=24):
    for name in names:
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = np.full((size, size, 3), COLOURS[name], np.uint8)
            img[i, i] = (128, 128, 128)
            assert cv2.imwrite(str(d / f"{i}.png"), img[:, :, ::-1])
    return root


def test_float_onnx_accuracy_by_class_name(tmp_path):
    colour_folder(tmp_path / "data" / "val")
    # model class order differs from the sorted folder order: matching must go by name
    model = colour_model(tmp_path / "m.onnx", channel_to_class=[1, 2, 0], num_outputs=3, labels=["blue", "red", "green"])
    res = E.evaluate(model, tmp_path / "data", progress=False)
    assert (res.top1, res.images, res.kind) == (100.0, 9, E.KIND_FLOAT)
    wrong = colour_model(tmp_path / "w.onnx", channel_to_class=[2, 1, 0], num_outputs=3, labels=["blue", "red", "green"])
    res = E.evaluate(wrong, tmp_path / "data", progress=False)   # swaps red and blue: only green right
    assert res.top1 == pytest.approx(100.0 / 3) and res.top5 == 100.0
    assert res.images_per_s > 0 and res.latency_ms > 0


def test_val_classes_unknown_to_the_model_are_refused(tmp_path):
    data = colour_folder(tmp_path / "val")
    model = colour_model(tmp_path / "m.onnx", [0, 1, 2], 3, labels=["red", "green", "cyan"])
    with pytest.raises(HelpersError, match="val classes differ from the model's training classes: blue"):
        E.evaluate(model, data, progress=False)


def test_imagenet_synset_layout_and_file_list(tmp_path):
    syn = imagenet_synsets_and_labels()[0]
    idx = {"red": 10, "green": 500, "blue": 999}
    model = colour_model(tmp_path / "in.onnx", [idx["red"], idx["green"], idx["blue"]], 1000)
    val = tmp_path / "val"
    for name, i in idx.items():
        colour_folder(tmp_path / "tmp", names=[name])
        val.mkdir(exist_ok=True)
        (tmp_path / "tmp" / name).rename(val / syn[i])
    res = E.evaluate(model, val, progress=False)
    assert res.top1 == 100.0 and res.class_match == "ImageNet synsets"
    flat = tmp_path / "flat"
    flat.mkdir()
    lines = []
    for d in sorted(val.iterdir()):
        for f in d.iterdir():
            f.rename(flat / f"{d.name}_{f.name}")
            lines.append(f"{d.name}_{f.name} {syn.index(d.name)}")
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    res = E.evaluate(model, flat, labels_file=tmp_path / "val.txt", progress=False, limit=4)
    assert res.top1 == 100.0 and res.images == 4


def test_int8_and_board_model_kinds_are_reported(tmp_path):
    src = colour_model(tmp_path / "m.onnx", [0, 1, 2], 3, labels=list(COLOURS))
    m = onnx.load(str(src))
    m.metadata_props.add(key=E.META_QUANT, value="{}")
    onnx.save(m, str(tmp_path / "q.onnx"))
    data = colour_folder(tmp_path / "val")
    assert E.evaluate(tmp_path / "q.onnx", data, progress=False).kind == E.KIND_INT8


def _identity_yaml(tmp_path, march: str, space: str):
    """A mapper yaml for ``m.onnx`` with no normalisation (mean 0, scale 1), for ``march`` and NV12 ``space``."""
    import yaml

    cfg = {"model_parameters": {"onnx_model": "m.onnx", "march": march, "output_model_file_prefix": "m"},
           "input_parameters": {"input_name": "data", "input_type_rt": "nv12", "input_space_and_range": space,
                                "input_type_train": "rgb", "input_layout_train": "NCHW",
                                "input_shape": f"1x3x{SIZE}x{SIZE}", "norm_type": "data_mean_and_scale",
                                "mean_value": "0 0 0", "scale_value": "1 1 1"}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_nv12_board_model_and_bin_path(tmp_path, monkeypatch):
    """The NV12 board model scores what the float model scores on the same images."""
    from helpers.pc.board_model import build_board_model

    data = colour_folder(tmp_path / "val")
    src = colour_model(tmp_path / "m.onnx", [0, 1, 2], 3, labels=list(COLOURS))
    board = build_board_model(src, _identity_yaml(tmp_path, "bayes-e", "regular"), out=tmp_path / "m_nv12.onnx")
    res = E.evaluate(board, data, progress=False)
    assert res.kind == E.KIND_NV12 and res.top1 == 100.0


def test_s_series_board_model_is_evaluated_too(tmp_path):
    """eval on the S-series board model (split NV12 y + uv, limited range, as the .hbm): the same top-1."""
    from helpers.pc.board_model import build_board_model

    data = colour_folder(tmp_path / "val")
    src = colour_model(tmp_path / "m.onnx", [0, 1, 2], 3, labels=list(COLOURS))
    board = build_board_model(src, _identity_yaml(tmp_path, "nash-e", "bt601_video"), out=tmp_path / "m_s100.onnx")
    assert [i.name for i in onnx.load(str(board)).graph.input] == ["y", "uv"]
    res = E.evaluate(board, data, progress=False)
    assert res.kind == E.KIND_NV12 and res.top1 == 100.0


def test_checkpoint_from_train_is_evaluated_with_torch(tmp_path):
    from test_train import KW, make_dataset

    from helpers.training.train import train

    data = make_dataset(tmp_path / "data")
    run = train("mobileone_s0", data, epochs=1, out=tmp_path / "run", **KW)
    res = E.evaluate(run.checkpoint, data, progress=False)
    assert res.kind == E.KIND_TORCH and res.images == 6 and res.key == "mobileone_s0"
    # the same images through the torch model directly: the same top-1
    import torch

    from helpers.training.datasets import load_split
    from helpers.board.image import load_image, normalize_nchw
    from helpers.training.train import load_trained_model

    model, info = load_trained_model(run.checkpoint)
    val = load_split(data, "val")
    hits = 0
    for p, t in zip(val.paths, val.targets):
        x = torch.from_numpy(normalize_nchw(load_image(p), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
        with torch.no_grad():
            hits += int(model(x).argmax().item() == info.classes.index(val.classes[t]))
    assert res.top1 == pytest.approx(100.0 * hits / len(val))


def test_cli_json_and_overwrite(tmp_path, capsys):
    data = colour_folder(tmp_path / "val")
    model = colour_model(tmp_path / "m.onnx", [0, 1, 2], 3, labels=list(COLOURS))
    out = tmp_path / "r.json"
    assert main(["eval", str(model), "--data", str(data), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["top1"] == 100.0 and doc["images"] == 9 and doc["kind"] == E.KIND_FLOAT
    capsys.readouterr()
    assert main(["eval", str(model), "--data", str(data), "--json", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nope.onnx"), "--data", str(data)]) == 2
