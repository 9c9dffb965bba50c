"""Issue 34, item 13: ``ACMLEmbedder`` follows scikit-learn's conventions: ``n_features_in_``
(and ``feature_names_in_`` for a DataFrame), the ``smiles`` column of a DataFrame with other
columns, and one naming of embedding columns with ``acml embed``'s Parquet output."""
import numpy as np
import pandas as pd
import pytest

from deepchem_acml.sklearn import ACMLEmbedder

pytestmark = pytest.mark.torch

SMILES = ["CCO", "c1ccccc1O", "CC(=O)O", "CCN"]


@pytest.fixture(scope="module")
def embedder():
    return ACMLEmbedder("nmr_13c").fit(SMILES)


def test_fit_sets_n_features_in(embedder):
    assert embedder.n_features_in_ == 1  # one SMILES per sample
    assert not hasattr(embedder, "feature_names_in_")
    frame = pd.DataFrame({"name": list("abcd"), "smiles": SMILES, "logS": [0.1, 0.2, 0.3, 0.4]})
    fitted = ACMLEmbedder("nmr_13c").fit(frame)
    assert fitted.n_features_in_ == 3
    assert fitted.feature_names_in_.tolist() == ["name", "smiles", "logS"]
    assert ACMLEmbedder("nmr_13c").fit(frame[["smiles"]]).n_features_in_ == 1


def test_a_dataframe_with_a_smiles_column_among_others_is_read_by_that_column(embedder):
    expected = embedder.transform(SMILES)
    for column in ("smiles", "SMILES", "Smiles"):
        frame = pd.DataFrame({"id": range(4), column: SMILES, "y": np.arange(4.0)})
        np.testing.assert_array_equal(embedder.transform(frame), expected)
    pipe_input = pd.DataFrame({"compound": SMILES})  # one column: whatever its name
    np.testing.assert_array_equal(embedder.transform(pipe_input), expected)


def test_a_dataframe_without_a_smiles_column_is_refused_with_what_to_do(embedder):
    frame = pd.DataFrame({"id": range(4), "structure": SMILES})
    with pytest.raises(ValueError, match=r"'smiles' column.*\['id', 'structure'\]"):
        embedder.transform(frame)
    both = pd.DataFrame({"smiles": SMILES, "SMILES": SMILES, "id": range(4)})
    np.testing.assert_array_equal(embedder.transform(both), embedder.transform(SMILES))
    two = pd.DataFrame({"SMILES": SMILES, "Smiles": SMILES})
    with pytest.raises(ValueError, match="more than one"):
        embedder.transform(two)


def test_feature_names_are_those_of_acml_embeds_parquet_columns(embedder, tmp_path):
    pytest.importorskip("pyarrow")
    from deepchem_acml.cli import embed as embed_module
    from deepchem_acml.embedding import embedding_feature_names

    path = tmp_path / "in.csv"
    pd.DataFrame({"smiles": SMILES}).to_csv(path, index=False)
    embed_module.embed_file(path, tmp_path / "out", fmt="parquet", pretrained="nmr_13c",
                            progress=False)
    table = pd.read_parquet(tmp_path / "out")
    names = embedder.get_feature_names_out().tolist()
    assert [c for c in table.columns if c != "row"] == names
    assert names == embedding_feature_names(embedder.n_features_out_)
    assert names[0] == "acml000" and len(names) == 128
    np.testing.assert_allclose(table[names].to_numpy(), embedder.transform(SMILES), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("setting", [dict(hidden_dim=64), dict(epochs=5), dict(seed=3),
                                     dict(modality="smiles")])
def test_a_pretraining_setting_beside_a_pretrained_encoder_is_refused(setting):
    """It would be ignored: the pretrained encoder is used as it is."""
    with pytest.raises(ValueError, match="would be ignored.*pretrained=None"):
        ACMLEmbedder("nmr_13c", **setting).fit(SMILES)
