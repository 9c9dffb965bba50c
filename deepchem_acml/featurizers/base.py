"""Featurization with an explicit failure report.

DeepChem's featurizers turn an input that fails into ``np.array([])`` and log a warning, so the
caller has to hunt for the rows that disappeared. Every featurizer in this package instead
returns a :class:`FeaturizationResult`: the features of the inputs that worked, each keeping its
original index, and a :class:`FeaturizationFailure` (index, input, reason) for each one that did
not. Nothing is dropped without a line in the report.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional

import numpy as np

#: The column of the failure tables written for a user's input file (``failures.csv`` of
#: ``acml pretrain``, the failures of ``acml evaluate``'s ``report.json``): the failed row's
#: place in that file, counted from 0 (0 = the first data row under a CSV's header, or the
#: first record of a spectrum file); the console prints the same numbers.
FAILURE_ROW_COLUMN = "row_0based"
#: the reason given for a row whose SMILES cell or spectrum record holds no structure
NO_SMILES = "no SMILES in the record"
#: what spectrum files (and some tables) write where a record has no structure
_NO_SMILES_TEXT = frozenset({"", "n/a", "na", "nan", "none", "null"})


class FeaturizationError(ValueError):
    """Raised by a featurizer's per-item code with a human-readable reason."""


@dataclass(frozen=True)
class FeaturizationFailure:
    """One input that could not be featurized.

    Examples
    --------
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> failure = ACMLGraphFeaturizer().featurize_with_report(["CCO", "C1CC"]).failures[0]
    >>> failure.index, failure.input
    (1, 'C1CC')
    """

    index: int
    input: Any
    reason: str

    def __str__(self) -> str:
        shown = repr(self.input)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"row {self.index}: {shown}: {self.reason}"


@dataclass
class FeaturizationResult:
    """Features of the inputs that worked, their original indices, and the failures.

    Attributes
    ----------
    features : list
        One feature object (``GraphData`` or ``np.ndarray``) per successful input, in input
        order.
    indices : np.ndarray
        The position in the original input of each entry of ``features``.
    failures : list of FeaturizationFailure
        One entry per input that failed, in input order.
    n_inputs : int
        How many inputs were given; ``len(indices) + len(failures) == n_inputs`` always.

    Examples
    --------
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> result = ACMLGraphFeaturizer().featurize_with_report(["CCO", "not a molecule", "CCN"])
    >>> result.indices.tolist(), result.n_failed
    ([0, 2], 1)
    >>> print(result.summary())  # doctest: +ELLIPSIS
    2 of 3 inputs featurized, 1 failed
      row 1: 'not a molecule': ...
    """

    features: List[Any]
    indices: np.ndarray
    failures: List[FeaturizationFailure] = field(default_factory=list)
    n_inputs: int = 0

    @property
    def n_failed(self) -> int:
        return len(self.failures)

    @classmethod
    def joined(cls, parts: List["FeaturizationResult"], starts: Iterable[int],
               n_inputs: int) -> "FeaturizationResult":
        """One result from the results of consecutive shares of the inputs (share ``k``
        began at input ``starts[k]``), indices and failures shifted back to the whole.

        Examples
        --------
        >>> from deepchem_acml import ACMLGraphFeaturizer
        >>> smiles = ["CCO", "C1CC", "CCN", "bad"]
        >>> featurize = ACMLGraphFeaturizer().featurize_with_report
        >>> whole = FeaturizationResult.joined([featurize(smiles[:2]), featurize(smiles[2:])],
        ...                                    [0, 2], 4)
        >>> whole.indices.tolist(), [f.index for f in whole.failures]
        ([0, 2], [1, 3])
        """
        features, indices, failures = [], [], []
        for start, part in zip(starts, parts):
            features += part.features
            indices.append(part.indices + start)
            failures += [FeaturizationFailure(f.index + start, f.input, f.reason)
                         for f in part.failures]
        index = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
        return cls(features, index, failures, n_inputs)

    def failure_table(self):
        """The failures as a ``pandas.DataFrame`` with columns index, input, reason.

        Returns
        -------
        pandas.DataFrame
            Columns ``index``, ``input``, ``reason``; one row per failure.
        """
        import pandas as pd

        return pd.DataFrame(
            [(f.index, f.input, f.reason) for f in self.failures],
            columns=["index", "input", "reason"],
        )

    def summary(self, max_rows: int = 10) -> str:
        """A short text: counts, then the first ``max_rows`` failures.


        Parameters
        ----------
        max_rows : int, default=10
            Failures listed at most.

        Returns
        -------
        str
            The counts, then one line per failure listed.
        """
        lines = [f"{len(self.indices)} of {self.n_inputs} inputs featurized, "
                 f"{self.n_failed} failed"]
        lines += [f"  {f}" for f in self.failures[:max_rows]]
        if self.n_failed > max_rows:
            lines.append(f"  ... and {self.n_failed - max_rows} more (see .failure_table())")
        return "\n".join(lines)


class ReportingFeaturizerMixin:
    """Adds :meth:`featurize_with_report` to a DeepChem featurizer.

    A subclass implements ``_featurize_checked(datapoint)``, which returns the features or
    raises :class:`FeaturizationError` with a reason. ``featurize`` keeps DeepChem's contract
    (an array aligned with the input, ``np.array([])`` where an input failed, which is what
    ``dc.data`` loaders filter on) but also warns with the failure report and keeps it in
    ``self.last_report_``.
    """

    last_report_: Optional[FeaturizationResult] = None

    def __getstate__(self) -> dict:
        # The last call's report holds every feature it made (megabytes): it describes one
        # call, not the featurizer, so pickles and copies leave it out.
        state = dict(self.__dict__)
        state.pop("last_report_", None)
        return state

    def _featurize_checked(self, datapoint: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare_input(self, datapoint: Any) -> Any:
        """Turn one raw input into what ``_featurize_checked`` takes (hook for parsing)."""
        return datapoint

    def featurize_with_report(self, datapoints: Iterable[Any]) -> FeaturizationResult:
        """Featurize every input and report each failure by index, input and reason (a
        progress bar for large inputs: :func:`deepchem_acml.chem.with_progress`)."""
        from deepchem_acml.chem import with_progress

        datapoints = _as_list(datapoints)
        features, indices, failures = [], [], []
        for i, point in enumerate(with_progress(datapoints, type(self).__name__)):
            try:
                features.append(self._featurize_checked(self._prepare_input(point)))
                indices.append(i)
            except FeaturizationError as err:
                failures.append(FeaturizationFailure(i, point, str(err)))
            except Exception as err:  # a parser bug must not lose the row either
                failures.append(FeaturizationFailure(i, point, f"{type(err).__name__}: {err}"))
        result = FeaturizationResult(features, np.asarray(indices, dtype=np.int64), failures,
                                     len(datapoints))
        self.last_report_ = result
        return result

    def featurize(self, datapoints: Iterable[Any], log_every_n: int = 1000, **kwargs) -> np.ndarray:
        """DeepChem-compatible: an array aligned with the inputs, failures as ``np.array([])``.

        The failures are not silent: a warning lists them and ``self.last_report_`` holds the
        full :class:`FeaturizationResult`. As in DeepChem, a single string (or RDKit Mol) is
        one input.
        """
        from deepchem_acml.chem import is_mol

        if isinstance(datapoints, str) or is_mol(datapoints):
            datapoints = [datapoints]
        result = self.featurize_with_report(datapoints)
        out = np.empty(result.n_inputs, dtype=object)
        for i in range(result.n_inputs):
            out[i] = np.array([])
        for idx, feat in zip(result.indices, result.features):
            out[idx] = feat
        if result.failures:  # once, as a warning (filterable; the report is in last_report_)
            warnings.warn(f"{type(self).__name__}: {result.summary()}", stacklevel=2)
        if result.features and not result.failures and all(
                isinstance(f, np.ndarray) and f.shape == result.features[0].shape
                for f in result.features):
            return np.stack(result.features)  # a plain matrix, as dc.feat returns for vectors
        return out


def failure_rows(failures: Iterable[FeaturizationFailure]):
    """Failures as the table written for users: columns :data:`FAILURE_ROW_COLUMN`,
    ``input``, ``reason``, sorted by row (each failure's ``index`` is its input row).

    Examples
    --------
    >>> failure_rows([FeaturizationFailure(7, "C1CC", "RDKit could not parse")]).columns.tolist()
    ['row_0based', 'input', 'reason']
    """
    import pandas as pd

    rows = sorted(((int(f.index), f.input, f.reason) for f in failures), key=lambda r: r[0])
    return pd.DataFrame(rows, columns=[FAILURE_ROW_COLUMN, "input", "reason"])


def is_missing_cell(value: Any) -> bool:
    """None or NaN (what pandas reads from an empty CSV cell)."""
    return value is None or (isinstance(value, float) and bool(np.isnan(value)))


def lacks_smiles(value: Any) -> bool:
    """Whether a SMILES cell or record field holds no structure (empty, NaN, ``N/A``...).

    Examples
    --------
    >>> [lacks_smiles(v) for v in ["CCO", "", " ", "N/A", None, float("nan"), "C1CC"]]
    [False, True, True, True, True, True, False]
    """
    return is_missing_cell(value) or (isinstance(value, str)
                                      and value.strip().lower() in _NO_SMILES_TEXT)


def empty_cells_as_empty_text(values: Iterable[Any]) -> List[Any]:
    """An empty table cell (None, NaN) as empty text, so that a featurizer reports what it
    is (a spectrum featurizer: "empty peak list") rather than a missing input."""
    return ["" if is_missing_cell(v) else v for v in values]


def _as_list(datapoints: Any) -> List[Any]:
    if isinstance(datapoints, (str, bytes)) or datapoints is None:
        raise TypeError(
            "featurize takes a sequence of inputs (a list of SMILES or spectra); "
            f"got a single {type(datapoints).__name__}. Wrap it in a list.")
    return list(datapoints)

