"""deepchem-acml: Asymmetric Contrastive Multimodal Learning (ACML) for DeepChem.

A shallow GIN graph encoder learns, through a CLIP-style contrastive loss, to align with the
frozen pretrained encoder of another chemical modality (here 13C NMR), so that the chemistry
that modality encodes flows into the graph embeddings.

The public names below are imported on first use, so that ``import deepchem_acml`` (and the
``acml`` command) stay fast and DeepChem is loaded only when needed.
"""
import importlib.abc
import importlib.util
import sys
from importlib import import_module
from importlib.util import find_spec
from typing import Any

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


def quiet_deepchem_import():
    """DeepChem logs a warning for every optional backend it cannot import (about 15 lines
    on a CPU install); none concerns this package's users. Hold its loggers at ERROR while
    the package's modules import it, then restore whatever level the user had set."""
    from deepchem_acml.logs import quiet_logger

    return quiet_logger("deepchem")


class _QuietDeepChemLoader(importlib.abc.Loader):
    """Runs DeepChem's own loader inside :func:`quiet_deepchem_import`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with quiet_deepchem_import():
            self.loader.exec_module(module)


class _QuietDeepChemFinder(importlib.abc.MetaPathFinder):
    """Whichever module of this package imports DeepChem first, its import-time noise is
    held back: this finder wraps the loader of the top-level ``deepchem`` package once."""

    def find_spec(self, name, path, target=None):
        if name != "deepchem":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietDeepChemLoader(spec.loader)
        return spec


if "deepchem" not in sys.modules:
    sys.meta_path.insert(0, _QuietDeepChemFinder())


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepchem_acml' has no attribute {name!r}")


def __dir__():
    return __all__
