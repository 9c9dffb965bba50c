"""The SMILES modality: ChemNet (offline default, from ``fcd-torch``) or any local HuggingFace
transformer checkpoint (ChemBERTa, MoLFormer, ...)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from deepchem_acml.featurizers.base import FeaturizationError, ReportingFeaturizerMixin
from deepchem_acml.modalities.base import PRETRAINED_DIR, Modality, register_modality

CHEMNET_FILE = "ChemNet_v0.13_pretrained.pt"
SHIPPED_SMILES_ROBERTA = PRETRAINED_DIR / "smiles_roberta"
SMILES_ENCODERS = ("chemnet", "roberta")


class ChemNetEncoder(nn.Module):
    """ChemNet (Preuer et al., J. Chem. Inf. Model. 2018; the network behind the Fréchet
    ChemNet Distance): two 1-D convolutions and two LSTMs over one-hot SMILES, pretrained to
    predict ~6,000 bioactivities; the 512-d last LSTM state is the embedding. Weights from the
    MIT-licensed ``fcd-torch`` package, loaded with ``weights_only=True``."""

    embedding_dim = 512
    vocabulary_size = 35

    def __init__(self, weights_path: Optional[Union[str, Path]] = None):
        super().__init__()
        from fcd_torch.utils import load_imported_model

        if weights_path is None:
            import fcd_torch

            weights_path = Path(fcd_torch.__file__).parent / CHEMNET_FILE
        self.weights_path = str(weights_path)
        self.network = load_imported_model(torch.load(weights_path, weights_only=True))

    def encode(self, token_ids: torch.Tensor) -> torch.Tensor:
        ids = token_ids.long()
        one_hot = (ids.unsqueeze(-1) == torch.arange(self.vocabulary_size, device=ids.device))
        # ChemNet was trained on one-hot rows divided by the vocabulary size (fcd-torch).
        return self.network((one_hot.float() / self.vocabulary_size).transpose(1, 2))


def chemnet_smiles(weights_path: Optional[Union[str, Path]] = None) -> Modality:
    """SMILES through the frozen ChemNet (512-d), offline."""
    from deepchem_acml.featurizers.molecule_inputs import ChemNetSmilesFeaturizer

    try:
        encoder = ChemNetEncoder(weights_path)
    except ImportError:
        raise ImportError("the SMILES modality's default encoder is ChemNet from fcd-torch: "
                          "pip install 'deepchem-acml[smiles]' (or fcd-torch==1.0.7)") from None
    return Modality("smiles", ChemNetSmilesFeaturizer(), encoder, source=encoder.weights_path)


class TransformerSmilesFeaturizer(ReportingFeaturizerMixin):
    """SMILES → ``(2, max_length)`` array of token ids and attention mask, with a HuggingFace
    tokenizer; SMILES longer than ``max_length`` tokens are reported, not cut."""

    def __init__(self, tokenizer: Any, max_length: int = 128):
        self.tokenizer, self.max_length = tokenizer, max_length

    def _featurize_checked(self, datapoint: Any) -> np.ndarray:
        from deepchem_acml.featurizers.molecule_inputs import canonical_smiles

        smiles = canonical_smiles(datapoint)
        encoded = self.tokenizer(smiles, padding="max_length", truncation=False,
                                 max_length=self.max_length)
        if len(encoded["input_ids"]) > self.max_length:
            raise FeaturizationError(f"{len(encoded['input_ids'])} tokens, more than "
                                     f"max_length={self.max_length}")
        return np.asarray([encoded["input_ids"], encoded["attention_mask"]], dtype=np.float32)


class TransformerEncoder(nn.Module):
    """A HuggingFace encoder; the embedding is the attention-masked mean of the last hidden
    states."""

    def __init__(self, model: Any):  # (a HuggingFace model: an nn.Module with a config)
        super().__init__()
        self.model = model
        self.embedding_dim = int(model.config.hidden_size)

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        ids, mask = features[:, 0].long(), features[:, 1].long()
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


def transformer_smiles(path: Union[str, os.PathLike], max_length: int = 128,
                       name: str = "smiles") -> Modality:
    """SMILES through a local HuggingFace checkpoint directory (``config.json``, weights and
    tokenizer files), loaded with ``local_files_only=True``: nothing is downloaded. A hub name
    works too for users with internet, once it is in their local cache."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    return Modality(name, TransformerSmilesFeaturizer(tokenizer, max_length),
                    TransformerEncoder(model), source=str(path))


def smiles(checkpoint: Optional[Union[str, os.PathLike]] = None, encoder: str = "chemnet",
           **kwargs: Any) -> Modality:
    """``get_modality("smiles")``: ChemNet by default; ``encoder="roberta"`` the small RoBERTa
    shipped with the package (masked-LM on MOSES SMILES, ``acml pretrain-encoder --modality
    smiles``); ``checkpoint=`` a local HuggingFace directory (a transformer) or a ChemNet
    weights file."""
    if encoder not in SMILES_ENCODERS:
        raise ValueError(f"unknown SMILES encoder {encoder!r}; choose from {SMILES_ENCODERS} "
                         "or pass checkpoint=a local HuggingFace directory")
    if checkpoint is None and encoder == "roberta":
        checkpoint = SHIPPED_SMILES_ROBERTA
    if checkpoint is not None and Path(checkpoint).is_dir():
        return transformer_smiles(checkpoint, **kwargs)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"no SMILES encoder checkpoint at {checkpoint} (a HuggingFace "
                                "directory or a ChemNet weights file)")
    return chemnet_smiles(None if checkpoint is None else Path(checkpoint))


register_modality("smiles", smiles)
