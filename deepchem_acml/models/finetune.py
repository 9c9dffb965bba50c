"""Property prediction with a (pretrained) ACML graph encoder, fine-tuned end to end."""
from __future__ import annotations

import os
from typing import Optional, Union

import deepchem as dc
import numpy as np
import torch
from deepchem.models.losses import L2Loss, SigmoidCrossEntropy
from deepchem.models.optimizers import AdamW
from torch import nn

from deepchem_acml.devices import autocast, check_precision
from deepchem_acml.featurizers.descriptors import check_molecule_features, rdkit_descriptor_names
from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
from deepchem_acml.models.acml import check_torch_model_arguments
from deepchem_acml.models.utils import quiet_deepchem_loss_warning, seed_everything
from deepchem_acml.nn.gin import GIN_ARGUMENTS, GINEncoder, build_gin

MODES = ("classification", "regression")


class FeatureStandardizer(nn.Module):
    """Molecule-level features as the head reads them, with statistics of the training split
    (stored with the weights, so predictions on new molecules use the same ones): a missing
    value (NaN) becomes the training median, then ``(x - mean) / std``, clipped to
    ``±clip`` so that one descriptor far outside the training range (RDKit's ``Ipc`` spans
    dozens of orders of magnitude) cannot swamp the head."""

    median: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, n_features: int, clip: float = 5.0):
        super().__init__()
        self.clip = clip
        for name, value in (("median", 0.0), ("mean", 0.0), ("std", 1.0)):
            self.register_buffer(name, torch.full((n_features,), value))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, features: np.ndarray) -> "FeatureStandardizer":
        """Set the statistics from the training split's ``(n, n_features)`` features."""
        features = np.asarray(features, dtype=np.float64)
        median = np.nan_to_num(np.nanmedian(features, axis=0))
        filled = np.where(np.isnan(features), median, features)
        std = filled.std(axis=0)
        std[~(std > 0)] = 1.0
        for name, value in (("median", median), ("mean", filled.mean(axis=0)), ("std", std)):
            getattr(self, name).copy_(torch.as_tensor(value, dtype=torch.float32))
        self.fitted.fill_(True)
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise RuntimeError("the molecule-feature statistics are not set: fit the model on "
                               "its training data before predicting")
        features = torch.where(torch.isnan(features), self.median, features)
        return ((features - self.mean) / self.std).clamp(-self.clip, self.clip)


class PropertyNetwork(nn.Module):
    """GIN encoder (and, optionally, standardised molecule-level features beside its
    embedding) -> MLP head. A frozen encoder stays in eval mode (batch-norm statistics and
    dropout fixed) even while the head trains."""

    def __init__(self, encoder: GINEncoder, n_tasks: int, head_hidden: int, dropout: float,
                 mode: str, freeze_encoder: bool, precision: str = "fp32",
                 n_molecule_features: int = 0):
        super().__init__()
        self.encoder, self.mode = encoder, mode
        self.precision = precision
        self.feature_standardizer = (FeatureStandardizer(n_molecule_features)
                                     if n_molecule_features else None)
        width = encoder.hidden_dim + n_molecule_features
        self.head: nn.Module
        if head_hidden == 0:  # a linear head, as in Hu et al. (2020)
            self.head = nn.Linear(width, n_tasks)
        else:
            self.head = nn.Sequential(nn.Linear(width, head_hidden), nn.ReLU(),
                                      nn.Dropout(dropout), nn.Linear(head_hidden, n_tasks))
        self.set_encoder_frozen(freeze_encoder)

    def set_encoder_frozen(self, frozen: bool) -> None:
        """Freeze (no gradients, eval mode: dropout off, statistics fixed) or release the
        encoder; the optimizer skips parameters without gradients, so this can change
        between epochs."""
        self.freeze_encoder = frozen
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(not frozen)
        if frozen:
            self.encoder.eval()

    def train(self, mode: bool = True) -> "PropertyNetwork":
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def forward(self, inputs):
        graph_batch, features = inputs if isinstance(inputs, (list, tuple)) else (inputs, None)
        device = next(self.head.parameters()).device
        with autocast(device, self.precision):
            embedding = self.encoder(graph_batch)
            if self.feature_standardizer is not None:
                embedding = torch.cat([embedding, self.feature_standardizer(features).to(
                    embedding.dtype)], dim=1)
            output = self.head(embedding)
        output = output.float()  # losses and sigmoid in float32
        if self.mode == "regression":
            return [output]
        probability = torch.sigmoid(output)
        return [torch.stack([1 - probability, probability], dim=-1), output]


#: the encoder of the ACML row that the MoleculeNet benchmark's validation scores favour
#: (docs/benchmarks; ``benchmark_report.RECOMMENDED``): ``ACMLPropertyModel``'s default
DEFAULT_ENCODER = "smiles_rich_distilled"
#: the GIN that ``pretrained=None`` built (the deprecated alias) and the benchmark's scratch rows
#: start from
SCRATCH_GIN_DEFAULTS = dict(num_layers=5, hidden_dim=128, dropout=0.2, pooling="sum",
                           norm="layer", atom_features="hu")


class ACMLPropertyModel(dc.models.TorchModel):
    """Multitask classification or regression on ACML graph features (``ACMLGraphFeaturizer``).

    The model is composed of its parts: a graph encoder (``encoder``: a pretrained ACML
    checkpoint by name or path, a ``GINEncoder`` module, or the arguments of a new
    ``GINEncoder`` with random weights — the baseline that shows what ACML pretraining adds),
    molecule-level features beside its embedding, and an MLP head. The defaults are the ACML
    recipe that the MoleculeNet benchmark's validation scores favour: the shipped
    ``smiles_rich_distilled`` encoder, pooled by mean, learning at a tenth of the head's rate,
    with RDKit's 2-D descriptors of each molecule beside its embedding.
    Losses are DeepChem's (sigmoid cross-entropy per task for classification, L2 for
    regression), weighted by the dataset's ``w`` so that missing labels (weight 0) do not
    count. Classification predictions have DeepChem's shape ``(n, n_tasks, 2)``.

    Parameters
    ----------
    n_tasks : int
        Outputs (one per task of the data set).
    mode : str, default="classification"
        ``"classification"`` or ``"regression"``.
    encoder : str, path, GINEncoder or dict, default="smiles_rich_distilled"
        A shipped name (``"smiles_rich_distilled"``, ``"nmr_13c"``...), an ACML checkpoint
        path, a ``GINEncoder`` (copied), or a dict of ``GINEncoder`` arguments (a new encoder
        with random weights, e.g. ``dict(hidden_dim=128, atom_features="rich")``).
    freeze_encoder : bool, default=False
        Train only the head (the encoder's weights and batch-norm statistics stay fixed).
    frozen_epochs : int, default=0
        Train only the head for the first ``frozen_epochs`` epochs of :meth:`fit` (counted
        over calls), then the whole network: a head fitted to the pretrained features before
        they move (linear probing, then fine-tuning; Kumar et al. 2022, "Fine-Tuning can
        Distort Pretrained Features").
    encoder_learning_rate_scale : float, default=0.1
        The encoder learns at ``learning_rate`` times this (0.1: a pretrained encoder moves
        ten times slower than the new head; 1.0: one learning rate, for an encoder with random
        weights).
    encoder_pooling : str, optional, default="mean"
        Replace the encoder's graph pooling (``"mean"``: an embedding that does not grow with
        the molecule; ACML's encoders pool by sum); None keeps the encoder's own.
    molecule_features : str, optional, default="rdkit_2d"
        ``"rdkit_2d"``: RDKit's 2-D descriptors of each molecule beside the graph embedding,
        read by the head (chemprop's extra-descriptor design; Yang et al. 2019); None: the
        graph embedding alone (faster to featurize). The descriptors are
        standardised with statistics of the data the first :meth:`fit` sees (missing values
        imputed with its median) and stored with the weights. Featurize with
        ``graph_featurizer``, which then adds them to each graph.
    head_hidden : int, default=128
        The prediction head: one hidden layer of ``head_hidden`` units with dropout, or a single
        linear layer when ``head_hidden=0`` (Hu et al. 2020).
    head_dropout : float, default=0.1
        Dropout inside the head.
    learning_rate : float, default=1e-3
        AdamW's learning rate.
    batch_size : int, default=64
        Molecules per step.
    weight_decay : float, default=0.01
        AdamW's decoupled weight decay (0: plain Adam, as in Hu et al. 2020).
    precision : str, default="fp32"
        ``"fp32"`` or ``"bf16"`` (autocast, CPU or GPU); losses stay in float32.
    backend : str, default="torch"
        GIN message passing: ``"torch"`` or ``"dgl"`` (DGL environment).
    seed : int, optional
        Seeds Python, numpy and torch (and switches on deterministic algorithms).
    **kwargs
        Passed to ``dc.models.TorchModel`` (``device``, ``model_dir``...).

    Examples
    --------
    >>> import deepchem as dc, numpy as np
    >>> model = ACMLPropertyModel(1, "regression", seed=0)  # the recommended defaults
    >>> X = model.graph_featurizer.featurize(["CCO", "CCCO", "c1ccccc1", "CC(=O)O"])
    >>> data = dc.data.NumpyDataset(X, np.array([[0.1], [0.3], [0.9], [0.2]]))
    >>> _ = model.fit(data, nb_epoch=2)
    >>> model.predict(data).shape
    (4, 1)
    >>> scratch = ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=32),
    ...                             encoder_learning_rate_scale=1.0)
    >>> scratch.model.encoder.hidden_dim
    32
    """

    def __init__(self, n_tasks: int, mode: str = "classification",
                 encoder: Union[str, "os.PathLike", GINEncoder, dict] = DEFAULT_ENCODER,
                 freeze_encoder: bool = False, frozen_epochs: int = 0,
                 encoder_learning_rate_scale: float = 0.1,
                 encoder_pooling: Optional[str] = "mean",
                 molecule_features: Optional[str] = "rdkit_2d", head_hidden: int = 128,
                 head_dropout: float = 0.1, learning_rate: float = 1e-3, batch_size: int = 64,
                 weight_decay: float = 0.01, precision: str = "fp32", backend: str = "torch",
                 seed: Optional[int] = None, **kwargs):
        encoder = _encoder_argument(encoder, kwargs)
        check_torch_model_arguments(kwargs, "ACMLPropertyModel")
        _check_arguments(mode, n_tasks, precision, head_hidden, frozen_epochs,
                         encoder_learning_rate_scale, encoder_pooling)
        if seed is not None:
            seed_everything(seed)
        module = build_encoder(encoder, backend)
        if encoder_pooling is not None:
            module.pooling = encoder_pooling
        #: the featurizer whose graphs the model reads (the encoder's atom features, and the
        #: molecule features the head reads)
        self.graph_featurizer = ACMLGraphFeaturizer(
            atom_features=module.atom_features,
            molecule_features=check_molecule_features(molecule_features))
        self.molecule_features = molecule_features
        self.encoder_learning_rate_scale = encoder_learning_rate_scale
        self.n_tasks, self.mode, self.encoder = n_tasks, mode, encoder
        self.freeze_encoder, self.seed = freeze_encoder, seed
        self.frozen_epochs, self.epochs_trained = int(frozen_epochs), 0
        n_molecule_features = len(rdkit_descriptor_names()) if molecule_features else 0
        network = PropertyNetwork(module, n_tasks, head_hidden, head_dropout, mode,
                                  freeze_encoder, check_precision(precision), n_molecule_features)
        if mode == "classification":
            loss, output_types = SigmoidCrossEntropy(), ["prediction", "loss"]
        else:
            loss, output_types = L2Loss(), ["prediction"]
        super().__init__(network, loss=loss, output_types=output_types, batch_size=batch_size,
                         optimizer=AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
                         **kwargs)

    def restore(self, *args, **kwargs) -> None:
        """``TorchModel.restore`` (same arguments), with a clear error for a checkpoint of a
        model built with other ``molecule_features`` (the default changed: earlier models
        read the graph alone)."""
        try:
            super().restore(*args, **kwargs)
        except RuntimeError as err:
            if "feature_standardizer" not in str(err):
                raise
            written = "without" if "Missing key" in str(err) else "with"
            raise ValueError(f"this checkpoint was written by a model {written} molecule "
                             "features; build the model with molecule_features="
                             f"{None if written == 'without' else 'rdkit_2d'!r} to restore "
                             "it") from None

    def _ensure_built(self) -> None:
        """DeepChem's optimizer, with the encoder's parameters in a group of their own at
        ``learning_rate × encoder_learning_rate_scale``."""
        if self._built or self.encoder_learning_rate_scale == 1.0:
            return super()._ensure_built()
        super()._ensure_built()
        optimizer = self._pytorch_optimizer  # fresh: no state yet, so the groups can change
        encoder = {id(p) for p in self.model.encoder.parameters()}
        group = optimizer.param_groups[0]
        slow = [p for p in group["params"] if id(p) in encoder]
        group["params"] = [p for p in group["params"] if id(p) not in encoder]
        optimizer.add_param_group({"params": slow,
                                   "lr": group["lr"] * self.encoder_learning_rate_scale})

    def _prepare_batch(self, batch):
        inputs, labels, weights = batch
        graphs = self.model.encoder.collate(inputs[0], device=self.device)
        _, label_tensors, weight_tensors = super()._prepare_batch(([], labels, weights))
        if self.mode == "classification" and label_tensors:
            label_tensors = [t.reshape(-1, self.n_tasks) for t in label_tensors]
        if self.molecule_features is None:
            return [graphs], label_tensors, weight_tensors
        features = torch.as_tensor(self._molecule_features_of(inputs[0]), device=self.device)
        return [graphs, features], label_tensors, weight_tensors

    def _molecule_features_of(self, graphs) -> np.ndarray:
        """The ``(n, n_features)`` molecule features the graphs carry (clear error when they
        were featurized without them)."""
        if any(getattr(g, "molecule_features", None) is None for g in graphs):
            raise ValueError(f"this model reads molecule_features={self.molecule_features!r} "
                             "beside each graph; featurize the molecules with "
                             "model.graph_featurizer")
        return np.stack([g.molecule_features for g in graphs]).astype(np.float32)

    def fit(self, dataset, nb_epoch: int = 10, **kwargs) -> float:
        """``TorchModel.fit`` (same arguments); the first ``frozen_epochs`` epochs, counted
        over calls, train the head alone."""
        loss = 0.0
        standardizer = self.model.feature_standardizer
        if standardizer is not None and not bool(standardizer.fitted):
            standardizer.fit(self._molecule_features_of(dataset.X))  # the first training data
        with quiet_deepchem_loss_warning():
            while nb_epoch > 0 and self.epochs_trained < self.frozen_epochs:
                self.model.set_encoder_frozen(True)  # the head alone, one epoch at a time
                loss = super().fit(dataset, 1, **kwargs)
                nb_epoch, self.epochs_trained = nb_epoch - 1, self.epochs_trained + 1
            self.model.set_encoder_frozen(self.freeze_encoder)
            if nb_epoch > 0:
                loss = super().fit(dataset, nb_epoch, **kwargs)
                self.epochs_trained += nb_epoch
        return loss


def build_encoder(encoder: Union[str, "os.PathLike", GINEncoder, dict],
                  backend: str = "torch") -> GINEncoder:
    """The graph encoder ``encoder`` names: a pretrained checkpoint (shipped name or path)
    or a ``GINEncoder`` (both copied, on the CPU), or a new one from a dict of its
    arguments (``nn.gin.build_gin``)."""
    from deepchem_acml.embedding import load_graph_encoder

    if isinstance(encoder, (dict, GINEncoder)):
        return build_gin(encoder, backend)
    return load_graph_encoder(encoder, backend, device="cpu")


def _encoder_argument(encoder, kwargs: dict):
    """``encoder``, or what the deprecated spellings ask for (``pretrained=``, the GIN's own
    arguments beside it); GIN arguments that a given encoder would ignore are refused."""
    import warnings

    gin = {name: kwargs.pop(name) for name in GIN_ARGUMENTS if name in kwargs}
    if "pretrained" in kwargs:
        pretrained = kwargs.pop("pretrained")
        warnings.warn("ACMLPropertyModel(pretrained=...) is deprecated: use encoder=... (a "
                      "name, path or GINEncoder; a dict of GINEncoder arguments for random "
                      "weights)", FutureWarning, stacklevel=3)
        if pretrained is None:
            return dict(SCRATCH_GIN_DEFAULTS, **gin)
        encoder = pretrained
    if gin and isinstance(encoder, dict):
        raise TypeError(f"pass {sorted(gin)} inside encoder=dict(...), not beside it")
    if gin:
        raise TypeError(f"{sorted(gin)} would be ignored: the encoder {encoder!r} keeps its own "
                        "architecture. For a new encoder with random weights pass "
                        f"encoder=dict({', '.join(f'{k}={v!r}' for k, v in gin.items())})")
    return encoder


def _check_arguments(mode, n_tasks, precision, head_hidden, frozen_epochs,
                     encoder_learning_rate_scale, encoder_pooling) -> None:
    from deepchem_acml.nn.gin import POOLINGS

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be at least 1, got {n_tasks}")
    if check_precision(precision) == "fp16":
        raise ValueError("fp16 fine-tuning needs loss scaling, which DeepChem's training "
                         "loop does not do; use precision='bf16'")
    if head_hidden < 0:
        raise ValueError(f"head_hidden must be 0 (a linear head) or more, got {head_hidden}")
    if frozen_epochs < 0:
        raise ValueError(f"frozen_epochs must be 0 or more, got {frozen_epochs}")
    if encoder_learning_rate_scale <= 0:
        raise ValueError("encoder_learning_rate_scale must be positive, got "
                         f"{encoder_learning_rate_scale} (freeze_encoder=True trains the "
                         "head alone)")
    if encoder_pooling is not None and encoder_pooling not in POOLINGS:
        raise ValueError(f"encoder_pooling must be one of {POOLINGS}, got {encoder_pooling!r}")
