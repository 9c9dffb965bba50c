"""ACMLModel composed of its parts (issue 36 item 4): the graph encoder is one argument
(``encoder=``: a GINEncoder or a dict of its arguments), the GIN's arguments never sit in the
model's signature, nothing given is silently ignored, and checkpoints keep their flat stored
form (every shipped checkpoint and every earlier one loads)."""
import inspect
import warnings

import numpy as np
import pytest
import torch

from deepchem_acml import ACMLModel, JointACMLModel
from deepchem_acml.checkpoints import load_checkpoint_file, save_checkpoint_file
from deepchem_acml.nn.gin import GIN_ARGUMENTS, GINEncoder

SMALL = dict(projection_dim=16, num_cells=1, batch_size=32, seed=0)


def same_weights(a: ACMLModel, b: ACMLModel) -> bool:
    left, right = a.model.state_dict(), b.model.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def test_no_public_constructor_lists_the_gins_arguments():
    for model_class in (ACMLModel, JointACMLModel):
        listed = set(inspect.signature(model_class).parameters) & set(GIN_ARGUMENTS)
        assert not listed, f"{model_class.__name__} re-lists {listed}"


def test_the_composed_form_builds_the_flat_forms_model_and_the_flat_form_warns():
    composed = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16, num_layers=2), **SMALL)
    with pytest.warns(FutureWarning, match=r"encoder=dict\(num_layers=2, hidden_dim=16\)"):
        flat = ACMLModel("nmr_13c", num_layers=2, hidden_dim=16, **SMALL)
    assert repr(flat) == repr(composed)
    assert flat.config() == composed.config()
    assert same_weights(flat, composed)


def test_no_encoder_builds_acmls_gin_and_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ACMLModel("nmr_13c")
    assert model.encoder_config == dict(num_layers=5, hidden_dim=300, dropout=0.2,
                                        pooling="sum", norm="layer", atom_features="hu")


def test_a_gin_encoder_is_copied_with_its_weights_and_its_atom_inputs(small_frame):
    module = GINEncoder(num_layers=2, hidden_dim=16, atom_features="rich")
    before = {k: v.clone() for k, v in module.state_dict().items()}
    model = ACMLModel("nmr_13c", encoder=module, **SMALL)
    copy = model.model.graph_encoder
    assert copy is not module
    assert all(torch.equal(copy.state_dict()[k], v) for k, v in before.items())
    assert model.hyperparameters["atom_features"] == "rich"
    assert model.graph_featurizer.atom_features == "rich"
    dataset, _ = model.build_dataset(small_frame.smiles[:64], small_frame.spectrum[:64])
    model.fit(dataset, nb_epoch=1, checkpoint_interval=0, progress=False)
    assert all(torch.equal(module.state_dict()[k], v) for k, v in before.items())  # untouched
    assert not all(torch.equal(copy.state_dict()[k], v) for k, v in before.items())


@pytest.mark.parametrize("arguments, error, message", [
    (dict(encoder=GINEncoder(2, 8), hidden_dim=32), TypeError,
     r"would be ignored.*encoder=dict\(hidden_dim=32\)"),
    (dict(encoder=dict(hidden_dim=8), pooling="mean"), TypeError, "inside encoder=dict"),
    (dict(hidden_size=32), TypeError, "hidden_size"),
    (dict(encoder=dict(hidden_size=32)), ValueError, "GINEncoder's arguments"),
    (dict(encoder=5), TypeError, "GINEncoder or a dict"),
])
def test_an_argument_that_would_be_ignored_is_refused(arguments, error, message):
    with pytest.raises(error, match=message):
        ACMLModel("nmr_13c", **arguments)


def test_the_stored_form_stays_flat_and_rebuilds_the_model():
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16, pooling="mean"), **SMALL)
    stored = model.config()["hyperparameters"]
    assert {k: stored[k] for k in GIN_ARGUMENTS} == model.encoder_config
    assert stored["pooling"] == "mean" and stored["teacher_statistics"] == "batch"
    rebuilt = ACMLModel.from_config(model.config())
    assert repr(rebuilt) == repr(model) and rebuilt.config() == model.config()
    with pytest.warns(FutureWarning):  # how earlier releases rebuild a stored model
        earlier = ACMLModel("nmr_13c", **stored)
    assert repr(earlier) == repr(model)


def test_a_checkpoint_of_an_earlier_release_loads(small_frame, tmp_path):
    """Written before norm, atom_features and teacher_statistics were stored (batch norm then),
    its flat hyperparameters rebuild the same network."""
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16, norm="batch"), **SMALL)
    dataset, _ = model.featurize_graphs(list(small_frame.smiles[:8]))
    model.save(tmp_path / "now.pt")
    data = load_checkpoint_file(tmp_path / "now.pt", kind="acml_model")
    for later in ("norm", "atom_features", "teacher_statistics", "distillation_weight",
                  "batching"):
        data["config"]["hyperparameters"].pop(later)
    save_checkpoint_file(tmp_path / "earlier.pt", data, kind="acml_model")
    loaded = ACMLModel.load(tmp_path / "earlier.pt")
    assert loaded.encoder_config == model.encoder_config
    np.testing.assert_array_equal(loaded.predict_embedding(dataset),
                                  model.predict_embedding(dataset))


def test_every_shipped_checkpoint_rebuilds_from_its_stored_config():
    from deepchem_acml.shipped import pretrained_path

    for name in ("nmr_13c", "smiles", "joint"):
        data = load_checkpoint_file(pretrained_path(name))
        model = ACMLModel.load(pretrained_path(name))
        stored = data["config"]["hyperparameters"]
        assert model.encoder_config == {k: stored.get(k, model.encoder_config[k])
                                        for k in GIN_ARGUMENTS}
    assert type(JointACMLModel.load(pretrained_path("joint"))) is JointACMLModel


def test_the_repr_differs_when_any_setting_differs():
    base = ACMLModel("nmr_13c", encoder=dict(hidden_dim=16), **SMALL)
    reprs = {repr(base)}
    for change in (dict(encoder=dict(hidden_dim=16, dropout=0.0)),
                   dict(encoder=dict(hidden_dim=16, atom_features="rich")),
                   dict(encoder=dict(hidden_dim=16), projection_dim=8),
                   dict(encoder=dict(hidden_dim=16), batching="neighbours"),
                   dict(encoder=dict(hidden_dim=16), precision="bf16")):
        reprs.add(repr(ACMLModel("nmr_13c", **{**SMALL, **change})))
    assert len(reprs) == 6


def test_from_config_refuses_another_encoder_and_warns_for_teacher_statistics():
    model = ACMLModel(encoder=dict(hidden_dim=16), projection_dim=16, seed=0)
    with pytest.raises(TypeError, match="fixes the encoder"):
        ACMLModel.from_config(model.config(), encoder=dict(hidden_dim=8))
    with pytest.warns(FutureWarning):
        ACMLModel.from_config(model.config(), teacher_statistics="batch")
