"""``acml embed``: stream a SMILES file of any size to ACML embeddings, in bounded memory."""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from deepchem_acml.chem import MAX_EMBEDDED_ATOMS
from deepchem_acml.cli.options import (
    add_command,
    device_options,
    embedding_options,
    library_constant,
    library_options,
    pretrained_options,
)
from deepchem_acml.data.smiles_files import count_rows, file_sha256, input_kind, iter_smiles_chunks
from deepchem_acml.featurizers.base import FAILURE_ROW_COLUMN
from deepchem_acml.files import atomic_path
from deepchem_acml.shipped import DEFAULT_ENCODER

FORMATS = ("npy", "parquet", "diskdataset")


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--format", default="npy", metavar="FORMAT",
                     choices=library_constant("deepchem_acml.cli.embed", "FORMATS"),
                     help="one of %(choices)s. npy: one float32 row per input row, NaN where "
                          "a row failed (row i = input i); parquet: a folder of part files "
                          "(read it with pandas.read_parquet(folder)), columns row and "
                          "acml000..., every input row, NaN where it failed; diskdataset: a "
                          "dc.data.DiskDataset (dc.data.DiskDataset(OUT) loads it) of the "
                          "rows that worked, in input order, ids = their SMILES, no tasks (y "
                          "and w have 0 columns); the rows left out are those in "
                          "OUT.failures.csv")
    own.add_argument("--chunk-size", type=int, default=20000, metavar="ROWS",
                     help="rows read, embedded and written at a time (memory stays bounded by "
                          "it; an interrupted run resumes after the last finished chunk)")
    own.add_argument("--jobs", type=int, default=1,
                     help="processes (-1: one per core); on the CPU each featurizes and embeds "
                          "with one thread, on a GPU they featurize for it")
    own.add_argument("--precision", default="fp32", metavar="PRECISION",
                     choices=library_constant("deepchem_acml.devices", "PRECISIONS"),
                     help="one of %(choices)s. fp32 is exact; bf16 runs the GIN's matrix "
                          "products in bfloat16, about twice as fast on CPUs with AVX512-BF16 "
                          "or AMX and on GPUs, embeddings within about 1%% of fp32's; fp16 "
                          "needs CUDA")
    parser = add_command(
        commands, "embed", help="stream SMILES (CSV, SMI or Parquet) to ACML embeddings (NumPy "
                                "memmap, Parquet or DiskDataset)",
        description="Embed every SMILES of a file in chunks with a pretrained ACML graph "
                    "encoder. Memory stays bounded by the chunk size; an interrupted run "
                    "started again with the same command continues after the last finished "
                    "chunk; rows that fail are listed in OUT.failures.csv (row_0based, input, "
                    "reason).",
        examples=["acml embed deepchem_acml/datasets/moleculenet/delaney-processed.csv "
                  "--out esol.npy",
                  "acml embed library.parquet --out library_embeddings --format parquet "
                  "--jobs -1"],
        parents=[
            library_options(input_help="a .csv or .parquet file with a SMILES column, or a .smi "
                                       "file; .csv.gz and .smi.gz are read as they are",
                            out_help="a .npy file (format npy) or a folder (parquet, "
                                     "diskdataset)"),
            pretrained_options(DEFAULT_ENCODER, more=" (default: %(default)s, the encoder "
                                                      "of every frozen-embedding face)"),
            own, device_options(),
            embedding_options(restart_help="embed again into --out even if it holds a run "
                                           "with another input or other settings")])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        summary = embed_file(args.input, args.out, args.format, args.pretrained,
                             args.smiles_column, args.chunk_size, args.batch_size, args.jobs,
                             restart=args.restart, max_atoms=args.max_atoms or None,
                             device=args.device, precision=args.precision)
    except OSError as err:  # the file system's word, on one line naming the path and option
        where = err.filename or args.out
        option = "input" if str(where) == str(args.input) else "--out"
        raise ValueError(f"cannot use {option} {where}: {err.strerror or err}") from None
    except MissingExtraError as err:
        print(f"acml embed: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: where it stopped and how to go on, no traceback
        print(f"\nacml embed: interrupted; {interrupted_progress(args.out)}. Run the same "
              "command again to resume.", file=sys.stderr)
        return 130
    print(f"Embedded {summary['n_embedded']} of {summary['n_rows']} rows "
          f"({summary['n_failed']} failed, listed in {summary['failures']}) -> {args.out}")
    return 0


class MissingExtraError(ImportError):
    """An optional dependency is not installed (the message says which extra installs it)."""


def interrupted_progress(out: Path) -> str:
    """What an interrupted run left: 'rows 0 to N of M are done in OUT' from its state."""
    state_path = Path(str(out) + ".state.json")
    try:
        state = json.loads(state_path.read_text())
        settings = state["settings"]
        done = min(state["chunks_done"] * settings["chunk_size"], settings["n_rows"])
    except (OSError, ValueError, KeyError):
        return "nothing was finished yet"
    return f"{done:,} of {settings['n_rows']:,} rows are done in {out}"


def check_options(fmt: str, chunk_size: int, batch_size: int, jobs: int) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    for name, value in (("--chunk-size", chunk_size), ("--batch-size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    if jobs == 0 or jobs < -1:
        raise ValueError(f"--jobs must be at least 1, or -1 for every core; got {jobs}")


def check_output_path(out: Path, fmt: str) -> None:
    """Refuse an output path the format cannot use, before anything is written."""
    if fmt == "npy" and out.is_dir():
        raise ValueError(f"--out {out} is a folder; the npy format writes one file "
                         "(e.g. --out embeddings.npy)")
    if fmt != "npy" and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; the {fmt} format writes a folder")
    for parent in [out.parent, *out.parent.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot use --out {out}: {parent} is a file, not a folder")
            break


def _featurize_chunk(smiles: List[str], jobs: int, max_atoms: Optional[int] = MAX_EMBEDDED_ATOMS,
                     atom_features: str = "hu"):
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer

    featurizer = GraphArrayFeaturizer(max_atoms=max_atoms, atom_features=atom_features)
    if jobs == 1 or len(smiles) < 2000:
        return featurizer.featurize_with_report(smiles)
    from joblib import Parallel, delayed

    from deepchem_acml.featurizers.base import FeaturizationResult

    n_jobs = os.cpu_count() if jobs < 0 else jobs
    bounds = np.linspace(0, len(smiles), n_jobs + 1).astype(int)
    featurize = featurizer.featurize_with_report
    parts = Parallel(n_jobs=n_jobs)(delayed(featurize)(smiles[a:b])
                                    for a, b in zip(bounds[:-1], bounds[1:]))
    return FeaturizationResult.joined(parts, bounds[:-1], len(smiles))


class EmbedRun:
    """The files of one ``acml embed`` output and its state: what was asked for (settings,
    with the input's content hash), how far it got, and the output's fingerprint after the
    last finished chunk, so a rerun resumes only onto the same, intact output."""

    def __init__(self, out: Path, fmt: str, settings: dict):
        self.out, self.fmt, self.settings = out, fmt, settings
        self.state_path = Path(str(out) + ".state.json")
        self.failures_path = Path(str(out) + ".failures.csv")

    def previous_state(self, restart: bool) -> Optional[dict]:
        """The state to resume from, or None to start over (after checking it may)."""
        if restart or not self.state_path.exists():
            return None
        previous = json.loads(self.state_path.read_text())
        if previous.get("settings") != self.settings:
            before = previous.get("settings", {})
            changed = sorted(k for k in {*self.settings, *before}
                             if before.get(k) != self.settings.get(k))
            what = ("the input file changed since" if "input_sha256" in changed
                    else f"other settings ({', '.join(changed)}) than")
            raise ValueError(f"{self.out} was made by a run with {what} this one; add "
                             "--restart to embed again into it, or choose another --out")
        if previous.get("output") != self.output_fingerprint() or not self.failures_path.exists():
            print(f"acml embed: {self.out} is missing or was changed after the last run; "
                  "starting over", file=sys.stderr)
            return None
        return previous

    def output_fingerprint(self) -> list:
        """(name, size, inode) of every output file, sorted: a removed, replaced or truncated
        output no longer matches (modification times are not used: writes through a memory
        map may update them late)."""
        if not self.out.exists():
            return []
        paths = [self.out] if self.out.is_file() else sorted(
            p for p in self.out.rglob("*") if p.is_file() and not p.name.startswith("."))
        return [[str(p.relative_to(self.out.parent)), p.stat().st_size, p.stat().st_ino]
                for p in paths]

    def start(self, n_rows: int, width: int) -> dict:
        """Fresh output: NaN rows (npy) or an empty folder, an empty failure list."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "npy":
            matrix = np.lib.format.open_memmap(self.out, mode="w+", dtype=np.float32,
                                               shape=(n_rows, width))
            matrix[:] = np.nan  # a row never written stays NaN, never zeros
            matrix.flush()
            del matrix
        else:
            if self.out.exists():
                shutil.rmtree(self.out)
            self.out.mkdir(parents=True)
        self.failures_path.write_text(f"{FAILURE_ROW_COLUMN},input,reason\n")
        state = {"settings": self.settings, "chunks_done": 0, "n_embedded": 0, "n_failed": 0,
                 "chunk_seconds": []}
        self.save(state)
        return state

    def save(self, state: dict) -> None:
        state["output"] = self.output_fingerprint()
        _write_json_atomically(self.state_path, state)


def embed_file(input_path: Path, out: Path, fmt: str = "npy", pretrained: str = DEFAULT_ENCODER,
               smiles_column: Optional[str] = None, chunk_size: int = 20000,
               batch_size: int = 512, jobs: int = 1, progress: bool = True,
               restart: bool = False, max_atoms: Optional[int] = MAX_EMBEDDED_ATOMS,
               device: Optional[str] = None, precision: str = "fp32") -> dict:
    """Stream ``input_path`` to embeddings at ``out``; resumable; returns a summary.

    Everything that can be checked is checked before anything is written: options, the
    model name, paths, the SMILES column, the row count and the input's content hash. A
    rerun of a finished or interrupted run continues only if the input, the settings and the
    output are unchanged (saying at which row it resumes); a changed input or settings are
    refused (``restart=True`` embeds again), a missing or altered output is rebuilt.
    """
    from tqdm import tqdm  # not tqdm.auto: it probes for Jupyter (0.2 s of start-up)

    from deepchem_acml.embedding import load_graph_encoder

    check_options(fmt, chunk_size, batch_size, jobs)
    check_pretrained(pretrained)
    input_path, out = Path(input_path), Path(out)
    if not input_path.is_file():
        raise FileNotFoundError(f"no input file at {input_path}")
    if input_kind(input_path) == "parquet" or fmt == "parquet":  # input_kind: a clear error
        _require_pyarrow()
    check_output_path(out, fmt)
    n_rows = count_rows(input_path, smiles_column)
    encoder = load_graph_encoder(pretrained, device=device)
    if precision == "fp16" and next(encoder.parameters()).device.type != "cuda":
        raise ValueError("--precision fp16 needs a CUDA device; use bf16 on the CPU")
    settings = {"input": str(input_path.resolve()), "input_sha256": file_sha256(input_path),
                "n_rows": n_rows, "format": fmt, "pretrained": str(pretrained),
                "smiles_column": smiles_column, "chunk_size": chunk_size,
                "max_atoms": max_atoms}
    if fmt == "diskdataset":  # shards written as DeepChem's own, at OUT (was OUT/dataset)
        settings["layout"] = 2
    if precision != "fp32":  # recorded only when used: fp32 runs of earlier versions resume
        settings["precision"] = precision
    run = EmbedRun(out, fmt, settings)
    state = run.previous_state(restart)
    if state is None:
        state = run.start(n_rows, encoder.hidden_dim)
    else:
        first = min(n_rows, state["chunks_done"] * chunk_size)
        _keep_failures_before(run.failures_path, first)
        if first < n_rows:
            print(f"acml embed: resuming at row {first:,} of {n_rows:,} ({out})",
                  file=sys.stderr)
    bar = tqdm(total=n_rows, initial=min(n_rows, state["chunks_done"] * chunk_size),
               desc="acml embed", unit="mol", disable=not progress)
    chunks = iter_smiles_chunks(input_path, chunk_size, smiles_column, state["chunks_done"])
    engine = _engine(encoder, pretrained, jobs, batch_size, max_atoms, precision)
    try:
        _embed_chunks(run, state, engine, chunks, encoder.hidden_dim, bar)
    except BaseException:
        engine.close(cancel=True)
        raise
    finally:
        bar.close()
    engine.close()
    if fmt == "diskdataset" and not (out / "metadata.csv.gzip").exists():
        _finish_disk_dataset(out, state["chunks_done"])
        run.save(state)
    return {"n_rows": n_rows, "n_embedded": state["n_embedded"], "n_failed": state["n_failed"],
            "failures": str(run.failures_path), "state": str(run.state_path)}


def check_pretrained(pretrained) -> None:
    """A clear error naming ``--pretrained`` (with the shipped names) for a model that is
    neither shipped nor a checkpoint file."""
    from deepchem_acml.shipped import checkpoint_file

    try:
        checkpoint_file(pretrained)
    except FileNotFoundError as err:
        raise ValueError(f"cannot use --pretrained {pretrained}: {err}") from None


def _embed_chunks(run: "EmbedRun", state: dict, engine, chunks, width: int, bar) -> None:
    """Embed and write each chunk, the next one queued before this one is collected (so
    worker processes never wait for the writing); the state is saved after every chunk."""
    chunk_size = run.settings["chunk_size"]
    pending = None
    chunk_started = time.perf_counter()
    for chunk_index, smiles in enumerate(chunks, start=state["chunks_done"]):
        handle = engine.submit(smiles)
        if pending is not None:
            chunk_started = _finish_chunk(run, state, engine, *pending, width, chunk_size,
                                          chunk_started, bar)
        pending = (chunk_index, smiles, handle)
    if pending is not None:
        _finish_chunk(run, state, engine, *pending, width, chunk_size, chunk_started, bar)


def _finish_chunk(run, state, engine, chunk_index, smiles, handle, width, chunk_size,
                  chunk_started, bar) -> float:
    embeddings, result = engine.result(handle)
    _write_chunk(run, smiles, chunk_index * chunk_size, chunk_index, embeddings, result, width)
    state["chunks_done"] = chunk_index + 1
    state["n_embedded"] += len(result.indices)
    state["n_failed"] += result.n_failed
    now = time.perf_counter()  # wall time of each chunk, reading included (for profiling)
    state["chunk_seconds"].append(round(now - chunk_started, 3))
    run.save(state)
    bar.update(len(smiles))
    return now


def _engine(encoder, pretrained, jobs: int, batch_size: int, max_atoms: Optional[int],
            precision: str = "fp32"):
    """Worker processes that featurize and embed (CPU, ``jobs`` > 1), or this process."""
    from deepchem_acml.embedding import (
        _PROCESS_ENCODERS,
        ProcessEmbedder,
        cpu_processes,
        keep_freed_memory_for_reuse,
        set_cpu_threads,
    )

    on_cpu = next(encoder.parameters()).device.type == "cpu"
    processes = cpu_processes(jobs) if on_cpu else 1
    keep_freed_memory_for_reuse()  # (before forking: the workers inherit it)
    if on_cpu:
        set_cpu_threads(processes)
    if processes == 1:  # on a GPU, ``jobs`` processes featurize for it
        return _InProcess(encoder, 1 if on_cpu else jobs, batch_size, max_atoms, precision)
    _PROCESS_ENCODERS[str(pretrained)] = encoder  # forked workers start with it loaded
    return ProcessEmbedder(pretrained, processes, batch_size, max_atoms, precision=precision)


class _InProcess:
    """Embedding in this process (the CPU with one process, or a GPU, for which ``jobs``
    processes featurize)."""

    def __init__(self, encoder, jobs: int, batch_size: int, max_atoms: Optional[int],
                 precision: str = "fp32"):
        self.encoder, self.jobs, self.batch_size = encoder, jobs, batch_size
        self.max_atoms, self.precision = max_atoms, precision

    def submit(self, smiles: List[str]) -> List[str]:
        return smiles

    def result(self, smiles: List[str]):
        from deepchem_acml.embedding import embed_graphs

        result = _featurize_chunk(smiles, self.jobs, self.max_atoms, self.encoder.atom_features)
        return (embed_graphs(self.encoder, result.features, self.batch_size,
                             precision=self.precision), result)

    def close(self, cancel: bool = False) -> None:
        pass


def _write_chunk(run: EmbedRun, smiles: List[str], start: int, chunk_index: int,
                 embeddings: np.ndarray, result, width: int) -> None:
    """Write one chunk's rows and its failures."""
    if run.fmt == "diskdataset":
        _write_shard(run.out, chunk_index, embeddings, [smiles[i] for i in result.indices])
    else:  # every input row, NaN where it failed
        block = np.full((len(smiles), width), np.nan, dtype=np.float32)
        block[result.indices] = embeddings
        if run.fmt == "npy":
            matrix = np.lib.format.open_memmap(run.out, mode="r+")
            matrix[start:start + len(smiles)] = block
            matrix.flush()
            del matrix
        else:
            _write_parquet_part(run.out, chunk_index, start, block)
    with open(run.failures_path, "a", newline="") as handle:
        csv.writer(handle).writerows((f.index + start, f.input, f.reason)
                                     for f in result.failures)


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtraError("Parquet input or output needs pyarrow: pip install "
                                "'deepchem-acml[parquet]'") from None


def _write_parquet_part(folder: Path, index: int, start: int, block: np.ndarray) -> None:
    """One part file per chunk (written whole, then renamed: a resumed run never sees half a
    part); ``pandas.read_parquet(folder)`` reads them in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepchem_acml.embedding import embedding_feature_names

    columns = {"row": pa.array(np.arange(start, start + len(block), dtype=np.int64))}
    columns.update({name: pa.array(block[:, j])
                    for j, name in enumerate(embedding_feature_names(block.shape[1]))})
    with atomic_path(folder / f"part-{index:06d}.parquet") as temporary:
        pq.write_table(pa.table(columns), temporary)


def _keep_failures_before(path: Path, first_unfinished_row: int) -> None:
    """Drop failure lines of the chunk that was being written when a run was interrupted."""
    import pandas as pd

    failures = pd.read_csv(path, dtype={"input": str}, keep_default_na=False)
    failures = failures.rename(columns={"index": FAILURE_ROW_COLUMN})  # (older runs' name)
    failures[failures[FAILURE_ROW_COLUMN] < first_unfinished_row].to_csv(path, index=False)


# DeepChem's own shard names and metadata: dc.data.DiskDataset(OUT) reads the folder as is
_SHARD_FIELDS = ("ids", "X", "y", "w")


def _write_shard(folder: Path, index: int, X: np.ndarray, smiles: List[str]) -> None:
    """One chunk as a DeepChem shard (none for a chunk without a single embedded row):
    ids = SMILES, y and w with no task columns."""
    if len(X) == 0:
        return
    arrays = {"ids": np.array(smiles), "X": X, "y": np.zeros((len(X), 0), np.float32),
              "w": np.zeros((len(X), 0), np.float32)}
    for field in _SHARD_FIELDS:
        with atomic_path(folder / f"shard-{index}-{field}.npy") as temporary:
            with open(temporary, "wb") as handle:  # np.save on a path would add '.npy'
                np.save(handle, arrays[field])


def _finish_disk_dataset(folder: Path, n_chunks: int) -> None:
    """DeepChem's metadata for the shards written (in chunk order), so that
    ``dc.data.DiskDataset(folder)`` loads them."""
    import deepchem as dc

    rows = []
    for i in range(n_chunks):
        names = [f"shard-{i}-{field}.npy" for field in _SHARD_FIELDS]
        if not (folder / names[0]).exists():
            continue  # a chunk in which every row failed
        shapes = [np.load(folder / name, mmap_mode="r").shape for name in names]
        rows.append(names + shapes)
    if not rows:  # no row at all: an empty dataset of the right width still loads
        raise ValueError(f"no row of the input could be embedded (see {folder}.failures.csv): "
                         "there is no dataset to write")
    dc.data.DiskDataset._save_metadata(dc.data.DiskDataset._construct_metadata(rows),
                                       str(folder), [])


def _write_json_atomically(path: Path, payload: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload))
