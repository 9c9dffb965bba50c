"""Collating ``GraphData`` objects into one disjoint-union batch of torch tensors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass
class GraphBatch:
    """Several molecular graphs as one graph with a per-node graph index.

    Attributes
    ----------
    node_features : LongTensor (n_nodes, 2)
    edge_index : LongTensor (2, n_edges), node indices into the whole batch
    edge_features : LongTensor (n_edges, 2)
    graph_index : LongTensor (n_nodes,), which graph each node belongs to
    num_graphs : int
    """

    node_features: torch.Tensor
    edge_index: torch.Tensor
    edge_features: torch.Tensor
    graph_index: torch.Tensor
    num_graphs: int

    def to(self, device) -> "GraphBatch":
        return GraphBatch(self.node_features.to(device), self.edge_index.to(device),
                          self.edge_features.to(device), self.graph_index.to(device),
                          self.num_graphs)


def check_graphs(graphs: Sequence) -> None:
    """A clear error for an empty batch or an element that is not a ``GraphData``."""
    if len(graphs) == 0:
        raise ValueError("cannot collate an empty list of graphs")
    for position, graph in enumerate(graphs):
        if not hasattr(graph, "node_features") or not hasattr(graph, "edge_index"):
            raise TypeError(
                f"batch element {position} is a {type(graph).__name__}, not a GraphData: the "
                "molecule probably failed featurization; drop failed rows first "
                "(ACMLGraphFeaturizer.featurize_with_report lists them)")


def collate_graphs(graphs: Sequence, device=None) -> GraphBatch:
    """Concatenate graphs into a :class:`GraphBatch` (one numpy concatenation per field).

    Raises
    ------
    TypeError
        If an element is not a ``GraphData`` (for example the ``np.array([])`` DeepChem puts
        where a molecule failed): filter failures first, see ``featurize_with_report``.
    """
    check_graphs(graphs)
    node_counts = np.fromiter((g.num_nodes for g in graphs), dtype=np.int64, count=len(graphs))
    edge_counts = np.fromiter((g.edge_index.shape[1] for g in graphs), dtype=np.int64,
                              count=len(graphs))
    offsets = np.concatenate(([0], np.cumsum(node_counts)[:-1]))
    node_features = np.concatenate([g.node_features for g in graphs]).astype(np.int64, copy=False)
    edge_index = np.concatenate([g.edge_index for g in graphs], axis=1).astype(np.int64, copy=False)
    edge_index = edge_index + np.repeat(offsets, edge_counts)[None, :]
    edge_features = np.concatenate(
        [g.edge_features.reshape(-1, 2) for g in graphs]).astype(np.int64, copy=False)
    graph_index = np.repeat(np.arange(len(graphs), dtype=np.int64), node_counts)
    batch = GraphBatch(torch.from_numpy(node_features), torch.from_numpy(edge_index),
                       torch.from_numpy(edge_features), torch.from_numpy(graph_index), len(graphs))
    return batch if device is None else batch.to(device)
