"""deepchem-acml: Asymmetric Contrastive Multimodal Learning (ACML) for DeepChem.

A shallow GIN graph encoder learns, through a CLIP-style contrastive loss, to align with the
frozen pretrained encoder of another chemical modality (here 13C NMR), so that the chemistry
that modality encodes flows into the graph embeddings.

The public names below are imported on first use, so that ``import deepchem_acml`` (and the
``acml`` command) stay fast and DeepChem is loaded only when needed (its import-time log lines
held back: ``logs.quiet_logger``).
"""
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from deepchem_acml.logs import quiet_logger

__version__ = "0.1.0"


def _refuse_broken_dgl() -> None:
    # DeepChem imports dgl whenever it is installed; a dgl wheel built for another torch then
    # breaks `import deepchem` with a message about DGL's C++ libraries. Say what it is instead.
    if find_spec("dgl") is not None:
        from deepchem_acml.nn.dgl_backend import dgl_import_error

        problem = dgl_import_error()
        if problem:
            raise ImportError(problem)


_refuse_broken_dgl()

_PUBLIC = {
    "ACMLModel": "deepchem_acml.models.acml",
    "ACMLPropertyModel": "deepchem_acml.models.finetune",
    "JointACMLModel": "deepchem_acml.models.joint",
    "ACMLGraphFeaturizer": "deepchem_acml.featurizers.graph",
    "ACMLFeaturizer": "deepchem_acml.featurizers.embedding",
    "NMRSpectrumFeaturizer": "deepchem_acml.featurizers.spectra",
    "PeakListFeaturizer": "deepchem_acml.featurizers.spectra",
    "MassSpectrumFeaturizer": "deepchem_acml.featurizers.spectra",
    "TandemSpectrumFeaturizer": "deepchem_acml.featurizers.spectra",
    "FeaturizationResult": "deepchem_acml.featurizers.base",
    "FeaturizationFailure": "deepchem_acml.featurizers.base",
    "ACMLTransformer": "deepchem_acml.trans",
    "ACMLEmbedder": "deepchem_acml.sklearn",
    "Modality": "deepchem_acml.modalities",
    "get_modality": "deepchem_acml.modalities",
    "register_modality": "deepchem_acml.modalities",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        # DeepChem logs a warning for every optional backend it cannot import (about 15
        # lines on a CPU install), none of which concerns this package's users
        with quiet_logger("deepchem"):
            value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepchem_acml' has no attribute {name!r}")


def __dir__():
    return __all__
