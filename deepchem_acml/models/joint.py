"""Joint ACML: one graph encoder aligned with several frozen modalities at once.

Each modality has its own pair of projection heads (graph side and modality side) and its own
contrastive loss; a molecule contributes to the loss of each modality it has, and a missing
modality is masked out of that loss — never imputed. The total loss is the mean over the
modalities present in the batch (a modality needs two molecules in the batch to count).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

import deepchem as dc
from deepchem.models.optimizers import AdamW

from deepchem_acml.checkpoints import CheckpointError
from deepchem_acml.shipped import JOINT_CHECKPOINT_KIND
from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
from deepchem_acml.modalities import Modality, get_modality, modality_from_config
from deepchem_acml.models.acml import ACMLModel, pretrained_path
from deepchem_acml.models.utils import seed_everything
from deepchem_acml.nn.gin import GINEncoder
from deepchem_acml.nn.heads import ProjectionHead, Standardizer
from deepchem_acml.nn.loss import acml_contrastive_loss


class JointACMLNetwork(nn.Module):
    """GIN + per-modality graph heads, standardisers and modality heads.

    ``forward([graphs, modality_embeddings, present])`` with the embeddings of all modalities
    side by side (``(B, sum of dims)``, zeros where missing) and ``present`` ``(B, M)``
    returns ``[graph_projections, graph_projections, modality_projections, present,
    graph_embedding]``, projections stacked as ``(B, M, projection_dim)``.
    """

    def __init__(self, graph_encoder: GINEncoder, modality_dims: Mapping[str, int],
                 projection_dim: int, num_cells: int, projection_dropout: float):
        super().__init__()
        self.graph_encoder = graph_encoder
        self.names = list(modality_dims)
        self.dims = [int(modality_dims[name]) for name in self.names]
        head = lambda dim: ProjectionHead(dim, projection_dim, num_cells, projection_dropout)  # noqa: E731
        self.graph_projections = nn.ModuleDict({n: head(graph_encoder.hidden_dim) for n in self.names})
        self.standardizers = nn.ModuleDict({n: Standardizer(d) for n, d in modality_dims.items()})
        self.modality_projections = nn.ModuleDict({n: head(d) for n, d in modality_dims.items()})

    def split(self, modality_embeddings: torch.Tensor) -> List[torch.Tensor]:
        return list(torch.split(modality_embeddings, self.dims, dim=1))

    def project_modality(self, name: str, embeddings: torch.Tensor) -> torch.Tensor:
        return self.modality_projections[name](self.standardizers[name](embeddings))

    def forward(self, inputs: Sequence[Any]) -> List[torch.Tensor]:
        graph_batch, modality_embeddings, present = inputs
        graph_embedding = self.graph_encoder(graph_batch)
        graph_projections = torch.stack([self.graph_projections[n](graph_embedding)
                                         for n in self.names], dim=1)
        if modality_embeddings is None:
            modality_projections = graph_projections.new_zeros(graph_projections.shape[:1] + (0,))
            present = graph_projections.new_zeros((graph_projections.shape[0], 0))
        else:
            modality_projections = torch.stack(
                [self.project_modality(n, part)
                 for n, part in zip(self.names, self.split(modality_embeddings))], dim=1)
        return [graph_projections, graph_projections, modality_projections, present,
                graph_embedding]


class JointACMLModel(ACMLModel):
    """ACML against several modalities at once, with missing modalities masked.

    Parameters
    ----------
    modalities : sequence of str or Modality
        The frozen sides, e.g. ``["nmr_13c", "nmr_1h", "smiles"]``.
    num_layers, hidden_dim, dropout, pooling, norm, projection_dim, num_cells : see ACMLModel
        As in :class:`ACMLModel` (one GIN and one set of projection sizes for all).
    projection_dropout, temperature, targets, learning_rate, weight_decay : see ACMLModel
        As in :class:`ACMLModel`.
    batch_size, seed, backend : see ACMLModel
        As in :class:`ACMLModel`.
    **kwargs
        Passed to ``dc.models.TorchModel``.

    Examples
    --------
    >>> from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    >>> frame = read_embedded_nmr_13c().head(48)
    >>> model = JointACMLModel(["nmr_13c", "smiles"], hidden_dim=16, projection_dim=16,
    ...                        batch_size=16, seed=0)
    >>> spectra = list(frame.spectrum[:24]) + [None] * 24      # half the molecules lack 13C
    >>> dataset, failures = model.build_dataset(frame.smiles,
    ...                                         {"nmr_13c": spectra, "smiles": frame.smiles})
    >>> len(dataset), dataset.w.sum(axis=0).tolist(), failures
    (48, [24.0, 48.0], [])
    >>> _ = model.fit(dataset, nb_epoch=1, progress=False)
    """

    def __init__(self, modalities: Sequence[Union[str, Modality]] = ("nmr_13c", "smiles"),
                 num_layers: int = 5, hidden_dim: int = 300, dropout: float = 0.2,
                 pooling: str = "sum", norm: str = "layer", projection_dim: int = 512,
                 num_cells: int = 2, projection_dropout: float = 0.1, temperature: float = 1.0,
                 targets: str = "soft", learning_rate: float = 1e-3, weight_decay: float = 1e-3,
                 batch_size: int = 128, seed: Optional[int] = None, backend: str = "torch",
                 **kwargs):
        if isinstance(modalities, (str, Modality)) or len(modalities) < 1:
            raise ValueError("modalities must be a list of one or more modality names")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if seed is not None:
            seed_everything(seed)
        self.modalities = {m.name: m for m in map(get_modality, modalities)}
        if len(self.modalities) != len(modalities):
            raise ValueError(f"each modality may appear once, got {list(modalities)}")
        self.modality = None
        self.backend, self.precision = backend, "fp32"
        self.graph_featurizer = ACMLGraphFeaturizer()
        self._store_hyperparameters(locals())
        network = JointACMLNetwork(
            GINEncoder(num_layers, hidden_dim, dropout, pooling, norm, backend),
            {name: m.embedding_dim for name, m in self.modalities.items()}, projection_dim,
            num_cells, projection_dropout)
        dc.models.TorchModel.__init__(
            self, network, loss=self._contrastive_loss,
            output_types=["prediction", "loss", "loss", "loss", "embedding"],
            batch_size=batch_size,
            optimizer=AdamW(learning_rate=learning_rate, weight_decay=weight_decay), **kwargs)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"JointACMLModel(modalities={list(self.modalities)!r}, {arguments})"

    def config(self) -> Dict[str, Any]:
        return {"modalities": [m.config() for m in self.modalities.values()],
                "hyperparameters": dict(self.hyperparameters)}

    @property
    def _checkpoint_kind(self) -> str:
        return JOINT_CHECKPOINT_KIND

    def _identity_standardizer(self) -> Dict[str, torch.Tensor]:
        return {}  # joint checkpoints always carry their standardisers

    # ----------------------------------------------------------------------------- data
    def build_dataset(self, smiles: Sequence[Any], modality_inputs: Mapping[str, Sequence[Any]],
                      ids: Optional[Sequence[Any]] = None,
                      embedding_cache_dir: Optional[Union[str, os.PathLike]] = None,
                      ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """Pair each molecule with the modalities it has.

        ``modality_inputs`` maps a modality name to one input per molecule, ``None`` (or NaN)
        where the molecule lacks it. ``y`` holds the frozen embeddings side by side (zeros
        where missing) and ``w`` one column per modality, 1 where present. A given input that
        fails is reported (row, which modality, why) and that modality is masked for the
        molecule; a molecule whose graph fails, or that is left with no modality, is dropped
        and reported. ``embedding_cache_dir``: a folder that keeps each modality's frozen
        embeddings across runs (``<name>.npz``, see :meth:`Modality.embed`).

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            One molecule per row.
        modality_inputs : mapping of str to sequence
            Each modality's raw inputs, row by row; ``None`` (or NaN) where a molecule lacks one.
        ids : sequence, optional
            Row identifiers.
        embedding_cache_dir : str or path-like, optional
            A folder keeping each frozen encoder's outputs for a later run.

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData; ``y``: every modality's frozen embeddings side by side; ``w``: 1 where a
            molecule has that modality, 0 where it is masked.
        failures : list of FeaturizationFailure
            Rows left out, with their reasons.
        """
        smiles = list(smiles)
        unknown = set(modality_inputs) - set(self.modalities)
        if unknown:
            raise ValueError(f"inputs for modalities this model does not have: {sorted(unknown)}")
        ids = np.arange(len(smiles)) if ids is None else np.asarray(list(ids), dtype=object)
        graphs = self.graph_featurizer.featurize_with_report(smiles)
        reasons: Dict[int, List[str]] = defaultdict(list)
        for failure in graphs.failures:
            reasons[failure.index].append(f"graph: {failure.reason}")
        blocks, present = [], []
        for name, modality in self.modalities.items():
            inputs = list(modality_inputs.get(name, [None] * len(smiles)))
            if len(inputs) != len(smiles):
                raise ValueError(f"{len(smiles)} molecules but {len(inputs)} {name} inputs")
            given = [i for i, x in enumerate(inputs) if not _missing(x)]
            cache = (None if embedding_cache_dir is None
                     else Path(embedding_cache_dir) / f"{name}.npz")
            embeddings, result = modality.embed([inputs[i] for i in given], device=self.device,
                                                cache_path=cache)
            block = np.zeros((len(smiles), modality.embedding_dim), dtype=np.float32)
            rows = np.asarray(given, dtype=np.int64)[result.indices]
            block[rows] = embeddings
            mask = np.zeros(len(smiles), dtype=np.float32)
            mask[rows] = 1.0
            for failure in result.failures:
                reasons[given[failure.index]].append(f"{name}: {failure.reason}")
            blocks.append(block)
            present.append(mask)
        y, w = np.concatenate(blocks, axis=1), np.stack(present, axis=1)
        graph_ok = np.zeros(len(smiles), dtype=bool)
        graph_ok[graphs.indices] = True
        keep = np.flatnonzero(graph_ok & (w.sum(axis=1) > 0))
        for i in np.flatnonzero(graph_ok & (w.sum(axis=1) == 0)):
            reasons[int(i)].append("no usable modality input")
        failures = [FeaturizationFailure(i, smiles[i], "; ".join(reasons[i]))
                    for i in sorted(reasons)]
        graph_at = dict(zip(graphs.indices.tolist(), graphs.features))
        X = np.empty(len(keep), dtype=object)
        X[:] = [graph_at[i] for i in keep]
        return dc.data.NumpyDataset(X=X, y=y[keep], w=w[keep], ids=ids[keep]), failures

    # ------------------------------------------------------------------- TorchModel hooks
    def _prepare_batch(self, batch):
        inputs, labels, weights = batch
        graph_batch = self._network.graph_encoder.collate(inputs[0], device=self.device)
        if labels is None or labels[0] is None or not np.size(labels[0]):
            return [graph_batch, None, None], [], []
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)  # noqa: E731
        return [graph_batch, as_tensor(labels[0]), as_tensor(weights[0])], [], []

    def _contrastive_loss(self, outputs: List[torch.Tensor], labels, weights) -> torch.Tensor:
        graph_projections, modality_projections, present = outputs
        if modality_projections.shape[-1] == 0:
            raise ValueError("training needs modality embeddings: build the dataset with "
                             "JointACMLModel.build_dataset(smiles, {name: inputs})")
        losses = []
        for m in range(graph_projections.shape[1]):
            rows = present[:, m] > 0
            if int(rows.sum()) >= 2:
                losses.append(acml_contrastive_loss(graph_projections[rows, m],
                                                    modality_projections[rows, m],
                                                    self.temperature, self.targets))
        if not losses:
            return graph_projections.sum() * 0.0  # no modality with a pair in this batch
        return torch.stack(losses).mean()

    def _check_trainable(self, dataset: Any) -> None:
        if not isinstance(dataset, dc.data.Dataset):
            raise TypeError(f"expected a dc.data.Dataset, got {type(dataset).__name__}; build "
                            "one with JointACMLModel.build_dataset(smiles, {name: inputs})")
        expected = sum(m.embedding_dim for m in self.modalities.values())
        y_shape = dataset.get_shape()[1]
        if y_shape is None or len(y_shape) != 2 or y_shape[1] != expected:
            raise ValueError(f"the dataset's y has shape {y_shape}; training needs the frozen "
                             f"embeddings of {list(self.modalities)} side by side, (n, "
                             f"{expected}): build it with JointACMLModel.build_dataset")
        if len(dataset) < 2:
            raise ValueError(f"a contrastive batch needs at least 2 molecules; the dataset has "
                             f"{len(dataset)}")

    def _fit_modality_statistics(self, dataset: dc.data.Dataset) -> None:
        self._ensure_built()
        y, w = np.asarray(dataset.y, dtype=np.float32), np.asarray(dataset.w)
        parts = np.split(y, np.cumsum(self._network.dims)[:-1], axis=1)
        for m, (name, part) in enumerate(zip(self._network.names, parts)):
            standardizer = self._network.standardizers[name]
            rows = w[:, m] > 0
            if not bool(standardizer.fitted) and rows.sum() > 1:
                standardizer.fit_statistics(torch.as_tensor(part[rows], device=self.device))

    # ---------------------------------------------------------------------- inference
    @torch.no_grad()
    def project_modality(self, name: str, modality_embeddings: np.ndarray) -> np.ndarray:
        """Projections (shared space of ``name``) of that modality's cached embeddings."""
        self._ensure_built()
        self._network.eval()
        embeddings = torch.as_tensor(np.asarray(modality_embeddings, dtype=np.float32),
                                     device=self.device)
        return self._network.project_modality(name, embeddings).cpu().numpy()

    def modality_embeddings(self, dataset: dc.data.Dataset, name: str
                            ) -> Tuple[np.ndarray, np.ndarray]:
        """(rows of ``dataset`` that have modality ``name``, their cached frozen embeddings)."""
        m = self._network.names.index(name)
        start = int(np.sum(self._network.dims[:m]))
        rows = np.flatnonzero(np.asarray(dataset.w)[:, m] > 0)
        return rows, np.asarray(dataset.y)[rows, start:start + self._network.dims[m]]

    # --------------------------------------------------------------------- checkpoints
    def _check_compatible(self, stored: Dict[str, Any], source: Any) -> None:
        names = [m["name"] for m in stored.get("modalities", [])]
        if names != list(self.modalities):
            raise CheckpointError(f"{source} was trained against modalities {names}, this "
                                  f"model uses {list(self.modalities)}")
        self._check_architecture(stored, source)

    @classmethod
    def load(cls, path, modalities: Optional[Sequence[Union[str, Modality]]] = None,
             **kwargs) -> "JointACMLModel":
        from deepchem_acml.checkpoints import load_checkpoint_file

        data = load_checkpoint_file(path, kind=JOINT_CHECKPOINT_KIND)
        hyperparameters = dict(data["config"]["hyperparameters"])
        hyperparameters.pop("seed", None)
        modalities = modalities or [modality_from_config(m)
                                    for m in data["config"]["modalities"]]
        model = cls(modalities, **hyperparameters, **kwargs)
        model.restore(str(path))
        return model

    @classmethod
    def from_pretrained(cls, name: str = "joint", **kwargs) -> "JointACMLModel":
        """The joint model shipped with the package (13C NMR, 1H NMR and SMILES; offline).

        Parameters
        ----------
        name : str, default="joint"
            The shipped joint model (or the path of a joint checkpoint).
        **kwargs
            Passed to :meth:`load`.

        Examples
        --------
        >>> model = JointACMLModel.from_pretrained()
        >>> list(model.modalities)
        ['nmr_13c', 'nmr_1h', 'smiles']
        """
        return cls.load(pretrained_path(name), **kwargs)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
