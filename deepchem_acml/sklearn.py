"""``ACMLEmbedder``: ACML graph embeddings as a scikit-learn transformer."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from deepchem_acml.shipped import DEFAULT_ENCODER

ON_ERROR = ("raise", "nan")
#: the arguments that set the pretraining ``fit`` runs when ``pretrained`` is None
PRETRAINING_SETTINGS = ("modality", "epochs", "hidden_dim", "seed")


class ACMLEmbedder(TransformerMixin, BaseEstimator):
    """SMILES -> ACML graph embeddings, for scikit-learn pipelines.

    ``fit`` either loads a pretrained ACML graph encoder (``pretrained``: a shipped name or a
    checkpoint path) or, when ``pretrained=None``, runs ACML pretraining on the SMILES and the
    modality inputs given to ``fit``. The fitted encoder is kept as plain arrays
    (``encoder_state_``), so the estimator pickles with joblib and ``clone`` works.

    ``X`` is a sequence of SMILES, or a DataFrame read by its ``smiles`` column (any case;
    a one-column DataFrame by that column, whatever its name); ``fit`` sets
    ``n_features_in_`` (the DataFrame's number of columns, else 1) and, for a DataFrame,
    ``feature_names_in_``. The output columns are named as ``acml embed`` names its Parquet
    columns (:func:`deepchem_acml.embedding.embedding_feature_names`: ``acml000``...).

    Parameters
    ----------
    pretrained : str or None
        A shipped model name (default ``"smiles_distilled"``, the shipped encoder whose frozen
        linear probes score best on MoleculeNet's validation splits), a checkpoint path, or
        ``None`` to pretrain in ``fit``.
    modality : str
        The modality to pretrain against when ``pretrained`` is None.
    epochs, hidden_dim, seed : int
        Pretraining settings (only when ``pretrained`` is None; ``fit`` refuses one changed
        from its default beside a pretrained encoder, which would ignore it).
    batch_size : int
        Molecules per batch, in pretraining and in ``transform``.
    max_atoms : int or None
        Molecules with more heavy atoms are failures (default 500: out of the encoders'
        range; None: no limit).
    device : str or torch.device or None
        Where ``transform`` runs the encoder (None: the GPU when there is one).
    on_error : str
        What ``transform`` does with a molecule that cannot be featurized: ``"raise"``
        (default; the error lists index, input and reason of each) or ``"nan"`` (a row of NaN;
        the report is in ``failures_``).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import Ridge
    >>> pipe = make_pipeline(ACMLEmbedder("nmr_13c"), Ridge())
    >>> _ = pipe.fit(["CCO", "CCCO", "CCCCO", "c1ccccc1"], [0.1, 0.3, 0.5, 0.2])
    >>> pipe.predict(["CCCCCO"]).shape
    (1,)
    """

    def __init__(self, pretrained: Optional[str] = DEFAULT_ENCODER, modality: str = "nmr_13c",
                 epochs: int = 20, hidden_dim: int = 128, batch_size: int = 128, seed: int = 0,
                 on_error: str = "raise", max_atoms: Optional[int] = 500,
                 device: Optional[Any] = None):
        self.pretrained = pretrained
        self.modality = modality
        self.epochs = epochs
        self.hidden_dim = hidden_dim
        self.batch_size = batch_size
        self.seed = seed
        self.on_error = on_error
        self.max_atoms = max_atoms
        self.device = device

    def _check_pretraining_settings(self) -> None:
        """The pretraining settings mean something only when ``fit`` pretrains: with a
        pretrained encoder, one changed from its default would be ignored, so it is refused."""
        import inspect

        if self.pretrained is None:
            return
        defaults = inspect.signature(type(self).__init__).parameters
        changed = {name: getattr(self, name) for name in PRETRAINING_SETTINGS
                   if getattr(self, name) != defaults[name].default}
        if changed:
            raise ValueError(f"{changed} would be ignored: they set the pretraining that fit runs "
                             f"only when pretrained=None, and pretrained={self.pretrained!r} is "
                             "used as it is. Leave them at their defaults or pass pretrained=None")

    def fit(self, X: Sequence[str], y: Any = None, modality_inputs: Optional[Sequence[Any]] = None):
        """Load the pretrained encoder, or pretrain one on ``X`` paired with ``modality_inputs``.


        Parameters
        ----------
        X : sequence of str, or pandas.DataFrame
            SMILES: a list, Series or (n, 1) array, or a DataFrame (its one column, or its
            ``smiles`` column, any case, among others).
        y : ignored
            Accepted for pipelines.
        modality_inputs : sequence, optional
            The modality's inputs paired with ``X``, needed only when ``pretrained`` is None.

        Returns
        -------
        ACMLEmbedder
            The fitted estimator (``encoder_state_``, ``n_features_out_``,
            ``n_features_in_``: a DataFrame's number of columns, else 1; and
            ``feature_names_in_`` for a DataFrame).
        """
        from deepchem_acml.embedding import load_graph_encoder

        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")
        self._check_pretraining_settings()
        smiles = _as_smiles_list(X)
        self.n_features_in_, names = _input_features(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self.pretrained is not None:
            encoder = load_graph_encoder(self.pretrained, device="cpu")
        else:
            if modality_inputs is None:
                raise ValueError("pretrained=None means ACML pretraining in fit: pass "
                                 "modality_inputs (e.g. spectra) paired with X, or set "
                                 "pretrained to a shipped name or a checkpoint path")
            from deepchem_acml import ACMLModel

            model = ACMLModel(self.modality, encoder=dict(hidden_dim=self.hidden_dim),
                              batch_size=self.batch_size, seed=self.seed)
            dataset, failures = model.build_dataset(smiles, modality_inputs)
            if len(dataset) < 2:
                raise ValueError(f"only {len(dataset)} usable pairs to pretrain on; failures: "
                                 + "; ".join(str(f) for f in failures[:5]))
            model.fit(dataset, nb_epoch=self.epochs, checkpoint_interval=0, progress=False)
            encoder = model.model.graph_encoder
            self.pretraining_failures_ = failures
        self.encoder_config_ = encoder.config()
        self.encoder_state_ = {k: v.detach().cpu().numpy().copy()
                               for k, v in encoder.state_dict().items()}
        self.n_features_out_ = encoder.hidden_dim
        self._encoder = None
        return self

    def _fitted_encoder(self):
        import torch

        from deepchem_acml.nn.gin import GINEncoder

        if getattr(self, "_encoder", None) is None:
            encoder = GINEncoder.from_config(self.encoder_config_)
            encoder.load_state_dict({k: torch.from_numpy(v)
                                     for k, v in self.encoder_state_.items()})
            from deepchem_acml.devices import resolve_device

            self._encoder = encoder.to(resolve_device(self.device)).eval()
        return self._encoder

    def transform(self, X: Sequence[str]) -> np.ndarray:
        """(n_samples, hidden_dim) embeddings, one row per input, in order.


        Parameters
        ----------
        X : sequence of str, or pandas.DataFrame
            SMILES, as :meth:`fit` takes them (a DataFrame's ``smiles`` column).

        Returns
        -------
        np.ndarray
            (n_samples, hidden_dim) float32; a row of NaN where a molecule failed (with
            ``on_error="nan"``).
        """
        from deepchem_acml.embedding import embed_smiles

        check_is_fitted(self, "encoder_state_")
        smiles = _as_smiles_list(X)
        embeddings, result = embed_smiles(self._fitted_encoder(), smiles, self.batch_size,
                                          max_atoms=self.max_atoms)
        self.failures_ = result.failures
        if result.failures and self.on_error == "raise":
            raise ValueError("ACMLEmbedder could not featurize "
                             f"{result.n_failed} of {result.n_inputs} inputs (set "
                             "on_error='nan' to get NaN rows instead):\n" + result.summary())
        out = np.full((len(smiles), self.n_features_out_), np.nan, dtype=np.float32)
        out[result.indices] = embeddings
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "encoder_state_")
        from deepchem_acml.embedding import embedding_feature_names

        return np.array(embedding_feature_names(self.n_features_out_), dtype=object)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_encoder"] = None
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _as_smiles_list(X: Any) -> list:
    """Accept a list/tuple/Series of SMILES, a (n, 1) array, or a DataFrame: its one column,
    or its ``smiles`` column (any case) among others."""
    if isinstance(X, str):
        raise TypeError("ACMLEmbedder takes a sequence of SMILES, not a single string: wrap it "
                        "in a list")
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame
        X = X.iloc[:, 0] if len(X.columns) == 1 else X[_smiles_column(X)]
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    array = np.asarray(X, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"ACMLEmbedder takes one SMILES per sample; got an array of shape "
                         f"{array.shape} (a DataFrame is read by its 'smiles' column)")
    return list(array)


def _smiles_column(frame: Any) -> Any:
    """The column of ``frame`` named ``smiles`` (that spelling first, then any case)."""
    columns = list(frame.columns)
    if "smiles" in columns:
        return "smiles"
    matches = [c for c in columns if isinstance(c, str) and c.lower() == "smiles"]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"ACMLEmbedder reads SMILES from a DataFrame's 'smiles' column; this "
                         f"one has more than one: {matches}. Pass the one to use (X[name])")
    raise ValueError("ACMLEmbedder reads SMILES from the 'smiles' column of a DataFrame with "
                     f"several columns (any case); this one has columns {columns}: name the "
                     "SMILES column 'smiles', or pass that column alone (X[name])")


def _input_features(X: Any) -> Tuple[int, Optional[np.ndarray]]:
    """(``n_features_in_``, ``feature_names_in_`` or None) of a fit's input, as scikit-learn
    counts them: a DataFrame's columns (named when every name is a string), else one feature,
    the SMILES."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        names = np.asarray(X.columns, dtype=object)
        return len(names), names if all(isinstance(n, str) for n in names) else None
    return 1, None
