"""The three public faces in their ecosystems: DeepChem transformer and featurizer, sklearn."""
import deepchem as dc
import joblib
import numpy as np
import pandas as pd
import pytest

from deepchem_acml import ACMLGraphFeaturizer
from deepchem_acml.data.moleculenet import moleculenet_dir
from deepchem_acml.featurizers.embedding import ACMLFeaturizer
from deepchem_acml.sklearn import ACMLEmbedder
from deepchem_acml.trans import ACMLTransformer

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def esol():
    frame = pd.read_csv(moleculenet_dir("delaney") / "delaney-processed.csv")
    return frame["smiles"].tolist(), frame["measured log solubility in mols per litre"].to_numpy()


def test_transformer_in_a_deepchem_pipeline(esol, tmp_path):
    smiles, y = esol[0][:300], esol[1][:300]
    loader = dc.data.InMemoryLoader(tasks=["logS"], featurizer=ACMLGraphFeaturizer())
    dataset = loader.create_dataset(list(zip(smiles, y)), data_dir=str(tmp_path / "disk"))
    transformer = ACMLTransformer("nmr_13c", dataset=dataset)
    embedded = transformer.transform(dataset)
    assert embedded.X.shape == (300, 128) and np.isfinite(embedded.X).all()
    np.testing.assert_array_equal(embedded.ids, dataset.ids)
    from sklearn.ensemble import RandomForestRegressor
    model = dc.models.SklearnModel(RandomForestRegressor(n_estimators=20, random_state=0))
    model.fit(embedded)
    score = model.evaluate(embedded, [dc.metrics.Metric(dc.metrics.pearson_r2_score)])
    assert score["pearson_r2_score"] > 0.5


def test_transformer_names_failed_rows():
    X = np.empty(3, dtype=object)
    X[:] = [ACMLGraphFeaturizer().featurize(["CCO"])[0], np.array([]), np.array([])]
    with pytest.raises(ValueError, match="rows 1, 2 hold no molecular graph"):
        ACMLTransformer("nmr_13c").transform(dc.data.NumpyDataset(X))


def test_featurizer_inside_a_real_molnet_loader(tmp_path):
    with pytest.warns(UserWarning, match="11 failed") as record:
        tasks, (train, valid, test), _ = dc.molnet.load_bbbp(
            featurizer=ACMLFeaturizer("nmr_13c"), splitter="scaffold",
            data_dir=str(moleculenet_dir("bbbp")), save_dir=str(tmp_path), reload=False)
    assert "row 59:" in str(record[0].message)  # each failure named by row and input
    n = len(train) + len(valid) + len(test)
    raw = pd.read_csv(moleculenet_dir("bbbp") / "BBBP.csv")
    report = ACMLGraphFeaturizer().featurize_with_report(raw["smiles"].tolist())
    assert tasks == ["p_np"]
    assert n == len(raw) - report.n_failed and report.n_failed == 11
    assert train.X.shape[1] == 128 and np.isfinite(train.X).all()


def test_featurizer_reports_failures():
    featurizer = ACMLFeaturizer("nmr_13c")
    with pytest.warns(UserWarning, match="row 1"):
        out = featurizer.featurize(["CCO", "C1CC", "CCN"])
    assert out[0].shape == (128,) and np.asarray(out[1]).size == 0
    assert [f.index for f in featurizer.last_report_.failures] == [1]


def test_embedder_pipeline_gridsearch_and_clone(esol):
    from sklearn.base import clone
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    smiles, y = esol[0][:200], esol[1][:200]
    pipe = Pipeline([("acml", ACMLEmbedder("nmr_13c")), ("ridge", Ridge())])
    search = GridSearchCV(pipe, {"ridge__alpha": [0.1, 10.0]}, cv=3).fit(smiles, y)
    assert search.best_params_["ridge__alpha"] in (0.1, 10.0)
    assert search.predict(smiles[:5]).shape == (5,)
    copy = clone(pipe)
    assert copy.get_params()["acml__pretrained"] == "nmr_13c"
    assert not hasattr(copy.named_steps["acml"], "encoder_state_")


def test_embedder_joblib_round_trip_is_identical(tmp_path, esol):
    embedder = ACMLEmbedder("nmr_13c").fit(esol[0][:10])
    expected = embedder.transform(esol[0][:50])
    joblib.dump(embedder, tmp_path / "e.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "e.joblib").transform(esol[0][:50]),
                                  expected)


def test_embedder_error_policies():
    embedder = ACMLEmbedder("nmr_13c").fit(["CCO"])
    with pytest.raises(ValueError, match="row 1: 'C1CC'"):
        embedder.transform(["CCO", "C1CC"])
    lenient = ACMLEmbedder("nmr_13c", on_error="nan").fit(["CCO"])
    out = lenient.transform(["CCO", "C1CC", None])
    assert out.shape == (3, 128) and np.isnan(out[1:]).all() and np.isfinite(out[0]).all()
    assert [f.index for f in lenient.failures_] == [1, 2]
    with pytest.raises(TypeError, match="single string"):
        lenient.transform("CCO")


def test_embedder_pretrains_in_fit_when_asked(small_frame):
    embedder = ACMLEmbedder(pretrained=None, epochs=2, hidden_dim=16, batch_size=64)
    with pytest.raises(ValueError, match="modality_inputs"):
        embedder.fit(small_frame.smiles)
    embedder.fit(small_frame.smiles, modality_inputs=small_frame.spectrum)
    assert embedder.transform(small_frame.smiles[:4]).shape == (4, 16)


def test_featurizer_per_item_hook_follows_deepchem():
    featurizer = ACMLFeaturizer("nmr_13c")
    assert featurizer._featurize("CCO").shape == (128,)
    assert featurizer._featurize("C1CC").size == 0
