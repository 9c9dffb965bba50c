"""Fine-tuning a pretrained ACML encoder for property prediction."""
import deepchem as dc
import numpy as np
import pytest
import torch

from deepchem_acml import ACMLGraphFeaturizer, ACMLPropertyModel
from deepchem_acml.evaluation.moleculenet import (
    MEAN_POOLING_SCRATCH_RECIPE,
    SLOW_ENCODER_RECIPE,
    load_split_task,
    shipped_architecture,
    train_graph_model,
)

pytestmark = pytest.mark.torch


def test_finetuning_beats_the_same_recipe_from_random_weights_on_bbbp():
    """BBBP, DeepChem scaffold split, 8 epochs: the shipped ``smiles`` encoder fine-tuned
    with the benchmark's slow-encoder recipe reaches a higher test ROC-AUC than the same
    architecture and recipe from random weights (measured at 8 epochs, seeds 0 and 1: 0.688
    and 0.678 against 0.638 and 0.532; the full benchmark: 0.734 ± 0.020 against
    0.639 ± 0.013). ESOL is not used: there the benchmark finds no gain from pretraining
    (1.473 ± 0.043 against 1.474 ± 0.149), and a test of one seed there passed or failed
    with the thread count."""
    task = load_split_task("bbbp")
    assert {n: len(s) for n, s in task.smiles.items()} == {"train": 1640, "valid": 205,
                                                          "test": 194}
    pretrained = train_graph_model(task, "smiles", seed=0, epochs=8, **SLOW_ENCODER_RECIPE)
    scratch = train_graph_model(task, None, seed=0, epochs=8,
                                **{**shipped_architecture("smiles"), "pooling": "mean"},
                                **MEAN_POOLING_SCRATCH_RECIPE)
    assert pretrained > scratch + 0.02, (pretrained, scratch)


@pytest.fixture
def multitask():
    smiles = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "OCCO", "c1ccncc1", "CC#N"]
    X = ACMLGraphFeaturizer(molecule_features="rdkit_2d").featurize(smiles)  # the default model's
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)
    w = np.ones_like(y)
    w[::2, 1] = 0  # missing labels for task 2 on half the molecules
    return dc.data.NumpyDataset(X, y, w)


def test_multitask_classification_shapes_and_missing_labels(multitask):
    model = ACMLPropertyModel(2, "classification", encoder="nmr_13c", seed=0, batch_size=4)
    loss = model.fit(multitask, nb_epoch=3)
    assert np.isfinite(loss)
    predictions = model.predict(multitask)
    assert predictions.shape == (8, 2, 2)
    np.testing.assert_allclose(predictions.sum(axis=-1), 1.0, rtol=1e-5)
    # a missing label (weight 0) does not count, whatever its value
    flipped = dc.data.NumpyDataset(multitask.X, np.where(multitask.w == 0, 1 - multitask.y,
                                                         multitask.y), multitask.w)
    assert _loss(model, flipped) == pytest.approx(_loss(model, multitask))
    changed = dc.data.NumpyDataset(multitask.X, 1 - multitask.y, multitask.w)
    assert _loss(model, changed) != pytest.approx(_loss(model, multitask))


def _loss(model, dataset):
    """DeepChem's weighted loss of the whole dataset as one batch, in eval mode."""
    model.model.eval()
    inputs, labels, weights = model._prepare_batch(([dataset.X], [dataset.y], [dataset.w]))
    with torch.no_grad():
        outputs = model.model(inputs if len(inputs) > 1 else inputs[0])
    return model._loss_fn([outputs[1]], labels, weights).item()


def test_frozen_encoder_keeps_weights_and_batchnorm_statistics(multitask):
    model = ACMLPropertyModel(2, "classification", encoder="nmr_13c", freeze_encoder=True,
                              seed=0, batch_size=4)
    before = {k: v.clone() for k, v in model.model.encoder.state_dict().items()}
    head_before = [p.clone() for p in model.model.head.parameters()]
    model.fit(multitask, nb_epoch=2)
    for name, value in model.model.encoder.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert any(not torch.equal(a, b) for a, b in zip(head_before, model.model.head.parameters()))


def test_regression_and_bad_arguments():
    model = ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=16), seed=0)
    X = model.graph_featurizer.featurize(["CCO", "CCCO", "CCCCO", "C"])
    data = dc.data.NumpyDataset(X, np.array([[1.0], [2.0], [3.0], [0.5]]))
    model.fit(data, nb_epoch=2)
    assert model.predict(data).shape == (4, 1)
    with pytest.raises(ValueError, match="mode"):
        ACMLPropertyModel(1, "ranking")
    with pytest.raises(FileNotFoundError, match="shipped"):
        ACMLPropertyModel(1, encoder="no_such_model")


def test_the_encoder_can_learn_slower_than_the_head_and_pool_by_mean():
    import deepchem as dc
    import numpy as np
    import pytest

    from deepchem_acml import ACMLGraphFeaturizer
    from deepchem_acml.models.finetune import ACMLPropertyModel

    X = ACMLGraphFeaturizer().featurize(["CCO", "CCCCCCCCO", "c1ccccc1", "CC(=O)O"])
    data = dc.data.NumpyDataset(X, np.array([[0.1], [0.3], [0.9], [0.2]]))
    model = ACMLPropertyModel(1, "regression", encoder="nmr_13c", seed=0,
                              learning_rate=1e-3, encoder_learning_rate_scale=0.1,
                              encoder_pooling="mean", molecule_features=None)
    before = [p.detach().clone() for p in model.model.encoder.parameters()]
    model.fit(data, nb_epoch=1)
    groups = model._pytorch_optimizer.param_groups
    assert [g["lr"] for g in groups] == [pytest.approx(1e-3), pytest.approx(1e-4)]
    encoder_ids = {id(p) for p in model.model.encoder.parameters()}
    assert {id(p) for p in groups[1]["params"]} == encoder_ids
    assert any(not np.allclose(a, b.detach())
               for a, b in zip(before, model.model.encoder.parameters()))
    summed = ACMLPropertyModel(1, "regression", encoder="nmr_13c",
                               encoder_pooling=None).model.encoder.eval()
    averaged = ACMLPropertyModel(1, "regression", encoder="nmr_13c",
                                 encoder_pooling="mean").model.encoder.eval()
    batch = summed.collate(list(X))
    atoms = np.array([[g.num_nodes] for g in X], dtype=np.float32)
    np.testing.assert_allclose(averaged(batch).detach().numpy(),
                               summed(batch).detach().numpy() / atoms, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="encoder_pooling"):
        ACMLPropertyModel(1, "regression", encoder="nmr_13c", encoder_pooling="median")
    with pytest.raises(ValueError, match="encoder_learning_rate_scale"):
        ACMLPropertyModel(1, "regression", encoder="nmr_13c", encoder_learning_rate_scale=0)


def test_frozen_epochs_train_the_head_alone_first(multitask):
    """``frozen_epochs=2``: over the first two epochs of fit (counted across calls, as the
    benchmark's one-epoch-at-a-time loop calls it) only the head moves; then the encoder too."""
    model = ACMLPropertyModel(2, "classification", encoder="nmr_13c", seed=0, batch_size=4,
                              frozen_epochs=2)
    encoder = lambda: [p.detach().clone() for p in model.model.encoder.parameters()]  # noqa: E731
    head = lambda: [p.detach().clone() for p in model.model.head.parameters()]  # noqa: E731
    start_encoder, start_head = encoder(), head()
    model.fit(multitask, nb_epoch=1)
    model.fit(multitask, nb_epoch=1)
    assert all(torch.equal(a, b) for a, b in zip(start_encoder, encoder()))
    assert not all(torch.equal(a, b) for a, b in zip(start_head, head()))
    model.fit(multitask, nb_epoch=1)
    assert not all(torch.equal(a, b) for a, b in zip(start_encoder, encoder()))
    assert model.epochs_trained == 3 and all(p.requires_grad
                                             for p in model.model.encoder.parameters())
    with pytest.raises(ValueError, match="frozen_epochs"):
        ACMLPropertyModel(1, "regression", encoder={}, frozen_epochs=-1)


def test_descriptors_beside_the_graph_help_on_esol_and_travel_with_the_weights(tmp_path):
    """chemprop's extra-descriptor design: RDKit descriptors (MolLogP among them) beside the
    embedding lower ESOL's RMSE far below the same small network without them; their
    training statistics are stored with the weights and reused on reload."""
    from deepchem_acml.evaluation.moleculenet import EarlyStopping, fit_graph_model

    task = load_split_task("esol")
    small = dict(num_layers=2, hidden_dim=32, batch_size=64)
    plain = fit_graph_model(task, None, 0, EarlyStopping(3, 3), **small)
    with_descriptors = fit_graph_model(task, None, 0, EarlyStopping(3, 3), **small,
                                       molecule_features="rdkit_2d")
    assert with_descriptors.score < plain.score - 0.2, (with_descriptors.score, plain.score)

    model = ACMLPropertyModel(1, "regression", encoder=dict(num_layers=2, hidden_dim=32),
                              molecule_features="rdkit_2d",
                              model_dir=str(tmp_path), seed=0, batch_size=64)
    X = model.graph_featurizer.featurize(task.smiles["train"][:64])
    assert X[0].molecule_features.shape == (len(X[0].molecule_features),) and \
        X[0].molecule_features.dtype == np.float32
    data = dc.data.NumpyDataset(X, task.y["train"][:64])
    model.fit(data, nb_epoch=1)
    standardizer = model.model.feature_standardizer
    assert bool(standardizer.fitted) and float(standardizer.std.min()) > 0
    model.save_checkpoint()
    reloaded = ACMLPropertyModel(1, "regression", encoder=dict(num_layers=2, hidden_dim=32),
                                 molecule_features="rdkit_2d",
                                 model_dir=str(tmp_path), seed=1, batch_size=64)
    reloaded.restore()
    np.testing.assert_allclose(reloaded.predict(data), model.predict(data), rtol=1e-5)


def test_a_descriptor_model_refuses_graphs_without_descriptors():
    model = ACMLPropertyModel(1, "regression", encoder=dict(num_layers=2, hidden_dim=32),
                              molecule_features="rdkit_2d", seed=0)
    plain = dc.data.NumpyDataset(ACMLGraphFeaturizer().featurize(["CCO", "CCN"]),
                                 np.array([[0.1], [0.2]]))
    with pytest.raises(ValueError, match="featurize the molecules with model.graph_featurizer"):
        model.fit(plain, nb_epoch=1)
    with pytest.raises(ValueError, match="molecule_features must be None or one of"):
        ACMLPropertyModel(1, "regression", encoder={}, molecule_features="mordred")


def test_the_defaults_are_the_benchmarks_best_fine_tuning_recipe_on_validation():
    """No argument but the task: the shipped ``smiles_rich_distilled`` encoder, pooled by
    mean, at a tenth of the head's learning rate — the row
    'ACML fine-tuned (smiles_rich_distilled, slow encoder, mean pooling)'."""
    from deepchem_acml.embedding import load_graph_encoder
    from deepchem_acml.evaluation.moleculenet import (
        ACML_RECIPE,
        RICH_DISTILLED,
        SLOW_ENCODER_RECIPE,
    )

    model = ACMLPropertyModel(1, "classification")
    shipped = load_graph_encoder(RICH_DISTILLED, device="cpu")
    for name, value in shipped.state_dict().items():
        assert torch.equal(model.model.encoder.state_dict()[name], value), name
    assert model.model.encoder.pooling == SLOW_ENCODER_RECIPE["encoder_pooling"] == "mean"
    assert model.encoder_learning_rate_scale == SLOW_ENCODER_RECIPE[
        "encoder_learning_rate_scale"]
    assert model.graph_featurizer.atom_features == "rich"
    assert model.batch_size == ACML_RECIPE["batch_size"]


def test_arguments_an_encoder_would_ignore_are_refused_and_old_spellings_warn():
    with pytest.raises(TypeError, match="would be ignored.*encoder=dict\\(hidden_dim=16\\)"):
        ACMLPropertyModel(1, "regression", encoder="nmr_13c", hidden_dim=16)
    with pytest.raises(TypeError, match="inside encoder=dict"):
        ACMLPropertyModel(1, "regression", encoder={}, pooling="mean")
    with pytest.raises(ValueError, match="GINEncoder's arguments"):
        ACMLPropertyModel(1, "regression", encoder=dict(hidden=16))
    with pytest.warns(FutureWarning, match="pretrained=...\\) is deprecated"):
        old = ACMLPropertyModel(1, "regression", pretrained=None, hidden_dim=16)
    assert (old.model.encoder.hidden_dim, old.model.encoder.num_layers) == (16, 5)


def test_unknown_keywords_are_refused_not_swallowed():
    with pytest.raises(TypeError, match="unexpected keyword"):
        ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=8), lerning_rate=0.1)


def test_a_checkpoint_of_the_other_molecule_features_setting_says_which(tmp_path):
    graph_only = ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=8),
                                   molecule_features=None, model_dir=str(tmp_path / "a"))
    X = graph_only.graph_featurizer.featurize(["CCO", "CCN", "CCC"])
    graph_only.fit(dc.data.NumpyDataset(X, np.array([[0.1], [0.2], [0.3]])), nb_epoch=1)
    default = ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=8),
                                model_dir=str(tmp_path / "a"))
    with pytest.raises(ValueError, match="molecule_features=None"):
        default.restore()
