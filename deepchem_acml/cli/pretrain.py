"""``acml pretrain``: train an ACML graph encoder against a frozen modality, resumably."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from deepchem_acml.cli.options import (
    MODALITIES,
    LibraryNames,
    add_command,
    add_renamed,
    data_size_options,
    device_options,
    fitting_options,
    library_constant,
    pool_options,
    registered_modality,
    seed_options,
)
from deepchem_acml.logs import quiet_logger
from deepchem_acml.provenance import command_line, package_versions

PRETRAIN_DEFAULTS = dict(epochs=100, hidden_dim=128, batch_size=128, learning_rate=1e-3, seed=0)


def training_options(defaults: Dict[str, Any]) -> argparse.ArgumentParser:
    """The options of training ACML, shared by ``demo`` and ``pretrain`` (a parent parser;
    ``defaults`` gives each command's epochs, width, batch size, learning rate and seed)."""
    parent = argparse.ArgumentParser(add_help=False, parents=[
        fitting_options(defaults["epochs"], defaults["batch_size"], defaults["learning_rate"]),
        seed_options(defaults["seed"], "initial weights, batch order, retrieval pools"),
        pool_options(), device_options()])
    parent.add_argument("--hidden-dim", type=int, default=defaults["hidden_dim"],
                        help="GIN width (the graph embedding's size)")
    parent.add_argument("--projection-dim", type=int, default=defaults.get("projection_dim", 512),
                        help="size of the shared contrastive space")
    parent.add_argument("--norm", default="layer", metavar="NORM",
                        choices=library_constant("deepchem_acml.nn.gin", "NORMS"),
                        help="GIN normalisation, one of %(choices)s: layer is bounded for "
                             "unusual molecules, batch is the ACML reference")
    parent.add_argument("--atom-features", default="hu", metavar="SET",
                        choices=library_constant("deepchem_acml.featurizers.molecular_graph",
                                                 "ATOM_FEATURES"),
                        help="GIN atom inputs, one of %(choices)s: hu is atomic number and "
                             "chirality (as ACML), rich adds degree, charge, hydrogens, radicals, "
                             "hybridization, aromaticity and rings")
    parent.add_argument("--temperature", type=float, default=1.0,
                        help="the contrastive loss's temperature (ACML's value)")
    parent.add_argument("--distillation-weight", type=float, default=0.0,
                        help="add this times the error of reading each frozen embedding "
                             "linearly from the graph embedding (0: plain ACML)")
    parent.add_argument("--batching", default="random", metavar="ORDER",
                        choices=library_constant("deepchem_acml.models.acml", "BATCHINGS"),
                        help="training batches, one of %(choices)s: random (ACML), near "
                             "neighbours in the frozen embeddings (harder in-batch negatives), "
                             "or half of each")
    parent.add_argument("--checkpoint-every", type=int, default=100, metavar="STEPS",
                        help="steps between training-state checkpoints, to resume after a "
                             "crash (0: only at epoch ends)")
    parent.add_argument("--restart", action="store_true",
                        help="start over even if --out holds the training state of a run with "
                             "other data or settings (without it such a run is refused; the "
                             "same command resumes its own run)")
    parent.add_argument("--precision", default="fp32", metavar="PRECISION",
                        choices=library_constant("deepchem_acml.models.acml", "PRECISIONS"),
                        help="one of %(choices)s; bf16 autocasts the forward pass (GPUs with "
                             "bfloat16)")
    parent.add_argument("--backend", default="torch", metavar="BACKEND",
                        choices=library_constant("deepchem_acml.nn.gin", "BACKENDS"),
                        help="GIN message passing, one of %(choices)s (dgl needs the DGL "
                             "environment, see the install guide)")
    return parent


def training_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(epochs=args.epochs, hidden_dim=args.hidden_dim, norm=args.norm,
                projection_dim=args.projection_dim, batch_size=args.batch_size,
                temperature=args.temperature, distillation_weight=args.distillation_weight,
                batching=args.batching, atom_features=args.atom_features,
                learning_rate=args.learning_rate, seed=args.seed,
                pool_size=args.pool_size,
                checkpoint_every=args.checkpoint_every, device=args.device,
                precision=args.precision, backend=args.backend, restart=args.restart)


def frozen_encoder_kinds() -> Dict[str, List[str]]:
    """The shipped frozen encoders a modality can be given by name (``--encoder``)."""
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF
    from deepchem_acml.modalities.smiles import SMILES_ENCODERS
    from deepchem_acml.modalities.spectra import SHIPPED_ENCODER_KINDS

    return {"smiles": list(SMILES_ENCODERS),
            **{name: list(SHIPPED_ENCODER_KINDS) for name in sorted(MASSBANK_KIND_OF)}}


FROZEN_ENCODERS = LibraryNames(
    lambda: list(dict.fromkeys(k for kinds in frozen_encoder_kinds().values() for k in kinds)))


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--modality", default=["nmr_13c"], nargs="+", metavar="NAME",
                     type=registered_modality, choices=MODALITIES,
                     help="a registered modality (%(choices)s), or several for joint training "
                          "(one graph encoder; each molecule pairs with the modalities it has)")
    own.add_argument("--data", type=Path, default=None, metavar="FILE",
                     help="a CSV with columns smiles and the modality's input (spectrum; "
                          "smiles and image need only smiles), optionally inchikey; an "
                          "nmrshiftdb2 or MassBank .jsonl.gz; or .mgf/.msp spectra with "
                          "SMILES (default: nmrshiftdb2, MassBank or the MOSES SMILES in the "
                          "shared data folder; a modality you registered needs --data)")
    own.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="the run's folder (created; a run there is resumed)")
    add_renamed(own, "--encoder", "--smiles-encoder", "--ms-encoder", default=None,
                metavar="KIND", choices=FROZEN_ENCODERS,
                help="the modality's shipped frozen encoder, one of %(choices)s: chemnet or "
                     "roberta (the package's small RoBERTa) for smiles, autoencoder (1-Da "
                     "bins) or contrastive (fragment-aware) for ms_lc and ms_gc (default: "
                     "chemnet for smiles, autoencoder for the others)")
    own.add_argument("--encoder-checkpoint", default=None, metavar="PATH",
                     help="the modality's frozen encoder from a local file or directory "
                          "instead: a HuggingFace directory for smiles, a TorchScript CNN for "
                          "image, a spectrum encoder .pt written by acml pretrain-encoder "
                          "(default: the shipped encoder)")
    own.add_argument("--all-spectra", action="store_true",
                     help="ms_lc/ms_gc from MassBank: every spectrum of a compound as its own "
                          "pair (collision energies, instruments), not one per compound; the "
                          "split stays by compound, but the run's test retrieval then counts "
                          "a compound once per spectrum")
    own.add_argument("--exclude", type=Path, default=None, metavar="FILE",
                     help="a SMILES file (CSV with a smiles column, .smi, Parquet): molecules "
                          "sharing an InChIKey skeleton (first block) with any of them are "
                          "left out of pretraining and counted, e.g. the test splits of the "
                          "benchmark the encoder will be scored on (default: none left out)")
    parser = add_command(
        commands, "pretrain", help="train an ACML graph encoder against a frozen modality encoder",
        description="Train ACML on paired molecules and another modality (spectra, SMILES, "
                    "images): a GIN learns to align with the modality's frozen encoder. "
                    "Resumes from OUT/training_state.pt when it exists (the same command "
                    "after a crash). Writes metrics.json, the checkpoint acml_<modality>.pt "
                    "(acml_joint.pt for several modalities), test_embeddings.npz and "
                    "failures.csv to OUT.",
        examples=["acml pretrain --modality nmr_13c --data "
                  "deepchem_acml/datasets/nmrshiftdb2_13c_demo.csv.gz --epochs 5 --out runs/13c",
                  "acml pretrain --modality smiles --encoder roberta --out runs/smiles",
                  "acml pretrain --modality nmr_13c nmr_1h ms_lc --out runs/joint"],
        parents=[own, data_size_options(), training_options(PRETRAIN_DEFAULTS)])
    parser.set_defaults(run=run)


def encoder_options(args: argparse.Namespace, modalities: List[str]) -> Dict[str, Any]:
    """The frozen encoder's options from the command line, each checked against the
    modalities it is for (in joint training ``--encoder`` is the SMILES encoder's)."""
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF

    one_ms = len(modalities) == 1 and modalities[0] in MASSBANK_KIND_OF
    options = {"checkpoint": args.encoder_checkpoint}
    if args.encoder is not None:
        kinds = frozen_encoder_kinds()
        target = modalities[0] if len(modalities) == 1 else "smiles"
        if args.encoder not in kinds.get(target, ()):
            named = "; ".join(f"{name}: {', '.join(k)}" for name, k in kinds.items())
            raise SystemExit(f"--encoder {args.encoder} is not a frozen encoder of "
                             f"{' '.join(modalities)} (shipped: {named}; in joint training "
                             "--encoder names the smiles encoder)")
        options["encoder"] = args.encoder
    if args.all_spectra and not one_ms:
        raise SystemExit("--all-spectra is for one of ms_lc and ms_gc (MassBank)")
    return {k: v for k, v in options.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    modalities = list(dict.fromkeys(args.modality))
    options = encoder_options(args, modalities)
    if len(modalities) == 1:
        frame, source = read_data(modalities[0], args.data, args.max_molecules,
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


def read_data(modality: str, path: Optional[Path], max_molecules: Optional[int] = None,
               all_spectra: bool = False):
    """:func:`~deepchem_acml.data.pairs.read_pairs`, with an error naming ``--data`` and what
    it needs when the file is empty, has no rows or is not a table."""
    import pandas as pd

    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, read_pairs

    needs = "a header line with smiles" + (
        "" if MODALITY_INPUT_COLUMN.get(modality) == "smiles" else
        f" and {MODALITY_INPUT_COLUMN.get(modality, 'spectrum')}") + ", then one row per molecule"
    try:
        frame, source = read_pairs(modality, path, max_molecules, all_spectra=all_spectra)
    except pd.errors.EmptyDataError:
        raise ValueError(f"--data {path} is empty; a CSV needs {needs}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"--data {path} could not be read as a table ({err}); a CSV needs "
                         f"{needs}") from None
    if frame.empty:
        raise ValueError(f"--data {source} holds no molecules; a CSV needs {needs}; a spectrum "
                         "file, records with SMILES=")
    return frame, source


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
    merged: Any = None
    sources: List[str] = []
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
                    exclude: Optional[Path] = None, restart: bool = False) -> Dict[str, Any]:
    """Featurize, split by InChIKey, train, evaluate retrieval on the test split, write results.

    ``modality`` is one name (``frame`` has ``smiles`` and its input column) or several for
    joint training (``frame`` has a column per spectrum modality, NaN where missing, see
    :func:`joint_pairs`; ``modality_options`` then maps a name to its options).

    Writes to ``out``: ``metrics.json``, ``acml_<modality>.pt`` (``acml_joint.pt``),
    ``test_embeddings.npz``, ``failures.csv``, ``training_state.pt`` (the resumable state)
    and ``frozen_embeddings/`` (the frozen encoder's outputs, reused when the same command
    runs again). Returns the metrics. Launched by ``torchrun``, it trains data-parallel (see
    :mod:`deepchem_acml.distributed`); rank 0 alone prints and writes.

    A training state in ``out`` is continued only by the same run: same data, modalities,
    frozen encoders, ``exclude`` file and settings (:func:`run_identity`; ``epochs`` may
    grow). Another run's state is refused with a ``ValueError`` naming what differs, unless
    ``restart`` (then the old outputs are deleted and training starts over). A run that fails
    on its input removes the ``out`` folder it created.
    """
    from deepchem_acml import distributed
    from deepchem_acml.devices import resolve_device

    started = time.time()
    device = str(resolve_device(device))  # under torchrun: the local rank's GPU
    distributed.init_from_environment(device)
    run = PretrainingRun(Path(out), source, modality, distributed.is_main_process())
    model = run.build_model(modality_options, precision, hidden_dim=hidden_dim, norm=norm,
                            projection_dim=projection_dim, batch_size=batch_size,
                            temperature=temperature, distillation_weight=distillation_weight,
                            batching=batching, atom_features=atom_features,
                            learning_rate=learning_rate, seed=seed, backend=backend,
                            device=device)
    identity = run_identity(frame, model, precision, backend, exclude)
    run.check_previous_state(identity, restart)
    created = not run.out.exists()
    try:
        return _pretrain(run, model, frame, identity, epochs, batch_size, seed, pool_size,
                         checkpoint_every, exclude, started)
    except (ValueError, FileNotFoundError, SystemExit):
        if created:
            run.remove_unfinished()
        raise


def _pretrain(run: "PretrainingRun", model, frame, identity: Dict[str, Any], epochs: int,
              batch_size: int, seed: int, pool_size: int, checkpoint_every: int,
              exclude: Optional[Path], started: float) -> Dict[str, Any]:
    """The steps of :func:`run_pretraining` once the run may write to its folder."""
    run.out.mkdir(parents=True, exist_ok=True)
    kept, removed = run.select_molecules(frame, exclude)
    dataset, failures = run.build_pairs(model, kept, removed)
    train, valid, test = run.split(dataset, epochs, batch_size, seed)
    train_started = time.time()
    history = model.train(train, valid, nb_epoch=epochs, checkpoint_path=run.state_path,
                          checkpoint_every=checkpoint_every, progress=run.main_process,
                          run_identity=identity)
    training = training_summary(history, time.time() - train_started)
    reports, saved = run.report_retrieval(model, test, pool_size, seed)
    collapse, warnings = run.check_collapse(model, valid, reports)
    checkpoint = run.out / f"acml_{'joint' if run.joint else run.names[0]}.pt"
    model.save(checkpoint)
    if not run.main_process:
        return {}
    run.write_test_embeddings(model, test, kept, saved)
    metrics = {"warnings": warnings,
               "retrieval": reports if run.joint else reports[run.names[0]],
               "collapse": collapse,
               "data": run.data_summary(len(frame), dataset, failures, removed,
                                        (train, valid, test)),
               "training": training, "model": model.config(), "command": command_line(),
               **({"distillation_r2_test": model.distillation_r2(test)}
                  if model.hyperparameters.get("distillation_weight", 0) > 0 else {}),
               "versions": package_versions(),
               "seconds_total": round(time.time() - started, 1)}
    (run.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    run.say_summary(reports, checkpoint, metrics["seconds_total"], warnings)
    return metrics


#: the command-line option behind each entry of a run identity, for messages
IDENTITY_OPTIONS = {
    "data": "the data (--data, --max-molecules, --all-spectra)", "exclude": "--exclude",
    "modality": "--modality or its frozen encoder", "hidden_dim": "--hidden-dim",
    "projection_dim": "--projection-dim", "norm": "--norm", "atom_features": "--atom-features",
    "batch_size": "--batch-size", "temperature": "--temperature",
    "distillation_weight": "--distillation-weight", "batching": "--batching",
    "learning_rate": "--learning-rate", "seed": "--seed", "precision": "--precision",
    "backend": "--backend"}


def run_identity(frame, model, precision: str, backend: str,
                 exclude: Optional[Path] = None) -> Dict[str, Any]:
    """What makes a pretraining run this run, stored in its ``training_state.pt``: the data
    (row count and a content fingerprint of ``frame``), the ``exclude`` file's hash, the
    modalities with their frozen encoders, every hyperparameter of the model, the precision
    and the message-passing backend. Not the epoch count (a run may be continued to more
    epochs), the device, the checkpoint interval or the retrieval pool."""
    from deepchem_acml.data.smiles_files import file_sha256

    config = model.config()
    excluded = (None if exclude is None else
                {"sha256": file_sha256(exclude) if Path(exclude).is_file() else None})
    identity = {"data": {"n_rows": len(frame), "sha256": frame_fingerprint(frame)},
                "exclude": excluded,
                "modality": config.get("modality", config.get("modalities")),
                **config["hyperparameters"], "precision": precision, "backend": backend}
    return json.loads(json.dumps(identity, default=str))  # as it reads back from the state


def frame_fingerprint(frame) -> str:
    """SHA-256 over a frame's column names and every cell (as JSON text; arrays by value),
    row by row: another file, another row count or an edited cell gives another value."""
    import hashlib

    import pandas as pd

    def as_text(value: Any) -> str:
        return json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))

    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    if len(frame):
        cells = frame.apply(lambda column: column.map(as_text))
        digest.update(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def identity_message(stored: Optional[Dict[str, Any]], current: Dict[str, Any]) -> str:
    """What differs between two run identities, named by command-line option."""
    from deepchem_acml.models.training import identity_differences

    parts = []
    for item in identity_differences(stored, current):
        key, _, values = item.partition(" ")
        parts.append(f"{IDENTITY_OPTIONS.get(key, key)} {values}".strip())
    return "; ".join(parts)


#: the fewest molecules a split may have (a contrastive pair; a validation loss; a pool)
MIN_SPLIT_SIZE = 2


def set_aside_counts(reasons) -> str:
    """'none set aside', or the rows set aside counted by reason."""
    from deepchem_acml.featurizers.base import NO_SMILES

    if not len(reasons):
        return "none set aside"
    reasons = reasons.astype(str)
    groups = {"no SMILES": reasons == NO_SMILES,
              "RDKit could not parse the SMILES": reasons.str.startswith("RDKit"),
              "outside 3..50 heavy atoms": reasons.str.contains("heavy atoms")}
    counts = [f"{int(mask.sum())} {label}" for label, mask in groups.items() if mask.any()]
    return ("set aside: " + ", ".join(counts) + " (rows numbered from 0, the first data row or "
            "record; listed in failures.csv)")


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
        self.names: List[str] = [modality] if isinstance(modality, str) else list(modality)
        self.excluded: Dict[str, Any] = {}
        self.state_path = out / "training_state.pt"

    #: what a run writes in its folder besides the frozen-embedding cache
    OUTPUTS = ("training_state.pt", "metrics.json", "test_embeddings.npz", "failures.csv")

    def check_previous_state(self, identity: Dict[str, Any], restart: bool) -> None:
        """Refuse a training state in the folder that another run wrote (``restart``:
        delete it and the old run's outputs instead)."""
        from deepchem_acml.models.training import stored_run_identity

        if not self.state_path.exists():
            return
        if restart:
            if self.main_process:
                for path in [*(self.out / n for n in self.OUTPUTS), *self.out.glob("acml_*.pt")]:
                    path.unlink(missing_ok=True)
                self.say(f"--restart: removed the previous run's outputs from {self.out}")
            return
        stored = stored_run_identity(self.state_path)
        if stored != identity:
            raise ValueError(f"{self.out} holds the training state of another run (differing "
                             f"in {identity_message(stored, identity)}); add --restart to "
                             "start over, or use another --out")

    def remove_unfinished(self) -> None:
        """Remove the folder this run created, after a failure left nothing to resume."""
        import shutil

        if self.main_process and not self.state_path.exists():
            shutil.rmtree(self.out, ignore_errors=True)

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
        """Rows with InChIKeys, split into those kept (3..50 heavy atoms) and those set aside
        (no SMILES, SMILES RDKit cannot parse, too few or many atoms; each with its reason);
        rows sharing a skeleton with a molecule of ``exclude`` are dropped and counted. Both
        frames keep the input's row numbers as their index."""
        import pandas as pd

        from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
        from deepchem_acml.data.pairs import with_inchikeys
        from deepchem_acml.featurizers.base import NO_SMILES, lacks_smiles

        columns = self.input_columns()
        missing = {"smiles", *columns.values()} - set(frame.columns)
        if missing:
            raise ValueError(f"{self.source} lacks column(s) {sorted(missing)}; it needs smiles "
                             f"and {sorted(set(columns.values()))}")
        frame = frame.reset_index(drop=True)
        no_smiles = frame["smiles"].map(lacks_smiles)
        absent = frame[no_smiles].assign(reason=NO_SMILES)
        frame = with_inchikeys(frame[~no_smiles])
        if exclude is not None:
            skeletons = skeletons_in(exclude)
            leaves = frame["inchikey"].str.split("-").str[0].isin(skeletons)
            self.excluded = {"file": str(exclude), "n_skeletons": len(skeletons),
                             "n_excluded": int(leaves.sum())}
            self.say(f"Excluded {int(leaves.sum())} molecules sharing an InChIKey skeleton with "
                     f"{exclude} ({len(skeletons)} skeletons)")
            frame = frame[~leaves]
        kept, removed = heavy_atom_filter(frame)
        removed = pd.concat([absent, removed]).sort_index()
        self.say(f"Data: {len(frame) + len(absent)} molecules from the {self.source}; "
                 f"{set_aside_counts(removed.reason)}")
        return kept, removed

    def build_model(self, modality_options: Optional[Dict[str, Any]], precision: str,
                    device: Optional[str] = None, **architecture):
        """The model: one :class:`ACMLModel` over this run's modalities."""
        import torch

        from deepchem_acml import ACMLModel
        from deepchem_acml.modalities import get_modality
        from deepchem_acml.nn.gin import GIN_ARGUMENTS

        options = modality_options or {}
        if not self.joint:
            options = {self.names[0]: options}
        modalities = [get_modality(n, **options.get(n, {})) for n in self.names]
        encoder = {k: architecture.pop(k) for k in GIN_ARGUMENTS if k in architecture}
        return ACMLModel(modalities if self.joint else modalities[0], encoder=encoder,
                         precision=precision, device=torch.device(device) if device else None,
                         **architecture)

    def build_pairs(self, model, kept, removed):
        """The paired dataset (frozen embeddings cached under ``frozen_embeddings/``) and the
        rows that could not be used (written to ``failures.csv``)."""
        import os

        from deepchem_acml.featurizers.base import FeaturizationFailure, failure_rows

        started = time.time()
        inputs = {n: self.cells(kept[c], c) for n, c in self.input_columns().items()}
        cache = os.fspath(self.out / "frozen_embeddings") + os.sep
        with quiet_logger("deepchem_acml.models.pairing"):  # it counts the kept rows only
            dataset, failures = model.build_dataset(kept.smiles, inputs, ids=kept.inchikey,
                                                    embedding_cache=cache)
        # the featurizers number the kept rows; users see the rows of their input
        failures = [FeaturizationFailure(int(kept.index[f.index]), f.input, f.reason)
                    for f in failures]
        self.say(f"Featurized graphs and {', '.join(self.names)} inputs, frozen embeddings "
                 f"cached: {len(dataset)} molecules, {len(failures)} rows with unusable inputs "
                 f"({time.time() - started:.1f} s)")
        for failure in failures[:5]:
            self.say(f"  {failure}")
        table = failure_rows(failures + [FeaturizationFailure(int(i), row.smiles, row.reason)
                                         for i, row in removed.iterrows()])
        if self.main_process:
            table.to_csv(self.out / "failures.csv", index=False)
        return dataset, failures

    def cells(self, column, name: str) -> list:
        """A modality's inputs; with one spectrum modality an empty cell is an empty peak
        list (reported by the featurizer as such; with several it means the molecule lacks
        the modality)."""
        from deepchem_acml.featurizers.base import empty_cells_as_empty_text

        values = column.tolist()
        return values if self.joint or name == "smiles" else empty_cells_as_empty_text(values)

    def split(self, dataset, epochs: int, batch_size: int, seed: int):
        """Train / valid / test by InChIKey skeleton (80/10/10, always seed 0)."""
        from deepchem_acml.data.splits import inchikey_split

        indices = inchikey_split(list(dataset.ids), seed=0)
        train, valid, test = (dataset.select(idx) for idx in indices)
        sizes = f"{len(train)} train / {len(valid)} valid / {len(test)} test"
        self.say(f"Split by InChIKey skeleton: {sizes}; {epochs} epochs, batch {batch_size}, "
                 f"seed {seed}")
        for name, part in (("train", train), ("valid", valid), ("test", test)):
            if len(part) < MIN_SPLIT_SIZE:
                raise ValueError(
                    f"the {name} split is empty or too small ({sizes} of {len(dataset)} usable "
                    f"molecules); each split needs at least {MIN_SPLIT_SIZE} molecules (a "
                    "contrastive batch, a validation loss, a retrieval pool). The split puts "
                    "about 10 % of the InChIKey skeletons in valid and 10 % in test: give "
                    "--data with more molecules (or a larger --max-molecules)")
        return train, valid, test

    def check_collapse(self, model, valid, reports: Dict[str, Any]):
        """Per modality, the mean pairwise cosine of the graph projections on the validation
        split, and the warnings of :func:`~deepchem_acml.evaluation.retrieval.collapse_warnings`
        (printed, framed, after the run's summary; kept in ``metrics.json``)."""
        from deepchem_acml.evaluation.retrieval import (
            COLLAPSE_COSINE,
            collapse_warnings,
            mean_pairwise_cosine,
        )

        projection = model.predict(valid)
        if not self.joint:
            projection = projection[:, None]
        cosine, warnings = {}, []
        for m, name in enumerate(self.names):
            rows = np.flatnonzero(np.asarray(valid.w)[:, m] > 0)
            cosine[name] = mean_pairwise_cosine(projection[rows, m])
            warnings += collapse_warnings(cosine[name], reports[name],
                                          name if self.joint else "")
        return {"valid_graph_projection_mean_cosine": cosine if self.joint
                else cosine[self.names[0]], "threshold": COLLAPSE_COSINE}, warnings

    def report_retrieval(self, model, test, pool_size: int, seed: int):
        """Retrieval on the test split per modality, and the arrays ``test_embeddings.npz``
        keeps (joint: prefixed by the modality, with the test rows that have it)."""
        from deepchem_acml.evaluation.retrieval import format_retrieval_table, retrieval_report

        graph_projection = model.predict(test)
        if not self.joint:
            graph_projection = graph_projection[:, None]
        reports: Dict[str, Any] = {}
        saved: Dict[str, Any] = {}
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

    def write_test_embeddings(self, model, test, kept, saved: Dict[str, Any]) -> None:
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

    def say_summary(self, reports: Dict[str, Any], checkpoint: Path, seconds: float,
                    warnings: List[str]) -> None:
        for name, report in reports.items():
            top10 = report["pools"]["modality_to_graph"]["top10"]
            self.say(f"\n{name} → graph top-10 in pools of {report['pool_size']}: {top10:.3f} "
                     f"(chance {report['chance']['pools']['top10']:.3f})")
        self.say(f"Wrote metrics.json, {checkpoint.name}, test_embeddings.npz, failures.csv to "
                 f"{self.out} in {seconds:.0f} s.")
        say_warnings(warnings, self.say)


def say_warnings(warnings: List[str], say=print) -> None:
    """The collapse warnings again, framed, where the run's last lines are read."""
    if warnings:
        rule = "!" * 78
        say(rule)
        for warning in warnings:
            say(f"WARNING: {warning}")
        say(rule)
