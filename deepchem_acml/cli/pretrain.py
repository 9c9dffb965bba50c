"""``acml pretrain``: train an ACML graph encoder against a frozen modality, resumably."""
from __future__ import annotations

import argparse
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
    parser.add_argument("--atom-features", choices=["hu", "rich"], default="hu",
                        help="GIN atom inputs: hu (atomic number and chirality, as ACML) or "
                             "rich (also degree, charge, hydrogens, radicals, hybridization, "
                             "aromaticity, rings)")
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="the contrastive loss's temperature (ACML: 1.0)")
    parser.add_argument("--distillation-weight", type=float, default=0.0,
                        help="add this times the error of reading each frozen embedding "
                             "linearly from the graph embedding (0: plain ACML)")
    parser.add_argument("--batching", choices=["random", "neighbours", "half-neighbours"],
                        default="random",
                        help="training batches: random (ACML), near neighbours in the frozen "
                             "embeddings (harder in-batch negatives), or half of each")
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
                temperature=args.temperature, distillation_weight=args.distillation_weight,
                batching=args.batching, atom_features=args.atom_features,
                learning_rate=args.learning_rate, seed=args.seed,
                pool_size=args.pool_size,
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
    parser.add_argument("--ms-encoder", choices=["autoencoder", "contrastive"], default=None,
                        help="ms_lc/ms_gc: the shipped 1-Da autoencoder (default) or the "
                             "shipped fragment-aware contrastive encoder")
    parser.add_argument("--encoder-checkpoint", default=None,
                        help="the modality's frozen encoder from a local file or directory "
                             "(HuggingFace directory for smiles, TorchScript CNN for image, "
                             "spectrum autoencoder .pt)")
    parser.add_argument("--all-spectra", action="store_true",
                        help="ms_lc/ms_gc from MassBank: every spectrum of a compound as its own "
                             "pair (collision energies, instruments), not one per compound; "
                             "the split stays by compound, but the run's test retrieval then "
                             "counts a compound once per spectrum")
    parser.add_argument("--exclude", type=Path, default=None,
                        help="SMILES file (CSV with a smiles column, .smi, Parquet): molecules "
                             "sharing an InChIKey skeleton (first block) with any of them are "
                             "left out of pretraining and counted, e.g. the test splits of the "
                             "benchmark the encoder will be scored on")
    add_training_arguments(parser, PRETRAIN_DEFAULTS)
    parser.set_defaults(run=run)


def encoder_options(args: argparse.Namespace, modalities: List[str]) -> Dict[str, Any]:
    """The frozen encoder's options from the command line, each checked against the
    modalities it is for."""
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF

    one_ms = len(modalities) == 1 and modalities[0] in MASSBANK_KIND_OF
    options = {"checkpoint": args.encoder_checkpoint}
    if args.smiles_encoder is not None:
        if "smiles" not in modalities:
            raise SystemExit("--smiles-encoder is for --modality smiles")
        options["encoder"] = args.smiles_encoder
    if args.ms_encoder is not None:
        if not one_ms:
            raise SystemExit("--ms-encoder is for one of ms_lc and ms_gc")
        options["encoder"] = args.ms_encoder
    if args.all_spectra and not one_ms:
        raise SystemExit("--all-spectra is for one of ms_lc and ms_gc (MassBank)")
    return {k: v for k, v in options.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    from deepchem_acml.data.pairs import read_pairs

    modalities = list(dict.fromkeys(args.modality))
    options = encoder_options(args, modalities)
    if len(modalities) == 1:
        frame, source = read_pairs(modalities[0], args.data, args.max_molecules,
                                   all_spectra=args.all_spectra)
        run_pretraining(frame, args.out, source=source, modality=modalities[0],
                        modality_options=options, exclude=args.exclude, **training_kwargs(args))
        return 0
    if args.data is not None or args.encoder_checkpoint is not None:
        raise SystemExit("joint training reads each modality's default data and encoder; "
                         "--data and --encoder-checkpoint are for one modality")
    frame, source = joint_pairs(modalities, args.max_molecules)
    run_pretraining(frame, args.out, source=source, modality=modalities,
                    modality_options={"smiles": options} if options else None,
                    exclude=args.exclude, **training_kwargs(args))
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
                    projection_dim: int = 512, batch_size: int = 128,
                    temperature: float = 1.0, distillation_weight: float = 0.0,
                    batching: str = "random", atom_features: str = "hu",
                    learning_rate: float = 1e-3, seed: int = 0, pool_size: int = 128,
                    checkpoint_every: int = 100, device: Optional[str] = None,
                    precision: str = "fp32", backend: str = "torch",
                    modality_options: Optional[Dict[str, Any]] = None,
                    exclude: Optional[Path] = None) -> Dict[str, Any]:
    """Featurize, split by InChIKey, train, evaluate retrieval on the test split, write results.

    ``modality`` is one name (``frame`` has ``smiles`` and its input column) or several for
    joint training (``frame`` has a column per spectrum modality, NaN where missing, see
    :func:`joint_pairs`; ``modality_options`` then maps a name to its options).

    Writes to ``out``: ``metrics.json``, ``acml_<modality>.pt`` (``acml_joint.pt``),
    ``test_embeddings.npz``, ``failures.csv``, ``training_state.pt`` (the resumable state)
    and ``frozen_embeddings/`` (the frozen encoder's outputs, reused when the same command
    runs again). Returns the metrics. Launched by ``torchrun``, it trains data-parallel (see
    :mod:`deepchem_acml.distributed`); rank 0 alone prints and writes.
    """
    from deepchem_acml import distributed
    from deepchem_acml.devices import resolve_device

    started = time.time()
    device = str(resolve_device(device))  # under torchrun: the local rank's GPU
    distributed.init_from_environment(device)
    run = PretrainingRun(Path(out), source, modality, distributed.is_main_process())
    run.out.mkdir(parents=True, exist_ok=True)
    kept, removed = run.select_molecules(frame, exclude)
    model = run.build_model(modality_options, precision, hidden_dim=hidden_dim, norm=norm,
                            projection_dim=projection_dim, batch_size=batch_size,
                            temperature=temperature, distillation_weight=distillation_weight,
                            batching=batching, atom_features=atom_features,
                            learning_rate=learning_rate, seed=seed, backend=backend,
                            device=device)
    dataset, failures = run.build_pairs(model, kept, removed)
    train, valid, test = run.split(dataset, epochs, batch_size, seed)
    train_started = time.time()
    history = model.train(train, valid, nb_epoch=epochs,
                          checkpoint_path=run.out / "training_state.pt",
                          checkpoint_every=checkpoint_every, progress=run.main_process)
    training = training_summary(history, time.time() - train_started)
    reports, saved = run.report_retrieval(model, test, pool_size, seed)
    checkpoint = run.out / f"acml_{'joint' if run.joint else run.names[0]}.pt"
    model.save(checkpoint)
    if not run.main_process:
        return {}
    run.write_test_embeddings(model, test, kept, saved)
    metrics = {"retrieval": reports if run.joint else reports[run.names[0]],
               "data": run.data_summary(len(frame), dataset, failures, removed,
                                        (train, valid, test)),
               "training": training, "model": model.config(), "command": command_line(),
               **({"distillation_r2_test": model.distillation_r2(test)}
                  if distillation_weight > 0 else {}),
               "versions": package_versions(),
               "seconds_total": round(time.time() - started, 1)}
    (run.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    run.say_summary(reports, checkpoint, metrics["seconds_total"])
    return metrics


def skeletons_in(path: Path) -> set:
    """The InChIKey skeletons (first block) of a SMILES file's parsable molecules."""
    from deepchem_acml.data.pairs import inchikeys_of
    from deepchem_acml.data.smiles_files import iter_smiles_chunks

    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--exclude: no such file {path}")
    return {key.split("-")[0] for chunk in iter_smiles_chunks(path, 10_000)
            for key in inchikeys_of(chunk) if not key.startswith("unparsed-")}


def training_summary(history: List[Dict[str, float]], seconds: float) -> Dict[str, Any]:
    """The training record of ``metrics.json``: epochs, the epoch kept, the history."""
    best = min(history, key=lambda record: record["valid_loss"])
    return {"epochs": len(history), "best_epoch": best["epoch"],
            "best_valid_loss": best["valid_loss"], "seconds": round(seconds, 1),
            "history": history}


class PretrainingRun:
    """The steps of one ``acml pretrain`` run (select, build, pair, split, report, write),
    with what they share: the output folder, the modality names, whether this process
    prints and writes (rank 0).

    Parameters
    ----------
    out : Path
        The output folder.
    source : str
        Where the molecules came from (printed and stored).
    modality : str or list of str
        One modality, or several (joint training).
    main_process : bool
        Whether this process prints and writes.
    """

    def __init__(self, out: Path, source: str, modality: Union[str, List[str]],
                 main_process: bool):
        self.out, self.source, self.main_process = out, source, main_process
        self.joint = not isinstance(modality, str)
        self.names = list(modality) if self.joint else [modality]
        self.excluded: Dict[str, Any] = {}

    def say(self, *parts: Any) -> None:
        """Print on rank 0 only."""
        if self.main_process:
            print(*parts)

    def input_columns(self) -> Dict[str, str]:
        """The frame column each modality reads (joint: a column per spectrum modality,
        SMILES for the SMILES-derived ones; one custom modality: ``spectrum``)."""
        from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN

        if self.joint:
            return {n: "smiles" if MODALITY_INPUT_COLUMN.get(n) == "smiles" else n
                    for n in self.names}
        return {self.names[0]: MODALITY_INPUT_COLUMN.get(self.names[0], "spectrum")}

    def select_molecules(self, frame, exclude: Optional[Path] = None):
        """Rows with InChIKeys, split into those kept (3..50 heavy atoms) and those set aside;
        rows sharing a skeleton with a molecule of ``exclude`` are dropped and counted."""
        from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
        from deepchem_acml.data.pairs import with_inchikeys

        columns = self.input_columns()
        missing = {"smiles", *columns.values()} - set(frame.columns)
        if missing:
            raise ValueError(f"{self.source} lacks column(s) {sorted(missing)}; it needs smiles "
                             f"and {sorted(set(columns.values()))}")
        frame = with_inchikeys(frame.reset_index(drop=True))
        if exclude is not None:
            skeletons = skeletons_in(exclude)
            leaves = frame["inchikey"].str.split("-").str[0].isin(skeletons)
            self.excluded = {"file": str(exclude), "n_skeletons": len(skeletons),
                             "n_excluded": int(leaves.sum())}
            self.say(f"Excluded {int(leaves.sum())} molecules sharing an InChIKey skeleton with "
                     f"{exclude} ({len(skeletons)} skeletons)")
            frame = frame[~leaves].reset_index(drop=True)
        kept, removed = heavy_atom_filter(frame)
        self.say(f"Data: {len(frame)} molecules from the {self.source}; {len(removed)} outside "
                 "3..50 heavy atoms set aside (listed in failures.csv)")
        return kept, removed

    def build_model(self, modality_options: Optional[Dict[str, Any]], precision: str,
                    device: Optional[str] = None, **architecture):
        """The model: one :class:`ACMLModel` over this run's modalities."""
        import torch

        from deepchem_acml import ACMLModel
        from deepchem_acml.modalities import get_modality

        options = modality_options or {}
        if not self.joint:
            options = {self.names[0]: options}
        modalities = [get_modality(n, **options.get(n, {})) for n in self.names]
        return ACMLModel(modalities if self.joint else modalities[0], precision=precision,
                         device=torch.device(device) if device else None, **architecture)

    def build_pairs(self, model, kept, removed):
        """The paired dataset (frozen embeddings cached under ``frozen_embeddings/``) and the
        rows that could not be used (written to ``failures.csv``)."""
        import os

        import pandas as pd

        started = time.time()
        inputs = {n: kept[c].tolist() for n, c in self.input_columns().items()}
        cache = os.fspath(self.out / "frozen_embeddings") + os.sep
        dataset, failures = model.build_dataset(kept.smiles, inputs, ids=kept.inchikey,
                                                embedding_cache=cache)
        self.say(f"Featurized graphs and {', '.join(self.names)} inputs, frozen embeddings "
                 f"cached: {len(dataset)} molecules, {len(failures)} rows with unusable inputs "
                 f"({time.time() - started:.1f} s)")
        for failure in failures[:5]:
            self.say(f"  {failure}")
        rows = [(int(kept.index[f.index]), f.input, f.reason) for f in failures]
        rows += [(int(i), row.smiles, row.reason) for i, row in removed.iterrows()]
        if self.main_process:
            pd.DataFrame(sorted(rows), columns=["index", "input", "reason"]).to_csv(
                self.out / "failures.csv", index=False)
        return dataset, failures

    def split(self, dataset, epochs: int, batch_size: int, seed: int):
        """Train / valid / test by InChIKey skeleton (80/10/10, always seed 0)."""
        from deepchem_acml.data.splits import inchikey_split

        indices = inchikey_split(list(dataset.ids), seed=0)
        train, valid, test = (dataset.select(idx) for idx in indices)
        self.say(f"Split by InChIKey skeleton: {len(train)} train / {len(valid)} valid / "
                 f"{len(test)} test; {epochs} epochs, batch {batch_size}, seed {seed}")
        return train, valid, test

    def report_retrieval(self, model, test, pool_size: int, seed: int):
        """Retrieval on the test split per modality, and the arrays ``test_embeddings.npz``
        keeps (joint: prefixed by the modality, with the test rows that have it)."""
        from deepchem_acml.evaluation.retrieval import format_retrieval_table, retrieval_report

        graph_projection = model.predict(test)
        if not self.joint:
            graph_projection = graph_projection[:, None]
        reports, saved = {}, {}
        for m, name in enumerate(self.names):
            rows, embeddings = model.modality_embeddings(test, name)
            graph_side, modality_side = graph_projection[rows, m], model.project_modality(
                embeddings, name)
            reports[name] = retrieval_report(graph_side, modality_side, pool_size=pool_size,
                                             seed=seed)
            prefix = f"{name}_" if self.joint else ""
            saved.update({f"{prefix}graph_projection": graph_side,
                          f"{prefix}modality_projection": modality_side,
                          **({f"{prefix}rows": rows} if self.joint else {})})
            self.say()
            self.say(f"{name}: retrieval on the held-out test split ({len(rows)} molecules "
                     "never seen in training):")
            self.say(format_retrieval_table(reports[name]))
        return reports, saved

    def write_test_embeddings(self, model, test, kept, saved: Dict[str, np.ndarray]) -> None:
        smiles_of = dict(zip(kept.inchikey, kept.smiles))
        np.savez_compressed(self.out / "test_embeddings.npz",
                            ids=np.asarray(test.ids, dtype=str),
                            smiles=np.asarray([smiles_of[i] for i in test.ids], dtype=str),
                            graph_embedding=model.predict_embedding(test), **saved)

    def data_summary(self, n_input: int, dataset, failures, removed, splits) -> Dict[str, Any]:
        """The data record of ``metrics.json``."""
        train, valid, test = splits
        data = {"source": self.source, "n_input": n_input, "n_pairs": len(dataset),
                "n_not_usable": len(failures) + len(removed), "n_train": len(train),
                "n_valid": len(valid), "n_test": len(test),
                "split": "inchikey_split(seed=0) on the InChIKey skeleton, 80/10/10",
                **({"excluded": self.excluded} if self.excluded else {})}
        if self.joint:
            data["n_with_modality"] = {
                split: dict(zip(self.names, np.asarray(part.w).sum(0).astype(int).tolist()))
                for split, part in (("train", train), ("valid", valid), ("test", test))}
        return data

    def say_summary(self, reports: Dict[str, Any], checkpoint: Path, seconds: float) -> None:
        for name, report in reports.items():
            top10 = report["pools"]["modality_to_graph"]["top10"]
            self.say(f"\n{name} → graph top-10 in pools of {report['pool_size']}: {top10:.3f} "
                     f"(chance {report['chance']['pools']['top10']:.3f})")
        self.say(f"Wrote metrics.json, {checkpoint.name}, test_embeddings.npz, failures.csv to "
                 f"{self.out} in {seconds:.0f} s.")
