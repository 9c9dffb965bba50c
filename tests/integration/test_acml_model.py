"""ACMLModel on real nmrshiftdb2 13C spectra with the shipped frozen encoder."""
import deepchem as dc
import numpy as np
import pytest
import torch

from deepchem_acml import ACMLModel
from deepchem_acml.checkpoints import CheckpointError
from deepchem_acml.evaluation.retrieval import retrieval_report

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def frame(request):
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    return read_embedded_nmr_13c().head(128).reset_index(drop=True)


@pytest.fixture
def model(small_model_kwargs, tmp_path):
    return ACMLModel("nmr_13c", model_dir=str(tmp_path / "ckpt"), **small_model_kwargs)


def test_overfit_loss_falls_and_retrieval_beats_chance(model, frame):
    dataset, failures = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    assert failures == [] and len(dataset) == 128
    before = model.evaluate_loss(dataset)
    model.fit(dataset, nb_epoch=40, checkpoint_interval=0, progress=False)
    after = model.evaluate_loss(dataset)
    assert after < 0.5 * before
    report = retrieval_report(model.predict(dataset), model.project_modality(dataset.y),
                              pool_size=128, n_draws=1)
    chance = report["chance"]["pools"]
    assert report["pools"]["modality_to_graph"]["top10"] > 4 * chance["top10"]
    assert report["pools"]["graph_to_modality"]["top1"] > 4 * chance["top1"]


def test_frozen_encoder_does_not_change_during_fit(model, frame):
    frozen_before = {k: v.clone() for k, v in model.modality.encoder.state_dict().items()}
    trainable_before = {k: v.clone() for k, v in model.model.state_dict().items()}
    assert not any(p.requires_grad for p in model.modality.encoder.parameters())
    frozen_ids = {id(p) for p in model.modality.encoder.parameters()}
    assert not frozen_ids & {id(p) for p in model.model.parameters()}
    dataset, _ = model.build_dataset(frame.smiles, frame.spectrum)
    model.fit(dataset, nb_epoch=2, checkpoint_interval=0, progress=False)
    for name, value in model.modality.encoder.state_dict().items():
        assert torch.equal(value, frozen_before[name]), name
    changed = [k for k, v in model.model.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, trainable_before[k])]
    assert any(k.startswith("graph_encoder") for k in changed)


def test_save_restore_gives_identical_embeddings(model, frame, small_model_kwargs, tmp_path):
    dataset, _ = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    model.fit(dataset, nb_epoch=2, checkpoint_interval=0, progress=False)
    model.save_checkpoint()
    expected = model.predict_embedding(dataset)
    restored = ACMLModel("nmr_13c", model_dir=str(tmp_path / "ckpt"), **small_model_kwargs)
    restored.restore()
    np.testing.assert_array_equal(restored.predict_embedding(dataset), expected)
    assert restored.get_global_step() == model.get_global_step()
    model.save(tmp_path / "one.pt")
    loaded = ACMLModel.load(tmp_path / "one.pt")
    np.testing.assert_array_equal(loaded.predict_embedding(dataset), expected)
    np.testing.assert_array_equal(loaded.predict(dataset), model.predict(dataset))


def test_restore_into_another_architecture_says_so(model, small_model_kwargs, tmp_path):
    model.save(tmp_path / "one.pt")
    other = ACMLModel("nmr_13c", **dict(small_model_kwargs, encoder=dict(hidden_dim=48)))
    with pytest.raises(CheckpointError, match="hidden_dim"):
        other.restore(str(tmp_path / "one.pt"))


def test_failures_from_either_side_are_reported_and_ids_stay_aligned(model, frame):
    smiles = list(frame.smiles[:6])
    spectra = list(frame.spectrum[:6])
    smiles[1] = "C1CC"          # unparseable
    spectra[3] = ""             # empty peak list
    spectra[4] = "999.0;0.0S;0|"  # outside the 13C axis
    ids = [f"mol{i}" for i in range(6)]
    dataset, failures = model.build_dataset(smiles, spectra, ids=ids)
    assert list(dataset.ids) == ["mol0", "mol2", "mol5"]
    assert [f.index for f in failures] == [1, 3, 4]
    assert failures[0].reason.startswith("graph:")
    assert failures[1].reason == "nmr_13c: empty peak list"
    # the cached embedding of each kept row is that row's own spectrum
    expected = model.modality.encode(model.modality.featurize([spectra[5]]).features)
    np.testing.assert_allclose(dataset.y[2], expected[0], rtol=1e-5, atol=1e-6)


def test_same_seed_same_training_curve_and_embeddings(small_model_kwargs, frame):
    runs = []
    for _ in range(2):
        model = ACMLModel("nmr_13c", **small_model_kwargs)
        dataset, _ = model.build_dataset(frame.smiles, frame.spectrum)
        train, valid = dataset.select(range(96)), dataset.select(range(96, 128))
        history = model.train(train, valid, nb_epoch=3, progress=False)
        runs.append((history, model.predict_embedding(dataset)))
    assert runs[0][0] == runs[1][0]  # identical per-epoch train and validation losses
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_non_finite_batch_stops_training_with_a_clear_error(model, frame):
    dataset, _ = model.build_dataset(frame.smiles[:64], frame.spectrum[:64])
    y = dataset.y.copy()
    y[5, 3] = np.nan
    poisoned = dc.data.NumpyDataset(dataset.X, y, ids=dataset.ids)
    before = {k: v.clone() for k, v in model.model.named_parameters()}
    with pytest.raises(FloatingPointError, match=r"1 row\(s\), e.g. rows \[5\]"):
        model.fit(poisoned, nb_epoch=1, checkpoint_interval=0, progress=False)
    for name, value in model.model.named_parameters():
        assert torch.equal(value, before[name]), f"{name} was updated by a NaN batch"
    assert all(torch.isfinite(b).all() for b in model.model.buffers())


def test_a_single_molecule_predicts(model):
    graphs, _ = model.featurize_graphs(["C"])
    assert model.predict_embedding(graphs).shape == (1, 32)
    assert model.predict(graphs).shape == (1, 64)


def test_graph_only_dataset_predicts_but_cannot_train(model, frame):
    graphs, failures = model.featurize_graphs(list(frame.smiles[:10]) + ["bad smiles"])
    assert len(graphs) == 10 and failures[0].index == 10
    assert model.predict_embedding(graphs).shape == (10, 32)
    with pytest.raises(ValueError, match="build_dataset"):
        model.fit(graphs, nb_epoch=1, progress=False)


def test_mismatched_lengths_are_refused(model):
    with pytest.raises(ValueError, match="paired row by row"):
        model.build_dataset(["CCO", "CCC"], ["20.0;0;0|"])


def test_checkpoint_of_another_modality_is_refused_clearly(model, small_model_kwargs, tmp_path):
    from deepchem_acml.modalities import Modality, get_modality

    shipped = get_modality("nmr_13c")
    custom = Modality("my_13c_encoder", shipped.featurizer, shipped.encoder, source="test")
    model.save(tmp_path / "nmr.pt")
    other = ACMLModel(custom, **small_model_kwargs)
    with pytest.raises(CheckpointError, match="trained against modality 'nmr_13c'"):
        other.restore(str(tmp_path / "nmr.pt"))
    # but a user's own modality object can be used with a compatible checkpoint explicitly
    loaded = ACMLModel.load(tmp_path / "nmr.pt", modality=shipped)
    assert loaded.modality is shipped


def test_untrusted_acml_checkpoint_is_refused(tmp_path, model):

    class Payload:
        def __reduce__(self):
            return (exec, ("open('PWNED', 'w').close()",))

    path = tmp_path / "evil.pt"
    torch.save({"kind": "acml_model", "config": Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        ACMLModel.load(path)
    with pytest.raises(CheckpointError, match="refused"):
        model.restore(str(path))
    assert not (tmp_path / "PWNED").exists() and not __import__("os").path.exists("PWNED")


@pytest.mark.torch
def test_bf16_autocast_trains_and_returns_float32(small_frame, small_model_kwargs):
    model = ACMLModel("nmr_13c", precision="bf16", **small_model_kwargs)
    dataset, _ = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    before = model.evaluate_loss(dataset)
    model.fit(dataset, nb_epoch=5, progress=False, checkpoint_interval=0)
    assert model.evaluate_loss(dataset) < 0.8 * before
    assert model.predict(dataset).dtype == np.float32
    assert "precision='bf16'" in repr(model)


def test_float16_training_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="bf16"):
        ACMLModel("nmr_13c", precision="fp16")


def test_frozen_embedding_cache_is_reused_and_refreshed_when_inputs_change(small_frame, tmp_path,
                                                                          monkeypatch):
    """build_dataset(embedding_cache=...) stores the frozen encoder's outputs; the same inputs
    read them back without running the encoder (a resumed run), other inputs recompute."""
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1,
                      seed=0)
    spectra = list(small_frame.spectrum[:60])
    spectra[5] = "not a peak list"
    cache = tmp_path / "frozen" / "nmr_13c.npz"
    first, failures = model.build_dataset(small_frame.smiles[:60], spectra, embedding_cache=cache)
    assert cache.is_file() and [f.index for f in failures] == [5]

    def encoder_must_not_run(*args, **kwargs):
        raise AssertionError("the frozen encoder ran although its outputs were cached")

    monkeypatch.setattr(model.modality, "encode", encoder_must_not_run)
    again, failures_again = model.build_dataset(small_frame.smiles[:60], spectra,
                                                embedding_cache=cache)
    np.testing.assert_array_equal(again.y, first.y)
    assert [(f.index, f.reason) for f in failures_again] == [(f.index, f.reason) for f in failures]
    monkeypatch.undo()
    changed, _ = model.build_dataset(small_frame.smiles[:50], spectra[:50], embedding_cache=cache)
    assert len(changed) == 49
    np.testing.assert_array_equal(changed.y, first.y[:49])


def test_frozen_embedding_cache_in_parts_resumes_where_a_run_stopped(small_frame, tmp_path,
                                                                     monkeypatch):
    """Past CACHE_PART_SIZE inputs the cache is written a part at a time: a run killed after
    some parts recomputes only the missing ones, and the result equals an uncached run's,
    failures included (indices of the whole input, not of the part)."""
    from deepchem_acml import get_modality

    modality = get_modality("nmr_13c")
    monkeypatch.setattr(modality, "CACHE_PART_SIZE", 10)
    spectra = list(small_frame.spectrum[:25])
    spectra[13] = "not a peak list"
    cache = tmp_path / "nmr_13c.npz"
    expected, expected_report = modality.embed(spectra)
    modality.embed(spectra, cache_path=cache)
    parts = sorted(p.name for p in tmp_path.iterdir())
    assert parts == ["nmr_13c.npz", "nmr_13c.part1.npz", "nmr_13c.part2.npz"]
    (tmp_path / "nmr_13c.part1.npz").unlink()  # the part a killed run had not written
    calls = []
    original = modality._embed
    monkeypatch.setattr(modality, "_embed", lambda inputs, *a: calls.append(len(inputs))
                        or original(inputs, *a))
    resumed, report = modality.embed(spectra, cache_path=cache)
    assert calls == [10]  # only the missing part ran through the encoder
    np.testing.assert_array_equal(resumed, expected)
    assert report.indices.tolist() == expected_report.indices.tolist()
    assert [f.index for f in report.failures] == [13]
