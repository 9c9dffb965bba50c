"""ACMLModel: a DeepChem TorchModel that aligns a trainable GIN with a frozen modality encoder."""
from __future__ import annotations

import copy
import logging
from collections import defaultdict
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

import deepchem as dc
from deepchem.models.optimizers import AdamW

from deepchem_acml import distributed
from deepchem_acml.checkpoints import (CheckpointError, load_checkpoint_file,
                                       save_checkpoint_file)
from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
from deepchem_acml.devices import restore_rng_state, rng_state
from deepchem_acml.modalities import Modality, get_modality, modality_from_config
from deepchem_acml.shipped import (ACML_CHECKPOINT_KIND, PRETRAINED_DIR,  # noqa: F401
                                    TRAINING_STATE_KIND, looks_like_path, pretrained_path)
from deepchem_acml.nn.gin import GINEncoder
from deepchem_acml.nn.heads import ProjectionHead, Standardizer
from deepchem_acml.nn.loss import acml_contrastive_loss
from deepchem_acml.models.utils import quiet_deepchem_loss_warning, seed_everything

logger = logging.getLogger(__name__)

#: the constructor arguments stored in every checkpoint (what rebuilds the model)
HYPERPARAMETERS = ("num_layers", "hidden_dim", "dropout", "pooling", "norm", "projection_dim",
                   "num_cells", "projection_dropout", "temperature", "targets", "learning_rate",
                   "weight_decay", "batch_size", "seed")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


class ACMLNetwork(nn.Module):
    """Everything that trains: the GIN, the graph projection head and the modality head.

    ``forward([graph_batch, modality_embeddings])`` returns ``[graph_projection,
    graph_projection, modality_projection, graph_embedding]``; the projection appears twice so
    that DeepChem's output types can mark it both as the prediction and as a loss input. When
    ``modality_embeddings`` is ``None`` (prediction), the modality projection is an empty
    ``(N, 0)`` tensor.
    """

    def __init__(self, graph_encoder: GINEncoder, modality_dim: int, projection_dim: int,
                 num_cells: int, projection_dropout: float,
                 autocast_dtype: Optional[torch.dtype] = None):
        super().__init__()
        self.autocast_dtype = autocast_dtype
        self.graph_encoder = graph_encoder
        self.graph_projection = ProjectionHead(graph_encoder.hidden_dim, projection_dim,
                                               num_cells, projection_dropout)
        self.modality_standardizer = Standardizer(modality_dim)
        self.modality_projection = ProjectionHead(modality_dim, projection_dim, num_cells,
                                                  projection_dropout)

    def project_modality(self, modality_embeddings: torch.Tensor) -> torch.Tensor:
        return self.modality_projection(self.modality_standardizer(modality_embeddings))

    def forward(self, inputs: Sequence[Any]) -> List[torch.Tensor]:
        if self.autocast_dtype is None:
            return self._forward(inputs)
        device_type = next(self.parameters()).device.type
        with torch.autocast(device_type, dtype=self.autocast_dtype):
            outputs = self._forward(inputs)
        return [output.float() for output in outputs]  # the loss runs in float32

    def _forward(self, inputs: Sequence[Any]) -> List[torch.Tensor]:
        graph_batch, modality_embeddings = inputs
        graph_embedding = self.graph_encoder(graph_batch)
        graph_projection = self.graph_projection(graph_embedding)
        if modality_embeddings is None:
            modality_projection = graph_projection.new_zeros((graph_projection.shape[0], 0))
        else:
            modality_projection = self.project_modality(modality_embeddings)
        return [graph_projection, graph_projection, modality_projection, graph_embedding]


class ACMLModel(dc.models.TorchModel):
    r"""Asymmetric Contrastive Multimodal Learning (Wang et al., J. Chem. Inf. Model. 2025).

    A shallow GIN graph encoder (trainable) is aligned with the frozen pretrained encoder of
    another chemical modality through a CLIP-style contrastive loss. Only the GIN and the two
    projection heads learn; the frozen encoder's outputs are computed once per molecule by
    :meth:`build_dataset` and cached in the dataset's ``y``, never recomputed during training.

    Loss, for a batch of N molecules with graph projections G and modality projections C
    (N × ``projection_dim``) and temperature τ::

        logits  = C Gᵀ / τ
        targets = softmax_row((C Cᵀ + G Gᵀ) / 2 · τ)        (targets="soft", the reference)
                  I                                          (targets="infonce")
        loss    = ( CE(logits, targets) + CE(logitsᵀ, targetsᵀ) ) / 2

    with ``CE`` the row-wise soft cross-entropy averaged over rows.

    Outputs: ``predict`` gives graph projections (the shared space used for retrieval);
    ``predict_embedding`` gives the GIN's pooled graph embeddings (``hidden_dim``), the
    representation for downstream property models.

    Parameters
    ----------
    modality : str or Modality
        The frozen side: a registered name (``"nmr_13c"``) or a :class:`Modality`.
    num_layers, hidden_dim : int
        Depth and width of the GIN (ACML: 5 layers).
    dropout : float
        Dropout after each GIN layer (ACML: 0.2).
    pooling, norm : str
        The GIN (ACML: 5 layers, sum pooling, dropout 0.2, batch norm; the default layer norm
        keeps out-of-distribution molecules bounded, see ``GINEncoder``).
    projection_dim, num_cells : int
        The projection heads' width and residual cells (ACML: 512, 2).
    projection_dropout : float
        Dropout in the projection heads (ACML: 0.1).
    temperature : float
        τ (ACML: 1.0).
    targets : str
        ``"soft"`` (ACML) or ``"infonce"``.
    learning_rate, weight_decay : float
        AdamW (ACML: 1e-3 and 1e-3).
    batch_size : int
        Molecules per contrastive batch (ACML: 128).
    seed : int, optional
        Seeds Python, numpy and torch before the weights are built and switches torch to
        deterministic algorithms (process-wide; see ``models.utils.seed_everything``): the same
        seed gives the same initial weights and, on CPU, a bitwise-identical training run.
    backend : str
        GIN message passing: ``"torch"`` (default) or ``"dgl"`` (the DGL environment; same
        weights, same outputs). Not stored in checkpoints.
    precision : str
        ``"fp32"`` (default) or ``"bf16"``: autocast of the forward pass (bfloat16 needs no
        loss scaling; meant for GPUs, also runs on CPU). The loss is computed in float32.
    **kwargs
        Passed to ``dc.models.TorchModel`` (``model_dir``, ``device``, ``log_frequency``...).

    Examples
    --------
    >>> from deepchem_acml import ACMLModel
    >>> from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    >>> frame = read_embedded_nmr_13c().head(64)
    >>> model = ACMLModel("nmr_13c", hidden_dim=32, projection_dim=64, batch_size=32, seed=0)
    >>> dataset, failures = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    >>> len(dataset), failures
    (64, [])
    >>> loss = model.fit(dataset, nb_epoch=1, progress=False)
    >>> model.predict_embedding(dataset).shape
    (64, 32)
    """

    def __init__(self, modality: Union[str, Modality] = "nmr_13c", num_layers: int = 5,
                 hidden_dim: int = 300, dropout: float = 0.2, pooling: str = "sum",
                 norm: str = "layer", projection_dim: int = 512, num_cells: int = 2, projection_dropout: float = 0.1,
                 temperature: float = 1.0, targets: str = "soft", learning_rate: float = 1e-3,
                 weight_decay: float = 1e-3, batch_size: int = 128, seed: Optional[int] = None,
                 backend: str = "torch", precision: str = "fp32", **kwargs):
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if batch_size < 2:
            raise ValueError(f"a contrastive batch needs at least 2 molecules, got {batch_size}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r} "
                             "(float16 would need loss scaling, which DeepChem's training loop "
                             "does not do: use bf16)")
        if seed is not None:
            seed_everything(seed)
        self.backend, self.precision = backend, precision
        self.modality = get_modality(modality)
        self.graph_featurizer = ACMLGraphFeaturizer()
        self._store_hyperparameters(locals())
        network = ACMLNetwork(GINEncoder(num_layers, hidden_dim, dropout, pooling, norm, backend),
                              self.modality.embedding_dim, projection_dim, num_cells,
                              projection_dropout, PRECISIONS[precision])
        super().__init__(network, loss=self._contrastive_loss,
                         output_types=["prediction", "loss", "loss", "embedding"],
                         batch_size=batch_size,
                         optimizer=AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
                         **kwargs)

    def _store_hyperparameters(self, arguments: Dict[str, Any]) -> None:
        self.hyperparameters = {name: arguments[name] for name in HYPERPARAMETERS}
        self.temperature, self.targets = arguments["temperature"], arguments["targets"]
        self.seed = arguments["seed"]

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return (f"ACMLModel(modality={self.modality.name!r}, {arguments}, "
                f"backend={self.backend!r}, precision={self.precision!r})")

    @property
    def _network(self) -> ACMLNetwork:
        """The network itself, also while ``train`` has it wrapped in DDP."""
        return getattr(self.model, "module", self.model)

    def config(self) -> Dict[str, Any]:
        """Everything needed to rebuild this model (stored in every checkpoint)."""
        return {"modality": self.modality.config(), "hyperparameters": dict(self.hyperparameters)}

    # ----------------------------------------------------------------------------- data
    def build_dataset(self, smiles: Sequence[Any], modality_inputs: Sequence[Any],
                      ids: Optional[Sequence[Any]] = None,
                      embedding_cache: Optional[Union[str, os.PathLike]] = None,
                      ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """Featurize both sides, encode the modality once (the cache), and pair them up.

        Returns the dataset (``X``: ``GraphData``, ``y``: frozen modality embeddings, ``ids``)
        and one :class:`FeaturizationFailure` per row dropped because either side failed;
        its reason says which side. Rows keep their order and ids. ``embedding_cache``: an
        ``.npz`` file that keeps the frozen embeddings across runs (see
        :meth:`Modality.embed`).

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            One molecule per row.
        modality_inputs : sequence
            The modality's raw input for each row (spectra, SMILES, ...), paired row by row.
        ids : sequence, optional
            Row identifiers kept in the dataset's ``ids`` (default: the row numbers).
        embedding_cache : str or path-like, optional
            An ``.npz`` file keeping the frozen encoder's outputs for a later run.

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData, ``y``: frozen modality embeddings, ``ids``: the rows' ids.
        failures : list of FeaturizationFailure
            One entry (index, input, reason) per row left out, naming the side that failed.
        """
        smiles, modality_inputs = list(smiles), list(modality_inputs)
        if len(smiles) != len(modality_inputs):
            raise ValueError(f"{len(smiles)} molecules but {len(modality_inputs)} "
                             f"{self.modality.name} inputs: they must be paired row by row")
        ids = np.arange(len(smiles)) if ids is None else np.asarray(list(ids), dtype=object)
        if len(ids) != len(smiles):
            raise ValueError(f"{len(ids)} ids for {len(smiles)} molecules")
        graphs = self.graph_featurizer.featurize_with_report(smiles)
        embeddings, modality = self.modality.embed(modality_inputs, device=self.device,
                                                   cache_path=embedding_cache)
        reasons: Dict[int, List[str]] = defaultdict(list)
        for side, result in (("graph", graphs), (self.modality.name, modality)):
            for failure in result.failures:
                reasons[failure.index].append(f"{side}: {failure.reason}")
        keep = np.array(sorted(set(graphs.indices.tolist()) & set(modality.indices.tolist())),
                        dtype=np.int64)
        graph_at = dict(zip(graphs.indices.tolist(), graphs.features))
        modality_row = {index: row for row, index in enumerate(modality.indices.tolist())}
        failures = [FeaturizationFailure(i, smiles[i], "; ".join(reasons[i]))
                    for i in sorted(reasons)]
        X = np.empty(len(keep), dtype=object)
        X[:] = [graph_at[i] for i in keep]
        y = embeddings[np.array([modality_row[i] for i in keep], dtype=np.int64)]
        if failures:
            logger.warning("%d of %d rows not usable: %s", len(failures), len(smiles),
                           "; ".join(str(f) for f in failures[:5]))
        return dc.data.NumpyDataset(X=X, y=y, ids=ids[keep]), failures

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
        ids = np.arange(len(smiles)) if ids is None else np.asarray(list(ids), dtype=object)
        result = self.graph_featurizer.featurize_with_report(smiles)
        X = np.empty(len(result.features), dtype=object)
        X[:] = result.features
        return dc.data.NumpyDataset(X=X, ids=ids[result.indices]), result.failures

    # ------------------------------------------------------------------- TorchModel hooks
    def _prepare_batch(self, batch: Tuple[Any, Any, Any]):
        inputs, labels, _ = batch
        graph_batch = self._network.graph_encoder.collate(inputs[0], device=self.device)
        modality = None
        if labels is not None and labels[0] is not None and np.size(labels[0]):
            modality = torch.as_tensor(np.asarray(labels[0], dtype=np.float32), device=self.device)
        return [graph_batch, modality], [], []

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
        graph_projection, modality_projection = outputs
        if modality_projection.shape[1] == 0:
            raise ValueError("training needs modality embeddings in the dataset's y: build the "
                             "dataset with ACMLModel.build_dataset(smiles, modality_inputs)")
        try:
            return acml_contrastive_loss(graph_projection, modality_projection,
                                         self.temperature, self.targets)
        except FloatingPointError as err:
            raise FloatingPointError(f"{err} (at global step {self._global_step})") from None

    # ------------------------------------------------------------------------ training
    def fit(self, dataset: dc.data.Dataset, nb_epoch: int = 10, max_checkpoints_to_keep: int = 5,
            checkpoint_interval: int = 1000, deterministic: bool = False, restore: bool = False,
            variables=None, loss=None, callbacks=(), all_losses=None,
            progress: bool = True) -> float:
        """``TorchModel.fit`` with a progress bar (``progress=False`` to turn it off)."""
        self._check_trainable(dataset)
        self._fit_modality_statistics(dataset)
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            steps = nb_epoch * math.ceil(len(dataset) / self.batch_size)
            bar = tqdm(total=steps, desc="ACML training", unit="step")
            callbacks.append(lambda model, step: bar.update(1))
        try:
            with quiet_deepchem_loss_warning():
                return super().fit(dataset, nb_epoch, max_checkpoints_to_keep,
                                   checkpoint_interval, deterministic, restore, variables, loss,
                                   callbacks, all_losses)
        finally:
            if bar is not None:
                bar.close()

    def _fit_modality_statistics(self, dataset: dc.data.Dataset) -> None:
        """Standardise the frozen embeddings by the first training set's statistics (kept
        for good: later fits, resumed runs and inference use the same ones)."""
        self._ensure_built()
        standardizer = self._network.modality_standardizer
        if not bool(standardizer.fitted):
            standardizer.fit_statistics(torch.as_tensor(np.asarray(dataset.y, dtype=np.float32),
                                                        device=self.device))

    def _check_trainable(self, dataset: Any) -> None:
        """A clear error, before any torch code runs, for data that cannot be trained on."""
        if not isinstance(dataset, dc.data.Dataset):
            raise TypeError(f"expected a dc.data.Dataset, got {type(dataset).__name__}; build "
                            "one with ACMLModel.build_dataset(smiles, modality_inputs)")
        y_shape = dataset.get_shape()[1]
        expected = self.modality.embedding_dim
        if y_shape is None or len(y_shape) != 2 or y_shape[1] != expected:
            raise ValueError(f"the dataset's y has shape {y_shape}, but training needs the "
                             f"frozen {self.modality.name} embeddings, (n, {expected}): build "
                             "the dataset with ACMLModel.build_dataset(smiles, modality_inputs)")
        if len(dataset) < 2:
            raise ValueError(f"a contrastive batch needs at least 2 molecules; the dataset has "
                             f"{len(dataset)}")
        bad_rows = np.flatnonzero(~np.isfinite(np.asarray(dataset.y, dtype=np.float64)).all(axis=1))
        if len(bad_rows):
            raise FloatingPointError(
                f"the frozen {self.modality.name} embeddings (the dataset's y) hold NaN or "
                f"infinity in {len(bad_rows)} row(s), e.g. rows {bad_rows[:5].tolist()} "
                f"(ids {list(np.asarray(dataset.ids)[bad_rows[:5]])}): rebuild the dataset "
                "with build_dataset, which never produces them from valid inputs")

    @torch.no_grad()
    def evaluate_loss(self, dataset: dc.data.Dataset) -> float:
        """Mean contrastive loss over ``dataset`` in eval mode, batches in order."""
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

    def train(self, train: dc.data.Dataset, valid: Optional[dc.data.Dataset] = None,
              nb_epoch: int = 100, patience: Optional[int] = None,
              checkpoint_path: Optional[Union[str, os.PathLike]] = None,
              checkpoint_every: int = 100, progress: bool = True) -> List[Dict[str, float]]:
        """Train with validation-based model selection, resumable after a crash.

        Each epoch visits ``train`` in an order drawn from ``(seed, epoch)``. After every epoch
        the validation loss is computed and the weights with the lowest one are kept (as in
        the ACML reference); ``patience`` stops early. With ``checkpoint_path``, the whole
        training state (weights, optimizer, RNG, epoch and step, history, best weights) is
        written atomically every ``checkpoint_every`` steps (0: only at epoch ends) and at each
        epoch end, and a run started again with the same arguments continues from there: a run
        killed at any point and resumed ends with the same weights as one never interrupted
        (on CPU).

        Inside a ``torch.distributed`` process group (``torchrun``; see
        :mod:`deepchem_acml.distributed`) the same call trains data-parallel: ``batch_size`` is
        the global batch, each process encodes its share, the loss contrasts the gathered
        global batch, and only rank 0 writes the training state.

        Returns one record per epoch (``epoch``, ``train_loss``, ``valid_loss``).

        Parameters
        ----------
        train : dc.data.Dataset
            From :meth:`build_dataset`.
        valid : dc.data.Dataset, optional
            Validation pairs; the epoch with the lowest validation loss is kept.
        nb_epoch : int, default=100
            Epochs at most.
        patience : int, optional
            Stop after this many epochs without a better validation loss.
        checkpoint_path : str or path-like, optional
            The training-state file that makes the run resumable.
        checkpoint_every : int, default=100
            Steps between training-state writes (0: only at epoch ends).
        progress : bool, default=True
            Show a progress bar.

        Returns
        -------
        list of dict
            One record per epoch: ``epoch``, ``train_loss``, ``valid_loss``.
        """
        from tqdm.auto import tqdm

        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 (0: only at epoch ends), got "
                             f"{checkpoint_every}")
        self._check_trainable(train)
        if valid is not None:
            self._check_trainable(valid)
        self._fit_modality_statistics(train)
        state = {"epoch": 0, "step": 0, "history": [], "best_loss": math.inf,
                 "best_state": None, "since_best": 0, "epoch_loss_sum": 0.0}
        if checkpoint_path is not None and os.path.exists(checkpoint_path):
            state = self._load_training_state(checkpoint_path)
            logger.warning("resuming from %s at epoch %d, step %d", checkpoint_path,
                           state["epoch"] + 1, state["step"])
        steps_per_epoch = self._steps_per_epoch(len(train))
        bar = tqdm(total=nb_epoch * steps_per_epoch, initial=state["epoch"] * steps_per_epoch
                   + state["step"], desc="ACML training", unit="step", disable=not progress)

        def save_state(model, global_step):
            bar.update(1)
            state["step"] += 1
            if (checkpoint_path is not None and checkpoint_every
                    and state["step"] % checkpoint_every == 0):
                self._save_training_state(checkpoint_path, state)

        def recorded_loss(outputs, labels, weights):
            outputs = [distributed.gather_with_gradients(output) for output in outputs]
            loss = self._loss_fn(outputs, labels, weights)
            state["epoch_loss_sum"] += loss.item()
            return loss

        self._wrap_for_distributed()
        try:
            while state["epoch"] < nb_epoch:
                if patience is not None and state["since_best"] >= patience:
                    break
                with quiet_deepchem_loss_warning():
                    self.fit_generator(self._epoch_batches(train, state["epoch"], state["step"]),
                                       checkpoint_interval=0, callbacks=[save_state],
                                       loss=recorded_loss)
                record = {"epoch": state["epoch"] + 1,
                          "train_loss": state["epoch_loss_sum"] / max(state["step"], 1)}
                if valid is not None:
                    record["valid_loss"] = self.evaluate_loss(valid)
                    if record["valid_loss"] < state["best_loss"]:
                        state["best_loss"], state["since_best"] = record["valid_loss"], 0
                        state["best_state"] = copy.deepcopy(self._network.state_dict())
                    else:
                        state["since_best"] += 1
                state["history"].append(record)
                state["epoch"], state["step"], state["epoch_loss_sum"] = state["epoch"] + 1, 0, 0.0
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "epoch"})
                if checkpoint_path is not None:
                    self._save_training_state(checkpoint_path, state)
        finally:
            bar.close()
            self.model = self._network
        if state["best_state"] is not None:
            self._network.load_state_dict(state["best_state"])
        return state["history"]

    def _wrap_for_distributed(self) -> None:
        """Wrap the network in DDP when a process group of more than one process is up."""
        if not distributed.is_distributed():
            return
        from torch.nn.parallel import DistributedDataParallel

        self._ensure_built()
        if self.device.type == "cuda":
            # Batch norm (norm="batch") must see the global batch; layer norm is unaffected.
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.model = DistributedDataParallel(self.model, device_ids=[self.device.index])
        else:
            self.model = DistributedDataParallel(self.model)

    def _steps_per_epoch(self, n: int) -> int:
        # A final batch too small to give every process a pair is skipped (one molecule has a
        # loss of exactly zero).
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest >= max(2, 2 * distributed.world_size()) else 0)

    def _epoch_batches(self, dataset: dc.data.Dataset, epoch: int, first_step: int):
        """The batches of one epoch in an order fixed by (seed, epoch), from ``first_step``."""
        order = np.random.default_rng([self.seed or 0, epoch]).permutation(len(dataset))
        for step in range(first_step, self._steps_per_epoch(len(dataset))):
            rows = np.sort(order[step * self.batch_size:(step + 1) * self.batch_size])
            rows = distributed.local_slice(rows)
            yield [dataset.X[rows]], [dataset.y[rows]], [dataset.w[rows]]

    def _save_training_state(self, path: Union[str, os.PathLike], state: Dict[str, Any]) -> None:
        if not distributed.is_main_process():
            return
        payload = self._state_payload(include_optimizer=True)
        payload.update(rng_state=rng_state(), training_state=dict(state))
        save_checkpoint_file(path, payload, kind=TRAINING_STATE_KIND)

    def _load_training_state(self, path: Union[str, os.PathLike]) -> Dict[str, Any]:
        data = self._load_state(path, TRAINING_STATE_KIND)
        # (states of older versions hold only the CPU generator, as "torch_rng_state")
        restore_rng_state(data.get("rng_state", data.get("torch_rng_state")))
        return dict(data["training_state"])

    # ---------------------------------------------------------------------- inference
    @torch.no_grad()
    def project_modality(self, modality_embeddings: np.ndarray) -> np.ndarray:
        """Modality projections (shared space) of cached frozen embeddings, e.g. ``dataset.y``.


        Parameters
        ----------
        modality_embeddings : np.ndarray
            Frozen modality embeddings, (n, embedding_dim), e.g. a dataset's ``y``.

        Returns
        -------
        np.ndarray
            (n, projection_dim) modality projections in the shared space.
        """
        self._ensure_built()
        self._network.eval()
        embeddings = torch.as_tensor(np.asarray(modality_embeddings, dtype=np.float32),
                                     device=self.device)
        chunks = [self._network.project_modality(embeddings[i:i + 1024])
                  for i in range(0, len(embeddings), 1024)]
        return torch.cat(chunks).cpu().numpy() if chunks else np.zeros((0, 0), np.float32)

    # --------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, max_checkpoints_to_keep: int = 5,
                        model_dir: Optional[str] = None) -> None:
        """Like ``TorchModel.save_checkpoint`` (``checkpoint1.pt`` newest), but atomic and
        with the model's configuration and versions, loadable with ``weights_only=True``."""
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

    def save(self, path: Union[str, os.PathLike], include_optimizer: bool = True) -> None:
        """Write one self-describing checkpoint file to ``path`` (without the optimizer state
        when ``include_optimizer=False``: half the size, for shipping a trained model).
        In a distributed run only rank 0 writes.

        Parameters
        ----------
        path : str or path-like
            The file to write (atomically).
        include_optimizer : bool, default=True
            Also store the optimizer state (needed to continue training, not to use the model).
        """
        if not distributed.is_main_process():
            return
        save_checkpoint_file(path, self._state_payload(include_optimizer), kind=self._checkpoint_kind)

    def _state_payload(self, include_optimizer: bool) -> Dict[str, Any]:
        """What every checkpoint of this model holds: configuration, weights, step (and the
        optimizer state when asked)."""
        self._ensure_built()
        payload = {"config": self.config(), "model_state_dict": self._network.state_dict(),
                   "global_step": self._global_step}
        if include_optimizer:
            payload["optimizer_state_dict"] = self._pytorch_optimizer.state_dict()
        return payload

    def _load_state(self, path: Union[str, os.PathLike], kind: str,
                    strict: bool = True) -> Dict[str, Any]:
        """Read a checkpoint safely, check it fits this model, apply it; return its contents."""
        self._ensure_built()
        data = load_checkpoint_file(path, kind=kind, map_location=self.device)
        self._check_compatible(data["config"], path)
        self._network.load_state_dict({**self._identity_standardizer(), **data["model_state_dict"]},
                                      strict=strict)
        if "optimizer_state_dict" in data:
            self._pytorch_optimizer.load_state_dict(data["optimizer_state_dict"])
        self._global_step = int(data["global_step"])
        return data

    def _identity_standardizer(self) -> Dict[str, torch.Tensor]:
        """What checkpoints from before the modality standardiser were trained with."""
        identity = {f"modality_standardizer.{k}": v for k, v in
                    Standardizer(self.modality.embedding_dim).to(self.device).state_dict().items()}
        identity["modality_standardizer.fitted"] = torch.ones((), dtype=torch.bool,
                                                              device=self.device)
        return identity

    @property
    def _checkpoint_kind(self) -> str:
        return ACML_CHECKPOINT_KIND

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
        mine = self.config()
        if stored["modality"]["name"] != mine["modality"]["name"]:
            raise CheckpointError(f"{source} was trained against modality "
                                  f"{stored['modality']['name']!r}, this model uses "
                                  f"{mine['modality']['name']!r}")
        self._check_architecture(stored, source)

    def _check_architecture(self, stored: Dict[str, Any], source: Any) -> None:
        """A clear error when the stored weights have other shapes than this model's."""
        shape_keys = ("num_layers", "hidden_dim", "pooling", "norm", "projection_dim", "num_cells")
        stored_shape = {"norm": "batch", **stored["hyperparameters"]}  # before norm was stored
        different = {k: (stored_shape.get(k), self.hyperparameters[k]) for k in shape_keys
                     if stored_shape.get(k) != self.hyperparameters[k]}
        if different:
            raise CheckpointError(
                f"{source} has another architecture (stored vs this model): {different}. "
                f"Use {type(self).__name__}.load(path) to rebuild the model the checkpoint "
                "describes.")

    @classmethod
    def load(cls, path: Union[str, os.PathLike], modality: Optional[Union[str, Modality]] = None,
             **kwargs) -> "ACMLModel":
        """Rebuild a model from a checkpoint file alone (its stored configuration), then load
        its weights. ``modality`` overrides the stored one (e.g. a custom encoder object).

        Parameters
        ----------
        path : str or path-like
            A checkpoint written by :meth:`save` or ``acml pretrain``.
        modality : str or Modality, optional
            Overrides the stored modality (e.g. a custom encoder object).
        **kwargs
            Passed to the constructor (e.g. ``device``, ``model_dir``).
        """
        data = load_checkpoint_file(path, kind=ACML_CHECKPOINT_KIND)
        hyperparameters = {"norm": "batch", **data["config"]["hyperparameters"]}
        hyperparameters.pop("seed", None)
        model = cls(modality or modality_from_config(data["config"]["modality"]),
                    **hyperparameters, **kwargs)
        model.restore(str(path))
        return model


    @classmethod
    def from_pretrained(cls, name: str, **kwargs) -> "ACMLModel":
        """A pretrained ACML model shipped with the package, by modality name (offline).

        Parameters
        ----------
        name : str
            A shipped model name (``"nmr_13c"``, ``"smiles"``, ...) or the path of a checkpoint.
        **kwargs
            Passed to :meth:`load` (e.g. ``device``).

        Examples
        --------
        >>> model = ACMLModel.from_pretrained("nmr_13c")
        >>> dataset, _ = model.featurize_graphs(["CCO", "c1ccccc1"])
        >>> model.predict_embedding(dataset).shape
        (2, 128)
        """
        return cls.load(pretrained_path(name), **kwargs)
