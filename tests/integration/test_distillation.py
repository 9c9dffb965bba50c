"""ACMLModel's distillation term on real nmrshiftdb2 13C spectra: the graph is asked to
reproduce the frozen encoder's embedding beside the contrastive alignment."""
import pytest

from deepchem_acml import ACMLModel
from deepchem_acml.checkpoints import CheckpointError

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def distilled(small_frame, tmp_path_factory):
    """A narrow model trained with the term; its dataset split 192 / 64."""
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64, num_cells=1,
                      batch_size=64, seed=0, distillation_weight=20.0,
                      model_dir=str(tmp_path_factory.mktemp("distilled")))
    dataset, failures = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    assert failures == []
    train, held_out = dataset.select(range(192)), dataset.select(range(192, len(dataset)))
    before = model.distillation_r2(train)["nmr_13c"]
    model.fit(train, nb_epoch=40, checkpoint_interval=0, progress=False)
    return model, train, held_out, before


def test_teacher_heads_learn_to_read_the_frozen_embedding(distilled):
    model, train, held_out, before = distilled
    after_train = model.distillation_r2(train)["nmr_13c"]
    after_held_out = model.distillation_r2(held_out)["nmr_13c"]
    # untrained, the heads read nothing (far below each dimension's mean); trained, they
    # read the training molecules better than the mean, and the unseen ones better than before
    assert before < 0.0
    assert after_train > 0.05
    assert after_held_out > 0.0


def test_the_term_adds_to_the_contrastive_loss(distilled, small_frame):
    model, train, _, _ = distilled
    plain = ACMLModel.load(_saved(model, "copy.pt"))
    assert plain.evaluate_loss(train) == pytest.approx(model.evaluate_loss(train), rel=1e-5)
    plain.distillation_weight = 0.0  # the same weights, the term switched off
    assert plain.evaluate_loss(train) < model.evaluate_loss(train)


def test_checkpoint_keeps_the_weight_and_heads(distilled):
    model, _, held_out, _ = distilled
    loaded = ACMLModel.load(_saved(model, "round_trip.pt"))
    assert loaded.distillation_weight == 20.0 and "distillation_weight=20.0" in repr(loaded)
    assert loaded.distillation_r2(held_out) == pytest.approx(model.distillation_r2(held_out))


def test_restoring_into_a_model_without_heads_says_so(distilled, tmp_path):
    model, _, _, _ = distilled
    path = _saved(model, "with_heads.pt")
    plain = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64, num_cells=1,
                      batch_size=64)
    with pytest.raises(CheckpointError, match="teacher heads"):
        plain.restore(str(path))


def test_plain_acml_has_no_heads_and_says_so():
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1)
    model._ensure_built()
    assert not any("teacher_heads" in k for k in model.model.state_dict())
    with pytest.raises(ValueError, match="distillation_weight > 0"):
        model.distillation_r2(None)


@pytest.mark.parametrize("weight", [-1.0, float("nan")])
def test_a_bad_weight_is_refused_before_anything_is_built(weight):
    with pytest.raises(ValueError, match="distillation_weight"):
        ACMLModel("nmr_13c", distillation_weight=weight)


def _saved(model, name):
    path = model.model_dir + "/" + name
    model.save(path)
    return path
