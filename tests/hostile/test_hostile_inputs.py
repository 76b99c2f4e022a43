"""Hostile inputs at the command line (in-process, ``helpers.cli.main``): configs, arguments, files, outputs.

Every case is held to :func:`hostile_kit.assert_refused`: non-zero exit, one line on stderr, no
traceback, the work folder unchanged (nothing new beside the output, no hidden temporary, no
existing file touched) and done within a time bound. ``check-yaml`` reports on stdout instead
(:func:`hostile_kit.assert_checker_refused`).
"""
from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile_kit import assert_checker_refused, assert_refused, run_main, snapshot
from PIL import Image
from testkit import smooth_image, tiny_onnx

from helpers.board import registry

YAML_X5 = registry.get("mobileone_s0").yaml_path("x5")


# ------------------------------------------------------------------------------------------------
# the files a case may need, made once
# ------------------------------------------------------------------------------------------------
def png_header(w: int, h: int) -> bytes:
    """A valid PNG that declares ``w`` x ``h`` pixels with almost no data (what a decompression bomb looks like)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def onnx_model(path, shape, meta=None):
    """A float classifier (average pool + matmul) whose input has ``shape``; ``meta``: its metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nhwc = shape[-1] == 3 and shape[1] != 3
    nodes = [helper.make_node("Transpose", ["data"], ["t"], perm=[0, 3, 1, 2])] if nhwc else []
    nodes += [helper.make_node("GlobalAveragePool", ["t" if nhwc else "data"], ["p"]),
              helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["output"])]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("data", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])],
                          [numpy_helper.from_array(np.ones((3, 3), np.float32), "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 7
    if meta:
        helper.set_model_props(m, meta)
    onnx.save(m, str(path))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    a = tmp_path_factory.mktemp("assets")
    tiny_onnx(str(a / "tiny.onnx"))                                   # 4x4, with mean/std/labels
    onnx_model(a / "float224.onnx", [1, 3, 224, 224])                  # matches the committed yaml
    onnx_model(a / "nhwc.onnx", [1, 224, 224, 3], {"rdk.mean": "[0.5, 0.5, 0.5]", "rdk.std": "[0.5, 0.5, 0.5]"})
    onnx_model(a / "nometa.onnx", [1, 3, 8, 8])
    shutil.copy(YAML_X5, a / "good_x5.yaml")
    (a / "imgs").mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(seed=i)).save(a / "imgs" / f"img{i}.png")
    (a / "bomb.png").write_bytes(png_header(40000, 40000))            # 1.6 G pixels: over twice Pillow's limit
    (a / "bomb_warn.png").write_bytes(png_header(10000, 10000))       # 100 M pixels: over the limit (a warning)
    (a / "truncated.png").write_bytes((a / "imgs" / "img0.png").read_bytes()[:200])
    (a / "garbage.onnx").write_bytes(os.urandom(2000))
    (a / "precious.onnx").write_bytes(b"the user's own model - must survive")
    (a / "precious.json").write_text('{"mine": true}')
    (a / "note.txt").write_text("not a folder")
    for split in ("train", "val"):  # a two-class ImageFolder
        for c in ("a", "b"):
            (a / "data" / split / c).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(smooth_image(40, 40, seed=i + 3 * (c == "b"))).save(a / "data" / split / c / f"{i}.png")
    return a


@pytest.fixture
def ws(tmp_path, assets):
    w = tmp_path / "ws"
    shutil.copytree(assets, w)
    return w


def yaml_variant(ws: Path, name: str = "bad_x5.yaml", **values) -> Path:
    """The committed X5 yaml with some ``input_parameters`` values replaced (raw yaml text)."""
    text = YAML_X5.read_text(encoding="utf-8")
    for k, v in values.items():
        text, n = re.subn(rf"(?m)^  {k}: .*$", f"  {k}: {v}", text)
        assert n == 1, k
    text = text.replace("../../model/MobileOne/mobileone_s0.onnx", "float224.onnx")
    (ws / name).write_text(text, encoding="utf-8")
    return ws / name


def laughs(ws: Path, depth: int = 9) -> Path:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, depth + 1)]
    lines += ["model_parameters: {march: bayes-e, onnx_model: float224.onnx}",
              f"input_parameters: {{input_type_rt: nv12, scale_value: *a{depth}}}"]
    (ws / "laughs_x5.yaml").write_text("\n".join(lines) + "\n")
    return ws / "laughs_x5.yaml"


def fifo(ws: Path, name: str) -> Path:
    os.mkfifo(ws / name)
    return ws / name


def write(ws: Path, name: str, data) -> Path:
    p = ws / name
    p.parent.mkdir(parents=True, exist_ok=True)
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


class Evil:
    """A pickle that would run a command if it were ever unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ------------------------------------------------------------------------------------------------
# the cases: (id, argv from the work folder, expected words in the one line); check-yaml separately
# ------------------------------------------------------------------------------------------------
def B(w):
    """board-model with a float ONNX and yaml that work: only the option under test is wrong."""
    return ["board-model", w / "float224.onnx", w / "good_x5.yaml"]



LONG = "x" * 300 + ".onnx"

CLI_CASES = [
    # configs given to board-model: bounded, regular files only, valid values
    ("yaml-billion-laughs", lambda w: ["board-model", w / "float224.onnx", laughs(w), "--out", w / "o.onnx"], "aliases"),
    ("yaml-recursive-alias", lambda w: ["board-model", w / "float224.onnx", write(w, "r_x5.yaml", "a: &a [*a]\n"),
                                        "--out", w / "o.onnx"], "cycle"),
    ("yaml-fifo", lambda w: ["board-model", w / "float224.onnx", fifo(w, "f_x5.yaml"), "--out", w / "o.onnx"],
     "not a regular file"),
    ("yaml-dev-zero", lambda w: ["board-model", w / "float224.onnx", "/dev/zero", "--out", w / "o.onnx"],
     "not a regular file"),
    ("yaml-directory", lambda w: ["board-model", w / "float224.onnx", w / "imgs", "--out", w / "o.onnx"], "directory"),
    ("yaml-2MB", lambda w: ["board-model", w / "float224.onnx", write(w, "big_x5.yaml", "# x\n" * 600_000),
                            "--out", w / "o.onnx"], "bytes"),
    ("yaml-deep-nesting", lambda w: ["board-model", w / "float224.onnx", write(w, "deep_x5.yaml", "[" * 20_000),
                                     "--out", w / "o.onnx"], "yaml"),
    ("yaml-binary", lambda w: ["board-model", w / "float224.onnx", write(w, "bin_x5.yaml", os.urandom(3000)),
                               "--out", w / "o.onnx"], ""),
    ("yaml-python-tag", lambda w: ["board-model", w / "float224.onnx",
                                   write(w, "tag_x5.yaml", "a: !!python/object/apply:os.system ['touch pwned']\n"),
                                   "--out", w / "o.onnx"], "not valid yaml"),
    ("yaml-top-level-list", lambda w: ["board-model", w / "float224.onnx", write(w, "l_x5.yaml", "- a\n- b\n"),
                                       "--out", w / "o.onnx"], "mapping"),
    ("yaml-scale-zero", lambda w: ["board-model", w / "float224.onnx", yaml_variant(w, scale_value="'0 0 0'"),
                                   "--out", w / "o.onnx"], "must be positive"),
    ("yaml-scale-nan", lambda w: ["board-model", w / "float224.onnx", yaml_variant(w, scale_value="'nan nan nan'"),
                                  "--out", w / "o.onnx"], "finite"),
    ("yaml-mean-5-values", lambda w: ["board-model", w / "float224.onnx", yaml_variant(w, mean_value="'1 2 3 4 5'"),
                                      "--out", w / "o.onnx"], "1 or 3"),
    ("yaml-shape-100000", lambda w: ["board-model", w / "float224.onnx",
                                     yaml_variant(w, input_shape="'1x3x100000x100000'"), "--out", w / "o.onnx"], "4096"),
    ("yaml-huge-value", lambda w: ["board-model", w / "float224.onnx",
                                   yaml_variant(w, input_type_rt="'" + "q" * 900_000 + "'"), "--out", w / "o.onnx"],
     "input_type_rt"),
    ("yaml-missing", lambda w: ["board-model", w / "float224.onnx", w / "nope_x5.yaml", "--out", w / "o.onnx"], "not found"),
    ("yaml-newline-in-name", lambda w: ["board-model", w / "float224.onnx", w / "a\nb_x5.yaml", "--out", w / "o.onnx"],
     "not found"),
    # arguments: checked before any work, the allowed range in the message
    ("board-model-record-without-compare", lambda w: B(w) + ["--out", w / "o.onnx", "--record"], "--compare"),
    ("quantize-record-without-data", lambda w: ["quantize", w / "tiny.onnx", "--calib", w / "imgs", "--out",
                                                w / "q.onnx", "--record"], "--data"),
    ("export-num-classes-negative", lambda w: ["export", "mobileone_s0", "--weights", "random", "--num-classes=-3",
                                               "--out", w / "e.onnx"], "[2, 100000]"),
    ("export-num-classes-zero", lambda w: ["export", "mobileone_s0", "--num-classes", "0", "--out", w / "e.onnx"], "--num-classes"),
    ("export-opset-99", lambda w: ["export", "mobileone_s0", "--opset", "99", "--out", w / "e.onnx"], "opset"),
    ("export-unknown-key", lambda w: ["export", "resnet_9000", "--out", w / "e.onnx"], "unknown model key"),
    ("eval-threads-negative", lambda w: ["eval", w / "tiny.onnx", "--data", w / "data", "--threads", "-2"], "[1, 256]"),
    ("eval-workers-zero", lambda w: ["eval", w / "tiny.onnx", "--data", w / "data", "--workers", "0"], "--workers"),
    ("eval-limit-zero", lambda w: ["eval", w / "tiny.onnx", "--data", w / "data", "--limit", "0"], "--limit"),
    ("eval-json-exists", lambda w: ["eval", w / "tiny.onnx", "--data", w / "data", "--json", w / "precious.json"],
     "--overwrite"),
    ("train-hflip-5", lambda w: ["train", "mobileone_s0", "--hflip", "5", "--out", w / "run"], "[0, 1]"),
    ("train-scale-reversed", lambda w: ["train", "mobileone_s0", "--scale", "1,0.1", "--out", w / "run"], "MIN"),
    ("train-scale-words", lambda w: ["train", "mobileone_s0", "--scale", "a,b", "--out", w / "run"], "two numbers"),
    ("train-scale-three", lambda w: ["train", "mobileone_s0", "--scale", "0.1,0.5,1", "--out", w / "run"], "two numbers"),
    ("train-lr-nan", lambda w: ["train", "mobileone_s0", "--lr", "nan", "--out", w / "run"], "(0, 10]"),
    ("train-lr-inf", lambda w: ["train", "mobileone_s0", "--lr", "inf", "--out", w / "run"], "--lr"),
    ("train-lr-negative", lambda w: ["train", "mobileone_s0", "--lr", "-0.1", "--out", w / "run"], "--lr"),
    ("train-epochs-zero", lambda w: ["train", "mobileone_s0", "--epochs", "0", "--out", w / "run"], "--epochs"),
    ("train-epochs-word", lambda w: ["train", "mobileone_s0", "--epochs", "ten", "--out", w / "run"], "invalid int"),
    ("train-img-size-100000", lambda w: ["train", "mobileone_s0", "--img-size", "100000", "--out", w / "run"], "2048"),
    ("train-img-size-odd", lambda w: ["train", "mobileone_s0", "--img-size", "33", "--out", w / "run"], "even"),
    ("train-ema-decay-1.5", lambda w: ["train", "mobileone_s0", "--ema-decay", "1.5", "--out", w / "run"], "--ema-decay"),
    ("train-warmup-too-long", lambda w: ["train", "mobileone_s0", "--epochs", "3", "--warmup-epochs", "50",
                                         "--out", w / "run"], "fewer than --epochs"),
    ("train-conv-branches-zero", lambda w: ["train", "mobileone_s0", "--conv-branches", "0", "--out", w / "run"],
     "--conv-branches"),
    ("train-batch-size-zero", lambda w: ["train", "mobileone_s0", "--batch-size", "0", "--out", w / "run"], "--batch-size"),
    ("train-workers-negative", lambda w: ["train", "mobileone_s0", "--workers", "-1", "--out", w / "run"], "--workers"),
    ("data-size-100000", lambda w: ["data", "digits", "--size", "100000", "--out", w / "d"], "8..512"),
    ("data-size-odd", lambda w: ["data", "digits", "--size", "7", "--out", w / "d"], "even"),
    ("calib-count-zero", lambda w: ["calib", "mobileone_s0", "--images", w / "imgs", "--count", "0", "--out", w / "c"],
     "--count"),
    ("bundle-count-negative", lambda w: ["bundle", "mobileone_s0", "--board", "x5", "--images", w / "imgs",
                                         "--count", "-1", "--out", w / "b"], "--count"),
    ("quantize-count-zero", lambda w: ["quantize", w / "tiny.onnx", "--calib", w / "imgs", "--out", w / "q.onnx",
                                       "--count", "0"], "--count"),
    ("predict-topk-zero", lambda w: ["predict", w / "tiny.onnx", w / "imgs" / "img0.png", "-k", "0"], "--topk"),
    ("download-timeout-zero", lambda w: ["download", "mobileone_s0", "--timeout", "0", "--dry-run"], "--timeout"),
    ("bench-threads-word", lambda w: ["bench", w / "tiny.onnx", "--threads", "1,two"], "--threads"),
    ("unknown-command", lambda w: ["frobnicate"], "invalid choice"),
    ("unknown-option", lambda w: ["list", "--frobnicate"], "unrecognized"),
    # outputs: never replaced without --overwrite, never where nothing can be written
    ("export-out-exists", lambda w: ["export", "mobileone_s0", "--weights", "random", "--out", w / "precious.onnx"],
     "--overwrite"),
    ("board-model-out-exists", lambda w: B(w) + ["--out", w / "precious.onnx"], "--overwrite"),
    ("quantize-out-exists", lambda w: ["quantize", w / "tiny.onnx", "--calib", w / "imgs", "--out", w / "precious.onnx"],
     "--overwrite"),
    ("yaml-out-foreign-file", lambda w: ["yaml", "mobileone_s0", "--board", "x5", "--out", w / "precious.json"],
     "--overwrite"),
    ("board-model-out-in-proc", lambda w: B(w) + ["--out", "/proc/rdk_hostile.onnx"], "virtual file system"),
    ("board-model-out-name-too-long", lambda w: B(w) + ["--out", w / LONG], "too long"),
    ("board-model-out-parent-is-file", lambda w: B(w) + ["--out", w / "note.txt" / "o.onnx"], "is a file"),
    ("board-model-out-is-dir", lambda w: B(w) + ["--out", w / "imgs"], "directory"),
    ("calib-out-is-file", lambda w: ["calib", "mobileone_s0", "--images", w / "imgs", "--out", w / "note.txt"],
     "not a folder"),
    ("calib-overwrite-foreign-files", lambda w: ["calib", "mobileone_s0", "--images", w / "imgs", "--out",
                                                 write(w, "cal/holiday.jpg", b"\xff\xd8 mine").parent,
                                                 "--overwrite"], "holiday.jpg"),
    ("data-overwrite-foreign-files", lambda w: ["data", "digits", "--out", write(w, "dig/holiday.jpg", b"mine").parent,
                                                "--overwrite"], "holiday.jpg"),
    ("bundle-overwrite-foreign-files", lambda w: ["bundle", "mobileone_s0", "--board", "x5", "--images", w / "imgs",
                                                  "--onnx", w / "float224.onnx", "--out",
                                                  write(w, "bun/main.c", "int main(){}").parent, "--overwrite"],
     "build.sh"),
    ("bundle-overwrite-bundle-plus-foreign", lambda w: ["bundle", "mobileone_s0", "--board", "x5", "--images",
                                                        w / "imgs", "--onnx", w / "float224.onnx", "--out",
                                                        (write(w, "bun2/build.sh", "#!/bin/sh\n"),
                                                         write(w, "bun2/main.c", "int main(){}"))[0].parent,
                                                        "--overwrite"], "main.c"),
    # model and image files that are not what they claim
    ("predict-nhwc-onnx", lambda w: ["predict", w / "nhwc.onnx", w / "imgs" / "img0.png"], "NHWC"),
    ("predict-no-metadata", lambda w: ["predict", w / "nometa.onnx", w / "imgs" / "img0.png"], "--key KEY"),
    ("predict-garbage-onnx", lambda w: ["predict", w / "garbage.onnx", w / "imgs" / "img0.png"], "not a valid ONNX"),
    ("predict-decompression-bomb", lambda w: ["predict", w / "tiny.onnx", w / "bomb.png"], "decompression bomb"),
    ("predict-decompression-bomb-warning", lambda w: ["predict", w / "tiny.onnx", w / "bomb_warn.png"],
     "decompression bomb"),
    ("predict-truncated-png", lambda w: ["predict", w / "tiny.onnx", w / "truncated.png"], "truncated.png"),
    ("predict-image-fifo", lambda w: ["predict", w / "tiny.onnx", fifo(w, "pipe.png")], "pipe.png"),
    ("predict-image-dev-zero", lambda w: ["predict", w / "tiny.onnx", "/dev/zero"], "/dev/zero"),
    ("predict-image-is-dir", lambda w: ["predict", w / "tiny.onnx", w / "imgs"], "directory"),
    ("eval-checkpoint-is-pickle", lambda w: ["eval", write(w, "m.safetensors", pickle.dumps(Evil(w / "pwned"))),
                                             "--data", w / "data"], "safetensors"),
    ("eval-class-names-fifo", lambda w: ["eval", w / "tiny.onnx", "--data", w / "data", "--class-names",
                                         fifo(w, "names.txt")], "not a regular file"),
    ("calib-images-missing", lambda w: ["calib", "mobileone_s0", "--images", w / "nope", "--out", w / "c"], "not found"),
    # a name the OS refuses, wherever it reaches the file system first (a stat, not our writer): one line, exit 2
    ("yaml-out-name-too-long", lambda w: ["yaml", "mobileone_s0", "--board", "x5", "--out", w / ("y" * 300 + ".yaml")],
     "too long"),
    ("calib-out-folder-name-too-long", lambda w: ["calib", "mobileone_s0", "--images", w / "imgs", "--out",
                                                  w / ("c" * 300) / "out"], "too long"),
    # a calib that fails after its output folder's parents were made: they go too (the work folder is unchanged)
    ("calib-fails-in-new-folders", lambda w: ["calib", "mobileone_s0", "--images", write(w, "junk/bad.jpg", b"junk").parent,
                                              "--out", w / "new1" / "new2" / "out"], "could be read"),
]

CHECKER_CASES = [
    ("check-billion-laughs", lambda w: laughs(w), "aliases"),
    ("check-fifo", lambda w: fifo(w, "f_x5.yaml"), "not a regular file"),
    ("check-dev-zero", lambda w: Path("/dev/zero"), "not a regular file"),
    ("check-scale-zero", lambda w: yaml_variant(w, scale_value="0"), "must be positive"),
    ("check-huge-value", lambda w: yaml_variant(w, input_type_rt="'" + "q" * 900_000 + "'"), "input_type_rt"),
    ("check-many-aliases", lambda w: write(w, "m_x5.yaml", "a: &a 1\nb: [" + ",".join(["*a"] * 1500) + "]\n"), "aliases"),
    # the same words as every other command for a name the OS refuses, not a bare "cannot read"
    ("check-name-too-long", lambda w: w / ("m" * 300 + "_x5.yaml"), "too long (308 bytes; at most 255)"),
]


@pytest.mark.parametrize("make,needle", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_hostile_cli_input_is_refused_cleanly(ws, make, needle):
    argv = make(ws)
    before = snapshot(ws)
    r = run_main(argv)
    assert_refused(r, before, ws, needle or None)
    assert not (ws / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("make,needle", [c[1:] for c in CHECKER_CASES], ids=[c[0] for c in CHECKER_CASES])
def test_hostile_yaml_is_reported_by_check_yaml(ws, make, needle):
    target = make(ws)
    before = snapshot(ws)
    assert_checker_refused(run_main(["check-yaml", target]), before, ws, needle)


def test_read_only_file_system_is_one_line(ws, monkeypatch):
    """No read-only mount is available to the tests: the file system reports one (statvfs ST_RDONLY)."""
    real = os.statvfs

    class RO:
        def __init__(self, st):
            self.st = st
            self.f_flag = st.f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda p: RO(real(p)) if str(p).startswith(str(ws)) else real(p))
    before = snapshot(ws)
    r = run_main(["board-model", ws / "float224.onnx", ws / "good_x5.yaml", "--out", ws / "out" / "o.onnx"])
    assert_refused(r, before, ws, "read-only")


def test_full_disk_while_writing_is_one_line_and_leaves_nothing(ws, monkeypatch):
    import onnx

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(onnx, "save", full)
    before = snapshot(ws)
    r = run_main(["board-model", ws / "float224.onnx", ws / "good_x5.yaml", "--out", ws / "o.onnx"])
    assert_refused(r, before, ws, "disk is full")


def test_the_contract_can_fail(ws):
    """The checks catch what they claim to: a successful write, a changed file, two lines."""
    before = snapshot(ws)
    r = run_main(["board-model", ws / "float224.onnx", ws / "good_x5.yaml", "--out", ws / "o.onnx"])
    assert r.rc == 0 and (ws / "o.onnx").is_file()
    with pytest.raises(AssertionError, match="exit 0"):
        assert_refused(r, before, ws)
    r.rc, r.err = 2, "error: x\n"
    with pytest.raises(AssertionError, match="work folder changed"):
        assert_refused(r, before, ws)
    r.err = "error: one\nerror: two\n"
    with pytest.raises(AssertionError, match="not one line"):
        assert_refused(r, snapshot(ws), ws)
