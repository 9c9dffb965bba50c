"""chemprop v2 (D-MPNN) on a benchmark split, through its own command line.

The command line is what chemprop users run, and its defaults are chemprop's recipe (50
epochs, message passing depth 3 and width 300, batch 64, warm-up then decaying learning rate,
the checkpoint of the best validation loss kept). The split is handed over as a column, so
chemprop trains, selects and predicts on exactly the benchmark's molecules; the test
predictions are scored here with the benchmark's own scoring.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from deepchem_acml.evaluation.moleculenet import MethodResult, SplitTask

SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}


def chemprop_command() -> str:
    """The ``chemprop`` executable beside this Python (clear error if it is not installed)."""
    found = Path(sys.executable).with_name("chemprop")
    if found.exists():
        return str(found)
    on_path = shutil.which("chemprop")
    if on_path is None:
        raise ImportError("chemprop is not installed: pip install 'deepchem-acml[bench]' "
                          "(chemprop==2.3.1)")
    return on_path


def write_split_csv(task: "SplitTask", path: Path) -> list:
    """All splits in one CSV (``smiles``, one column per task with empty cells for missing
    labels, ``split``); returns the target column names."""
    import pandas as pd

    targets = [f"task_{i}" for i in range(len(task.tasks))]
    frames = []
    for split, name in SPLIT_NAMES.items():
        labels = np.where(task.w[split] > 0, task.y[split], np.nan)
        frame = pd.DataFrame(labels, columns=targets)
        frame.insert(0, "smiles", task.smiles[split])
        frame["split"] = name
        frames.append(frame)
    pd.concat(frames).to_csv(path, index=False)
    return targets


def run_chemprop(task: "SplitTask", seed: int, device: Optional[str] = None,
                 molecule_featurizers: Sequence[str] = ()) -> "MethodResult":
    """Train with chemprop's defaults on the task's split; score its validation and test
    predictions. ``molecule_featurizers`` names chemprop's own molecule-level features
    (``("v1_rdkit_2d_normalized",)``: the RDKit 2-D descriptors of Yang et al. 2019, CDF-
    normalised, concatenated to the D-MPNN's embedding before its feed-forward network)."""

    from deepchem_acml.evaluation.moleculenet import MethodResult, score_with_skipped

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        targets = write_split_csv(task, folder / "data.csv")
        accelerator = "cpu" if device in (None, "cpu") else "gpu"
        command = [chemprop_command(), "train", "--data-path", str(folder / "data.csv"),
                   "--splits-column", "split", "-s", "smiles", "--target-columns", *targets,
                   "--task-type", task.mode, "--output-dir", str(folder / "out"),
                   "--pytorch-seed", str(seed), "--data-seed", str(seed),
                   "--accelerator", accelerator, "--devices", "1", "--num-workers", "0",
                   *_featurizer_options(molecule_featurizers)]
        completed = subprocess.run(command, capture_output=True, text=True, env=_thread_env())
        if completed.returncode != 0:
            raise RuntimeError(f"chemprop failed ({completed.returncode}):\n"
                               f"{completed.stderr[-3000:]}")
        scores = {}
        for split in ("valid", "test"):
            predicted = _predict(folder, split, task, targets, molecule_featurizers)
            scores[split] = score_with_skipped(task.mode, task.y[split], task.w[split], predicted)
        best_epoch = _best_epoch(folder / "out")
    return MethodResult(scores["test"][0], scores["valid"][0], best_epoch, 50,
                        {"test_tasks_skipped": scores["test"][1], "command": " ".join(
                            ["chemprop train --splits-column split --task-type", task.mode,
                             *_featurizer_options(molecule_featurizers), "(defaults)"])})


def _featurizer_options(molecule_featurizers: Sequence[str]) -> list:
    return ["--molecule-featurizers", *molecule_featurizers] if molecule_featurizers else []


def _predict(folder: Path, split: str, task: "SplitTask", targets: list,
             molecule_featurizers: Sequence[str] = ()) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame({"smiles": task.smiles[split]})
    frame.to_csv(folder / f"{split}.csv", index=False)
    model = next((folder / "out").rglob("best*.pt"))
    out = folder / f"{split}_predictions.csv"
    command = [chemprop_command(), "predict", "--test-path", str(folder / f"{split}.csv"),
               "-s", "smiles", "--model-paths", str(model), "--preds-path", str(out),
               "--accelerator", "cpu", "--num-workers", "0",
               *_featurizer_options(molecule_featurizers)]
    completed = subprocess.run(command, capture_output=True, text=True, env=_thread_env())
    if completed.returncode != 0:
        raise RuntimeError(f"chemprop predict failed:\n{completed.stderr[-3000:]}")
    predicted = pd.read_csv(out)
    if len(predicted) != len(task.smiles[split]):
        raise RuntimeError(f"chemprop predicted {len(predicted)} of {len(task.smiles[split])} "
                           f"{split} molecules")
    return predicted[targets].to_numpy(dtype=np.float64)


def _thread_env() -> dict:
    """The environment for chemprop's process, with this process's torch thread count."""
    import os

    import torch

    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def _best_epoch(out: Path) -> Optional[int]:
    """The epoch of chemprop's best checkpoint, from its file name (``best-epoch=N-...``)."""
    import re

    for path in out.rglob("*.ckpt"):
        match = re.search(r"epoch=(\d+)", path.name)
        if match and "best" in path.name:
            return int(match.group(1)) + 1
    return None
