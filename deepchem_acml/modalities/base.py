"""A chemical modality = a featurizer (raw input -> array) + a frozen encoder (array -> vector)."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from deepchem_acml.featurizers.base import FeaturizationFailure, FeaturizationResult
from deepchem_acml.shipped import PRETRAINED_DIR  # noqa: F401  (the modalities read it here)


class Modality:
    """One chemical modality with its frozen pretrained encoder.

    The encoder is put in eval mode and every parameter gets ``requires_grad=False``: ACML
    never trains it. Its outputs depend only on the input, so :meth:`encode` is called once
    per molecule and the result cached (see ``ACMLModel.build_dataset``).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"nmr_13c"``.
    featurizer : object
        An object with ``featurize_with_report(inputs) -> FeaturizationResult``.
    encoder : nn.Module
        Has ``encode(tensor) -> (N, embedding_dim) tensor`` and ``embedding_dim``.
    source : str
        Where the encoder came from (checkpoint path or description), for model cards.

    Attributes
    ----------
    options : dict
        The keyword arguments of ``get_modality(name, **options)`` that rebuild it; stored in
        checkpoints. Set by :func:`get_modality`; empty for a modality built directly.

    Examples
    --------
    >>> from deepchem_acml import get_modality
    >>> modality = get_modality("nmr_13c")
    >>> embeddings, report = modality.embed(["20.1;0.0Q;0|170.2;0.0S;1|", "not a spectrum"])
    >>> embeddings.shape[0], report.n_failed
    (1, 1)
    """

    def __init__(self, name: str, featurizer: Any, encoder: nn.Module, source: str = ""):
        self.name = name
        self.options: Dict[str, Any] = {}
        self.featurizer = featurizer
        #: the frozen encoder: a module with ``encode(batch)`` and ``embedding_dim``
        self.encoder: Any = encoder.eval()
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.source = source

    def __repr__(self) -> str:
        return (f"Modality(name={self.name!r}, embedding_dim={self.embedding_dim}, "
                f"source={self.source!r})")

    def _encoder_on(self, device: torch.device) -> Any:
        """The frozen encoder on ``device``: itself where it lives, else a copy per device."""
        parameter = next(iter(self.encoder.parameters()), None)
        if parameter is None or parameter.device == device:
            return self.encoder
        copies = self.__dict__.setdefault("_device_copies", {})
        if device not in copies:
            import copy

            copies[device] = copy.deepcopy(self.encoder).to(device).eval()
        return copies[device]

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder.embedding_dim)

    def featurize(self, inputs: Sequence[Any]) -> FeaturizationResult:
        return self.featurizer.featurize_with_report(inputs)

    @torch.no_grad()
    def encode(self, features: Sequence[np.ndarray], batch_size: int = 256,
               device: Optional[torch.device] = None) -> np.ndarray:
        """Frozen embeddings of featurized inputs, (N, embedding_dim) float32 (converted to
        float a batch at a time: image features stay uint8 until then), computed on
        ``device`` (default: the CPU). The shared encoder itself never moves: another device
        gets a copy of it, kept for later calls.

        Parameters
        ----------
        features : sequence of np.ndarray
            Featurized inputs.
        batch_size : int, default=256
            Inputs per forward pass.
        device : torch.device, optional
            Where to compute (default: the CPU).

        Returns
        -------
        np.ndarray
            (N, embedding_dim) float32.
        """
        from deepchem_acml.devices import resolve_device

        device = resolve_device(device or "cpu")
        encoder = self._encoder_on(device)
        chunks = []
        for start in range(0, len(features), batch_size):
            batch = np.asarray(np.stack(features[start:start + batch_size]), dtype=np.float32)
            chunks.append(encoder.encode(torch.from_numpy(batch).to(device))
                          .float().cpu().numpy())
        if not chunks:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.concatenate(chunks)

    def embed(self, inputs: Sequence[Any], batch_size: int = 256,
              device: Optional[torch.device] = None, progress: Optional[bool] = None,
              cache_path: Optional[Union[str, Path]] = None,
              ) -> Tuple[np.ndarray, FeaturizationResult]:
        """Featurize and encode raw inputs a batch at a time (memory stays bounded however
        many there are). Returns the embeddings of the inputs that featurized (rows follow
        ``result.indices``) and the report, whose ``features`` is left empty. A progress bar
        shows when there are more than four batches (``progress`` forces it on or off).

        With ``cache_path`` (an ``.npz`` file) the result is stored there and read back by a
        later call with the same inputs and encoder (a resumed training run, another
        experiment): the frozen encoder's outputs never change, and for a CNN over thousands
        of drawings they take far longer than training.

        Parameters
        ----------
        inputs : sequence
            Raw inputs (spectra, SMILES, ...).
        batch_size : int, default=256
            Inputs per forward pass.
        device : torch.device, optional
            Where the encoder runs (default: the CPU).
        progress : bool, optional
            Force the progress bar on or off.
        cache_path : str or path-like, optional
            An ``.npz`` file that keeps the result for later calls with the same inputs
            (beyond :attr:`CACHE_PART_SIZE` inputs, ``<stem>.part1.npz``... beside it, one per
            part, each written when done: an interrupted run resumes from its parts).

        Returns
        -------
        embeddings : np.ndarray
            (n_ok, embedding_dim) float32, rows in the order of ``report.indices``.
        report : FeaturizationResult
            Which inputs worked, and the failures (its ``features`` is left empty).
        """
        inputs = list(inputs)
        with _one_metadata_warning(self, inputs):
            if cache_path is None:
                return self._embed(inputs, batch_size, device, progress)
            return self._embed_with_cache(inputs, Path(cache_path), batch_size, device,
                                          progress)

    #: inputs per cache part: a killed run loses at most one part of frozen-encoder work
    CACHE_PART_SIZE = 20000

    def _embed_with_cache(self, inputs: List[Any], cache_path: Path, batch_size: int,
                          device: Optional[torch.device], progress: Optional[bool]
                          ) -> Tuple[np.ndarray, FeaturizationResult]:
        """:meth:`embed` through cache files: ``cache_path`` for the first
        :attr:`CACHE_PART_SIZE` inputs, ``<stem>.part<k>.npz`` for each further part, each
        keyed by its own inputs and the encoder, read back when the key matches and written
        as soon as the part is done (so a long teacher run resumes at its last part)."""
        starts = list(range(0, max(len(inputs), 1), self.CACHE_PART_SIZE))
        embedded, results = [], []
        for part, start in enumerate(starts):
            chunk = inputs[start:start + self.CACHE_PART_SIZE]
            path = cache_path if part == 0 else cache_path.with_name(
                f"{cache_path.stem}.part{part}{cache_path.suffix or '.npz'}")
            key = self._cache_key(chunk)
            cached = _read_embedding_cache(path, key, chunk)
            if cached is None:
                cached = self._embed(chunk, batch_size, device, progress)
                _write_embedding_cache(path, key, *cached)
            embedded.append(cached[0])
            results.append(cached[1])
        return (np.concatenate(embedded),
                FeaturizationResult.joined(results, starts, len(inputs)))

    def _cache_key(self, inputs: List[Any]) -> str:
        import hashlib
        import json

        digest = hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode())
        digest.update(repr(self.featurizer).encode())
        for item in inputs:
            digest.update(repr(item).encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def _embed(self, inputs: List[Any], batch_size: int, device: Optional[torch.device],
               progress: Optional[bool]) -> Tuple[np.ndarray, FeaturizationResult]:
        from tqdm.auto import tqdm

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
        config: Dict[str, Any] = {"name": self.name, "source": self.source}
        if self.options:
            config["options"] = self.options
        return config


@contextlib.contextmanager
def _one_metadata_warning(modality: Modality, inputs: List[Any]):
    """One warning for all of ``inputs`` when the featurizer counts missing metadata (the
    fragment-aware MS featurizer), instead of one a batch; given on cached runs too."""
    check = getattr(modality.featurizer, "missing_metadata_message", None)
    if check is None:
        yield
        return
    from deepchem_acml.featurizers.spectra import MissingMetadataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingMetadataWarning)
        yield
    message = check(inputs)
    if message:
        warnings.warn(f"{modality.name}: {message}", MissingMetadataWarning, stacklevel=3)


def _read_embedding_cache(path: Path, key: str, inputs: List[Any]
                          ) -> Optional[Tuple[np.ndarray, FeaturizationResult]]:
    """The cached result when ``path`` holds one for the same key (else None: recompute)."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["key"]) != key:
            return None
        failures = [FeaturizationFailure(int(i), inputs[int(i)], str(reason))
                    for i, reason in zip(stored["failure_index"], stored["failure_reason"])]
        return stored["embeddings"], FeaturizationResult([], stored["indices"], failures,
                                                         len(inputs))


def _write_embedding_cache(path: Path, key: str, embeddings: np.ndarray,
                           result: FeaturizationResult) -> None:
    from deepchem_acml.files import atomic_path

    with atomic_path(path, suffix=".npz") as temporary:  # never half a cache
        np.savez(temporary, key=np.asarray(key), embeddings=embeddings, indices=result.indices,
                 failure_index=np.asarray([f.index for f in result.failures], dtype=np.int64),
                 failure_reason=np.asarray([f.reason for f in result.failures], dtype=str))


_REGISTRY: Dict[str, Callable[..., Modality]] = {}


def register_modality(name: str, factory: Callable[..., Modality], overwrite: bool = False) -> None:
    """Make ``get_modality(name)`` build a modality with ``factory(**kwargs)``.

    Parameters
    ----------
    name : str
        The registry name.
    factory : callable
        ``factory(**kwargs) -> Modality``.
    overwrite : bool, default=False
        Replace an existing registration.

    Examples
    --------
    >>> from deepchem_acml import get_modality, register_modality
    >>> register_modality("my_13c", lambda **kwargs: get_modality("nmr_13c", **kwargs),
    ...                   overwrite=True)
    >>> get_modality("my_13c").embedding_dim == get_modality("nmr_13c").embedding_dim
    True
    """
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a modality named {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    _REGISTRY[name] = factory


def available_modalities() -> Sequence[str]:
    """The registered modality names, sorted.

    Returns
    -------
    list of str
        What :func:`get_modality` accepts.

    Examples
    --------
    >>> from deepchem_acml.modalities import available_modalities
    >>> "nmr_13c" in available_modalities() and "smiles" in available_modalities()
    True
    """
    return sorted(_REGISTRY)


def get_modality(modality: Union[str, Modality], **kwargs) -> Modality:
    """A :class:`Modality` from its registry name (or the object itself, passed through).

    Parameters
    ----------
    modality : str or Modality
        A registered name, or a Modality (returned as it is).
    **kwargs
        Options of the modality's factory (e.g. ``encoder="roberta"`` for SMILES).

    Returns
    -------
    Modality
        The modality, with ``options`` set to ``kwargs``.

    Examples
    --------
    >>> from deepchem_acml import get_modality
    >>> get_modality("smiles").embedding_dim
    512
    """
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


