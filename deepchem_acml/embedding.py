"""Graph embeddings from a pretrained ACML graph encoder: the one implementation behind
``ACMLFeaturizer``, ``ACMLTransformer`` and ``ACMLEmbedder``."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from deepchem_acml.checkpoints import load_checkpoint_file
from deepchem_acml.chem import MAX_EMBEDDED_ATOMS  # noqa: F401  (re-exported)
from deepchem_acml.devices import DeviceLike, autocast, resolve_device
from deepchem_acml.featurizers.base import FeaturizationResult
from deepchem_acml.nn.gin import GINEncoder
from deepchem_acml.shipped import ACML_CHECKPOINT_KIND, checkpoint_file

#: a shipped name, a checkpoint path, a GINEncoder, or an ACMLModel (typed Any: the models
#: layer sits above this one)
EncoderSource = Union[str, os.PathLike, GINEncoder, Any]


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
        module = source if isinstance(source, GINEncoder) else _graph_encoder_of(source)
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
        module = source if isinstance(source, GINEncoder) else _graph_encoder_of(source)
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:12]
    from deepchem_acml.data.smiles_files import file_sha256

    return file_sha256(checkpoint_file(source))[:12]


@torch.inference_mode()  # no autograd bookkeeping at all (no_grad still records versions)
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
                              batch_size: int = 256, max_atoms: Optional[int] = None,
                              precision: Optional[str] = None
                              ) -> Tuple[np.ndarray, FeaturizationResult]:
    """:func:`embed_smiles` on the CPU in ``jobs`` processes (-1: one per core), each
    featurizing *and* embedding its tasks with one thread; what comes back is each task's
    embedding matrix and failure report, never per-molecule objects (graphs pickled back to
    one process did not scale: 1.11× on 2 cores). Outputs equal :func:`embed_smiles`'s.

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
    precision : str, optional
        ``"bf16"`` autocast (default: float32).

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
    with ProcessEmbedder(source, jobs, batch_size, max_atoms, precision=precision) as pool:
        return pool.result(pool.submit(list(smiles)))


def cpu_processes(jobs: int) -> int:
    """Processes for ``jobs`` (-1: one per core the process may use)."""
    if jobs > 0:
        return jobs
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_cpu_threads(processes: int) -> None:
    """One torch thread per process on the CPU, unless ``OMP_NUM_THREADS`` says otherwise.

    The GIN's matrices are small (a batch's atoms × 128-256), so a second thread gains
    little on an idle machine and loses several-fold on a busy one (each product waits for
    its slowest thread); parallelism comes from processes instead (``--jobs``)."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


def keep_freed_memory_for_reuse() -> bool:
    """Let this process's allocator keep freed memory for the next batch instead of handing
    it back to the system at once (glibc on Linux; elsewhere nothing happens). Returns
    whether the setting was made.

    Every forward pass allocates and frees the same large activation tensors. glibc gives
    allocations above its mmap threshold their own mappings, unmapped again on free, and
    returns the top of the heap to the system above its trim threshold: each batch then
    pays fresh page faults. Dask's workers make it worse (``MALLOC_TRIM_THRESHOLD_=65536``
    pins the mmap threshold at 128 KiB, halving the GIN forward's speed). Raising both
    thresholds keeps the pages in the process, at the cost of holding about one batch's
    memory until the process ends: meant for processes that embed (``acml embed``, its
    workers, Dask workers), not called by library functions.

    Examples
    --------
    >>> keep_freed_memory_for_reuse() in (True, False)
    True
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    mmap_threshold, trim_threshold = -3, -1  # glibc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    return bool(libc.mallopt(mmap_threshold, 256 * 2**20)
                and libc.mallopt(trim_threshold, 512 * 2**20))


class ProcessEmbedder:
    """Worker processes that each featurize and embed tasks of SMILES with one thread, kept
    for a whole run (started once, the encoder loaded once per process).

    Work is cut into tasks of at most ``task_size`` SMILES, so that the processes stay busy
    to the end of a chunk, and :meth:`submit` returns at once, so the next chunk can be
    queued while this one is being written. Where ``fork`` exists the workers start as copies
    of this process (the encoder already loaded: no start-up); elsewhere they are spawned.

    Parameters
    ----------
    source : str or path-like
        A shipped name or a checkpoint path.
    jobs : int
        Processes (-1: one per core).
    batch_size : int, default=256
        Molecules per forward pass.
    max_atoms : int, optional
        Heavy atoms beyond which a molecule is reported.
    task_size : int, default=2048
        SMILES per task.
    precision : str, optional
        ``"bf16"`` autocast (default: float32).

    Examples
    --------
    >>> with ProcessEmbedder("nmr_13c", 2, task_size=2) as pool:
    ...     embeddings, result = pool.result(pool.submit(["CCO", "C1CC", "CCN"]))
    >>> embeddings.shape, result.indices.tolist(), result.failures[0].index
    ((2, 128), [0, 2], 1)
    """

    def __init__(self, source: Union[str, os.PathLike], jobs: int, batch_size: int = 256,
                 max_atoms: Optional[int] = None, task_size: int = 2048,
                 precision: Optional[str] = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.source, self.batch_size, self.max_atoms = os.fspath(source), batch_size, max_atoms
        self.task_size, self.precision = task_size, precision
        self.processes = cpu_processes(jobs)
        context = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self.executor = ProcessPoolExecutor(self.processes, mp_context=context,
                                            initializer=_start_worker, initargs=(self.source,))

    def submit(self, smiles: Sequence) -> tuple:
        """Queue ``smiles``; returns a handle for :meth:`result`."""
        starts = list(range(0, len(smiles), self.task_size)) or [0]
        futures = [self.executor.submit(_embed_share, self.source,
                                        list(smiles[a:a + self.task_size]), self.batch_size,
                                        self.max_atoms, self.precision) for a in starts]
        return futures, starts, len(smiles)

    def result(self, handle: tuple) -> Tuple[np.ndarray, FeaturizationResult]:
        """The embeddings and report of a submitted list (waits for it)."""
        futures, starts, n = handle
        parts = [future.result() for future in futures]
        return (np.concatenate([embeddings for embeddings, _ in parts]),
                FeaturizationResult.joined([result for _, result in parts], starts, n))

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: drop queued tasks instead of finishing them)."""
        self.executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> "ProcessEmbedder":
        return self

    def __exit__(self, kind, *_) -> None:
        self.close(cancel=kind is not None)


def _start_worker(source: str) -> None:
    """A worker: one thread; Ctrl-C is the parent's to handle (no traceback per worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    keep_freed_memory_for_reuse()
    _process_encoder(source)


def _embed_share(source: str, smiles: Sequence, batch_size: int, max_atoms: Optional[int],
                 precision: Optional[str] = None):
    """One task: (embeddings, its report without the graphs)."""
    torch.set_num_threads(1)  # one process per core
    embeddings, result = embed_smiles(_process_encoder(source), smiles, batch_size,
                                      max_atoms=max_atoms, precision=precision)
    return embeddings, FeaturizationResult([], result.indices, result.failures, len(smiles))


_PROCESS_ENCODERS: dict = {}


def _process_encoder(source: str) -> GINEncoder:
    """The encoder of ``source`` on the CPU, loaded once per worker process."""
    if source not in _PROCESS_ENCODERS:
        _PROCESS_ENCODERS[source] = load_graph_encoder(source, device="cpu")
    return _PROCESS_ENCODERS[source]


def _graph_encoder_of(model: Any) -> GINEncoder:
    """The GIN inside an ``ACMLModel``."""
    return model.model.graph_encoder
