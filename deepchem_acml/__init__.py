"""deepchem-acml: Asymmetric Contrastive Multimodal Learning (ACML) for DeepChem.

A shallow GIN graph encoder learns, through a CLIP-style contrastive loss, to align with the
frozen pretrained encoder of another chemical modality (here first 13C NMR), so that the
chemistry that modality encodes flows into the graph embeddings.
"""
__version__ = "0.1.0"

from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer  # noqa: E402
from deepchem_acml.featurizers.spectra import NMRSpectrumFeaturizer, PeakListFeaturizer  # noqa: E402
from deepchem_acml.featurizers.base import FeaturizationResult, FeaturizationFailure  # noqa: E402
from deepchem_acml.models.acml import ACMLModel  # noqa: E402
from deepchem_acml.modalities import Modality, get_modality, register_modality  # noqa: E402

__all__ = ["ACMLModel", "ACMLGraphFeaturizer", "NMRSpectrumFeaturizer", "PeakListFeaturizer",
           "FeaturizationResult", "FeaturizationFailure", "Modality", "get_modality",
           "register_modality", "__version__"]
