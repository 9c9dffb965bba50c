"""Graph embeddings from a pretrained ACML graph encoder: the one implementation behind
``ACMLFeaturizer``, ``ACMLTransformer`` and ``ACMLEmbedder``."""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from deepchem_acml.checkpoints import load_checkpoint_file
from deepchem_acml.chem import MAX_EMBEDDED_ATOMS  # noqa: F401  (re-exported)
from deepchem_acml.devices import DeviceLike, autocast, resolve_device
from deepchem_acml.shipped import ACML_CHECKPOINT_KIND, checkpoint_file
from deepchem_acml.featurizers.base import FeaturizationResult
from deepchem_acml.nn.gin import GINEncoder

EncoderSource = Union[str, os.PathLike, GINEncoder, "ACMLModel"]  # noqa: F821


def embedding_feature_names(n_features: int) -> list:
    """The one naming of embedding columns, shared by ``ACMLEmbedder.get_feature_names_out``
    and ``acml embed``'s Parquet output: ``acml`` and the column index, zero-padded so the
    names sort in column order.

    Examples
    --------
    >>> embedding_feature_names(12)[:2], embedding_feature_names(12)[-1]
    (['acml00', 'acml01'], 'acml11')
    """
    width = len(str(max(n_features - 1, 0)))
    return [f"acml{j:0{width}d}" for j in range(n_features)]


def load_graph_encoder(source: EncoderSource, backend: str = "torch",
                       device: DeviceLike = None) -> GINEncoder:
    """The GIN of an ACML checkpoint file, a shipped pretrained name, an ``ACMLModel``, or a
    ``GINEncoder``, in eval mode on ``device`` (``None``: the GPU when there is one).

    A module or model handed in is copied, never changed: its device, training mode and
    weights stay as they were. ``backend`` applies to files and names.

    Parameters
    ----------
    source : str, path-like, GINEncoder or ACMLModel
        A shipped name, a checkpoint path, or a module or model (copied).
    backend : str, default="torch"
        Message passing backend (files and names).
    device : str or torch.device, optional
        Where the encoder goes (None: the GPU when there is one).

    Returns
    -------
    GINEncoder
        In eval mode, on ``device``.

    Examples
    --------
    >>> encoder = load_graph_encoder("nmr_13c", device="cpu")
    >>> encoder.hidden_dim, encoder.training
    (128, False)
    """
    import copy

    if isinstance(source, GINEncoder) or _is_acml_model(source):
        module = source if isinstance(source, GINEncoder) else source.model.graph_encoder
        return copy.deepcopy(module).to(resolve_device(device)).eval()
    data = load_checkpoint_file(checkpoint_file(source), kind=ACML_CHECKPOINT_KIND)
    encoder = GINEncoder.from_config(data["config"]["hyperparameters"], backend)
    prefix = "graph_encoder."
    encoder.load_state_dict({k[len(prefix):]: v for k, v in data["model_state_dict"].items()
                             if k.startswith(prefix)})
    return encoder.to(resolve_device(device)).eval()


def _is_acml_model(source) -> bool:
    """An ``ACMLModel`` (or subclass); without importing DeepChem when none can exist yet."""
    import sys

    models = sys.modules.get("deepchem_acml.models.acml")
    return models is not None and isinstance(source, models.ACMLModel)


def encoder_digest(source: EncoderSource) -> str:
    """Twelve hex digits that change whenever the encoder's weights do: the SHA-256 of its
    checkpoint file (a shipped name or a path), or of its parameters (a module or model).
    Names featurizer caches, so that DeepChem never reuses another model's features.

    Parameters
    ----------
    source : str, path-like, GINEncoder or ACMLModel
        As in :func:`load_graph_encoder`.

    Returns
    -------
    str
        Twelve hexadecimal digits.

    Examples
    --------
    >>> len(encoder_digest("nmr_13c"))
    12
    >>> encoder_digest("nmr_13c") == encoder_digest("smiles")
    False
    """
    import hashlib

    digest = hashlib.sha256()
    if isinstance(source, GINEncoder) or _is_acml_model(source):
        module = source if isinstance(source, GINEncoder) else source.model.graph_encoder
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:12]
    from deepchem_acml.data.smiles_files import file_sha256

    return file_sha256(checkpoint_file(source))[:12]


@torch.no_grad()
def embed_graphs(encoder: GINEncoder, graphs: Sequence, batch_size: int = 256,
                 device: Optional[torch.device] = None, precision: Optional[str] = None
                 ) -> np.ndarray:
    """(N, hidden_dim) float32 embeddings of ``GraphData`` objects, in batches, on the
    encoder's device (``device`` must be that device when given), optionally under bf16/fp16
    autocast (``precision``).

    Parameters
    ----------
    encoder : GINEncoder
        From :func:`load_graph_encoder`.
    graphs : sequence of GraphData
        From ``ACMLGraphFeaturizer``.
    batch_size : int, default=256
        Molecules per forward pass.
    device : torch.device, optional
        The encoder's device (checked).
    precision : str, optional
        ``"bf16"`` or ``"fp16"`` autocast (default: float32).

    Returns
    -------
    np.ndarray
        (N, hidden_dim) float32.

    Examples
    --------
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> encoder = load_graph_encoder("nmr_13c", device="cpu")
    >>> embed_graphs(encoder, ACMLGraphFeaturizer().featurize(["CCO", "CCN"])).shape
    (2, 128)
    """
    own = next(encoder.parameters()).device
    device = resolve_device(device) if device is not None else own
    if device != own:
        raise ValueError(f"the encoder is on {own}, not {device}: load it there "
                         "(load_graph_encoder(..., device=...))")
    encoder.eval()
    with autocast(device, precision):
        chunks = [encoder(encoder.collate(graphs[i:i + batch_size], device=device))
                  .float().cpu().numpy() for i in range(0, len(graphs), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.hidden_dim), np.float32)


def embed_smiles(encoder: GINEncoder, smiles: Sequence, batch_size: int = 256,
                 device: Optional[torch.device] = None, max_atoms: Optional[int] = None,
                 precision: Optional[str] = None) -> Tuple[np.ndarray, FeaturizationResult]:
    """Embeddings of the SMILES that featurize (rows follow ``result.indices``) and the
    report; molecules with more than ``max_atoms`` heavy atoms are reported (None: no limit).

    Parameters
    ----------
    encoder : GINEncoder
        From :func:`load_graph_encoder`.
    smiles : sequence of str
        The molecules.
    batch_size : int, default=256
        Molecules per forward pass.
    device : torch.device, optional
        The encoder's device (checked).
    max_atoms : int, optional
        Heavy atoms beyond which a molecule is reported (None: no limit).
    precision : str, optional
        ``"bf16"`` or ``"fp16"`` autocast (default: float32).

    Returns
    -------
    embeddings : np.ndarray
        (n_ok, hidden_dim) float32, rows in the order of ``result.indices``.
    result : FeaturizationResult
        Which SMILES worked, and the failures with their reasons.

    Examples
    --------
    >>> encoder = load_graph_encoder("nmr_13c", device="cpu")
    >>> embeddings, result = embed_smiles(encoder, ["CCO", "C1CC", "c1ccccc1"])
    >>> embeddings.shape, result.indices.tolist()
    ((2, 128), [0, 2])
    """
    result = encoder.graph_featurizer(max_atoms).featurize_with_report(smiles)
    return embed_graphs(encoder, result.features, batch_size, device, precision), result


def embed_smiles_in_processes(source: Union[str, os.PathLike], smiles: Sequence, jobs: int,
                              batch_size: int = 256, max_atoms: Optional[int] = None
                              ) -> Tuple[np.ndarray, FeaturizationResult]:
    """:func:`embed_smiles` on the CPU in ``jobs`` processes (-1: one per core), each
    featurizing *and* embedding its share with one thread; what comes back is each share's
    embedding matrix and failure report, never per-molecule objects, so the work scales with
    the processes (graphs pickled back to one process did not: 1.11× on 2 cores).

    Parameters
    ----------
    source : str or path-like
        A shipped name or a checkpoint path (each process loads it once).
    smiles : sequence of str
        The molecules.
    jobs : int
        Processes (-1: one per core).
    batch_size : int, default=256
        Molecules per forward pass.
    max_atoms : int, optional
        Heavy atoms beyond which a molecule is reported.

    Returns
    -------
    embeddings : np.ndarray
        (n_ok, hidden_dim) float32, rows in the order of ``result.indices``.
    result : FeaturizationResult
        Which SMILES worked (``features`` empty: they stayed in the workers), the failures.

    Examples
    --------
    >>> embeddings, result = embed_smiles_in_processes("nmr_13c", ["CCO", "C1CC", "CCN"], 2)
    >>> embeddings.shape, result.indices.tolist()
    ((2, 128), [0, 2])
    """
    from joblib import Parallel, delayed

    smiles = list(smiles)
    n_jobs = os.cpu_count() if jobs < 0 else jobs
    bounds = np.linspace(0, len(smiles), n_jobs + 1).astype(int)
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_embed_share)(os.fspath(source), smiles[a:b], batch_size, max_atoms)
        for a, b in zip(bounds[:-1], bounds[1:]))
    return (np.concatenate([embeddings for embeddings, _ in parts]),
            FeaturizationResult.joined([result for _, result in parts], bounds[:-1], len(smiles)))


def _embed_share(source: str, smiles: Sequence, batch_size: int, max_atoms: Optional[int]):
    """One process's share: (embeddings, its report without the graphs)."""
    torch.set_num_threads(1)  # one process per core
    embeddings, result = embed_smiles(_process_encoder(source), smiles, batch_size,
                                      max_atoms=max_atoms)
    return embeddings, FeaturizationResult([], result.indices, result.failures, len(smiles))


_PROCESS_ENCODERS: dict = {}


def _process_encoder(source: str) -> GINEncoder:
    """The encoder of ``source`` on the CPU, loaded once per worker process."""
    if source not in _PROCESS_ENCODERS:
        _PROCESS_ENCODERS[source] = load_graph_encoder(source, device="cpu")
    return _PROCESS_ENCODERS[source]
