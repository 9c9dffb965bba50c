"""``acml demo``: ACML on the embedded nmrshiftdb2 13C subset, end to end, on CPU."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, Optional

from deepchem_acml.cli.options import add_command, data_size_options
from deepchem_acml.cli.pretrain import (
    run_pretraining,
    say_warnings,
    training_kwargs,
    training_options,
)

#: Chosen so that the demo finishes in about 10 minutes on 2 CPU cores (docs/results.md).
DEMO_DEFAULTS = dict(epochs=40, hidden_dim=128, batch_size=128, learning_rate=1e-3, seed=0)


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--out", type=Path, default=Path("acml-demo-output"), metavar="DIR",
                     help="folder for metrics.json, the checkpoint and the embeddings")
    parser = add_command(
        commands, "demo",
        help="train ACML (graph vs 13C NMR) on the embedded subset and report retrieval",
        description="Train a 5-layer GIN against the frozen 13C NMR encoder on the nmrshiftdb2 "
                    "subset shipped with the package, then report spectrum <-> graph retrieval "
                    "on molecules held out by InChIKey, and the new embeddings on ESOL beside "
                    "a random forest on RDKit descriptors. Runs on a CPU (make demo).",
        examples=["acml demo --out acml-demo-output",
                  "acml demo --max-molecules 300 --epochs 2 --out /tmp/acml-demo-quick"],
        parents=[own, data_size_options(), training_options(DEMO_DEFAULTS)])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    run_demo(args.out, args.max_molecules, **training_kwargs(args))
    return 0


def run_demo(out: Path, max_molecules: Optional[int] = None, **kwargs) -> Dict[str, Any]:
    """Run the demo and return the metrics it writes to ``out/metrics.json``."""
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c

    frame = read_embedded_nmr_13c()
    if max_molecules is not None:
        frame = frame.head(max_molecules)
    metrics = run_pretraining(frame, out, source="embedded nmrshiftdb2 13C subset", **kwargs)
    metrics["downstream"] = downstream_esol(Path(out) / "acml_nmr_13c.pt", kwargs.get("seed", 0))
    (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    say_warnings(metrics.get("warnings", []))  # the downstream scores above come from that encoder
    return metrics


def downstream_esol(checkpoint: Path, seed: int = 0) -> Dict[str, Any]:
    """Where users' work begins: the new embeddings on ESOL (shipped), scaffold split,
    beside a random forest on RDKit 2-D descriptors (a strong simple baseline), same split."""
    from deepchem_acml.evaluation.moleculenet import BenchmarkContext, load_split_task, run_method

    task = load_split_task("esol")
    context = BenchmarkContext(pretrained=str(checkpoint))
    results: Dict[str, Dict[str, float]] = {}
    for method in ("ACML frozen + linear", "RF on RDKit 2-D descriptors"):
        result, seconds = run_method(method, task, seed, context)
        results[method] = {"score": result.score, "seconds": seconds}
    sizes = {n: len(s) for n, s in task.smiles.items()}
    print(f"\nDownstream: ESOL solubility, DeepChem scaffold split "
          f"{sizes['train']}/{sizes['valid']}/{sizes['test']}, test RMSE (log mol/L, lower is "
          "better):")
    for method, record in results.items():
        print(f"  {method:<30}{record['score']:.3f}")
    return {"task": "esol", "split": "scaffold 80/10/10", "metric": "RMSE", "sizes": sizes,
            "results": results}
