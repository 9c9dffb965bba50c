"""Ablation for "ACML embeddings that carry chemistry": does asking the graph to reproduce its
teacher's embedding carry more of the teacher into the graph than contrastive alignment?

The same GIN as the shipped ``smiles`` model (ACML architecture) is trained to regress the
standardised ChemNet embedding of the same first N MOSES training molecules the shipped model
saw (molecules sharing an InChIKey skeleton with any MoleculeNet *test* molecule of the tasks
are left out, and counted), from random weights and from the shipped contrastive encoder.
Each frozen encoder is then probed exactly as the benchmark's ``ACML frozen + linear`` row
(standardised embeddings, logistic/ridge head, C chosen on validation, DeepChem scaffold
split), beside the records of ``teacher + linear`` and ``ACML frozen + linear``.

``--checkpoints LABEL=PATH`` probes ACML checkpoints the same way (e.g. one pretrained by
``acml pretrain --distillation-weight 5``, the contrastive loss plus the term that asks the
graph to reproduce the teacher): the row is named ``ACML frozen + linear (LABEL)``;
``LABEL@SEED=PATH`` files a checkpoint pretrained with ``--seed SEED`` under the same row, so
that the row's cells give the mean and spread over pretraining seeds.

Records: ``OUT/distillation.json`` (one per variant, training seed and task; reruns skip what
is recorded); table: ``OUT/distillation.md``. Reads MOSES and MoleculeNet from the shared data
folder.

    .venv/bin/python benchmarks/distillation_ablation.py --threads 1 --regression
    .venv/bin/python benchmarks/distillation_ablation.py --threads 1 \
        --checkpoints "distillation 5=runs/pretrain_smiles_distill5/acml_smiles.pt" \
        "distillation 20@1=runs/pretrain_smiles_distill20_s1/acml_smiles.pt"
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

from deepchem_acml.logs import quiet_logger

logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
log = logging.getLogger("distillation")

VARIANTS = {"ChemNet-distilled GIN + linear (from scratch)": None,
            "ChemNet-distilled GIN + linear (from ACML smiles)": "smiles"}
TASKS = ["bbbp", "bace", "clintox", "sider", "tox21", "hiv", "esol", "freesolv", "lipo"]


def skeleton(smiles_list):
    from deepchem_acml.data.pairs import inchikeys_of

    return [k.split("-")[0] if isinstance(k, str) and k else None
            for k in inchikeys_of(smiles_list)]


def pretraining_molecules(n: int, tasks) -> tuple:
    """The first n MOSES training SMILES minus those whose skeleton is in a test split."""
    import pandas as pd

    from deepchem_acml.data.sources import shared_data_dir
    from deepchem_acml.evaluation.moleculenet import load_split_task

    smiles = pd.read_csv(shared_data_dir() / "moses" / "train.csv.gz", nrows=n)["SMILES"].tolist()
    test_skeletons = {k for t in tasks for k in skeleton(load_split_task(t).smiles["test"]) if k}
    keep = [s for s, k in zip(smiles, skeleton(smiles)) if k and k not in test_skeletons]
    return keep, len(smiles) - len(keep)


def distilled_encoder(smiles, teacher, start, seed, out: Path, max_epochs: int):
    """Train (or load) the GIN that regresses the teacher embedding; returns the encoder."""
    import torch

    from deepchem_acml.evaluation.moleculenet import (
        ACML_RECIPE,
        RECORDED_DEFAULTS,
        EarlyStopping,
        SplitTask,
        graph_datasets,
        shipped_architecture,
        train_with_early_stopping,
    )
    from deepchem_acml.models.finetune import ACMLPropertyModel
    from deepchem_acml.nn.gin import GINEncoder

    path = out / f"distilled_{start or 'scratch'}_seed{seed}.pt"
    architecture = shipped_architecture("smiles")
    if path.exists():
        encoder = GINEncoder(**architecture)
        encoder.load_state_dict(torch.load(path, weights_only=True))
        return encoder.eval(), None
    order = np.random.default_rng(seed).permutation(len(smiles))
    cut = int(0.9 * len(smiles))
    parts = {"train": order[:cut], "valid": order[cut:], "test": order[cut:]}
    task = SplitTask("chemnet", "regression", [f"d{i}" for i in range(teacher.shape[1])],
                     {n: [smiles[i] for i in rows] for n, rows in parts.items()},
                     {n: teacher[rows].astype(np.float64) for n, rows in parts.items()},
                     {n: np.ones((len(rows), teacher.shape[1])) for n, rows in parts.items()}, 0)
    model = ACMLPropertyModel(teacher.shape[1], "regression", start or dict(architecture),
                              seed=seed, **RECORDED_DEFAULTS, **ACML_RECIPE)
    data, rows = graph_datasets(
        task, lambda s: model.graph_featurizer.featurize_with_report(s).features)
    result = train_with_early_stopping(task, model, data, rows, EarlyStopping(max_epochs, 5))
    encoder = model.model.encoder.cpu().eval()
    torch.save(encoder.state_dict(), path)
    return encoder, result


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=16000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--work", type=Path, default=Path("runs/distillation"))
    parser.add_argument("--regression", action="store_true",
                        help="train and probe the GINs that only regress the teacher")
    parser.add_argument("--checkpoints", nargs="*", default=[], metavar="LABEL=PATH",
                        help="ACML checkpoints to probe as 'ACML frozen + linear (LABEL)'; "
                        "LABEL@SEED=PATH records PATH as pretraining seed SEED of that row")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.out / "distillation.json"
    for label, seed, checkpoint in map(parse_checkpoint, args.checkpoints):
        probe_checkpoint(path, label, seed, checkpoint, args.tasks, args.work, argv)
    reference_readability(path, args.work, argv)
    if args.regression:
        regression_variants(args, path, argv)
    render(args.out)
    return 0


def encoder_embedder(encoder):
    """``smiles -> (embeddings, indices of the molecules embedded)``, as the probe wants."""
    from deepchem_acml.embedding import embed_smiles

    def embed(smiles):
        embeddings, report = embed_smiles(encoder, smiles)
        return embeddings, np.asarray(report.indices)
    return embed


READABILITY_TASK = "chemnet_r2"


def teacher_readability(encoder, work: Path, n: int = 3000) -> float:
    """Held-out R² of a ridge regression (alpha by generalised cross-validation) from the
    standardised graph embeddings to the standardised ChemNet embeddings of the first ``n``
    MOSES *test* molecules (never pretrained on): 2/3 fit, 1/3 scored. How much of the
    teacher a linear reader finds in the graph embedding, without any MoleculeNet label."""
    import pandas as pd
    from sklearn.linear_model import RidgeCV

    from deepchem_acml.data.sources import shared_data_dir
    from deepchem_acml.modalities import get_modality

    smiles = pd.read_csv(shared_data_dir() / "moses" / "test.csv.gz", nrows=n)["SMILES"].tolist()
    teacher, report = get_modality("smiles").embed(
        smiles, cache_path=work / f"chemnet_test_{n}.npz")
    graph, rows = encoder_embedder(encoder)([smiles[i] for i in report.indices])
    teacher = teacher[rows]
    cut = 2 * len(rows) // 3
    graph = (graph - graph[:cut].mean(0)) / (graph[:cut].std(0) + 1e-8)
    teacher = (teacher - teacher[:cut].mean(0)) / np.sqrt(teacher[:cut].var(0).mean())
    fit = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(graph[:cut], teacher[:cut])
    residual = ((fit.predict(graph[cut:]) - teacher[cut:]) ** 2).sum()
    return float(1 - residual / ((teacher[cut:] - teacher[cut:].mean(0)) ** 2).sum())


def record_readability(path: Path, method: str, encoder, recipe: dict, work: Path, argv,
                       seed: int = 0, checkpoint: Optional[str] = None) -> None:
    from deepchem_acml.evaluation.benchmark_records import (
        append_record,
        is_recorded,
        read_records,
        recipe_id,
    )
    from deepchem_acml.provenance import command_line, package_versions

    if is_recorded(read_records(path), READABILITY_TASK, method, seed, recipe_id(recipe)):
        return
    score = teacher_readability(encoder, work)
    log.info("%s, %s: %.4f", READABILITY_TASK, method, score)
    append_record(path, {
        "task": READABILITY_TASK, "method": method, "seed": seed, "mode": "regression",
        "metric": "R²", "score": score, "recipe": recipe, "recipe_id": recipe_id(recipe),
        **({"checkpoint": checkpoint} if checkpoint else {}), "versions": package_versions(),
        "command": command_line("python benchmarks/distillation_ablation.py", argv)})


def reference_readability(path: Path, work: Path, argv) -> None:
    """The readability of the benchmark's own frozen rows: the shipped ``smiles`` encoder and
    untrained GINs of its shape (seeds 0-2)."""
    import torch

    from deepchem_acml.embedding import load_graph_encoder
    from deepchem_acml.evaluation.moleculenet import shipped_architecture
    from deepchem_acml.nn.gin import GINEncoder

    record_readability(path, "ACML frozen + linear", load_graph_encoder("smiles", device="cpu"),
                       {"pretrained": "smiles"}, work, argv)
    for seed in range(3):
        torch.manual_seed(seed)
        encoder = GINEncoder(**shipped_architecture("smiles")).eval()
        record_readability(path, "untrained GIN + linear", encoder, {"like": "smiles"}, work,
                           argv, seed)


#: ACMLModel options newer than the first ablation records, with the value every earlier
#: checkpoint had
LATER_OPTIONS = {"teacher_statistics": "batch", "atom_features": "hu"}


def pretraining_recipe(checkpoint: str) -> dict:
    """What a probed checkpoint's record depends on: its stored hyperparameters without the
    seed (so that the pretraining seeds of one recipe form one cell)."""
    from deepchem_acml.checkpoints import load_checkpoint_file

    config = load_checkpoint_file(checkpoint, kind="acml_model")["config"]
    hyperparameters = {"distillation_weight": 0.0, "batching": "random",
                       **config["hyperparameters"]}
    hyperparameters.pop("seed", None)
    # Options added after the first records, at the one value they had before: left out, so
    # that the ids of the recipes recorded before them stay the same (and teacher statistics
    # do nothing without teacher heads).
    for option, earlier in LATER_OPTIONS.items():
        if hyperparameters.get(option) == earlier:
            hyperparameters.pop(option)
    if not hyperparameters["distillation_weight"]:
        hyperparameters.pop("teacher_statistics", None)
    return {"pretraining": {"modality": config["modality"]["name"], **hyperparameters},
            "probe": "as ACML frozen + linear"}


def parse_checkpoint(item: str) -> tuple:
    """``LABEL=PATH`` or ``LABEL@SEED=PATH`` -> (label, pretraining seed, path)."""
    label, sep, checkpoint = item.partition("=")
    if not sep or not checkpoint:
        raise SystemExit(f"--checkpoints wants LABEL=PATH or LABEL@SEED=PATH, got {item!r}")
    label, _, seed = label.partition("@")
    return label, int(seed or 0), checkpoint


def probe_checkpoint(path: Path, label: str, seed: int, checkpoint: str, tasks, work: Path,
                     argv) -> None:
    """``ACML frozen + linear`` for another ACML checkpoint (pretrained with ``seed``), one
    record per task."""
    from deepchem_acml.embedding import load_graph_encoder
    from deepchem_acml.evaluation.benchmark_records import (
        append_record,
        is_recorded,
        read_records,
        recipe_id,
    )
    from deepchem_acml.evaluation.moleculenet import embedding_probe, load_split_task
    from deepchem_acml.provenance import command_line, package_versions

    method = f"ACML frozen + linear ({label})"
    recipe = pretraining_recipe(checkpoint)
    encoder = load_graph_encoder(checkpoint, device="cpu")
    embed = encoder_embedder(encoder)
    record_readability(path, method, encoder, recipe, work, argv, seed, checkpoint)
    for name in tasks:
        if is_recorded(read_records(path), name, method, seed, recipe_id(recipe)):
            continue
        task = load_split_task(name)
        result = embedding_probe(task, embed, 0)
        log.info("%s, %s, pretraining seed %d: %.4f", name, method, seed, result.score)
        append_record(path, {
            "task": name, "method": method, "seed": seed, "mode": task.mode, **result.as_record(),
            "recipe": recipe, "recipe_id": recipe_id(recipe), "checkpoint": checkpoint,
            "versions": package_versions(),
            "command": command_line("python benchmarks/distillation_ablation.py", argv)})


def regression_variants(args, path: Path, argv) -> None:
    """The GINs trained only to regress the teacher embedding, probed."""
    from deepchem_acml.evaluation.benchmark_records import (
        append_record,
        is_recorded,
        read_records,
        recipe_id,
    )
    from deepchem_acml.evaluation.moleculenet import embedding_probe, load_split_task
    from deepchem_acml.modalities import get_modality
    from deepchem_acml.provenance import command_line, package_versions

    smiles, n_excluded = pretraining_molecules(args.molecules, args.tasks)
    log.info("%d pretraining molecules (%d left out: skeleton in a MoleculeNet test split)",
             len(smiles), n_excluded)
    teacher, report = get_modality("smiles").embed(
        smiles, cache_path=args.work / f"chemnet_{args.molecules}.npz")
    smiles = [smiles[i] for i in report.indices]
    recipe = {"molecules": args.molecules, "max_epochs": args.max_epochs, "patience": 5,
              "target": "standardised ChemNet embedding (512), MSE",
              "probe": "as ACML frozen + linear"}
    for method, start in VARIANTS.items():
        for seed in args.seeds:
            todo = [t for t in args.tasks if not is_recorded(read_records(path), t, method, seed,
                                                            recipe_id(recipe))]
            if not todo:
                continue
            started = time.time()
            encoder, fit = distilled_encoder(smiles, teacher, start, seed, args.work,
                                             args.max_epochs)
            log.info("%s, seed %d: distilled in %.0f s (%s)", method, seed, time.time() - started,
                     "loaded" if fit is None else f"best epoch {fit.best_epoch}, valid RMSE "
                     f"{fit.valid_score:.3f} (ChemNet units)")
            embed = encoder_embedder(encoder)
            for name in todo:
                task = load_split_task(name)
                result = embedding_probe(task, embed, seed)
                log.info("%s, seed %d, %s: %.4f", name, seed, method, result.score)
                append_record(path, {
                    "task": name, "method": method, "seed": seed, "mode": task.mode,
                    **result.as_record(), "recipe": recipe, "recipe_id": recipe_id(recipe),
                    "n_pretraining": len(smiles), "n_excluded_by_skeleton": n_excluded,
                    "versions": package_versions(),
                    "command": command_line("python benchmarks/distillation_ablation.py", argv)})


def render(out: Path) -> None:
    """The ablation table beside the benchmark's own teacher and ACML frozen rows, with the
    share of the teacher's margin over chance (ROC-AUC 0.5) each keeps."""
    from deepchem_acml.evaluation.benchmark_records import cells, read_records
    from deepchem_acml.evaluation.benchmark_report import format_cell

    ours = cells(read_records(out / "distillation.json"))
    bench = cells(read_records(out / "moleculenet.json"))
    probed = sorted({r["method"] for r in read_records(out / "distillation.json")}
                    - set(VARIANTS) - {"ACML frozen + linear", "untrained GIN + linear"})
    rows = ["teacher + linear", "ACML frozen + linear", "untrained GIN + linear", *probed,
            *VARIANTS]
    tasks = [t for t in [READABILITY_TASK, *TASKS] if t in ours or t in bench]
    header = ["ChemNet R² (held-out MOSES) ↑" if t == READABILITY_TASK else t for t in tasks]
    lines = ["# Ablation: carrying the teacher into the graph", "",
             "Frozen encoders probed as `ACML frozen + linear` (DeepChem scaffold split). Rows "
             "other than the benchmark's (`teacher + linear`, `ACML frozen + linear`, "
             "`untrained GIN + linear`) come from `benchmarks/distillation_ablation.py`; a "
             "spread is over pretraining seeds (the probe itself is deterministic), \"(1 "
             "seed)\" marks a single pretraining run. In brackets: the share of "
             "`teacher + linear`'s margin over chance (0.5) that a row keeps (classification "
             "only); the last column averages it. First column: "
             "held-out R² of a ridge regression from the graph embedding to ChemNet's on 3,000 "
             "MOSES test molecules (how much of the teacher a linear reader finds). Reading: "
             "[README](README.md#ablation-distilling-the-teacher-into-the-graph).", "",
             "| method | " + " | ".join(header) + " | mean share |",
             "|---|" + "---|" * (len(tasks) + 1)]
    for row in rows:
        if not any(row in ours.get(t, {}) or row in bench.get(t, {}) for t in tasks):
            continue
        texts, shares = [], []
        for t in tasks:
            cell = ours.get(t, {}).get(row) or bench.get(t, {}).get(row)
            text = format_cell(cell)
            teacher = bench.get(t, {}).get("teacher + linear")
            if cell and teacher and cell.mode == "classification" and row != "teacher + linear":
                shares.append((cell.mean - 0.5) / (teacher.mean - 0.5))
                text += f" [{shares[-1]:.0%}]"
            texts.append(text)
        mean_share = f"{np.mean(shares):.0%} ({len(shares)} tasks)" if shares else "–"
        lines.append(f"| {row} | " + " | ".join(texts) + f" | {mean_share} |")
    (out / "distillation.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'distillation.md'}")


if __name__ == "__main__":
    with quiet_logger("deepchem"):  # DeepChem held at ERROR for the whole run
        code = main()
    sys.exit(code)
