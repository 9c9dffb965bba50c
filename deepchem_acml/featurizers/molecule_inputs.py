"""Featurizers of the SMILES and 2-D depiction modalities (inputs: SMILES strings or RDKit
molecules), each reporting failures by row."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
from deepchem.feat.base_classes import Featurizer

from deepchem_acml.featurizers.base import FeaturizationError, ReportingFeaturizerMixin


def _canonical_molecule(datapoint: Any):
    """The RDKit molecule of a SMILES or Mol, renumbered canonically (so that what a modality
    sees does not depend on how the input happened to be written)."""
    from rdkit import Chem

    from deepchem_acml.chem import is_mol, mol_from_smiles

    mol = datapoint if is_mol(datapoint) else mol_from_smiles(datapoint)
    if mol is None:
        raise FeaturizationError("not a SMILES RDKit can parse" if isinstance(datapoint, str)
                                 else f"expected a SMILES string or RDKit Mol, got "
                                      f"{type(datapoint).__name__}")
    if mol.GetNumAtoms() == 0:
        raise FeaturizationError("molecule has no atoms")
    return Chem.MolFromSmiles(Chem.MolToSmiles(mol))


def canonical_smiles(datapoint: Any) -> str:
    """RDKit's canonical SMILES of a SMILES or Mol: the string the SMILES encoders read (and
    the SMILES RoBERTa recipe trains on)."""
    from rdkit import Chem

    return Chem.MolToSmiles(_canonical_molecule(datapoint))


class ChemNetSmilesFeaturizer(ReportingFeaturizerMixin, Featurizer):
    """SMILES → ChemNet token ids: RDKit canonical SMILES, ChemNet's 35-symbol vocabulary
    (``fcd_torch``), padded with -1 to ``max_length`` tokens (longer SMILES are cut there, as
    ChemNet itself does).

    Examples
    --------
    >>> ids = ChemNetSmilesFeaturizer().featurize(["CCO"])
    >>> ids.shape, ids[0, :4].tolist()
    ((1, 350), [0.0, 0.0, 2.0, 34.0])
    """

    def __init__(self, max_length: int = 350):
        self.max_length = max_length

    def config(self) -> Dict[str, Any]:
        return {"max_length": self.max_length}

    def __repr__(self) -> str:
        return f"ChemNetSmilesFeaturizer(max_length={self.max_length})"

    def _featurize_checked(self, datapoint: Any) -> np.ndarray:
        from fcd_torch.utils import get_one_hot

        smiles = canonical_smiles(datapoint)
        one_hot = get_one_hot(smiles, self.max_length)
        ids = one_hot.argmax(axis=1).astype(np.float32)
        ids[one_hot.sum(axis=1) == 0] = -1
        return ids


class MoleculeImageFeaturizer(ReportingFeaturizerMixin, Featurizer):
    """SMILES → RGB depiction, ``(3, size, size)`` uint8, drawn by RDKit from the canonical
    molecule with RDKit's 2-D coordinates (deterministic: the same molecule always gives the
    same picture, however its SMILES was written).

    Examples
    --------
    >>> image = MoleculeImageFeaturizer(size=64).featurize(["c1ccccc1O"])
    >>> image.shape, image.dtype.name
    ((1, 3, 64, 64), 'uint8')
    """

    def __init__(self, size: int = 224):
        if size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {size}")
        self.size = size

    def config(self) -> Dict[str, Any]:
        return {"size": self.size}

    def __repr__(self) -> str:
        return f"MoleculeImageFeaturizer(size={self.size})"

    def _featurize_checked(self, datapoint: Any) -> np.ndarray:
        from rdkit.Chem import Draw

        mol = _canonical_molecule(datapoint)
        try:
            image = Draw.MolToImage(mol, size=(self.size, self.size))
        except Exception as err:  # RDKit drawing errors (e.g. coordinates it cannot lay out)
            raise FeaturizationError(f"RDKit could not draw it: {err}") from None
        return np.asarray(image.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1).copy()
