"""Readers for the spectrum exchange formats users have: MGF, MSP (NIST/MoNA/MassBank
exports), JCAMP-DX (MS and NMR, with the ``jcamp`` package), JSON/mzML/mzXML (through
matchms, where installed) and the MassBank JSON-Lines export in the shared data folder.

Every reader returns one record per spectrum, in file order, as a dict with ``peaks`` (an
``(n, 2)`` float array of m/z and intensity; a value that does not parse becomes NaN, so the
featurizer reports that spectrum instead of the reader dropping it), ``smiles``, ``inchikey``
(None when the file has none), ``metadata`` (the other fields, keys lower-cased) and
``problem`` (None, or why the record could not be read whole: it is then reported for its row,
never returned half-read).

MGF and MSP are read here rather than with matchms: matchms keeps one pair of a peak line
holding several and stops at an MGF record without ``END IONS``; on well-formed files the two
agree (``tests/unit/test_spectrum_files.py``, run in ``tox -e matchms``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from deepchem_acml.files import open_text

PathLike = Union[str, Path]
SPECTRUM_COLUMNS = ["inchikey", "smiles", "accession", "spectrum"]


def _open_text(path: PathLike):
    return open_text(path, errors="replace")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


_CHARGE = re.compile(r"^\d+[+-]$")  # MGF's optional third peak column ("1+")


def peak_pairs(line: str) -> Tuple[List[List[float]], Optional[str]]:
    """The (m/z, intensity) pairs of one peak line, and the reason when the line cannot be
    read whole.

    Accepts several pairs per line and any of the separators spectrum files use: spaces,
    tabs, ``,``, ``;`` and ``:`` (MoNA's ``41:100 43:50``), scientific notation, a quoted
    annotation after a pair (MSP) and MGF's charge column (``41.0 100.0 1+``). A value that
    does not parse becomes NaN (the featurizer then reports the spectrum); an odd number of
    values is a reason.

    Examples
    --------
    >>> peak_pairs("41.0 100.0 43.0 50.0 57.0 20.0")
    ([[41.0, 100.0], [43.0, 50.0], [57.0, 20.0]], None)
    >>> peak_pairs("41:100 43:5E+01")
    ([[41.0, 100.0], [43.0, 50.0]], None)
    >>> peak_pairs('41.0\t100 "C3H5+"')
    ([[41.0, 100.0]], None)
    >>> peak_pairs("41 100 43")[1]
    "odd number of values on peak line '41 100 43'"
    """
    fields = [f for f in re.split(r"[\s,;:]+", re.sub(r'"[^"]*"', " ", line).strip()) if f]
    if len(fields) == 3 and _CHARGE.match(fields[2]):
        fields = fields[:2]
    if len(fields) % 2:
        return [], f"odd number of values on peak line {line.strip()[:60]!r}"
    values = [_number(f) for f in fields]
    return [values[i:i + 2] for i in range(0, len(values), 2)], None


def _record(metadata: Dict[str, str], peaks: List[List[float]],
            problems: Optional[List[str]] = None) -> Dict[str, Any]:
    comments = metadata.get("comments", "")
    smiles = metadata.get("smiles") or _from_comments(comments, "SMILES")
    inchikey = metadata.get("inchikey") or _from_comments(comments, "InChIKey")
    return {"peaks": np.asarray(peaks, dtype=np.float64).reshape(-1, 2),
            "smiles": smiles or None, "inchikey": inchikey or None, "metadata": metadata,
            "problem": "; ".join(problems) if problems else None}


def _from_comments(comments: str, key: str) -> Optional[str]:
    # MoNA puts structures in the MSP comment: "SMILES=..." "InChIKey=..."
    match = re.search(rf'"{key}=([^"]+)"', comments)
    return match.group(1) if match else None


class _RecordBuilder:
    """One record being read: its fields, peaks and the problems met."""

    def __init__(self):
        self.metadata: Dict[str, str] = {}
        self.peaks: List[List[float]] = []
        self.problems: List[str] = []

    @property
    def started(self) -> bool:
        return bool(self.metadata or self.peaks or self.problems)

    def add_peaks(self, line: str) -> None:
        pairs, problem = peak_pairs(line)
        self.peaks += pairs
        if problem:
            self.problems.append(problem)

    def record(self) -> Dict[str, Any]:
        return _record(self.metadata, self.peaks, self.problems)


def read_mgf(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of a Mascot Generic Format file (``BEGIN IONS`` ... ``END IONS``).

    A record whose ``END IONS`` is missing ends at the next ``BEGIN IONS`` or at the end of
    the file (kept whole); every peak line may hold several pairs (see :func:`peak_pairs`).
    A record that cannot be read whole has its reason in ``problem``.

    Examples
    --------
    >>> from deepchem_acml.data.sources import EMBEDDED_DIR
    >>> records = read_mgf(EMBEDDED_DIR / "spectra" / "gnps_pesticides.mgf.gz")
    >>> len(records), records[0]["peaks"].shape[1], records[0]["smiles"]
    (76, 2, 'C1=CC=C2C(=C1)NC(=N2)C3=CC=CO3')
    """
    records: List[Dict[str, Any]] = []
    current: Optional[_RecordBuilder] = None
    with _open_text(path) as handle:
        for line in handle:
            line = line.strip()
            if line == "BEGIN IONS":
                if current is not None:  # no END IONS: the record ends here, kept
                    records.append(current.record())
                current = _RecordBuilder()
            elif line == "END IONS":
                if current is not None:
                    records.append(current.record())
                current = None
            elif current is not None and line and "=" in line and not line[0].isdigit():
                key, value = line.split("=", 1)
                current.metadata[key.strip().lower()] = value.strip()
            elif current is not None and line:
                current.add_peaks(line)
    if current is not None and current.started:  # the file ended inside a record
        records.append(current.record())
    return records


def read_msp(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of an MSP file (``Name:`` ... ``Num Peaks: n`` then the peaks).

    Records end at a blank line or at the next ``Name:`` (records written without a blank
    line between them are not merged); peak lines may hold several pairs, separated as
    :func:`peak_pairs` reads them. A record whose peak count differs from its ``Num Peaks``
    has the reason in ``problem``.
    """
    records: List[Dict[str, Any]] = []
    current = _RecordBuilder()
    with _open_text(path) as handle:
        for line in handle:
            stripped = line.strip()
            is_field = ":" in stripped and not stripped[0].isdigit() if stripped else False
            starts_record = is_field and stripped.lower().startswith("name:")
            if (not stripped or starts_record) and current.started:
                records.append(_checked_msp(current))
                current = _RecordBuilder()
            if is_field:
                key, value = stripped.split(":", 1)
                current.metadata[key.strip().lower().replace(" ", "_")] = value.strip()
            elif stripped:
                current.add_peaks(stripped)
    if current.started:
        records.append(_checked_msp(current))
    return records


def _checked_msp(builder: _RecordBuilder) -> Dict[str, Any]:
    """The record, with a problem when its peaks disagree with its ``Num Peaks``."""
    stated = builder.metadata.get("num_peaks")
    if stated is not None and stated.strip().isdigit() and int(stated) != len(builder.peaks):
        builder.problems.append(f"Num Peaks says {int(stated)}, {len(builder.peaks)} read")
    return builder.record()


def read_jcamp(path: PathLike) -> List[Dict[str, Any]]:
    r"""The spectrum of a JCAMP-DX file (``.jdx``, ``.dx``; MS or NMR, peak table or XY data),
    read with the ``jcamp`` package (extra ``spectra``), as one record.

    NMR abscissae in Hz are converted to ppm with ``##.OBSERVE FREQUENCY`` (MHz); a
    structure is taken from ``##$SMILES`` or ``##$INCHIKEY`` where the file has them (JCAMP
    has no standard structure field).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = ("##TITLE=ethanol\n##JCAMP-DX=5.01\n##DATA TYPE=MASS SPECTRUM\n"
    ...         "##$SMILES=CCO\n##PEAK TABLE=(XY..XY)\n31,100 45,55\n46,20\n##END=\n")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ethanol.jdx"
    >>> _ = path.write_text(text)
    >>> record = read_jcamp(path)[0]
    >>> record["smiles"], record["peaks"].tolist()
    ('CCO', [[31.0, 100.0], [45.0, 55.0], [46.0, 20.0]])
    """
    try:
        import jcamp
    except ImportError:
        raise ImportError("reading JCAMP-DX needs the jcamp package: pip install "
                          "'deepchem-acml[spectra]'") from None
    try:
        data = jcamp.readfile(str(path))
    except Exception as err:  # jcamp raises whatever its parser meets
        raise ValueError(f"{path}: not a readable JCAMP-DX file ({type(err).__name__}: {err})") \
            from None
    x, y = np.asarray(data.get("x", []), float), np.asarray(data.get("y", []), float)
    if str(data.get("xunits", "")).upper() == "HZ" and data.get(".observe frequency"):
        x = x / float(data[".observe frequency"])  # Hz -> ppm
    metadata = {k: v for k, v in data.items() if k not in ("x", "y")}
    fields = {"smiles": metadata.get("$smiles", ""), "inchikey": metadata.get("$inchikey", ""),
              **{k: str(v) for k, v in metadata.items()}}
    if len(x) != len(y):
        return [_record(fields, [], [f"{len(x)} x values but {len(y)} y values"])]
    return [_record(fields, np.column_stack([x, y]).tolist())]


def read_with_matchms(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of the formats read through matchms (``.json``, ``.mzml``, ``.mzxml``), as
    this module's records; matchms must be installed (``tox -e matchms`` has it: its pins
    clash with the default environment's). A file matchms stops reading part-way is refused
    with the number of records read, not returned half."""
    try:
        from matchms import importing
    except ImportError:
        raise ImportError(f"{Path(path).name}: reading this format needs matchms "
                          "(pip install matchms==0.33.1, in an environment of its own: "
                          "`tox -e matchms`); MGF, MSP, JCAMP-DX and MassBank JSON-Lines "
                          "need nothing more") from None
    name = Path(path).name.lower().removesuffix(".gz")
    loader = {".json": importing.load_from_json, ".mzml": importing.load_from_mzml,
              ".mzxml": importing.load_from_mzxml}[Path(name).suffix]
    records: List[Dict[str, Any]] = []
    try:
        for spectrum in loader(str(path), metadata_harmonization=False):
            metadata = {str(k).lower(): v for k, v in spectrum.metadata.items()}
            peaks = np.column_stack([spectrum.peaks.mz, spectrum.peaks.intensities])
            records.append(_record({**metadata, "smiles": metadata.get("smiles") or "",
                                    "inchikey": metadata.get("inchikey") or ""},
                                   peaks.tolist()))
    except Exception as err:  # matchms/pyteomics raise what their parsers meet
        raise ValueError(f"{path}: matchms stopped after {len(records)} record(s) "
                         f"({type(err).__name__}: {err})") from None
    return records


READERS = {".mgf": read_mgf, ".msp": read_msp, ".jdx": read_jcamp, ".dx": read_jcamp,
           ".jcamp": read_jcamp, ".json": read_with_matchms, ".mzml": read_with_matchms,
           ".mzxml": read_with_matchms}


def read_spectrum_file(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of a file, by its name: MGF, MSP, JCAMP-DX (``.jdx``, ``.dx``), or through
    matchms JSON, mzML and mzXML (optionally ``.gz``)."""
    suffix = Path(Path(path).name.lower().removesuffix(".gz")).suffix
    if suffix not in READERS:
        raise ValueError(f"{path}: unknown spectrum file type; expected one of "
                         f"{', '.join(sorted(READERS))} (optionally .gz)")
    return READERS[suffix](path)


def records_frame(records: List[Dict[str, Any]]) -> pd.DataFrame:
    """Spectrum records as a frame with :data:`SPECTRUM_COLUMNS` (``accession``: the record's
    position in the file), then :data:`METADATA_COLUMNS` as :func:`read_massbank` gives them,
    ready for ``ACMLModel.build_dataset(frame.smiles, spectrum_inputs(frame))``. A record that
    could not be read whole has, as its spectrum, an
    :class:`~deepchem_acml.featurizers.spectra.UnreadableSpectrum` with the reason, which the
    featurizer reports for that row.

    The metadata, from MGF and MSP fields (keys in any case): ``precursor_mz`` from
    ``PEPMASS`` / ``PrecursorMZ``; ``adduct`` from ``ADDUCT`` / ``Precursor_type`` or, as GNPS
    writes it, the last word of ``NAME`` (``... M+H`` becomes ``[M+H]+``, the charge's sign
    from the ion mode or ``CHARGE``); ``ion_mode`` (``positive``/``negative``, None when
    unknown) from ``IONMODE`` / ``Ion_mode`` or the adduct's sign; ``collision_energy`` as
    written. A field that is absent or unknown is None (NaN for the precursor).

    Parameters
    ----------
    records : list of dict
        From :func:`read_spectrum_file` or one of the readers.

    Returns
    -------
    pandas.DataFrame
        One row per record, in file order.

    Examples
    --------
    >>> from deepchem_acml.data.sources import EMBEDDED_DIR
    >>> frame = records_frame(read_mgf(EMBEDDED_DIR / "spectra" / "gnps_pesticides.mgf.gz"))
    >>> float(frame.precursor_mz[0]), frame.adduct[0], frame.ion_mode[0]
    (183.057, '[M-H]-', 'negative')
    """
    from deepchem_acml.featurizers.spectra import UnreadableSpectrum

    rows = []
    for i, r in enumerate(records):
        metadata = r["metadata"]
        mode = _file_ion_mode(metadata)
        adduct = _file_adduct(metadata, mode)
        if mode is None and adduct and adduct[-1] in "+-":
            mode = "positive" if adduct[-1] == "+" else "negative"
        energy = metadata.get("collision_energy") or metadata.get("collisionenergy")
        rows.append((r["inchikey"], r["smiles"], i,
                     r["peaks"] if not r.get("problem") else UnreadableSpectrum(r["problem"]),
                     _file_precursor(metadata), adduct, mode, energy or None))
    return pd.DataFrame(rows, columns=SPECTRUM_COLUMNS + list(METADATA_COLUMNS))


def _file_precursor(metadata: Dict[str, str]) -> float:
    """The precursor m/z of an MGF (``PEPMASS``, first value) or MSP (``PrecursorMZ``) record."""
    text = (metadata.get("pepmass") or metadata.get("precursormz")
            or metadata.get("precursor_mz") or "nan")
    return _number(text.split()[0]) if text.split() else float("nan")


_ION_MODES = {"positive": "positive", "pos": "positive", "p": "positive", "+": "positive",
              "negative": "negative", "neg": "negative", "n": "negative", "-": "negative"}
#: an adduct as files write it: ``[M+H]+``, ``[M-H2O+H]1+``, ``[2M+Na]+``, ``M+H``, ``M-H``,
#: ``M+``, ``[M]+*`` (the part in brackets, then the charge)
_ADDUCT = re.compile(r"^\[?(\d*M(?:[+-]\d*[A-Za-z][A-Za-z0-9]*)*)\]?(\d*[+-]\*?)?$")


def _file_ion_mode(metadata: Dict[str, str]) -> Optional[str]:
    """``positive``/``negative`` from ``IONMODE`` (MGF) or ``Ion_mode`` (MSP), else None."""
    text = str(metadata.get("ionmode") or metadata.get("ion_mode") or "").strip().lower()
    return _ION_MODES.get(text)


def _file_adduct(metadata: Dict[str, str], mode: Optional[str]) -> Optional[str]:
    """The adduct of an MGF or MSP record, bracketed with its charge (``[M+H]+``), or None."""
    for key in ("adduct", "precursor_type", "precursortype"):
        written = str(metadata.get(key) or "").strip()
        if written:
            return _bracketed_adduct(written, metadata, mode) or written
    words = str(metadata.get("name") or "").split()
    return _bracketed_adduct(words[-1], metadata, mode) if len(words) > 1 else None


def _bracketed_adduct(text: str, metadata: Dict[str, str], mode: Optional[str]
                      ) -> Optional[str]:
    """``text`` as ``[M+H]+``: the charge as written, else its sign from the ion mode, else
    from ``CHARGE`` (``1+``, ``-1``); None when ``text`` is no adduct or has no sign to be
    had, or is a bare ``M`` (which names no adduct)."""
    match = _ADDUCT.match(text.strip())
    if not match or (match.group(1) == "M" and not match.group(2)):
        return None
    charge = match.group(2)
    if not charge:
        sign = {"positive": "+", "negative": "-"}.get(mode or "")
        charge_field = str(metadata.get("charge") or "").strip()
        if sign is None and charge_field[-1:] in ("+", "-"):
            sign = charge_field[-1]
        elif sign is None and charge_field[:1] in ("+", "-"):
            sign = charge_field[0]
        if sign is None:
            return None
        charge = sign
    return f"[{match.group(1)}]{charge}"


def iter_massbank(path: PathLike) -> Iterator[Dict[str, Any]]:
    """Records of the MassBank JSON-Lines export (shared data folder)."""
    with _open_text(path) as handle:
        for line in handle:
            yield json.loads(line)


def read_massbank(path: Optional[PathLike] = None, kind: str = "lc",
                  all_spectra: bool = False) -> pd.DataFrame:
    """Spectra of MassBank: ``kind="lc"`` takes LC-MS/MS (MS2, not EI) records, ``kind="gc"``
    GC-MS (EI) records.

    By default one spectrum per compound: positive-mode ``[M+H]+`` spectra are preferred for
    LC-MS/MS, then the lowest accession, so the choice is deterministic and each compound is
    one pair. ``all_spectra=True`` keeps every record (several per compound: collision
    energies, instruments), for encoders that learn from spectra of one compound.

    Columns: :data:`SPECTRUM_COLUMNS`, then ``precursor_mz`` (NaN where the record has none,
    as EI records), ``adduct``, ``ion_mode`` (``"positive"``/``"negative"``/None) and
    ``collision_energy`` (the record's text, or None). :func:`spectrum_inputs` joins them
    into the inputs of :class:`~deepchem_acml.featurizers.spectra.TandemSpectrumFeaturizer`.

    Parameters
    ----------
    path : str or path-like, optional
        The MassBank JSON-Lines export (default: the shared data folder's).
    kind : {"lc", "gc"}, default="lc"
        LC-MS/MS or GC-MS (EI) records.
    all_spectra : bool, default=False
        Every record instead of one per compound.

    Returns
    -------
    pandas.DataFrame
        One row per spectrum, in accession order.

    Examples
    --------
    >>> from deepchem_acml.data.sources import EMBEDDED_MASSBANK
    >>> frame = read_massbank(EMBEDDED_MASSBANK, kind="lc")
    >>> len(frame), list(frame.columns[4:])
    (300, ['precursor_mz', 'adduct', 'ion_mode', 'collision_energy'])
    """
    from deepchem_acml.data.sources import shared_data_dir

    if kind not in ("lc", "gc"):
        raise ValueError(f"kind must be 'lc' (LC-MS/MS) or 'gc' (GC-MS, EI), got {kind!r}")
    path = (Path(path) if path is not None
            else shared_data_dir() / "massbank" / "massbank_open.jsonl.gz")
    chosen: Dict[str, tuple] = {}
    for record in iter_massbank(path):
        is_ei = bool(record.get("is_EI"))
        ms = record.get("ms") or {}
        if (kind == "gc") != is_ei or (kind == "lc" and ms.get("MS_TYPE", "") != "MS2"):
            continue
        key = (record.get("links") or {}).get("INCHIKEY") or record.get("smiles")
        if not key:
            continue
        precursor = (record.get("focused") or {}).get("PRECURSOR_TYPE", "")
        rank = (ms.get("ION_MODE", "") != "POSITIVE", precursor != "[M+H]+", record["accession"])
        if all_spectra:
            chosen[record["accession"]] = (rank, record)
        elif key not in chosen or rank < chosen[key][0]:
            chosen[key] = (rank, record)
    rows = [_massbank_row(r)
            for _, r in sorted(chosen.values(), key=lambda item: item[1]["accession"])]
    return pd.DataFrame(rows, columns=SPECTRUM_COLUMNS + ["precursor_mz", "adduct", "ion_mode",
                                                          "collision_energy"])


def _massbank_row(record: Dict[str, Any]) -> tuple:
    ms = record.get("ms") or {}
    mode = str(ms.get("ION_MODE") or "").lower() or None
    return ((record.get("links") or {}).get("INCHIKEY"), record.get("smiles"),
            record["accession"], np.asarray(record["peaks"], dtype=np.float64).reshape(-1, 2),
            *_precursor(record), mode, ms.get("COLLISION_ENERGY"))


#: frame columns :func:`spectrum_inputs` copies into each spectrum's dict
METADATA_COLUMNS = ("precursor_mz", "adduct", "ion_mode", "collision_energy")


def spectrum_inputs(frame: pd.DataFrame) -> List[Any]:
    """Each row's spectrum with the row's metadata (:data:`METADATA_COLUMNS` the frame has),
    as the dicts :class:`~deepchem_acml.featurizers.spectra.TandemSpectrumFeaturizer` reads
    (``mz``, ``intensities``, ``precursor_mz``, ...); the peak-only featurizers read them too.
    A spectrum is an (n, 2) peak array, or peak text (a CSV cell) in any style
    :func:`~deepchem_acml.featurizers.spectra.parse_peak_list` reads. Anything else (an
    :class:`~deepchem_acml.featurizers.spectra.UnreadableSpectrum`, None, text that does not
    parse) is passed through unchanged, for the featurizer to report.

    Parameters
    ----------
    frame : pandas.DataFrame
        A ``spectrum`` column and any of :data:`METADATA_COLUMNS`.

    Returns
    -------
    list
        One input per row, in row order.

    Examples
    --------
    >>> frame = pd.DataFrame({"spectrum": [np.array([[41.0, 100.0], [57.1, 20.0]]), None,
    ...                                    "41:100;57.1:20"],
    ...                       "precursor_mz": [75.08, float("nan"), 75.08]})
    >>> first, second, third = spectrum_inputs(frame)
    >>> first["mz"].tolist(), float(first["precursor_mz"]), second
    ([41.0, 57.1], 75.08, None)
    >>> third["intensities"].tolist(), float(third["precursor_mz"])
    ([100.0, 20.0], 75.08)
    """
    from deepchem_acml.featurizers.base import FeaturizationError
    from deepchem_acml.featurizers.spectra import UnreadableSpectrum, parse_peak_list

    present = [c for c in METADATA_COLUMNS if c in frame.columns]
    inputs = []
    for position, spectrum in enumerate(frame["spectrum"]):
        peaks = np.asarray(spectrum) if isinstance(spectrum, (list, np.ndarray)) else None
        if isinstance(spectrum, str) and not isinstance(spectrum, UnreadableSpectrum):
            try:
                peaks = np.column_stack(parse_peak_list(spectrum))
            except FeaturizationError:
                peaks = None  # the featurizer reports it, with the same reason
        if peaks is None or peaks.ndim != 2 or peaks.shape[1] != 2:
            inputs.append(spectrum)
            continue
        row = {c: frame[c].iat[position] for c in present}
        inputs.append({"mz": peaks[:, 0], "intensities": peaks[:, 1],
                       **{c: v for c, v in row.items() if not _is_blank(v)}})
    return inputs


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _precursor(record: Dict[str, Any]) -> tuple:
    """(precursor m/z or NaN, adduct or None) of a MassBank record (EI records have none)."""
    focused = record.get("focused") or {}
    adduct = focused.get("PRECURSOR_TYPE") or focused.get("ION_TYPE")
    return _number(str(focused.get("PRECURSOR_M/Z", "nan")).split()[0]), adduct
