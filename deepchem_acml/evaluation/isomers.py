"""Isomer discrimination: can the other modality pick the right isomer among its isomers?"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from deepchem_acml.evaluation.retrieval import ranks_of_matches


def isomer_groups(smiles: Sequence[str], kind: str = "constitutional") -> List[np.ndarray]:
    """Indices of molecules that are isomers of each other (groups of 2 or more).

    ``kind="constitutional"``: molecules sharing a molecular formula, in groups holding at
    least two different skeletons (first InChIKey block). ``kind="stereo"``: molecules sharing
    a skeleton (so they differ only in stereo or isotopes).
    """
    from rdkit import Chem
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    from deepchem_acml.chem import mol_from_smiles

    if kind not in ("constitutional", "stereo"):
        raise ValueError(f"kind must be 'constitutional' or 'stereo', got {kind!r}")
    groups: Dict[str, List[int]] = defaultdict(list)
    skeletons: Dict[int, str] = {}
    for i, s in enumerate(smiles):
        mol = mol_from_smiles(s)
        if mol is None:
            continue
        key = Chem.MolToInchiKey(mol)
        skeletons[i] = key[:14]
        groups[CalcMolFormula(mol) if kind == "constitutional" else key[:14]].append(i)
    result = []
    for members in groups.values():
        distinct = {skeletons[i] for i in members}
        if len(members) >= 2 and (kind == "stereo" or len(distinct) >= 2):
            result.append(np.array(members))
    return result


def isomer_discrimination(graph: np.ndarray, modality: np.ndarray, groups: Sequence[np.ndarray],
                          graph_embedding: Optional[np.ndarray] = None, seed: int = 0) -> Dict:
    """Within-group retrieval accuracy in both directions, and embedding separation.

    For each molecule of each group, its modality projection is ranked against the graph
    projections of the group's members (and the reverse); accuracy is the fraction ranked
    first, next to the chance level ``mean(1 / group size)``. Separation: the mean Euclidean
    distance between graph embeddings of isomer pairs divided by that of random pairs (1.0:
    isomers no closer than any two molecules; near 0: isomers collapsed together).
    """
    graph_embedding = graph if graph_embedding is None else graph_embedding
    sizes = [len(g) for g in groups]
    if not groups:  # no accuracy (not NaN): there is nothing to tell apart
        return {"n_groups": 0, "n_molecules": 0, "group_sizes": {},
                "note": "no isomer groups in this data"}
    hits: Dict[str, List[bool]] = {"modality_to_graph": [], "graph_to_modality": []}
    pair_distances = []
    for members in groups:
        to_graph = ranks_of_matches(modality[members], graph[members]) == 1
        to_modality = ranks_of_matches(graph[members], modality[members]) == 1
        hits["modality_to_graph"] += to_graph.tolist()
        hits["graph_to_modality"] += to_modality.tolist()
        block = graph_embedding[members]
        diff = np.linalg.norm(block[:, None, :] - block[None, :, :], axis=-1)
        pair_distances += diff[np.triu_indices(len(members), 1)].tolist()
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(graph_embedding), 5000)
    b = rng.integers(0, len(graph_embedding), 5000)
    keep = a != b
    random_distance = float(np.linalg.norm(graph_embedding[a[keep]] - graph_embedding[b[keep]],
                                           axis=1).mean())
    chance = float(np.mean(np.concatenate([np.full(s, 1.0 / s) for s in sizes])))
    counts, frequency = np.unique(sizes, return_counts=True)
    return {
        "n_groups": len(groups), "n_molecules": int(sum(sizes)),
        "group_sizes": {int(size): int(n) for size, n in zip(counts, frequency)},
        "accuracy": {direction: float(np.mean(values)) for direction, values in hits.items()},
        "chance": chance,
        "mean_isomer_distance": float(np.mean(pair_distances)),
        "mean_random_distance": random_distance,
        "separation_ratio": (float(np.mean(pair_distances) / random_distance)
                             if random_distance else None),
    }
