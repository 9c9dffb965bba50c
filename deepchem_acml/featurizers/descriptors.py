"""Molecule-level features: RDKit's 2-D descriptors, the one implementation behind the
descriptor-augmented property model (``ACMLPropertyModel(molecule_features="rdkit_2d")``)
and the benchmark's descriptor baselines."""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

#: the molecule-level feature sets a model or featurizer can add to the graph
MOLECULE_FEATURES = ("rdkit_2d",)


def check_molecule_features(name: Any) -> Any:
    """``name`` if it is ``None`` or one of :data:`MOLECULE_FEATURES`, else a clear error."""
    if name is not None and name not in MOLECULE_FEATURES:
        raise ValueError(f"molecule_features must be None or one of {MOLECULE_FEATURES}, "
                         f"got {name!r}")
    return name


def rdkit_descriptor_names() -> List[str]:
    """The names of the columns :func:`rdkit_descriptors` returns, in order."""
    from rdkit.Chem import Descriptors

    return [name for name, _ in Descriptors.descList]


def rdkit_descriptors(molecules: Sequence[Any]) -> np.ndarray:
    """RDKit's 2-D descriptors (``Descriptors.CalcMolDescriptors``) of SMILES or RDKit
    molecules, float32, one row per molecule.

    Values that are not finite or beyond float32's range (RDKit's ``Ipc`` of large molecules)
    are NaN: whoever reads them imputes them from a training split.

    Parameters
    ----------
    molecules : sequence of str or rdkit.Chem.Mol
        Parseable SMILES or molecules (an unparseable SMILES raises ``ValueError``).

    Returns
    -------
    numpy.ndarray
        ``(len(molecules), len(rdkit_descriptor_names()))`` float32.

    Examples
    --------
    >>> X = rdkit_descriptors(["CCO", "c1ccccc1"])
    >>> X.shape[0], X.dtype, X.shape[1] == len(rdkit_descriptor_names())
    (2, dtype('float32'), True)
    >>> float(X[0, rdkit_descriptor_names().index("NumHDonors")])
    1.0
    """
    from rdkit.Chem import Descriptors

    from deepchem_acml.chem import is_mol, mol_from_smiles, rdkit_quiet

    rows = []
    with rdkit_quiet():  # (some descriptors warn about explicit hydrogens, once a molecule)
        for item in molecules:
            mol = item if is_mol(item) else mol_from_smiles(item)
            if mol is None:
                raise ValueError(f"RDKit could not parse the SMILES {item!r}")
            rows.append(list(Descriptors.CalcMolDescriptors(mol).values()))
    out = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    out[~np.isfinite(out) | (np.abs(out) > 1e30)] = np.nan
    return out.astype(np.float32)
