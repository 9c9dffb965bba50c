"""Recipe: pretrain a spectrum encoder on spectra alone by telling compounds apart.

Two spectra of one compound (another collision energy, instrument or adduct; or the same
spectrum with a tenth of its inputs dropped when the library holds only one) are a positive
pair, the other compounds of the batch the negatives (symmetric InfoNCE on normalised
embeddings). The only label used is which spectra belong to one compound: no structure, no
formula, so an ACML graph encoder aligned with this encoder learns chemistry from the
spectra's side alone, as with the autoencoders.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from deepchem_acml.nn.loss import acml_contrastive_loss
from deepchem_acml.nn.spectrum_mlp import SpectrumMLPEncoder


def spectra_by_compound(groups: Sequence[Any]) -> List[np.ndarray]:
    """Row indices of each compound's spectra, compounds in order of first appearance.

    Examples
    --------
    >>> [g.tolist() for g in spectra_by_compound(["a", "b", "a"])]
    [[0, 2], [1]]
    """
    first: Dict[Any, List[int]] = {}
    for row, group in enumerate(groups):
        first.setdefault(group, []).append(row)
    return [np.asarray(rows) for rows in first.values()]


def two_views(compounds: Sequence[np.ndarray], rng: np.random.Generator
              ) -> Tuple[np.ndarray, np.ndarray]:
    """Two spectra of each compound, different ones where it has several."""
    first, second = [], []
    for rows in compounds:
        pick = rng.choice(len(rows), size=2, replace=len(rows) < 2)
        first.append(rows[pick[0]])
        second.append(rows[pick[1]])
    return np.asarray(first), np.asarray(second)


@torch.no_grad()
def same_compound_top1(encoder: SpectrumMLPEncoder, features: torch.Tensor,
                       compounds: Sequence[np.ndarray], seed: int = 0) -> float:
    """Share of compounds with two spectra whose first spectrum's nearest spectrum among the
    second spectra of all such compounds is its own (chance: 1 / their number)."""
    several = [rows for rows in compounds if len(rows) > 1]
    if len(several) < 2:
        return float("nan")
    a, b = two_views(several, np.random.default_rng(seed))
    encoder.eval()
    za = F.normalize(encoder.encode(features[a]), dim=1)
    zb = F.normalize(encoder.encode(features[b]), dim=1)
    return float(((za @ zb.T).argmax(1) == torch.arange(len(a), device=za.device)).float().mean())


def pretrain_spectrum_contrastive(features: np.ndarray, groups: Sequence[Any], epochs: int = 30,
                                  batch_size: int = 256, learning_rate: float = 1e-3,
                                  hidden_dims=(1024,), embedding_dim: int = 256,
                                  temperature: float = 0.1, input_dropout: float = 0.1,
                                  validation_fraction: float = 0.05, seed: int = 0,
                                  progress: bool = True, device: Any = None,
                                  ) -> Tuple[SpectrumMLPEncoder, List[Dict[str, Any]]]:
    """Train a :class:`SpectrumMLPEncoder` to find a compound's other spectrum in a batch.

    Parameters
    ----------
    features : np.ndarray
        (N, n_features) featurized spectra (several rows may be one compound).
    groups : sequence
        Each row's compound (e.g. its InChIKey); compounds, not spectra, are split off for
        validation.
    epochs, batch_size, learning_rate, seed
        Training settings; one epoch draws one positive pair per training compound.
    hidden_dims, embedding_dim
        The encoder's shape.
    temperature : float, default=0.1
        InfoNCE temperature.
    input_dropout : float, default=0.1
        Share of inputs zeroed in each view (the augmentation of single-spectrum compounds).
    validation_fraction : float, default=0.05
        Share of compounds held out to report :func:`same_compound_top1` each epoch; the
        encoder of the best epoch is returned.
    progress : bool, default=True
        Show a progress bar.
    device : optional
        Torch device (None: the GPU when there is one).

    Returns
    -------
    encoder, history
        The encoder (eval mode, CPU) of the best validation epoch and one record per epoch.

    Examples
    --------
    >>> features = np.random.default_rng(0).random((40, 20)).astype("float32")
    >>> compounds = np.repeat(np.arange(20), 2)              # two spectra per compound
    >>> encoder, history = pretrain_spectrum_contrastive(
    ...     features, compounds, epochs=2, batch_size=8, hidden_dims=(16,), embedding_dim=8,
    ...     validation_fraction=0.25, progress=False, device="cpu")
    >>> len(history), encoder.embedding_dim
    (2, 8)
    """
    from tqdm.auto import tqdm

    from deepchem_acml.devices import resolve_device
    from deepchem_acml.models.utils import BestEpoch, seed_everything

    device = resolve_device(device)
    rng = np.random.default_rng(seed)
    seed_everything(seed)
    compounds = spectra_by_compound(groups)
    order = rng.permutation(len(compounds))
    n_valid = max(2, int(len(compounds) * validation_fraction))
    valid = [compounds[i] for i in order[:n_valid]]
    train = [compounds[i] for i in order[n_valid:]]
    data = torch.from_numpy(np.asarray(features, dtype=np.float32)).to(device)
    encoder = SpectrumMLPEncoder(data.shape[1], hidden_dims, embedding_dim).to(device)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=learning_rate, weight_decay=1e-4)
    history, best = [], BestEpoch(higher_is_better=True)
    bar = tqdm(range(epochs), desc="spectrum encoder", unit="epoch", disable=not progress)
    for epoch in bar:
        started, total = time.time(), 0.0
        encoder.train()
        shuffled = [train[i] for i in rng.permutation(len(train))]
        for start in range(0, len(shuffled) - 1, batch_size):
            a, b = two_views(shuffled[start:start + batch_size], rng)
            views = [F.dropout(data[rows], input_dropout) * (1 - input_dropout) for rows in (a, b)]
            loss = acml_contrastive_loss(*(F.normalize(encoder.encode(v), dim=1) for v in views),
                                         temperature, targets="infonce")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(a)
        top1 = same_compound_top1(encoder, data, valid, seed)
        history.append({"epoch": epoch + 1, "train_loss": total / len(train),
                        "valid_same_compound_top1": top1,
                        "seconds": round(time.time() - started, 1)})
        bar.set_postfix(loss=f"{total / len(train):.3f}", valid_top1=f"{top1:.3f}")
        score = top1 if np.isfinite(top1) else float(epoch)  # no valid pairs: the last epoch
        best.update(score, epoch + 1, encoder)
    best.restore(encoder)
    return encoder.cpu().eval(), history
