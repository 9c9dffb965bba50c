"""The DGL backend of the GIN encoder: the same layers, with DGL message passing.

Selected with ``GINEncoder(..., backend="dgl")`` (or ``backend="dgl"`` on the models): batches
become ``dgl.DGLGraph`` objects built with DeepChem's ``GraphData.to_dgl_graph()``, neighbour
sums run through ``DGLGraph.update_all`` and pooling through ``dgl.readout_nodes``. The weights
are the default backend's, so every checkpoint loads in either; outputs agree to float32
rounding (the parity test asserts 1e-5 absolute after five layers).

DGL 2.1.0 (the last Linux wheel on the package index) ships compiled parts only for torch
2.0.0-2.2.1, so it lives in its own environment (``tox -e dgl``, see README). With newer torch
``import dgl`` fails, and DeepChem, which imports dgl whenever it is installed, fails with it:
:func:`dgl_import_error` turns that into one clear message.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Optional, Sequence

import torch

#: DGL's per-node readout names for the encoder's pooling names.
READOUTS = {"sum": "sum", "mean": "mean", "max": "max"}


def dgl_import_error() -> Optional[str]:
    """None when dgl is absent or imports; otherwise what is wrong and what to do.

    Examples
    --------
    >>> message = dgl_import_error()
    >>> message is None or "dgl" in message
    True
    """
    if importlib.util.find_spec("dgl") is None:
        return None
    try:
        import dgl  # noqa: F401
    except Exception as err:  # another torch's wheel: OSError, FileNotFoundError...
        return (f"dgl is installed but does not import with torch {torch.__version__}: "
                f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}. DGL's "
                "last Linux wheels (2.1.0) work only with torch 2.0.0-2.2.1, and DeepChem "
                "imports dgl whenever it is installed, so `import deepchem` fails too. Either "
                "`pip uninstall dgl` (the default GIN backend needs no DGL) or use the DGL "
                "environment: `tox -e dgl` (torch 2.2.1, dgl 2.1.0; see README).")
    return None


def require_dgl():
    """``import dgl``, or an ImportError that says how to get a working one."""
    if importlib.util.find_spec("dgl") is None:
        raise ImportError("the DGL backend needs dgl, which is not installed; DGL 2.1.0 works "
                          "only with torch 2.0.0-2.2.1: use the `dgl` tox environment "
                          "(`tox -e dgl`, see README), or backend='torch' (the default)")
    problem = dgl_import_error()
    if problem:
        raise ImportError(problem)
    import dgl

    return dgl


def collate_dgl(graphs: Sequence[Any], device: Optional[torch.device] = None):
    """One batched ``DGLGraph`` of ``GraphData`` objects or ``MolecularGraph`` arrays (node
    codes in ``ndata["x"]``, bond codes in ``edata["edge_attr"]``, as
    ``GraphData.to_dgl_graph`` stores them)."""
    from deepchem_acml.data.batching import check_graphs

    dgl = require_dgl()
    check_graphs(graphs)
    batch = dgl.batch([_as_graph_data(graph).to_dgl_graph() for graph in graphs])
    return batch if device is None else batch.to(device)


def _as_graph_data(graph: Any):
    if hasattr(graph, "to_dgl_graph"):
        return graph
    from deepchem.feat import GraphData

    return GraphData(node_features=graph.node_features, edge_index=graph.edge_index,
                     edge_features=graph.edge_features)


def is_dgl_graph(batch: Any) -> bool:
    return type(batch).__name__ == "DGLGraph"


def node_codes(graph) -> torch.Tensor:
    return graph.ndata["x"].long()


def edge_codes(graph) -> torch.Tensor:
    return graph.edata["edge_attr"].long().reshape(graph.num_edges(), -1)


def sum_neighbour_messages(graph, h: torch.Tensor, edge_embedding: torch.Tensor) -> torch.Tensor:
    """For each node v, the sum over in-edges u -> v of ``h_u + e_uv``."""
    import dgl.function as fn

    with graph.local_scope():
        graph.ndata["h"] = h
        graph.edata["e"] = edge_embedding
        graph.update_all(fn.u_add_e("h", "e", "m"), fn.sum("m", "aggregated"))
        return graph.ndata["aggregated"]


def pool_nodes(graph, h: torch.Tensor, pooling: str) -> torch.Tensor:
    import dgl

    with graph.local_scope():
        graph.ndata["h"] = h
        return dgl.readout_nodes(graph, "h", op=READOUTS[pooling])
