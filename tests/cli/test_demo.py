"""The `acml` console script, run as a user runs it."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.torch


def _acml():
    exe = shutil.which("acml")
    return [exe] if exe else [sys.executable, "-m", "deepchem_acml.cli.main"]


def test_demo_writes_metrics_checkpoint_and_embeddings(tmp_path):
    out = tmp_path / "demo"
    completed = subprocess.run(
        _acml() + ["demo", "--out", str(out), "--max-molecules", "600", "--epochs", "2",
                   "--hidden-dim", "32"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    pool_size = metrics["retrieval"]["pool_size"]
    assert pool_size == min(128, metrics["data"]["n_test"])
    assert f"pools of {pool_size}" in completed.stdout and "modality → graph" in completed.stdout
    assert "ACML training" in completed.stderr  # the progress bar
    pools = metrics["retrieval"]["pools"]["modality_to_graph"]
    assert set(pools) >= {"top1", "top2", "top3", "top5", "top10", "top20", "mrr"}
    assert metrics["data"]["n_train"] + metrics["data"]["n_valid"] + metrics["data"]["n_test"] \
        == metrics["data"]["n_pairs"]
    assert metrics["model"]["hyperparameters"]["hidden_dim"] == 32
    embeddings = np.load(out / "test_embeddings.npz")
    assert embeddings["graph_embedding"].shape == (metrics["data"]["n_test"], 32)
    assert len(embeddings["ids"]) == len(embeddings["smiles"]) == metrics["data"]["n_test"]
    assert (out / "acml_nmr_13c.pt").is_file() and (out / "failures.csv").is_file()


def test_missing_data_file_is_a_clear_error(tmp_path):
    completed = subprocess.run(_acml() + ["pretrain", "--data", str(tmp_path / "nope.csv"),
                                          "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2
    assert "nope.csv" in completed.stderr and "Traceback" not in completed.stderr


def test_distillation_temperature_and_batching_options_reach_the_model_and_the_metrics(tmp_path):
    out = tmp_path / "distilled"
    completed = subprocess.run(
        _acml() + ["demo", "--out", str(out), "--max-molecules", "300", "--epochs", "2",
                   "--hidden-dim", "16", "--distillation-weight", "5", "--temperature", "2",
                   "--batching", "neighbours"],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    stored = metrics["model"]["hyperparameters"]
    assert stored["distillation_weight"] == 5.0 and stored["temperature"] == 2.0
    assert stored["batching"] == "neighbours"
    r2 = metrics["distillation_r2_test"]["nmr_13c"]
    assert np.isfinite(r2) and r2 <= 1.0


def test_exclude_leaves_out_every_molecule_sharing_a_skeleton_and_counts_them(tmp_path):
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.data.pairs import inchikeys_of

    data = tmp_path / "pairs.csv"
    frame = read_embedded_nmr_13c().head(300)
    frame.to_csv(data, index=False)
    exclude = tmp_path / "benchmark_tests.smi"
    exclude.write_text("\n".join(frame.smiles.head(20)) + "\nnot-a-smiles\n")
    out = tmp_path / "run"
    completed = subprocess.run(
        _acml() + ["pretrain", "--modality", "nmr_13c", "--data", str(data), "--out", str(out),
                   "--epochs", "1", "--hidden-dim", "16", "--exclude", str(exclude)],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    skeletons = {k.split("-")[0] for k in inchikeys_of(frame.smiles.head(20))}
    sharing = sum(k.split("-")[0] in skeletons for k in inchikeys_of(frame.smiles))
    assert metrics["data"]["excluded"]["n_excluded"] == sharing >= 20
    assert metrics["data"]["excluded"]["n_skeletons"] == len(skeletons)
    assert metrics["data"]["n_input"] == 300 and metrics["data"]["n_pairs"] <= 300 - sharing
    test_smiles = np.load(out / "test_embeddings.npz", allow_pickle=True)["smiles"]
    assert not {k.split("-")[0] for k in inchikeys_of(test_smiles)} & skeletons
