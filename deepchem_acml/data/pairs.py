"""Paired data for each modality: molecules (SMILES) with the modality's raw input, read from
the shared data folder or from a user's file."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

import pandas as pd

#: the column holding each modality's raw input (the SMILES and image modalities draw on the
#: SMILES themselves)
MODALITY_INPUT_COLUMN = {"nmr_13c": "spectrum", "nmr_1h": "spectrum", "ms_lc": "spectrum",
                         "ms_gc": "spectrum", "smiles": "smiles", "image": "smiles"}
NUCLEUS_OF = {"nmr_13c": "13C", "nmr_1h": "1H"}
MASSBANK_KIND_OF = {"ms_lc": "lc", "ms_gc": "gc"}


def default_data_path(modality: str) -> Path:
    """The shared data file a modality pretrains on (clear error when the folder is missing)."""
    from deepchem_acml.data.nmrshiftdb2 import nmrshiftdb2_path
    from deepchem_acml.data.sources import moses_smiles_path, shared_data_dir

    if modality in NUCLEUS_OF:
        return nmrshiftdb2_path()
    if modality in MASSBANK_KIND_OF:
        return shared_data_dir() / "massbank" / "massbank_open.jsonl.gz"
    return moses_smiles_path()


def read_pairs(modality: str, path: Optional[Union[str, Path]] = None,
               max_molecules: Optional[int] = None, all_spectra: bool = False
               ) -> Tuple[pd.DataFrame, str]:
    """(frame with ``smiles``, the input column and usually ``inchikey``; a description of the
    source). Files: nmrshiftdb2 or MassBank ``.jsonl.gz``, ``.mgf``/``.msp`` spectra, or a CSV
    with ``smiles`` and the input column; ``.jdx``/``.dx`` (JCAMP-DX) and, through matchms,
    ``.json``/``.mzML``/``.mzXML`` spectra too. Mass spectra come as dicts with their
    precursor m/z, adduct, ion mode and collision energy where the source has them
    (:func:`~deepchem_acml.data.spectrum_files.spectrum_inputs`). ``all_spectra``: every
    MassBank spectrum of a compound as its own row (default: one per compound). A modality
    registered by users has no default data: it reads ``path`` (a CSV's ``spectrum`` column
    is its input)."""
    from deepchem_acml.data.nmrshiftdb2 import read_nmrshiftdb2
    from deepchem_acml.data.spectrum_files import (
        READERS,
        read_massbank,
        read_spectrum_file,
        records_frame,
        spectrum_inputs,
    )

    if modality not in MODALITY_INPUT_COLUMN and path is None:  # a modality users registered
        raise ValueError(f"modality {modality!r} has no default data (only "
                         f"{sorted(MODALITY_INPUT_COLUMN)} have); pass a CSV with columns "
                         "smiles and spectrum (the modality's input), or a spectrum file")
    path = Path(path) if path is not None else default_data_path(modality)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".jsonl") and modality in NUCLEUS_OF:
        frame = read_nmrshiftdb2(path, nucleus=NUCLEUS_OF[modality])
    elif name.endswith(".jsonl") and modality in MASSBANK_KIND_OF:
        frame = read_massbank(path, kind=MASSBANK_KIND_OF[modality], all_spectra=all_spectra)
    elif name.endswith(tuple(READERS)):
        frame = records_frame(read_spectrum_file(path))
    else:
        # peak text stays text: a column of single shifts ("170.2") would become floats
        frame = pd.read_csv(path, nrows=max_molecules, dtype={"spectrum": str})
        frame.columns = ["smiles" if c.lower() == "smiles" else c for c in frame.columns]
    if max_molecules is not None:
        frame = frame.head(max_molecules)
    if modality in MASSBANK_KIND_OF and "spectrum" in frame.columns:
        frame = frame.assign(spectrum=spectrum_inputs(frame))  # metadata for the MS encoders
    return frame.reset_index(drop=True), str(path)


def inchikeys_of(smiles, progress: Optional[bool] = None) -> list:
    """InChIKeys of SMILES (a unique placeholder where RDKit cannot parse one); ``progress``:
    a progress bar (default: for large inputs, see :func:`deepchem_acml.chem.with_progress`)."""
    from rdkit import Chem

    from deepchem_acml.chem import mol_from_smiles, rdkit_quiet, with_progress

    keys = []
    with rdkit_quiet():  # InChI warnings: a failed key is handled just below
        for s in with_progress(list(smiles), "InChIKeys", progress):
            mol = mol_from_smiles(s)
            key = Chem.MolToInchiKey(mol) if mol is not None else ""
            keys.append(key or f"unparsed-{len(keys)}")
    return keys


def with_inchikeys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an ``inchikey`` column for the InChIKey split: kept when the source gave
    one for every row, otherwise computed from the SMILES for all rows (one rule, so the frozen
    encoder's pretraining and ACML split a data set the same way)."""
    if "inchikey" in frame.columns and frame["inchikey"].notna().all():
        return frame
    return frame.assign(inchikey=inchikeys_of(frame["smiles"]))
