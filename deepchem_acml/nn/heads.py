"""Projection heads that map each side into the shared contrastive space."""
from __future__ import annotations

import torch
from torch import nn


class ResidualCell(nn.Module):
    """Linear -> GELU -> Linear -> Dropout -> add input -> LayerNorm."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim),
                                   nn.Dropout(dropout))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.block(x))


class ProjectionHead(nn.Module):
    """A linear map to ``projection_dim`` followed by ``num_cells`` residual cells.

    ACML's reference uses two cells of width 512 on both sides.

    Examples
    --------
    >>> import torch
    >>> ProjectionHead(10, projection_dim=32)(torch.zeros(4, 10)).shape
    torch.Size([4, 32])
    """

    def __init__(self, input_dim: int, projection_dim: int = 512, num_cells: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        self.input = nn.Linear(input_dim, projection_dim)
        self.cells = nn.Sequential(*(ResidualCell(projection_dim, dropout)
                                     for _ in range(num_cells)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cells(self.input(x))


class Standardizer(nn.Module):
    """``(x - mean) / scale``: per-dimension means, one overall scale (the root mean variance),
    set once from data (buffers, so they travel in checkpoints). Until :meth:`fit_statistics`
    runs it is the identity.

    Frozen encoders' embeddings can share a large common component (an ImageNet CNN sees every
    molecule drawing as "white page with black lines"): standardising them is what lets the
    projection head learn the small differences that tell molecules apart.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit_statistics(self, x: torch.Tensor) -> None:
        # Centre each dimension, but divide all by one overall spread: per-dimension scaling
        # would blow up the near-constant dimensions autoencoder codes have into noise.
        self.mean.copy_(x.mean(0))
        spread = float(x.var(0).mean().sqrt()) if len(x) > 1 else 1.0
        self.scale.fill_(max(spread, 1e-6))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class RunningStandardization(nn.BatchNorm1d):
    """Per-dimension standardisation by running statistics in training as in evaluation.

    A :class:`torch.nn.BatchNorm1d` (no affine part, the same buffers, so checkpoints load
    either way) that, in training, first updates its running mean and variance from the batch
    and then standardises the batch by them rather than by the batch's own statistics. Batch
    statistics are right for random batches, which look like the data set; a batch of near
    neighbours (``ACMLModel(batching="neighbours")``) does not, and standardising it by its own
    mean removes exactly what sets the neighbourhood apart from the rest. The update factor is
    ``max(1 / (batches seen), momentum)``: an exact average over the first batches, then an
    exponential one that follows the changing encoder. ``ACMLModel``'s teacher heads
    standardise by batch statistics: without gradient through running statistics the
    embedding's scale can drift away from them. This module remains so that the checkpoints
    of an ablation made with it rebuild.

    Examples
    --------
    >>> import torch
    >>> norm = RunningStandardization(3)
    >>> _ = norm(torch.randn(64, 3) * 5 + 10)
    >>> bool(torch.allclose(norm.running_mean, torch.full((3,), 10.0), atol=2.0))
    True
    """

    def __init__(self, dim: int, momentum: float = 0.01):
        super().__init__(dim, momentum=momentum, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > 1:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = max(1.0 / float(self.num_batches_tracked), self.momentum)
                batch = x.detach().float()
                self.running_mean.lerp_(batch.mean(0), factor)
                self.running_var.lerp_(batch.var(0), factor)
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, training=False,
                                        eps=self.eps)
