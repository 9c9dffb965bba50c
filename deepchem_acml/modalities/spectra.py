"""Spectrum modalities (1H and 13C NMR, LC-MS/MS, GC-MS) with the package's own pretrained
spectrum autoencoders."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from deepchem_acml.checkpoints import load_checkpoint_file, save_checkpoint_file
from deepchem_acml.featurizers.spectra import (
    SPECTRUM_FEATURIZERS,
    PeakListFeaturizer,
    TandemSpectrumFeaturizer,
)
from deepchem_acml.modalities.base import PRETRAINED_DIR, Modality, register_modality
from deepchem_acml.nn.spectrum_autoencoder import SpectrumAutoencoder
from deepchem_acml.nn.spectrum_mlp import SpectrumMLPEncoder
from deepchem_acml.shipped import SPECTRUM_ENCODER_KIND

SHIPPED_NMR_13C = PRETRAINED_DIR / "nmr_13c_autoencoder.pt"
#: modality name -> what its spectra are, for messages and model cards
SPECTRUM_MODALITIES = {"nmr_13c": "13C NMR", "nmr_1h": "1H NMR", "ms_lc": "LC-MS/MS",
                       "ms_gc": "GC-MS (EI)"}
#: what the fragment-aware featurizer of a modality does with spectra missing their precursor
#: m/z, adduct or ion mode (:class:`~deepchem_acml.featurizers.spectra.TandemSpectrumFeaturizer`;
#: default "warn"): EI spectra have none, and the EI model does not need them to retrieve
TANDEM_MISSING_METADATA = {"ms_gc": "ignore"}
#: encoder classes a stored spectrum encoder can name (files before the MLP name none: the
#: autoencoder)
SPECTRUM_ENCODERS = {"SpectrumAutoencoder": SpectrumAutoencoder,
                     "SpectrumMLPEncoder": SpectrumMLPEncoder}


def save_spectrum_encoder(path: Union[str, Path],
                          encoder: Union[SpectrumAutoencoder, SpectrumMLPEncoder],
                          featurizer: Union[PeakListFeaturizer, TandemSpectrumFeaturizer],
                          provenance: dict) -> Path:
    """Store a spectrum encoder with the featurizer settings its inputs need and how it was
    made."""
    return save_checkpoint_file(path, {
        "state_dict": encoder.state_dict(),
        "encoder": type(encoder).__name__,
        "autoencoder_config": encoder.config(),  # the key older readers know, for any encoder
        "featurizer": type(featurizer).__name__,
        "featurizer_config": featurizer.config(),
        "provenance": provenance,
    }, kind=SPECTRUM_ENCODER_KIND)


def load_spectrum_modality(name: str, checkpoint: Union[str, Path]) -> Modality:
    """Rebuild a frozen spectrum modality (featurizer + encoder) from a spectrum encoder
    checkpoint (:func:`save_spectrum_encoder`)."""
    data = load_checkpoint_file(checkpoint, kind=SPECTRUM_ENCODER_KIND)
    encoder = SPECTRUM_ENCODERS[data.get("encoder", "SpectrumAutoencoder")](
        **data["autoencoder_config"])
    encoder.load_state_dict(data["state_dict"])
    featurizer_class = SPECTRUM_FEATURIZERS[data.get("featurizer", "NMRSpectrumFeaturizer")]
    featurizer = featurizer_class(**data["featurizer_config"])
    if isinstance(featurizer, TandemSpectrumFeaturizer):
        featurizer.missing_metadata = TANDEM_MISSING_METADATA.get(name, "warn")
    if featurizer.n_bins != encoder.n_bins:
        raise ValueError(f"{checkpoint}: featurizer gives {featurizer.n_bins} bins but the "
                         f"encoder expects {encoder.n_bins}")
    return Modality(name, featurizer, encoder, source=str(checkpoint))


#: the shipped encoder kinds: file stem suffix and what they are
SHIPPED_ENCODER_KINDS = {"autoencoder": "autoencoder",
                         "contrastive": "contrastive_encoder"}


def shipped_spectrum_encoder(name: str, encoder: str = "autoencoder") -> Path:
    """The shipped file of a spectrum modality's frozen encoder of kind ``encoder``."""
    if encoder not in SHIPPED_ENCODER_KINDS:
        raise ValueError(f"encoder must be one of {sorted(SHIPPED_ENCODER_KINDS)}, "
                         f"got {encoder!r}")
    return PRETRAINED_DIR / f"{name}_{SHIPPED_ENCODER_KINDS[encoder]}.pt"


def spectrum_modality(name: str, checkpoint: Optional[Union[str, Path]] = None,
                      encoder: str = "autoencoder") -> Modality:
    """A spectrum modality from its shipped encoder (or ``checkpoint``): ``encoder=
    "autoencoder"`` (every spectrum modality), or for MS ``"contrastive"``, the
    fragment-aware MLP (:class:`~deepchem_acml.nn.spectrum_mlp.SpectrumMLPEncoder`) where one
    is shipped. The shipped encoders were pretrained on spectra alone (no structures); see
    ``deepchem_acml/pretrained/MODEL_CARD.md``."""
    path = Path(checkpoint) if checkpoint is not None else shipped_spectrum_encoder(name, encoder)
    if not path.is_file():
        flag = "" if encoder == "autoencoder" else f" --encoder {encoder}"
        raise FileNotFoundError(
            f"no {SPECTRUM_MODALITIES[name]} encoder at {path}. Pretrain one with `acml "
            f"pretrain-encoder --modality {name}{flag}` (reads the shared data folder) and "
            "pass its path as checkpoint=.")
    return load_spectrum_modality(name, path)


for _name in SPECTRUM_MODALITIES:
    register_modality(_name, lambda checkpoint=None, encoder="autoencoder", _name=_name:
                      spectrum_modality(_name, checkpoint, encoder))
