"""Peak lists (NMR shifts in ppm, mass spectra in m/z) to fixed-length vectors."""
from __future__ import annotations

import math
import re
from typing import Any, Dict, Optional, Tuple

import numpy as np
from deepchem.feat import Featurizer

from deepchem_acml.featurizers.base import FeaturizationError, ReportingFeaturizerMixin

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

    Accepted forms: an nmrshiftdb2 string ``"shift;multiplicity;atom|shift;...|"``; text of
    ``mz:intensity`` pairs or of two-column lines (position and intensity per line); a plain
    string of positions separated by commas or whitespace; a 1-D sequence of positions; a 2-D
    array-like of ``(position, intensity)`` rows; or a dict with ``"positions"`` (or ``"mz"``)
    and ``"intensities"``. Peaks without an intensity get intensity 1.

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
        input, text that does not parse, NaN or infinite values, negative intensities, wrong
        array shapes.

    Examples
    --------
    >>> pos, inten = parse_peak_list("56.8;0.0D;6|126.2;0.0D;0|")
    >>> pos.tolist(), inten.tolist()
    ([56.8, 126.2], [1.0, 1.0])
    >>> [v.tolist() for v in parse_peak_list("41 100\\n43 50\\n57 20")]
    [[41.0, 43.0, 57.0], [100.0, 50.0, 20.0]]
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


def _parse_peak_text(text: str) -> Peaks:
    """Peak text in the forms spectra are written in: nmrshiftdb2 (``shift;mult;atom|...``),
    MoNA/MassBank ``mz:intensity`` pairs, two-column lines (``mz intensity`` per line, space,
    tab or comma separated), or one line of positions (space or comma separated). Numbers may
    use scientific notation. A comma that may be a decimal comma (``1,5``; ``41,5 100``) is
    refused: guessing would misplace peaks."""
    text = text.strip()
    if not text:
        raise FeaturizationError("empty peak list")
    if "|" in text or ";" in text:  # nmrshiftdb2: shift;multiplicity-or-coupling;atom|...
        fields = [entry.split(";")[0] for entry in text.split("|") if entry.strip()]
        positions = _numbers(fields, text)
        return positions, np.ones_like(positions)
    if _ambiguous_comma(text):
        raise FeaturizationError(f"ambiguous comma in {text[:60]!r}: write decimals with '.' "
                                 "and separate peaks with spaces or ', '")
    if ":" in text:  # MoNA / MassBank: "41:100 43:50"
        pairs = [token.split(":") for token in re.split(r"[\s,]+", text) if token]
        if any(len(pair) != 2 for pair in pairs):
            raise FeaturizationError(f"peak text mixes 'mz:intensity' pairs with other "
                                     f"fields: {text[:60]!r}")
        values = _numbers([v for pair in pairs for v in pair], text).reshape(-1, 2)
        return values[:, 0], values[:, 1]
    rows = [re.split(r"[\s,]+", line.strip()) for line in text.splitlines() if line.strip()]
    widths = {len(row) for row in rows}
    if len(rows) > 1 and widths == {2}:  # two columns: position, intensity
        values = _numbers([v for row in rows for v in row], text).reshape(-1, 2)
        return values[:, 0], values[:, 1]
    if len(rows) > 1 and widths != {1}:
        raise FeaturizationError(f"peak text has lines of {sorted(widths)} columns; expected "
                                 "one position or a position and an intensity per line")
    positions = _numbers([v for row in rows for v in row], text)
    return positions, np.ones_like(positions)


def _ambiguous_comma(text: str) -> bool:
    """A comma between digits, no decimal point anywhere, and either one line (``1,5``) or
    lines that also separate fields by spaces (``41,5 100``): a decimal comma cannot be told
    from a separator. Comma-separated columns alone (``41,100`` per line) are not ambiguous."""
    if "." in text or not re.search(r"\d,\d", text):
        return False
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) == 1 or any(re.search(r"\S\s+\S", line) for line in lines)


def _numbers(fields, text: str) -> np.ndarray:
    try:
        return np.array([float(f) for f in fields], dtype=np.float64)
    except ValueError:
        raise FeaturizationError(f"peak list text does not parse as numbers: {text[:60]!r}") \
            from None


class PeakListFeaturizer(ReportingFeaturizerMixin, Featurizer):
    """Bin a peak list over a fixed axis range into a vector scaled to a maximum of 1.

    Each peak adds its intensity to the bin holding its position (so in an NMR peak list
    with one row per atom, symmetric atoms add up); optional Gaussian broadening spreads each
    peak over neighbouring bins, which makes spectra measured a little apart still overlap.

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

    Parameters
    ----------
    max_mz : float, default=1000.0
        Upper end of the fragment axis (peaks above it are ignored).
    max_loss : float, default=200.0
        Upper end of the neutral-loss axis.
    intensity_power : float, default=0.5
        Exponent applied to intensities before scaling.

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
                 intensity_power: float = 0.5):
        if not (max_mz > 0 and max_loss > 0):
            raise ValueError(f"max_mz and max_loss must be positive, got {max_mz}, {max_loss}")
        self.max_mz, self.max_loss = float(max_mz), float(max_loss)
        self.intensity_power = float(intensity_power)

    @property
    def n_features(self) -> int:
        return 2 * int(self.max_mz) + 2 * int(self.max_loss) + 3 + 3 + len(TANDEM_ADDUCTS) + 2 + 2

    #: what the modality loader compares with the encoder's input size
    n_bins = n_features

    def config(self) -> Dict[str, Any]:
        return {"max_mz": self.max_mz, "max_loss": self.max_loss,
                "intensity_power": self.intensity_power}

    def _prepare_input(self, datapoint: Any) -> Tuple[Peaks, Dict[str, Any]]:
        metadata = {}
        if isinstance(datapoint, dict):
            metadata = {k: v for k, v in datapoint.items()
                        if k not in ("mz", "positions", "intensities")}
        positions, intensities = parse_peak_list(datapoint)
        if np.any(positions < 0):
            raise FeaturizationError("negative m/z")
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
