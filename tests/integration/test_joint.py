"""Joint ACML: one graph encoder, several modalities, missing ones masked (never imputed)."""
import deepchem as dc
import numpy as np
import pytest

from deepchem_acml import JointACMLModel
from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c


@pytest.fixture(scope="module")
def frame():
    return read_embedded_nmr_13c().head(128).reset_index(drop=True)


def make_model(**overrides):
    kwargs = dict(encoder=dict(hidden_dim=32), projection_dim=32, num_cells=1, batch_size=32,
                  seed=0)
    return JointACMLModel(["nmr_13c", "smiles"], **{**kwargs, **overrides})


def inputs_with_gaps(frame):
    spectra = list(frame.spectrum)
    for i in range(0, len(spectra), 3):
        spectra[i] = None                 # a third of the molecules lack a 13C spectrum
    spectra[1] = "nonsense;peaks|"        # a given spectrum that fails: reported, masked
    smiles = list(frame.smiles)
    smiles[4] = None                      # one molecule without the SMILES modality
    return {"nmr_13c": spectra, "smiles": smiles}


@pytest.mark.torch
def test_missing_modalities_are_masked_and_failures_reported(frame):
    model = make_model()
    graphs = list(frame.smiles)
    graphs[7] = "C1CC"  # the molecule itself fails: dropped and reported
    dataset, failures = model.build_dataset(graphs, inputs_with_gaps(frame))
    reasons = {f.index: f.reason for f in failures}
    assert set(reasons) == {1, 7}
    assert reasons[1].startswith("nmr_13c: ") and reasons[7].startswith("graph: ")
    assert len(dataset) == 127 and 7 not in dataset.ids
    has_13c, has_smiles = dataset.w[:, 0] > 0, dataset.w[:, 1] > 0
    row = {i: r for r, i in enumerate(dataset.ids)}
    assert not has_13c[row[0]] and not has_13c[row[1]] and has_13c[row[2]]
    assert not has_smiles[row[4]] and has_13c[row[4]]
    assert has_13c.sum() == 128 - 43 - 1 - 1  # 43 gaps, row 1 failed, row 7 dropped
    # masked entries carry no value at all, and the loss does not look at them
    rows_13c, _ = model.modality_embeddings(dataset, "nmr_13c")
    assert np.all(dataset.y[~has_13c, :model._network.dims[0]] == 0)
    noisy_y = dataset.y.copy()
    noisy_y[~has_13c, :model._network.dims[0]] = 1e3
    noisy = dc.data.NumpyDataset(dataset.X, noisy_y, dataset.w, dataset.ids)
    model._fit_modality_statistics(dataset)
    assert model.evaluate_loss(noisy) == pytest.approx(model.evaluate_loss(dataset))


@pytest.mark.torch
def test_joint_training_lowers_each_modalitys_loss_and_round_trips(frame, tmp_path):
    model = make_model()
    dataset, _ = model.build_dataset(frame.smiles, inputs_with_gaps(frame))
    model._fit_modality_statistics(dataset)
    before = model.evaluate_loss(dataset)
    model.fit(dataset, nb_epoch=30, progress=False, checkpoint_interval=0)
    assert model.evaluate_loss(dataset) < 0.6 * before
    graph_projection = model.predict(dataset)
    assert graph_projection.shape == (len(dataset), 2, 32)
    for m, name in enumerate(["nmr_13c", "smiles"]):
        rows, embeddings = model.modality_embeddings(dataset, name)
        similarity = model.project_modality(name, embeddings) @ graph_projection[rows, m].T
        own = similarity[np.arange(len(rows)), np.arange(len(rows))][:, None]
        top5 = np.mean((similarity > own).sum(axis=1) < 5)
        # training set, well above chance (top-5, not top-1: four or five right answers out
        # of 84 moved with the torch thread count)
        assert top5 > 3 * 5.0 / len(rows), (name, top5)
    model.save(tmp_path / "joint.pt")
    again = JointACMLModel.load(tmp_path / "joint.pt")
    np.testing.assert_allclose(again.predict_embedding(dataset), model.predict_embedding(dataset),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="modalities"):
        JointACMLModel(["nmr_13c", "image"], encoder=dict(hidden_dim=32), projection_dim=32,
                       num_cells=1).restore(str(tmp_path / "joint.pt"))


def test_the_cache_folder_has_one_name_and_the_earlier_one_warns(frame, tmp_path):
    """``embedding_cache`` (ACMLModel's name) is the folder's one spelling; the joint model's
    earlier ``embedding_cache_dir`` still works for one release, with a FutureWarning."""
    model = make_model()
    inputs = {"nmr_13c": list(frame.spectrum[:40]), "smiles": list(frame.smiles[:40])}
    first, _ = model.build_dataset(frame.smiles[:40], inputs, embedding_cache=tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["nmr_13c.npz", "smiles.npz"]
    with pytest.warns(FutureWarning, match="embedding_cache="):
        again, _ = model.build_dataset(frame.smiles[:40], inputs,
                                       embedding_cache_dir=tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["nmr_13c.npz", "smiles.npz"]
    np.testing.assert_array_equal(again.y, first.y)
    with pytest.raises(TypeError, match="pass one"):
        model.build_dataset(frame.smiles[:40], inputs, embedding_cache=tmp_path / "a",
                            embedding_cache_dir=tmp_path / "b")
    with pytest.raises(TypeError, match="embedding_cache_folder"):
        model.build_dataset(frame.smiles[:40], inputs, embedding_cache_folder=tmp_path)


def test_the_joint_name_lists_no_argument_of_its_own():
    import inspect

    from deepchem_acml import ACMLModel

    own = set(inspect.signature(JointACMLModel).parameters) - {"modalities", "kwargs"}
    assert not own
    assert set(inspect.signature(JointACMLModel.build_dataset).parameters) - {"deprecated"} == \
        set(inspect.signature(ACMLModel.build_dataset).parameters)


def test_load_takes_modalities_that_override_the_stored_ones(tmp_path):
    from deepchem_acml import get_modality

    model = JointACMLModel(["nmr_13c", "smiles"], encoder=dict(hidden_dim=16),
                           projection_dim=16, seed=0)
    model.save(tmp_path / "joint.pt")
    again = JointACMLModel.load(tmp_path / "joint.pt",
                                modalities=[get_modality("nmr_13c"), "smiles"])
    assert list(again.modalities) == ["nmr_13c", "smiles"]
