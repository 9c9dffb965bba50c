"""Write the SMILES of the benchmark's MoleculeNet test splits (DeepChem scaffold split, as
``benchmarks/moleculenet.py`` makes them) to one CSV, for ``acml pretrain --exclude``: a
pretrained encoder then never saw a molecule it is scored on, nor one of its stereoisomers
(the exclusion is by InChIKey skeleton). Reads MoleculeNet from the shared data folder.

    .venv/bin/python benchmarks/moleculenet_test_smiles.py --out runs/moleculenet_test_smiles.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    import pandas as pd

    from deepchem_acml.evaluation.moleculenet import TASKS, load_split_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=sorted(TASKS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    frames = [pd.DataFrame({"smiles": load_split_task(t).smiles["test"], "task": t})
              for t in args.tasks]
    frame = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{len(frame)} test molecules of {len(args.tasks)} tasks -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
