"""The prepared GPU check runs, in its CPU dry mode, so it is ready the day a GPU is."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch
ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_passes_every_step(tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"),
                                "--dry-run", "--out", str(tmp_path)], capture_output=True,
                               text=True, timeout=900, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] and report["device"] == "cpu"
    assert report["kill and resume"]["resumed"] and report["kill and resume"]["finished"]
    assert 0.5 < report["fine-tune BBBP"]["test ROC-AUC"] <= 1.0
    figures = report["throughput"]["on the device"]
    assert all(value > 0 for value in figures.values()) and len(figures) == 5
