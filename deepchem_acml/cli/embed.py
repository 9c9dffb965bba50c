"""``acml embed``: stream a SMILES file of any size to ACML embeddings, in bounded memory."""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import time
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

FORMATS = ("npy", "parquet", "diskdataset")
INPUT_KINDS = {".csv": "csv", ".csv.gz": "csv", ".smi": "smi", ".smi.gz": "smi", ".txt": "smi",
               ".txt.gz": "smi", ".parquet": "parquet"}


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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    summary = embed_file(args.input, args.out, args.format, args.pretrained, args.smiles_column,
                         args.chunk_size, args.batch_size, args.jobs)
    print(f"Embedded {summary['n_embedded']} of {summary['n_rows']} rows "
          f"({summary['n_failed']} failed, listed in {summary['failures']}) -> {args.out}")
    return 0


def input_kind(path: Path) -> str:
    """``csv``, ``smi`` or ``parquet`` from the file name (clear error otherwise)."""
    name = path.name.lower()
    for suffix, kind in INPUT_KINDS.items():
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path}: expected one of {', '.join(INPUT_KINDS)}")


def _open(path: Path, mode: str = "rt"):
    """A file, decompressed as a stream when its name ends in .gz."""
    return gzip.open(path, mode) if path.name.lower().endswith(".gz") else open(path, mode)


def count_rows(path: Path) -> int:
    """Data rows of a CSV (header excluded), SMI or Parquet file, counted without parsing
    SMILES (gzip files are decompressed as a stream)."""
    kind = input_kind(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with _open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # last line without a newline
    return max(0, lines - (1 if kind == "csv" else 0))


def _smiles_column(columns: List[str], column: Optional[str], path: Path) -> str:
    if column is None:
        matches = [c for c in columns if c.lower() == "smiles"]
        if not matches:
            raise ValueError(f"{path} has no 'smiles' column (columns: {list(columns)}); "
                             "name it with --smiles-column")
        return matches[0]
    if column not in columns:
        raise ValueError(f"{path} has no column {column!r} (columns: {list(columns)})")
    return column


def iter_smiles_chunks(path: Path, chunk_size: int, column: Optional[str] = None,
                       skip_chunks: int = 0) -> Iterator[List[str]]:
    """Chunks of SMILES strings, in file order, never holding more than one chunk."""
    import pandas as pd

    kind = input_kind(path)
    skip_rows = skip_chunks * chunk_size
    if kind == "csv":
        column = _smiles_column(list(pd.read_csv(path, nrows=0).columns), column, path)
        reader = pd.read_csv(path, usecols=[column], chunksize=chunk_size, dtype=str,
                             keep_default_na=False, skiprows=range(1, 1 + skip_rows))
        for frame in reader:
            yield frame[column].tolist()
    elif kind == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        column = _smiles_column(parquet.schema_arrow.names, column, path)
        seen = 0
        for batch in parquet.iter_batches(batch_size=chunk_size, columns=[column]):
            if seen >= skip_rows:
                yield ["" if s is None else str(s) for s in batch.column(0).to_pylist()]
            seen += batch.num_rows
    else:
        with _open(path) as handle:
            chunk: List[str] = []
            for line_number, line in enumerate(handle):
                if line_number < skip_rows:
                    continue
                fields = line.split()
                chunk.append(fields[0] if fields else "")
                if len(chunk) == chunk_size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk


def _featurize_chunk(smiles: List[str], jobs: int):
    from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer

    if jobs == 1 or len(smiles) < 2000:
        return ACMLGraphFeaturizer().featurize_with_report(smiles)
    from joblib import Parallel, delayed

    from deepchem_acml.featurizers.base import FeaturizationResult

    n_jobs = os.cpu_count() if jobs < 0 else jobs
    bounds = np.linspace(0, len(smiles), n_jobs + 1).astype(int)
    parts = Parallel(n_jobs=n_jobs)(delayed(ACMLGraphFeaturizer().featurize_with_report)(
        smiles[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))
    features, indices, failures = [], [], []
    for start, part in zip(bounds[:-1], parts):
        features += part.features
        indices.append(part.indices + start)
        failures += [type(f)(f.index + start, f.input, f.reason) for f in part.failures]
    return FeaturizationResult(features, np.concatenate(indices), failures, len(smiles))


def embed_file(input_path: Path, out: Path, fmt: str = "npy", pretrained: str = "nmr_13c",
               smiles_column: Optional[str] = None, chunk_size: int = 20000,
               batch_size: int = 512, jobs: int = 1, progress: bool = True) -> dict:
    """Stream ``input_path`` to embeddings at ``out``; resumable; returns a summary."""
    from tqdm.auto import tqdm

    from deepchem_acml.embedding import embed_graphs, load_graph_encoder

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    input_path, out = Path(input_path), Path(out)
    if not input_path.is_file():
        raise FileNotFoundError(f"no input file at {input_path}")
    if input_kind(input_path) == "parquet" or fmt == "parquet":  # input_kind: a clear error
        _require_pyarrow()
    encoder = load_graph_encoder(pretrained)
    n_rows = count_rows(input_path)
    state_path = Path(str(out) + ".state.json")
    failures_path = Path(str(out) + ".failures.csv")
    settings = {"input": str(input_path.resolve()), "n_rows": n_rows, "format": fmt,
                "pretrained": str(pretrained), "chunk_size": chunk_size}
    state = {"settings": settings, "chunks_done": 0, "n_embedded": 0, "n_failed": 0}
    if state_path.exists():
        previous = json.loads(state_path.read_text())
        if previous["settings"] != settings:
            raise ValueError(f"{state_path} belongs to a run with other settings "
                             f"({previous['settings']}); remove it or choose another --out")
        state = previous
        _keep_failures_before(failures_path, state["chunks_done"] * chunk_size)
    else:
        failures_path.write_text("index,input,reason\n")
        if fmt == "npy":
            out.parent.mkdir(parents=True, exist_ok=True)
            np.lib.format.open_memmap(out, mode="w+", dtype=np.float32,
                                      shape=(n_rows, encoder.hidden_dim))
        else:
            out.mkdir(parents=True, exist_ok=True)
            for stale in out.glob("part-*.parquet"):  # a finished earlier run into this folder
                stale.unlink()
    bar = tqdm(total=n_rows, initial=min(n_rows, state["chunks_done"] * chunk_size),
               desc="acml embed", unit="mol", disable=not progress)
    chunks = iter_smiles_chunks(input_path, chunk_size, smiles_column, state["chunks_done"])
    state.setdefault("chunk_seconds", [])
    chunk_started = time.perf_counter()
    for chunk_index, smiles in enumerate(chunks, start=state["chunks_done"]):
        start = chunk_index * chunk_size
        result = _featurize_chunk(smiles, jobs)
        embeddings = embed_graphs(encoder, result.features, batch_size)
        if fmt == "diskdataset":
            _write_shard(out, chunk_index, embeddings, result.indices + start)
        else:  # every input row, NaN where it failed
            block = np.full((len(smiles), encoder.hidden_dim), np.nan, dtype=np.float32)
            block[result.indices] = embeddings
            if fmt == "npy":
                matrix = np.lib.format.open_memmap(out, mode="r+")
                matrix[start:start + len(smiles)] = block
                matrix.flush()
                del matrix
            else:
                _write_parquet_part(out, chunk_index, start, block)
        with open(failures_path, "a", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerows((f.index + start, f.input, f.reason) for f in result.failures)
        state["chunks_done"] = chunk_index + 1
        state["n_embedded"] += len(result.indices)
        state["n_failed"] += result.n_failed
        now = time.perf_counter()  # wall time of each chunk, reading included (for profiling)
        state["chunk_seconds"].append(round(now - chunk_started, 3))
        chunk_started = now
        _write_json_atomically(state_path, state)
        bar.update(len(smiles))
    bar.close()
    if fmt == "diskdataset":
        _finish_disk_dataset(out, state["chunks_done"])
    return {"n_rows": n_rows, "n_embedded": state["n_embedded"], "n_failed": state["n_failed"],
            "failures": str(failures_path), "state": str(state_path)}


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

    width = len(str(block.shape[1] - 1))
    columns = {"row": pa.array(np.arange(start, start + len(block), dtype=np.int64))}
    columns.update({f"e{j:0{width}d}": pa.array(block[:, j]) for j in range(block.shape[1])})
    final = folder / f"part-{index:06d}.parquet"
    temporary = folder / f".part-{index:06d}.parquet.tmp"
    pq.write_table(pa.table(columns), temporary)
    os.replace(temporary, final)


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
    temporary = Path(str(path) + ".tmp")
    temporary.write_text(json.dumps(payload))
    os.replace(temporary, path)
