"""ACML's asymmetric contrastive loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

TARGETS = ("soft", "infonce")


def acml_contrastive_loss(graph: torch.Tensor, modality: torch.Tensor, temperature: float = 1.0,
                          targets: str = "soft") -> torch.Tensor:
    r"""CLIP-style loss between N graph projections G and N modality projections C.

    With ``logits = C Gᵀ / τ``:

    * ``targets="soft"`` (ACML reference): ``T = softmax_row((C Cᵀ + G Gᵀ) / 2 · τ)``; molecules
      that look alike on both sides share target mass, which softens the penalty for near
      duplicates in a batch.
    * ``targets="infonce"``: ``T = I`` (plain InfoNCE / CLIP).

    ``loss = ( mean_i CE(logits_i, T_i) + mean_j CE(logitsᵀ_j, Tᵀ_j) ) / 2`` where
    ``CE(z, t) = -Σ_k t_k log softmax(z)_k``: the modality → graph and graph → modality
    directions averaged.

    Parameters
    ----------
    graph, modality : Tensor (N, D)
        Row i of each is the same molecule.
    temperature : float
        τ; the reference uses 1.0.
    targets : str
        ``"soft"`` or ``"infonce"``.

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Raises
    ------
    FloatingPointError
        If the inputs or the loss are not finite, so a bad batch never updates the weights.

    Examples
    --------
    >>> import torch
    >>> g = torch.eye(3); c = torch.eye(3)
    >>> round(float(acml_contrastive_loss(g, c, targets="infonce")), 4)
    0.5514
    """
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    if graph.shape != modality.shape or graph.dim() != 2:
        raise ValueError("graph and modality projections must both be (N, D) of the same shape; "
                         "got "
                         f"{tuple(graph.shape)} and {tuple(modality.shape)}")
    if not (torch.isfinite(graph).all() and torch.isfinite(modality).all()):
        raise FloatingPointError("non-finite values in the projections fed to the ACML loss")
    logits = modality @ graph.T / temperature
    if targets == "soft":
        similarity = (modality @ modality.T + graph @ graph.T) / 2 * temperature
        soft = F.softmax(similarity, dim=-1)
        modality_to_graph = -(soft * F.log_softmax(logits, dim=-1)).sum(dim=1)
        graph_to_modality = -(soft.T * F.log_softmax(logits.T, dim=-1)).sum(dim=1)
    else:
        labels = torch.arange(logits.shape[0], device=logits.device)
        modality_to_graph = F.cross_entropy(logits, labels, reduction="none")
        graph_to_modality = F.cross_entropy(logits.T, labels, reduction="none")
    loss = (modality_to_graph.mean() + graph_to_modality.mean()) / 2
    if not torch.isfinite(loss):
        raise FloatingPointError("the ACML loss is not finite (try a lower learning rate or a "
                                 "higher temperature)")
    return loss
