"""A chemical modality = a featurizer (raw input -> array) + a frozen encoder (array -> vector)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from deepchem_acml.featurizers.base import FeaturizationFailure, FeaturizationResult


class Modality:
    """One chemical modality with its frozen pretrained encoder.

    The encoder is put in eval mode and every parameter gets ``requires_grad=False``: ACML
    never trains it. Its outputs depend only on the input, so :meth:`encode` is called once
    per molecule and the result cached (see ``ACMLModel.build_dataset``).

    Parameters
    ----------
    name: str
        Registry name, e.g. ``"nmr_13c"``.
    featurizer:
        An object with ``featurize_with_report(inputs) -> FeaturizationResult``.
    encoder: nn.Module
        Has ``encode(tensor) -> (N, embedding_dim) tensor`` and ``embedding_dim``.
    source: str
        Where the encoder came from (checkpoint path or description), for model cards.
    options: dict
        The keyword arguments of ``get_modality(name, **options)`` that rebuild it; stored in
        checkpoints (set by :func:`get_modality`).
    """

    def __init__(self, name: str, featurizer: Any, encoder: nn.Module, source: str = "",
                 options: Optional[Dict[str, Any]] = None):
        self.name = name
        self.options = dict(options or {})
        self.featurizer = featurizer
        self.encoder = encoder.eval()
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.source = source

    def __repr__(self) -> str:
        return (f"Modality(name={self.name!r}, embedding_dim={self.embedding_dim}, "
                f"source={self.source!r})")

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder.embedding_dim)

    def featurize(self, inputs: Sequence[Any]) -> FeaturizationResult:
        return self.featurizer.featurize_with_report(inputs)

    @torch.no_grad()
    def encode(self, features: Sequence[np.ndarray], batch_size: int = 256,
               device: Optional[torch.device] = None) -> np.ndarray:
        """Frozen embeddings of featurized inputs, (N, embedding_dim) float32 (converted to
        float a batch at a time: image features stay uint8 until then)."""
        device = device or torch.device("cpu")
        self.encoder.to(device).eval()
        chunks = []
        for start in range(0, len(features), batch_size):
            batch = np.asarray(np.stack(features[start:start + batch_size]), dtype=np.float32)
            chunks.append(self.encoder.encode(torch.from_numpy(batch).to(device))
                          .float().cpu().numpy())
        if not chunks:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.concatenate(chunks)

    def embed(self, inputs: Sequence[Any], batch_size: int = 256,
              device: Optional[torch.device] = None, progress: Optional[bool] = None,
              ) -> Tuple[np.ndarray, FeaturizationResult]:
        """Featurize and encode raw inputs a batch at a time (memory stays bounded however
        many there are). Returns the embeddings of the inputs that featurized (rows follow
        ``result.indices``) and the report, whose ``features`` is left empty. A progress bar
        shows when there are more than four batches (``progress`` forces it on or off)."""
        from tqdm.auto import tqdm

        inputs = list(inputs)
        embeddings, indices, failures = [], [], []
        show = len(inputs) > 4 * batch_size if progress is None else progress
        bar = tqdm(total=len(inputs), desc=f"frozen {self.name} encoder", unit="input",
                   disable=not show, leave=False)
        for start in range(0, len(inputs), batch_size):
            result = self.featurize(inputs[start:start + batch_size])
            if result.features:
                embeddings.append(self.encode(result.features, batch_size, device))
            indices.append(result.indices + start)
            failures += [FeaturizationFailure(f.index + start, f.input, f.reason)
                         for f in result.failures]
            bar.update(len(inputs[start:start + batch_size]))
        bar.close()
        embedded = (np.concatenate(embeddings) if embeddings
                    else np.zeros((0, self.embedding_dim), dtype=np.float32))
        index = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
        return embedded, FeaturizationResult([], index, failures, len(inputs))

    def config(self) -> Dict[str, Any]:
        config = {"name": self.name, "source": self.source}
        if self.options:
            config["options"] = self.options
        return config


_REGISTRY: Dict[str, Callable[..., Modality]] = {}


def register_modality(name: str, factory: Callable[..., Modality], overwrite: bool = False) -> None:
    """Make ``get_modality(name)`` build a modality with ``factory(**kwargs)``."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a modality named {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    _REGISTRY[name] = factory


def available_modalities() -> Sequence[str]:
    return sorted(_REGISTRY)


def get_modality(modality: Union[str, Modality], **kwargs) -> Modality:
    """A :class:`Modality` from its registry name (or the object itself, passed through)."""
    if isinstance(modality, Modality):
        return modality
    if modality not in _REGISTRY:
        raise ValueError(f"unknown modality {modality!r}; available: {available_modalities()}. "
                         "Register your own with deepchem_acml.register_modality.")
    built = _REGISTRY[modality](**kwargs)
    built.options = {key: str(value) if isinstance(value, Path) else value
                     for key, value in kwargs.items() if value is not None}
    return built


def modality_from_config(config: Dict[str, Any]) -> Modality:
    """Rebuild the modality a checkpoint stored (its name and ``get_modality`` options)."""
    return get_modality(config["name"], **config.get("options", {}))


PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
