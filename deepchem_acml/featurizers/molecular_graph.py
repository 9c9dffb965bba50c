"""Molecular graphs with the Hu et al. (2020) / OGB-style inputs that ACML's GIN reads, as
plain arrays: RDKit and numpy only, no DeepChem, so the embedding path starts in a second.
:class:`~deepchem_acml.featurizers.graph.ACMLGraphFeaturizer` is the DeepChem featurizer
built on it (its graphs are ``dc.feat.GraphData``)."""
from __future__ import annotations

import functools
from typing import Any, Iterable, List, NamedTuple, Optional

import numpy as np

from deepchem_acml.featurizers.base import FeaturizationError, ReportingFeaturizerMixin

# Vocabulary sizes the encoder's embedding tables are built for. Index NUM_ATOM_TYPES - 1 and
# bond type SELF_LOOP_BOND_TYPE are reserved (mask token, self-loop edges added by the encoder).
NUM_ATOM_TYPES = 120
NUM_CHIRALITY_TAGS = 4
NUM_BOND_TYPES = 5
NUM_BOND_DIRECTIONS = 3
SELF_LOOP_BOND_TYPE = 4

#: The atom inputs a featurizer writes and an encoder reads: ``"hu"`` (Hu et al. 2020 and ACML:
#: atomic number and chirality) or ``"rich"`` (those two, then the other atom properties of
#: OGB's full atom featurization, below).
ATOM_FEATURES = ("hu", "rich")
#: The columns ``"rich"`` appends after the Hu codes, with their vocabulary sizes (the last
#: index of each takes every larger or unknown value).
RICH_ATOM_VOCABULARY = (("degree", 11), ("formal_charge", 11), ("total_hydrogens", 9),
                        ("radical_electrons", 5), ("hybridization", 7), ("aromatic", 2),
                        ("in_ring", 2))


@functools.lru_cache(maxsize=None)
def _chirality_codes():
    from rdkit.Chem import ChiralType
    return {
        ChiralType.CHI_UNSPECIFIED: 0,
        ChiralType.CHI_TETRAHEDRAL_CW: 1,
        ChiralType.CHI_TETRAHEDRAL_CCW: 2,
    }


@functools.lru_cache(maxsize=None)
def _hybridization_codes():
    from rdkit.Chem import HybridizationType as H
    return {H.SP: 0, H.SP2: 1, H.SP3: 2, H.SP3D: 3, H.SP3D2: 4, H.S: 5}


def rich_atom_codes(atoms) -> np.ndarray:
    """(n_atoms, 7) codes of :data:`RICH_ATOM_VOCABULARY` for a molecule's RDKit atoms:
    degree, formal charge + 5, total hydrogens, radical electrons, hybridization (SP, SP2,
    SP3, SP3D, SP3D2, S, other), aromatic, in a ring; each clipped to its vocabulary."""
    hybridization = _hybridization_codes()
    codes = np.array([[atom.GetDegree(), atom.GetFormalCharge() + 5, atom.GetTotalNumHs(),
                       atom.GetNumRadicalElectrons(),
                       hybridization.get(atom.GetHybridization(), 6),
                       atom.GetIsAromatic(), atom.IsInRing()] for atom in atoms],
                     dtype=np.int64).reshape(len(atoms), len(RICH_ATOM_VOCABULARY))
    sizes = np.array([size for _, size in RICH_ATOM_VOCABULARY])
    return np.clip(codes, 0, sizes - 1)


def check_atom_features(atom_features: str) -> str:
    """``atom_features`` if it is one of :data:`ATOM_FEATURES`, else a ValueError naming them."""
    if atom_features not in ATOM_FEATURES:
        raise ValueError(f"atom_features must be one of {list(ATOM_FEATURES)}, got "
                         f"{atom_features!r}")
    return atom_features


@functools.lru_cache(maxsize=None)
def _bond_type_codes():
    from rdkit.Chem import BondType
    return {BondType.SINGLE: 0, BondType.DOUBLE: 1, BondType.TRIPLE: 2, BondType.AROMATIC: 3}


@functools.lru_cache(maxsize=None)
def _bond_direction_codes():
    from rdkit.Chem import BondDir
    return {BondDir.NONE: 0, BondDir.ENDUPRIGHT: 1, BondDir.ENDDOWNRIGHT: 2}


# GetBondTypeAsDouble of the four bond types the encoder knows -> their codes
_BOND_ORDER_CODES = {1.0: 0, 2.0: 1, 3.0: 2, 1.5: 3}


class _ParsedSmiles(NamedTuple):
    """A molecule with the SMILES it was parsed from (which tells what it cannot contain)."""

    mol: Any
    smiles: str


class MolecularGraph(NamedTuple):
    """One molecule's graph as arrays (what ``GraphData`` holds, without DeepChem): node codes
    (n_atoms, 2; 9 with rich atom features), edge index (2, 2 n_bonds; every bond both ways),
    edge codes (2 n_bonds, 2)."""

    node_features: np.ndarray
    edge_index: np.ndarray
    edge_features: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.node_features.shape[0])


class GraphArrayFeaturizer(ReportingFeaturizerMixin):
    """SMILES or RDKit molecules to :class:`MolecularGraph` arrays, with the failure report
    (see :class:`~deepchem_acml.featurizers.graph.ACMLGraphFeaturizer` for the codes).

    Parameters
    ----------
    max_atoms : int, optional
        Molecules with more heavy atoms than this are reported as failures (``None``: no
        limit).
    atom_features : str, default="hu"
        ``"hu"``: two codes per atom (Hu et al. 2020, ACML); ``"rich"``: those two, then the
        seven of :data:`RICH_ATOM_VOCABULARY` (an encoder built with
        ``atom_features="rich"`` reads them).

    Examples
    --------
    >>> result = GraphArrayFeaturizer().featurize_with_report(["CCO", "C1CC"])
    >>> result.features[0].node_features.tolist(), result.n_failed
    ([[5, 0], [5, 0], [7, 0]], 1)
    >>> GraphArrayFeaturizer(atom_features="rich").featurize(["CO"])[0].node_features.tolist()
    [[5, 0, 1, 5, 3, 0, 2, 0, 0], [7, 0, 1, 5, 1, 0, 2, 0, 0]]
    """

    def __init__(self, max_atoms: Optional[int] = None, atom_features: str = "hu"):
        self.max_atoms = max_atoms
        self.atom_features = check_atom_features(atom_features)

    def _prepare_input(self, datapoint: Any) -> Any:

        from deepchem_acml.chem import is_mol, mol_from_smiles

        if datapoint is None:
            raise FeaturizationError("input is None")
        if is_mol(datapoint):
            return datapoint
        if not isinstance(datapoint, str):
            raise FeaturizationError(
                f"expected a SMILES string or an RDKit Mol, got {type(datapoint).__name__}")
        if not datapoint.strip():
            raise FeaturizationError("empty SMILES")
        mol = mol_from_smiles(datapoint)
        if mol is None:
            raise FeaturizationError("RDKit could not parse the SMILES")
        return _ParsedSmiles(mol, datapoint)

    def featurize_with_report(self, datapoints: Iterable[Any]):
        from deepchem_acml.chem import rdkit_quiet

        with rdkit_quiet():  # once for the whole list, not once per molecule
            return super().featurize_with_report(datapoints)

    def _featurize_checked(self, datapoint: Any) -> "MolecularGraph":
        # Atoms and bonds are fetched by index and the codes gathered in lists, then turned
        # into arrays once: RDKit's atom/bond sequence wrappers and per-row numpy writes were
        # most of the featurizer's time. Reading an RDKit enum (chiral tag, bond type, bond
        # direction) builds a Python object per call, and together they cost about half as
        # much as parsing. A molecule parsed from SMILES has chiral tags only if the string
        # has '@', bond directions only if it has a slash or backslash, and bond types other
        # than single, double, triple and aromatic only if it has '$' (quadruple) or '<'/'>'
        # (dative): otherwise those codes are known without asking RDKit.
        smiles = datapoint.smiles if isinstance(datapoint, _ParsedSmiles) else None
        mol = datapoint.mol if smiles is not None else datapoint
        n_atoms = mol.GetNumAtoms()
        if n_atoms == 0:
            raise FeaturizationError("molecule has no atoms")
        if self.max_atoms is not None and n_atoms > self.max_atoms:
            raise FeaturizationError(f"{n_atoms} heavy atoms, more than max_atoms={self.max_atoms}")
        chirality = _chirality_codes()
        atoms = [mol.GetAtomWithIdx(i) for i in range(n_atoms)]
        numbers = [atom.GetAtomicNum() for atom in atoms]
        if min(numbers) < 1 or max(numbers) >= NUM_ATOM_TYPES:
            index = next(i for i, z in enumerate(numbers) if z < 1 or z >= NUM_ATOM_TYPES)
            raise FeaturizationError(f"atom {index} has atomic number {numbers[index]} "
                                     "(dummy/query atoms are not supported)")
        node_features = np.zeros((n_atoms, 2), dtype=np.int64)
        node_features[:, 0] = numbers
        node_features[:, 0] -= 1
        if smiles is None or "@" in smiles:
            node_features[:, 1] = [chirality.get(atom.GetChiralTag(), 3) for atom in atoms]
        if self.atom_features == "rich":
            node_features = np.concatenate([node_features, rich_atom_codes(atoms)], axis=1)

        bonds = [mol.GetBondWithIdx(k) for k in range(mol.GetNumBonds())]
        types: List[Optional[int]]
        if smiles is not None and not any(mark in smiles for mark in "$<>"):
            types = [_BOND_ORDER_CODES[bond.GetBondTypeAsDouble()] for bond in bonds]
        else:
            bond_types = _bond_type_codes()
            types = [bond_types.get(bond.GetBondType()) for bond in bonds]
            if None in types:
                bond = bonds[types.index(None)]
                raise FeaturizationError(
                    f"bond {bond.GetIdx()} has unsupported type {bond.GetBondType()}")
        begin = [bond.GetBeginAtomIdx() for bond in bonds]
        end = [bond.GetEndAtomIdx() for bond in bonds]
        if smiles is None or "/" in smiles or "\\" in smiles:
            bond_dirs = _bond_direction_codes()
            directions = [bond_dirs.get(bond.GetBondDir(), 0) for bond in bonds]
        else:
            directions = [0] * len(bonds)
        edge_index = np.empty((2, 2 * len(bonds)), dtype=np.int64)
        edge_index[0, 0::2], edge_index[1, 0::2] = begin, end
        edge_index[0, 1::2], edge_index[1, 1::2] = end, begin
        edge_features = np.repeat(np.array([types, directions], dtype=np.int64).T.reshape(-1, 2),
                                  2, axis=0)
        return MolecularGraph(node_features, edge_index, edge_features)
