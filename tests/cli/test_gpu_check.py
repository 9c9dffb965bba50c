"""The GPU check is ready for the lent GPU machine: what travels fits, and the check runs
there as rehearsed here (``benchmarks/gpu_rehearsal.py``: the same command, on the CPU, with
only the packages that machine has)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
REHEARSAL_PYTHON = ROOT / ".venv-gpu-rehearsal" / "bin" / "python"


def _in_a_git_checkout() -> bool:
    return subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT,
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _in_a_git_checkout(), reason="needs the git checkout (its file list)")
def test_the_tracked_tree_stays_within_its_budget():
    """Room for what the check carries: the tracked files stay under TREE_BUDGET, which
    leaves the rest of the 64 MiB that travels to the GPU machine for the carried folder."""
    from gpu_prepare import TRAVEL_LIMIT, TREE_BUDGET

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    size = sum((ROOT / n).stat().st_size for n in listed if n and (ROOT / n).is_file())
    assert TREE_BUDGET <= TRAVEL_LIMIT - 8 * 2 ** 20
    assert size <= TREE_BUDGET, (
        f"the tracked tree is {size / 2 ** 20:.1f} MiB, over its budget of "
        f"{TREE_BUDGET / 2 ** 20:.0f} MiB: store checkpoints in float16 "
        "(benchmarks/ship_pretrained.py --float16), or keep large regenerable files out of git")


@pytest.mark.torch
def test_graphs_travel_as_arrays_and_embed_as_before():
    """The carried graph arrays rebuild graphs that the encoders read exactly as the
    featurizer's own (the GPU machine cannot featurize: no RDKit there)."""
    from gpu_check import pack_graphs, unpack_graphs

    from deepchem_acml import ACMLGraphFeaturizer
    from deepchem_acml.embedding import embed_graphs, load_graph_encoder

    graphs = ACMLGraphFeaturizer().featurize(["CCO", "c1ccccc1O", "CC(=O)N", "C#N"])
    rebuilt = unpack_graphs(dict(np.load(_saved(pack_graphs(graphs)))))
    encoder = load_graph_encoder("nmr_13c")
    np.testing.assert_array_equal(embed_graphs(encoder, list(rebuilt)),
                                  embed_graphs(encoder, list(graphs)))


def _saved(arrays: dict):
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    return buffer


def test_the_check_reports_a_missing_gpu_instead_of_crashing(tmp_path):
    """Without CUDA (and without --dry-run) the check writes its JSON with the reason."""
    carry = tmp_path / "carry"
    carry.mkdir()
    for name in ("pairs_13c.npz", "bbbp.npz"):
        np.savez(carry / name, empty=np.zeros(1))
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"),
                                "--carry", str(carry), "--out", str(tmp_path / "out"),
                                "--device", "cuda:0"], capture_output=True, text=True,
                               cwd=ROOT, timeout=300)
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    assert completed.returncode == 1
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert "no CUDA device" in report["error"]


@pytest.mark.torch
@pytest.mark.skipif(not REHEARSAL_PYTHON.exists(),
                    reason="no rehearsal environment: `make gpu-rehearsal-env` builds it")
def test_the_rehearsal_passes_every_step_with_what_travels(tmp_path):
    """What would travel, in a clean folder, under 64 MiB; the same command as on the GPU
    machine, on the CPU, with an interpreter lacking RDKit and DeepChem: every step passes."""
    report = tmp_path / "rehearsal.json"
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_rehearsal.py"),
                                "--python", str(REHEARSAL_PYTHON), "--report", str(report)],
                               capture_output=True, text=True, cwd=ROOT, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    result = json.loads(report.read_text())
    assert result["size"]["fits"] and result["importable there but not on the GPU machine"] == []
    check = result["check"]
    assert check["failed steps"] == [] and check["mode"] == "dry run"
    assert check["environment"]["rdkit"].startswith("carried stand-in")
    assert check["resume on the CPU"]["epochs after resuming"] == 2
    assert check["resume on the CPU"]["relative difference"] == 0.0  # CPU to CPU: exact
    assert check["determinism"]["bitwise equal"]
    for step, figure in (("pretraining", "steps/s (bf16)"), ("embedding", "molecules/s (fp32)"),
                         ("fine-tuning", "steps/s (fp32)")):
        assert check[step][figure] > 0
