"""Registered chemical modalities (name -> featurizer + frozen encoder)."""
from deepchem_acml.modalities.base import (Modality, available_modalities, get_modality,
                                           register_modality)
from deepchem_acml.modalities import image, nmr, smiles  # noqa: F401  (register their names)

__all__ = ["Modality", "available_modalities", "get_modality", "register_modality"]
