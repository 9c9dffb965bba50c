"""MoleculeNet benchmark: ACML (frozen + linear, fine-tuned) vs GIN from scratch vs ECFP4 + RF.

DeepChem ScaffoldSplitter 80/10/10, several seeds, mean ± std; writes JSON and a Markdown table.
Reads the MoleculeNet files from the shared data folder ($ACML_DATA_DIR or ../shared/data;
ESOL and BBBP are also embedded in the package). DeepChem's GCNModel needs DGL, which the
default environment cannot hold (see README); its row is marked "not run" there.

    python benchmarks/moleculenet.py --tasks bbbp bace clintox tox21 sider esol freesolv lipo \\
        --seeds 0 1 2 --epochs 30 --out docs/benchmarks
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


def dgl_available() -> bool:
    try:
        import dgl  # noqa: F401
        return True
    except Exception:
        return False


def main(argv=None) -> int:
    from deepchem_acml.evaluation.moleculenet import METHODS, TASKS, load_split_task, run_methods
    from deepchem_acml.cli.pretrain import command_line, package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=[t for t in TASKS if t != "hiv"],
                        choices=sorted(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pretrained", default="nmr_13c")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"command": command_line("python benchmarks/moleculenet.py", argv),
               "versions": package_versions(), "pretrained": args.pretrained,
               "epochs": args.epochs, "seeds": args.seeds, "tasks": {},
               "gcn": "run" if dgl_available() else "not run: DeepChem's GCNModel needs DGL, "
                      "which cannot be installed beside torch 2.13 (see README)"}
    json_path = args.out / "moleculenet.json"
    for name in args.tasks:
        started = time.time()
        task = load_split_task(name)
        per_seed = {seed: run_methods(task, args.pretrained, seed, args.epochs, args.methods)
                    for seed in args.seeds}
        summary = {}
        for method in args.methods:
            scores = [per_seed[s][method]["score"] for s in args.seeds]
            summary[method] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)),
                               "scores": scores,
                               "seconds": float(np.mean([per_seed[s][method]["seconds"]
                                                         for s in args.seeds]))}
        results["tasks"][name] = {
            "mode": task.mode, "metric": "ROC-AUC" if task.mode == "classification" else "RMSE",
            "n_tasks": len(task.tasks), "sizes": {n: len(s) for n, s in task.smiles.items()},
            "n_unparsed_skipped": task.n_unparsed, "methods": summary,
            "seconds": round(time.time() - started, 1)}
        line = "  ".join(f"{m}: {v['mean']:.3f}±{v['std']:.3f}" for m, v in summary.items())
        print(f"{name:<9} ({results['tasks'][name]['metric']}, {task.n_unparsed} unparsed "
              f"skipped)  {line}", flush=True)
        json_path.write_text(json.dumps(results, indent=2))
    (args.out / "moleculenet.md").write_text(render(results, args.methods))
    print(f"wrote {json_path} and {args.out / 'moleculenet.md'}")
    return 0


def render(results, methods) -> str:
    lines = ["| task | metric | n (train/valid/test) | " + " | ".join(methods) + " |",
             "|---|---|---|" + "---|" * len(methods)]
    for name, entry in results["tasks"].items():
        sizes = entry["sizes"]
        scores = {m: entry["methods"][m]["mean"] for m in methods}
        pick = max if entry["mode"] == "classification" else min
        best = pick(scores.values())
        cells = [(f"**{v['mean']:.3f} ± {v['std']:.3f}**" if scores[m] == best
                  else f"{v['mean']:.3f} ± {v['std']:.3f}")
                 for m, v in ((m, entry["methods"][m]) for m in methods)]
        lines.append(f"| {name} | {entry['metric']} {'↑' if entry['mode'] == 'classification' else '↓'}"
                     f" | {sizes['train']}/{sizes['valid']}/{sizes['test']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
