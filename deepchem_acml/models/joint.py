"""JointACMLModel: :class:`~deepchem_acml.models.acml.ACMLModel` with several modalities,
under the name of the earlier joint model (one implementation, no argument of its own)."""
from __future__ import annotations

import os
import warnings
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import deepchem as dc

from deepchem_acml.featurizers.base import FeaturizationFailure
from deepchem_acml.modalities import Modality
from deepchem_acml.models.acml import ACMLModel
from deepchem_acml.shipped import pretrained_path


class JointACMLModel(ACMLModel):
    """ACML against several modalities at once, with missing modalities masked.

    The same model as ``ACMLModel([...])``: every argument, method and checkpoint is
    :class:`ACMLModel`'s; this name takes the list of modalities as ``modalities=`` and loads
    the shipped joint model by default (``from_pretrained()``).

    Parameters
    ----------
    modalities : sequence of str or Modality, default=("nmr_13c", "smiles")
        The frozen sides, e.g. ``["nmr_13c", "nmr_1h", "smiles"]``.
    **kwargs
        :class:`ACMLModel`'s other arguments (``encoder``, ``batch_size``, ``seed``...) and
        ``dc.models.TorchModel``'s.

    Examples
    --------
    >>> from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    >>> frame = read_embedded_nmr_13c().head(48)
    >>> model = JointACMLModel(["nmr_13c", "smiles"], encoder=dict(hidden_dim=16),
    ...                        projection_dim=16, batch_size=16, seed=0)
    >>> spectra = list(frame.spectrum[:24]) + [None] * 24      # half the molecules lack 13C
    >>> dataset, failures = model.build_dataset(frame.smiles,
    ...                                         {"nmr_13c": spectra, "smiles": frame.smiles})
    >>> len(dataset), dataset.w.sum(axis=0).tolist(), failures
    (48, [24.0, 48.0], [])
    >>> _ = model.fit(dataset, nb_epoch=1, progress=False)
    """

    def __init__(self, modalities: Sequence[Union[str, Modality]] = ("nmr_13c", "smiles"),
                 **kwargs: Any):
        if isinstance(modalities, (str, Modality)):
            raise ValueError("modalities must be a list of one or more modality names")
        super().__init__(list(modalities), **kwargs)

    @classmethod
    def load(cls, path: Union[str, os.PathLike],  # type: ignore[override]
             modalities: Optional[Sequence[Union[str, Modality]]] = None,
             **kwargs: Any) -> "JointACMLModel":
        """:meth:`ACMLModel.load`, the stored modalities overridden by ``modalities``.

        Parameters
        ----------
        path : str or path-like
            A checkpoint written by :meth:`save` or ``acml pretrain``.
        modalities : sequence of str or Modality, optional
            Overrides the stored modalities (e.g. custom encoder objects).
        **kwargs
            Passed to the constructor (e.g. ``device``, ``model_dir``).

        Returns
        -------
        JointACMLModel
            The model, its weights loaded.
        """
        return super().load(path, None if modalities is None else list(modalities), **kwargs)

    def build_dataset(self, smiles: Sequence[Any],
                      modality_inputs: Union[Sequence[Any], Mapping[str, Sequence[Any]]],
                      ids: Optional[Sequence[Any]] = None,
                      embedding_cache: Optional[Union[str, os.PathLike]] = None,
                      **deprecated: Any,
                      ) -> Tuple[dc.data.NumpyDataset, List[FeaturizationFailure]]:
        """:meth:`ACMLModel.build_dataset`; ``embedding_cache`` is always a folder of
        ``<name>.npz`` files (also with one modality).

        Parameters
        ----------
        smiles : sequence of str or RDKit Mol
            One molecule per row.
        modality_inputs : mapping of str to sequence
            Each modality's raw inputs, row by row; ``None`` (or NaN) where a molecule lacks one.
        ids : sequence, optional
            Row identifiers.
        embedding_cache : str or path-like, optional
            A folder keeping each frozen encoder's outputs (``<name>.npz``).
        **deprecated
            ``embedding_cache_dir``, the earlier name of ``embedding_cache`` (warns).

        Returns
        -------
        dataset : dc.data.NumpyDataset
            ``X``: GraphData; ``y``: every modality's frozen embeddings side by side; ``w``:
            1 where a molecule has that modality, 0 where it is masked.
        failures : list of FeaturizationFailure
            Rows left out or masked, with their reasons.
        """
        folder = _cache_folder_argument(embedding_cache, deprecated)
        if folder is not None:
            folder = os.fspath(folder).rstrip("/") + os.sep  # a folder, also for one modality
        return super().build_dataset(smiles, modality_inputs, ids, folder)

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


def _cache_folder_argument(embedding_cache: Optional[Union[str, os.PathLike]],
                           deprecated: dict) -> Optional[Union[str, os.PathLike]]:
    """``embedding_cache``, or the folder given under its earlier name (with a
    ``FutureWarning``); any other keyword is refused."""
    folder = deprecated.pop("embedding_cache_dir", None)
    if deprecated:
        raise TypeError(f"build_dataset() got unexpected keyword argument(s) {sorted(deprecated)}")
    if folder is None:
        return embedding_cache
    if embedding_cache is not None:
        raise TypeError("embedding_cache_dir is the earlier name of embedding_cache: pass one")
    warnings.warn("build_dataset(embedding_cache_dir=...) is deprecated and will be removed in "
                  "the next release: pass embedding_cache=...", FutureWarning, stacklevel=3)
    return folder
