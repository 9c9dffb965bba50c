"""MoleculeNet benchmark: ACML (frozen + linear, fine-tuned) vs GIN from scratch vs ECFP4 + RF.

DeepChem ScaffoldSplitter 80/10/10, several seeds, mean ± std; writes JSON and a Markdown table.
Reads the MoleculeNet files from the shared data folder ($ACML_DATA_DIR or ../shared/data;
ESOL and BBBP are also embedded in the package). DeepChem's GCNModel needs DGL, which the
default environment cannot hold (see README): run that column in the dgl tox environment and
merge it into the same JSON with ``--merge``.

    .venv/bin/python benchmarks/moleculenet.py --seeds 0 1 2 --epochs 15 --out docs/benchmarks
    .tox/dgl/bin/python benchmarks/moleculenet.py --methods "DeepChem GCN" --merge \\
        --seeds 0 1 2 --epochs 15 --out docs/benchmarks
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

logging.getLogger("deepchem").setLevel(logging.ERROR)
logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
logging.getLogger("deepchem_acml.evaluation").setLevel(logging.INFO)  # one line per method and seed


def main(argv=None) -> int:
    from deepchem_acml.cli.pretrain import command_line, package_versions
    from deepchem_acml.evaluation.moleculenet import (GCN_METHOD, METHODS, TASKS, load_split_task,
                                                      run_methods)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=[t for t in TASKS if t != "hiv"],
                        choices=sorted(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pretrained", default="nmr_13c")
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        choices=list(METHODS) + [GCN_METHOD])
    parser.add_argument("--merge", action="store_true",
                        help="add these methods' results to OUT/moleculenet.json")
    parser.add_argument("--combine", nargs="+", type=Path, default=None, metavar="JSON",
                        help="only merge these result files (e.g. the GCN run from the dgl "
                             "environment) into OUT/moleculenet.json and redraw the table")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "moleculenet.json"
    if args.combine:
        results = json.loads(json_path.read_text())
        for other in map(lambda path: json.loads(path.read_text()), args.combine):
            results["runs"] += [run for run in other["runs"] if run not in results["runs"]]
            for name, entry in other["tasks"].items():
                mine = results["tasks"].setdefault(name, {**entry, "methods": {}})
                mine["methods"].update(entry["methods"])
        json_path.write_text(json.dumps(results, indent=2))
        (args.out / "moleculenet.md").write_text(render(results))
        print(f"wrote {json_path} and {args.out / 'moleculenet.md'}")
        return 0
    run = {"command": command_line("python benchmarks/moleculenet.py", argv),
           "versions": package_versions(), "pretrained": args.pretrained,
           "epochs": args.epochs, "seeds": args.seeds, "methods": args.methods}
    if args.merge and json_path.exists():
        results = json.loads(json_path.read_text())
        results.setdefault("runs", []).append(run)
    else:
        results = {"runs": [run], "tasks": {}}
    for name in args.tasks:
        started = time.time()
        task = load_split_task(name)
        per_seed = {seed: run_methods(task, args.pretrained, seed, args.epochs, args.methods)
                    for seed in args.seeds}
        entry = results["tasks"].setdefault(name, {"methods": {}})
        entry.update({
            "mode": task.mode, "metric": "ROC-AUC" if task.mode == "classification" else "RMSE",
            "n_tasks": len(task.tasks), "sizes": {n: len(s) for n, s in task.smiles.items()},
            "n_unparsed_skipped": task.n_unparsed})
        for method in args.methods:
            scores = [per_seed[s][method]["score"] for s in args.seeds]
            entry["methods"][method] = {
                "mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
                "epochs": args.epochs,
                "seconds": float(np.mean([per_seed[s][method]["seconds"] for s in args.seeds]))}
        line = "  ".join(f"{m}: {entry['methods'][m]['mean']:.3f}±{entry['methods'][m]['std']:.3f}"
                         for m in args.methods)
        print(f"{name:<9} ({entry['metric']}, {task.n_unparsed} unparsed skipped, "
              f"{time.time() - started:.0f} s)  {line}", flush=True)
        json_path.write_text(json.dumps(results, indent=2))
    (args.out / "moleculenet.md").write_text(render(results))
    print(f"wrote {json_path} and {args.out / 'moleculenet.md'}")
    return 0


def render(results) -> str:
    """The Markdown table: every method seen in any run, best per task in bold."""
    from deepchem_acml.evaluation.moleculenet import GCN_METHOD, METHODS

    methods = [m for m in list(METHODS) + [GCN_METHOD]
               if any(m in entry["methods"] for entry in results["tasks"].values())]
    lines = ["| task | metric | n (train/valid/test) | " + " | ".join(methods) + " |",
             "|---|---|---|" + "---|" * len(methods)]
    for name, entry in results["tasks"].items():
        sizes, found = entry["sizes"], entry["methods"]
        pick = max if entry["mode"] == "classification" else min
        best = pick(found[m]["mean"] for m in found)
        cells = []
        for m in methods:
            if m not in found:
                cells.append("not run")
                continue
            n_seeds = len(found[m].get("scores", []))
            text = (f"{found[m]['mean']:.3f}" if n_seeds == 1
                    else f"{found[m]['mean']:.3f} ± {found[m]['std']:.3f}")
            if 0 < n_seeds < 3:  # fewer than the benchmark's three: say so in the cell
                text += f" ({n_seeds} seed{'s' if n_seeds > 1 else ''})"
            cells.append(f"**{text}**" if found[m]["mean"] == best else text)
        arrow = "↑" if entry["mode"] == "classification" else "↓"
        lines.append(f"| {name} | {entry['metric']} {arrow} | {sizes['train']}/{sizes['valid']}/"
                     f"{sizes['test']} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + summary(results)) + "\n"


def summary(results, ours: str = "ACML fine-tuned") -> list:
    """Win counts of ``ours`` against each other method over the tasks both ran, and the mean
    relative difference (positive: ours better; ROC-AUC gain, or RMSE reduction, in %)."""
    lines = []
    others = sorted({m for e in results["tasks"].values() for m in e["methods"]} - {ours})
    for other in others:
        wins, gains, tasks = 0, [], []
        for name, entry in results["tasks"].items():
            found = entry["methods"]
            if ours not in found or other not in found:
                continue
            a, b = found[ours]["mean"], found[other]["mean"]
            up = entry["mode"] == "classification"
            wins += (a > b) if up else (a < b)
            gains.append(100 * ((a - b) / b if up else (b - a) / b))
            tasks.append(name)
        if tasks:
            lines.append(f"- {ours} beats {other} on **{wins} of {len(tasks)}** tasks "
                         f"(mean relative difference {np.mean(gains):+.1f} %).")
    return lines


if __name__ == "__main__":
    sys.exit(main())
