"""Helpers shared by the package's DeepChem models."""
from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

import numpy as np
import torch


@contextlib.contextmanager
def quiet_deepchem_loss_warning():
    """TorchModel.fit_generator sums losses with their graphs attached and converts the sum
    with float(), which makes torch warn once per call; harmless, and not the user's doing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
        yield


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, numpy and torch, and switch torch to deterministic algorithms.

    The switch is process-wide. Without it, some multithreaded CPU kernels accumulate in an
    order that depends on thread scheduling, so two runs with the same seed drift apart when
    the machine is busy; with it, runs are bitwise identical on CPU. ``warn_only=True``: an op with
    no deterministic CUDA version warns instead of failing; on CUDA the cuBLAS workspace
    setting is made (see ``devices.enable_determinism``). ``deterministic=False`` seeds the
    generators alone (for code whose kernels have no deterministic mode, such as DGL's, or
    a reseed in the middle of a run).
    """
    import random

    from deepchem_acml.devices import enable_determinism

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        enable_determinism()


@dataclass
class BestEpoch:
    """The epoch with the best validation score so far and a copy of its weights: the one
    keep-the-best-epoch rule of every training loop here (early stopping reads
    :meth:`epochs_since`). Stored in a training state with :meth:`as_dict`, so that a
    resumed run keeps what the stopped one had.

    Examples
    --------
    >>> import torch
    >>> layer, best = torch.nn.Linear(1, 1), BestEpoch(higher_is_better=False)
    >>> [best.update(loss, epoch, layer) for epoch, loss in enumerate([0.5, 0.3, 0.4], 1)]
    [True, True, False]
    >>> best.epoch, best.score, best.epochs_since(3)
    (2, 0.3, 1)
    """

    higher_is_better: bool
    score: Optional[float] = None
    epoch: int = 0
    state: Optional[Dict[str, Any]] = None

    def improves(self, score: float) -> bool:
        """Whether ``score`` beats the best so far (the first score always does)."""
        if self.score is None:
            return True
        return score > self.score if self.higher_is_better else score < self.score

    def update(self, score: float, epoch: int, module: torch.nn.Module) -> bool:
        """Keep ``epoch`` and a copy of ``module``'s weights if ``score`` improves."""
        improved = self.improves(score)
        if improved:
            self.score, self.epoch = score, epoch
            self.state = copy.deepcopy(module.state_dict())
        return improved

    def epochs_since(self, epoch: int) -> int:
        return epoch - self.epoch

    def restore(self, module: torch.nn.Module) -> None:
        """Load the best epoch's weights into ``module`` (nothing if none was kept)."""
        if self.state is not None:
            module.load_state_dict(self.state)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)
