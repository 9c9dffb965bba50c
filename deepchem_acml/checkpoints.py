"""Writing and reading checkpoint files: atomically, with versions, and never running code.

Every checkpoint this package writes is a dict of tensors and plain Python values (str, int,
float, bool, list, dict), so it loads with ``torch.load(weights_only=True)``, which refuses
pickled objects of any other type instead of executing them.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Dict, Optional, Union

# torch is imported where a file is read or written, not here: deepchem_acml.shipped registers
# its checkpoint kinds at import, and `acml --help` reads shipped names without loading torch

PathLike = Union[str, os.PathLike]

_READERS: Dict[str, str] = {}


def register_checkpoint_kind(kind: str, reader: str) -> str:
    """Record what reads checkpoints of ``kind`` (named in the error when a file of that kind
    is handed to another reader); returns ``kind``."""
    _READERS[kind] = reader
    return kind


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unsafe, corrupt, or for another configuration.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = pathlib.Path(tempfile.mkdtemp()) / "notes.pt"
    >>> _ = text.write_text("not a model")
    >>> try:
    ...     load_checkpoint_file(text)
    ... except CheckpointError as err:
    ...     print("is not a PyTorch checkpoint" in str(err))
    True
    """


#: tensors kept in float32 by :func:`half_precision`: the standardisers' statistics of the
#: frozen embeddings. A few hundred values, but a constant dimension's scale is floored at
#: 1e-6, below float16's normal range, and dividing by its rounded value amplifies the
#: rounding of the mean into the projections (acml_ms_gc.pt's retrieval moved far).
KEPT_IN_FLOAT32 = ("standardizer",)


def half_precision(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """``state_dict`` with its floating-point tensors in float16 (for shipping; torch's
    ``load_state_dict`` copies them back into float32 parameters), except the statistics
    named in :data:`KEPT_IN_FLOAT32`.

    Examples
    --------
    >>> import torch
    >>> state = {"head.weight": torch.ones(2), "standardizers.ms_gc.scale": torch.ones(2)}
    >>> {name: str(t.dtype) for name, t in half_precision(state).items()}
    {'head.weight': 'torch.float16', 'standardizers.ms_gc.scale': 'torch.float32'}
    """
    return {name: tensor.half() if tensor.is_floating_point()
            and not any(kept in name for kept in KEPT_IN_FLOAT32) else tensor
            for name, tensor in state_dict.items()}


def save_checkpoint_file(path: PathLike, payload: Dict[str, Any], kind: str) -> Path:
    """Write ``payload`` (plus ``kind`` and version stamps) to ``path`` atomically.

    The file is written to a temporary name in the same folder and renamed into place, so a
    process killed mid-write never leaves a truncated checkpoint behind.
    """
    import torch

    from deepchem_acml import __version__
    from deepchem_acml.files import atomic_path

    path = Path(path)
    data = dict(payload, kind=kind, package_version=__version__,
                torch_version=str(torch.__version__))
    with atomic_path(path) as temporary:
        torch.save(data, temporary)
    return path


_ZIP_MAGIC, _PICKLE_PROTOCOL = b"PK\x03\x04", b"\x80"


def _check_container(path: Path) -> None:
    """Refuse, before torch reads it, a file that is not a ``torch.save`` archive (a zip
    file; older ones a pickle stream) or whose archive is damaged."""
    import zipfile

    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise CheckpointError(f"{path} is a truncated or corrupt PyTorch checkpoint "
                                  f"({err})") from None
        if damaged is not None:
            raise CheckpointError(f"{path} is a corrupt PyTorch checkpoint: its record "
                                  f"{damaged!r} fails its checksum")
    elif not head.startswith(_PICKLE_PROTOCOL):
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (files written by torch.save start with a zip "
            f"or pickle header; this one starts with {head!r}). Pass a file written by "
            "ACMLModel.save or `acml pretrain`.")


def _is_unsafe_pickle(err: Exception) -> bool:
    """torch's weights-only unpickler refusing a global (code), not failing to parse."""
    text = str(err)
    return "Unsupported global" in text or "GLOBAL" in text or "not an allowed global" in text


def _first_line(err: Exception) -> str:
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # torch colours some messages
    return text.splitlines()[0] if text else type(err).__name__


def load_checkpoint_file(path: PathLike, kind: Optional[str] = None,
                         map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint_file`, safely.

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : str, optional
        The kind of checkpoint expected (refused otherwise).
    map_location : default="cpu"
        As in ``torch.load``.

    Returns
    -------
    dict
        The checkpoint's contents (``kind``, versions, weights, configuration ...).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        With a message for each case: the file is not a PyTorch checkpoint at all (text,
        random bytes); it is truncated or corrupt; it holds pickled code or objects (refused,
        not executed); it is not a checkpoint of this package; it is of another ``kind``
        than asked for (the message names the reader to use).

    Examples
    --------
    >>> from deepchem_acml.shipped import pretrained_path
    >>> data = load_checkpoint_file(pretrained_path("nmr_13c"), kind="acml_model")
    >>> data["config"]["hyperparameters"]["hidden_dim"]
    128
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    _check_container(path)
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _is_unsafe_pickle(err):
            raise CheckpointError(
                f"refused to load {path}: it contains pickled Python objects other than "
                "tensors and plain values, which could run code. Only load checkpoints from "
                "sources you trust, and re-save them as plain state dicts. (torch said: "
                f"{_first_line(err)})") from None
        raise CheckpointError(f"{path} is a corrupt PyTorch checkpoint: {_first_line(err)}") \
            from None
    except Exception as err:  # truncated archives, bad records: whatever torch raises inside
        raise CheckpointError(f"{path} is a truncated or corrupt PyTorch checkpoint "
                              f"({type(err).__name__}: {_first_line(err)})") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise CheckpointError(f"{path} is not a deepchem-acml checkpoint (no 'kind' entry)")
    if kind is not None and data["kind"] != kind:
        reader = _READERS.get(data["kind"])
        raise CheckpointError(f"{path} holds a {data['kind']!r} checkpoint, expected {kind!r}"
                              + (f"; load it with {reader}" if reader else ""))
    return data
