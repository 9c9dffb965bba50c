"""Every shipped checkpoint computes what it computed before the models were merged.

The reference arrays were written by ``tests/data/shipped_reference.py`` with the code of
commit 3ace1c9 (separate ``ACMLModel`` and ``JointACMLModel`` implementations).
"""
from pathlib import Path

import numpy as np
import pytest

from tests.data.shipped_reference import SINGLE, SMILES, fixed_modality_embeddings

REFERENCE = np.load(Path(__file__).resolve().parents[1] / "data" / "shipped_reference.npz")


@pytest.mark.parametrize("name", SINGLE)
def test_single_modality_checkpoint_unchanged(name):
    from deepchem_acml import ACMLModel

    model = ACMLModel.from_pretrained(name)
    dataset, failures = model.featurize_graphs(SMILES)
    assert failures == []
    np.testing.assert_allclose(model.predict_embedding(dataset), REFERENCE[f"{name}/embedding"],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(dataset), REFERENCE[f"{name}/projection"],
                               rtol=1e-5, atol=1e-5)
    modality = fixed_modality_embeddings(model.modality.embedding_dim)
    np.testing.assert_allclose(model.project_modality(modality),
                               REFERENCE[f"{name}/modality_projection"], rtol=1e-5, atol=1e-5)


def test_joint_checkpoint_unchanged():
    from deepchem_acml import JointACMLModel

    model = JointACMLModel.from_pretrained()
    dataset, _ = model.featurize_graphs(SMILES)
    np.testing.assert_allclose(model.predict_embedding(dataset), REFERENCE["joint/embedding"],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(dataset), REFERENCE["joint/projection"],
                               rtol=1e-5, atol=1e-5)
    for name, modality in model.modalities.items():
        embeddings = fixed_modality_embeddings(modality.embedding_dim)
        np.testing.assert_allclose(model.project_modality(name, embeddings),
                                   REFERENCE[f"joint/{name}/modality_projection"],
                                   rtol=1e-5, atol=1e-5)


def test_the_reference_tells_the_models_apart():
    """The check can fail: two shipped models compute different embeddings."""
    assert not np.allclose(REFERENCE["nmr_13c/embedding"], REFERENCE["smiles/embedding"],
                           atol=1e-3)


def test_one_model_class_reads_single_and_joint_checkpoints():
    from deepchem_acml import ACMLModel, JointACMLModel
    from deepchem_acml.shipped import pretrained_path

    joint = ACMLModel.from_pretrained("joint")
    assert list(joint.modalities) == ["nmr_13c", "nmr_1h", "smiles"] and joint.modality is None
    assert isinstance(JointACMLModel.from_pretrained(), ACMLModel)
    dataset, _ = joint.featurize_graphs(SMILES)
    np.testing.assert_allclose(joint.predict_embedding(dataset), REFERENCE["joint/embedding"],
                               rtol=1e-5, atol=1e-5)
    single = JointACMLModel.load(pretrained_path("smiles"))
    assert list(single.modalities) == ["smiles"]


def test_float16_weights_keep_retrieval_and_embeddings(tmp_path):
    """A checkpoint stored with float16 weights loads into float32 and retrieves as the
    float32 one does on the embedded 13C pairs (the bar for shipping a model that way)."""
    from deepchem_acml import ACMLModel
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    full = ACMLModel.from_pretrained("nmr_13c")
    full.save(tmp_path / "half.pt", include_optimizer=False, weights_dtype="float16")
    half = ACMLModel.load(tmp_path / "half.pt")
    import torch

    assert all(p.dtype == torch.float32 for p in half.model.parameters())
    frame = read_embedded_nmr_13c().head(600)
    dataset, _ = full.build_dataset(frame.smiles, frame.spectrum)
    full_embedding = full.predict_embedding(dataset)
    half_embedding = half.predict_embedding(dataset)
    scale = np.abs(full_embedding).mean()
    assert np.abs(half_embedding - full_embedding).mean() < 5e-3 * scale
    scores = [retrieval_in_pools(m.predict(dataset), m.project_modality(dataset.y), 128, 5, 0)
              ["modality_to_graph"] for m in (full, half)]
    assert abs(scores[0]["top10"] - scores[1]["top10"]) <= 0.01
    assert abs(scores[0]["mrr"] - scores[1]["mrr"]) <= 0.01
    with pytest.raises(ValueError, match="include_optimizer=False"):
        full.save(tmp_path / "bad.pt", weights_dtype="float16")


def test_the_frozen_embedding_faces_default_to_one_shipped_encoder():
    """ACMLFeaturizer, ACMLEmbedder and ACMLTransformer share one default, a shipped model,
    and embed with exactly that model's encoder."""
    import deepchem as dc

    from deepchem_acml import (
        ACMLEmbedder,
        ACMLFeaturizer,
        ACMLGraphFeaturizer,
        ACMLModel,
        ACMLTransformer,
    )
    from deepchem_acml.shipped import DEFAULT_ENCODER

    model = ACMLModel.from_pretrained(DEFAULT_ENCODER)
    expected = model.predict_embedding(model.featurize_graphs(SMILES)[0])
    np.testing.assert_allclose(ACMLFeaturizer().featurize(SMILES), expected, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(ACMLEmbedder().fit(SMILES).transform(SMILES), expected,
                               rtol=1e-5, atol=1e-5)
    graphs = dc.data.NumpyDataset(ACMLGraphFeaturizer().featurize(SMILES))
    np.testing.assert_allclose(ACMLTransformer().transform(graphs).X, expected, rtol=1e-5,
                               atol=1e-5)


def test_shipped_models_store_float16_weights_but_smiles():
    """Every shipped ACML model stores float16 weights (half the size; retrieval checked
    unchanged by ``benchmarks/ship_pretrained.py --float16``) with the standardisers'
    statistics in float32, except ``acml_smiles.pt``: the MoleculeNet benchmark's records
    name it without a dtype, so its float32 weights stay until the recipe records one."""

    from deepchem_acml.checkpoints import KEPT_IN_FLOAT32, load_checkpoint_file
    from deepchem_acml.shipped import PRETRAINED_DIR

    for path in sorted(PRETRAINED_DIR.glob("acml_*.pt")):
        state = load_checkpoint_file(path)["model_state_dict"]
        weights = {str(t.dtype) for k, t in state.items() if t.is_floating_point()
                   and not any(kept in k for kept in KEPT_IN_FLOAT32)}
        assert weights == ({"torch.float32"} if path.name == "acml_smiles.pt"
                           else {"torch.float16"}), path.name
