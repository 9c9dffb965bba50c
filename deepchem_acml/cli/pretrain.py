"""``acml pretrain``: train an ACML graph encoder against a frozen modality, resumably."""
from __future__ import annotations

import argparse
import builtins
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from deepchem_acml.provenance import command_line, package_versions

PRETRAIN_DEFAULTS = dict(epochs=100, hidden_dim=128, batch_size=128, learning_rate=1e-3, seed=0)


def add_training_arguments(parser: argparse.ArgumentParser, defaults: Dict[str, Any]) -> None:
    """The training options shared by ``demo`` and ``pretrain``."""
    parser.add_argument("--epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--hidden-dim", type=int, default=defaults["hidden_dim"],
                        help="GIN width (graph embedding size)")
    parser.add_argument("--projection-dim", type=int, default=defaults.get("projection_dim", 512),
                        help="size of the shared contrastive space (ACML: 512)")
    parser.add_argument("--norm", choices=["layer", "batch"], default="layer",
                        help="GIN normalisation: layer (bounded for unusual molecules) or batch "
                             "(the ACML reference)")
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=defaults["learning_rate"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--pool-size", type=int, default=128,
                        help="retrieval candidate pool (the paper's protocol: 128)")
    parser.add_argument("--checkpoint-every", type=int, default=100,
                        help="steps between training-state checkpoints (resume after a crash; 0: "
                             "only at epoch ends)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: autocast the forward pass (GPUs with bfloat16)")
    parser.add_argument("--backend", choices=["torch", "dgl"], default="torch",
                        help="GIN message passing (dgl needs the DGL environment, see README)")


def training_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(epochs=args.epochs, hidden_dim=args.hidden_dim, norm=args.norm,
                projection_dim=args.projection_dim, batch_size=args.batch_size,
                learning_rate=args.learning_rate, seed=args.seed, pool_size=args.pool_size,
                checkpoint_every=args.checkpoint_every, device=args.device,
                precision=args.precision, backend=args.backend)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "pretrain", help="train an ACML graph encoder against a frozen modality encoder",
        description="Train ACML on paired molecules and spectra; resumes from OUT/"
                    "training_state.pt when it exists (same command after a crash).")
    parser.add_argument("--modality", default=["nmr_13c"], nargs="+",
                        choices=["image", "ms_gc", "ms_lc", "nmr_13c", "nmr_1h", "smiles"],
                        help="one modality, or several for joint training (one graph "
                             "encoder; each molecule pairs with the modalities it has)")
    parser.add_argument("--data", type=Path, default=None,
                        help="CSV with columns smiles and the modality's input (spectrum; "
                             "smiles and image need only smiles), optionally inchikey; an "
                             "nmrshiftdb2 or MassBank .jsonl.gz; or .mgf/.msp spectra with "
                             "SMILES (default: nmrshiftdb2, MassBank or the MOSES SMILES in the "
                             "shared data folder)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-molecules", type=int, default=None)
    parser.add_argument("--smiles-encoder", choices=["chemnet", "roberta"], default=None,
                        help="smiles: frozen ChemNet (default) or the package's small RoBERTa")
    parser.add_argument("--encoder-checkpoint", default=None,
                        help="the modality's frozen encoder from a local file or directory "
                             "(HuggingFace directory for smiles, TorchScript CNN for image, "
                             "spectrum autoencoder .pt)")
    add_training_arguments(parser, PRETRAIN_DEFAULTS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml.data.pairs import read_pairs

    modalities = list(dict.fromkeys(args.modality))
    options = {"checkpoint": args.encoder_checkpoint}
    if args.smiles_encoder is not None:
        if "smiles" not in modalities:
            raise SystemExit("--smiles-encoder is for --modality smiles")
        options["encoder"] = args.smiles_encoder
    options = {k: v for k, v in options.items() if v is not None}
    if len(modalities) == 1:
        frame, source = read_pairs(modalities[0], args.data, args.max_molecules)
        run_pretraining(frame, args.out, source=source, modality=modalities[0],
                        modality_options=options, **training_kwargs(args))
        return 0
    if args.data is not None or args.encoder_checkpoint is not None:
        raise SystemExit("joint training reads each modality's default data and encoder; "
                         "--data and --encoder-checkpoint are for one modality")
    frame, source = joint_pairs(modalities, args.max_molecules)
    run_pretraining(frame, args.out, source=source, modality=modalities,
                    modality_options={"smiles": options} if options else None,
                    **training_kwargs(args))
    return 0


def joint_pairs(modalities: List[str], max_molecules: Optional[int] = None,
                paths: Optional[Dict[str, Union[str, Path]]] = None):
    """One row per molecule (InChIKey) over the default data of several modalities: a column
    per spectrum modality (NaN where the molecule has none), SMILES for smiles and image.
    Rows are sorted by InChIKey (an outer merge sorts its keys): a deterministic order
    unrelated to structure, so ``max_molecules`` takes an even sample. ``paths`` maps a
    modality to a data file other than its default."""
    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, read_pairs, with_inchikeys

    spectral = [m for m in modalities if MODALITY_INPUT_COLUMN[m] != "smiles"]
    if not spectral:  # SMILES-derived modalities only: every molecule has all of them
        return read_pairs(modalities[0], None, max_molecules)
    merged, sources = None, []
    for name in spectral:
        part, source = read_pairs(name, (paths or {}).get(name), None)
        part = with_inchikeys(part).drop_duplicates("inchikey")[["inchikey", "smiles", "spectrum"]]
        part = part.rename(columns={"spectrum": name})
        sources.append(f"{name}: {Path(source).name}")
        if merged is None:
            merged = part
        else:
            merged = merged.merge(part, on="inchikey", how="outer", suffixes=("", "_other"),
                                  sort=False)
            merged["smiles"] = merged["smiles"].fillna(merged.pop("smiles_other"))
    if max_molecules is not None:
        merged = merged.head(max_molecules)
    return merged.reset_index(drop=True), "; ".join(sources)


def run_pretraining(frame, out: Path, source: str, modality: Union[str, List[str]] = "nmr_13c",
                    epochs: int = 100, hidden_dim: int = 128, norm: str = "layer",
                    projection_dim: int = 512,
                    batch_size: int = 128,
                    learning_rate: float = 1e-3, seed: int = 0, pool_size: int = 128,
                    checkpoint_every: int = 100, device: Optional[str] = None,
                    precision: str = "fp32", backend: str = "torch",
                    modality_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Featurize, split by InChIKey, train, evaluate retrieval on the test split, write results.

    ``modality`` is one name (``frame`` has ``smiles`` and its input column) or several for a
    :class:`JointACMLModel` (``frame`` has a column per spectrum modality, NaN where missing,
    see :func:`joint_pairs`; ``modality_options`` then maps a name to its options).

    Writes to ``out``: ``metrics.json``, ``acml_<modality>.pt`` (``acml_joint.pt``),
    ``test_embeddings.npz``, ``failures.csv``, ``training_state.pt`` (the resumable state)
    and ``frozen_embeddings/`` (the frozen encoder's outputs, reused when the same command
    runs again). Returns the metrics. Launched by ``torchrun``, it trains data-parallel (see
    :mod:`deepchem_acml.distributed`); rank 0 alone prints and writes.
    """
    import pandas as pd
    import torch

    from deepchem_acml import ACMLModel, JointACMLModel
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, with_inchikeys
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.evaluation.retrieval import format_retrieval_table, retrieval_report
    from deepchem_acml.modalities import get_modality

    from deepchem_acml import distributed

    started = time.time()
    from deepchem_acml.devices import resolve_device

    device = str(resolve_device(device))  # under torchrun: the local rank's GPU
    distributed.init_from_environment(device)
    main_process = distributed.is_main_process()
    print = builtins.print if main_process else (lambda *args, **kwargs: None)  # noqa: A001
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    joint = not isinstance(modality, str)
    names = list(modality) if joint else [modality]
    if joint and precision != "fp32":
        raise ValueError("joint training runs in fp32; --precision bf16 is for one modality")
    if joint:  # a column per spectrum modality, SMILES for the SMILES-derived ones
        columns = {n: "smiles" if MODALITY_INPUT_COLUMN.get(n) == "smiles" else n for n in names}
    else:
        columns = {modality: MODALITY_INPUT_COLUMN.get(modality, "spectrum")}  # custom: spectra
    missing = {"smiles", *columns.values()} - set(frame.columns)
    if missing:
        raise ValueError(f"{source} lacks column(s) {sorted(missing)}; it needs smiles and "
                         f"{sorted(set(columns.values()))}")
    frame = with_inchikeys(frame.reset_index(drop=True))
    kept, removed = heavy_atom_filter(frame)
    print(f"Data: {len(frame)} molecules from the {source}; {len(removed)} outside 3..50 heavy "
          "atoms set aside (listed in failures.csv)")

    architecture = dict(hidden_dim=hidden_dim, norm=norm, projection_dim=projection_dim,
                        batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                        backend=backend, device=torch.device(device) if device else None)
    featurize_started = time.time()
    if joint:
        options = modality_options or {}
        model = JointACMLModel([get_modality(n, **options.get(n, {})) for n in names],
                               **architecture)
        dataset, failures = model.build_dataset(
            kept.smiles, {n: kept[c].tolist() for n, c in columns.items()}, ids=kept.inchikey,
            embedding_cache_dir=out / "frozen_embeddings")
    else:
        model = ACMLModel(get_modality(modality, **(modality_options or {})),
                          precision=precision, **architecture)
        dataset, failures = model.build_dataset(kept.smiles, kept[columns[modality]],
                                                ids=kept.inchikey,
                                                embedding_cache=out / "frozen_embeddings"
                                                / f"{modality}.npz")
    print(f"Featurized graphs and {', '.join(names)} inputs, frozen embeddings cached: "
          f"{len(dataset)} molecules, {len(failures)} rows with unusable inputs "
          f"({time.time() - featurize_started:.1f} s)")
    for failure in failures[:5]:
        print(f"  {failure}")
    failure_rows = [(int(kept.index[f.index]), f.input, f.reason) for f in failures]
    failure_rows += [(int(i), row.smiles, row.reason) for i, row in removed.iterrows()]
    if main_process:
        pd.DataFrame(sorted(failure_rows), columns=["index", "input", "reason"]).to_csv(
            out / "failures.csv", index=False)

    train_idx, valid_idx, test_idx = inchikey_split(list(dataset.ids), seed=0)
    train, valid, test = (dataset.select(idx) for idx in (train_idx, valid_idx, test_idx))
    print(f"Split by InChIKey skeleton: {len(train)} train / {len(valid)} valid / "
          f"{len(test)} test; {epochs} epochs, batch {batch_size}, seed {seed}")
    train_started = time.time()
    history = model.train(train, valid, nb_epoch=epochs,
                          checkpoint_path=out / "training_state.pt",
                          checkpoint_every=checkpoint_every, progress=main_process)
    train_seconds = time.time() - train_started
    best = min(history, key=lambda record: record["valid_loss"])

    graph_projection = model.predict(test)
    reports, saved = {}, {}
    for m, name in enumerate(names):
        if joint:
            rows, embeddings = model.modality_embeddings(test, name)
            graph_side = graph_projection[rows, m]
            modality_side = model.project_modality(name, embeddings)
        else:
            rows = np.arange(len(test))
            graph_side, modality_side = graph_projection, model.project_modality(test.y)
        reports[name] = retrieval_report(graph_side, modality_side, pool_size=pool_size,
                                         seed=seed)
        prefix = f"{name}_" if joint else ""  # joint: the test rows that have the modality
        saved.update({f"{prefix}graph_projection": graph_side,
                      f"{prefix}modality_projection": modality_side,
                      **({f"{prefix}rows": rows} if joint else {})})
        print()
        print(f"{name}: retrieval on the held-out test split ({len(rows)} molecules never seen "
              "in training):")
        print(format_retrieval_table(reports[name]))

    checkpoint = out / f"acml_{'joint' if joint else modality}.pt"
    model.save(checkpoint)
    smiles_of = dict(zip(kept.inchikey, kept.smiles))
    if not main_process:
        return {}
    np.savez_compressed(out / "test_embeddings.npz", ids=np.asarray(test.ids, dtype=str),
                        smiles=np.asarray([smiles_of[i] for i in test.ids], dtype=str),
                        graph_embedding=model.predict_embedding(test), **saved)
    data = {"source": source, "n_input": len(frame), "n_pairs": len(dataset),
            "n_not_usable": len(failures) + len(removed), "n_train": len(train),
            "n_valid": len(valid), "n_test": len(test),
            "split": "inchikey_split(seed=0) on the InChIKey skeleton, 80/10/10"}
    if joint:
        data["n_with_modality"] = {split: dict(zip(names, np.asarray(part.w).sum(0).astype(int)
                                                   .tolist()))
                                   for split, part in (("train", train), ("valid", valid),
                                                       ("test", test))}
    metrics = {
        "retrieval": reports if joint else reports[modality],
        "data": data,
        "training": {"epochs": len(history), "best_epoch": best["epoch"],
                     "best_valid_loss": best["valid_loss"], "seconds": round(train_seconds, 1),
                     "history": history},
        "model": model.config(),
        "command": command_line(),
        "versions": package_versions(),
        "seconds_total": round(time.time() - started, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    for name, report in reports.items():
        top10 = report["pools"]["modality_to_graph"]["top10"]
        print(f"\n{name} → graph top-10 in pools of {report['pool_size']}: {top10:.3f} "
              f"(chance {report['chance']['pools']['top10']:.3f})")
    print(f"Wrote metrics.json, {checkpoint.name}, test_embeddings.npz, failures.csv to {out} "
          f"in {metrics['seconds_total']:.0f} s.")
    return metrics


