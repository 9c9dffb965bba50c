"""``ACMLModel(batching="neighbours")`` on real nmrshiftdb2 13C spectra: training batches of
molecules whose frozen embeddings are close, so that in-batch negatives are hard ones."""
import numpy as np
import pytest

from deepchem_acml import ACMLModel
from deepchem_acml.models.training import half_neighbour_order, neighbour_order

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def paired(small_frame):
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64, num_cells=1,
                      batch_size=64, seed=0, batching="neighbours")
    dataset, failures = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    assert failures == []
    return model, dataset


def _neighbour_share(order, features, batch_size, k=5):
    """The share of each molecule's k nearest neighbours (standardised features) that are in
    its batch."""
    scaled = (features - features.mean(0)) / (features.std(0) + 1e-8)
    distances = ((scaled[:, None] - scaled[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, 1)[:, :k]
    batch = np.empty(len(order), int)
    batch[order] = np.arange(len(order)) // batch_size
    return float((batch[nearest] == batch[:, None]).mean())


def test_neighbour_batches_are_a_partition_of_close_molecules(paired):
    _, dataset = paired
    y = np.asarray(dataset.y)[:250]  # 250 rows: seven full batches of 32 and one of 26
    order = neighbour_order(y, 32, np.random.default_rng(0))
    assert sorted(order) == list(range(250))
    assert [len(order[i:i + 32]) for i in range(0, 250, 32)] == [32] * 7 + [26]
    random = _neighbour_share(np.random.default_rng(0).permutation(250), y, 32)
    assert random < 0.2  # about 31 / 249
    assert _neighbour_share(order, y, 32) > 2 * random


def test_half_neighbour_batches_mix_a_neighbourhood_with_random_rows(paired):
    _, dataset = paired
    y = np.asarray(dataset.y)[:250]
    order = half_neighbour_order(y, 32, np.random.default_rng(0))
    assert sorted(order) == list(range(250))
    random = _neighbour_share(np.random.default_rng(0).permutation(250), y, 32)
    mixed, pure = _neighbour_share(order, y, 32), _neighbour_share(
        neighbour_order(y, 32, np.random.default_rng(0)), y, 32)
    assert random < mixed < pure
    # the first half of each batch is one leaf: its rows are closer to each other than the
    # second, random half's
    scaled = (y - y.mean(0)) / y.std(0)
    spread = lambda rows: np.linalg.norm(scaled[rows] - scaled[rows].mean(0), axis=1).mean()  # noqa: E731
    batches = [order[i:i + 32] for i in range(0, 7 * 32, 32)]
    assert np.mean([spread(b[:16]) for b in batches]) < np.mean([spread(b[16:]) for b in batches])


def test_the_order_is_fixed_by_the_key_and_changes_with_it(paired):
    _, dataset = paired
    y = np.asarray(dataset.y)
    first = neighbour_order(y, 64, np.random.default_rng([0, 1]))
    np.testing.assert_array_equal(first, neighbour_order(y, 64, np.random.default_rng([0, 1])))
    assert not np.array_equal(first, neighbour_order(y, 64, np.random.default_rng([0, 2])))


def test_training_with_neighbour_batches_is_stored_and_restored(paired, tmp_path):
    model, dataset = paired
    history = model.train(dataset.select(range(192)), dataset.select(range(192, 256)),
                          nb_epoch=2, progress=False)
    assert len(history) == 2 and all(np.isfinite(h["train_loss"]) for h in history)
    assert "batching='neighbours'" in repr(model)
    model.save(tmp_path / "model.pt")
    assert ACMLModel.load(tmp_path / "model.pt").batching == "neighbours"


def test_an_unknown_batching_is_refused_before_anything_is_built():
    assert ACMLModel("nmr_13c", batching="half-neighbours").batching == "half-neighbours"
    with pytest.raises(ValueError, match="batching must be one of"):
        ACMLModel("nmr_13c", batching="clusters")


def test_the_recorded_running_statistics_stay_reachable_outside_the_signature(paired, tmp_path):
    """Running statistics for the teacher heads measured worse and left the public signature;
    the ablation record made with them rebuilds through the private route and its checkpoints
    reload with them."""
    import inspect

    model, dataset = paired
    assert "teacher_statistics" not in inspect.signature(ACMLModel).parameters
    distilled = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64,
                          num_cells=1, batch_size=64, seed=0, batching="neighbours",
                          distillation_weight=5.0, _teacher_statistics="running")
    assert distilled.hyperparameters["teacher_statistics"] == "running"
    assert ACMLModel("nmr_13c", distillation_weight=5.0, batching="neighbours").hyperparameters[
        "teacher_statistics"] == "batch"
    assert repr(distilled) != repr(ACMLModel("nmr_13c", encoder=dict(hidden_dim=32),
                                             projection_dim=64, num_cells=1, batch_size=64,
                                             seed=0, batching="neighbours",
                                             distillation_weight=5.0))
    distilled.save(tmp_path / "running.pt")
    reloaded = ACMLModel.load(tmp_path / "running.pt")
    assert reloaded.hyperparameters["teacher_statistics"] == "running"
    assert type(reloaded.model.teacher_heads["nmr_13c"][0]).__name__ == "RunningStandardization"
    distilled.fit(dataset.select(range(192)), nb_epoch=1)
    network = distilled.model.train()
    encoder, head = network.graph_encoder, network.teacher_heads["nmr_13c"]
    # one neighbourhood: the first batch of a neighbour order over the frozen embeddings
    rows = neighbour_order(np.asarray(dataset.y)[:192], 32, np.random.default_rng(0))[:32]
    batch = encoder.collate([dataset.X[i] for i in rows])
    import torch
    with torch.no_grad():
        standardised = head[0](encoder(batch))
    # batch statistics would centre the neighbourhood on itself (a mean of exactly zero);
    # running ones keep where it lies in the whole data set
    assert float(standardised.mean(0).abs().max()) > 0.1
    assert int(head[0].num_batches_tracked) >= 4  # 192 rows in batches of 64, plus this one


def test_the_old_teacher_statistics_keyword_warns_and_an_unknown_value_is_refused():
    with pytest.warns(FutureWarning, match="teacher_statistics"):
        model = ACMLModel("nmr_13c", distillation_weight=1.0, teacher_statistics="batch")
    assert model.hyperparameters["teacher_statistics"] == "batch"
    with pytest.raises(ValueError, match="teacher_statistics"), pytest.warns(FutureWarning):
        ACMLModel("nmr_13c", distillation_weight=1.0, teacher_statistics="local")
