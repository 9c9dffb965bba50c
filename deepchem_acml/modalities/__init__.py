"""Registered chemical modalities (name -> featurizer + frozen encoder)."""
from deepchem_acml.modalities.base import (Modality, available_modalities, get_modality,
                                           register_modality)
from deepchem_acml.modalities import nmr  # noqa: F401  (registers "nmr_13c")

__all__ = ["Modality", "available_modalities", "get_modality", "register_modality"]
