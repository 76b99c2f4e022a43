"""Hostile runs: signals, races, stale temporaries, --overwrite, and the training-side inputs.

Signals and concurrent runs use child processes (``python -c`` around ``helpers.cli.main`` with each
calibration sample slowed down, so a run is reliably in the middle of writing when it is signalled
or raced); everything else runs in-process. Each is bounded in time.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import signal
import time

import pytest
from hostile_kit import (Hung, assert_refused, finish, message_lines, run_main, snapshot, spawn, time_limit,
                         tmp_entries, wait_for)
from PIL import Image
from testkit import smooth_image

from helpers.board import files
from helpers.errors import HelpersError

@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(8):
        Image.fromarray(smooth_image(48, 64, seed=i)).save(d / f"p{i}.png")
    return d


# ------------------------------------------------------------------------------------------------
# signals: SIGTERM / SIGHUP / SIGINT in the middle of writing leave nothing behind
# ------------------------------------------------------------------------------------------------
SIGNAL_CASES = [("SIGTERM", "calib", 143, "terminated by SIGTERM"), ("SIGHUP", "calib", 129, "terminated by SIGHUP"),
                ("SIGINT", "calib", 130, "interrupted"), ("SIGTERM", "bundle", 143, "terminated by SIGTERM")]


@pytest.mark.parametrize("sig,command,rc,line", SIGNAL_CASES, ids=[f"{c[1]}-{c[0]}" for c in SIGNAL_CASES])
def test_signal_mid_write_removes_temporaries(tmp_path, photos, sig, command, rc, line):
    from testkit import tiny_onnx

    out = tmp_path / "work" / "out"
    out.parent.mkdir()
    if command == "calib":
        argv = ["calib", "mobileone_s0", "--images", photos, "--out", out]
    else:
        tiny_onnx(str(tmp_path / "f.onnx"), 224, 224)
        argv = ["bundle", "mobileone_s0", "--board", "x5", "--images", photos, "--onnx", tmp_path / "f.onnx",
                "--out", out]
    before = snapshot(tmp_path / "work")
    p = spawn(argv, delay=0.4)
    try:  # in the middle: a temporary folder holding at least one sample
        wait_for(lambda: any(e.is_dir() and list(e.rglob("*.rgb")) for e in tmp_entries(tmp_path / "work")),
                 60, "a temporary calibration folder")
        t0 = time.perf_counter()
        p.send_signal(getattr(signal, sig))
        r = finish(p, 20)
    finally:
        if p.poll() is None:
            p.kill()
    assert r.rc == rc and "Traceback" not in r.err, r.err[-1500:]
    assert message_lines(r.err) == [message_lines(r.err)[-1]] and line in message_lines(r.err)[-1], r.err[-800:]
    assert time.perf_counter() - t0 < 10
    assert snapshot(tmp_path / "work") == before and not out.exists()


# ------------------------------------------------------------------------------------------------
# races: the final step does not replace what appeared meanwhile, and the loser says who won
# ------------------------------------------------------------------------------------------------
def test_two_calib_runs_to_one_folder_one_wins(tmp_path, photos):
    out = tmp_path / "cal"
    procs = [spawn(["calib", "mobileone_s0", "--images", photos, "--out", out, "--count", n], delay=0.1)
             for n in ("8", "5")]
    runs = [finish(p, 60) for p in procs]
    assert sorted(r.rc for r in runs) == [0, 2], [r.err[-500:] for r in runs]
    winner, loser = (runs[0], runs[1]) if runs[0].rc == 0 else (runs[1], runs[0])
    lost = message_lines(loser.err)
    assert len(lost) == 1 and "Traceback" not in loser.err
    assert re.search(r"while this run was writing it; that one won|already exists", lost[0]), lost[0]
    n = int(re.search(r"wrote (\d+) samples", winner.out).group(1))
    assert len(list(out.iterdir())) == n  # the winner's folder, whole, not a mix
    assert tmp_entries(tmp_path) == []


def test_file_appearing_while_writing_is_kept(tmp_path):
    target = tmp_path / "m.onnx"
    with pytest.raises(files.LostRace, match="that one won"):
        with files.atomic_output(target) as tmp:
            tmp.write_text("ours")
            target.write_text("the user saved this meanwhile")
    assert target.read_text() == "the user saved this meanwhile" and tmp_entries(tmp_path) == []


def test_folder_race_names_the_winner(tmp_path):
    out = tmp_path / "bundle"
    a, b = files.atomic_output_dir(out), files.atomic_output_dir(out)
    ta, tb = a.__enter__(), b.__enter__()  # both runs pass the start check: the folder does not exist yet
    (ta / "x").write_text("a")
    (tb / "x").write_text("b")
    a.__exit__(None, None, None)
    with pytest.raises(files.LostRace, match=rf"another run \(pid {os.getpid()} on"):
        b.__exit__(None, None, None)
    assert (out / "x").read_text() == "a" and tmp_entries(tmp_path) == []
    assert json.loads((out / files.MANIFEST).read_text())["files"] == ["x"]


def test_renameat2_or_its_fallback_never_replaces(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "keep").write_text("k")
    with pytest.raises(files.LostRace):
        files._rename_dir_noreplace(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "dst" / "keep").read_text() == "k"


# ------------------------------------------------------------------------------------------------
# stale temporaries of killed runs are removed by a later run; fresh or live ones are not
# ------------------------------------------------------------------------------------------------
def test_stale_temporaries_are_removed_by_a_later_run(tmp_path):
    dead = 2 ** 22 + 12345  # above the default pid_max of 32768 on most systems, surely not running
    old = time.time() - 2 * files.STALE_SECONDS
    stale_f = tmp_path / f"{files.TMP_TAG}{dead}.m.onnx.abcd1234.onnx"
    stale_d = tmp_path / f"{files.TMP_TAG}{dead}.cal.efgh5678"
    fresh = tmp_path / f"{files.TMP_TAG}{dead}.n.onnx.ijkl9012.onnx"
    live_old = tmp_path / f"{files.TMP_TAG}{os.getpid()}.o.onnx.mnop3456.onnx"
    users = tmp_path / ".m.onnx.qrst7890.onnx"  # not our tag: never touched
    stale_d.mkdir()
    (stale_d / "00000_x.rgb").write_bytes(b"0" * 10)
    for p in (stale_f, fresh, live_old, users):
        p.write_bytes(b"partial")
    for p in (stale_f, stale_d, live_old, users):
        os.utime(p, (old, old))
    files.atomic_write_text(tmp_path / "new.txt", "x")
    assert not stale_f.exists() and not stale_d.exists()
    assert fresh.exists() and live_old.exists() and users.exists() and (tmp_path / "new.txt").read_text() == "x"


# ------------------------------------------------------------------------------------------------
# --overwrite replaces our own folders only
# ------------------------------------------------------------------------------------------------
def test_overwrite_replaces_our_folder_and_refuses_a_grown_one(tmp_path, photos):
    out = tmp_path / "bun"
    with files.atomic_output_dir(out) as t:
        (t / "build.sh").write_text("1")
        (t / "sub").mkdir()
        (t / "sub" / "a.rgb").write_text("1")
    with files.atomic_output_dir(out, overwrite=True) as t:  # ours (manifest): replaced whole
        (t / "build.sh").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [files.MANIFEST, "build.sh"]
    assert (out / "build.sh").read_text() == "2"
    (out / "holiday.jpg").write_bytes(b"mine")
    before = snapshot(tmp_path)
    with pytest.raises(HelpersError, match="holiday.jpg"):
        with files.atomic_output_dir(out, overwrite=True) as t:
            (t / "build.sh").write_text("3")
    assert snapshot(tmp_path) == before


def test_overwrite_of_a_legacy_calibration_folder(tmp_path, photos):
    """A calibration folder from before manifests (only *.rgb samples) is still ours to replace."""
    out = tmp_path / "cal"
    out.mkdir()
    (out / "00000_old.rgb").write_bytes(b"0" * 12)
    r = run_main(["calib", "mobileone_s0", "--images", photos, "--out", out, "--count", "2", "--overwrite"])
    assert r.rc == 0, r.err
    assert len(list(out.iterdir())) == 2 and not (out / "00000_old.rgb").exists()


def test_calibration_skips_and_counts_decompression_bombs(tmp_path, photos):
    from test_hostile_inputs import png_header

    (photos / "zz_bomb.png").write_bytes(png_header(40000, 40000))
    r = run_main(["calib", "mobileone_s0", "--images", photos, "--out", tmp_path / "cal"])
    assert r.rc == 0, r.err
    assert re.search(r"warning: skipped 1 unreadable image\(s\) \(1 too large to decode", r.out), r.out
    assert len(list((tmp_path / "cal").iterdir())) == 8


# ------------------------------------------------------------------------------------------------
# training-side inputs (torch is imported here: these are the slow ones)
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def dataset(tmp_path):
    d = tmp_path / "data"
    for split in ("train", "val"):
        for c in ("a", "b"):
            (d / split / c).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(smooth_image(40, 40, seed=i)).save(d / split / c / f"{i}.png")
    return d


def test_resume_state_that_is_a_pickle_is_refused_unrun(tmp_path, dataset):
    from safetensors.torch import save_file
    from test_hostile_inputs import Evil

    run = tmp_path / "run"
    run.mkdir()
    save_file({}, str(run / "last.safetensors"), metadata={"rdk.model_key": "mobileone_s0", "rdk.classes": '["a", "b"]',
                                                           "rdk.img_size": "32", "rdk.epoch": "1", "rdk.epochs": "3"})
    (run / "last_state.pt").write_bytes(pickle.dumps(Evil(tmp_path / "pwned")))
    before = snapshot(tmp_path)
    r = run_main(["train", "mobileone_s0", "--data", dataset, "--out", run, "--resume", "--epochs", "3",
                  "--weights", "random"], limit=120)
    assert_refused(r, before, tmp_path, "not a training state", limit=120)
    assert not (tmp_path / "pwned").exists()


def test_corrupt_image_in_a_worker_is_one_line_naming_it(tmp_path, dataset):
    (dataset / "train" / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    before = snapshot(tmp_path)
    r = run_main(["train", "mobileone_s0", "--data", dataset, "--out", tmp_path / "run", "--weights", "random",
                  "--epochs", "1", "--workers", "1", "--batch-size", "5", "--img-size", "32"], limit=120)
    assert_refused(r, before, tmp_path, "broken.png", limit=120)
    assert "Original Traceback" not in r.err and "DataLoader worker" not in r.err


@pytest.mark.parametrize("hints,needle", [({"lr": "abc"}, "train_hints.lr"), ({"hflip": 7}, "train_hints.hflip"),
                                          ({"scale": [1, 0.1]}, "MIN"), ("sgd", "mapping")],
                         ids=["lr-word", "hflip-7", "scale-reversed", "hints-not-a-mapping"])
def test_hostile_dataset_hints_are_refused_before_training(tmp_path, dataset, hints, needle):
    (dataset / "dataset.json").write_text(json.dumps({"name": "mine", "train_hints": hints}))
    before = snapshot(tmp_path)
    r = run_main(["train", "mobileone_s0", "--data", dataset, "--out", tmp_path / "run", "--weights", "random",
                  "--epochs", "1"], limit=120)
    assert_refused(r, before, tmp_path, needle, limit=120)


def test_dataset_json_that_is_a_fifo_does_not_hang(tmp_path, dataset):
    os.mkfifo(dataset / "dataset.json")
    before = snapshot(tmp_path)
    r = run_main(["eval", tmp_path / "nope.onnx", "--data", dataset], limit=20)
    assert_refused(r, before, tmp_path, "not found")


def test_time_limit_cuts_a_hang():
    with pytest.raises(Hung):
        with time_limit(0.2):
            time.sleep(5)
