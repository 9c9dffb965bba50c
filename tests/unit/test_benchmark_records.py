"""The MoleculeNet benchmark's records, aggregation, win rule, ranks and rendering."""
import json
import multiprocessing

import numpy as np
import pytest

from deepchem_acml.evaluation.benchmark_records import (
    Cell,
    append_record,
    cells,
    current_records,
    head_to_head,
    is_recorded,
    mean_ranks,
    read_records,
    recipe_id,
    wins,
)
from deepchem_acml.evaluation.benchmark_report import plot, render_markdown


def record(task, method, seed, value, mode="classification", recipe="r1"):
    return {"task": task, "method": method, "seed": seed, "score": value, "mode": mode,
            "recipe_id": recipe}


def test_sample_standard_deviation_and_deterministic_cells():
    table = cells([record("bbbp", "A", s, v) for s, v in enumerate([0.70, 0.72, 0.74])]
                  + [record("bbbp", "B", s, 0.65) for s in range(3)])
    a, b = table["bbbp"]["A"], table["bbbp"]["B"]
    assert a.mean == pytest.approx(0.72)
    assert a.std == pytest.approx(0.02)  # ddof=1: sqrt((0.02² + 0 + 0.02²) / 2)
    assert not a.deterministic and b.deterministic
    assert np.isnan(Cell([0.5], "classification").std)


def test_win_needs_a_margin_larger_than_either_spread():
    good = Cell([0.80, 0.82, 0.84], "classification")      # std 0.02
    close = Cell([0.79, 0.80, 0.81], "classification")     # mean 0.80: 0.02 behind, std 0.01
    far = Cell([0.70, 0.71, 0.72], "classification")
    assert not wins(good, close) and not wins(close, good)  # a tie: 0.02 is not > 0.02
    assert wins(good, far) and not wins(far, good)
    # RMSE: lower is better
    low, high = Cell([0.9, 0.91, 0.92], "regression"), Cell([1.2, 1.25, 1.3], "regression")
    assert wins(low, high) and not wins(high, low)


def test_head_to_head_counts_and_absolute_differences():
    records = ([record("bbbp", "ours", s, v) for s, v in enumerate([0.80, 0.81, 0.82])]
               + [record("bbbp", "rf", s, v) for s, v in enumerate([0.70, 0.71, 0.72])]
               + [record("esol", "ours", s, v, "regression") for s, v in enumerate([1.0, 1.1, 1.2])]
               + [record("esol", "rf", s, v, "regression") for s, v in enumerate([0.9, 0.9, 0.9])])
    result = head_to_head(cells(records), "ours", "rf")
    assert (result["wins"], result["ties"], result["losses"]) == (1, 0, 1)  # RMSE 0.2 > std 0.1
    assert result["delta"]["ROC-AUC"] == pytest.approx(0.10)
    assert result["delta"]["RMSE"] == pytest.approx(-0.2)  # ours 0.2 worse


def test_mean_ranks_share_ties_and_follow_the_metric():
    records = [record("bbbp", m, 0, v) for m, v in (("a", 0.9), ("b", 0.8), ("c", 0.8))]
    records += [record("esol", m, 0, v, "regression") for m, v in (("a", 2.0), ("b", 1.0),
                                                                   ("c", 3.0))]
    ranked = mean_ranks(cells(records))
    assert ranked["a"] == (pytest.approx((1 + 2) / 2), 2)
    assert ranked["b"] == (pytest.approx((2.5 + 1) / 2), 2)
    assert ranked["c"] == (pytest.approx((2.5 + 3) / 2), 2)


def test_only_the_newest_recipe_of_a_method_is_aggregated():
    records = [record("bbbp", "A", 0, 0.5, recipe="old"), record("bbbp", "A", 0, 0.8, recipe="new"),
               record("bbbp", "B", 0, 0.6, recipe="old")]
    kept = current_records(records)
    assert [(r["method"], r["score"]) for r in kept] == [("A", 0.8), ("B", 0.6)]
    assert recipe_id({"lr": 1e-3, "epochs": 100}) == recipe_id({"epochs": 100, "lr": 1e-3})
    assert recipe_id({"lr": 1e-3}) != recipe_id({"lr": 1e-4})


def test_a_unit_recorded_twice_counts_once():
    records = [record("bbbp", "A", 0, 0.5), record("bbbp", "A", 1, 0.7),
               record("bbbp", "A", 0, 0.9)]
    assert cells(records)["bbbp"]["A"].scores == [0.5, 0.7]


def _append_many(path, start):
    for i in range(start, start + 20):
        append_record(path, record("bbbp", "A", i, 0.5))


def test_records_from_concurrent_processes_are_all_kept(tmp_path):
    path = tmp_path / "moleculenet.json"
    workers = [multiprocessing.Process(target=_append_many, args=(path, k * 100)) for k in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seeds = sorted(r["seed"] for r in read_records(path))
    assert seeds == sorted(k * 100 + i for k in range(3) for i in range(20))
    assert is_recorded(read_records(path), "bbbp", "A", 205, "r1")
    assert not is_recorded(read_records(path), "bbbp", "A", 205, "other-recipe")


def test_a_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "moleculenet.json"
    path.write_text(json.dumps({"runs": [], "tasks": {}}))  # the old, pre-record format
    with pytest.raises(ValueError, match="schema"):
        read_records(path)


def test_rendered_table_and_figure(tmp_path):
    records = ([record("bbbp", "ACML fine-tuned", s, v) for s, v in enumerate([0.70, 0.71, 0.72])]
               + [record("bbbp", "RF on ECFP4 counts", s, v)
                  for s, v in enumerate([0.60, 0.61, 0.62])]
               + [record("bbbp", "ACML frozen + linear", s, 0.65) for s in range(3)]
               + [record("esol", "ACML fine-tuned", 0, 1.1, "regression")])
    text = render_markdown(records)
    assert "| ACML fine-tuned | **0.710 ± 0.010** | **1.100 (1 seed)** |" in text
    assert "| ACML frozen + linear | 0.650 (det.) | – |" in text
    assert "| RF on ECFP4 counts | 1 | 1 | 0 | 0 | +0.100 | – |" in text
    assert "*GIN, no pretraining (Hu et al. 2020)* (literature) | 0.658 |" in text
    image = plot(records, tmp_path / "figure.png")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_soundness_check_compares_the_hu_recipe_with_the_literature():
    hu = "GIN scratch (Hu et al. recipe)"
    records = ([record("bbbp", hu, s, v) for s, v in enumerate([0.66, 0.67, 0.68])]
               + [record("tox21", hu, s, v) for s, v in enumerate([0.68, 0.69, 0.70])])
    text = render_markdown(records)
    assert "| bbbp | 0.670 ± 0.010 | 0.658 | 0.654 | yes |" in text
    assert "| tox21 | 0.690 ± 0.010 | 0.740 | 0.749 | no |" in text  # 5 points below both
    assert "1 of 2 tasks run agree within 4 points" in text


def test_validation_choice_reads_validation_scores_never_test_scores():
    from deepchem_acml.evaluation.benchmark_report import validation_choice

    def record(method, seed, valid, test):
        return {"schema": 1, "task": "bbbp", "method": method, "seed": seed, "mode":
                "classification", "recipe_id": "r", "score": test, "valid_score": valid}

    from deepchem_acml.evaluation.benchmark_report import SMALL_TASKS

    def row(method, valid, test, tasks=SMALL_TASKS):
        return [dict(record(method, s, valid, test), task=t) for t in tasks for s in range(3)]

    records = (row("ACML a", 0.90, 0.60) + row("ACML b", 0.80, 0.99)
               + row("RF baseline", 0.99, 0.99) + row("ACML new", 0.99, 0.99, ["bbbp"]))
    winner, ranked = validation_choice(records)
    assert winner == "ACML a"  # best on validation, worse on test; the baseline is no candidate
    # a row with fewer tasks than the six small ones waits (it would shrink the comparison)
    assert ranked == {"ACML a": (1.0, 6), "ACML b": (2.0, 6)}


def test_the_default_is_the_recommended_row_and_the_records_choose_it():
    """The package's default follows the benchmark: the committed records' validation scores
    pick RECOMMENDED, and ``ACMLPropertyModel``'s defaults are that row's recipe."""
    import inspect
    import sys
    from pathlib import Path

    from deepchem_acml.evaluation.benchmark_records import read_records
    from deepchem_acml.evaluation.benchmark_report import RECOMMENDED, validation_choice
    from deepchem_acml.models.finetune import DEFAULT_ENCODER, ACMLPropertyModel

    root = Path(__file__).resolve().parents[2]
    winner, _ = validation_choice(read_records(root / "docs/benchmarks/moleculenet.json"))
    assert winner == RECOMMENDED
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import moleculenet as runner
    finally:
        sys.path.remove(str(root / "benchmarks"))
    recipe = runner.method_recipe(RECOMMENDED, runner.parse_arguments([]))
    defaults = {p.name: p.default for p in inspect.signature(
        ACMLPropertyModel.__init__).parameters.values()}
    assert recipe["pretrained"] == DEFAULT_ENCODER == defaults["encoder"]
    from deepchem_acml.evaluation.moleculenet import RECORDED_DEFAULTS

    # what the benchmark runs: the recorded defaults, then the recipe's own settings
    run = {k: v for k, v in {**RECORDED_DEFAULTS, **recipe}.items() if k in defaults}
    assert len(run) > len(RECORDED_DEFAULTS) and all(defaults[k] == v for k, v in run.items()), \
        {k: (defaults[k], v) for k, v in run.items() if defaults[k] != v}
