"""Pairing molecules with their frozen modality embeddings: the datasets ACML trains on.

One molecule per row; ``y`` holds every modality's frozen embedding side by side (zeros where
a molecule lacks that modality) and ``w`` one column per modality, 1 where present. With one
modality this is the familiar ``(X: graphs, y: embeddings, w: ones)`` dataset.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import deepchem as dc
import numpy as np

from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.modalities import Modality

logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]


def is_missing(value: Any) -> bool:
    """``None`` or NaN: a molecule without this modality (masked, never imputed)."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def row_ids(ids: Optional[Sequence[Any]], n: int) -> np.ndarray:
    """The rows' identifiers (default: the row numbers), checked against the row count."""
    ids = np.arange(n) if ids is None else np.asarray(list(ids), dtype=object)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} molecules")
    return ids


def embed_modality(modality: Modality, inputs: Sequence[Any], n: int, device: Any,
                   cache_path: Optional[PathLike], reasons: Dict[int, List[str]],
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """One modality's frozen embeddings for ``n`` rows (zeros where missing or failed) and its
    presence mask; each failure's reason is added to ``reasons`` under its row."""
    inputs = list(inputs)
    if len(inputs) != n:
        raise ValueError(f"{n} molecules but {len(inputs)} {modality.name} inputs: they must "
                         "be paired row by row")
    given = [i for i, x in enumerate(inputs) if not is_missing(x)]
    embeddings, result = modality.embed([inputs[i] for i in given], device=device,
                                        cache_path=cache_path)
    block = np.zeros((n, modality.embedding_dim), dtype=np.float32)
    rows = np.asarray(given, dtype=np.int64)[result.indices]
    block[rows] = embeddings
    mask = np.zeros(n, dtype=np.float32)
    mask[rows] = 1.0
    for failure in result.failures:
        reasons[given[failure.index]].append(f"{modality.name}: {failure.reason}")
    return block, mask


def pair_molecules(graph_featurizer: Any, modalities: Mapping[str, Modality],
                   smiles: Sequence[Any], modality_inputs: Mapping[str, Sequence[Any]],
                   ids: Optional[Sequence[Any]] = None, device: Any = None,
                   cache_paths: Optional[Mapping[str, PathLike]] = None,
                   ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
    """The training dataset of molecules and the modalities they have, and the rows left out.

    A molecule whose graph fails, or that is left with no usable modality, is left out and
    reported (row, input, the reason of each side that failed); a failed input of one modality
    only masks that modality for the molecule.

    Parameters
    ----------
    graph_featurizer : ACMLGraphFeaturizer
        Turns the molecules into graphs (``featurize_with_report``).
    modalities : mapping of str to Modality
        The model's frozen modalities, in its order.
    smiles : sequence of str or RDKit Mol
        One molecule per row.
    modality_inputs : mapping of str to sequence
        Each modality's raw inputs row by row (``None`` or NaN where a molecule lacks one); a
        modality not in the mapping is missing for every row.
    ids : sequence, optional
        Row identifiers (default: the row numbers).
    device : torch.device, optional
        Where the frozen encoders run.
    cache_paths : mapping of str to path-like, optional
        Per modality, an ``.npz`` file keeping its frozen embeddings across runs.

    Returns
    -------
    dataset : dc.data.NumpyDataset
        ``X``: GraphData; ``y``: the frozen embeddings side by side; ``w``: presence, one
        column per modality; ``ids``: the rows kept.
    failures : list of FeaturizationFailure
        One entry (index, input, reason) per row left out or masked.

    Examples
    --------
    >>> from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
    >>> from deepchem_acml.modalities import get_modality
    >>> dataset, failures = pair_molecules(ACMLGraphFeaturizer(),
    ...                                    {"smiles": get_modality("smiles")},
    ...                                    ["CCO", "C1CC", "c1ccccc1"],
    ...                                    {"smiles": ["CCO", "C1CC", None]})
    >>> dataset.y.shape, dataset.w.ravel().tolist()
    ((1, 512), [1.0])
    >>> [(f.index, f.reason.split(":")[0]) for f in failures]
    [(1, 'graph'), (2, 'smiles')]
    """
    smiles = list(smiles)
    unknown = set(modality_inputs) - set(modalities)
    if unknown:
        raise ValueError(f"inputs for modalities this model does not have: {sorted(unknown)}; "
                         f"it has {list(modalities)}")
    ids = row_ids(ids, len(smiles))
    graphs = graph_featurizer.featurize_with_report(smiles)
    reasons: Dict[int, List[str]] = defaultdict(list)
    for failure in graphs.failures:
        reasons[failure.index].append(f"graph: {failure.reason}")
    blocks, present = [], []
    for name, modality in modalities.items():
        inputs = modality_inputs.get(name, [None] * len(smiles))
        cache = (cache_paths or {}).get(name)
        block, mask = embed_modality(modality, inputs, len(smiles), device, cache, reasons)
        blocks.append(block)
        present.append(mask)
    y, w = np.concatenate(blocks, axis=1), np.stack(present, axis=1)
    keep = _rows_to_keep(graphs.indices, w, reasons, modalities, len(smiles))
    failures = [FeaturizationFailure(i, smiles[i], "; ".join(reasons[i]))
                for i in sorted(reasons) if reasons[i]]
    if failures:
        logger.warning("%d of %d rows not usable: %s", len(failures), len(smiles),
                       "; ".join(str(f) for f in failures[:5]))
    graph_at = dict(zip(graphs.indices.tolist(), graphs.features))
    X = np.empty(len(keep), dtype=object)
    X[:] = [graph_at[i] for i in keep]
    return dc.data.NumpyDataset(X=X, y=y[keep], w=w[keep], ids=ids[keep]), failures


def _rows_to_keep(graph_rows: np.ndarray, present: np.ndarray, reasons: Dict[int, List[str]],
                  modalities: Mapping[str, Modality], n: int) -> np.ndarray:
    """Rows with a graph and at least one modality; a row with none whose inputs were all
    missing gets that reason. (A kept row with a failed input stays in ``reasons``: the
    input is reported, the modality masked.)"""
    graph_ok = np.zeros(n, dtype=bool)
    graph_ok[graph_rows] = True
    keep = np.flatnonzero(graph_ok & (present.sum(axis=1) > 0))
    for i in np.flatnonzero(present.sum(axis=1) == 0):
        if not reasons[int(i)]:  # nothing failed: every input was missing
            reasons[int(i)].append("; ".join(f"{name}: no input" for name in modalities))
    return keep


def cache_paths_for(names: Sequence[str], embedding_cache: Optional[PathLike]
                    ) -> Dict[str, Path]:
    """Where each modality's frozen embeddings are cached: ``embedding_cache`` itself (an
    ``.npz`` file) for a model of one modality, ``<folder>/<name>.npz`` for several or when
    the path ends with a separator."""
    if embedding_cache is None:
        return {}
    if len(names) == 1 and not os.fspath(embedding_cache).endswith(os.sep):
        return {names[0]: Path(embedding_cache)}
    return {name: Path(embedding_cache) / f"{name}.npz" for name in names}
