"""MoleculeNet property prediction with ACML embeddings and baselines, scaffold split.

Every method sees the same DeepChem ``ScaffoldSplitter`` 80/10/10 split of the same molecules
(those RDKit can parse; the others are reported). Methods:

* ``ECFP4 + RF``: 2,048-bit Morgan fingerprints, a random forest per task.
* ``ACML frozen + linear``: the pretrained ACML graph embeddings, standardised, with a
  logistic/ridge head per task (regularisation chosen on the validation split).
* ``ACML fine-tuned``: ``ACMLPropertyModel`` from the pretrained encoder, end to end.
* ``GIN scratch``: the same model and schedule from a randomly initialised encoder.
* ``DeepChem GCN``: DeepChem's ``GCNModel`` (DGL; run in the ``dgl`` tox environment) on
  ``MolGraphConvFeaturizer`` graphs, same schedule and model selection.

Fine-tuned and scratch models train for ``epochs`` epochs and keep the epoch with the best
validation score. Classification: mean ROC-AUC over tasks (a task whose test split holds one
class only is skipped, and said so); regression: RMSE in the file's units.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

#: name -> (dc.molnet loader name, mode, file name in data_dir)
TASKS: Dict[str, tuple] = {
    "bbbp": ("load_bbbp", "classification", "BBBP.csv"),
    "bace": ("load_bace_classification", "classification", "bace.csv"),
    "clintox": ("load_clintox", "classification", "clintox.csv.gz"),
    "tox21": ("load_tox21", "classification", "tox21.csv.gz"),
    "sider": ("load_sider", "classification", "sider.csv.gz"),
    "hiv": ("load_hiv", "classification", "HIV.csv"),
    "esol": ("load_delaney", "regression", "delaney-processed.csv"),
    "freesolv": ("load_freesolv", "regression", "freesolv.csv.gz"),
    "lipo": ("load_lipo", "regression", "Lipophilicity.csv"),
}
METHODS = ("ECFP4 + RF", "ACML frozen + linear", "ACML fine-tuned", "GIN scratch")
GCN_METHOD = "DeepChem GCN"  # needs DGL: its own environment


@dataclass
class SplitTask:
    """One MoleculeNet task, split, with SMILES, labels and weights per split."""

    name: str
    mode: str
    tasks: List[str]
    smiles: Dict[str, List[str]]
    y: Dict[str, np.ndarray]
    w: Dict[str, np.ndarray]
    n_unparsed: int


def load_split_task(name: str, data_dir: Optional[str] = None) -> SplitTask:
    """Load a task offline with DeepChem's loader and scaffold splitter (no transformers).

    Molecules RDKit cannot parse are counted in ``n_unparsed`` (DeepChem's loader drops them
    with a log line; the count is checked against the raw file here).
    """
    import deepchem as dc

    from deepchem_acml.data.moleculenet import moleculenet_dir
    from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer

    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")
    loader_name, mode, file_name = TASKS[name]
    data_dir = str(data_dir or moleculenet_dir("delaney" if name == "esol" else name))
    with tempfile.TemporaryDirectory() as save_dir:
        tasks, splits, _ = getattr(dc.molnet, loader_name)(
            featurizer=dc.feat.DummyFeaturizer(), splitter="scaffold", data_dir=data_dir,
            save_dir=save_dir, reload=False, transformers=[])
    names = ("train", "valid", "test")
    smiles = {n: [str(s) for s in d.ids] for n, d in zip(names, splits)}
    # DummyFeaturizer keeps unparseable SMILES; drop them here and count them.
    keep = {n: ACMLGraphFeaturizer().featurize_with_report(smiles[n]).indices for n in names}
    n_unparsed = sum(len(smiles[n]) - len(keep[n]) for n in names)
    return SplitTask(
        name, mode, list(tasks),
        {n: [smiles[n][i] for i in keep[n]] for n in names},
        {n: np.asarray(d.y, dtype=np.float64).reshape(len(d), -1)[keep[n]] for n, d in zip(names, splits)},
        {n: np.asarray(d.w, dtype=np.float64).reshape(len(d), -1)[keep[n]] for n, d in zip(names, splits)},
        n_unparsed)


def score(mode: str, y: np.ndarray, w: np.ndarray, predicted: np.ndarray) -> float:
    """Mean ROC-AUC over tasks with both classes present, or RMSE over labelled entries."""
    from sklearn.metrics import roc_auc_score

    if mode == "regression":
        mask = w > 0
        return float(np.sqrt(np.mean((y[mask] - predicted[mask]) ** 2)))
    aucs = []
    for t in range(y.shape[1]):
        mask = w[:, t] > 0
        if len(np.unique(y[mask, t])) == 2:
            aucs.append(roc_auc_score(y[mask, t], predicted[mask, t]))
    return float(np.mean(aucs)) if aucs else float("nan")


def better(mode: str, a: float, b: float) -> bool:
    return a > b if mode == "classification" else a < b


def _per_task_sklearn(make_model: Callable, task: SplitTask, X: Dict[str, np.ndarray]) -> np.ndarray:
    """Fit one sklearn model per task on labelled training rows; test predictions."""
    predicted = np.zeros_like(task.y["test"])
    for t in range(task.y["train"].shape[1]):
        mask = task.w["train"][:, t] > 0
        y = task.y["train"][mask, t]
        model = make_model()
        if task.mode == "classification":
            if len(np.unique(y)) < 2:
                predicted[:, t] = float(y[0]) if len(y) else 0.5
                continue
            model.fit(X["train"][mask], y)
            predicted[:, t] = model.predict_proba(X["test"])[:, 1]
        else:
            model.fit(X["train"][mask], y)
            predicted[:, t] = model.predict(X["test"])
    return predicted


def ecfp_random_forest(task: SplitTask, seed: int) -> float:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from deepchem_acml.evaluation.properties import ecfp

    X = {n: ecfp(s) for n, s in task.smiles.items()}
    forest = RandomForestClassifier if task.mode == "classification" else RandomForestRegressor
    make = lambda: forest(n_estimators=200, n_jobs=-1, random_state=seed)  # noqa: E731
    return score(task.mode, task.y["test"], task.w["test"], _per_task_sklearn(make, task, X))


def _linear_head(mode: str, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if mode == "classification":
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000,
                                                                  random_state=seed))
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0 / c))


def frozen_linear(task: SplitTask, embed: Callable[[Sequence[str]], np.ndarray], seed: int) -> float:
    """Frozen embeddings + logistic/ridge head, regularisation picked on the validation split."""
    X = {n: embed(s) for n, s in task.smiles.items()}
    on_valid = SplitTask(task.name, task.mode, task.tasks, task.smiles,
                         {"train": task.y["train"], "test": task.y["valid"]},
                         {"train": task.w["train"], "test": task.w["valid"]}, 0)

    def test_score(c: float, view: SplitTask, features: Dict[str, np.ndarray]) -> float:
        predicted = _per_task_sklearn(lambda: _linear_head(task.mode, c, seed), view, features)
        return score(task.mode, view.y["test"], view.w["test"], predicted)

    valid_scores = {c: test_score(c, on_valid, {"train": X["train"], "test": X["valid"]})
                    for c in (0.01, 0.1, 1.0, 10.0)}
    pick = max if task.mode == "classification" else min
    best_c = pick(valid_scores, key=valid_scores.get)
    return test_score(best_c, task, X)


def train_graph_model(task: SplitTask, pretrained: Optional[str], seed: int, epochs: int = 30,
                      freeze_encoder: bool = False, **model_kwargs) -> float:
    """Fine-tune (``pretrained``) or train from scratch (None); test score at the best
    validation epoch."""
    from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
    from deepchem_acml.models.finetune import ACMLPropertyModel

    data, rows = _datasets(task, lambda smiles: ACMLGraphFeaturizer().featurize_with_report(
        smiles).features)  # every row: the task holds only molecules this featurizer takes
    model = ACMLPropertyModel(len(task.tasks), task.mode, pretrained=pretrained,
                              freeze_encoder=freeze_encoder, seed=seed, **model_kwargs)
    return _best_validation_epoch(task, model, data, rows, epochs)


def deepchem_gcn(task: SplitTask, seed: int, epochs: int = 30) -> float:
    """DeepChem's ``GCNModel`` (needs DGL and dgllife), same split, schedule and selection."""
    import deepchem as dc
    import torch

    torch.manual_seed(seed)  # (not seed_everything: DGL's kernels have no deterministic mode)
    np.random.seed(seed)
    data, rows = _datasets(task, lambda smiles: dc.feat.MolGraphConvFeaturizer().featurize(smiles))
    model = dc.models.GCNModel(n_tasks=len(task.tasks), mode=task.mode, batch_size=64,
                               learning_rate=1e-3)
    return _best_validation_epoch(task, model, data, rows, epochs)


def _datasets(task: SplitTask, featurize: Callable[[List[str]], Sequence]):
    """Datasets of the rows ``featurize`` handles, and those rows' indices per split (DeepChem's
    graph featurizers refuse a few valid molecules, e.g. single atoms)."""
    import deepchem as dc

    data, rows = {}, {}
    for n in ("train", "valid", "test"):
        features = list(featurize(task.smiles[n]))
        rows[n] = np.array([i for i, f in enumerate(features) if not isinstance(f, np.ndarray)],
                           dtype=np.int64)
        X = np.empty(len(rows[n]), dtype=object)
        X[:] = [features[i] for i in rows[n]]
        data[n] = dc.data.NumpyDataset(X, task.y[n][rows[n]], task.w[n][rows[n]])
    return data, rows


def _best_validation_epoch(task: SplitTask, model, data, rows, epochs: int) -> float:
    """Train ``epochs`` epochs; test score with the weights of the best validation epoch.
    Rows the featurizer refused are scored with the training mean of each task (they count)."""
    import copy

    labelled = task.w["train"] > 0
    fallback = np.array([task.y["train"][labelled[:, t], t].mean() if labelled[:, t].any() else 0.0
                         for t in range(task.y["train"].shape[1])])

    def predict(split):
        out = model.predict(data[split])
        if task.mode == "classification":  # (n, tasks, 2), or (n, 2) from some models
            out = out[..., 1]
        out = out.reshape(len(data[split]), -1)
        full = np.tile(fallback, (len(task.smiles[split]), 1))
        full[rows[split]] = out
        return full

    best, best_state = None, None
    for _ in range(epochs):
        model.fit(data["train"], nb_epoch=1, checkpoint_interval=0)
        valid_score = score(task.mode, task.y["valid"], task.w["valid"], predict("valid"))
        if best is None or better(task.mode, valid_score, best):
            best, best_state = valid_score, copy.deepcopy(model.model.state_dict())
    model.model.load_state_dict(best_state)
    return score(task.mode, task.y["test"], task.w["test"], predict("test"))


def run_methods(task: SplitTask, pretrained: str, seed: int, epochs: int = 30,
                methods: Sequence[str] = METHODS) -> Dict[str, Dict[str, float]]:
    """Score every method on one task and seed: {method: {"score", "seconds"}}."""
    from deepchem_acml.embedding import embed_smiles, load_graph_encoder

    encoder = load_graph_encoder(pretrained)
    embed = lambda smiles: embed_smiles(encoder, smiles)[0]  # noqa: E731  (all parse: filtered)
    runners = {
        GCN_METHOD: lambda: deepchem_gcn(task, seed, epochs),
        "ECFP4 + RF": lambda: ecfp_random_forest(task, seed),
        "ACML frozen + linear": lambda: frozen_linear(task, embed, seed),
        "ACML fine-tuned": lambda: train_graph_model(task, pretrained, seed, epochs),
        "GIN scratch": lambda: train_graph_model(task, None, seed, epochs,
                                                 hidden_dim=encoder.hidden_dim,
                                                 num_layers=encoder.num_layers,
                                                 norm=encoder.norm),
    }
    results = {}
    for method in methods:
        started = time.time()
        results[method] = {"score": runners[method](), "seconds": round(time.time() - started, 1)}
        logger.info("%s, seed %d, %s: %.4f (%.0f s)", task.name, seed, method,
                    results[method]["score"], results[method]["seconds"])
    return results
