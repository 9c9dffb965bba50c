"""GIN graph encoder with edge embeddings (Hu et al. 2020 style), in plain PyTorch.

Message passing uses ``index_add_`` so it needs no compiled graph library and runs wherever
torch runs (CPU, CUDA, MPS).
"""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from deepchem_acml.data.batching import GraphBatch
from deepchem_acml.featurizers.graph import (NUM_ATOM_TYPES, NUM_BOND_DIRECTIONS, NUM_BOND_TYPES,
                                             NUM_CHIRALITY_TAGS, SELF_LOOP_BOND_TYPE)

POOLINGS = ("sum", "mean", "max")


class GINEConv(nn.Module):
    """One GIN layer whose messages are neighbour state + bond embedding, summed per node.

    ``h_v' = MLP( sum_{u in N(v) + {v}} (h_u + e_uv) )`` with a self-loop edge of its own bond
    type, and ``MLP = Linear(d, 2d) -> ReLU -> Linear(2d, d)``.
    """

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, 2 * hidden_dim), nn.ReLU(),
                                 nn.Linear(2 * hidden_dim, hidden_dim))
        self.bond_type_embedding = nn.Embedding(NUM_BOND_TYPES, hidden_dim)
        self.bond_direction_embedding = nn.Embedding(NUM_BOND_DIRECTIONS, hidden_dim)
        nn.init.xavier_uniform_(self.bond_type_embedding.weight)
        nn.init.xavier_uniform_(self.bond_direction_embedding.weight)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor,
                edge_features: torch.Tensor) -> torch.Tensor:
        edge_embedding = (self.bond_type_embedding(edge_features[:, 0])
                          + self.bond_direction_embedding(edge_features[:, 1]))
        self_loop = (self.bond_type_embedding.weight[SELF_LOOP_BOND_TYPE]
                     + self.bond_direction_embedding.weight[0])
        source, target = edge_index
        aggregated = (h + self_loop).index_add(0, target, h[source] + edge_embedding)
        return self.mlp(aggregated)


class GINEncoder(nn.Module):
    """Node embeddings from atom codes, ``num_layers`` GINE layers, then graph pooling.

    Each layer is conv -> batch norm -> ReLU (not after the last layer) -> dropout, as in the
    ACML reference. The graph embedding is the pooled last layer, of size ``hidden_dim``.

    Parameters
    ----------
    num_layers: int
        Message-passing depth (ACML: 5).
    hidden_dim: int
        Width of node states and of the graph embedding.
    dropout: float
        Dropout after each layer.
    pooling: str
        ``"sum"`` (ACML), ``"mean"`` or ``"max"``.

    Examples
    --------
    >>> import torch
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> from deepchem_acml.data.batching import collate_graphs
    >>> graphs = ACMLGraphFeaturizer().featurize(["CCO", "c1ccccc1"])
    >>> encoder = GINEncoder(num_layers=2, hidden_dim=16).eval()
    >>> encoder(collate_graphs(graphs)).shape
    torch.Size([2, 16])
    """

    def __init__(self, num_layers: int = 5, hidden_dim: int = 300, dropout: float = 0.2,
                 pooling: str = "sum"):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.num_layers, self.hidden_dim = num_layers, hidden_dim
        self.dropout, self.pooling = dropout, pooling
        self.atom_type_embedding = nn.Embedding(NUM_ATOM_TYPES, hidden_dim)
        self.chirality_embedding = nn.Embedding(NUM_CHIRALITY_TAGS, hidden_dim)
        nn.init.xavier_uniform_(self.atom_type_embedding.weight)
        nn.init.xavier_uniform_(self.chirality_embedding.weight)
        self.convs = nn.ModuleList(GINEConv(hidden_dim) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) for _ in range(num_layers))

    def config(self) -> Dict[str, Any]:
        return {"num_layers": self.num_layers, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout, "pooling": self.pooling}

    def node_embeddings(self, batch: GraphBatch) -> torch.Tensor:
        h = (self.atom_type_embedding(batch.node_features[:, 0])
             + self.chirality_embedding(batch.node_features[:, 1]))
        for layer, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = self._normalize(norm, conv(h, batch.edge_index, batch.edge_features))
            if layer < self.num_layers - 1:
                h = torch.relu(h)
            h = nn.functional.dropout(h, self.dropout, training=self.training)
        return h

    def _normalize(self, norm: nn.BatchNorm1d, h: torch.Tensor) -> torch.Tensor:
        # A batch holding a single atom has no variance to normalise by: use the running
        # statistics for it instead of failing (a lone methane or metal ion is valid input).
        if self.training and h.shape[0] < 2:
            return nn.functional.batch_norm(h, norm.running_mean, norm.running_var, norm.weight,
                                            norm.bias, training=False, eps=norm.eps)
        return norm(h)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        return pool_nodes(self.node_embeddings(batch), batch.graph_index, batch.num_graphs,
                          self.pooling)


def pool_nodes(h: torch.Tensor, graph_index: torch.Tensor, num_graphs: int,
               pooling: str) -> torch.Tensor:
    """Sum, mean or max of node states per graph."""
    out = h.new_zeros((num_graphs, h.shape[1]))
    if pooling == "max":
        return out.scatter_reduce(0, graph_index.unsqueeze(1).expand_as(h), h, reduce="amax",
                                  include_self=False)
    out = out.index_add(0, graph_index, h)
    if pooling == "mean":
        counts = torch.bincount(graph_index, minlength=num_graphs).clamp(min=1)
        out = out / counts.unsqueeze(1).to(h.dtype)
    return out
