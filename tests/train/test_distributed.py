"""Sharding, devices and DDP wrapping of bnnflow.train.distributed (single process)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data.distributed import DistributedSampler

from bnnflow.train import distributed
from bnnflow.train.distributed import Dist


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 64), world=st.integers(1, 8),
       epoch=st.integers(0, 5))
def test_shards_partition_the_data_set(n, batch, world, epoch):
    if n < world or batch < world:
        with pytest.raises(ValueError, match="cannot be s"):
            distributed.shard_batches(n, batch, world, 0, 7, epoch)
        return
    shards = [distributed.shard_batches(n, batch, world, r, 7, epoch) for r in range(world)]
    steps = {len(s) for s in shards}
    assert len(steps) == 1  # every rank takes the same number of steps
    seen = [i for shard in shards for b in shard for i in b]
    assert sorted(seen) == list(range(n))  # no duplicates, nothing dropped
    for k in range(steps.pop()):
        sizes = [len(shard[k]) for shard in shards]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
        # together the ranks' slices of step k are global batch k
        assert [i for shard in shards for i in shard[k]] == \
            distributed.global_batches(n, batch, world, 7, epoch)[k]


def test_one_process_keeps_the_distributed_sampler_order():
    sampler = DistributedSampler(range(100), num_replicas=1, rank=0, shuffle=True, seed=3)
    sampler.set_epoch(2)
    order = list(sampler)
    assert distributed.shard_batches(100, 32, 1, 0, 3, 2) == [
        order[i : i + 32] for i in range(0, 100, 32)]


def test_a_last_batch_smaller_than_the_world_is_merged():
    batches = distributed.global_batches(65, 32, 4, 0, 0)
    assert [len(b) for b in batches] == [32, 33]


def test_devices_and_backends():
    assert distributed.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert distributed.resolve_device("auto").type == expected
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    with pytest.raises(ValueError, match="--device must be one of"):
        distributed.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            distributed.resolve_device("cuda")


def _bn_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
                               torch.nn.Sequential(torch.nn.BatchNorm2d(4)))


def test_sync_bn_is_refused_with_several_cpu_processes():
    with pytest.raises(ValueError, match="--sync-bn needs CUDA"):
        distributed.wrap_model(_bn_model(), Dist(rank=0, world=2), sync_bn=True)


def test_single_process_wraps_nothing_and_sync_bn_conversion_keeps_the_state():
    model = _bn_model()
    assert distributed.wrap_model(model, Dist(), sync_bn=True) is model
    keys = list(model.state_dict())
    distributed._convert_sync_bn(model)
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules()) == 2
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())
    assert list(model.state_dict()) == keys
