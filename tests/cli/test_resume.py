"""A training process killed with SIGKILL resumes with the same command and ends identically."""
import json
import os
import signal
import subprocess
import time

import pytest

from deepchem_acml.checkpoints import load_checkpoint_file

from .test_demo import _acml

pytestmark = pytest.mark.torch

EPOCHS = 12


def _command(csv, out):
    return _acml() + ["pretrain", "--data", str(csv), "--out", str(out), "--epochs", str(EPOCHS),
                      "--hidden-dim", "32", "--batch-size", "32", "--checkpoint-every", "3",
                      "--seed", "3"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory, nmr_frame):
    path = tmp_path_factory.mktemp("data") / "pairs.csv"
    nmr_frame.iloc[1000:1250][["smiles", "spectrum", "inchikey"]].to_csv(path, index=False)
    return path


def test_sigkill_mid_training_then_resume_matches_uninterrupted_run(csv, tmp_path):
    reference = subprocess.run(_command(csv, tmp_path / "straight"), capture_output=True,
                               text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr[-2000:]

    interrupted = tmp_path / "interrupted"
    state_file = interrupted / "training_state.pt"
    process = subprocess.Popen(_command(csv, interrupted), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not state_file.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = load_checkpoint_file(state_file, kind="acml_training_state")["training_state"]
    assert killed_at["epoch"] < EPOCHS and not (interrupted / "metrics.json").exists()

    resumed = subprocess.run(_command(csv, interrupted), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr

    straight = load_checkpoint_file(tmp_path / "straight" / "acml_nmr_13c.pt")
    again = load_checkpoint_file(interrupted / "acml_nmr_13c.pt")
    assert straight["global_step"] == again["global_step"]
    worst = max(float((straight["model_state_dict"][k].float()
                       - again["model_state_dict"][k].float()).abs().max())
                for k in straight["model_state_dict"])
    assert worst <= 1e-6, f"weights differ by up to {worst}"
    first = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    second = json.loads((interrupted / "metrics.json").read_text())
    assert first["retrieval"] == second["retrieval"]
    assert first["training"]["history"] == second["training"]["history"]
