import numpy as np
import pytest

from deepchem_acml.evaluation.isomers import isomer_discrimination, isomer_groups
from deepchem_acml.evaluation.properties import (
    dimension_correlations,
    ecfp,
    probe_scores,
    property_correlation,
    rdkit_properties,
)


def test_hand_made_constitutional_isomer_groups():
    smiles = ["CCO", "COC", "CCC", "CC(C)O", "CCCO", "C[C@H](N)O", "C[C@@H](N)O"]
    groups = sorted(sorted(g.tolist()) for g in isomer_groups(smiles, "constitutional"))
    assert groups == [[0, 1], [3, 4]]  # C2H6O and C3H8O; the stereoisomers share a skeleton


def test_hand_made_stereo_groups():
    smiles = ["C[C@H](N)O", "C[C@@H](N)O", "CC(N)O", "CCO", "F/C=C/F", "F/C=C\\F"]
    groups = sorted(sorted(g.tolist()) for g in isomer_groups(smiles, "stereo"))
    assert groups == [[0, 1, 2], [4, 5]]


def test_perfect_embeddings_discriminate_every_isomer():
    x = np.eye(6)
    result = isomer_discrimination(x, x, [np.array([0, 1, 2]), np.array([3, 4])])
    assert result["accuracy"] == {"modality_to_graph": 1.0, "graph_to_modality": 1.0}
    assert result["group_sizes"] == {2: 1, 3: 1}
    assert result["chance"] == pytest.approx((3 * (1 / 3) + 2 * (1 / 2)) / 5)


def test_isomers_collapsed_to_one_point_are_not_discriminated():
    graph = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    modality = graph.copy()
    result = isomer_discrimination(graph, modality, [np.array([0, 1])])
    assert result["accuracy"]["modality_to_graph"] == 0.0
    assert result["separation_ratio"] == 0.0


def test_dimension_correlations_find_the_informative_dimension():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    r = dimension_correlations(x, 3 * x[:, 2] + 1)
    assert np.argmax(np.abs(r)) == 2 and r[2] == pytest.approx(1.0)
    assert np.all(np.abs(np.delete(r, 2)) < 0.2)
    assert dimension_correlations(np.ones((10, 2)), np.arange(10.0)).tolist() == [0.0, 0.0]


def test_linear_property_is_recovered_and_noise_is_not():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16))
    weights = rng.normal(size=16)
    linear = probe_scores(x, x @ weights + 2.0)
    assert linear["linear_r"] > 0.99 and linear["linear_r2"] > 0.98
    noise = probe_scores(x, rng.normal(size=400))
    assert noise["linear_r2"] < 0.1 and noise["forest_r2"] < 0.1


def test_nonlinear_measures_see_what_pearson_misses():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(500, 3))
    y = x[:, 0] ** 2  # symmetric: Pearson r with x0 is about 0
    scores = probe_scores(x, y)
    assert abs(dimension_correlations(x, y)[0]) < 0.15
    assert scores["linear_r2"] < 0.1
    assert scores["forest_r2"] > 0.8 and scores["mutual_information"] > 0.5


def test_rdkit_properties_of_known_molecules():
    table = rdkit_properties(["CCO", "not smiles", "C[C@H](N)O"])
    assert table.loc[0, "MolWt"] == pytest.approx(46.069, abs=1e-2)
    assert table.loc[0, "HBD"] == 1 and table.loc[0, "HBA"] == 1
    assert table.loc[1].isna().all()
    assert table.loc[2, "ChiralCenters"] == 1


def test_property_correlation_compares_named_embeddings(small_frame):
    smiles = small_frame.smiles.tolist()[:120]
    fingerprints = ecfp(smiles)
    weights = rdkit_properties(smiles)["MolWt"].to_numpy()[:, None]
    oracle = np.hstack([weights, fingerprints[:, :3]])
    report = property_correlation({"ECFP4": fingerprints, "oracle": oracle},
                                  smiles, folds=3)
    assert report["n_molecules"] == 120
    assert report["embeddings"]["oracle"]["MolWt"]["linear_r"] > 0.99
    assert report["embeddings"]["oracle"]["MolWt"]["strongest_dimension"] == 0


def test_random_embeddings_discriminate_isomers_at_chance():
    rng = np.random.default_rng(0)
    groups = [np.arange(i, i + 4) for i in range(0, 4000, 4)]
    graph, modality = rng.normal(size=(4000, 16)), rng.normal(size=(4000, 16))
    result = isomer_discrimination(graph, modality, groups)
    assert result["chance"] == pytest.approx(0.25)
    assert result["accuracy"]["modality_to_graph"] == pytest.approx(0.25, abs=0.03)
    assert result["separation_ratio"] == pytest.approx(1.0, abs=0.05)
