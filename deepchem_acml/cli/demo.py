"""``acml demo``: ACML on the embedded nmrshiftdb2 13C subset, end to end, on CPU."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

DEMO_DEFAULTS = dict(epochs=40, hidden_dim=128, batch_size=128, learning_rate=1e-3, seed=0)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "demo", help="train ACML (graph vs 13C NMR) on the embedded subset and report retrieval",
        description="Train a 5-layer GIN against the frozen 13C NMR encoder on the nmrshiftdb2 "
                    "subset shipped with the package, then report spectrum <-> graph retrieval "
                    "on molecules held out by InChIKey.")
    parser.add_argument("--out", type=Path, default=Path("acml-demo-output"),
                        help="folder for metrics.json, the checkpoint and the embeddings")
    parser.add_argument("--data", type=Path, default=None,
                        help="CSV with columns smiles, spectrum and optionally inchikey "
                             "(default: the embedded nmrshiftdb2 13C subset)")
    parser.add_argument("--max-molecules", type=int, default=None,
                        help="use only the first N molecules (quick runs)")
    parser.add_argument("--epochs", type=int, default=DEMO_DEFAULTS["epochs"])
    parser.add_argument("--hidden-dim", type=int, default=DEMO_DEFAULTS["hidden_dim"])
    parser.add_argument("--batch-size", type=int, default=DEMO_DEFAULTS["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=DEMO_DEFAULTS["learning_rate"])
    parser.add_argument("--seed", type=int, default=DEMO_DEFAULTS["seed"])
    parser.add_argument("--pool-size", type=int, default=128)
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(out=args.out, data=args.data, max_molecules=args.max_molecules,
                      epochs=args.epochs, hidden_dim=args.hidden_dim, batch_size=args.batch_size,
                      learning_rate=args.learning_rate, seed=args.seed,
                      pool_size=args.pool_size, device=args.device)
    return 0 if result else 1


def run_demo(out: Path, data: Optional[Path] = None, max_molecules: Optional[int] = None,
             epochs: int = DEMO_DEFAULTS["epochs"], hidden_dim: int = DEMO_DEFAULTS["hidden_dim"],
             batch_size: int = DEMO_DEFAULTS["batch_size"],
             learning_rate: float = DEMO_DEFAULTS["learning_rate"], seed: int = DEMO_DEFAULTS["seed"],
             pool_size: int = 128, device: Optional[str] = None) -> Dict[str, Any]:
    """Run the demo and return the metrics it writes to ``out/metrics.json``."""
    import pandas as pd
    import torch

    from deepchem_acml import ACMLModel, __version__
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter, read_embedded_nmr_13c
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.evaluation.retrieval import format_retrieval_table, retrieval_report

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = read_embedded_nmr_13c() if data is None else pd.read_csv(data)
    missing = {"smiles", "spectrum"} - set(frame.columns)
    if missing:
        raise ValueError(f"{data} lacks column(s) {sorted(missing)}; it needs smiles and spectrum")
    if "inchikey" not in frame.columns:
        frame["inchikey"] = _inchikeys(frame.smiles)
    if max_molecules is not None:
        frame = frame.head(max_molecules)
    source = "embedded nmrshiftdb2 13C subset" if data is None else str(data)
    frame, removed = heavy_atom_filter(frame.reset_index(drop=True))
    print(f"Data: {len(frame) + len(removed)} molecules from the {source}; "
          f"{len(removed)} outside 3..50 heavy atoms set aside (listed in failures.csv)")

    model = ACMLModel("nmr_13c", hidden_dim=hidden_dim, batch_size=batch_size,
                      learning_rate=learning_rate, seed=seed, model_dir=str(out / "checkpoints"),
                      device=torch.device(device) if device else None)
    featurize_started = time.time()
    dataset, failures = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    print(f"Featurized graphs and spectra, frozen 13C embeddings cached: {len(dataset)} pairs, "
          f"{len(failures)} rows not usable ({time.time() - featurize_started:.1f} s)")
    for failure in failures[:5]:
        print(f"  {failure}")
    failure_rows = [(f.index, f.input, f.reason) for f in failures]
    failure_rows += [(i, row.smiles, row.reason) for i, row in removed.iterrows()]
    pd.DataFrame(failure_rows, columns=["index", "input", "reason"]).to_csv(
        out / "failures.csv", index=False)

    train_idx, valid_idx, test_idx = inchikey_split(list(dataset.ids), seed=0)
    train, valid, test = (dataset.select(idx) for idx in (train_idx, valid_idx, test_idx))
    print(f"Split by InChIKey skeleton: {len(train)} train / {len(valid)} valid / "
          f"{len(test)} test; {epochs} epochs, batch {batch_size}, seed {seed}")
    train_started = time.time()
    history = model.fit_with_validation(train, valid, nb_epoch=epochs)
    train_seconds = time.time() - train_started
    best = min(history, key=lambda record: record["valid_loss"])

    graph_projection = model.predict(test)
    modality_projection = model.project_modality(test.y)
    report = retrieval_report(graph_projection, modality_projection, pool_size=pool_size, seed=seed)
    print()
    print(f"Retrieval on the held-out test split ({len(test)} molecules never seen in training):")
    print(format_retrieval_table(report))

    checkpoint = out / "acml_nmr_13c.pt"
    model.save(checkpoint)
    smiles_of = dict(zip(frame.inchikey, frame.smiles))
    np.savez_compressed(out / "test_embeddings.npz", ids=np.asarray(test.ids, dtype=str),
                        smiles=np.asarray([smiles_of[i] for i in test.ids], dtype=str),
                        graph_embedding=model.predict_embedding(test),
                        graph_projection=graph_projection,
                        modality_projection=modality_projection)
    metrics = {
        "retrieval": report,
        "data": {"source": source, "n_input": len(frame) + len(removed),
                 "n_pairs": len(dataset), "n_not_usable": len(failures) + len(removed),
                 "n_train": len(train), "n_valid": len(valid), "n_test": len(test),
                 "split": "inchikey_split(seed=0) on the InChIKey skeleton, 80/10/10"},
        "training": {"epochs": len(history), "best_epoch": best["epoch"],
                     "best_valid_loss": best["valid_loss"], "seconds": round(train_seconds, 1),
                     "history": history},
        "model": model.config(),
        "command": "acml " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "versions": _versions(__version__),
        "seconds_total": round(time.time() - started, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    top10 = report["pools"]["modality_to_graph"]["top10"]
    print(f"\nSpectrum → graph top-10 in pools of {report['pool_size']}: {top10:.3f} "
          f"(chance {report['chance']['pools']['top10']:.3f}). "
          f"Wrote {out}/metrics.json, {checkpoint.name}, test_embeddings.npz, failures.csv "
          f"in {metrics['seconds_total']:.0f} s.")
    return metrics


def _inchikeys(smiles):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    keys = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
        keys.append(Chem.MolToInchiKey(mol) if mol is not None else f"unparsed-{len(keys)}")
    return keys


def _versions(package_version: str) -> Dict[str, str]:
    import deepchem
    import rdkit
    import torch

    return {"deepchem_acml": package_version, "deepchem": deepchem.__version__,
            "torch": torch.__version__, "rdkit": rdkit.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}
