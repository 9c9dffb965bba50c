"""Where data lives: the embedded demo subset (in the package) and the shared data folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

DATA_DIR_ENV = "ACML_DATA_DIR"
EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "datasets"
EMBEDDED_NMR_13C = EMBEDDED_DIR / "nmrshiftdb2_13c_demo.csv.gz"
EMBEDDED_NMR_1H = EMBEDDED_DIR / "nmrshiftdb2_1h_subset.csv.gz"
EMBEDDED_MASSBANK = EMBEDDED_DIR / "spectra" / "massbank_subset.jsonl.gz"


class DataNotFoundError(FileNotFoundError):
    """The full data set a benchmark or pretraining run needs is not on this machine."""


def shared_data_dir(required: bool = True) -> Optional[Path]:
    """The folder holding the full public data sets (``nmrshiftdb2/``, ``moleculenet/``...).

    Looked up in ``$ACML_DATA_DIR``, then ``../shared/data`` beside the repository checkout
    or the current folder.
    """
    candidates = []
    if os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]))
    repository = Path(__file__).resolve().parents[2]
    candidates += [repository.parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
                   Path.cwd() / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if required:
        raise DataNotFoundError(
            "The full data sets are not here: looked in "
            + ", ".join(str(c) for c in candidates)
            + f". Set {DATA_DIR_ENV} to the folder that holds nmrshiftdb2/, massbank/, "
            "moleculenet/ ... (the project's shared/data). The demo and the tests do not need "
            "it: they use the subset embedded in the package.")
    return None


def moses_smiles_path() -> Path:
    """The MOSES training SMILES (1.58M ZINC molecules, MIT) in the shared data folder."""
    path = shared_data_dir() / "moses" / "train.csv.gz"
    if not path.is_file():
        raise DataNotFoundError(f"no MOSES SMILES at {path} (the shared data folder's moses/)")
    return path
