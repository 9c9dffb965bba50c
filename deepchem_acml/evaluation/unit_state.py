"""A benchmark unit's training state, written after every epoch, so that a unit stopped
before its end (a session ending, a killed process) continues where it was instead of
starting over: same weights, optimizer moments, random generators and early-stopping
bookkeeping, hence the same result as a run never stopped."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from deepchem_acml.checkpoints import (
    load_checkpoint_file,
    register_checkpoint_kind,
    save_checkpoint_file,
)
from deepchem_acml.devices import restore_rng_state, rng_state

UNIT_STATE_KIND = register_checkpoint_kind("benchmark_unit_state",
                                           "the MoleculeNet benchmark runner (it resumes them)")


def save_unit_state(path: Union[str, os.PathLike], model: Any, progress: Dict[str, Any]
                    ) -> None:
    """Write ``model``'s (a ``dc.models.TorchModel``) training state and the loop's
    ``progress`` (epoch, best score and weights, curves) to ``path``, atomically."""
    save_checkpoint_file(path, {
        "model": model.model.state_dict(),
        "optimizer": model._pytorch_optimizer.state_dict(),
        "global_step": int(model._global_step),
        "epochs_trained": getattr(model, "epochs_trained", None),
        "rng": {"torch": rng_state(), "numpy": _numpy_rng_state(),
                "python": random.getstate()},
        "progress": progress}, UNIT_STATE_KIND)


def restore_unit_state(path: Optional[Union[str, os.PathLike]], model: Any
                       ) -> Optional[Dict[str, Any]]:
    """Load a state written by :func:`save_unit_state` into ``model`` (built the same way)
    and the process's random generators; the loop's progress, or None when there is no
    state to continue from."""
    if path is None or not Path(path).is_file():
        return None
    data = load_checkpoint_file(path, kind=UNIT_STATE_KIND)
    model._ensure_built()
    model.model.load_state_dict(data["model"])
    model._pytorch_optimizer.load_state_dict(data["optimizer"])
    model._global_step = data["global_step"]
    if data["epochs_trained"] is not None:
        model.epochs_trained = data["epochs_trained"]
    restore_rng_state(data["rng"]["torch"])
    _restore_numpy_rng_state(data["rng"]["numpy"])
    random.setstate(_as_python_state(data["rng"]["python"]))
    return data["progress"]


def _numpy_rng_state() -> Dict[str, Any]:
    # (as tensors and plain numbers: torch's weights-only loader refuses numpy arrays)
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position), "has_gauss": int(has_gauss), "gauss": float(gauss)}


def _restore_numpy_rng_state(state: Dict[str, Any]) -> None:
    np.random.set_state((state["name"], state["keys"].numpy().astype(np.uint32),
                         state["position"], state["has_gauss"], state["gauss"]))


def _as_python_state(state) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss
