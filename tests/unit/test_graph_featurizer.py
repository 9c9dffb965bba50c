import numpy as np
import pytest

from deepchem_acml import ACMLGraphFeaturizer
from deepchem_acml.featurizers.graph import NUM_ATOM_TYPES


@pytest.fixture
def featurizer():
    return ACMLGraphFeaturizer()


def test_ethanol_counts_and_codes(featurizer):
    (graph,) = featurizer.featurize_with_report(["CCO"]).features
    assert graph.num_nodes == 3
    assert graph.edge_index.shape == (2, 4)  # two bonds, both directions
    assert graph.node_features[:, 0].tolist() == [5, 5, 7]  # C, C, O as atomic number - 1
    assert graph.node_features[:, 1].tolist() == [0, 0, 0]
    assert graph.edge_features.tolist() == [[0, 0]] * 4


def test_benzene_bonds_are_aromatic(featurizer):
    (graph,) = featurizer.featurize_with_report(["c1ccccc1"]).features
    assert graph.num_nodes == 6 and graph.edge_index.shape[1] == 12
    assert set(graph.edge_features[:, 0].tolist()) == {3}


def test_bond_orders(featurizer):
    (graph,) = featurizer.featurize_with_report(["C=CC#N"]).features
    assert sorted(set(graph.edge_features[:, 0].tolist())) == [0, 1, 2]


def test_chirality_tags_distinguish_enantiomers(featurizer):
    left, right = featurizer.featurize_with_report(["C[C@H](N)O", "C[C@@H](N)O"]).features
    assert left.node_features[1, 1] in (1, 2) and right.node_features[1, 1] in (1, 2)
    assert left.node_features[1, 1] != right.node_features[1, 1]
    assert left.node_features[[0, 2, 3], 1].tolist() == [0, 0, 0]


def test_bond_directions_of_a_stereo_double_bond(featurizer):
    trans, cis = featurizer.featurize_with_report(["F/C=C/F", "F/C=C\\F"]).features
    assert set(trans.edge_features[:, 1].tolist()) - {0}, "directional single bonds expected"
    assert trans.edge_features[:, 1].tolist() != cis.edge_features[:, 1].tolist()
    double = trans.edge_features[:, 0] == 1
    assert trans.edge_features[double, 1].tolist() == [0, 0]


def test_edge_index_is_symmetric(featurizer, small_frame):
    result = featurizer.featurize_with_report(small_frame.smiles)
    assert result.n_failed == 0
    for graph in result.features[:50]:
        pairs = set(map(tuple, graph.edge_index.T.tolist()))
        assert pairs == {(b, a) for a, b in pairs}
        assert graph.node_features[:, 0].max() < NUM_ATOM_TYPES


def test_failures_are_reported_by_index_and_good_rows_keep_theirs(featurizer):
    inputs = ["CCO", "C1CC", "", None, "*CC", 42, "c1ccccc1"]
    result = featurizer.featurize_with_report(inputs)
    assert result.indices.tolist() == [0, 6]
    assert [f.index for f in result.failures] == [1, 2, 3, 4, 5]
    reasons = {f.index: f.reason for f in result.failures}
    assert "could not parse" in reasons[1]
    assert reasons[2] == "empty SMILES"
    assert reasons[3] == "input is None"
    assert "atomic number 0" in reasons[4]
    assert "expected a SMILES string" in reasons[5]
    assert len(result.indices) + result.n_failed == result.n_inputs == len(inputs)
    table = result.failure_table()
    assert table["index"].tolist() == [1, 2, 3, 4, 5]


def test_featurize_keeps_deepchem_contract_but_warns(featurizer):
    with pytest.warns(UserWarning, match="row 1"):
        out = featurizer.featurize(["CCO", "not-a-smiles"])
    assert len(out) == 2 and out[0].num_nodes == 3 and np.asarray(out[1]).size == 0
    assert featurizer.last_report_.failures[0].index == 1


def test_single_string_is_refused_with_advice(featurizer):
    with pytest.raises(TypeError, match="Wrap it in a list"):
        featurizer.featurize_with_report("CCO")


def test_max_atoms_and_repr():
    featurizer = ACMLGraphFeaturizer(max_atoms=3)
    result = featurizer.featurize_with_report(["CCO", "CCCC"])
    assert result.indices.tolist() == [0] and "max_atoms=3" in result.failures[0].reason
    # DeepChem names its caches from the repr: the atom and molecule inputs must be part of it
    assert repr(featurizer) == ("ACMLGraphFeaturizer[max_atoms=3, atom_features='hu', "
                                "molecule_features=None]")
    assert repr(ACMLGraphFeaturizer(atom_features="rich")) != repr(ACMLGraphFeaturizer())
    assert repr(ACMLGraphFeaturizer(molecule_features="rdkit_2d")) != repr(ACMLGraphFeaturizer())


def test_rich_atom_features_read_the_molecule(featurizer):
    rich = ACMLGraphFeaturizer(atom_features="rich")
    (graph,) = rich.featurize(["c1ccccc1[N+](=O)[O-]"])  # nitrobenzene
    codes = graph.node_features
    assert codes.shape == (9, 9)
    np.testing.assert_array_equal(codes[:, :2], featurizer.featurize(
        ["c1ccccc1[N+](=O)[O-]"])[0].node_features)  # the Hu codes first, unchanged
    degree, charge, hydrogens, _, hybridization, aromatic, ring = codes[:, 2:].T
    assert aromatic.tolist() == [1] * 6 + [0] * 3 and ring.tolist() == aromatic.tolist()
    assert hydrogens.tolist() == [1] * 5 + [0] * 4  # the ipso carbon and the nitro group none
    assert (charge - 5).tolist() == [0] * 6 + [1, 0, -1]  # N+ and O-
    assert degree[6] == 3 and hybridization[6] == 1  # SP2 nitrogen
    with pytest.raises(ValueError, match="atom_features"):
        ACMLGraphFeaturizer(atom_features="ogb")


def test_featurize_takes_one_smiles_like_deepchem(featurizer):
    (graph,) = featurizer.featurize("CCO")
    assert graph.num_nodes == 3


def test_smiles_shortcut_gives_exactly_what_reading_every_rdkit_code_gives(featurizer, nmr_frame):
    """From a SMILES string the featurizer skips reading chiral tags, bond directions and bond
    types that the string cannot hold; an RDKit Mol always takes the full path. Both must
    agree on real molecules (nmrshiftdb2 has stereocentres and E/Z bonds) and on the rare
    bond types the shortcut must not meet (dative, quadruple)."""
    from rdkit import Chem

    smiles = list(nmr_frame.smiles[:1500]) + ["C/C=C/C", "F/C=C\\Cl", "[C@@H](F)(Cl)Br",
                                               "[NH3]->[Cu+2]", "[Mo]$[Mo]", "c1ccncc1"]
    assert any("@" in s for s in smiles[:1500]) and any("/" in s for s in smiles[:1500])
    from_smiles = featurizer.featurize_with_report(smiles)
    from_mols = featurizer.featurize_with_report([Chem.MolFromSmiles(s) for s in smiles])
    assert from_smiles.indices.tolist() == from_mols.indices.tolist()
    assert [f.index for f in from_smiles.failures] == [f.index for f in from_mols.failures]
    assert any("unsupported type" in f.reason for f in from_smiles.failures)  # dative, quadruple
    for a, b in zip(from_smiles.features, from_mols.features):
        np.testing.assert_array_equal(a.node_features, b.node_features)
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
        np.testing.assert_array_equal(a.edge_features, b.edge_features)


def test_the_array_featurizer_gives_the_graph_featurizers_arrays(nmr_frame):
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer

    smiles = nmr_frame.smiles.iloc[:300].tolist() + ["C1CC", "F/C=C/F", "C[C@H](N)O"]
    arrays = GraphArrayFeaturizer().featurize_with_report(smiles)
    graphs = ACMLGraphFeaturizer().featurize_with_report(smiles)
    assert arrays.indices.tolist() == graphs.indices.tolist()
    for a, g in zip(arrays.features, graphs.features):
        np.testing.assert_array_equal(a.node_features, g.node_features)
        np.testing.assert_array_equal(a.edge_index, g.edge_index)
        np.testing.assert_array_equal(a.edge_features, g.edge_features)
        assert a.num_nodes == g.num_nodes


def test_the_embedding_path_does_not_import_deepchem(tmp_path):
    import subprocess
    import sys

    (tmp_path / "in.smi").write_text("CCO\nc1ccccc1\n")
    code = ("import sys\n"
            "from deepchem_acml.cli.main import main\n"
            f"assert main(['embed', {str(tmp_path / 'in.smi')!r}, '--out', "
            f"{str(tmp_path / 'o.npy')!r}]) == 0\n"
            "assert 'deepchem' not in sys.modules, 'DeepChem was imported'\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert np.load(tmp_path / "o.npy").shape == (2, 128)


def test_long_rdkit_passes_show_a_progress_bar_and_short_ones_stay_quiet(featurizer, monkeypatch,
                                                                          capsys):
    import pandas as pd

    from deepchem_acml import chem
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import inchikeys_of

    monkeypatch.setattr(chem, "PROGRESS_THRESHOLD", 3)
    featurizer.featurize_with_report(["CCO", "CC"])
    assert "ACMLGraphFeaturizer" not in capsys.readouterr().err
    result = featurizer.featurize_with_report(["CCO", "CC", "c1ccccc1", "X"])
    assert "ACMLGraphFeaturizer" in capsys.readouterr().err and len(result.failures) == 1
    keys = inchikeys_of(["CCO", "CC"], progress=True)
    assert "InChIKeys" in capsys.readouterr().err and keys[0] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"
    kept, removed = heavy_atom_filter(pd.DataFrame({"smiles": ["CCO", "C", "CC", "CCCC"]}))
    assert "heavy-atom filter" in capsys.readouterr().err
    assert kept.smiles.tolist() == ["CCO", "CCCC"] and len(removed) == 2
