"""Multi-process training under ``torchrun``: gloo process group, rank-0-only side effects.

``torchrun --standalone --nproc_per_node=N -m bnnflow.cli.main train ...`` sets ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` then joins the gloo
group. Without those variables everything runs in one process (``world == 1``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def all_sum(self, values: list[float]) -> list[float]:
        """Sum ``values`` over all processes (float64)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics, int8 scales) to every rank."""
        if not self.active:
            return
        for buf in module.buffers():
            dist.broadcast(buf, src=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def setup() -> Dist:
    """Join the gloo process group when launched by torchrun, else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return Dist(rank=dist.get_rank(), world=dist.get_world_size())


def teardown(d: Dist) -> None:
    """Leave the process group (no-op for a single process)."""
    if d.active and dist.is_initialized():
        dist.destroy_process_group()
