"""Peak lists (NMR shifts in ppm, mass spectra in m/z) to fixed-length vectors."""
from __future__ import annotations

import math
import re
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
from deepchem.feat import Featurizer

from deepchem_acml.featurizers.base import (
    FeaturizationError,
    FeaturizationResult,
    ReportingFeaturizerMixin,
    _as_list,
)

Peaks = Tuple[np.ndarray, np.ndarray]  # positions, intensities


class UnreadableSpectrum(str):
    """A spectrum a file reader could not read whole; the text is the reason. Featurizers
    report it as that row's failure, so the row is neither dropped nor half-read.

    Examples
    --------
    >>> from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer
    >>> result = MassSpectrumFeaturizer().featurize_with_report(
    ...     [UnreadableSpectrum("Num Peaks says 3, 2 read")])
    >>> result.failures[0].reason
    'Num Peaks says 3, 2 read'
    """


def parse_peak_list(spectrum: Any) -> Peaks:
    """Read a peak list in any of the forms users have into (positions, intensities).

    Accepted forms: text (see Notes for the grammar); a 1-D sequence of positions; a 2-D
    array-like of ``(position, intensity)`` rows; or a dict with ``"positions"`` (or ``"mz"``)
    and ``"intensities"``. Peaks without an intensity get intensity 1. Every peak of the
    input is kept, or the whole spectrum is refused with a reason: nothing is cut short.

    Parameters
    ----------
    spectrum : str, sequence, array-like or dict
        One spectrum in any of the forms above.

    Returns
    -------
    positions, intensities : np.ndarray
        Two float64 arrays of the same length.

    Raises
    ------
    FeaturizationError
        With a reason for anything that is not a clean, non-empty peak list: ``None``, empty
        input, text that does not parse or could only be read by guessing, NaN or infinite
        values, negative intensities, wrong array shapes.

    Notes
    -----
    Peak text is read in the first of these styles that applies (numbers use ``.`` for
    decimals and may use scientific notation; surrounding blanks, ``\\r\\n`` line ends and
    trailing separators are ignored):

    1. **List text**, as pandas or NumPy write a list or array into a CSV cell (text that
       starts with ``[``, ``(`` or ``array(``): ``"[170.2, 128.5]"`` or ``"[170.2 128.5]"``
       (positions); ``"[[41.0, 100.0], [43.0, 50.0]]"``, ``"[(41.0, 100.0), (43.0, 50.0)]"``
       or NumPy's ``"[[ 41. 100.]\\n [ 43.  50.]]"`` (rows of position and intensity).
    2. **nmrshiftdb2** (text with a ``|``): entries ``shift;intensity;atom`` joined by
       ``|``, e.g. ``"56.8;0.0D;6|126.2;0.0S;0|"``. The shift is the peak; the other fields
       are annotations (nmrshiftdb2 writes an intensity of 0.0 with the multiplicity for 98 %
       of its 13C peaks), so every peak has intensity 1, as the shipped encoders were
       trained. An entry may be a shift alone (``"170.2|128.5|"``).
    3. **mz:intensity pairs** (text with a ``:``), separated by spaces, commas, semicolons
       or line breaks: ``"41:100 43:50"``, ``"41:100;43:50"``, ``"41:100, 43:50"``.
    4. **One line of positions**, separated by spaces, tabs, commas or semicolons:
       ``"170.2;128.5;20.1"``, ``"170.2, 128.5, 20.1"``, ``"170.2 128.5 20.1"``. A single
       line is always positions only: ``"41 100"`` is two peaks (a peak with its intensity
       is written ``"41:100"`` or on a line of its own among others).
    5. **One peak per line** (two or more lines), a position alone or a position and its
       intensity separated by a space, tab, comma or semicolon: ``"7.26;100\\n1.25;50"``,
       ``"41 100\\n43 50"``, ``"170.2\\n128.5"``. Every line has the same number of fields.

    Refused, with the reason, rather than read by guessing: a comma that may be a decimal
    comma (no ``.`` anywhere, and the text on one line or its fields also separated by spaces
    or ``;``: ``"170,2;128,5"``, ``"41,5 100"``); an array NumPy summarized with ``...``
    (peaks are missing from the text); lines or list rows of different or other widths;
    tokens that are not all ``mz:intensity`` pairs; unbalanced brackets; anything that is not
    a number (``"170.2 ppm"``, a single nmrshiftdb2 entry without its ``|``).

    Examples
    --------
    >>> pos, inten = parse_peak_list("56.8;0.0D;6|126.2;0.0S;0|")
    >>> pos.tolist(), inten.tolist()
    ([56.8, 126.2], [1.0, 1.0])
    >>> [v.tolist() for v in parse_peak_list("41 100\\n43 50\\n57 20")]
    [[41.0, 43.0, 57.0], [100.0, 50.0, 20.0]]
    >>> [v.tolist() for v in parse_peak_list("170.2;128.5;20.1")]
    [[170.2, 128.5, 20.1], [1.0, 1.0, 1.0]]
    >>> [v.tolist() for v in parse_peak_list("[[41.0, 100.0], [43.0, 50.0]]")]
    [[41.0, 43.0], [100.0, 50.0]]
    >>> [v.tolist() for v in parse_peak_list("41:100;43:50")]
    [[41.0, 43.0], [100.0, 50.0]]
    """
    if spectrum is None:
        raise FeaturizationError("spectrum is None")
    if isinstance(spectrum, UnreadableSpectrum):
        raise FeaturizationError(str(spectrum))
    if isinstance(spectrum, float) and math.isnan(spectrum):
        raise FeaturizationError("spectrum is missing (NaN)")
    if isinstance(spectrum, dict):
        positions, intensities = _peaks_from_dict(spectrum)
    elif isinstance(spectrum, str):
        positions, intensities = _parse_peak_text(spectrum)
    else:
        positions, intensities = _peaks_from_array(spectrum)
    _check_peaks(positions, intensities)
    return positions, intensities


def _peaks_from_dict(spectrum: dict) -> Peaks:
    positions = spectrum.get("positions", spectrum.get("mz"))
    if positions is None:
        raise FeaturizationError("dict spectrum needs a 'positions' or 'mz' key")
    intensities = spectrum.get("intensities")
    positions = _as_float_array(positions, "positions")
    intensities = (np.ones_like(positions) if intensities is None
                   else _as_float_array(intensities, "intensities"))
    return positions, intensities


def _peaks_from_array(spectrum: Any) -> Peaks:
    array = _as_float_array(spectrum, "spectrum")
    if array.ndim == 0:
        raise FeaturizationError(f"a single number ({spectrum!r}) is not a peak list: one peak "
                                 f"is [{spectrum!r}] (featurize takes a list of spectra)")
    if array.ndim == 1:
        return array, np.ones_like(array)
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 0], array[:, 1]
    raise FeaturizationError(
        f"spectrum array has shape {array.shape}; expected (n_peaks,) positions or "
        "(n_peaks, 2) rows of (position, intensity)")


def _check_peaks(positions: np.ndarray, intensities: np.ndarray) -> None:
    """The reason a parsed peak list is not a clean, non-empty one."""
    if positions.shape != intensities.shape:
        raise FeaturizationError(
            f"{positions.size} positions but {intensities.size} intensities")
    if positions.size == 0:
        raise FeaturizationError("empty peak list")
    if not np.all(np.isfinite(positions)):
        raise FeaturizationError("peak positions contain NaN or infinity")
    if not np.all(np.isfinite(intensities)):
        raise FeaturizationError("peak intensities contain NaN or infinity")
    if np.any(intensities < 0):
        raise FeaturizationError("negative peak intensity")
    if not np.any(intensities > 0):
        raise FeaturizationError("all peak intensities are zero")


def _as_float_array(values: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise FeaturizationError(f"{what} is not numeric: {err}") from None
    return array


#: what separates the fields of a peak line, or the peaks of a one-line list
_FIELD_SEPARATOR = re.compile(r"[\s,;]+")


def _parse_peak_text(text: str) -> Peaks:
    """Peak text in the styles of :func:`parse_peak_list` (its Notes, tried in that order);
    anything else, and text one could only read by guessing, raises with the reason."""
    text = text.strip()
    if not text:
        raise FeaturizationError("empty peak list")
    if text.startswith(("[", "(", "array(")):
        return _parse_list_text(text)
    if "|" in text:
        return _parse_nmrshiftdb2(text)
    if _decimal_comma(text):
        raise FeaturizationError(
            f"a comma in {_shown(text)} may be a decimal comma (no '.' anywhere, and the "
            "peaks are also separated by spaces or ';'): write decimals with '.'")
    if ":" in text:
        return _parse_colon_pairs(text)
    return _parse_lines(text)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _parse_nmrshiftdb2(text: str) -> Peaks:
    """``shift;intensity-and-multiplicity;atom|...``: the first field of each entry is the
    peak; the others are annotations (nmrshiftdb2 writes 0.0 for the intensity of 98 % of its
    13C peaks), so every peak has intensity 1, as the shipped encoders were trained."""
    entries = [entry for entry in text.split("|") if entry.strip()]
    positions = _numbers([entry.split(";")[0] for entry in entries], text)
    return positions, np.ones_like(positions)


def _parse_colon_pairs(text: str) -> Peaks:
    """``mz:intensity`` pairs separated by spaces, commas, semicolons or line breaks."""
    pairs = [token.split(":") for token in _fields(text)]
    if any(len(pair) != 2 for pair in pairs):
        raise FeaturizationError(f"peak text {_shown(text)} is not all 'mz:intensity' pairs: "
                                 "every peak needs its own position:intensity pair")
    values = _numbers([v for pair in pairs for v in pair], text).reshape(-1, 2)
    return values[:, 0], values[:, 1]


def _parse_lines(text: str) -> Peaks:
    """One line: positions. Several: one peak per line, a position alone or a position and
    its intensity, the same on every line."""
    rows = [_fields(line) for line in text.splitlines() if line.strip()]
    if len(rows) == 1:
        return _positions_only(rows[0], text)
    return _peaks_from_rows(rows, text, lambda widths: (
        f"peak text {_shown(text)} has lines of {widths} columns; expected one peak per line, "
        "a position or a position and its intensity, the same on every line"))


def _fields(text: str) -> List[str]:
    return [f for f in _FIELD_SEPARATOR.split(text.strip()) if f]


def _positions_only(fields: List[str], text: str) -> Peaks:
    positions = _numbers(fields, text)
    return positions, np.ones_like(positions)


def _peaks_from_rows(rows: List[List[str]], text: str, refusal: Callable[[list], str]) -> Peaks:
    """Rows of one field (positions) or of two (position, intensity), all alike; else the
    reason ``refusal(widths)`` gives for the widths met."""
    widths = sorted({len(row) for row in rows})
    if widths == [1]:
        return _positions_only([row[0] for row in rows], text)
    if widths == [2]:
        values = _numbers([v for row in rows for v in row], text).reshape(-1, 2)
        return values[:, 0], values[:, 1]
    raise FeaturizationError(refusal(widths))


_LIST_ROW = re.compile(r"[\[(]([^\[\]()]*)[\])]")


def _parse_list_text(text: str) -> Peaks:
    """A list or array as pandas and NumPy write one into a CSV cell: ``[170.2, 128.5]``,
    ``[170.2 128.5]``, ``[[41.0, 100.0], [43.0, 50.0]]``, ``[(41.0, 100.0), ...]``,
    ``array([...])``."""
    body = text
    if body.startswith("array("):
        body = re.sub(r",\s*dtype=[\w.]+\s*\)$", ")", body)
        if not body.endswith(")"):
            raise FeaturizationError(f"unbalanced brackets in {_shown(text)}")
        body = body[len("array("):-1].strip()
    if "..." in body:
        raise FeaturizationError(
            f"{_shown(text)} is an array NumPy summarized with '...': peaks are missing from "
            "the text. Write the full list (list(peaks), or np.set_printoptions(threshold="
            "sys.maxsize) before saving)")
    closing = {"[": "]", "(": ")"}.get(body[:1])
    if closing is None or not body.endswith(closing) \
            or body.count("[") != body.count("]") or body.count("(") != body.count(")"):
        raise FeaturizationError(f"unbalanced brackets in {_shown(text)}")
    inner = body[1:-1]
    if not re.search(r"[\[\]()]", inner):  # a flat list: positions
        return _positions_only(_fields(inner), text)
    if _LIST_ROW.sub("", inner).strip(" \t\r\n,;"):
        raise FeaturizationError(f"list text {_shown(text)} mixes rows and bare values, or "
                                 "nests deeper than rows of (position, intensity)")
    return _peaks_from_rows([_fields(row) for row in _LIST_ROW.findall(inner)], text,
                            lambda widths: f"list text {_shown(text)} has rows of {widths} "
                            "values; expected every row to be (position, intensity)")


def _decimal_comma(text: str) -> bool:
    """A comma between digits and no decimal point anywhere, where a comma cannot be a column
    separator: on a single line (``1,5``; ``170,2;128,5``), or on lines whose fields are also
    separated by spaces or ``;`` (``41,5 100``; ``170,2;100``). Comma-separated columns alone
    (``41,100`` on each of several lines) are read as columns."""
    if "." in text or not re.search(r"\d,\d", text):
        return False
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) == 1 or any(re.search(r"\S\s+\S", line) or ";" in line for line in lines)


#: a number as peak text writes one (``float`` alone would also take ``1_000``); NaN and
#: infinity parse, and are then reported by name
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(nan|inf|infinity)",
                     re.IGNORECASE)


def _numbers(fields, text: str) -> np.ndarray:
    fields = [field.strip() for field in fields]
    if not all(_NUMBER.fullmatch(field) for field in fields):
        raise FeaturizationError(f"peak list text does not parse as numbers: {_shown(text)}")
    return np.array([float(field) for field in fields], dtype=np.float64)


class PeakListFeaturizer(ReportingFeaturizerMixin, Featurizer):
    """Bin a peak list over a fixed axis range into a vector scaled to a maximum of 1.

    Each peak adds its intensity to the bin holding its position (so in an NMR peak list
    with one row per atom, symmetric atoms add up); optional Gaussian broadening spreads each
    peak over neighbouring bins, which makes spectra measured a little apart still overlap.

    Inputs are read by :func:`parse_peak_list`: position lists, (position, intensity) rows,
    dicts, and peak text in five styles (its Notes give the rules): list text as pandas and
    NumPy write it (``"[170.2, 128.5]"``), nmrshiftdb2 (``"56.8;0.0D;6|126.2;0.0S;0|"``),
    ``mz:intensity`` pairs (``"41:100;43:50"``), one line of positions (``"170.2;128.5;20.1"``,
    commas or spaces too) and one peak per line with or without its intensity
    (``"7.26;100\\n1.25;50"``). Every peak of an input is kept, or the input is a failure
    with its reason (a possible decimal comma, a NumPy-summarized array, lines of different
    widths, ...): never a shortened spectrum.

    Parameters
    ----------
    low, high : float
        Axis range; ``n_bins = round((high - low) / resolution)``.
    resolution : float
        Bin width in axis units.
    broadening : float
        Standard deviation of the Gaussian applied to each peak, in axis units (0: none).
    out_of_range : str
        ``"error"`` (default) reports a spectrum with any peak outside ``[low, high)`` as a
        failure; ``"drop"`` ignores such peaks (a spectrum left with none still fails).

    Examples
    --------
    >>> featurizer = PeakListFeaturizer(low=0.0, high=10.0, resolution=1.0)
    >>> featurizer.featurize([[2.2, 2.7, 7.0]]).tolist()
    [[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0]]
    """

    def __init__(self, low: float, high: float, resolution: float, broadening: float = 0.0,
                 out_of_range: str = "error"):
        if not high > low:
            raise ValueError(f"high ({high}) must be greater than low ({low})")
        if not resolution > 0:
            raise ValueError(f"resolution must be positive, got {resolution}")
        if out_of_range not in ("error", "drop"):
            raise ValueError(f"out_of_range must be 'error' or 'drop', got {out_of_range!r}")
        self.low = float(low)
        self.high = float(high)
        self.resolution = float(resolution)
        self.broadening = float(broadening)
        self.out_of_range = out_of_range

    @property
    def n_bins(self) -> int:
        return int(round((self.high - self.low) / self.resolution))

    def config(self) -> Dict[str, Any]:
        """The constructor arguments, for storing beside a trained encoder."""
        return {"low": self.low, "high": self.high, "resolution": self.resolution,
                "broadening": self.broadening, "out_of_range": self.out_of_range}

    def _prepare_input(self, datapoint: Any) -> Peaks:
        return parse_peak_list(datapoint)

    def _featurize_checked(self, peaks: Peaks) -> np.ndarray:
        positions, intensities = peaks
        inside = (positions >= self.low) & (positions < self.high)
        if not np.all(inside):
            outside = positions[~inside]
            if self.out_of_range == "error":
                raise FeaturizationError(
                    f"{outside.size} peak(s) outside [{self.low:g}, {self.high:g}), "
                    f"e.g. {outside[0]:g}")
            positions, intensities = positions[inside], intensities[inside]
            if positions.size == 0:
                raise FeaturizationError(f"no peaks inside [{self.low:g}, {self.high:g})")
        n_bins = self.n_bins
        bins = np.minimum(((positions - self.low) / self.resolution).astype(np.int64), n_bins - 1)
        vector = np.bincount(bins, weights=intensities, minlength=n_bins).astype(np.float64)
        if self.broadening > 0:
            vector = _gaussian_smooth(vector, self.broadening / self.resolution)
        return (vector / vector.max()).astype(np.float32)


def _gaussian_smooth(vector: np.ndarray, sigma_bins: float) -> np.ndarray:
    half_width = max(1, int(math.ceil(4 * sigma_bins)))
    offsets = np.arange(-half_width, half_width + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    return np.convolve(vector, kernel / kernel.sum(), mode="same")


#: Default axis per NMR nucleus. 13C follows CReSS (-50...350 ppm at 0.1 ppm, 4,000 bins).
NMR_AXES: Dict[str, Dict[str, float]] = {
    "13C": {"low": -50.0, "high": 350.0, "resolution": 0.1},
    "1H": {"low": -2.0, "high": 18.0, "resolution": 0.01},
}


class NMRSpectrumFeaturizer(PeakListFeaturizer):
    """NMR peak lists (shifts in ppm) to binned vectors, with per-nucleus default axes.

    Peak lists in any form :func:`parse_peak_list` reads (see :class:`PeakListFeaturizer`):
    ``"170.2;128.5;20.1"`` is three peaks, ``"7.26;100\\n1.25;50"`` two with their
    intensities, nmrshiftdb2's ``"20.1;0.0Q;0|170.2;0.0S;1|"`` two of intensity 1.

    Parameters
    ----------
    nucleus : str
        ``"13C"`` (default: -50...350 ppm at 0.1 ppm, 4,000 bins, as in CReSS) or ``"1H"``
        (-2...18 ppm at 0.01 ppm, 2,000 bins).
    low, high, resolution : float, optional
        Override the nucleus defaults.
    broadening : float
        As in :class:`PeakListFeaturizer`.
    out_of_range : str
        As in :class:`PeakListFeaturizer`.

    Examples
    --------
    >>> featurizer = NMRSpectrumFeaturizer("13C")
    >>> result = featurizer.featurize_with_report(["20.1;0.0Q;0|170.2;0.0S;1|", "", None])
    >>> result.features[0].shape, result.indices.tolist()
    ((4000,), [0])
    >>> [f.reason for f in result.failures]
    ['empty peak list', 'spectrum is None']
    """

    def __init__(self, nucleus: str = "13C", low: Optional[float] = None,
                 high: Optional[float] = None, resolution: Optional[float] = None,
                 broadening: float = 0.0, out_of_range: str = "error"):
        if nucleus not in NMR_AXES:
            raise ValueError(f"nucleus must be one of {sorted(NMR_AXES)}, got {nucleus!r}")
        axis = NMR_AXES[nucleus]
        super().__init__(axis["low"] if low is None else low,
                         axis["high"] if high is None else high,
                         axis["resolution"] if resolution is None else resolution,
                         broadening, out_of_range)
        self.nucleus = nucleus

    def config(self) -> Dict[str, Any]:
        return {"nucleus": self.nucleus, **super().config()}


class MassSpectrumFeaturizer(PeakListFeaturizer):
    """Mass spectra (m/z, intensity) to binned vectors: 0...``max_mz`` at ``resolution`` Da
    (1 Da: nominal mass, what EI libraries record and what tolerates instrument differences in
    MS/MS), intensities raised to ``intensity_power`` (0.5, the square root usual in spectral
    matching, so that small fragments still count), scaled to a maximum of 1.

    Negative m/z is reported as a failure; peaks at or above ``max_mz`` are ignored (a spectrum
    left with none is reported).

    Parameters
    ----------
    max_mz : float, default=1000.0
        Upper end of the m/z axis.
    resolution : float, default=1.0
        Bin width in Da.
    intensity_power : float, default=0.5
        Exponent applied to intensities before scaling.
    broadening : float, default=0.0
        Gaussian broadening of each peak in Da (0: none).

    Examples
    --------
    >>> featurizer = MassSpectrumFeaturizer(max_mz=10.0)
    >>> featurizer.featurize([[[2.2, 16.0], [7.0, 4.0], [12.0, 9.0]]]).tolist()
    [[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0]]
    >>> [f.reason for f in featurizer.featurize_with_report([[[-1.0, 5.0]]]).failures]
    ['negative m/z']
    """

    def __init__(self, max_mz: float = 1000.0, resolution: float = 1.0,
                 intensity_power: float = 0.5, broadening: float = 0.0):
        super().__init__(0.0, max_mz, resolution, broadening, out_of_range="drop")
        self.max_mz, self.intensity_power = float(max_mz), float(intensity_power)

    def config(self) -> Dict[str, Any]:
        return {"max_mz": self.max_mz, "resolution": self.resolution,
                "intensity_power": self.intensity_power, "broadening": self.broadening}

    def _featurize_checked(self, peaks: Peaks) -> np.ndarray:
        positions, intensities = peaks
        if np.any(positions < 0):
            raise FeaturizationError("negative m/z")
        return super()._featurize_checked((positions, intensities ** self.intensity_power))


#: adducts with their own input of :class:`TandemSpectrumFeaturizer` (others share "other")
TANDEM_ADDUCTS = ("[M+H]+", "[M-H]-", "[M+Na]+", "[M+NH4]+", "[M]+")
ION_MODES = ("positive", "negative")
#: the metadata of an LC-MS/MS spectrum the fragment-aware encoder was trained with, and how
#: a message names it. Without them it retrieves held-out MassBank compounds far worse (top-10
#: in pools of 128 over 598 test spectra: 0.758 with all, 0.545 without the precursor m/z,
#: 0.658 without the adduct, 0.760 without the ion mode, 0.370 from bare peaks); the EI model
#: does not use them (0.850 with, 0.863 without, 80 test spectra). benchmarks/ms_metadata.py,
#: docs/benchmarks/ms_metadata.json.
TANDEM_METADATA = {"precursor_mz": "precursor m/z", "adduct": "adduct", "ion_mode": "ion mode"}
#: what :class:`TandemSpectrumFeaturizer` does with a spectrum missing any of them
MISSING_METADATA = ("warn", "error", "ignore")


class MissingMetadataWarning(UserWarning):
    """Spectra reached :class:`TandemSpectrumFeaturizer` without the precursor m/z, adduct or
    ion mode the fragment-aware LC-MS/MS encoder was trained with (see
    :data:`TANDEM_METADATA`).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = TandemSpectrumFeaturizer(max_mz=100.0).featurize([[[41.0, 100.0]]])
    >>> str(caught[0].message)[:80]
    'TandemSpectrumFeaturizer: of 1 spectra, 1 have no precursor m/z, 1 no adduct, 1 '
    """


def missing_metadata(spectrum: Any) -> List[str]:
    """The keys of :data:`TANDEM_METADATA` that ``spectrum`` lacks, as the featurizer reads
    them: a peak list that is not a dict lacks all three; a precursor must be a positive
    number, an ion mode ``positive`` or ``negative`` (any case), an adduct non-empty.

    Parameters
    ----------
    spectrum : dict or peak list
        One input of :class:`TandemSpectrumFeaturizer`.

    Returns
    -------
    list of str
        The keys lacking, in the order of :data:`TANDEM_METADATA`.

    Examples
    --------
    >>> missing_metadata({"mz": [41.0], "precursor_mz": 59.05, "ion_mode": "POSITIVE"})
    ['adduct']
    >>> missing_metadata([[41.0, 100.0]])
    ['precursor_mz', 'adduct', 'ion_mode']
    """
    metadata = spectrum if isinstance(spectrum, dict) else {}
    present = {"precursor_mz": _finite_or_none(metadata.get("precursor_mz")) is not None,
               "adduct": bool(metadata.get("adduct")) and not _is_nan(metadata.get("adduct")),
               "ion_mode": str(metadata.get("ion_mode") or "").lower() in ION_MODES}
    return [key for key in TANDEM_METADATA if not present[key]]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


class TandemSpectrumFeaturizer(ReportingFeaturizerMixin, Featurizer):
    """Mass spectra with their metadata to vectors that keep the peaks' exact masses, the
    neutral losses and the precursor: the input of the package's fragment-aware MS encoder.

    Each block has two channels per 1-Da bin: the (square-root, max-scaled) intensity, and
    the mass defect (``m - round(m)``, times 2, in [-1, 1]) of the bin's most intense peak,
    so that peaks of one nominal mass but different formulas (CO 27.995, C2H4 28.031) stay
    apart without a 100,000-bin axis.

    * fragments: ``0 <= m/z < max_mz``;
    * neutral losses: ``reference - m/z`` for ``0 < loss < max_loss``, where the reference is
      the precursor m/z (LC-MS/MS) or, without one (EI), the heaviest peak, which stands for
      the often missing molecular ion;
    * precursor: m/z / 1000, its mass defect, and whether there is one;
    * metadata: ion mode (positive, negative, unknown), adduct (:data:`TANDEM_ADDUCTS`,
      other, unknown), collision energy / 100 and whether it is known.

    Inputs are any peak list :func:`parse_peak_list` reads, or a dict with ``"mz"`` and
    ``"intensities"`` plus optional ``"precursor_mz"``, ``"adduct"``, ``"ion_mode"`` and
    ``"collision_energy"`` (a number, or text such as ``"35 eV"`` or ``"30 % (nominal)"``:
    its first number).

    The precursor m/z, adduct and ion mode matter for LC-MS/MS: the shipped fragment-aware
    ``ms_lc`` model retrieves held-out compounds at top-10 0.758 (pools of 128) with them and
    0.370 from bare peaks (:data:`TANDEM_METADATA`). So spectra missing any of them are
    counted, and by default a :class:`MissingMetadataWarning` says how many lack which, once
    per call; ``missing_metadata="error"`` reports each such spectrum as a failure instead.
    EI spectra have none of them and the EI model does not use them: ``get_modality("ms_gc",
    encoder="contrastive")`` builds its featurizer with ``missing_metadata="ignore"``.

    Parameters
    ----------
    max_mz : float, default=1000.0
        Upper end of the fragment axis (peaks above it are ignored).
    max_loss : float, default=200.0
        Upper end of the neutral-loss axis.
    intensity_power : float, default=0.5
        Exponent applied to intensities before scaling.
    missing_metadata : {"warn", "error", "ignore"}, default="warn"
        What a spectrum without a precursor m/z, an adduct or an ion mode (see
        :func:`missing_metadata`) gets: counted in one warning per call, reported as that
        row's failure, or nothing (EI). Not part of :meth:`config`: it is a policy of the
        caller, not of the stored encoder.

    Examples
    --------
    >>> featurizer = TandemSpectrumFeaturizer(max_mz=100.0, max_loss=50.0)
    >>> spectrum = {"mz": [61.028, 43.018], "intensities": [100.0, 25.0],
    ...             "precursor_mz": 79.039, "adduct": "[M+H]+", "ion_mode": "positive"}
    >>> vector = featurizer.featurize([spectrum])[0]
    >>> vector.shape == (featurizer.n_features,), featurizer.n_features
    (True, 315)
    >>> float(vector[61]), round(float(vector[100 + 61]), 3)   # intensity, mass defect x 2
    (1.0, 0.056)
    >>> float(vector[200 + 18])   # the loss of water, 79.039 - 61.028 = 18.011
    1.0
    """

    def __init__(self, max_mz: float = 1000.0, max_loss: float = 200.0,
                 intensity_power: float = 0.5, missing_metadata: str = "warn"):
        if not (max_mz > 0 and max_loss > 0):
            raise ValueError(f"max_mz and max_loss must be positive, got {max_mz}, {max_loss}")
        if missing_metadata not in MISSING_METADATA:
            raise ValueError(f"missing_metadata must be one of {MISSING_METADATA}, got "
                             f"{missing_metadata!r}")
        self.max_mz, self.max_loss = float(max_mz), float(max_loss)
        self.intensity_power = float(intensity_power)
        self.missing_metadata = missing_metadata

    @property
    def n_features(self) -> int:
        return 2 * int(self.max_mz) + 2 * int(self.max_loss) + 3 + 3 + len(TANDEM_ADDUCTS) + 2 + 2

    #: what the modality loader compares with the encoder's input size
    n_bins = n_features

    def config(self) -> Dict[str, Any]:
        return {"max_mz": self.max_mz, "max_loss": self.max_loss,
                "intensity_power": self.intensity_power}

    def missing_metadata_message(self, datapoints: Iterable[Any]) -> Optional[str]:
        """How many of ``datapoints`` lack each of :data:`TANDEM_METADATA`, and what to do,
        or None when none lacks any (or ``missing_metadata="ignore"``).

        Parameters
        ----------
        datapoints : iterable
            The inputs, as :meth:`featurize_with_report` takes them.

        Returns
        -------
        str or None
            The message of the :class:`MissingMetadataWarning`.
        """
        if self.missing_metadata == "ignore":
            return None
        datapoints = list(datapoints)
        counts = {key: 0 for key in TANDEM_METADATA}
        for point in datapoints:
            for key in missing_metadata(point):
                counts[key] += 1
        if not any(counts.values()):
            return None
        lacking = [f"{n} {'have ' if i == 0 else ''}no {TANDEM_METADATA[key]}"
                   for i, (key, n) in enumerate(counts.items())]
        return (f"of {len(datapoints)} spectra, {', '.join(lacking)}. The fragment-aware "
                "LC-MS/MS encoder was trained with them and retrieves held-out compounds far "
                "worse without (top-10 in pools of 128: 0.76 with all, 0.55 without the "
                "precursor m/z, 0.37 from bare peaks). Give them as dicts with 'precursor_mz', "
                "'adduct' and 'ion_mode' (spectrum_inputs(frame) makes them from such columns), "
                "as those columns of a CSV, in MGF files as PEPMASS, ADDUCT and IONMODE, in MSP "
                "files as PrecursorMZ, Precursor_type and Ion_mode. EI spectra have none: "
                "missing_metadata='ignore'")

    def featurize_with_report(self, datapoints: Iterable[Any]) -> FeaturizationResult:
        """As :meth:`ReportingFeaturizerMixin.featurize_with_report`, then one
        :class:`MissingMetadataWarning` with the counts when spectra lack metadata (with
        ``missing_metadata="warn"``).

        Parameters
        ----------
        datapoints : iterable
            One spectrum per input.

        Returns
        -------
        FeaturizationResult
            The features and the failures.
        """
        datapoints = _as_list(datapoints)
        result = super().featurize_with_report(datapoints)
        if self.missing_metadata == "warn":
            message = self.missing_metadata_message(datapoints)
            if message:
                warnings.warn(f"{type(self).__name__}: {message}", MissingMetadataWarning,
                              stacklevel=2)
        return result

    def _prepare_input(self, datapoint: Any) -> Tuple[Peaks, Dict[str, Any]]:
        metadata = {}
        if isinstance(datapoint, dict):
            metadata = {k: v for k, v in datapoint.items()
                        if k not in ("mz", "positions", "intensities")}
        positions, intensities = parse_peak_list(datapoint)
        if np.any(positions < 0):
            raise FeaturizationError("negative m/z")
        if self.missing_metadata == "error":
            lacking = missing_metadata(datapoint)
            if lacking:
                raise FeaturizationError(
                    f"no {', '.join(TANDEM_METADATA[key] for key in lacking)}: the "
                    "fragment-aware LC-MS/MS encoder needs them (missing_metadata='error')")
        return (positions, intensities), metadata

    def _featurize_checked(self, prepared: Tuple[Peaks, Dict[str, Any]]) -> np.ndarray:
        (positions, intensities), metadata = prepared
        intensities = intensities ** self.intensity_power
        keep = positions < self.max_mz
        if not np.any(keep & (intensities > 0)):
            raise FeaturizationError(f"no peaks below m/z {self.max_mz:g}")
        positions, intensities = positions[keep], intensities[keep]
        precursor = _finite_or_none(metadata.get("precursor_mz"))
        reference = precursor if precursor is not None else float(positions.max())
        losses = reference - positions
        in_loss = (losses > 0.5) & (losses < self.max_loss)
        return np.concatenate([
            _defect_bins(positions, intensities, int(self.max_mz)),
            _defect_bins(losses[in_loss], intensities[in_loss], int(self.max_loss)),
            _precursor_inputs(precursor), _metadata_inputs(metadata)]).astype(np.float32)


def _defect_bins(masses: np.ndarray, intensities: np.ndarray, n_bins: int) -> np.ndarray:
    """(2 * n_bins,): per nominal-mass bin the summed intensity (max-scaled to 1), then the
    mass defect x 2 of the bin's most intense peak (0 where the bin is empty)."""
    intensity, defect = np.zeros(n_bins), np.zeros(n_bins)
    if masses.size:
        nominal = np.rint(masses).astype(np.int64)
        inside = (nominal >= 0) & (nominal < n_bins)
        nominal, masses, intensities = nominal[inside], masses[inside], intensities[inside]
        np.add.at(intensity, nominal, intensities)
        order = np.argsort(intensities)  # the strongest peak of a bin is written last
        defect[nominal[order]] = 2.0 * (masses[order] - nominal[order])
        if intensity.max() > 0:
            intensity /= intensity.max()
    return np.concatenate([intensity, defect])


def _finite_or_none(value: Any) -> Optional[float]:
    try:
        number = float(str(value).split()[0]) if value is not None else float("nan")
    except (ValueError, IndexError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _precursor_inputs(precursor: Optional[float]) -> np.ndarray:
    if precursor is None:
        return np.zeros(3)
    return np.array([precursor / 1000.0, 2.0 * (precursor - round(precursor)), 1.0])


def _metadata_inputs(metadata: Dict[str, Any]) -> np.ndarray:
    mode = str(metadata.get("ion_mode") or "").lower()
    modes = [float(mode == m) for m in ION_MODES] + [float(mode not in ION_MODES)]
    adduct = metadata.get("adduct")
    adducts = [float(adduct == a) for a in TANDEM_ADDUCTS]
    adducts += [float(bool(adduct) and adduct not in TANDEM_ADDUCTS), float(not adduct)]
    energy = _first_number(metadata.get("collision_energy"))
    return np.array(modes + adducts + ([energy / 100.0, 1.0] if energy is not None else [0.0, 0.0]))


def _first_number(value: Any) -> Optional[float]:
    match = re.search(r"[-+]?\d+(\.\d+)?", str(value)) if value is not None else None
    return float(match.group()) if match else None


#: featurizer classes a stored spectrum encoder can name
SPECTRUM_FEATURIZERS = {"NMRSpectrumFeaturizer": NMRSpectrumFeaturizer,
                        "MassSpectrumFeaturizer": MassSpectrumFeaturizer,
                        "TandemSpectrumFeaturizer": TandemSpectrumFeaturizer}
