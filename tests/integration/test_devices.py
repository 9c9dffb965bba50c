"""Every face that runs a network takes a device, leaves what it is handed alone, and
resumes training across devices. Each test runs on the CPU and again on CUDA where there is
a GPU (``-m gpu`` selects them; the CUDA variants are skipped here otherwise)."""
import deepchem as dc
import numpy as np
import pytest
import torch

from deepchem_acml import (
    ACMLEmbedder,
    ACMLFeaturizer,
    ACMLGraphFeaturizer,
    ACMLModel,
    ACMLPropertyModel,
    ACMLTransformer,
)
from deepchem_acml.devices import (
    autocast,
    enable_determinism,
    resolve_device,
    restore_rng_state,
    rng_state,
)
from deepchem_acml.embedding import embed_smiles, load_graph_encoder
from deepchem_acml.modalities import get_modality

pytestmark = [pytest.mark.torch, pytest.mark.gpu]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]
SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCN", "OCCO", "CCCl"]


@pytest.fixture(scope="module")
def cpu_embeddings():
    return embed_smiles(load_graph_encoder("nmr_13c", device="cpu"), SMILES)[0]


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_faces_run_on_the_device_and_agree_with_the_cpu(device, cpu_embeddings):
    featurizer = ACMLFeaturizer("nmr_13c", device=device)
    assert next(featurizer.encoder.parameters()).device.type == device
    np.testing.assert_allclose(featurizer.featurize(SMILES), cpu_embeddings, atol=1e-4)
    embedder = ACMLEmbedder("nmr_13c", device=device).fit(SMILES)
    np.testing.assert_allclose(embedder.transform(SMILES), cpu_embeddings, atol=1e-4)
    graphs = ACMLGraphFeaturizer().featurize(SMILES)
    transformed = ACMLTransformer("nmr_13c", device=device).transform(
        dc.data.NumpyDataset(graphs, np.zeros(len(SMILES))))
    np.testing.assert_allclose(transformed.X, cpu_embeddings, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_modules_handed_in_are_copied_not_changed(device):
    encoder = load_graph_encoder("nmr_13c", device="cpu").train()
    before = _state(encoder)
    loaded = load_graph_encoder(encoder, device=device)
    assert loaded is not encoder and encoder.training  # its mode untouched
    assert next(encoder.parameters()).device.type == "cpu"
    model = ACMLPropertyModel(1, "regression", encoder=encoder, device=torch.device(device),
                              molecule_features=None, seed=0)
    data = dc.data.NumpyDataset(ACMLGraphFeaturizer().featurize(SMILES), np.arange(6.0))
    model.fit(data, nb_epoch=2)
    ACMLTransformer(encoder, device=device)
    for name, value in encoder.state_dict().items():  # fine-tuning changed a copy only
        assert torch.equal(value, before[name]), name
    assert next(encoder.parameters()).device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_a_shared_frozen_encoder_never_moves(device):
    modality = get_modality("nmr_13c")
    features = modality.featurize(["10.0;0.0Q;0|20.0;0.0T;1|", "50.1;0.0D;0|"]).features
    on_device = modality.encode(features, device=torch.device(device))
    assert next(modality.encoder.parameters()).device.type == "cpu"
    np.testing.assert_allclose(on_device, modality.encode(features), atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_rng_state_round_trips_whatever_device_it_was_loaded_onto(device, tmp_path):
    torch.manual_seed(7)
    if device == "cuda":
        torch.cuda.manual_seed_all(7)
    saved = rng_state()
    torch.save(saved, tmp_path / "rng.pt")
    expected = torch.rand(5)
    expected_cuda = torch.rand(5, device="cuda") if device == "cuda" else None
    torch.rand(100)  # move the generators on
    loaded = torch.load(tmp_path / "rng.pt", map_location=device, weights_only=True)
    assert loaded["cpu"].device.type == device  # what _load_state used to hand set_rng_state
    restore_rng_state(loaded)
    assert torch.equal(torch.rand(5), expected)
    if device == "cuda":
        assert torch.equal(torch.rand(5, device="cuda"), expected_cuda)
    restore_rng_state(saved["cpu"])  # a state of an older version: the bare CPU tensor
    assert torch.equal(torch.rand(5), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_training_state_written_on_one_device_resumes_on_the_cpu(device, tmp_path, nmr_frame):
    frame = nmr_frame.iloc[:120]

    def model_on(where):
        return ACMLModel("nmr_13c", encoder=dict(hidden_dim=16), batch_size=32, seed=1,
                         device=torch.device(where), model_dir=str(tmp_path / where))

    first = model_on(device)
    data, _ = first.build_dataset(frame.smiles, frame.spectrum)
    first.train(data, nb_epoch=2, checkpoint_path=tmp_path / "state.pt", progress=False)
    straight = model_on("cpu")
    straight.train(data, nb_epoch=3, checkpoint_path=tmp_path / "straight.pt", progress=False)
    resumed = model_on("cpu")
    history = resumed.train(data, nb_epoch=3, checkpoint_path=tmp_path / "state.pt",
                            progress=False)
    assert [h["epoch"] for h in history][-1] == 3
    if device == "cpu":  # the same device: the resumed run is the uninterrupted one
        for name, value in straight.model.state_dict().items():
            torch.testing.assert_close(resumed.model.state_dict()[name], value)


def test_torchrun_ranks_each_get_their_own_gpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert resolve_device("cuda:0") == torch.device("cuda", 2)
    assert resolve_device("cuda") == torch.device("cuda", 2)
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_default_device_is_deepchems_choice():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type in (expected, "mps")


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_fine_tuning_and_embedding(device, cpu_embeddings):
    data = dc.data.NumpyDataset(ACMLGraphFeaturizer().featurize(SMILES),
                                np.array([[0, 1, 0, 1, 0, 1]]).T.astype(float))
    model = ACMLPropertyModel(1, "classification", encoder="nmr_13c", precision="bf16",
                              device=torch.device(device), molecule_features=None, seed=0)
    loss = model.fit(data, nb_epoch=2)
    assert np.isfinite(loss) and model.predict(data).dtype == np.float32
    encoder = load_graph_encoder("nmr_13c", device=device)
    low = embed_smiles(encoder, SMILES, precision="bf16")[0]
    assert low.dtype == np.float32
    relative = np.abs(low - cpu_embeddings).max() / np.abs(cpu_embeddings).max()
    assert relative < 0.05  # bf16 keeps about 3 significant digits
    with pytest.raises(ValueError, match="bf16"):
        ACMLPropertyModel(1, "regression", encoder={}, precision="fp16")
    if device == "cpu":
        with pytest.raises(ValueError, match="CUDA"):
            with autocast(torch.device("cpu"), "fp16"):
                pass


def test_determinism_sets_the_cublas_workspace_where_cuda_needs_it(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    enable_determinism()
    assert torch.are_deterministic_algorithms_enabled()
    import os
    if torch.cuda.is_available() and not torch.cuda.is_initialized():
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    elif not torch.cuda.is_available():
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # nothing set where it is not needed


@CUDA
def test_seeded_cuda_training_is_repeatable(nmr_frame):
    frame = nmr_frame.iloc[:200]
    losses = []
    for _ in range(2):
        model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32), batch_size=32, seed=5,
                          device=torch.device("cuda"))
        data, _ = model.build_dataset(frame.smiles, frame.spectrum)
        losses.append(model.fit(data, nb_epoch=2))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)

