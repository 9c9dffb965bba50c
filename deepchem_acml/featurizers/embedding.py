"""SMILES straight to ACML graph embeddings, as a DeepChem featurizer."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from deepchem.feat import MolecularFeaturizer

from deepchem_acml.featurizers.base import FeaturizationResult, ReportingFeaturizerMixin


class ACMLFeaturizer(ReportingFeaturizerMixin, MolecularFeaturizer):
    """Featurize molecules as the graph embeddings of a pretrained ACML encoder.

    Works wherever DeepChem takes a featurizer, e.g.
    ``dc.molnet.load_bbbp(featurizer=ACMLFeaturizer("nmr_13c"), splitter="scaffold",
    data_dir=...)``. Molecules are embedded in batches; failures are reported (index, input,
    reason) in ``last_report_`` and warned about, and come back as empty arrays, which DeepChem's
    loaders filter out.

    Parameters
    ----------
    pretrained: str
        A shipped model name (``"nmr_13c"``) or the path of an ACML checkpoint.
    batch_size: int
        Molecules per forward pass.

    Examples
    --------
    >>> featurizer = ACMLFeaturizer("nmr_13c")
    >>> featurizer.featurize(["CCO", "c1ccccc1"]).shape
    (2, 128)
    """

    def __init__(self, pretrained: str = "nmr_13c", batch_size: int = 256):
        self.pretrained = pretrained
        self.batch_size = batch_size
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            from deepchem_acml.embedding import load_graph_encoder
            self._encoder = load_graph_encoder(self.pretrained)
        return self._encoder

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_encoder"} | {"_encoder": None}

    def featurize_with_report(self, datapoints: Iterable[Any]) -> FeaturizationResult:
        from deepchem_acml.embedding import embed_smiles

        embeddings, result = embed_smiles(self.encoder, list(datapoints), self.batch_size)
        result.features = list(embeddings)
        self.last_report_ = result
        return result

    def _featurize(self, datapoint: Any, **kwargs) -> np.ndarray:
        """One molecule (DeepChem's per-item hook); ``np.array([])`` if it fails, as in dc.feat."""
        result = self.featurize_with_report([datapoint])
        return result.features[0] if result.features else np.array([])
