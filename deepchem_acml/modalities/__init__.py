"""Registered chemical modalities (name -> featurizer + frozen encoder)."""
from deepchem_acml.modalities import image, smiles, spectra  # noqa: F401  (register names)
from deepchem_acml.modalities.base import (
                                           Modality,
                                           available_modalities,
                                           get_modality,
                                           modality_from_config,
                                           register_modality,
)

__all__ = ["Modality", "available_modalities", "get_modality", "modality_from_config",
           "register_modality"]
