"""Molecular graphs with the Hu et al. (2020) / OGB-style inputs that ACML's GIN reads, as a
DeepChem featurizer (``dc.feat.GraphData``). The arrays themselves are made in
:mod:`deepchem_acml.featurizers.molecular_graph`, which needs no DeepChem."""
from __future__ import annotations

from typing import Any, Optional

from deepchem.feat import GraphData, MolecularFeaturizer

from deepchem_acml.featurizers.descriptors import check_molecule_features, rdkit_descriptors
from deepchem_acml.featurizers.molecular_graph import (  # noqa: F401  (the codes, re-exported)
    ATOM_FEATURES,
    NUM_ATOM_TYPES,
    NUM_BOND_DIRECTIONS,
    NUM_BOND_TYPES,
    NUM_CHIRALITY_TAGS,
    RICH_ATOM_VOCABULARY,
    SELF_LOOP_BOND_TYPE,
    GraphArrayFeaturizer,
)


class ACMLGraphFeaturizer(GraphArrayFeaturizer, MolecularFeaturizer):
    """SMILES or RDKit molecules to ``dc.feat.GraphData`` for ACML's graph encoder.

    Each atom carries two integer codes, each bond two, as in Hu et al. (2020), "Strategies for
    Pre-training Graph Neural Networks", which ACML's reference implementation follows:

    ========================  ==========================================================
    ``node_features[:, 0]``   atomic number - 1 (0 for H ... 117 for Og)
    ``node_features[:, 1]``   chirality tag: 0 unspecified, 1 CW, 2 CCW, 3 other
    ``edge_features[:, 0]``   bond type: 0 single, 1 double, 2 triple, 3 aromatic
    ``edge_features[:, 1]``   bond direction: 0 none, 1 end-up-right, 2 end-down-right
    ========================  ==========================================================

    With ``atom_features="rich"`` seven more atom codes follow (``node_features[:, 2:9]``):
    degree, formal charge + 5, total hydrogens, radical electrons, hybridization (SP, SP2,
    SP3, SP3D, SP3D2, S, other), aromatic, in a ring — the rest of OGB's full atom
    featurization (see ``molecular_graph.RICH_ATOM_VOCABULARY``), for an encoder built with
    ``atom_features="rich"``.

    Every bond appears twice in ``edge_index`` (both directions). Hydrogens stay implicit.
    Unlike DeepChem's featurizers, a molecule that cannot be featurized is reported, not
    silently turned into an empty array: :meth:`featurize_with_report` returns the features,
    their original indices and one (index, input, reason) entry per failure.

    Parameters
    ----------
    max_atoms : int, optional
        Molecules with more heavy atoms than this are reported as failures (``None``: no
        limit).
    atom_features : str, default="hu"
        ``"hu"`` (two codes per atom) or ``"rich"`` (nine).
    molecule_features : str, optional
        ``"rdkit_2d"``: each graph also carries RDKit's 2-D descriptors of the molecule
        (``graph.molecule_features``, float32, NaN where RDKit gives no finite value), for a
        model that reads them beside the graph embedding
        (``ACMLPropertyModel(molecule_features="rdkit_2d")``).

    Examples
    --------
    >>> from deepchem_acml import ACMLGraphFeaturizer
    >>> featurizer = ACMLGraphFeaturizer()
    >>> result = featurizer.featurize_with_report(["CCO", "not a smiles", "C[C@H](N)O"])
    >>> [g.num_nodes for g in result.features]
    [3, 4]
    >>> result.indices.tolist()
    [0, 2]
    >>> result.failures[0].index, result.failures[0].reason
    (1, 'RDKit could not parse the SMILES')
    """

    def __init__(self, max_atoms: Optional[int] = None, atom_features: str = "hu",
                 molecule_features: Optional[str] = None):
        super().__init__(max_atoms, atom_features)
        self.molecule_features = check_molecule_features(molecule_features)

    def _featurize_checked(self, datapoint: Any) -> GraphData:
        graph = super()._featurize_checked(datapoint)
        extra = {}
        if self.molecule_features == "rdkit_2d":
            mol = getattr(datapoint, "mol", datapoint)  # a parsed SMILES keeps its molecule
            extra["molecule_features"] = rdkit_descriptors([mol])[0]
        return GraphData(node_features=graph.node_features, edge_index=graph.edge_index,
                         edge_features=graph.edge_features, **extra)
