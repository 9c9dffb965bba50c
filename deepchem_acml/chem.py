"""RDKit parsing used across the package: one place that turns SMILES into molecules."""
from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator, Optional, Sequence

#: Heavy atoms beyond which the embedding faces (``ACMLFeaturizer``, ``ACMLEmbedder``, ``acml
#: embed``) report a molecule instead of embedding it. Sum-pooled embeddings grow with the
#: atom count (a 5,000-carbon chain reached values of 14,742; ethanol about 7.7), far outside
#: anything ACML trains on (MOSES: at most 27 heavy atoms; nmrshiftdb2: about 100); the
#: largest MoleculeNet molecule (SIDER) has 492.
MAX_EMBEDDED_ATOMS = 500

#: Items beyond which a per-molecule RDKit pass (InChIKeys, heavy-atom filter, graphs) shows a
#: progress bar by default: 20,000 molecules are about a minute's work here, and 500k
#: pretraining molecules otherwise spend a silent quarter of an hour before training.
PROGRESS_THRESHOLD = 20000


def with_progress(items: Sequence, desc: str, progress: Optional[bool] = None) -> Iterable:
    """``items`` as a tqdm iterator that shows a bar when ``progress`` is true (``None``: when
    there are more than :data:`PROGRESS_THRESHOLD` of them); the bar disappears when done."""
    from tqdm.auto import tqdm

    show = len(items) > PROGRESS_THRESHOLD if progress is None else progress
    return tqdm(items, desc=desc, unit="mol", disable=not show, leave=False)


_quiet_depth = 0


@contextlib.contextmanager
def rdkit_quiet() -> Iterator[None]:
    """Silence RDKit's log inside the block (callers report failures themselves, with the
    row). Re-entrant; entering it once around a loop is much cheaper than once per molecule."""
    from rdkit import RDLogger

    global _quiet_depth
    if _quiet_depth == 0:
        RDLogger.DisableLog("rdApp.*")
    _quiet_depth += 1
    try:
        yield
    finally:
        _quiet_depth -= 1
        if _quiet_depth == 0:
            RDLogger.EnableLog("rdApp.*")


def is_mol(value: Any) -> bool:
    """An RDKit molecule, ``RWMol`` included (RDKit is imported only for values of an RDKit
    type)."""
    if not (type(value).__module__ or "").startswith("rdkit"):
        return False
    from rdkit import Chem

    return isinstance(value, Chem.Mol)


def mol_from_smiles(smiles: Any) -> Optional["Chem.Mol"]:  # noqa: F821
    """An RDKit molecule, or None for anything that is not a SMILES RDKit can parse.

    RDKit's own parse errors are silenced: callers report failures themselves, with the row.
    """
    from rdkit import Chem

    if not isinstance(smiles, str) or not smiles.strip():
        return None
    if _quiet_depth:  # already inside rdkit_quiet (featurizing a list): skip the context cost
        return Chem.MolFromSmiles(smiles)
    with rdkit_quiet():
        return Chem.MolFromSmiles(smiles)
