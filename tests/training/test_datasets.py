"""The bundled digits and the dataset readers (ImageFolder, ImageNet val layouts), incl. bad inputs."""
import json
import re

import cv2
import numpy as np
import pytest

from helpers.training import datasets
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.labels import imagenet_synsets_and_labels


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def _solid(colour, size=16):
    return np.full((size, size, 3), colour, np.uint8)


@pytest.fixture(scope="module")
def digits16(tmp_path_factory):
    return datasets.make_digits(tmp_path_factory.mktemp("d") / "digits", size=16, progress=False)


def _indices(root, split):
    return {int(p.stem): int(p.parent.name) for p in (root / split).rglob("*.png")}


def test_digits_split_is_stratified_disjoint_and_complete(digits16):
    from sklearn.datasets import load_digits

    target = load_digits().target
    train, val = _indices(digits16, "train"), _indices(digits16, "val")
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(range(len(target)))
    for idx, label in {**train, **val}.items():   # each file sits in its sklearn label's folder
        assert label == target[idx]
    for c in range(10):
        n_val = sum(1 for v in val.values() if v == c)
        n_all = int((target == c).sum())
        assert abs(n_val / n_all - datasets.DIGITS_VAL_FRACTION) < 0.02, (c, n_val, n_all)
    info = json.loads((digits16 / "dataset.json").read_text())
    assert info["train_images"] == len(train) and info["val_images"] == len(val) and info["size"] == 16


def test_digits_images_are_the_sklearn_digits_in_colour(digits16):
    from sklearn.datasets import load_digits

    images = load_digits().images
    files = sorted((digits16 / "val").rglob("*.png"))[::40]
    gray_pairs = 0
    for f in files:
        rgb = cv2.imread(str(f))[:, :, ::-1].astype(np.float64)
        assert rgb.shape == (16, 16, 3)
        # project every pixel on the line between the two colours: it must follow the 8x8 digit
        flat = rgb.reshape(-1, 3)
        lo, hi = flat[flat.sum(1).argmin()], flat[flat.sum(1).argmax()]
        t = ((flat - lo) @ (hi - lo)) / max(float((hi - lo) @ (hi - lo)), 1e-9)
        small = cv2.resize(t.reshape(16, 16).astype(np.float32), (8, 8), interpolation=cv2.INTER_AREA)
        corr = np.corrcoef(small.ravel(), images[int(f.stem)].ravel())[0, 1]
        assert abs(corr) > 0.8, (f, corr)
        gray_pairs += int(np.ptp(rgb.reshape(-1, 3).mean(0)) < 1.0 and np.allclose(rgb[..., 0], rgb[..., 1]))
    assert gray_pairs < len(files) / 4, "digits must be tinted, not gray"


def test_digits_are_deterministic_and_reused(digits16, tmp_path):
    other = datasets.make_digits(tmp_path / "again", size=16, progress=False)
    for f in sorted((digits16 / "val" / "7").glob("*.png"))[:5]:
        assert (other / "val" / "7" / f.name).read_bytes() == f.read_bytes()
    before = (other / "dataset.json").stat().st_mtime_ns
    assert datasets.make_digits(other, size=16, progress=False) == other   # same parameters: left alone
    assert (other / "dataset.json").stat().st_mtime_ns == before


def test_digits_refuse_to_replace_a_different_dataset(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "digits", "--out", str(out), "--size", "12"]) == 0
    capsys.readouterr()
    assert main(["data", "digits", "--out", str(out), "--size", "14"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--overwrite" in err[0]
    assert main(["data", "digits", "--out", str(out), "--size", "14", "--overwrite"]) == 0
    assert json.loads((out / "dataset.json").read_text())["size"] == 14
    assert main(["data", "digits", "--out", str(out), "--size", "15"]) == 2   # odd: NV12 needs even


# ---- readers ------------------------------------------------------------------------------------
def test_image_folder_reads_classes_sorted(tmp_path):
    for name in ("b", "a"):
        for i in range(2):
            _write(tmp_path / name / f"sub/{i}.png", _solid(10 * i))
    s = datasets.image_folder(tmp_path)
    assert s.classes == ["a", "b"] and len(s) == 4 and s.targets == [0, 0, 1, 1]
    assert s.layout == "imagefolder"


def test_one_class_is_refused(tmp_path):
    _write(tmp_path / "only" / "x.png", _solid(1))
    with pytest.raises(HelpersError, match="only one class"):
        datasets.image_folder(tmp_path)


def test_class_folders_without_images_are_refused(tmp_path):
    _write(tmp_path / "a" / "x.png", _solid(1))
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("no image")
    with pytest.raises(HelpersError, match=r"no images.*b, c"):
        datasets.image_folder(tmp_path)


def test_loose_images_and_missing_folder_are_explained(tmp_path):
    _write(tmp_path / "x.png", _solid(1))
    with pytest.raises(HelpersError, match="no class folders"):
        datasets.image_folder(tmp_path)
    with pytest.raises(HelpersError, match="not found.*data digits"):
        datasets.load_split(tmp_path / "nope")


def test_load_split_uses_the_split_folder_when_present(tmp_path):
    for split in ("train", "val"):
        for c in ("x", "y"):
            _write(tmp_path / split / c / "1.png", _solid(3))
    assert datasets.load_split(tmp_path, "val").root == tmp_path / "val"
    assert datasets.load_split(tmp_path / "val", "val").root == tmp_path / "val"


def test_val_classes_differing_from_training_are_refused(tmp_path):
    for split, classes in (("train", "ab"), ("val", "ac")):
        for c in classes:
            _write(tmp_path / split / c / "1.png", _solid(3))
    tr, va = datasets.load_split(tmp_path, "train"), datasets.load_split(tmp_path, "val")
    with pytest.raises(HelpersError, match=r"val classes differ.*only in train: b.*only in val: c"):
        datasets.check_same_classes(tr, va)


def test_model_targets_match_by_name_not_by_position(tmp_path):
    for c in ("cat", "dog"):
        _write(tmp_path / c / "1.png", _solid(3))
    s = datasets.image_folder(tmp_path)
    t, how = datasets.model_targets(s, ["dog", "cat", "eel"], 3)
    assert list(t) == [1, 0] and "name" in how
    with pytest.raises(HelpersError, match="val classes differ from the model's training classes: cat"):
        datasets.model_targets(s, ["dog", "eel"], 2)
    with pytest.raises(HelpersError, match="no class names"):
        datasets.model_targets(s, None, 2)


def test_imagenet_synset_folders_map_to_imagenet_indices(tmp_path):
    synsets = imagenet_synsets_and_labels()[0]
    for i in (7, 321):
        _write(tmp_path / synsets[i] / "ILSVRC2012_val_1.JPEG", _solid(5))
    s = datasets.image_folder(tmp_path)
    assert s.layout == "imagenet-synsets"
    t, _ = datasets.model_targets(s, None, 1000)
    assert list(t) == [7, 321]


def test_file_list_with_indices_synsets_and_kaggle_csv(tmp_path):
    synsets = imagenet_synsets_and_labels()[0]
    for i in range(3):
        _write(tmp_path / "img" / f"ILSVRC2012_val_{i:08d}.JPEG", _solid(i))
    (tmp_path / "val.txt").write_text("".join(f"ILSVRC2012_val_{i:08d}.JPEG {i * 100}\n" for i in range(3)))
    s = datasets.file_list(tmp_path / "img", tmp_path / "val.txt")
    assert s.classes is None and datasets.model_targets(s, None, 1000)[0].tolist() == [0, 100, 200]
    (tmp_path / "syn.txt").write_text("".join(f"ILSVRC2012_val_{i:08d}.JPEG {synsets[900 + i]}\n" for i in range(3)))
    s = datasets.load_split(tmp_path / "img", labels_file=tmp_path / "syn.txt")
    assert datasets.model_targets(s, None, 1000)[0].tolist() == [900, 901, 902]
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n" + "".join(f"ILSVRC2012_val_{i:08d},{synsets[5 + i]} 1 2 3 4\n" for i in range(3)))
    s = datasets.file_list(tmp_path / "img", tmp_path / "LOC_val_solution.csv")
    assert datasets.model_targets(s, None, 1000)[0].tolist() == [5, 6, 7]


def test_file_list_bad_inputs(tmp_path):
    _write(tmp_path / "img" / "a.png", _solid(1))
    (tmp_path / "bad.txt").write_text("a.png\n")
    with pytest.raises(HelpersError, match=r"line 1: expected '<image> <label>'"):
        datasets.file_list(tmp_path / "img", tmp_path / "bad.txt")
    (tmp_path / "missing.txt").write_text("a.png 1\nb.png 2\n")
    with pytest.raises(HelpersError, match="names 'b.png'"):
        datasets.file_list(tmp_path / "img", tmp_path / "missing.txt")
    (tmp_path / "mixed.txt").write_text("a.png cat\n")
    with pytest.raises(HelpersError, match="class indices or all synsets"):
        datasets.file_list(tmp_path / "img", tmp_path / "mixed.txt")


def test_data_command_is_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert re.search(r"\bdata\b", out) and re.search(r"\btrain\b", out) and re.search(r"\beval\b", out)
