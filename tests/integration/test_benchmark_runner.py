"""The MoleculeNet benchmark runner: records on real data, resumes, and its training loop's
early stopping and model selection."""
import importlib.util
import logging
from pathlib import Path

import deepchem as dc
import numpy as np
import pytest
import torch

from deepchem_acml.evaluation.benchmark_records import read_records
from deepchem_acml.evaluation.moleculenet import (
    EarlyStopping,
    SplitTask,
    TargetScaler,
    load_split_task,
    train_with_early_stopping,
)

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str):
    """A script of benchmarks/ as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_script():
    return load_script("moleculenet")


def test_runner_records_each_seed_once_and_resumes(tmp_path):
    script = benchmark_script()
    argv = ["--tasks", "esol", "--methods", "ACML frozen + linear", "untrained GIN + linear",
            "--seeds", "0", "1", "2", "--out", str(tmp_path)]
    assert script.main(argv) == 0
    records = read_records(tmp_path / "moleculenet.json")
    assert sorted((r["method"], r["seed"]) for r in records) == sorted(
        (m, s) for m in ("ACML frozen + linear", "untrained GIN + linear") for s in range(3))
    for r in records:
        assert r["sizes"] == {"train": 902, "valid": 113, "test": 113}
        assert 0.3 < r["score"] < 3.0 and r["versions"]["deepchem"] == "2.8.0"
        assert r["command"].startswith("python benchmarks/moleculenet.py --tasks esol")
    # untrained GINs of different seeds are different networks: different scores
    assert len({r["score"] for r in records if r["method"] == "untrained GIN + linear"}) == 3
    before = (tmp_path / "moleculenet.json").read_bytes()
    assert script.main(argv) == 0  # everything recorded: nothing reruns
    assert (tmp_path / "moleculenet.json").read_bytes() == before
    table = (tmp_path / "moleculenet.md").read_text()
    assert "| untrained GIN + linear |" in table and "± " in table
    assert (tmp_path / "moleculenet.png").stat().st_size > 10_000


class ScriptedModel:
    """A stand-in for a DeepChem model whose validation predictions follow a script: each
    epoch's quality is given, so the epoch early stopping keeps is known in advance."""

    def __init__(self, quality, y_valid, y_test):
        self.quality, self.epoch = quality, 0
        self.y = {"valid": y_valid, "test": y_test}
        self.model = torch.nn.Linear(1, 1)

    def fit(self, dataset, nb_epoch, checkpoint_interval):
        self.epoch += 1
        with torch.no_grad():
            self.model.weight.fill_(self.quality[self.epoch - 1])

    def predict(self, dataset):
        split = "valid" if len(dataset) == len(self.y["valid"]) else "test"
        # the weights decide: restoring them restores the score
        q = float(self.model.weight.detach())
        y = self.y[split]
        noise = np.random.default_rng(0).normal(size=y.shape)
        return q * y + (1 - q) * noise


def test_early_stopping_keeps_the_best_validation_epoch_and_stops_after_patience(caplog):
    rng = np.random.default_rng(1)
    y = {n: rng.normal(size=(k, 1)) for n, k in (("train", 30), ("valid", 20), ("test", 25))}
    task = SplitTask("toy", "regression", ["t"], {n: ["C"] * len(v) for n, v in y.items()}, y,
                     {n: np.ones_like(v) for n, v in y.items()}, 0)
    scaler = TargetScaler(task)
    data = {n: dc.data.NumpyDataset(np.zeros((len(v), 1)), scaler.transform(v))
            for n, v in y.items()}
    rows = {n: np.arange(len(v)) for n, v in y.items()}
    quality = [0.1, 0.5, 0.9, 0.6, 0.4, 0.3, 0.95, 0.2]
    model = ScriptedModel(quality, scaler.transform(y["valid"]), scaler.transform(y["test"]))
    with caplog.at_level(logging.DEBUG, logger="deepchem_acml.evaluation"):
        result = train_with_early_stopping(task, model, data, rows, EarlyStopping(8, patience=3))
    assert (result.best_epoch, result.epochs_run) == (3, 6)  # epoch 7's 0.95 is never reached
    progress = [r.getMessage() for r in caplog.records if "epoch" in r.getMessage()]
    assert len(progress) == 6 and progress[-1].startswith("toy epoch 6/8")  # a line per epoch
    assert "at epoch 3" in progress[-1]
    assert len(result.details["valid_curve"]) == len(result.details["test_curve"]) == 6
    # the best epoch's weights restored
    assert float(model.model.weight.detach()) == pytest.approx(0.9)
    expected = np.sqrt(np.mean((scaler.inverse(model.predict(data["test"])) - y["test"]) ** 2))
    assert result.score == pytest.approx(expected)


def test_regression_targets_are_standardised_on_the_training_split():
    task = load_split_task("esol")
    scaler = TargetScaler(task)
    standardised = scaler.transform(task.y["train"])
    assert standardised.mean() == pytest.approx(0.0, abs=1e-9)
    assert standardised.std() == pytest.approx(1.0)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(task.y["test"])), task.y["test"])


def test_a_failing_unit_is_reported_and_the_run_goes_on(tmp_path, monkeypatch, capsys, caplog):
    from deepchem_acml.evaluation import moleculenet

    script = benchmark_script()

    def broken(task, seed, context):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(moleculenet.ALL_METHODS, "untrained GIN + linear", broken)
    code = script.main(["--tasks", "esol", "--methods", "untrained GIN + linear",
                        "ACML frozen + linear", "--seeds", "0", "--out", str(tmp_path)])
    assert code == 1 and "('esol', 'untrained GIN + linear', 0)" in capsys.readouterr().err
    assert "simulated failure" in caplog.text  # with its traceback, in the log
    records = read_records(tmp_path / "moleculenet.json")
    assert [r["method"] for r in records] == ["ACML frozen + linear"]  # the next unit still ran


def test_a_probe_scores_the_molecules_its_encoder_refuses_at_the_training_mean():
    """An encoder that refuses some molecules: they are predicted with the training mean and
    still count, so the score is over every test molecule."""
    from deepchem_acml.embedding import embed_smiles, load_graph_encoder
    from deepchem_acml.evaluation.moleculenet import embedding_probe, score

    task = load_split_task("esol")
    encoder = load_graph_encoder("nmr_13c", device="cpu")

    def every_third_refused(smiles):
        keep = np.arange(len(smiles))[np.arange(len(smiles)) % 3 != 0]
        return embed_smiles(encoder, [smiles[i] for i in keep])[0], keep

    result = embedding_probe(task, every_third_refused, seed=0)
    assert result.details["refused_by_encoder"]["test"] == len(range(0, 113, 3))
    mean_only = score("regression", task.y["test"], task.w["test"],
                      np.full_like(task.y["test"], task.y["train"].mean()))
    assert result.score < mean_only  # the kept two thirds are predicted, the rest at the mean


def test_forests_on_sparse_ecfp4_grow_the_trees_they_grow_on_dense_features():
    """The ECFP4 forests read CSR matrices for speed; the selected model, its validation
    score and its test score must be those of the same forests on the dense matrix."""
    from sklearn.ensemble import RandomForestClassifier

    from deepchem_acml.evaluation.moleculenet import BenchmarkContext, ecfp4_counts, features_method

    def small_grid(mode, seed):
        return {f"max_features={f}": (lambda f=f: RandomForestClassifier(
            n_estimators=25, max_features=f, n_jobs=1, random_state=seed)) for f in ("sqrt", 0.3)}

    task = load_split_task("bbbp")
    context = BenchmarkContext()
    dense = features_method(ecfp4_counts, small_grid)(task, 1, context)
    sparse = features_method(ecfp4_counts, small_grid, sparse=True)(task, 1, context)
    assert sparse.details["valid_scores"] == dense.details["valid_scores"]
    assert (sparse.score, sparse.valid_score) == (dense.score, dense.valid_score)
    assert 0.6 < dense.score < 1.0  # the forests learned BBBP


def test_the_ablation_files_pretraining_seeds_of_one_recipe_under_one_row(tmp_path, monkeypatch):
    """``LABEL@SEED=PATH``: checkpoints of one pretraining recipe form one cell over seeds; a
    checkpoint of another recipe under the same label would not join it (its recipe differs)."""
    from deepchem_acml.evaluation.benchmark_records import cells
    from deepchem_acml.shipped import pretrained_path

    script = load_script("distillation_ablation")
    monkeypatch.setattr(script, "teacher_readability", lambda encoder, work: 0.5)  # needs MOSES
    monkeypatch.setattr(script, "reference_readability", lambda path, work, argv: None)
    contrastive, distilled = pretrained_path("smiles"), pretrained_path("smiles_distilled")
    argv = ["--tasks", "esol", "--out", str(tmp_path), "--work", str(tmp_path / "work"),
            "--checkpoints", f"contrastive={contrastive}", f"contrastive@1={contrastive}",
            f"distilled@2={distilled}"]
    assert script.main(argv) == 0
    table = cells(read_records(tmp_path / "distillation.json"))["esol"]
    assert len(table["ACML frozen + linear (contrastive)"].scores) == 2
    assert len(table["ACML frozen + linear (distilled)"].scores) == 1
    assert table["ACML frozen + linear (contrastive)"].mean != table[
        "ACML frozen + linear (distilled)"].mean
    assert script.main(argv) == 0  # rerun: nothing new recorded
    assert len(read_records(tmp_path / "distillation.json")) == 2 * 3  # readability + esol each
    assert script.pretraining_recipe(contrastive) != script.pretraining_recipe(distilled)


def test_options_newer_than_a_recipe_leave_its_id_alone(tmp_path):
    """A checkpoint written today with the values every older checkpoint had (Hu atom inputs,
    teacher heads on batch statistics) has the recipe of one written before the options
    existed; another value makes another recipe."""
    from deepchem_acml import ACMLModel
    from deepchem_acml.checkpoints import load_checkpoint_file, save_checkpoint_file

    script = load_script("distillation_ablation")
    kwargs = dict(projection_dim=32, num_cells=1, distillation_weight=5.0)
    recipes = {}
    for name, extra in {"now": {"encoder": dict(hidden_dim=16)},
                        "rich": {"encoder": dict(hidden_dim=16, atom_features="rich")},
                        "running": {"encoder": dict(hidden_dim=16),
                                    "_teacher_statistics": "running"}}.items():
        ACMLModel("nmr_13c", **kwargs, **extra).save(tmp_path / f"{name}.pt")
        recipes[name] = script.pretraining_recipe(tmp_path / f"{name}.pt")["pretraining"]
    data = load_checkpoint_file(tmp_path / "now.pt", kind="acml_model")
    for option in script.LATER_OPTIONS:
        data["config"]["hyperparameters"].pop(option)
    save_checkpoint_file(tmp_path / "before.pt", data, kind="acml_model")
    assert script.pretraining_recipe(tmp_path / "before.pt")["pretraining"] == recipes["now"]
    assert recipes["rich"]["atom_features"] == "rich"
    assert recipes["running"]["teacher_statistics"] == "running"
    with pytest.raises(SystemExit, match="LABEL=PATH"):
        script.parse_checkpoint("no-path-given")


def test_a_stopped_neural_unit_continues_to_the_result_of_an_unstopped_one(tmp_path):
    """A unit writes its state after every epoch; one stopped after two epochs and run again
    (a new process would build the model anew, as here) ends where a run never stopped
    ends: same curves, same best epoch, same test score."""
    from deepchem_acml.evaluation.moleculenet import fit_graph_model

    task = load_split_task("esol")
    small = dict(num_layers=2, hidden_dim=32, batch_size=128)
    whole = fit_graph_model(task, None, 0, EarlyStopping(4, 4), **small)
    state = str(tmp_path / "unit.pt")
    stopped = fit_graph_model(task, None, 0, EarlyStopping(2, 4, state), **small)
    assert stopped.epochs_run == 2 and Path(state).is_file()
    resumed = fit_graph_model(task, None, 0, EarlyStopping(4, 4, state), **small)
    assert resumed.epochs_run == 4
    assert resumed.details["valid_curve"] == whole.details["valid_curve"]
    assert (resumed.best_epoch, resumed.score) == (whole.best_epoch, whole.score)


def test_trees_read_frozen_embeddings_beside_descriptors_with_their_untrained_control(tmp_path):
    pytest.importorskip("lightgbm")
    script = benchmark_script()
    methods = ["LightGBM on RDKit 2-D descriptors + ACML",
               "LightGBM on RDKit 2-D descriptors + untrained GIN", "ACML frozen + LightGBM"]
    assert script.main(["--tasks", "esol", "--methods", *methods, "--seeds", "0",
                        "--out", str(tmp_path), "--state-dir", str(tmp_path / "states")]) == 0
    records = {r["method"]: r for r in read_records(tmp_path / "moleculenet.json")}
    assert set(records) == set(methods)
    for record in records.values():
        assert record["details"]["selected"].startswith("num_leaves=")
        assert 0.3 < record["score"] < 2.0
    assert records[methods[0]]["recipe"]["pretrained"] == "smiles_rich_distilled"
    assert records[methods[1]]["recipe"]["like"] == "smiles_rich_distilled"
    assert records[methods[0]]["score"] != records[methods[1]]["score"]
    assert not list((tmp_path / "states").iterdir())  # trees keep no training state


def test_descriptor_blocks_are_the_molecules_descriptors_and_embeddings_row_for_row():
    from deepchem_acml.evaluation.moleculenet import (
        BenchmarkContext,
        acml_block,
        descriptor_block,
        untrained_block,
    )
    from deepchem_acml.featurizers.descriptors import rdkit_descriptors

    task = load_split_task("esol")
    context = BenchmarkContext()
    descriptors = descriptor_block(task, 0, context)
    np.testing.assert_array_equal(descriptors["test"][:5],
                                  rdkit_descriptors(task.smiles["test"][:5]))
    embeddings = acml_block(task, 0, context)
    assert embeddings["train"].shape == (902, 128) and not np.isnan(embeddings["train"]).any()
    untrained = {seed: untrained_block(task, seed, context)["valid"] for seed in (0, 1)}
    assert untrained[0].shape == embeddings["valid"].shape
    assert not np.allclose(untrained[0], untrained[1])  # one network per seed
    assert not np.allclose(untrained[0], embeddings["valid"])
