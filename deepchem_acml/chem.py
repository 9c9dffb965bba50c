"""RDKit parsing used across the package: one place that turns SMILES into molecules."""
from __future__ import annotations

from typing import Any, Optional


def mol_from_smiles(smiles: Any) -> Optional["Chem.Mol"]:  # noqa: F821
    """An RDKit molecule, or None for anything that is not a SMILES RDKit can parse.

    RDKit's own parse errors are silenced: callers report failures themselves, with the row.
    """
    from rdkit import Chem, RDLogger

    if not isinstance(smiles, str) or not smiles.strip():
        return None
    RDLogger.DisableLog("rdApp.*")
    try:
        return Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
