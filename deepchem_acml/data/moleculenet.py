"""The MoleculeNet files shipped with the package (ESOL, BBBP) and the shared full set."""
from __future__ import annotations

from pathlib import Path

from deepchem_acml.data.sources import EMBEDDED_DIR, shared_data_dir

EMBEDDED_MOLECULENET = EMBEDDED_DIR / "moleculenet"


def moleculenet_dir(task: str = "delaney") -> Path:
    """A ``data_dir`` for ``dc.molnet.load_<task>``: the embedded copy for ESOL and BBBP,
    otherwise the shared data folder (clear error when it is missing)."""
    if task in ("delaney", "bbbp"):
        return EMBEDDED_MOLECULENET
    return shared_data_dir() / "moleculenet"
