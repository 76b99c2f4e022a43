"""DDP for ``train`` under ``torchrun``: the process group, the ranks, and sums over ranks.

``torchrun --nproc_per_node N -m helpers train ...`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``;
:func:`setup` then joins the process group (NCCL on CUDA, gloo on the CPU). Single-process runs
never touch ``torch.distributed``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Sequence


@dataclass
class Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0
    device: str = "cpu"
    owns_group: bool = False   # setup() initialised the process group (train ends it)

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> Dist:
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return Dist(device="cuda" if cuda else "cpu")
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(world, dist.get_rank(), local, f"cuda:{local}" if cuda else "cpu", owns)


def all_sum(values: Sequence[float], d: Dist) -> List[float]:
    """``values`` summed over all ranks (unchanged in a single process)."""
    if d.world <= 1:
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(list(values), dtype=torch.float64, device=d.device)
    dist.all_reduce(t)
    return t.tolist()


def val_shard(n: int, d: Dist) -> List[int]:
    """This rank's validation indices: every image once over all ranks (``DistributedSampler``
    pads with repeats so that ranks get equal shares, which would count some images twice)."""
    return list(range(d.rank, n, d.world))
