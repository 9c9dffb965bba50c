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
