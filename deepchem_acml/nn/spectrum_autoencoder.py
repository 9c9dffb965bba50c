"""1-D convolutional autoencoder for binned spectra (the ACML authors' spectrum encoder style).

Only the encoder half is used by ACML, frozen: its bottleneck, one channel of length
``n_bins / stride**depth``, flattened, is the spectrum embedding.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch
from torch import nn


class SpectrumAutoencoder(nn.Module):
    """Conv1d encoder (channels e.g. 32 -> 16 -> 8 -> 1, kernel 7, stride 2) and its mirror.

    Parameters
    ----------
    n_bins : int
        Input length.
    channels : sequence of int
        Output channels of each encoder layer; the last is the bottleneck's channel count.
    kernel_size, stride : int

    Examples
    --------
    >>> import torch
    >>> ae = SpectrumAutoencoder(n_bins=400)
    >>> ae.embedding_dim
    25
    >>> ae(torch.zeros(2, 400)).shape
    torch.Size([2, 400])
    """

    def __init__(self, n_bins: int, channels: Sequence[int] = (32, 16, 8, 1),
                 kernel_size: int = 7, stride: int = 2):
        super().__init__()
        self.n_bins, self.channels = int(n_bins), tuple(int(c) for c in channels)
        self.kernel_size, self.stride = int(kernel_size), int(stride)
        padding = kernel_size // 2
        encoder, previous = [], 1
        for i, width in enumerate(self.channels):
            encoder.append(nn.Conv1d(previous, width, kernel_size, stride, padding))
            if i < len(self.channels) - 1:
                encoder.append(nn.ReLU())
            previous = width
        self.encoder = nn.Sequential(*encoder)
        decoder = []
        for i, width in enumerate(list(reversed(self.channels[:-1])) + [1]):
            decoder.append(nn.ConvTranspose1d(previous, width, kernel_size, stride, padding,
                                              output_padding=stride - 1))
            if i < len(self.channels) - 1:
                decoder.append(nn.ReLU())
            previous = width
        self.decoder = nn.Sequential(*decoder)
        with torch.no_grad():
            self.embedding_dim = int(self.encoder(torch.zeros(1, 1, self.n_bins)).numel())

    def config(self) -> Dict[str, Any]:
        return {"n_bins": self.n_bins, "channels": list(self.channels),
                "kernel_size": self.kernel_size, "stride": self.stride}

    def encode(self, spectra: torch.Tensor) -> torch.Tensor:
        """(N, n_bins) spectra -> (N, embedding_dim) bottleneck."""
        return self.encoder(spectra.unsqueeze(1)).flatten(1)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits, (N, n_bins)."""
        bottleneck = self.encoder(spectra.unsqueeze(1))
        return self.decoder(bottleneck).squeeze(1)[:, : self.n_bins]
