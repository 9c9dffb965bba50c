"""The benchmark's scoring: ROC-AUC over tasks with both classes, RMSE over labelled entries,
missing labels ignored, one-class tasks skipped and counted; chemprop's input file."""
import numpy as np
import pandas as pd
import pytest

from deepchem_acml.evaluation.chemprop_runner import write_split_csv
from deepchem_acml.evaluation.moleculenet import SplitTask, score_with_skipped


def test_roc_auc_averages_tasks_skips_one_class_ones_and_ignores_unlabelled_rows():
    y = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 1], [1, 1, 0]], dtype=float)
    w = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0]], dtype=float)
    predicted = np.array([[0.1, 0.5, 0.9], [0.9, 0.5, 0.2], [0.2, 0.5, 0.1], [0.8, 0.5, 0.99]])
    value, skipped = score_with_skipped("classification", y, w, predicted)
    # task 0 perfectly ranked (1.0); task 1 one class (skipped); task 2 on its first three
    # rows: positives 0.9 and 0.1 against the negative 0.2 -> 0.5 (row 3, unlabelled, ignored)
    assert skipped == 1
    assert value == pytest.approx((1.0 + 0.5) / 2)


def test_rmse_counts_labelled_entries_only():
    y = np.array([[1.0, 0.0], [2.0, 5.0]])
    w = np.array([[1.0, 0.0], [1.0, 1.0]])
    predicted = np.array([[2.0, 100.0], [2.0, 2.0]])
    value, skipped = score_with_skipped("regression", y, w, predicted)
    assert skipped == 0
    assert value == pytest.approx(np.sqrt((1.0 + 0.0 + 9.0) / 3))


def test_no_task_with_both_classes_scores_nan():
    value, skipped = score_with_skipped("classification", np.ones((3, 1)), np.ones((3, 1)),
                                        np.array([[0.1], [0.2], [0.3]]))
    assert np.isnan(value) and skipped == 1


def test_chemprop_reads_the_benchmark_split_with_missing_labels_empty(tmp_path):
    task = SplitTask("t", "classification", ["a", "b"],
                     {"train": ["CCO", "CCN"], "valid": ["CCC"], "test": ["c1ccccc1"]},
                     {"train": np.array([[1.0, 0.0], [0.0, 1.0]]), "valid": np.array([[1.0, 1.0]]),
                      "test": np.array([[0.0, 0.0]])},
                     {"train": np.array([[1.0, 0.0], [1.0, 1.0]]), "valid": np.ones((1, 2)),
                      "test": np.ones((1, 2))}, 0)
    targets = write_split_csv(task, tmp_path / "data.csv")
    frame = pd.read_csv(tmp_path / "data.csv")
    assert targets == ["task_0", "task_1"]
    assert frame["split"].tolist() == ["train", "train", "val", "test"]
    assert frame["smiles"].tolist() == ["CCO", "CCN", "CCC", "c1ccccc1"]
    assert np.isnan(frame.loc[0, "task_1"]) and frame.loc[1, "task_1"] == 1.0
