"""Data-parallel training (torch.distributed, gloo, 2 CPU processes launched by torchrun)
against one process on the same global batches."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-5  # measured: 1.5e-7 after 12 steps


def run_worker(out: Path, processes: int) -> dict:
    out.mkdir()
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    if processes == 1:
        command = [sys.executable, str(WORKER), str(out)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={processes}", str(WORKER), str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600,
                               env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


@pytest.mark.torch
def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    import torch

    single = run_worker(tmp_path / "one", 1)
    double = run_worker(tmp_path / "two", 2)
    assert (single["world_size"], double["world_size"]) == (1, 2)
    assert single["steps"] == double["steps"] == 3 * 4  # 200 pairs, global batch 63, 3 epochs
    # The loss each process computes over the gathered global batch is the single-process loss.
    for one, two in zip(single["history"], double["history"]):
        assert abs(one["train_loss"] - two["train_loss"]) < LOSS_TOLERANCE
    weights_one = torch.load(tmp_path / "one" / "weights.pt", weights_only=True)
    weights_two = torch.load(tmp_path / "two" / "weights.pt", weights_only=True)
    largest = max(float((weights_one[k].double() - weights_two[k].double()).abs().max())
                  for k in weights_one)
    assert largest < WEIGHT_TOLERANCE
    # and training moved the weights well beyond that tolerance
    from deepchem_acml import ACMLModel

    initial = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32, dropout=0.0), projection_dim=64,
                        num_cells=1, batch_size=64, projection_dropout=0.0, seed=0)
    initial._ensure_built()
    moved = max(float((v.double() - weights_one[k].double()).abs().max())
                for k, v in initial._network.state_dict().items())
    assert moved > 100 * WEIGHT_TOLERANCE
