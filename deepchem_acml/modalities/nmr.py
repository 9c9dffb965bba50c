"""NMR modalities with the package's own pretrained spectrum autoencoders."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from deepchem_acml.checkpoints import load_checkpoint_file, save_checkpoint_file
from deepchem_acml.featurizers.spectra import NMRSpectrumFeaturizer
from deepchem_acml.modalities.base import PRETRAINED_DIR, Modality, register_modality
from deepchem_acml.nn.spectrum_autoencoder import SpectrumAutoencoder

SPECTRUM_ENCODER_KIND = "spectrum_autoencoder"
SHIPPED_NMR_13C = PRETRAINED_DIR / "nmr_13c_autoencoder.pt"


def save_spectrum_encoder(path: Union[str, Path], autoencoder: SpectrumAutoencoder,
                          featurizer: NMRSpectrumFeaturizer, provenance: dict) -> Path:
    """Store an autoencoder with the featurizer settings its inputs need and how it was made."""
    return save_checkpoint_file(path, {
        "state_dict": autoencoder.state_dict(),
        "autoencoder_config": autoencoder.config(),
        "featurizer_config": featurizer.config(),
        "provenance": provenance,
    }, kind=SPECTRUM_ENCODER_KIND)


def load_nmr_modality(name: str, checkpoint: Union[str, Path]) -> Modality:
    """Rebuild a frozen NMR modality (featurizer + encoder) from an autoencoder checkpoint."""
    data = load_checkpoint_file(checkpoint, kind=SPECTRUM_ENCODER_KIND)
    autoencoder = SpectrumAutoencoder(**data["autoencoder_config"])
    autoencoder.load_state_dict(data["state_dict"])
    featurizer = NMRSpectrumFeaturizer(**data["featurizer_config"])
    if featurizer.n_bins != autoencoder.n_bins:
        raise ValueError(f"{checkpoint}: featurizer gives {featurizer.n_bins} bins but the "
                         f"encoder expects {autoencoder.n_bins}")
    return Modality(name, featurizer, autoencoder, source=str(checkpoint))


def nmr_13c(checkpoint: Optional[Union[str, Path]] = None) -> Modality:
    """13C NMR: peak lists binned over -50...350 ppm, encoded by the shipped 1-D conv AE.

    The shipped encoder was pretrained on nmrshiftdb2 13C spectra alone (no structures); see
    ``deepchem_acml/pretrained/MODEL_CARD.md``.
    """
    path = Path(checkpoint) if checkpoint is not None else SHIPPED_NMR_13C
    if not path.is_file():
        raise FileNotFoundError(
            f"no 13C NMR encoder at {path}. Pretrain one with `acml pretrain-encoder "
            "--modality nmr_13c` (needs ../shared/data/nmrshiftdb2) and pass its path.")
    return load_nmr_modality("nmr_13c", path)


register_modality("nmr_13c", nmr_13c)
