"""The network ACML trains: one GIN, and per frozen modality a graph head, a standardiser of
the frozen embeddings and a modality head (one modality is the case of a list of one)."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from deepchem_acml.nn.gin import GINEncoder
from deepchem_acml.nn.heads import ProjectionHead, RunningStandardization, Standardizer

#: how the weights of a single-modality checkpoint written before version 0.5 were named
#: (one head of each kind, no modality name in the key)
_SINGLE_MODALITY_PREFIXES = {"graph_projection.": "graph_projections",
                             "modality_standardizer.": "standardizers",
                             "modality_projection.": "modality_projections"}


#: how the teacher heads standardise the graph embedding in training (see :func:`teacher_head`)
TEACHER_STATISTICS = ("batch", "running")


class ACMLNetwork(nn.Module):
    """GIN + per-modality graph heads, standardisers and modality heads (and, for
    distillation, per-modality linear teacher heads).

    ``forward([graphs, modality_embeddings, present])``, with the frozen embeddings of every
    modality side by side (``(B, sum of dims)``, zeros where a molecule lacks one) and
    ``present`` ``(B, M)``, returns ``[prediction, graph_projections, modality_projections,
    present, distillation_errors, graph_embedding]``: projections stacked as ``(B, M,
    projection_dim)``; ``prediction`` is the graph projection, ``(B, projection_dim)`` when
    there is one modality and ``(B, M, projection_dim)`` otherwise; ``distillation_errors``
    ``(B, M)`` is each molecule's mean squared error between a linear map of its graph
    embedding and its standardised frozen embedding (``(B, 0)`` without teacher heads).
    Without modality embeddings (prediction) the modality outputs are empty.

    Parameters
    ----------
    graph_encoder : GINEncoder
        The trainable graph side.
    modality_dims : mapping of str to int
        Each frozen modality's embedding size, in the model's order.
    projection_dim, num_cells : int
        The projection heads' width and residual cells.
    projection_dropout : float
        Dropout in the projection heads.
    autocast_dtype : torch.dtype, optional
        Run the forward pass under autocast in this dtype (outputs returned in float32).
    distillation : bool, default=False
        Add the linear teacher heads (graph embedding -> standardised frozen embedding).
    teacher_statistics : {"batch", "running"}, default="batch"
        How the teacher heads standardise the graph embedding in training: by the batch's
        statistics (what ``ACMLModel`` trains with), or by running ones
        (:class:`RunningStandardization`, for batches that are not random samples; kept so
        that the checkpoints of an ablation made with them rebuild).

    Examples
    --------
    >>> network = ACMLNetwork(GINEncoder(2, 16), {"smiles": 8}, projection_dim=4,
    ...                       num_cells=1, projection_dropout=0.0)
    >>> sorted(network.modality_projections)
    ['smiles']
    """

    def __init__(self, graph_encoder: GINEncoder, modality_dims: Mapping[str, int],
                 projection_dim: int, num_cells: int, projection_dropout: float,
                 autocast_dtype: Optional[torch.dtype] = None, distillation: bool = False,
                 teacher_statistics: str = "batch"):
        super().__init__()
        self.autocast_dtype = autocast_dtype
        self.graph_encoder = graph_encoder
        self.names = list(modality_dims)
        self.dims = [int(modality_dims[name]) for name in self.names]
        head = lambda dim: ProjectionHead(dim, projection_dim, num_cells, projection_dropout)  # noqa: E731
        self.graph_projections = nn.ModuleDict({n: head(graph_encoder.hidden_dim)
                                                for n in self.names})
        self.standardizers = nn.ModuleDict({n: Standardizer(d) for n, d in modality_dims.items()})
        self.modality_projections = nn.ModuleDict({n: head(d) for n, d in modality_dims.items()})
        self.teacher_heads = (nn.ModuleDict({n: teacher_head(graph_encoder.hidden_dim, d,
                                                             teacher_statistics)
                                             for n, d in modality_dims.items()})
                              if distillation else None)

    def split(self, modality_embeddings: torch.Tensor) -> List[torch.Tensor]:
        """The side-by-side embeddings cut into one block per modality."""
        return list(torch.split(modality_embeddings, self.dims, dim=1))

    def project_modality(self, name: str, embeddings: torch.Tensor) -> torch.Tensor:
        """Modality ``name``'s frozen embeddings in the shared space."""
        return self.modality_projections[name](self.standardizers[name](embeddings))

    def forward(self, inputs: Sequence[Any]) -> List[torch.Tensor]:
        if self.autocast_dtype is None:
            return self._forward(inputs)
        device_type = next(self.parameters()).device.type
        with torch.autocast(device_type, dtype=self.autocast_dtype):
            outputs = self._forward(inputs)
        return [output.float() for output in outputs]  # the loss runs in float32

    def _forward(self, inputs: Sequence[Any]) -> List[torch.Tensor]:
        graph_batch, modality_embeddings, present = inputs
        graph_embedding = self.graph_encoder(graph_batch)
        graph_projections = torch.stack([self.graph_projections[n](graph_embedding)
                                         for n in self.names], dim=1)
        empty = graph_projections.new_zeros((graph_projections.shape[0], 0))
        if modality_embeddings is None:
            modality_projections = graph_projections.new_zeros(graph_projections.shape[:1] + (0,))
            present, distillation_errors = empty, empty
        else:
            parts = self.split(modality_embeddings)
            modality_projections = torch.stack(
                [self.project_modality(n, part) for n, part in zip(self.names, parts)], dim=1)
            distillation_errors = (self.distillation_errors(graph_embedding, parts)
                                   if self.teacher_heads is not None else empty)
        prediction = graph_projections[:, 0] if len(self.names) == 1 else graph_projections
        return [prediction, graph_projections, modality_projections, present,
                distillation_errors, graph_embedding]

    def distillation_errors(self, graph_embedding: torch.Tensor,
                            parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, M): per molecule and modality, the mean squared error of the teacher head's
        reading of the graph embedding against the standardised frozen embedding."""
        errors = [(self.teacher_heads[n](graph_embedding) - self.standardizers[n](part))
                  .pow(2).mean(dim=1) for n, part in zip(self.names, parts)]
        return torch.stack(errors, dim=1)


def teacher_head(hidden_dim: int, dim: int, statistics: str = "batch") -> nn.Module:
    """Per-dimension standardisation, then a linear map: the teacher's embedding should be
    linearly readable from the graph embedding, which is how a downstream probe
    (standardised features, linear model) reads it. The standardisation also makes the map
    learnable at all: sum-pooled embeddings grow with molecule size, so a plain linear head
    on them would chase the largest molecules. ``statistics="running"`` standardises by
    running statistics in training too (for batches of near neighbours, whose own statistics
    are local)."""
    if statistics not in TEACHER_STATISTICS:
        raise ValueError(f"statistics must be one of {list(TEACHER_STATISTICS)}, got "
                         f"{statistics!r}")
    standardize = (RunningStandardization(hidden_dim) if statistics == "running"
                   else nn.BatchNorm1d(hidden_dim, affine=False))
    return nn.Sequential(standardize, nn.Linear(hidden_dim, dim))


def upgrade_state_dict(state: Dict[str, torch.Tensor], names: Sequence[str]
                       ) -> Dict[str, torch.Tensor]:
    """Weights of a single-modality checkpoint written before version 0.5 (``graph_projection.
    *``, ``modality_standardizer.*``, ``modality_projection.*``) under :class:`ACMLNetwork`'s
    names for the model's one modality; other state dicts unchanged.

    Examples
    --------
    >>> import torch
    >>> sorted(upgrade_state_dict({"graph_projection.input.bias": torch.zeros(1)}, ["smiles"]))
    ['graph_projections.smiles.input.bias']
    """
    if not any(key.startswith(tuple(_SINGLE_MODALITY_PREFIXES)) for key in state):
        return state
    if len(names) != 1:
        raise ValueError(f"a single-modality state dict cannot fill {len(names)} modalities")
    upgraded = {}
    for key, value in state.items():
        for old, new in _SINGLE_MODALITY_PREFIXES.items():
            if key.startswith(old):
                key = f"{new}.{names[0]}.{key[len(old):]}"
                break
        upgraded[key] = value
    return upgraded
