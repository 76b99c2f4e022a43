"""DDP under ``torchrun --nproc_per_node 2`` (gloo on the CPU): sharding, identical weights on the
ranks, files written by rank 0 only, and resume. ``ddp_worker.py`` instruments one ``train`` call."""
import json
import os
import subprocess
import sys
from pathlib import Path

from test_train import CLASSES, make_dataset

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _torchrun(data, out, epochs, *extra, log_dir):
    """``torchrun --standalone --nproc_per_node 2 ddp_worker.py ...`` (a free port; gloo on the CPU)."""
    log_dir.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(data), str(out), str(log_dir), str(epochs), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads((log_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_torchrun_two_ranks_shard_agree_and_resume(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=4, n_val=3)   # 12 train, 9 val images (odd: no padding)
    out = tmp_path / "run"
    r0, r1 = _torchrun(data, out, 1, log_dir=tmp_path / "log1")
    assert r0["world_size"] == r1["world_size"] == 2
    # the ranks see disjoint halves of the training set, and together all of it
    assert len(r0["seen"]) == len(r1["seen"]) == 6 and not set(r0["seen"]) & set(r1["seen"])
    assert len(set(r0["seen"]) | set(r1["seen"])) == 4 * len(CLASSES)
    # the same weights on both ranks after the epoch, and the same (all-reduced) accuracy
    assert r0["digests"] and r0["digests"] == r1["digests"]
    assert r0["val_top1"] == r1["val_top1"]
    # only rank 0 writes: last.safetensors, last_state.pt, model.safetensors, train.json
    assert r1["writes"] == [] and set(r0["writes"]) == {"last.safetensors", "last_state.pt", "model.safetensors", "train.json"}
    assert sorted(p.name for p in out.iterdir()) == ["last.safetensors", "last_state.pt", "model.safetensors", "train.json"]

    s0, s1 = _torchrun(data, out, 2, "--resume", log_dir=tmp_path / "log2")
    assert s0["start_epoch"] == s1["start_epoch"] == 2 and s0["digests"] == s1["digests"]
    assert not set(s0["seen"]) & set(s1["seen"]) and s1["writes"] == []
    doc = json.loads((out / "train.json").read_text())
    assert doc["epochs"] == 2 and doc["world_size"] == 2 and len(doc["history"]) == 2
    assert doc["history"][0]["val_top1"] == r0["val_top1"][0]   # epoch 1 kept, epoch 2 trained on from it
