"""MLP encoder for :class:`~deepchem_acml.featurizers.spectra.TandemSpectrumFeaturizer`
vectors (fragments and neutral losses with their mass defects, precursor, metadata).

Frozen in ACML like the spectrum autoencoders; pretrained on spectra alone by
:func:`deepchem_acml.pretraining.spectrum_contrastive.pretrain_spectrum_contrastive`.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch
from torch import nn


class SpectrumMLPEncoder(nn.Module):
    """Linear -> LayerNorm -> ReLU blocks, then a linear map to the embedding.

    Parameters
    ----------
    n_bins : int
        Input length (the featurizer's ``n_features``; named as the autoencoders' input).
    hidden_dims : sequence of int, default=(1024,)
        Widths of the hidden blocks.
    embedding_dim : int, default=256
        Output width.
    dropout : float, default=0.1
        Dropout after each hidden block (training only; ACML uses the encoder in eval mode).

    Examples
    --------
    >>> import torch
    >>> encoder = SpectrumMLPEncoder(n_bins=315, hidden_dims=(64,), embedding_dim=32)
    >>> encoder.encode(torch.zeros(2, 315)).shape, encoder.embedding_dim
    (torch.Size([2, 32]), 32)
    """

    def __init__(self, n_bins: int, hidden_dims: Sequence[int] = (1024,),
                 embedding_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.n_bins, self.hidden_dims = int(n_bins), tuple(int(d) for d in hidden_dims)
        self.embedding_dim, self.dropout = int(embedding_dim), float(dropout)
        layers, previous = [], self.n_bins
        for width in self.hidden_dims:
            layers += [nn.Linear(previous, width), nn.LayerNorm(width), nn.ReLU(),
                       nn.Dropout(self.dropout)]
            previous = width
        layers.append(nn.Linear(previous, self.embedding_dim))
        self.layers = nn.Sequential(*layers)

    def config(self) -> Dict[str, Any]:
        return {"n_bins": self.n_bins, "hidden_dims": list(self.hidden_dims),
                "embedding_dim": self.embedding_dim, "dropout": self.dropout}

    def encode(self, spectra: torch.Tensor) -> torch.Tensor:
        """The embeddings of a batch of featurized spectra.

        Parameters
        ----------
        spectra : torch.Tensor
            (N, n_bins) featurized spectra.

        Returns
        -------
        torch.Tensor
            (N, embedding_dim).
        """
        return self.layers(spectra)

    forward = encode
