"""Data-parallel ACML training on ``torch.distributed`` (DDP), launched by ``torchrun``.

``ACMLModel.train`` runs distributed by itself when a process group is up (``acml pretrain``
starts one when ``torchrun`` launched it): every process draws the same global batch order from
the seed, encodes its own contiguous slice of each global batch, and the projections of all
processes are gathered **with gradients** before the loss, so each process contrasts against
the whole global batch as CLIP does. Every process then computes the same global loss; the
gather's backward sums each slice's gradient over processes and DDP averages the parameter
gradients, so one step equals the single-process step on the global batch. The frozen
modality embeddings are cached per process (each builds its dataset); only rank 0 writes
files.

    torchrun --standalone --nproc_per_node 2 $(which acml) pretrain --out runs/ddp ...
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 \\
        --nproc_per_node 8 $(which acml) pretrain --out runs/ddp ...

Layer norm (the default) makes the result independent of how the global batch is split;
with ``norm="batch"`` the statistics are per process (``SyncBatchNorm`` is used on GPUs).
"""
from __future__ import annotations

import os
from typing import List, Sequence

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    """True inside a process that ``torchrun`` (or another launcher) started with a world
    size above one."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str = "cpu") -> None:
    """Join the process group described by torchrun's environment variables (gloo on CPU,
    NCCL on CUDA); a no-op when already joined or not launched distributed."""
    if dist.is_initialized() or not launched_by_torchrun():
        return
    backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes checkpoints and reports."""
    return rank() == 0


def local_slice(rows: Sequence[int]) -> Sequence[int]:
    """This process's contiguous share of a global batch (shares differ by at most one row;
    concatenated in rank order they give the global batch back)."""
    world, me = world_size(), rank()
    base, extra = divmod(len(rows), world)
    start = me * base + min(me, extra)
    return rows[start:start + base + (1 if me < extra else 0)]


class _AllGather(torch.autograd.Function):
    """all_gather whose backward hands each process the gradient of its own rows, summed over
    every process's loss (each process computes the same global loss; DDP then averages)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor):
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx, *gradients: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(gradients)
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def gather_with_gradients(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (rows may differ in number) from every process, in rank order,
    keeping the autograd graph: gradients flow back to each process's own rows."""
    if not is_distributed():
        return tensor
    sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device) for _ in range(world_size())]
    dist.all_gather(sizes, torch.tensor([tensor.shape[0]], device=tensor.device))
    counts: List[int] = [int(s.item()) for s in sizes]
    padded = tensor
    if max(counts) > tensor.shape[0]:
        padding = tensor.new_zeros((max(counts) - tensor.shape[0],) + tensor.shape[1:])
        padded = torch.cat([tensor, padding])
    gathered = _AllGather.apply(padded)
    return torch.cat([part[:count] for part, count in zip(gathered, counts)])
