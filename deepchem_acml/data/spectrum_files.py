"""Readers for the mass-spectrum exchange formats users have: MGF, MSP (NIST/MoNA/MassBank
exports) and the MassBank JSON-Lines export in the shared data folder.

Every reader returns one record per spectrum, in file order, as a dict with ``peaks`` (an
``(n, 2)`` float array of m/z and intensity; a value that does not parse becomes NaN, so the
featurizer reports that spectrum instead of the reader dropping it), ``smiles``, ``inchikey``
(None when the file has none) and ``metadata`` (the other fields, keys lower-cased).
JCAMP-DX is not read: its MS variant is rare in public libraries and has no SMILES field.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

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


def _peak_row(line: str) -> List[float]:
    fields = re.split(r"[\s,;:]+", line.strip())
    return [_number(fields[0]), _number(fields[1]) if len(fields) > 1 else float("nan")]


def _record(metadata: Dict[str, str], peaks: List[List[float]]) -> Dict[str, Any]:
    comments = metadata.get("comments", "")
    smiles = metadata.get("smiles") or _from_comments(comments, "SMILES")
    inchikey = metadata.get("inchikey") or _from_comments(comments, "InChIKey")
    return {"peaks": np.asarray(peaks, dtype=np.float64).reshape(-1, 2),
            "smiles": smiles or None, "inchikey": inchikey or None, "metadata": metadata}


def _from_comments(comments: str, key: str) -> Optional[str]:
    # MoNA puts structures in the MSP comment: "SMILES=..." "InChIKey=..."
    match = re.search(rf'"{key}=([^"]+)"', comments)
    return match.group(1) if match else None


def read_mgf(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of a Mascot Generic Format file (``BEGIN IONS`` ... ``END IONS``).

    Examples
    --------
    >>> from deepchem_acml.data.sources import EMBEDDED_DIR
    >>> records = read_mgf(EMBEDDED_DIR / "spectra" / "gnps_pesticides.mgf.gz")
    >>> len(records), records[0]["peaks"].shape[1], records[0]["smiles"]
    (76, 2, 'C1=CC=C2C(=C1)NC(=N2)C3=CC=CO3')
    """
    records, metadata, peaks, inside = [], {}, [], False
    with _open_text(path) as handle:
        for line in handle:
            line = line.strip()
            if line == "BEGIN IONS":
                metadata, peaks, inside = {}, [], True
            elif line == "END IONS":
                records.append(_record(metadata, peaks))
                inside = False
            elif inside and line and "=" in line and not line[0].isdigit():
                key, value = line.split("=", 1)
                metadata[key.strip().lower()] = value.strip()
            elif inside and line:
                peaks.append(_peak_row(line))
    return records


def read_msp(path: PathLike) -> List[Dict[str, Any]]:
    """Spectra of an MSP file (``Name:`` ... ``Num Peaks: n`` then n peak lines; records
    separated by blank lines)."""
    records: List[Dict[str, Any]] = []
    metadata: Dict[str, str] = {}
    peaks: List[List[float]] = []
    with _open_text(path) as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped:
                if metadata or peaks:
                    records.append(_record(metadata, peaks))
                metadata, peaks = {}, []
            elif ":" in stripped and not stripped[0].isdigit():
                key, value = stripped.split(":", 1)
                metadata[key.strip().lower().replace(" ", "_")] = value.strip()
            else:
                # several "mz intensity" pairs may share a line (separated by ';')
                for pair in filter(None, (p.strip() for p in stripped.split(";"))):
                    peaks.append(_peak_row(pair))
    if metadata or peaks:
        records.append(_record(metadata, peaks))
    return records


def read_spectrum_file(path: PathLike) -> List[Dict[str, Any]]:
    """MGF or MSP, by file name (``.mgf``, ``.msp``, optionally ``.gz``)."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".mgf"):
        return read_mgf(path)
    if name.endswith(".msp"):
        return read_msp(path)
    raise ValueError(f"{path}: unknown spectrum file type; expected .mgf or .msp (optionally .gz)")


def records_frame(records: List[Dict[str, Any]]) -> pd.DataFrame:
    """Spectrum records as a frame with :data:`SPECTRUM_COLUMNS` (``accession``: the record's
    position in the file), ready for ``ACMLModel.build_dataset(frame.smiles, frame.spectrum)``."""
    return pd.DataFrame([(r["inchikey"], r["smiles"], i, r["peaks"]) for i, r in enumerate(records)],
                        columns=SPECTRUM_COLUMNS)


def iter_massbank(path: PathLike) -> Iterator[Dict[str, Any]]:
    """Records of the MassBank JSON-Lines export (shared data folder)."""
    with _open_text(path) as handle:
        for line in handle:
            yield json.loads(line)


def read_massbank(path: Optional[PathLike] = None, kind: str = "lc") -> pd.DataFrame:
    """One spectrum per compound from MassBank: ``kind="lc"`` takes LC-MS/MS (MS2, not EI)
    records, ``kind="gc"`` GC-MS (EI) records. Several spectra per compound: positive-mode
    ``[M+H]+`` spectra are preferred for LC-MS/MS, then the lowest accession, so the choice is
    deterministic and each compound is one pair. Columns: :data:`SPECTRUM_COLUMNS`, then
    ``precursor_mz`` (NaN where the record has none, as EI records) and ``adduct``."""
    from deepchem_acml.data.sources import shared_data_dir

    if kind not in ("lc", "gc"):
        raise ValueError(f"kind must be 'lc' (LC-MS/MS) or 'gc' (GC-MS, EI), got {kind!r}")
    path = Path(path) if path is not None else shared_data_dir() / "massbank" / "massbank_open.jsonl.gz"
    best: Dict[str, tuple] = {}
    for record in iter_massbank(path):
        is_ei = bool(record.get("is_EI"))
        ms_type = (record.get("ms") or {}).get("MS_TYPE", "")
        if (kind == "gc") != is_ei or (kind == "lc" and ms_type != "MS2"):
            continue
        key = (record.get("links") or {}).get("INCHIKEY") or record.get("smiles")
        if not key:
            continue
        ion_mode = (record.get("ms") or {}).get("ION_MODE", "")
        precursor = (record.get("focused") or {}).get("PRECURSOR_TYPE", "")
        rank = (ion_mode != "POSITIVE", precursor != "[M+H]+", record["accession"])
        if key not in best or rank < best[key][0]:
            best[key] = (rank, record)
    rows = [((r.get("links") or {}).get("INCHIKEY"), r.get("smiles"), r["accession"],
             np.asarray(r["peaks"], dtype=np.float64).reshape(-1, 2), *_precursor(r))
            for _, r in sorted(best.values(), key=lambda item: item[1]["accession"])]
    return pd.DataFrame(rows, columns=SPECTRUM_COLUMNS + ["precursor_mz", "adduct"])


def _precursor(record: Dict[str, Any]) -> tuple:
    """(precursor m/z or NaN, adduct or None) of a MassBank record (EI records have none)."""
    focused = record.get("focused") or {}
    adduct = focused.get("PRECURSOR_TYPE") or focused.get("ION_TYPE")
    return _number(str(focused.get("PRECURSOR_M/Z", "nan")).split()[0]), adduct
