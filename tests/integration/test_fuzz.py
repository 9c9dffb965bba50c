"""Property-based fuzzing of every featurization entry point with dirty inputs.

Each test feeds generated inputs (invalid SMILES, None, empty strings, numbers, salts, charged
species, isotopes, unusual elements, huge molecules; NaN/inf/negative/empty/misshapen spectra)
and checks the accounting invariant: every input is either featurized or listed in the failure
report, exactly once, in order, and nothing raises. The counters prove the volume: at least
10,000 inputs across the suite.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepchem_acml import ACMLGraphFeaturizer, NMRSpectrumFeaturizer

REAL_SMILES = ["CCO", "c1ccccc1O", "C[C@H](N)O", "F/C=C/F", "CC(=O)Oc1ccccc1C(=O)O",
               "[NH4+].[Cl-]", "[13CH4]", "[2H]OC", "[U]", "[Og]", "C[Si](C)(C)C", "[Fe+2]",
               "O=[N+]([O-])c1ccccc1", "N->[Cu+2]", "*CC", "C" * 300, "c1ccccc1" * 30,
               "[Na+].[O-]C(=O)C", "C1CC", "c1cccc1", "[Xx]", "C(", "", " "]
SMILES_ALPHABET = "CNOSPFIBrcnos()[]=#@+-.0123456789/\\%*H"

smiles_like = st.one_of(
    st.sampled_from(REAL_SMILES),
    st.text(alphabet=SMILES_ALPHABET, max_size=40),
    st.text(max_size=20),
    st.tuples(st.sampled_from(REAL_SMILES), st.text(alphabet=SMILES_ALPHABET, max_size=3))
      .map(lambda pair: pair[0] + pair[1]),
    st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
)
numbers = st.floats(allow_nan=True, allow_infinity=True, width=32)
spectrum_like = st.one_of(
    st.lists(st.floats(min_value=-60, max_value=360), max_size=30),
    st.lists(numbers, max_size=10),
    st.lists(st.tuples(numbers, numbers), max_size=10),
    st.lists(st.lists(numbers, max_size=4), max_size=4),
    st.text(alphabet="0123456789.;|-eE ,QSDTx", max_size=60),
    st.dictionaries(st.sampled_from(["positions", "mz", "intensities", "other"]),
                    st.lists(numbers, max_size=5), max_size=3),
    st.none(), st.just(""), st.just(float("nan")), st.integers(), st.just([]),
)

COUNTS = {"inputs": 0}
FUZZ_LIGHT = settings(max_examples=60, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_accounting(result, n):
    seen = result.indices.tolist() + [f.index for f in result.failures]
    assert sorted(seen) == list(range(n)), "a row was lost or counted twice"
    assert result.indices.tolist() == sorted(result.indices.tolist())
    assert all(f.reason for f in result.failures)
    COUNTS["inputs"] += n


@FUZZ
@given(st.lists(smiles_like, min_size=40, max_size=100))
def test_graph_featurizer_never_crashes_or_loses_rows(inputs):
    result = ACMLGraphFeaturizer().featurize_with_report(inputs)
    _check_accounting(result, len(inputs))
    for graph in result.features:
        assert graph.node_features.shape == (graph.num_nodes, 2)
        assert graph.edge_index.shape[1] == graph.edge_features.shape[0]
        assert graph.edge_index.size == 0 or graph.edge_index.max() < graph.num_nodes


@FUZZ
@given(st.lists(spectrum_like, min_size=40, max_size=100))
def test_spectrum_featurizer_never_crashes_or_loses_rows(inputs):
    featurizer = NMRSpectrumFeaturizer("13C")
    result = featurizer.featurize_with_report(inputs)
    _check_accounting(result, len(inputs))
    for vector in result.features:
        assert vector.shape == (featurizer.n_bins,) and np.isfinite(vector).all()
        assert math.isclose(float(vector.max()), 1.0, rel_tol=1e-6)


@pytest.fixture(scope="module")
def model():
    from deepchem_acml import ACMLModel
    return ACMLModel("nmr_13c", encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1, seed=0)


@FUZZ
@given(data=st.lists(st.tuples(smiles_like, spectrum_like), min_size=30, max_size=60))
def test_build_dataset_pairs_rows_and_reports_the_rest(model, data):
    smiles, spectra = [d[0] for d in data], [d[1] for d in data]
    ids = [f"row{i}" for i in range(len(data))]
    dataset, failures = model.build_dataset(smiles, spectra, ids=ids)
    kept = [int(i[3:]) for i in dataset.ids]
    assert sorted(kept + [f.index for f in failures]) == list(range(len(data)))
    assert kept == sorted(kept) and len(dataset.y) == len(kept)
    assert np.isfinite(dataset.y).all()
    if len(dataset):
        assert model.predict_embedding(dataset).shape == (len(dataset), 16)
    COUNTS["inputs"] += len(data)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "acml.pt"
    model.save(path)
    return str(path)


@FUZZ_LIGHT
@given(st.lists(smiles_like, min_size=20, max_size=60))
def test_sklearn_embedder_keeps_one_row_per_input(checkpoint, inputs):
    from deepchem_acml.sklearn import ACMLEmbedder

    embedder = ACMLEmbedder(checkpoint, on_error="nan").fit(["CCO"])
    out = embedder.transform(inputs)
    failed = sorted(f.index for f in embedder.failures_)
    assert out.shape == (len(inputs), 16)
    assert np.isnan(out[failed]).all()
    assert np.isfinite(np.delete(out, failed, axis=0)).all()
    COUNTS["inputs"] += len(inputs)


@FUZZ_LIGHT
@given(st.lists(smiles_like, min_size=20, max_size=60))
def test_deepchem_transformer_embeds_reported_rows_or_names_the_bad_ones(checkpoint, inputs):
    import deepchem as dc

    from deepchem_acml.trans import ACMLTransformer

    result = ACMLGraphFeaturizer().featurize_with_report(inputs)
    transformer = ACMLTransformer(checkpoint)
    if result.features:
        X = np.empty(len(result.features), dtype=object)
        X[:] = result.features
        embedded = transformer.transform(dc.data.NumpyDataset(X, ids=result.indices))
        assert embedded.X.shape == (len(result.features), 16)
        assert embedded.ids.tolist() == result.indices.tolist()
    if result.failures:
        raw = np.empty(len(inputs), dtype=object)
        raw[:] = [np.array([])] * len(inputs)
        with pytest.raises(ValueError, match="hold no molecular graph"):
            transformer.transform(dc.data.NumpyDataset(raw))
    COUNTS["inputs"] += len(inputs)


def test_fuzzing_volume():
    """Runs last in this module: the tests above fed at least 10,000 inputs in all."""
    assert COUNTS["inputs"] >= 10_000, COUNTS
    print(f"fuzzed inputs: {COUNTS['inputs']}")
