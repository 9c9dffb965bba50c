"""ACMLModel: a DeepChem TorchModel that aligns a trainable GIN with one or several frozen
modality encoders (the network: :mod:`deepchem_acml.nn.acml`; the datasets:
:mod:`.pairing`; the training loop: :mod:`.training`)."""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, cast

import deepchem as dc
import numpy as np
import torch
from deepchem.models.optimizers import AdamW

from deepchem_acml import distributed
from deepchem_acml.checkpoints import (
    CheckpointError,
    half_precision,
    load_checkpoint_file,
    save_checkpoint_file,
)
from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
from deepchem_acml.modalities import Modality, get_modality, modality_from_config
from deepchem_acml.models.pairing import cache_paths_for, pair_molecules, row_ids
from deepchem_acml.models.training import ResumableTraining
from deepchem_acml.models.utils import seed_everything
from deepchem_acml.nn.acml import TEACHER_STATISTICS, ACMLNetwork, upgrade_state_dict
from deepchem_acml.nn.gin import GIN_ARGUMENTS, GINEncoder, build_gin
from deepchem_acml.nn.heads import Standardizer
from deepchem_acml.nn.loss import acml_contrastive_loss
from deepchem_acml.shipped import ACML_CHECKPOINT_KIND, JOINT_CHECKPOINT_KIND, pretrained_path

logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]
ModalitySpec = Union[str, Modality, Sequence[Union[str, Modality]]]
EncoderSpec = Union[GINEncoder, Mapping[str, Any]]
Model = TypeVar("Model", bound="ACMLModel")

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
BATCHINGS = ("random", "neighbours", "half-neighbours")
#: ``dc.models.TorchModel``'s own arguments that ``ACMLModel(**kwargs)`` passes on (the
#: others it sets itself); anything else in ``kwargs`` would be ignored by DeepChem, so it is
#: refused
TORCH_MODEL_ARGUMENTS = ("model_dir", "tensorboard", "wandb", "log_frequency", "device",
                         "regularization_loss", "wandb_logger")


def modalities_of(modality: ModalitySpec) -> Dict[str, Modality]:
    """The frozen modalities by name, in order, from one name/Modality or a list of them."""
    listed = [modality] if isinstance(modality, (str, Modality)) else list(modality)
    if not listed:
        raise ValueError("a model needs at least one modality")
    modalities = {m.name: m for m in map(get_modality, listed)}
    if len(modalities) != len(listed):
        raise ValueError(f"each modality may appear once, got {listed}")
    return modalities


def check_arguments(temperature: float, batch_size: int, precision: str,
                    distillation_weight: float = 0.0, batching: str = "random",
                    teacher_statistics: str = "batch") -> None:
    """Clear errors for settings that cannot train, before anything is built."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if batch_size < 2:
        raise ValueError(f"a contrastive batch needs at least 2 molecules, got {batch_size}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r} "
                         "(float16 would need loss scaling, which DeepChem's training loop "
                         "does not do: use bf16)")
    if not np.isfinite(distillation_weight) or distillation_weight < 0:
        raise ValueError(f"distillation_weight must be a finite number >= 0, got "
                         f"{distillation_weight}")
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {list(BATCHINGS)}, got {batching!r}")
    if teacher_statistics not in TEACHER_STATISTICS:
        raise ValueError(f"teacher_statistics must be one of {list(TEACHER_STATISTICS)}, got "
                         f"{teacher_statistics!r}")


def encoder_argument(encoder: Optional[EncoderSpec], kwargs: Dict[str, Any],
                     owner: str = "ACMLModel") -> EncoderSpec:
    """``encoder`` (``None``: ACML's GIN, ``GINEncoder()``'s defaults), or the GIN arguments
    of the deprecated flat spelling taken out of ``kwargs``; GIN arguments beside an encoder
    are refused (a module keeps its own architecture, a dict holds them itself)."""
    gin = {name: kwargs.pop(name) for name in GIN_ARGUMENTS if name in kwargs}
    spelled = ", ".join(f"{k}={v!r}" for k, v in gin.items())
    if gin and encoder is None:
        warnings.warn(f"{owner}({spelled}) is deprecated and will be removed in the next "
                      f"release: pass encoder=dict({spelled})", FutureWarning, stacklevel=3)
        return gin
    if gin and isinstance(encoder, Mapping):
        raise TypeError(f"pass {sorted(gin)} inside encoder=dict(...), not beside it")
    if gin:
        raise TypeError(f"{sorted(gin)} would be ignored: the GINEncoder passed as encoder keeps "
                        f"its own architecture. For a new GIN pass encoder=dict({spelled})")
    return {} if encoder is None else encoder


def _teacher_statistics_argument(kwargs: Dict[str, Any]) -> str:
    """How the teacher heads standardise the graph embedding: batch statistics, or the
    running ones only a recorded ablation used (``_teacher_statistics="running"``, what
    :meth:`ACMLModel.from_config` passes for its checkpoints); ``teacher_statistics=``, the
    public spelling of earlier releases, warns."""
    statistics = kwargs.pop("_teacher_statistics", "batch")
    if "teacher_statistics" in kwargs:
        statistics = kwargs.pop("teacher_statistics")
        warnings.warn("ACMLModel(teacher_statistics=...) is deprecated and will be removed in "
                      "the next release: teacher heads standardise by batch statistics",
                      FutureWarning, stacklevel=3)
    return statistics


def check_torch_model_arguments(kwargs: Mapping[str, Any], owner: str) -> None:
    """DeepChem's TorchModel swallows keyword arguments it does not know: refuse them here."""
    unknown = sorted(set(kwargs) - set(TORCH_MODEL_ARGUMENTS))
    if unknown:
        raise TypeError(f"{owner} got unexpected keyword argument(s) {unknown}: it takes its own "
                        f"arguments, the GIN's inside encoder=dict(...) and dc.models."
                        f"TorchModel's {list(TORCH_MODEL_ARGUMENTS)}")


class ACMLModel(ResumableTraining, dc.models.TorchModel):
    r"""Asymmetric Contrastive Multimodal Learning (Wang et al., J. Chem. Inf. Model. 2025).

    A shallow GIN graph encoder (trainable) is aligned with the frozen pretrained encoder of
    another chemical modality — or of several at once — through a CLIP-style contrastive loss.
    Only the GIN and the projection heads learn; the frozen encoders' outputs are computed once
    per molecule by :meth:`build_dataset` and cached in the dataset's ``y``, never recomputed
    during training. With several modalities each has its own pair of heads and its own loss;
    a molecule counts in the loss of each modality it has (a missing one is masked, never
    imputed) and the total is the mean over the modalities present in the batch.

    The model is composed of its parts: the graph encoder (``encoder``: a ``GINEncoder`` or
    the arguments of a new one), the frozen modalities (``modality``), and per modality a pair
    of projection heads.

    Loss, for a batch of N molecules with graph projections G and modality projections C
    (N × ``projection_dim``) and temperature τ::

        logits  = C Gᵀ / τ
        targets = softmax_row((C Cᵀ + G Gᵀ) / 2 · τ)        (targets="soft", the reference)
                  I                                          (targets="infonce")
        loss    = ( CE(logits, targets) + CE(logitsᵀ, targetsᵀ) ) / 2

    with ``CE`` the row-wise soft cross-entropy averaged over rows.

    Outputs: ``predict`` gives graph projections (the shared space used for retrieval;
    ``(n, projection_dim)`` with one modality, ``(n, M, projection_dim)`` with M);
    ``predict_embedding`` gives the GIN's pooled graph embeddings (``hidden_dim``), the
    representation for downstream property models.

    Parameters
    ----------
    modality : str, Modality or list of them, default="nmr_13c"
        The frozen side: a registered name (``"nmr_13c"``), a :class:`Modality`, or a list of
        them for joint training (``["nmr_13c", "smiles"]``).
    encoder : GINEncoder or dict, optional
        The trainable graph encoder: a dict of ``GINEncoder`` arguments (``num_layers``,
        ``hidden_dim``, ``dropout``, ``pooling``, ``norm``, ``atom_features``) for a new one
        with random weights, or a ``GINEncoder``, copied with its weights (training changes the
        model's copy, never the module passed in; e.g. a pretrained encoder to go on
        training). None builds ACML's GIN: 5 layers of width 300, dropout 0.2, sum pooling, Hu
        atom inputs, with layer norm (ACML: batch norm; layer norm keeps out-of-distribution
        molecules bounded, see ``GINEncoder``). The model featurizes with the encoder's atom
        inputs (``graph_featurizer``).
    projection_dim : int, default=512
        The projection heads' width (ACML: 512).
    num_cells : int, default=2
        Residual cells per projection head (ACML: 2).
    projection_dropout : float, default=0.1
        Dropout in the projection heads (ACML: 0.1).
    temperature : float, default=1.0
        τ (ACML: 1.0).
    targets : str, default="soft"
        ``"soft"`` (ACML) or ``"infonce"``.
    distillation_weight : float, default=0.0
        Weight of a term added to each modality's contrastive loss: the mean squared error
        between a linear map of the graph embedding and the molecule's standardised frozen
        embedding (not in ACML, which only aligns). The teacher is frozen, so its embedding is
        a fixed target the graph can be asked to reproduce; contrastive alignment alone only
        asks the graph to tell the molecules of a batch apart. 0 trains plain ACML.
    batching : str, default="random"
        How training batches are drawn each epoch: ``"random"`` (ACML) or ``"neighbours"``:
        batches of molecules whose frozen embeddings are close (the leaves of a principal-axis
        tree over the standardised frozen embeddings, redrawn every epoch from the seed; see
        ``models.training.neighbour_order``), so that a molecule's in-batch negatives are
        ones its teacher finds close (not in ACML); ``"half-neighbours"``: half of each batch
        near neighbours, half random, since batches of neighbours alone lose the embedding's
        global structure (every negative is local). Validation batches are unchanged.
    learning_rate : float, default=1e-3
        AdamW's learning rate (ACML: 1e-3).
    weight_decay : float, default=1e-3
        AdamW's weight decay (ACML: 1e-3).
    batch_size : int, default=128
        Molecules per contrastive batch (ACML: 128).
    seed : int, optional
        Seeds Python, numpy and torch before the weights are built and switches torch to
        deterministic algorithms (process-wide; see ``models.utils.seed_everything``): the same
        seed gives the same initial weights and, on CPU, a bitwise-identical training run.
    backend : str, default="torch"
        GIN message passing: ``"torch"`` or ``"dgl"`` (the DGL environment; same weights, same
        outputs). Not stored in checkpoints.
    precision : str, default="fp32"
        ``"fp32"`` or ``"bf16"``: autocast of the forward pass (bfloat16 needs no loss scaling;
        meant for GPUs, also runs on CPU). The loss is computed in float32.
    **kwargs
        Passed to ``dc.models.TorchModel`` (``model_dir``, ``device``, ``log_frequency``...);
        other names are refused. The GIN's arguments given here (``hidden_dim=32``, the
        spelling of earlier releases) still build the model, with a ``FutureWarning``: pass
        them as ``encoder=dict(hidden_dim=32)``.

    Examples
    --------
    >>> from deepchem_acml import ACMLModel
    >>> from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    >>> frame = read_embedded_nmr_13c().head(64)
    >>> model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64,
    ...                   batch_size=32, seed=0)
    >>> dataset, failures = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    >>> len(dataset), failures
    (64, [])
    >>> loss = model.fit(dataset, nb_epoch=1, progress=False)
    >>> model.predict_embedding(dataset).shape
    (64, 32)
    """

    def __init__(self, modality: ModalitySpec = "nmr_13c",
                 encoder: Optional[EncoderSpec] = None, projection_dim: int = 512,
                 num_cells: int = 2, projection_dropout: float = 0.1, temperature: float = 1.0,
                 targets: str = "soft", distillation_weight: float = 0.0,
                 batching: str = "random", learning_rate: float = 1e-3,
                 weight_decay: float = 1e-3, batch_size: int = 128, seed: Optional[int] = None,
                 backend: str = "torch", precision: str = "fp32", **kwargs: Any):
        encoder = encoder_argument(encoder, kwargs, type(self).__name__)
        teacher_statistics = _teacher_statistics_argument(kwargs)
        check_torch_model_arguments(kwargs, type(self).__name__)
        check_arguments(temperature, batch_size, precision, distillation_weight, batching,
                        teacher_statistics)
        if seed is not None:
            seed_everything(seed)
        self.modalities = modalities_of(modality)
        self.backend, self.precision = backend, precision
        graph_encoder = build_gin(encoder, backend)
        self.graph_featurizer = ACMLGraphFeaturizer(atom_features=graph_encoder.atom_features)
        #: every stored setting, flat (the GIN's beside the model's own): what checkpoints
        #: hold and :meth:`from_config` reads
        self.hyperparameters: Dict[str, Any] = {
            **graph_encoder.config(), "projection_dim": projection_dim,
            "num_cells": num_cells, "projection_dropout": projection_dropout,
            "temperature": temperature, "targets": targets,
            "distillation_weight": float(distillation_weight), "batching": batching,
            "teacher_statistics": teacher_statistics, "learning_rate": learning_rate,
            "weight_decay": weight_decay, "batch_size": batch_size, "seed": seed}
        self.temperature, self.targets, self.seed = temperature, targets, seed
        self.distillation_weight, self.batching = float(distillation_weight), batching
        network = ACMLNetwork(graph_encoder,
                              {n: m.embedding_dim for n, m in self.modalities.items()},
                              projection_dim, num_cells, projection_dropout,
                              PRECISIONS[precision], distillation=self.distillation_weight > 0,
                              teacher_statistics=teacher_statistics)
        super().__init__(network, loss=self._contrastive_loss,
                         output_types=["prediction", "loss", "loss", "loss", "loss", "embedding"],
                         batch_size=batch_size,
                         optimizer=AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
                         **kwargs)

    @property
    def modality(self) -> Optional[Modality]:
        """The frozen modality of a single-modality model (``None`` with several)."""
        return next(iter(self.modalities.values())) if len(self.modalities) == 1 else None

    @property
    def encoder_config(self) -> Dict[str, Any]:
        """The graph encoder's arguments (``encoder=dict(...)`` of an equal new model)."""
        return {k: self.hyperparameters[k] for k in GIN_ARGUMENTS}

    def __repr__(self) -> str:
        # the constructor's arguments, every stored setting among them: DeepChem and the
        # featurizer caches tell models apart by it
        own = {k: v for k, v in self.hyperparameters.items()
               if k not in GIN_ARGUMENTS and k != "teacher_statistics"}
        if self.hyperparameters["teacher_statistics"] != "batch":
            own["_teacher_statistics"] = self.hyperparameters["teacher_statistics"]
        arguments = ", ".join(f"{k}={v!r}" for k, v in own.items())
        if self.modality is not None and type(self) is ACMLModel:
            first = f"modality={self.modality.name!r}"
        else:
            first = f"modalities={list(self.modalities)!r}"
        return (f"{type(self).__name__}({first}, encoder={self.encoder_config!r}, {arguments}, "
                f"backend={self.backend!r}, precision={self.precision!r})")

    @property
    def _network(self) -> ACMLNetwork:
        """The network itself, also while training has it wrapped in DDP."""
        return getattr(self.model, "module", self.model)

    def config(self) -> Dict[str, Any]:
        """Everything needed to rebuild this model (stored in every checkpoint; see
        :meth:`from_config`): the modality or modalities, and ``hyperparameters``, the GIN's
        arguments beside the model's own in one flat dict (the form every earlier release
        wrote and reads)."""
        if self.modality is not None:
            return {"modality": self.modality.config(),
                    "hyperparameters": dict(self.hyperparameters)}
        return {"modalities": [m.config() for m in self.modalities.values()],
                "hyperparameters": dict(self.hyperparameters)}

    # ----------------------------------------------------------------------------- data
    def build_dataset(self, smiles: Sequence[Any],
                      modality_inputs: Union[Sequence[Any], Mapping[str, Sequence[Any]]],
                      ids: Optional[Sequence[Any]] = None,
                      embedding_cache: Optional[PathLike] = None,
                      ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """Featurize both sides, encode the modalities once (the cache), and pair them up.

        Rows keep their order and ids. A molecule whose graph fails, or that is left with no
        usable modality, is left out; a failed input of one modality (of several) masks that
        modality for the molecule. Either way the row is reported.

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            One molecule per row.
        modality_inputs : sequence, or mapping of str to sequence
            The modality's raw input for each row (spectra, SMILES, ...), paired row by row;
            with several modalities a mapping from name to inputs, ``None`` (or NaN) where a
            molecule lacks one.
        ids : sequence, optional
            Row identifiers kept in the dataset's ``ids`` (default: the row numbers).
        embedding_cache : str or path-like, optional
            Keeps the frozen encoders' outputs for a later run: an ``.npz`` file (one
            modality) or a folder of ``<name>.npz`` files (see :meth:`Modality.embed`).

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData; ``y``: the frozen embeddings (side by side with several
            modalities); ``w``: 1 where a molecule has a modality, one column each; ``ids``.
        failures : list of FeaturizationFailure
            One entry (index, input, reason) per row left out or masked, naming the side
            that failed.
        """
        if not isinstance(modality_inputs, Mapping):
            if self.modality is None:
                raise TypeError(f"this model has modalities {list(self.modalities)}: pass "
                                "modality_inputs as a mapping {name: inputs}")
            modality_inputs = {self.modality.name: modality_inputs}
        return pair_molecules(self.graph_featurizer, self.modalities, smiles, modality_inputs,
                              ids, self.device,
                              cache_paths_for(list(self.modalities), embedding_cache))

    def featurize_graphs(self, smiles: Sequence[Any], ids: Optional[Sequence[Any]] = None,
                         ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """A graph-only dataset (for :meth:`predict` and :meth:`predict_embedding`).

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            The molecules.
        ids : sequence, optional
            Row identifiers (default: the row numbers).

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData of the molecules that featurized.
        failures : list of FeaturizationFailure
            The others, with their reasons.
        """
        smiles = list(smiles)
        numbered = row_ids(ids, len(smiles))
        result = self.graph_featurizer.featurize_with_report(smiles)
        X = np.empty(len(result.features), dtype=object)
        X[:] = result.features
        return dc.data.NumpyDataset(X=X, ids=numbered[result.indices]), result.failures

    def modality_embeddings(self, dataset: dc.data.Dataset, name: Optional[str] = None
                            ) -> Tuple[np.ndarray, np.ndarray]:
        """(rows of ``dataset`` that have modality ``name``, their cached frozen embeddings).

        Parameters
        ----------
        dataset : dc.data.Dataset
            From :meth:`build_dataset`.
        name : str, optional
            The modality (default: the only one).

        Returns
        -------
        rows : np.ndarray
            Row numbers in ``dataset``.
        embeddings : np.ndarray
            Their frozen embeddings of that modality.
        """
        m = self._modality_index(name)
        start = int(np.sum(self._network.dims[:m]))
        rows = np.flatnonzero(self._presence(np.asarray(dataset.w))[:, m] > 0)
        return rows, np.asarray(dataset.y)[rows, start:start + self._network.dims[m]]

    def _modality_index(self, name: Optional[str]) -> int:
        if name is None:
            if self.modality is None:
                raise ValueError(f"name one of the modalities {list(self.modalities)}")
            return 0
        if name not in self.modalities:
            raise KeyError(f"no modality {name!r}; this model has {list(self.modalities)}")
        return list(self.modalities).index(name)

    def _presence(self, w: np.ndarray) -> np.ndarray:
        """The (n, M) presence mask from a dataset's weights (a dataset built elsewhere, with
        weights of another shape, counts every modality as present)."""
        n_modalities = len(self.modalities)
        if w.ndim == 2 and w.shape[1] == n_modalities:
            return w
        return np.ones((len(w), n_modalities), dtype=np.float32)

    # ------------------------------------------------------------------- TorchModel hooks
    def _prepare_batch(self, batch):
        inputs, labels, weights = batch
        graph_batch = self._network.graph_encoder.collate(inputs[0], device=self.device)
        if labels is None or labels[0] is None or not np.size(labels[0]):
            return [graph_batch, None, None], [], []
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)  # noqa: E731
        present = self._presence(np.asarray(weights[0]))
        return [graph_batch, as_tensor(labels[0]), as_tensor(present)], [], []

    def default_generator(self, dataset: dc.data.Dataset, epochs: int = 1, mode: str = "fit",
                          deterministic: bool = True, pad_batches: bool = True):
        """Batches without padding: a padded batch would repeat molecules, and a repeated
        molecule is a false negative for the contrastive loss. In training, a final batch of
        one molecule is skipped, since the loss of a single pair is exactly zero."""
        for _ in range(epochs):
            for X_b, y_b, w_b, _ in dataset.iterbatches(batch_size=self.batch_size,
                                                        deterministic=deterministic,
                                                        pad_batches=False):
                if mode == "fit" and len(X_b) < 2:
                    continue
                yield [X_b], [y_b], [w_b]

    def _contrastive_loss(self, outputs: List[torch.Tensor], labels, weights) -> torch.Tensor:
        graph_projections, modality_projections, present, distillation_errors = outputs
        if modality_projections.shape[-1] == 0:
            raise ValueError("training needs modality embeddings in the dataset's y: build the "
                             "dataset with ACMLModel.build_dataset(smiles, modality_inputs)")
        losses = []
        for m in range(graph_projections.shape[1]):
            rows = present[:, m] > 0
            if int(rows.sum()) >= 2:
                loss = self._pair_loss(graph_projections[rows, m], modality_projections[rows, m])
                if distillation_errors.shape[1]:
                    loss = loss + self.distillation_weight * distillation_errors[rows, m].mean()
                losses.append(loss)
        if not losses:
            return graph_projections.sum() * 0.0  # no modality with a pair in this batch
        return torch.stack(losses).mean()

    def _pair_loss(self, graph: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        try:
            return acml_contrastive_loss(graph, modality, self.temperature, self.targets)
        except FloatingPointError as err:
            raise FloatingPointError(f"{err} (at global step {self._global_step})") from None

    def _fit_modality_statistics(self, dataset: dc.data.Dataset) -> None:
        """Standardise each modality's frozen embeddings by the first training set's
        statistics, over the molecules that have it (kept for good: later fits, resumed runs
        and inference use the same ones)."""
        self._ensure_built()
        y = np.asarray(dataset.y, dtype=np.float32)
        present = self._presence(np.asarray(dataset.w))
        parts = np.split(y, np.cumsum(self._network.dims)[:-1], axis=1)
        for m, (name, part) in enumerate(zip(self._network.names, parts)):
            standardizer = cast(Standardizer, self._network.standardizers[name])
            rows = present[:, m] > 0
            if not bool(standardizer.fitted) and rows.sum() > 1:
                standardizer.fit_statistics(torch.as_tensor(part[rows], device=self.device))

    def _check_trainable(self, dataset: Any) -> None:
        """A clear error, before any torch code runs, for data that cannot be trained on."""
        if not isinstance(dataset, dc.data.Dataset):
            raise TypeError(f"expected a dc.data.Dataset, got {type(dataset).__name__}; build "
                            f"one with {type(self).__name__}.build_dataset(smiles, "
                            "modality_inputs)")
        expected = sum(m.embedding_dim for m in self.modalities.values())
        y_shape = dataset.get_shape()[1]
        if y_shape is None or len(y_shape) != 2 or y_shape[1] != expected:
            raise ValueError(f"the dataset's y has shape {y_shape}, but training needs the "
                             f"frozen embeddings of {list(self.modalities)} (side by side), "
                             f"(n, {expected}): build the dataset with "
                             f"{type(self).__name__}.build_dataset(smiles, modality_inputs)")
        if len(dataset) < 2:
            raise ValueError(f"a contrastive batch needs at least 2 molecules; the dataset has "
                             f"{len(dataset)}")
        _check_finite(dataset, list(self.modalities))

    @torch.no_grad()
    def evaluate_loss(self, dataset: dc.data.Dataset) -> float:
        """Mean contrastive loss over ``dataset`` in eval mode, batches in order.

        Parameters
        ----------
        dataset : dc.data.Dataset
            From :meth:`build_dataset`.

        Returns
        -------
        float
            The loss averaged over molecules.
        """
        self._ensure_built()
        self._network.eval()
        total, count = 0.0, 0
        for batch in self.default_generator(dataset, mode="fit", deterministic=True):
            inputs, _, _ = self._prepare_batch(batch)
            outputs = self._network(inputs)
            n = outputs[0].shape[0]
            loss_outputs = [outputs[i] for i in self._loss_outputs]
            total += float(self._contrastive_loss(loss_outputs, [], [])) * n
            count += n
        return total / max(count, 1)

    @torch.no_grad()
    def distillation_r2(self, dataset: dc.data.Dataset) -> Dict[str, float]:
        """How much of each standardised frozen embedding the teacher heads read from the
        graph embeddings: ``1 - SSE / SST`` over ``dataset``'s molecules that have it.

        Parameters
        ----------
        dataset : dc.data.Dataset
            From :meth:`build_dataset`.

        Returns
        -------
        dict of str to float
            R² per modality (1 is a perfect reading; 0 is no better than each dimension's
            mean over ``dataset``).

        Raises
        ------
        ValueError
            If the model has no teacher heads (``distillation_weight=0``).
        """
        if self.distillation_weight <= 0:
            raise ValueError("this model has no teacher heads: build it with "
                             "distillation_weight > 0")
        self._ensure_built()
        self._network.eval()
        embeddings = torch.as_tensor(self.predict_embedding(dataset), device=self.device)
        heads = self._network.teacher_heads
        assert heads is not None  # distillation_weight > 0 builds them
        scores = {}
        for name in self.modalities:
            rows, frozen = self.modality_embeddings(dataset, name)
            target = self._network.standardizers[name](torch.as_tensor(frozen, device=self.device))
            reading = heads[name](embeddings[rows])
            total = (target - target.mean(0)).pow(2).sum()
            scores[name] = float(1 - (reading - target).pow(2).sum() / total)
        return scores

    # ---------------------------------------------------------------------- inference
    @torch.no_grad()
    def project_modality(self, modality_embeddings: Any, name: Optional[Any] = None
                         ) -> np.ndarray:
        """Modality projections (shared space) of cached frozen embeddings, e.g. ``dataset.y``.

        Parameters
        ----------
        modality_embeddings : np.ndarray
            Frozen embeddings of one modality, (n, its embedding_dim), e.g. a dataset's ``y``.
        name : str, optional
            Which modality (default: the only one). ``project_modality(name, embeddings)``,
            the order of earlier joint models, is accepted too.

        Returns
        -------
        np.ndarray
            (n, projection_dim) modality projections in the shared space.
        """
        if isinstance(modality_embeddings, str):  # project_modality(name, embeddings)
            modality_embeddings, name = name, modality_embeddings
        name = self._network.names[self._modality_index(name)]
        self._ensure_built()
        self._network.eval()
        embeddings = torch.as_tensor(np.asarray(modality_embeddings, dtype=np.float32),
                                     device=self.device)
        chunks = [self._network.project_modality(name, embeddings[i:i + 1024])
                  for i in range(0, len(embeddings), 1024)]
        return torch.cat(chunks).cpu().numpy() if chunks else np.zeros((0, 0), np.float32)

    # --------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, max_checkpoints_to_keep: int = 5,
                        model_dir: Optional[str] = None) -> None:
        """Like ``TorchModel.save_checkpoint`` (``checkpoint1.pt`` newest), but atomic and
        with the model's configuration and versions, loadable with ``weights_only=True``.

        Parameters
        ----------
        max_checkpoints_to_keep : int, default=5
            Older checkpoints beyond this many are removed.
        model_dir : str, optional
            Where to write (default: the model's ``model_dir``).
        """
        if max_checkpoints_to_keep == 0:
            return
        self._ensure_built()
        model_dir = model_dir or self.model_dir
        os.makedirs(model_dir, exist_ok=True)
        paths = [os.path.join(model_dir, f"checkpoint{i + 1}.pt")
                 for i in range(max_checkpoints_to_keep)]
        temporary = os.path.join(model_dir, "checkpoint_new.pt")
        self.save(temporary)
        if os.path.exists(paths[-1]):
            os.remove(paths[-1])
        for i in reversed(range(max_checkpoints_to_keep - 1)):
            if os.path.exists(paths[i]):
                os.replace(paths[i], paths[i + 1])
        os.replace(temporary, paths[0])

    def save(self, path: PathLike, include_optimizer: bool = True,
             weights_dtype: str = "float32") -> None:
        """Write one self-describing checkpoint file to ``path`` (without the optimizer state
        when ``include_optimizer=False``: half the size, for shipping a trained model).
        In a distributed run only rank 0 writes.

        Parameters
        ----------
        path : str or path-like
            The file to write (atomically).
        include_optimizer : bool, default=True
            Also store the optimizer state (needed to continue training, not to use the model).
        weights_dtype : {"float32", "float16"}, default="float32"
            ``"float16"`` stores the floating-point weights at half precision (half the
            size again, for shipping; without the optimizer state). :meth:`load` reads them
            back into float32: embeddings move by about 1e-3 of their scale.

        Examples
        --------
        >>> import os, tempfile
        >>> model = ACMLModel.from_pretrained("nmr_13c")
        >>> folder = tempfile.mkdtemp()
        >>> model.save(f"{folder}/full.pt", include_optimizer=False)
        >>> model.save(f"{folder}/half.pt", include_optimizer=False, weights_dtype="float16")
        >>> os.path.getsize(f"{folder}/half.pt") < 0.6 * os.path.getsize(f"{folder}/full.pt")
        True
        """
        if weights_dtype not in ("float32", "float16"):
            raise ValueError(f"weights_dtype must be 'float32' or 'float16', got {weights_dtype!r}")
        if weights_dtype == "float16" and include_optimizer:
            raise ValueError("float16 weights are for shipping a trained model: pass "
                             "include_optimizer=False (training resumes from float32 state)")
        if not distributed.is_main_process():
            return
        payload = self._state_payload(include_optimizer)
        if weights_dtype == "float16":
            payload["model_state_dict"] = half_precision(payload["model_state_dict"])
        save_checkpoint_file(path, payload, kind=self._checkpoint_kind)

    @property
    def _checkpoint_kind(self) -> str:
        return ACML_CHECKPOINT_KIND if self.modality is not None else JOINT_CHECKPOINT_KIND

    def _state_payload(self, include_optimizer: bool) -> Dict[str, Any]:
        """What every checkpoint of this model holds: configuration, weights, step (and the
        optimizer state when asked)."""
        self._ensure_built()
        payload = {"config": self.config(), "model_state_dict": self._network.state_dict(),
                   "global_step": self._global_step}
        if include_optimizer:
            payload["optimizer_state_dict"] = self._pytorch_optimizer.state_dict()
        return payload

    def _load_state(self, path: PathLike, kind: str, strict: bool = True) -> Dict[str, Any]:
        """Read a checkpoint safely, check it fits this model, apply it; return its contents."""
        self._ensure_built()
        data = load_checkpoint_file(path, kind=kind, map_location=self.device)
        self._check_compatible(data["config"], path)
        state = upgrade_state_dict(data["model_state_dict"], self._network.names)
        self._network.load_state_dict({**self._identity_standardizers(), **state}, strict=strict)
        if "optimizer_state_dict" in data:
            self._pytorch_optimizer.load_state_dict(data["optimizer_state_dict"])
        self._global_step = int(data["global_step"])
        return data

    def _identity_standardizers(self) -> Dict[str, torch.Tensor]:
        """What checkpoints from before the modality standardiser were trained with (a
        checkpoint that has its standardisers overrides these)."""
        identity = {}
        for name, dim in zip(self._network.names, self._network.dims):
            for key, value in Standardizer(dim).to(self.device).state_dict().items():
                identity[f"standardizers.{name}.{key}"] = value
            identity[f"standardizers.{name}.fitted"] = torch.ones((), dtype=torch.bool,
                                                                  device=self.device)
        return identity

    def restore(self, checkpoint: Optional[str] = None, model_dir: Optional[str] = None,
                strict: Optional[bool] = True) -> None:
        """Load weights from a checkpoint of this configuration (safe loading; a checkpoint of
        another configuration or modality gives a clear error, not a shape traceback).

        Parameters
        ----------
        checkpoint : str, optional
            The file to load (default: the newest checkpoint in ``model_dir``).
        model_dir : str, optional
            Where to look when ``checkpoint`` is None.
        strict : bool, default=True
            Require every weight to be present.
        """
        self._ensure_built()
        if checkpoint is None:
            checkpoints = sorted(self.get_checkpoints(model_dir))
            if not checkpoints:
                raise ValueError(f"no checkpoint found in {model_dir or self.model_dir}")
            checkpoint = checkpoints[0]
        self._load_state(checkpoint, self._checkpoint_kind, strict=bool(strict))

    def _check_compatible(self, stored: Dict[str, Any], source: Any) -> None:
        names = stored_modality_names(stored)
        if names != list(self.modalities):
            what = (f"modality {names[0]!r}, this model uses {list(self.modalities)[0]!r}"
                    if len(names) == 1 and len(self.modalities) == 1 else
                    f"modalities {names}, this model uses {list(self.modalities)}")
            raise CheckpointError(f"{source} was trained against {what}")
        self._check_architecture(stored, source)

    def _check_architecture(self, stored: Dict[str, Any], source: Any) -> None:
        """A clear error when the stored weights have other shapes than this model's."""
        shape_keys = ("num_layers", "hidden_dim", "pooling", "norm", "projection_dim", "num_cells",
                      "atom_features")
        # (defaults of checkpoints written before norm and atom_features were stored)
        stored_shape = {"norm": "batch", "atom_features": "hu", **stored["hyperparameters"]}
        different = {k: (stored_shape.get(k), self.hyperparameters[k]) for k in shape_keys
                     if stored_shape.get(k) != self.hyperparameters[k]}
        heads = lambda h: float(h.get("distillation_weight", 0.0)) > 0  # noqa: E731
        if heads(stored_shape) != heads(self.hyperparameters):
            different["teacher heads (distillation_weight > 0)"] = (heads(stored_shape),
                                                                     heads(self.hyperparameters))
        if different:
            raise CheckpointError(
                f"{source} has another architecture (stored vs this model): {different}. "
                f"Use {type(self).__name__}.load(path) to rebuild the model the checkpoint "
                "describes.")

    @classmethod
    def load(cls: Type[Model], path: PathLike, modality: Optional[ModalitySpec] = None,
             **kwargs: Any) -> Model:
        """Rebuild a model from a checkpoint file alone (its stored configuration), then load
        its weights; a single-modality or a joint checkpoint.

        Parameters
        ----------
        path : str or path-like
            A checkpoint written by :meth:`save` or ``acml pretrain``.
        modality : str, Modality or list of them, optional
            Overrides the stored modality or modalities (e.g. a custom encoder object).
        **kwargs
            Passed to the constructor (e.g. ``device``, ``model_dir``).

        Returns
        -------
        ACMLModel
            The model, its weights loaded.
        """
        data = load_checkpoint_file(path)
        if data["kind"] not in (ACML_CHECKPOINT_KIND, JOINT_CHECKPOINT_KIND):
            load_checkpoint_file(path, kind=ACML_CHECKPOINT_KIND)  # the error naming its reader
        config = dict(data["config"])
        config["hyperparameters"] = {k: v for k, v in config["hyperparameters"].items()
                                     if k != "seed"}  # the weights come from the file
        if modality is not None:
            config = {"hyperparameters": config["hyperparameters"], "modality": modality}
        model = cls.from_config(config, **kwargs)
        model.restore(str(path))
        return model

    @classmethod
    def from_config(cls: Type[Model], config: Mapping[str, Any], **kwargs: Any) -> Model:
        """A new model (new weights) built as a stored configuration describes.

        Parameters
        ----------
        config : dict
            :meth:`config` of a model, or a checkpoint's ``"config"``: ``"modality"`` (or
            ``"modalities"``; a registered name, a :class:`Modality` or its stored config)
            and ``"hyperparameters"``, flat (the GIN's arguments beside the model's).
        **kwargs
            Passed to the constructor (e.g. ``device``, ``model_dir``, ``seed``).

        Returns
        -------
        ACMLModel
            With the stored architecture and settings.

        Examples
        --------
        >>> model = ACMLModel(encoder=dict(hidden_dim=16), projection_dim=16, seed=0)
        >>> ACMLModel.from_config(model.config()).encoder_config == model.encoder_config
        True
        """
        if "encoder" in kwargs:
            raise TypeError("the stored configuration fixes the encoder; for another one build "
                            "the model itself: ACMLModel(modality, encoder=...)")
        asked = {k: kwargs.pop(k) for k in ("teacher_statistics",) if k in kwargs}  # (warns)
        # checkpoints written before ``norm`` was stored were trained with batch norm
        stored = {"norm": "batch", **config["hyperparameters"], **kwargs}
        encoder = {k: stored.pop(k) for k in GIN_ARGUMENTS if k in stored}
        statistics = stored.pop("teacher_statistics", "batch")
        if statistics != "batch":  # the recorded ablation's teacher heads (see __init__)
            stored["_teacher_statistics"] = statistics
        return cls(stored_modalities(config), encoder=encoder, **stored, **asked)

    @classmethod
    def from_pretrained(cls: Type[Model], name: str, **kwargs: Any) -> Model:
        """A pretrained ACML model shipped with the package, by name (offline).

        Parameters
        ----------
        name : str
            A shipped model name (``"nmr_13c"``, ``"smiles"``, ``"joint"``...) or the path of
            a checkpoint.
        **kwargs
            Passed to :meth:`load` (e.g. ``device``).

        Returns
        -------
        ACMLModel
            The shipped model.

        Examples
        --------
        >>> model = ACMLModel.from_pretrained("nmr_13c")
        >>> dataset, _ = model.featurize_graphs(["CCO", "c1ccccc1"])
        >>> model.predict_embedding(dataset).shape
        (2, 128)
        """
        return cls.load(pretrained_path(name), **kwargs)


def stored_modality_names(config: Dict[str, Any]) -> List[str]:
    """The modality names a checkpoint's configuration was trained against."""
    if "modalities" in config:
        return [m["name"] for m in config["modalities"]]
    return [config["modality"]["name"]]


def stored_modalities(config: Mapping[str, Any]) -> List[Modality]:
    """The modalities a configuration names (a list of one for a single-modality one): stored
    configs, registered names or :class:`Modality` objects."""
    listed = config["modalities"] if "modalities" in config else config["modality"]
    if isinstance(listed, (str, Modality, Mapping)):
        listed = [listed]
    return [modality_from_config(dict(m)) if isinstance(m, Mapping) else get_modality(m)
            for m in listed]


def _check_finite(dataset: dc.data.Dataset, names: Sequence[str]) -> None:
    """NaN or infinity in frozen embeddings would poison the standardiser and the loss."""
    bad_rows = np.flatnonzero(~np.isfinite(np.asarray(dataset.y, dtype=np.float64)).all(axis=1))
    if len(bad_rows):
        raise FloatingPointError(
            f"the frozen {'/'.join(names)} embeddings (the dataset's y) hold NaN or infinity "
            f"in {len(bad_rows)} row(s), e.g. rows {bad_rows[:5].tolist()} (ids "
            f"{list(np.asarray(dataset.ids)[bad_rows[:5]])}): rebuild the dataset with "
            "build_dataset, which never produces them from valid inputs")
