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
