"""Calibration data: the yaml's training-side preprocessing, raw float32 files, bad folders."""
import shutil
import stat

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers.pc import calib
from helpers.board import registry
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.files import DATA_DIR
from helpers.board.image import find_images, sample_images


def photos(tmp_path, names=("chelsea.jpg", "coffee.jpg", "rocket.jpg")):
    d = tmp_path / "imgs"
    d.mkdir()
    for n in names:
        shutil.copy(DATA_DIR / n, d / n)
    return d


def test_sample_images_are_shipped():
    paths = sample_images()
    assert len(paths) >= 4 and all(p.is_file() for p in paths)
    assert sum(p.stat().st_size for p in paths) < 1_000_000
    readme = (DATA_DIR / "README.md").read_text()
    assert all(p.name in readme for p in paths) and "CC0" in readme


def test_samples_are_raw_float32_rgb_nchw_unnormalised(tmp_path):
    imgs = photos(tmp_path)
    out = calib.write_calibration("mobileone_s0", imgs, tmp_path / "cal_f32", progress=False)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["00000_chelsea.rgb", "00001_coffee.rgb", "00002_rocket.rgb"]
    h, w = registry.get("mobileone_s0").input_size
    for f in files:
        assert f.stat().st_size == 3 * h * w * 4          # headerless: exactly the float32 payload
    # independent reference: OpenCV decode + bilinear stretch to the deployed size (600x400 shrinks by
    # less than 2x on one axis: no box pre-step), RGB, CHW, 0..255
    bgr = cv2.imread(str(imgs / "coffee.jpg"))
    assert bgr.shape[:2] == (400, 600)
    ref = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (w, h), interpolation=cv2.INTER_LINEAR)
    got = np.fromfile(files[1], dtype=np.float32).reshape(3, h, w)
    assert got.max() > 1.5 and got.min() >= 0 and got.max() <= 255      # not normalised
    assert np.abs(got.transpose(1, 2, 0) - ref.astype(np.float32)).mean() < 1.0   # decoders differ by rounding
    assert np.array_equal(calib.read_sample(files[1], (h, w))[0], got)
    # the folder is what the committed yaml names and check-yaml accepts it
    assert out.name.endswith("_f32") and registry.get("mobileone_s0").calib_dir.name == "mobileone_s0_f32"
    assert stat.S_IMODE(out.stat().st_mode) & 0o055   # an ordinary folder, not a private temp dir


def test_count_is_spread_and_deterministic(tmp_path):
    imgs = photos(tmp_path, ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "camera.jpg", "hubble_deep_field.jpg"))
    (imgs / "sub").mkdir()
    shutil.copy(DATA_DIR / "chelsea.jpg", imgs / "sub" / "z.jpg")
    (imgs / "notes.txt").write_text("not an image")
    found = [p.relative_to(imgs).as_posix() for p in find_images(imgs)]
    assert found == sorted(found) and "sub/z.jpg" in found and len(found) == 6
    with pytest.warns(calib.GrayscaleImageWarning):
        a = calib.write_calibration("mobileone_s0", imgs, tmp_path / "a", count=3, progress=False)
    names = [f.name.split("_", 1)[1] for f in sorted(a.iterdir())]
    # sorted: camera chelsea coffee hubble rocket sub/z -> indices 0, 2, 5 (first, middle, last)
    assert names == ["camera.rgb", "coffee.rgb", "z.rgb"]
    with pytest.warns(calib.GrayscaleImageWarning):
        b = calib.write_calibration("mobileone_s0", imgs, tmp_path / "b", count=3, progress=False)
    assert [f.read_bytes() for f in sorted(a.iterdir())] == [f.read_bytes() for f in sorted(b.iterdir())]


def test_grayscale_image_is_converted_with_a_warning(tmp_path):
    d = tmp_path / "gray"
    d.mkdir()
    Image.open(DATA_DIR / "chelsea.jpg").convert("L").save(d / "gray.png")
    with pytest.warns(calib.GrayscaleImageWarning, match="grayscale"):
        out = calib.write_calibration("mobilenetv1_100", d, tmp_path / "cal", progress=False)
    x = np.fromfile(next(out.iterdir()), np.float32).reshape(3, 224, 224)
    assert np.array_equal(x[0], x[1]) and np.array_equal(x[1], x[2]) and x.std() > 10


def test_empty_or_imageless_folder_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HelpersError, match="no images") as e:
        calib.write_calibration("mobileone_s0", empty, tmp_path / "out", progress=False)
    assert "\n" not in str(e.value)
    (empty / "readme.txt").write_text("x")
    (empty / ".hidden.jpg").write_bytes(b"x")
    with pytest.raises(HelpersError, match="no images"):
        calib.write_calibration("mobileone_s0", empty, tmp_path / "out", progress=False)
    with pytest.raises(HelpersError, match="not found"):
        calib.write_calibration("mobileone_s0", tmp_path / "nope", tmp_path / "out", progress=False)
    with pytest.raises(HelpersError, match="not a folder"):
        calib.write_calibration("mobileone_s0", DATA_DIR / "chelsea.jpg", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_unreadable_images(tmp_path):
    d = photos(tmp_path, ("chelsea.jpg",))
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        out = calib.write_calibration("mobileone_s0", d, tmp_path / "cal", progress=False)
    assert len(list(out.iterdir())) == 1
    bad = tmp_path / "allbad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"nope")
    (bad / "b.png").write_bytes(b"")
    with pytest.raises(HelpersError, match="none of the 2 images"):
        calib.write_calibration("mobileone_s0", bad, tmp_path / "cal2", progress=False)
    assert not (tmp_path / "cal2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp leftovers


def test_unreadable_folder(tmp_path, monkeypatch):
    d = photos(tmp_path)

    def denied(self, pattern):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(d), "rglob", denied)
    with pytest.raises(HelpersError, match="cannot read .*Permission denied"):
        calib.write_calibration("mobileone_s0", d, tmp_path / "cal", progress=False)


def test_overwrite_rules(tmp_path):
    d = photos(tmp_path, ("chelsea.jpg", "coffee.jpg"))
    out = calib.write_calibration("mobileone_s0", d, tmp_path / "cal", progress=False)
    with pytest.raises(HelpersError, match="--overwrite"):
        calib.write_calibration("mobileone_s0", d, out, count=1, progress=False)
    assert len(list(out.iterdir())) == 2
    calib.write_calibration("mobileone_s0", d, out, count=1, overwrite=True, progress=False)
    assert len(list(out.iterdir())) == 1
    (out / "my_notes.md").write_text("mine")
    with pytest.raises(HelpersError, match="not calibration samples"):
        calib.write_calibration("mobileone_s0", d, out, overwrite=True, progress=False)
    assert (out / "my_notes.md").exists()
    with pytest.raises(HelpersError, match="at least 1"):
        calib.write_calibration("mobileone_s0", d, tmp_path / "c0", count=0, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal", "imgs"]


def test_cli_calib(tmp_path, capsys):
    d = photos(tmp_path, ("chelsea.jpg", "camera.jpg"))
    shutil.copy(DATA_DIR / "camera.jpg", d / "camera.jpg")
    assert main(["calib", "mobilenetv4_conv_small", "--images", str(d), "--out", str(tmp_path / "c_f32")]) == 0
    text = capsys.readouterr().out
    assert "wrote 2 samples" in text and "warning: 1 grayscale" in text
    assert main(["calib", "mobilenetv4_conv_small", "--images", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "error: image folder not found" in capsys.readouterr().err
