"""The DGL backend: same weights, same outputs as the plain-PyTorch GIN (run in the `dgl` tox
environment, where torch 2.2.1 and dgl 2.1.0 import); and a clear message where dgl is broken."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from deepchem_acml.nn.dgl_backend import dgl_import_error

DGL_WORKS = importlib.util.find_spec("dgl") is not None and dgl_import_error() is None
needs_dgl = pytest.mark.skipif(not DGL_WORKS,
                               reason="dgl not installed here: `tox -e dgl` runs these")
# float32 rounding of sums taken in another order, through five layers, on sum-pooled values
# up to ~100: measured at most 6.5e-5 absolute.
PARITY = dict(atol=1e-4, rtol=1e-4)


def test_a_broken_dgl_install_is_named_with_what_to_do(tmp_path):
    # A stand-in for a dgl wheel built for another torch: it fails on import, as dgl 2.1.0
    # does with torch >= 2.3 (its C++ library for that torch is missing).
    package = tmp_path / "dgl"
    package.mkdir()
    (package / "__init__.py").write_text(
        'raise FileNotFoundError("Cannot find DGL C++ graphbolt library at '
        '.../libgraphbolt_pytorch_2.13.0.so")\n')
    path = f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    environment = {**os.environ, "PYTHONPATH": path}
    completed = subprocess.run([sys.executable, "-c", "import deepchem_acml"],
                               capture_output=True, text=True, env=environment, timeout=120)
    assert completed.returncode != 0
    assert "dgl is installed but does not import with torch" in completed.stderr
    assert "pip uninstall dgl" in completed.stderr and "tox -e dgl" in completed.stderr


@pytest.mark.skipif(importlib.util.find_spec("dgl") is not None, reason="dgl is installed")
def test_asking_for_the_dgl_backend_without_dgl_says_how_to_get_it():
    from deepchem_acml.nn.gin import GINEncoder

    with pytest.raises(ImportError, match="tox -e dgl"):
        GINEncoder(num_layers=2, hidden_dim=8, backend="dgl")


def _embeddings(encoder, graphs):
    import torch

    with torch.no_grad():
        return encoder(encoder.collate(graphs)).numpy()


@needs_dgl
@pytest.mark.torch
@pytest.mark.parametrize("norm,pooling,atoms", [("layer", "sum", "hu"), ("batch", "mean", "hu"),
                                               ("layer", "max", "hu"), ("layer", "sum", "rich")])
def test_dgl_and_torch_backends_agree_on_real_molecules(nmr_frame, norm, pooling, atoms):
    import copy

    import torch

    from deepchem_acml import ACMLGraphFeaturizer
    from deepchem_acml.nn.gin import GINEncoder

    graphs = ACMLGraphFeaturizer(atom_features=atoms).featurize_with_report(
        list(nmr_frame.smiles[:300])).features
    torch.manual_seed(0)
    reference = GINEncoder(5, 64, 0.0, pooling, norm, atom_features=atoms).eval()
    with torch.no_grad():  # non-trivial normalisation parameters
        for norm_layer in reference.norms:
            norm_layer.weight.uniform_(0.5, 1.5)
            norm_layer.bias.uniform_(-0.5, 0.5)
    dgl_encoder = copy.deepcopy(reference)
    dgl_encoder.backend = "dgl"
    torch_out, dgl_out = _embeddings(reference, graphs), _embeddings(dgl_encoder, graphs)
    assert np.abs(torch_out).max() > 1.0
    np.testing.assert_allclose(dgl_out, torch_out, **PARITY)


@needs_dgl
@pytest.mark.torch
def test_a_shipped_checkpoint_loads_into_the_dgl_backend_with_the_same_embeddings(nmr_frame):
    from deepchem_acml.embedding import embed_smiles, load_graph_encoder

    smiles = list(nmr_frame.smiles[:200])
    torch_out, _ = embed_smiles(load_graph_encoder("nmr_13c"), smiles)
    dgl_out, _ = embed_smiles(load_graph_encoder("nmr_13c", backend="dgl"), smiles)
    np.testing.assert_allclose(dgl_out, torch_out, **PARITY)


@needs_dgl
@pytest.mark.torch
def test_gradients_agree_between_backends(small_frame, small_model_kwargs):
    """One contrastive step's gradients for every weight, both backends, same batch."""
    import copy

    import torch

    from deepchem_acml import ACMLModel

    model = ACMLModel("nmr_13c", **dict(small_model_kwargs,
                                        encoder=dict(hidden_dim=32, dropout=0.0)),
                      projection_dropout=0.0)
    dataset, _ = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    model._ensure_built()
    gradients = {}
    for backend in ("torch", "dgl"):
        network = copy.deepcopy(model._network).train()
        network.graph_encoder.backend = backend
        batch = next(model.default_generator(dataset))
        inputs, _, _ = model._prepare_batch(batch)
        inputs[0] = network.graph_encoder.collate(batch[0][0])
        outputs = network(inputs)
        model._contrastive_loss([outputs[i] for i in model._loss_outputs], [], []).backward()
        gradients[backend] = torch.cat([p.grad.flatten() for p in network.parameters()])
    difference = (gradients["dgl"] - gradients["torch"]).norm() / gradients["torch"].norm()
    assert float(gradients["torch"].norm()) > 0 and float(difference) < 1e-4


@needs_dgl
@pytest.mark.torch
def test_deepchem_gcn_model_smoke_run_on_esol():
    """DeepChem's own GCNModel (the MoleculeNet benchmark's baseline) trains here."""
    import deepchem as dc
    import pandas as pd

    from deepchem_acml.data.moleculenet import moleculenet_dir

    frame = pd.read_csv(moleculenet_dir("delaney") / "delaney-processed.csv").head(200)
    X = dc.feat.MolGraphConvFeaturizer().featurize(frame.smiles)
    y = frame["measured log solubility in mols per litre"].to_numpy()[:, None]
    data = dc.data.NumpyDataset(X, y)
    model = dc.models.GCNModel(n_tasks=1, mode="regression", batch_size=32, learning_rate=1e-3)
    first = model.fit(data, nb_epoch=1)
    last = model.fit(data, nb_epoch=10)
    assert np.isfinite(last) and last < first
    assert model.predict(data).shape == (200, 1)
