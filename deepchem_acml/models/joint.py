"""JointACMLModel: :class:`~deepchem_acml.models.acml.ACMLModel` with several modalities,
under the name and the argument names of the earlier joint model (one implementation)."""
from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import deepchem as dc

from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.modalities import Modality
from deepchem_acml.models.acml import ACMLModel
from deepchem_acml.shipped import pretrained_path


class JointACMLModel(ACMLModel):
    """ACML against several modalities at once, with missing modalities masked.

    The same model as ``ACMLModel([...])``: every argument, method and checkpoint is
    :class:`ACMLModel`'s; this name keeps the joint model's spellings (``modalities=``,
    ``embedding_cache_dir=``, ``from_pretrained()`` for the shipped joint model).

    Parameters
    ----------
    modalities : sequence of str or Modality, default=("nmr_13c", "smiles")
        The frozen sides, e.g. ``["nmr_13c", "nmr_1h", "smiles"]``.
    **kwargs
        :class:`ACMLModel`'s other arguments (``hidden_dim``, ``batch_size``, ``seed``...) and
        ``dc.models.TorchModel``'s.

    Examples
    --------
    >>> from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    >>> frame = read_embedded_nmr_13c().head(48)
    >>> model = JointACMLModel(["nmr_13c", "smiles"], hidden_dim=16, projection_dim=16,
    ...                        batch_size=16, seed=0)
    >>> spectra = list(frame.spectrum[:24]) + [None] * 24      # half the molecules lack 13C
    >>> dataset, failures = model.build_dataset(frame.smiles,
    ...                                         {"nmr_13c": spectra, "smiles": frame.smiles})
    >>> len(dataset), dataset.w.sum(axis=0).tolist(), failures
    (48, [24.0, 48.0], [])
    >>> _ = model.fit(dataset, nb_epoch=1, progress=False)
    """

    def __init__(self, modalities: Sequence[Union[str, Modality]] = ("nmr_13c", "smiles"),
                 **kwargs):
        if isinstance(modalities, (str, Modality)):
            raise ValueError("modalities must be a list of one or more modality names")
        super().__init__(list(modalities), **kwargs)

    def build_dataset(self, smiles: Sequence[Any], modality_inputs: Mapping[str, Sequence[Any]],
                      ids: Optional[Sequence[Any]] = None,
                      embedding_cache_dir: Optional[Union[str, os.PathLike]] = None,
                      embedding_cache: Optional[Union[str, os.PathLike]] = None,
                      ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """:meth:`ACMLModel.build_dataset`, with the folder of caches also spelled
        ``embedding_cache_dir``.

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            One molecule per row.
        modality_inputs : mapping of str to sequence
            Each modality's raw inputs, row by row; ``None`` (or NaN) where a molecule lacks one.
        ids : sequence, optional
            Row identifiers.
        embedding_cache_dir : str or path-like, optional
            A folder keeping each frozen encoder's outputs (``<name>.npz``).
        embedding_cache : str or path-like, optional
            The same folder, under :class:`ACMLModel`'s name.

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData; ``y``: every modality's frozen embeddings side by side; ``w``:
            1 where a molecule has that modality, 0 where it is masked.
        failures : list of FeaturizationFailure
            Rows left out or masked, with their reasons.
        """
        folder = embedding_cache_dir if embedding_cache is None else embedding_cache
        if folder is not None:
            folder = os.fspath(folder).rstrip("/") + os.sep  # a folder, also for one modality
        return super().build_dataset(smiles, modality_inputs, ids, folder)

    @classmethod
    def load(cls, path: Union[str, os.PathLike],
             modalities: Optional[Sequence[Union[str, Modality]]] = None,
             **kwargs) -> "JointACMLModel":
        """:meth:`ACMLModel.load` (``modalities`` overrides the stored ones).

        Parameters
        ----------
        path : str or path-like
            A checkpoint written by :meth:`save` or ``acml pretrain --modalities``.
        modalities : sequence of str or Modality, optional
            Overrides the stored modalities.
        **kwargs
            Passed to the constructor.

        Returns
        -------
        JointACMLModel
            The model, its weights loaded.
        """
        return super().load(path, modalities, **kwargs)

    @classmethod
    def from_pretrained(cls, name: str = "joint", **kwargs) -> "JointACMLModel":
        """The joint model shipped with the package (13C NMR, 1H NMR and SMILES; offline).

        Parameters
        ----------
        name : str, default="joint"
            The shipped joint model (or the path of a joint checkpoint).
        **kwargs
            Passed to :meth:`load`.

        Returns
        -------
        JointACMLModel
            The shipped joint model.

        Examples
        --------
        >>> model = JointACMLModel.from_pretrained()
        >>> list(model.modalities)
        ['nmr_13c', 'nmr_1h', 'smiles']
        """
        return cls.load(pretrained_path(name), **kwargs)
