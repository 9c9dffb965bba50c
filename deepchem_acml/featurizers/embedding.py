"""SMILES straight to ACML graph embeddings, as a DeepChem featurizer."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
from deepchem.feat import MolecularFeaturizer

from deepchem_acml.chem import MAX_EMBEDDED_ATOMS
from deepchem_acml.featurizers.base import FeaturizationResult, ReportingFeaturizerMixin
from deepchem_acml.shipped import DEFAULT_ENCODER


class ACMLFeaturizer(ReportingFeaturizerMixin, MolecularFeaturizer):
    """Featurize molecules as the graph embeddings of a pretrained ACML encoder.

    Works wherever DeepChem takes a featurizer, e.g.
    ``dc.molnet.load_bbbp(featurizer=ACMLFeaturizer("nmr_13c"), splitter="scaffold",
    data_dir=...)``. Molecules are embedded in batches; failures are reported (index, input,
    reason) in ``last_report_`` and warned about, and come back as empty arrays, which DeepChem's
    loaders filter out.

    Its string form (which names DeepChem's featurized-dataset cache folder in ``save_dir``)
    holds a hash of the checkpoint's content, so a loader never reuses the features of
    another model, or of an older version of the same file.

    Parameters
    ----------
    pretrained : str, default="smiles_distilled"
        A shipped model name (``"nmr_13c"``, ``"smiles"``...) or the path of an ACML
        checkpoint. The default is the shipped encoder whose frozen linear probes score best
        on MoleculeNet's validation splits (``shipped.DEFAULT_ENCODER``).
    batch_size : int, default=256
        Molecules per forward pass.
    max_atoms : int or None, default=500
        Molecules with more heavy atoms are reported, not embedded: far outside what ACML
        encoders are trained on, their sum-pooled embeddings are out of range (None: no
        limit).
    device : str or torch.device or None, default=None
        Where the encoder runs (None: the GPU when there is one, as DeepChem chooses).

    Examples
    --------
    >>> featurizer = ACMLFeaturizer("nmr_13c")
    >>> featurizer.featurize(["CCO", "c1ccccc1"]).shape
    (2, 128)
    >>> str(featurizer)  # doctest: +ELLIPSIS
    'ACMLFeaturizer_nmr_13c_...'
    """

    def __init__(self, pretrained: str = DEFAULT_ENCODER, batch_size: int = 256,
                 max_atoms: Optional[int] = MAX_EMBEDDED_ATOMS, device: Optional[Any] = None):
        self.pretrained = pretrained
        self.batch_size = batch_size
        self.max_atoms = max_atoms
        self.device = device
        self._encoder = None
        self._digest = None

    def __str__(self) -> str:
        """``ACMLFeaturizer_<name>_<content hash>`` (plus ``max_atoms`` when not the default):
        safe as a folder name, and different for every checkpoint content."""
        _ = self.encoder  # (loads the weights: the name describes what this featurizer embeds with)
        label = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(str(self.pretrained)).stem)
        limit = "" if self.max_atoms == MAX_EMBEDDED_ATOMS else f"_max_atoms_{self.max_atoms}"
        return f"ACMLFeaturizer_{label}_{self._digest}{limit}"

    @property
    def encoder(self):
        """The GIN, loaded on first use together with the hash of its checkpoint."""
        if self._encoder is None:
            from deepchem_acml.embedding import encoder_digest, load_graph_encoder

            self._digest = encoder_digest(self.pretrained)
            self._encoder = load_graph_encoder(self.pretrained, device=self.device)
        return self._encoder

    def __getstate__(self):
        return super().__getstate__() | {"_encoder": None, "_digest": None}

    def featurize_with_report(self, datapoints: Iterable[Any]) -> FeaturizationResult:
        from deepchem_acml.embedding import embed_smiles

        embeddings, result = embed_smiles(self.encoder, list(datapoints), self.batch_size,
                                          max_atoms=self.max_atoms)
        result.features = list(embeddings)
        self.last_report_ = result
        return result

    def _featurize(self, datapoint: Any, **kwargs) -> np.ndarray:
        """One molecule (DeepChem's per-item hook); ``np.array([])`` if it fails, as in dc.feat."""
        result = self.featurize_with_report([datapoint])
        return result.features[0] if result.features else np.array([])
