"""Validation-only probe of the slow-encoder recipe's pooling: ``ACML fine-tuned (slow
encoder, mean pooling)`` with each ``encoder_pooling``, three seeds, scores printed as JSON
lines (nothing recorded in the benchmark's records: a diagnostic, chosen on validation).

    .venv/bin/python benchmarks/pooling_probe.py --tasks esol freesolv --poolings sum mean
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv=None) -> int:
    import torch

    from deepchem_acml.evaluation.moleculenet import (SLOW_ENCODER_RECIPE, TASKS, EarlyStopping,
                                                      fit_graph_model, load_split_task)
    from deepchem_acml.nn.gin import POOLINGS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["esol", "freesolv"], choices=sorted(TASKS))
    parser.add_argument("--poolings", nargs="+", default=["sum", "mean"], choices=POOLINGS)
    parser.add_argument("--pretrained", default="smiles")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.tasks:
        task = load_split_task(name)
        for pooling in args.poolings:
            for seed in args.seeds:
                started = time.time()
                result = fit_graph_model(task, args.pretrained, seed, EarlyStopping(),
                                         **{**SLOW_ENCODER_RECIPE, "encoder_pooling": pooling})
                print(json.dumps({"task": name, "pooling": pooling, "seed": seed,
                                  "valid": round(result.valid_score, 4),
                                  "test": round(result.score, 4), "best_epoch": result.best_epoch,
                                  "seconds": round(time.time() - started)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
