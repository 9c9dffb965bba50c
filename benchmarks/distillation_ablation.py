"""Ablation for "ACML embeddings that carry chemistry": does asking the graph to reproduce its
teacher's embedding carry more of the teacher into the graph than contrastive alignment?

The same GIN as the shipped ``smiles`` model (ACML architecture) is trained to regress the
standardised ChemNet embedding of the same first N MOSES training molecules the shipped model
saw (molecules sharing an InChIKey skeleton with any MoleculeNet *test* molecule of the tasks
are left out, and counted), from random weights and from the shipped contrastive encoder.
Each frozen encoder is then probed exactly as the benchmark's ``ACML frozen + linear`` row
(standardised embeddings, logistic/ridge head, C chosen on validation, DeepChem scaffold
split), beside the records of ``teacher + linear`` and ``ACML frozen + linear``.

Records: ``OUT/distillation.json`` (one per variant, training seed and task; reruns skip what
is recorded); table: ``OUT/distillation.md``. Reads MOSES and MoleculeNet from the shared data
folder.

    .venv/bin/python benchmarks/distillation_ablation.py --threads 1
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

logging.getLogger("deepchem").setLevel(logging.ERROR)
logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
log = logging.getLogger("distillation")

VARIANTS = {"ChemNet-distilled GIN + linear (from scratch)": None,
            "ChemNet-distilled GIN + linear (from ACML smiles)": "smiles"}
TASKS = ["bbbp", "bace", "clintox", "sider", "tox21", "esol", "freesolv", "lipo"]


def skeleton(smiles_list):
    from deepchem_acml.data.pairs import inchikeys_of

    return [k.split("-")[0] if isinstance(k, str) and k else None for k in inchikeys_of(smiles_list)]


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

    from deepchem_acml.evaluation.moleculenet import (ACML_RECIPE, EarlyStopping, SplitTask,
                                                      graph_datasets, shipped_architecture,
                                                      train_with_early_stopping)
    from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer
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
    data, rows = graph_datasets(task, lambda s: ACMLGraphFeaturizer().featurize_with_report(s).features)
    model = ACMLPropertyModel(teacher.shape[1], "regression", pretrained=start, seed=seed,
                              **({} if start else architecture), **ACML_RECIPE)
    result = train_with_early_stopping(task, model, data, rows, EarlyStopping(max_epochs, 5))
    encoder = model.model.encoder.cpu().eval()
    torch.save(encoder.state_dict(), path)
    return encoder, result


def main(argv=None) -> int:
    import torch

    from deepchem_acml.embedding import embed_smiles
    from deepchem_acml.evaluation.benchmark_records import (append_record, is_recorded,
                                                            read_records, recipe_id)
    from deepchem_acml.evaluation.moleculenet import embedding_probe, load_split_task
    from deepchem_acml.modalities import get_modality
    from deepchem_acml.provenance import command_line, package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=16000)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--work", type=Path, default=Path("runs/distillation"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.out / "distillation.json"
    smiles, n_excluded = pretraining_molecules(args.molecules, args.tasks)
    log.info("%d pretraining molecules (%d left out: skeleton in a MoleculeNet test split)",
             len(smiles), n_excluded)
    teacher, report = get_modality("smiles").embed(
        smiles, cache_path=args.work / f"chemnet_{args.molecules}.npz")
    smiles = [smiles[i] for i in report.indices]
    recipe = {"molecules": args.molecules, "max_epochs": args.max_epochs, "patience": 5,
              "target": "standardised ChemNet embedding (512), MSE", "probe": "as ACML frozen + linear"}
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
            embed = lambda s: (lambda pair: (pair[0], np.asarray(pair[1].indices)))(  # noqa: E731
                embed_smiles(encoder, s))
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
    render(args.out)
    return 0


def render(out: Path) -> None:
    """The ablation table beside the benchmark's own teacher and ACML frozen rows, with the
    share of the teacher's margin over chance (ROC-AUC 0.5) each keeps."""
    from deepchem_acml.evaluation.benchmark_records import cells, read_records
    from deepchem_acml.evaluation.benchmark_report import format_cell

    ours = cells(read_records(out / "distillation.json"))
    bench = cells(read_records(out / "moleculenet.json"))
    rows = ["teacher + linear", "ACML frozen + linear", "untrained GIN + linear", *VARIANTS]
    tasks = [t for t in TASKS if t in ours]
    lines = ["# Ablation: distilling the teacher into the graph", "",
             "Frozen encoders probed as `ACML frozen + linear` (DeepChem scaffold split). The "
             "two distilled rows come from `benchmarks/distillation_ablation.py` (one "
             "pretraining seed; the probe is deterministic); the other rows are the "
             "benchmark's records. In brackets: the share of `teacher + linear`'s margin over "
             "chance (0.5) that a row keeps (classification only). Status and reading: "
             "[README](README.md#ablation-distilling-the-teacher-into-the-graph).", "",
             "| method | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for row in rows:
        cells_text = []
        for t in tasks:
            cell = ours.get(t, {}).get(row) or bench.get(t, {}).get(row)
            text = format_cell(cell)
            teacher = bench.get(t, {}).get("teacher + linear")
            if cell and teacher and cell.mode == "classification" and row != "teacher + linear":
                text += f" [{(cell.mean - 0.5) / (teacher.mean - 0.5):.0%}]"
            cells_text.append(text)
        lines.append(f"| {row} | " + " | ".join(cells_text) + " |")
    (out / "distillation.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'distillation.md'}")


if __name__ == "__main__":
    sys.exit(main())
