"""GIN graph encoder with edge embeddings (Hu et al. 2020 style), in plain PyTorch.

Message passing needs no compiled graph library: per batch, the neighbour sum is one sparse
matrix product (the batch's adjacency, built once and shared by every layer) and the bond
embeddings a node receives are its counts of incoming (bond type, direction) pairs times a
table of their embeddings. Gathering every edge's source state and scattering it back
(``index_add``) computes the same sums about four times slower on a CPU; it remains the path
on MPS, whose sparse support is partial.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Union

import torch
from torch import nn

from deepchem_acml.data.batching import GraphBatch, collate_graphs
from deepchem_acml.featurizers.molecular_graph import (
    NUM_ATOM_TYPES,
    NUM_BOND_DIRECTIONS,
    NUM_BOND_TYPES,
    NUM_CHIRALITY_TAGS,
    RICH_ATOM_VOCABULARY,
    SELF_LOOP_BOND_TYPE,
    GraphArrayFeaturizer,
    check_atom_features,
)
from deepchem_acml.nn import dgl_backend

POOLINGS = ("sum", "mean", "max")
NORMS = ("layer", "batch")
BACKENDS = ("torch", "dgl")
#: the arguments that make a GIN's architecture (what :meth:`GINEncoder.config` stores); a
#: model composed of a GIN takes them as ``encoder=dict(...)``, never as its own arguments
GIN_ARGUMENTS = ("num_layers", "hidden_dim", "dropout", "pooling", "norm", "atom_features")


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

    def forward(self, h: torch.Tensor, batch: Union[GraphBatch, Any],
                operators: Optional["MessageOperators"] = None) -> torch.Tensor:
        """One layer over a :class:`GraphBatch` (plain PyTorch) or a ``DGLGraph`` (DGL);
        ``operators``: the batch's :class:`MessageOperators` (built here when not given)."""
        self_loop = (self.bond_type_embedding.weight[SELF_LOOP_BOND_TYPE]
                     + self.bond_direction_embedding.weight[0])
        if isinstance(batch, GraphBatch) and h.device.type == "mps":
            source, target = batch.edge_index
            messages = h[source] + self._edge_embedding(batch.edge_features)
            aggregated = (h + self_loop).index_add(0, target, messages)
        elif isinstance(batch, GraphBatch):
            operators = operators or MessageOperators.of(batch)
            bond_table = (self.bond_type_embedding.weight[:, None, :]
                          + self.bond_direction_embedding.weight[None, :, :]).flatten(0, 1)
            # in float32, outside autocast: its bfloat16 casts break the sparse product's backward
            with torch.autocast(h.device.type, enabled=False):
                aggregated = (h.float() + self_loop.float()
                              + torch.sparse.mm(operators.adjacency, h.float())
                              + operators.bond_counts @ bond_table.float())
        else:
            edge_embedding = self._edge_embedding(dgl_backend.edge_codes(batch))
            aggregated = (h + self_loop) + dgl_backend.sum_neighbour_messages(batch, h,
                                                                               edge_embedding)
        return self.mlp(aggregated)

    def _edge_embedding(self, edge_features: torch.Tensor) -> torch.Tensor:
        return (self.bond_type_embedding(edge_features[:, 0])
                + self.bond_direction_embedding(edge_features[:, 1]))


class MessageOperators(NamedTuple):
    """What a GIN layer needs of a batch's edges, built once per batch: ``adjacency`` (sparse
    ``(N, N)``, entry (v, u) = edges u → v) and ``bond_counts`` (``(N, types × directions)``,
    the incoming edges of each node by bond type and direction)."""

    adjacency: torch.Tensor
    bond_counts: torch.Tensor

    @classmethod
    def of(cls, batch: GraphBatch) -> "MessageOperators":
        source, target = batch.edge_index
        n = batch.node_features.shape[0]
        ones = torch.ones(source.shape[0], dtype=torch.float32, device=source.device)
        adjacency = torch.sparse_coo_tensor(torch.stack([target, source]), ones, (n, n),
                                            check_invariants=False).coalesce()
        codes = batch.edge_features[:, 0] * NUM_BOND_DIRECTIONS + batch.edge_features[:, 1]
        bond_counts = torch.zeros((n, NUM_BOND_TYPES * NUM_BOND_DIRECTIONS),
                                  dtype=torch.float32, device=source.device)
        bond_counts.index_put_((target, codes), ones, accumulate=True)
        return cls(adjacency, bond_counts)


class GINEncoder(nn.Module):
    """Node embeddings from atom codes, ``num_layers`` GINE layers, then graph pooling.

    Each layer is conv -> normalisation -> ReLU (not after the last layer) -> dropout. The graph
    embedding is the pooled last layer, of size ``hidden_dim``.

    The ACML reference normalises with batch norm. Batch norm bounds nothing for a molecule
    unlike the training set: its running statistics are fixed, and sum aggregation over five
    layers can amplify unusual neighbourhoods without limit (a hexachlorinated cage in
    FreeSolv reached an embedding norm 138 times the median after ACML training, and ruined
    every property model built on it). Layer norm rescales every atom's state at every layer,
    so an embedding's norm is bounded by the atom count whatever the input: the default here.

    Parameters
    ----------
    num_layers : int
        Message-passing depth (ACML: 5).
    hidden_dim : int
        Width of node states and of the graph embedding.
    dropout : float
        Dropout after each layer.
    pooling : str
        ``"sum"`` (ACML), ``"mean"`` or ``"max"``.
    norm : str
        ``"layer"`` (default, bounded for out-of-distribution molecules) or ``"batch"`` (the
        ACML reference; also what checkpoints that do not record a norm were trained with).
    backend : str
        Message passing in plain PyTorch (``"torch"``, default) or DGL (``"dgl"``, needs the
        DGL environment; same weights and outputs, see ``nn.dgl_backend``). Not part of the
        stored configuration: a checkpoint loads into either.
    atom_features : str, default="hu"
        The atom inputs read: ``"hu"`` (atomic number and chirality, as Hu et al. and ACML)
        or ``"rich"`` (also degree, charge, hydrogens, radicals, hybridization, aromaticity,
        ring membership; one embedding table each, summed). Graphs must come from a
        featurizer with the same setting (:meth:`graph_featurizer`).

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
                 pooling: str = "sum", norm: str = "layer", backend: str = "torch",
                 atom_features: str = "hu"):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "dgl":
            dgl_backend.require_dgl()
        self.backend = backend
        self.num_layers, self.hidden_dim = num_layers, hidden_dim
        self.dropout, self.pooling, self.norm = dropout, pooling, norm
        self.atom_features = check_atom_features(atom_features)
        self.atom_type_embedding = nn.Embedding(NUM_ATOM_TYPES, hidden_dim)
        self.chirality_embedding = nn.Embedding(NUM_CHIRALITY_TAGS, hidden_dim)
        nn.init.xavier_uniform_(self.atom_type_embedding.weight)
        nn.init.xavier_uniform_(self.chirality_embedding.weight)
        self.rich_atom_embeddings = (nn.ModuleList(nn.Embedding(size, hidden_dim)
                                                   for _, size in RICH_ATOM_VOCABULARY)
                                     if atom_features == "rich" else None)
        for table in self.rich_atom_embeddings or ():
            nn.init.xavier_uniform_(table.weight)
        self.convs = nn.ModuleList(GINEConv(hidden_dim) for _ in range(num_layers))
        make_norm = nn.LayerNorm if norm == "layer" else nn.BatchNorm1d
        self.norms = nn.ModuleList(make_norm(hidden_dim) for _ in range(num_layers))

    def config(self) -> Dict[str, Any]:
        return {"num_layers": self.num_layers, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout, "pooling": self.pooling, "norm": self.norm,
                "atom_features": self.atom_features}

    @classmethod
    def from_config(cls, config: Dict[str, Any], backend: str = "torch") -> "GINEncoder":
        """Rebuild from stored hyperparameters (extra keys, such as projection sizes, are
        ignored; a config without ``norm`` predates that option and used batch norm, one
        without ``atom_features`` read the Hu codes).

        Parameters
        ----------
        config : dict
            Stored hyperparameters (:meth:`config`).
        backend : str, default="torch"
            Message passing backend.
        """
        return cls(config["num_layers"], config["hidden_dim"], config.get("dropout", 0.0),
                   config.get("pooling", "sum"), config.get("norm", "batch"), backend,
                   config.get("atom_features", "hu"))

    def graph_featurizer(self, max_atoms: Optional[int] = None) -> GraphArrayFeaturizer:
        """The featurizer whose graphs this encoder reads (arrays; the DeepChem one is
        ``ACMLGraphFeaturizer(atom_features=encoder.atom_features)``).

        Parameters
        ----------
        max_atoms : int, optional
            Report molecules with more heavy atoms as failures.

        Returns
        -------
        GraphArrayFeaturizer
            With this encoder's ``atom_features``.
        """
        return GraphArrayFeaturizer(max_atoms=max_atoms, atom_features=self.atom_features)

    def collate(self, graphs: Sequence, device=None) -> Union[GraphBatch, Any]:
        """A batch of ``GraphData`` in this encoder's backend's format.


        Parameters
        ----------
        graphs : sequence of GraphData
            The molecules of one batch.
        device : torch.device, optional
            Where the batch's tensors go.

        Returns
        -------
        GraphBatch or DGLGraph
            One batch in this encoder's backend's format.
        """
        if self.backend == "dgl":
            return dgl_backend.collate_dgl(graphs, device)
        return collate_graphs(graphs, device)

    def node_embeddings(self, batch: Union[GraphBatch, Any]) -> torch.Tensor:
        codes = (batch.node_features if isinstance(batch, GraphBatch)
                 else dgl_backend.node_codes(batch))
        h = self.atom_type_embedding(codes[:, 0]) + self.chirality_embedding(codes[:, 1])
        if self.rich_atom_embeddings is not None:
            if codes.shape[1] < 2 + len(self.rich_atom_embeddings):
                raise ValueError(
                    f"this encoder reads rich atom features (9 codes per atom), the graphs "
                    f"have {codes.shape[1]}: featurize them with "
                    "ACMLGraphFeaturizer(atom_features='rich') (or encoder.graph_featurizer())")
            for column, table in enumerate(self.rich_atom_embeddings, start=2):
                h = h + table(codes[:, column])
        operators = (MessageOperators.of(batch)
                     if isinstance(batch, GraphBatch) and h.device.type != "mps" else None)
        for layer, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = self._normalize(norm, conv(h, batch, operators))
            if layer < self.num_layers - 1:
                h = torch.relu(h)
            h = nn.functional.dropout(h, self.dropout, training=self.training)
        return h

    def _normalize(self, norm: nn.Module, h: torch.Tensor) -> torch.Tensor:
        # A batch holding a single atom has no variance to normalise by: use the running
        # statistics for it instead of failing (a lone methane or metal ion is valid input).
        if isinstance(norm, nn.BatchNorm1d) and self.training and h.shape[0] < 2:
            return nn.functional.batch_norm(h, norm.running_mean, norm.running_var, norm.weight,
                                            norm.bias, training=False, eps=norm.eps)
        return norm(h)

    def forward(self, batch: Union[GraphBatch, Any]) -> torch.Tensor:
        """Graph embeddings of a :class:`GraphBatch` or a batched ``DGLGraph``
        (see :meth:`collate`).

        Parameters
        ----------
        batch : GraphBatch or DGLGraph
            From :meth:`collate`.

        Returns
        -------
        torch.Tensor
            (num_graphs, hidden_dim) graph embeddings.
        """
        h = self.node_embeddings(batch)
        if isinstance(batch, GraphBatch):
            return pool_nodes(h, batch.graph_index, batch.num_graphs, self.pooling)
        return dgl_backend.pool_nodes(batch, h, self.pooling)


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


def build_gin(encoder: Union["GINEncoder", Mapping[str, Any]],
              backend: str = "torch") -> GINEncoder:
    """The graph encoder a model is composed of: a new :class:`GINEncoder` (random weights)
    from a dict of its arguments (:data:`GIN_ARGUMENTS`; the others keep their defaults), or a
    copy of a ``GINEncoder`` (its weights, on the CPU; the module passed in is never changed).
    Either passes messages with ``backend`` (the weights and outputs are the same).

    Parameters
    ----------
    encoder : GINEncoder or dict
        The module to copy, or the arguments of a new one.
    backend : str, default="torch"
        ``"torch"`` or ``"dgl"``.

    Returns
    -------
    GINEncoder
        A module of the model's own.

    Examples
    --------
    >>> build_gin(dict(num_layers=2, hidden_dim=16)).config()["hidden_dim"]
    16
    >>> original = GINEncoder(num_layers=2, hidden_dim=8)
    >>> build_gin(original) is original
    False
    """
    if isinstance(encoder, GINEncoder):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "dgl":
            dgl_backend.require_dgl()
        module = copy.deepcopy(encoder).cpu()
        module.backend = backend
        return module
    if isinstance(encoder, Mapping):
        unknown = set(encoder) - set(GIN_ARGUMENTS)
        if unknown:
            raise ValueError(f"encoder=dict(...) takes GINEncoder's arguments {GIN_ARGUMENTS}; "
                             f"got {sorted(unknown)}")
        return GINEncoder(**encoder, backend=backend)
    raise TypeError(f"encoder must be a GINEncoder or a dict of its arguments {GIN_ARGUMENTS}, "
                    f"got {type(encoder).__name__} {encoder!r}")
