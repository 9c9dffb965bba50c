"""Recipe: pretrain a 1-D convolutional spectrum autoencoder on spectra alone.

No public pretrained encoder exists for NMR or mass spectra, so the package makes its own, as
the ACML authors did. Only spectra are used (never structures), and the molecules of the
canonical validation and test splits (:func:`deepchem_acml.data.splits.inchikey_split`, seed
0) are left out, so an ACML test molecule's spectrum was never seen by its frozen encoder.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from deepchem_acml.nn.spectrum_autoencoder import SpectrumAutoencoder

logger = logging.getLogger(__name__)


def pretrain_spectrum_autoencoder(spectra: np.ndarray, epochs: int = 20, batch_size: int = 128,
                                  learning_rate: float = 1e-3, positive_weight: float = 20.0,
                                  channels=(32, 16, 8, 1), kernel_size: int = 7, stride: int = 2,
                                  validation_fraction: float = 0.05, seed: int = 0,
                                  progress: bool = True, device: Any = None,
                                  ) -> Tuple[SpectrumAutoencoder, List[Dict[str, Any]]]:
    """Train a :class:`SpectrumAutoencoder` to reconstruct binned spectra.

    The loss is binary cross-entropy between the reconstruction logits and the spectrum
    (values in [0, 1]), with the occupied bins weighted by ``positive_weight``: spectra are
    sparse, and an unweighted loss is minimised by predicting an empty spectrum.

    Trains on ``device`` (None: the GPU when there is one). Returns the trained autoencoder
    (eval mode, on the CPU) and one history record per epoch.
    """
    from tqdm.auto import tqdm

    from deepchem_acml.devices import resolve_device
    from deepchem_acml.models.utils import seed_everything

    device = resolve_device(device)

    spectra = np.asarray(spectra, dtype=np.float32)
    if spectra.ndim != 2 or len(spectra) < 10:
        raise ValueError(f"need an (N >= 10, n_bins) array of spectra, got shape {spectra.shape}")
    generator = torch.Generator().manual_seed(seed)  # (the split's own generator)
    seed_everything(seed)
    order = torch.randperm(len(spectra), generator=generator).numpy()
    n_valid = max(1, int(len(spectra) * validation_fraction))
    valid = torch.from_numpy(spectra[order[:n_valid]]).to(device)
    train = torch.from_numpy(spectra[order[n_valid:]]).to(device)
    model = SpectrumAutoencoder(spectra.shape[1], channels, kernel_size, stride).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    weight = torch.tensor(positive_weight, device=device)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(
            model(batch), batch, pos_weight=weight)

    history = []
    bar = tqdm(range(epochs), desc="spectrum autoencoder", unit="epoch", disable=not progress)
    for epoch in bar:
        started = time.time()
        model.train()
        permutation = torch.randperm(len(train), generator=generator)
        total = 0.0
        for start in range(0, len(train), batch_size):
            batch = train[permutation[start:start + batch_size].to(device)]
            optimizer.zero_grad()
            loss = loss_of(batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            valid_loss = float(loss_of(valid))
        record = {"epoch": epoch + 1, "train_loss": total / len(train), "valid_loss": valid_loss,
                  "seconds": round(time.time() - started, 1)}
        history.append(record)
        bar.set_postfix(train=f"{record['train_loss']:.4f}", valid=f"{valid_loss:.4f}")
    return model.cpu().eval(), history
