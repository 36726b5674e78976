"""Multi-process training under ``torchrun``: process group, devices, sharding, DDP wrapping.

``torchrun --standalone --nproc_per_node=N -m bnnflow.cli.main train ...`` (one machine) or
``torchrun --nnodes=M --nproc_per_node=N --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT
--rdzv-id=JOB -m bnnflow.cli.main train ...`` (several) sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` then joins the process
group: **NCCL** when training on CUDA, **gloo** on CPUs. Without those variables everything
runs in one process (``world == 1``).

Sharding (:func:`shard_batches`): each epoch one permutation of the training set, the same on
every rank, is cut into global batches of ``batch_size`` images; global batch ``b`` is split
into ``world`` contiguous slices (sizes differ by at most one) and rank ``r`` trains on slice
``r``. The slices of all ranks partition the data set: no image is repeated or dropped (unlike
``DistributedSampler``, which pads with duplicates). A last global batch with fewer than
``world`` images is merged into the one before, so every rank has an image in every step
and all ranks take the same number of steps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

DEVICES = ("auto", "cpu", "cuda")
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = CPU

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
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().tolist()

    def all_gather_objects(self, obj: object) -> list:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank (pickled collective)."""
        if not self.active:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics, int8 scales) to every rank."""
        if not self.active:
            return
        for buf in module.buffers():
            dist.broadcast(buf, src=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``.

    Raises ``ValueError`` for an unknown name or ``cuda`` without a CUDA device.
    """
    if name not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: this PyTorch build sees no CUDA device "
                         f"(torch {torch.__version__}); use --device cpu or auto")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(f"--device cuda: LOCAL_RANK {local_rank} but only {count} CUDA "
                         "devices; give torchrun --nproc_per_node at most the GPU count")
    return torch.device("cuda", local_rank)


def backend_for(device: torch.device) -> str:
    """The process-group backend of a device: ``nccl`` for CUDA, ``gloo`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def setup(device: str = "cpu") -> Dist:
    """Resolve ``device`` and join the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world <= 1:
        return Dist(device=dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend_for(dev))
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank,
                device=dev)


_HELD = [0]  # > 0: hold_group() is active, teardown() keeps the process group


@contextlib.contextmanager
def hold_group() -> Iterator[None]:
    """Keep the process group across several :func:`setup`/:func:`teardown` pairs (the two
    steps of ``--two-step``) and leave it at the end.

    Joining a new group in the same process after destroying one hangs under torchrun (the
    rendezvous store still holds the first group's keys), so the steps share one group.
    """
    _HELD[0] += 1
    try:
        yield
    finally:
        _HELD[0] -= 1
        if not _HELD[0] and dist.is_initialized():
            dist.destroy_process_group()


def teardown(d: Dist) -> None:
    """Leave the process group (no-op for a single process, or inside :func:`hold_group`)."""
    if d.active and dist.is_initialized() and not _HELD[0]:
        dist.destroy_process_group()


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The permutation of epoch ``epoch`` (``DistributedSampler``'s: randperm, seed+epoch)."""
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def global_batches(n: int, batch_size: int, world: int, seed: int, epoch: int
                   ) -> list[list[int]]:
    """The global batches of an epoch (a last batch of fewer than ``world`` images merged)."""
    if batch_size < world:
        raise ValueError(f"a batch of {batch_size} images cannot be split over {world} "
                         "processes")
    order = epoch_permutation(n, seed, epoch)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < world:
        tail = batches.pop()
        batches[-1] = batches[-1] + tail
    return batches


def shard_batches(n: int, batch_size: int, world: int, rank: int, seed: int, epoch: int
                  ) -> list[list[int]]:
    """Rank ``rank``'s batches of epoch ``epoch``: slice ``rank`` of every global batch."""
    if n < world:
        raise ValueError(f"{n} training images cannot be shared by {world} processes")
    out = []
    for batch in global_batches(n, batch_size, world, seed, epoch):
        sizes = [len(batch) // world + (r < len(batch) % world) for r in range(world)]
        start = sum(sizes[:rank])
        out.append(batch[start : start + sizes[rank]])
    return out


def wrap_model(model: torch.nn.Module, d: Dist, sync_bn: bool) -> torch.nn.Module:
    """The training module: ``model`` itself, or DDP over it (SyncBatchNorm if ``sync_bn``).

    SyncBatchNorm shares the batch statistics of all ranks; PyTorch implements it for GPUs
    only, so ``sync_bn`` with several CPU processes is refused. The conversion replaces the
    BatchNorm modules of ``model`` in place (same parameters and buffers, same state_dict).
    """
    if sync_bn and d.active:
        if d.device.type != "cuda":
            raise ValueError("--sync-bn needs CUDA: PyTorch's SyncBatchNorm synchronises "
                             "GPU tensors only (this run trains on the CPU with gloo)")
        _convert_sync_bn(model)
    if not d.active:
        return model
    ids = [d.device.index] if d.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _convert_sync_bn(model: torch.nn.Module) -> None:
    """Replace every BatchNorm child of ``model`` by a SyncBatchNorm, in place."""
    for name, child in list(model.named_children()):
        converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(child)
        if converted is not child:
            setattr(model, name, converted)
