"""Run by test_ddp.py under ``torchrun --nproc_per_node 2``: one ``train`` call, instrumented per rank.

Usage: ddp_worker.py DATA OUT LOG_DIR EPOCHS [--resume]. Each rank writes LOG_DIR/rank<R>.json with
the training images it loaded, a digest of its model weights at every validation, and the files it
wrote through train's atomic writers.
"""
import contextlib
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

from helpers.training import train as T


def main(data, out, log_dir, epochs, resume=False):
    rank = int(os.environ["RANK"])
    log = {"rank": rank, "world": int(os.environ["WORLD_SIZE"]), "seen": [], "digests": [], "writes": []}

    getitem = T._Images.__getitem__

    def seen(self, i):
        if isinstance(self.transform, T.TrainTransform):
            log["seen"].append(str(Path(self.images.paths[i]).relative_to(data)))
        return getitem(self, i)

    evaluate = T._evaluate

    def digest(model, loader, d, amp):
        if d.world > 1:  # the per-epoch validation of the (shared) model, not rank 0's final check
            h = hashlib.sha256()
            for k, v in sorted(model.state_dict().items()):
                h.update(k.encode()), h.update(v.detach().cpu().numpy().tobytes())
            log["digests"].append(h.hexdigest())
        return evaluate(model, loader, d, amp)

    atomic_output, atomic_write_text = T.atomic_output, T.atomic_write_text

    @contextlib.contextmanager
    def recorded_output(path, *a, **k):
        log["writes"].append(Path(path).name)
        with atomic_output(path, *a, **k) as tmp:
            yield tmp

    def recorded_text(path, *a, **k):
        log["writes"].append(Path(path).name)
        return atomic_write_text(path, *a, **k)

    T._Images.__getitem__, T._evaluate = seen, digest
    T.atomic_output, T.atomic_write_text = recorded_output, recorded_text
    warnings.simplefilter("ignore")
    res = T.train("mobileone_s0", data, epochs=epochs, out=out, resume=resume, img_size=32, weights="random",
                  conv_branches=None if resume else 1, batch_size=2, workers=0, progress=False, overwrite=not resume)
    log.update(world_size=res.world_size, start_epoch=res.start_epoch, final_top1=res.final_top1,
               val_top1=[h.val_top1 for h in res.history])
    Path(log_dir, f"rank{rank}.json").write_text(json.dumps(log))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), "--resume" in sys.argv)
