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
from deepchem_acml.files import atomic_path
from deepchem_acml.data.smiles_files import (count_rows, file_sha256, input_kind,
                                             iter_smiles_chunks)

FORMATS = ("npy", "parquet", "diskdataset")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "embed", help="stream SMILES (CSV, SMI or Parquet) to ACML embeddings (NumPy memmap, "
                      "Parquet or DiskDataset)",
        description="Embed every SMILES of a file in chunks with a pretrained ACML graph "
                    "encoder. Memory stays bounded by the chunk size; an interrupted run "
                    "started again with the same command continues after the last finished "
                    "chunk; rows that fail are listed in OUT.failures.csv.")
    parser.add_argument("input", type=Path,
                        help=".csv or .parquet (with a SMILES column) or .smi file; .csv.gz "
                             "and .smi.gz are read as they are")
    parser.add_argument("--out", type=Path, required=True,
                        help="output: a .npy file (format npy) or a folder (parquet, "
                             "diskdataset)")
    parser.add_argument("--format", choices=FORMATS, default="npy",
                        help="npy: one float32 row per input row, NaN where a row failed "
                             "(row i = input i); parquet: a folder of part files (read it with "
                             "pandas.read_parquet(folder)), columns row and e000..., every "
                             "input row, NaN where it failed; diskdataset: dc.data.DiskDataset "
                             "shards of the rows that worked, ids = input row numbers")
    parser.add_argument("--pretrained", default="nmr_13c",
                        help="shipped model name or ACML checkpoint path")
    parser.add_argument("--smiles-column", default=None,
                        help="CSV column with the SMILES (default: 'smiles', any case)")
    parser.add_argument("--chunk-size", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes for featurization (-1: all cores)")
    parser.add_argument("--device", default=None,
                        help="torch device for the encoder (default: the GPU when there is one)")
    parser.add_argument("--max-atoms", type=int, default=MAX_EMBEDDED_ATOMS,
                        help="molecules with more heavy atoms are listed as failures, not "
                             "embedded (out of the encoders' range); 0: no limit")
    parser.add_argument("--restart", action="store_true",
                        help="embed again into --out even if it holds a run with another "
                             "input or other settings")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        summary = embed_file(args.input, args.out, args.format, args.pretrained,
                             args.smiles_column, args.chunk_size, args.batch_size, args.jobs,
                             restart=args.restart, max_atoms=args.max_atoms or None,
                             device=args.device)
    except OSError as err:  # the file system's word, on one line naming the path and option
        where = err.filename or args.out
        option = "input" if str(where) == str(args.input) else "--out"
        raise ValueError(f"cannot use {option} {where}: {err.strerror or err}") from None
    print(f"Embedded {summary['n_embedded']} of {summary['n_rows']} rows "
          f"({summary['n_failed']} failed, listed in {summary['failures']}) -> {args.out}")
    return 0


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
            changed = sorted(k for k in self.settings
                             if previous.get("settings", {}).get(k) != self.settings[k])
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
        self.failures_path.write_text("index,input,reason\n")
        state = {"settings": self.settings, "chunks_done": 0, "n_embedded": 0, "n_failed": 0,
                 "chunk_seconds": []}
        self.save(state)
        return state

    def save(self, state: dict) -> None:
        state["output"] = self.output_fingerprint()
        _write_json_atomically(self.state_path, state)


def embed_file(input_path: Path, out: Path, fmt: str = "npy", pretrained: str = "nmr_13c",
               smiles_column: Optional[str] = None, chunk_size: int = 20000,
               batch_size: int = 512, jobs: int = 1, progress: bool = True,
               restart: bool = False, max_atoms: Optional[int] = MAX_EMBEDDED_ATOMS,
               device: Optional[str] = None) -> dict:
    """Stream ``input_path`` to embeddings at ``out``; resumable; returns a summary.

    Everything that can be checked is checked before anything is written: options, paths,
    the SMILES column, the row count and the input's content hash. A rerun of a finished or
    interrupted run continues only if the input, the settings and the output are unchanged;
    a changed input or settings are refused (``restart=True`` embeds again), a missing or
    altered output is rebuilt.
    """
    from tqdm.auto import tqdm

    from deepchem_acml.embedding import load_graph_encoder

    check_options(fmt, chunk_size, batch_size, jobs)
    input_path, out = Path(input_path), Path(out)
    if not input_path.is_file():
        raise FileNotFoundError(f"no input file at {input_path}")
    if input_kind(input_path) == "parquet" or fmt == "parquet":  # input_kind: a clear error
        _require_pyarrow()
    check_output_path(out, fmt)
    n_rows = count_rows(input_path, smiles_column)
    encoder = load_graph_encoder(pretrained, device=device)
    run = EmbedRun(out, fmt, {
        "input": str(input_path.resolve()), "input_sha256": file_sha256(input_path),
        "n_rows": n_rows, "format": fmt, "pretrained": str(pretrained),
        "smiles_column": smiles_column, "chunk_size": chunk_size, "max_atoms": max_atoms})
    state = run.previous_state(restart)
    if state is None:
        state = run.start(n_rows, encoder.hidden_dim)
    else:
        _keep_failures_before(run.failures_path, state["chunks_done"] * chunk_size)
    bar = tqdm(total=n_rows, initial=min(n_rows, state["chunks_done"] * chunk_size),
               desc="acml embed", unit="mol", disable=not progress)
    chunks = iter_smiles_chunks(input_path, chunk_size, smiles_column, state["chunks_done"])
    chunk_started = time.perf_counter()
    for chunk_index, smiles in enumerate(chunks, start=state["chunks_done"]):
        result = _embed_chunk(run, encoder, smiles, chunk_index * chunk_size, chunk_index,
                              batch_size, jobs, max_atoms)
        state["chunks_done"] = chunk_index + 1
        state["n_embedded"] += len(result.indices)
        state["n_failed"] += result.n_failed
        now = time.perf_counter()  # wall time of each chunk, reading included (for profiling)
        state["chunk_seconds"].append(round(now - chunk_started, 3))
        chunk_started = now
        run.save(state)
        bar.update(len(smiles))
    bar.close()
    if fmt == "diskdataset" and not (out / "dataset").exists():
        _finish_disk_dataset(out, state["chunks_done"])
        run.save(state)
    return {"n_rows": n_rows, "n_embedded": state["n_embedded"], "n_failed": state["n_failed"],
            "failures": str(run.failures_path), "state": str(run.state_path)}


def _embed_chunk(run: EmbedRun, encoder, smiles: List[str], start: int, chunk_index: int,
                 batch_size: int, jobs: int, max_atoms: Optional[int]):
    """Featurize and embed one chunk, write its rows and its failures."""
    from deepchem_acml.embedding import embed_graphs, embed_smiles_in_processes

    on_cpu = next(encoder.parameters()).device.type == "cpu"
    if jobs != 1 and on_cpu and len(smiles) >= 2000:  # each process embeds its share
        embeddings, result = embed_smiles_in_processes(run.settings["pretrained"], smiles, jobs,
                                                       batch_size, max_atoms)
    else:  # one process, or a GPU: the workers only featurize
        result = _featurize_chunk(smiles, jobs, max_atoms, encoder.atom_features)
        embeddings = embed_graphs(encoder, result.features, batch_size)
    if run.fmt == "diskdataset":
        _write_shard(run.out, chunk_index, embeddings, result.indices + start)
    else:  # every input row, NaN where it failed
        block = np.full((len(smiles), encoder.hidden_dim), np.nan, dtype=np.float32)
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
    return result


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("Parquet input or output needs pyarrow: pip install "
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
    failures[failures["index"] < first_unfinished_row].to_csv(path, index=False)


def _write_shard(folder: Path, index: int, X: np.ndarray, ids: np.ndarray) -> None:
    np.save(folder / f"shard-{index:06d}-X.npy", X)
    np.save(folder / f"shard-{index:06d}-ids.npy", ids)


def _finish_disk_dataset(folder: Path, n_chunks: int) -> None:
    """Assemble the shards into a ``dc.data.DiskDataset`` under ``folder/dataset``."""
    import deepchem as dc

    def shards():
        for i in range(n_chunks):
            X = np.load(folder / f"shard-{i:06d}-X.npy")
            yield X, None, None, np.load(folder / f"shard-{i:06d}-ids.npy")

    dc.data.DiskDataset.create_dataset(shards(), data_dir=str(folder / "dataset"), tasks=[])
    for i in range(n_chunks):
        (folder / f"shard-{i:06d}-X.npy").unlink()
        (folder / f"shard-{i:06d}-ids.npy").unlink()


def _write_json_atomically(path: Path, payload: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload))
