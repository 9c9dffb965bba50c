"""``atom_features="rich"`` end to end on real nmrshiftdb2 compounds: an ACML model featurizes,
trains, saves and reloads with the richer atom inputs, its encoder embeds and fine-tunes with
the matching featurizer, and a Hu-input model refuses its weights with a clear error."""
import deepchem as dc
import numpy as np
import pytest

from deepchem_acml import ACMLModel
from deepchem_acml.checkpoints import CheckpointError
from deepchem_acml.embedding import embed_smiles, load_graph_encoder
from deepchem_acml.models.finetune import ACMLPropertyModel

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def rich_checkpoint(small_frame, tmp_path_factory):
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32, atom_features="rich"),
                      projection_dim=64, num_cells=1, batch_size=64, seed=0)
    dataset, failures = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    assert failures == [] and dataset.X[0].node_features.shape[1] == 9
    history = model.train(dataset.select(range(192)), dataset.select(range(192, 256)),
                          nb_epoch=2, progress=False)
    assert all(np.isfinite(h["train_loss"]) for h in history)
    path = tmp_path_factory.mktemp("rich") / "acml_rich.pt"
    model.save(path)
    return path, model.predict_embedding(dataset)


def test_a_rich_model_reloads_with_its_atom_inputs(rich_checkpoint, small_frame):
    path, embeddings = rich_checkpoint
    reloaded = ACMLModel.load(path)
    assert reloaded.hyperparameters["atom_features"] == "rich"
    assert "'atom_features': 'rich'" in repr(reloaded)
    dataset, _ = reloaded.build_dataset(small_frame.smiles, small_frame.spectrum)
    np.testing.assert_allclose(reloaded.predict_embedding(dataset), embeddings, atol=1e-5)
    with pytest.raises(CheckpointError, match="atom_features"):
        ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), projection_dim=64,
                  num_cells=1).restore(str(path))


def test_the_rich_encoder_embeds_and_fine_tunes_with_its_own_featurizer(rich_checkpoint,
                                                                         small_frame):
    path, _ = rich_checkpoint
    encoder = load_graph_encoder(path, device="cpu")
    vectors, result = embed_smiles(encoder, list(small_frame.smiles[:20]) + ["not a smiles"])
    assert vectors.shape == (20, 32) and result.n_failed == 1
    model = ACMLPropertyModel(1, "regression", encoder=str(path), seed=0)
    assert model.graph_featurizer.atom_features == "rich"
    X = model.graph_featurizer.featurize(list(small_frame.smiles[:64]))
    y = np.array([[g.num_nodes / 10.0] for g in X])
    data = dc.data.NumpyDataset(X, y)
    model.fit(data, nb_epoch=2)
    assert model.predict(data).shape == (64, 1)
    scratch = ACMLPropertyModel(1, "regression", encoder=dict(hidden_dim=16, atom_features="rich"),
                                seed=0)
    assert scratch.graph_featurizer.atom_features == "rich"
    with pytest.raises(ValueError, match="atom_features='rich'"):
        scratch.predict(dc.data.NumpyDataset(
            ACMLPropertyModel(1, "regression", encoder={}).graph_featurizer.featurize(
                ["CCO", "CCN"])))


def test_the_shipped_rich_distilled_encoder_retrieves_molecules_of_another_source(small_frame):
    """``smiles_rich_distilled`` (rich atom inputs, distillation term, trained on MOSES)
    loads with its inputs, its frozen-embedding face embeds with them, and on nmrshiftdb2
    molecules it never saw it finds a molecule's graph from its SMILES embedding far above
    chance in pools of 128 (measured on 785 of them: top-10 0.968)."""
    from deepchem_acml import ACMLFeaturizer
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    model = ACMLModel.from_pretrained("smiles_rich_distilled")
    assert model.hyperparameters["atom_features"] == "rich"
    assert model.hyperparameters["distillation_weight"] == 20
    smiles = list(small_frame.smiles[:256])
    dataset, failures = model.build_dataset(smiles, smiles)
    assert failures == []
    np.testing.assert_allclose(ACMLFeaturizer(pretrained="smiles_rich_distilled").featurize(smiles),
                               model.predict_embedding(dataset), rtol=1e-4, atol=1e-4)
    scores = retrieval_in_pools(model.predict(dataset), model.project_modality(dataset.y), 128, 4,
                                0)["modality_to_graph"]
    assert scores["top10"] > 0.8  # chance: 10 / 128
