"""``ACMLTransformer``: a ``dc.trans.Transformer`` from ACML graph features to embeddings."""
from __future__ import annotations

from typing import Optional

import deepchem as dc
import numpy as np
import torch

from deepchem_acml.shipped import DEFAULT_ENCODER


class ACMLTransformer(dc.trans.Transformer):
    """Replace a dataset's ``X`` (``GraphData`` from :class:`ACMLGraphFeaturizer`) with the
    graph embeddings of a pretrained ACML encoder (``transform_X`` only).

    Use it in the transformer list of a DeepChem pipeline; it runs in batches, on the GPU when
    there is one. A row whose ``X`` is not a graph (a molecule that failed featurization) is an
    error naming the rows: drop them first, nothing is removed silently.

    Parameters
    ----------
    pretrained : str, default="smiles_distilled"
        A shipped model name (``"nmr_13c"``...) or an ACML checkpoint path (the default:
        ``shipped.DEFAULT_ENCODER``, as :class:`ACMLFeaturizer`).
    dataset : dc.data.Dataset, optional
        Accepted for DeepChem's signature; no statistics are needed.
    batch_size : int
    device : torch.device, optional

    Examples
    --------
    >>> import deepchem as dc
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> X = ACMLGraphFeaturizer().featurize(["CCO", "CCN", "c1ccccc1"])
    >>> dataset = dc.data.NumpyDataset(X, y=np.array([0.1, 0.2, 0.3]))
    >>> ACMLTransformer("nmr_13c").transform(dataset).X.shape
    (3, 128)
    """

    def __init__(self, pretrained: str = DEFAULT_ENCODER,
                 dataset: Optional[dc.data.Dataset] = None,
                 batch_size: int = 256, device: Optional[torch.device] = None):
        from deepchem_acml.embedding import load_graph_encoder

        super().__init__(transform_X=True, dataset=dataset)
        self.pretrained, self.batch_size = pretrained, batch_size
        from deepchem_acml.devices import resolve_device

        self.device = resolve_device(device)
        self.encoder = load_graph_encoder(pretrained, device=self.device)  # a copy if a module

    def transform_array(self, X, y, w, ids):
        from deepchem_acml.embedding import embed_graphs

        X = np.asarray(X, dtype=object).reshape(-1)
        bad = [i for i, x in enumerate(X) if not hasattr(x, "node_features")]
        if bad:
            shown = ", ".join(str(i) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
            raise ValueError(f"ACMLTransformer: rows {shown} hold no molecular graph (their "
                             "featurization failed). Featurize with "
                             "ACMLGraphFeaturizer.featurize_with_report and keep its indices.")
        return embed_graphs(self.encoder, list(X), self.batch_size, self.device), y, w, ids

    def untransform(self, transformed):
        raise NotImplementedError("graph embeddings cannot be turned back into molecules")
