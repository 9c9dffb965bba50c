"""Writing and reading checkpoint files: atomically, with versions, and never running code.

Every checkpoint this package writes is a dict of tensors and plain Python values (str, int,
float, bool, list, dict), so it loads with ``torch.load(weights_only=True)``, which refuses
pickled objects of any other type instead of executing them.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch

PathLike = Union[str, os.PathLike]

_READERS: Dict[str, str] = {}


def register_checkpoint_kind(kind: str, reader: str) -> str:
    """Record what reads checkpoints of ``kind`` (named in the error when a file of that kind
    is handed to another reader); returns ``kind``."""
    _READERS[kind] = reader
    return kind


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unsafe, corrupt, or for another configuration."""


def save_checkpoint_file(path: PathLike, payload: Dict[str, Any], kind: str) -> Path:
    """Write ``payload`` (plus ``kind`` and version stamps) to ``path`` atomically.

    The file is written to a temporary name in the same folder and renamed into place, so a
    process killed mid-write never leaves a truncated checkpoint behind.
    """
    from deepchem_acml import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(payload, kind=kind, package_version=__version__,
                torch_version=str(torch.__version__))
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def load_checkpoint_file(path: PathLike, kind: Optional[str] = None,
                         map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint_file`, safely.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file holds pickled code or objects (refused, not executed), is not a checkpoint
        of this package, or is of another ``kind`` than asked for.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refused to load {path}: it contains pickled Python objects other than tensors and "
            "plain values, which could run code. Only load checkpoints from sources you trust, "
            f"and re-save them as plain state dicts. (torch said: {str(err).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {err}") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise CheckpointError(f"{path} is not a deepchem-acml checkpoint (no 'kind' entry)")
    if kind is not None and data["kind"] != kind:
        reader = _READERS.get(data["kind"])
        raise CheckpointError(f"{path} holds a {data['kind']!r} checkpoint, expected {kind!r}"
                              + (f"; load it with {reader}" if reader else ""))
    return data
