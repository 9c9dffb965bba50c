"""Reading nmrshiftdb2 peak lists (the JSON-Lines export in shared/data, or the embedded subset).

Several spectra of one nucleus per compound: the one with the lowest index
(``Spectrum 13C 0`` before ``Spectrum 13C 1``) is used, so each compound is one pair.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional, Tuple, Union

import pandas as pd

from deepchem_acml.data.sources import EMBEDDED_NMR_1H, EMBEDDED_NMR_13C, shared_data_dir
from deepchem_acml.files import open_text

COLUMNS = ["inchikey", "smiles", "nmrshiftdb2_id", "spectrum"]


def nmrshiftdb2_path() -> Path:
    """The full nmrshiftdb2 file in the shared data folder (clear error when it is missing)."""
    return shared_data_dir() / "nmrshiftdb2" / "nmrshiftdb2.jsonl.gz"


def read_nmrshiftdb2(path: Optional[Union[str, Path]] = None, nucleus: str = "13C",
                     limit: Optional[int] = None) -> pd.DataFrame:
    """Compounds with a spectrum of ``nucleus``, one row each (columns: :data:`COLUMNS`).

    ``spectrum`` is the nmrshiftdb2 peak-list string (``shift;multiplicity;atom|...``).
    """
    path = Path(path) if path is not None else nmrshiftdb2_path()
    key = re.compile(rf"^Spectrum {re.escape(nucleus)} (\d+)$")
    rows = []
    with open_text(path) as handle:
        for line in handle:
            record = json.loads(line)
            spectra = sorted((int(m.group(1)), k) for k in record
                             if (m := key.match(k)))
            if not spectra:
                continue
            rows.append((record["INChI key"], record["SMILES"], record["nmrshiftdb2 ID"],
                         record[spectra[0][1]]))
            if limit is not None and len(rows) >= limit:
                break
    return pd.DataFrame(rows, columns=COLUMNS)


def read_embedded_nmr_13c(path: Union[str, Path] = EMBEDDED_NMR_13C) -> pd.DataFrame:
    """The nmrshiftdb2 13C subset shipped with the package (see datasets/SOURCE.md)."""
    return pd.read_csv(path, dtype={"nmrshiftdb2_id": "int64"})


def read_embedded_nmr_1h() -> pd.DataFrame:
    """The 500-compound nmrshiftdb2 1H subset shipped with the package (for tests)."""
    return read_embedded_nmr_13c(EMBEDDED_NMR_1H)


def heavy_atom_filter(frame: pd.DataFrame, min_atoms: int = 3, max_atoms: int = 50,
                      progress: Optional[bool] = None) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (kept, removed) by heavy-atom count, as the ACML reference filters.

    ``removed`` has a ``reason`` column, so the filter never drops rows without a trace.
    Rows whose SMILES does not parse are removed with that reason. ``progress``: a progress
    bar (default: for large frames, see :func:`deepchem_acml.chem.with_progress`).
    """
    from deepchem_acml.chem import mol_from_smiles, with_progress

    reasons = []
    for smiles in with_progress(frame["smiles"].tolist(), "heavy-atom filter", progress):
        mol = mol_from_smiles(smiles)
        if mol is None:
            reasons.append("RDKit could not parse the SMILES")
            continue
        n = mol.GetNumHeavyAtoms()
        reasons.append(None if min_atoms <= n <= max_atoms else
                       f"{n} heavy atoms, outside {min_atoms}..{max_atoms}")
    reasons = pd.Series(reasons, index=frame.index)
    removed = frame[reasons.notna()].assign(reason=reasons[reasons.notna()])
    return frame[reasons.isna()], removed
