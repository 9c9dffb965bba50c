"""Reading SMILES from CSV, SMI and Parquet files (plain or gzipped) in bounded memory.

One reader defines what a *row* is, and everything else (counting, resuming, output row
numbers) uses it, so rows can never shift:

* CSV: the rows ``pandas.read_csv`` returns (blank lines skipped, quoted fields may span
  lines, a UTF-8 byte-order mark is ignored, CRLF line ends work); the SMILES column is
  ``smiles`` in any case unless named.
* SMI: one row per line that is not blank; the SMILES is the first whitespace-separated field
  (empty when the line starts with whitespace, so that row is reported, not shifted).
* Parquet: its rows.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, List, Optional

from deepchem_acml.files import open_text

INPUT_KINDS = {".csv": "csv", ".csv.gz": "csv", ".smi": "smi", ".smi.gz": "smi", ".txt": "smi",
               ".txt.gz": "smi", ".parquet": "parquet"}


def input_kind(path: Path) -> str:
    """``csv``, ``smi`` or ``parquet`` from the file name (clear error otherwise)."""
    name = Path(path).name.lower()
    for suffix, kind in INPUT_KINDS.items():
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path}: expected one of {', '.join(INPUT_KINDS)}")


def file_sha256(path: Path) -> str:
    """Content hash of a file (the bytes on disk), read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def smiles_column(columns: List[str], column: Optional[str], path: Path) -> str:
    """The SMILES column: ``column`` if given, else ``smiles`` in any case."""
    if column is None:
        matches = [c for c in columns if str(c).strip().lower() == "smiles"]
        if not matches:
            raise ValueError(f"{path} has no 'smiles' column (columns: {list(columns)}); "
                             "name it with --smiles-column")
        return matches[0]
    if column not in columns:
        raise ValueError(f"{path} has no column {column!r} (columns: {list(columns)})")
    return column


def _csv_chunks(path: Path, chunk_size: int, column: Optional[str]) -> Iterator[List[str]]:
    import pandas as pd

    try:
        with open_text(path) as handle:
            header = pd.read_csv(handle, nrows=0).columns.tolist()
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: a CSV needs a header line with a SMILES column") \
            from None
    column = smiles_column(header, column, path)
    with open_text(path) as handle:
        reader = pd.read_csv(handle, usecols=[column], chunksize=chunk_size, dtype=str,
                             keep_default_na=False)
        for frame in reader:
            yield frame[column].tolist()


def _smi_chunks(path: Path, chunk_size: int) -> Iterator[List[str]]:
    chunk: List[str] = []
    with open_text(path) as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            chunk.append("" if line[0].isspace() else line.split(None, 1)[0])
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _parquet_chunks(path: Path, chunk_size: int, column: Optional[str]) -> Iterator[List[str]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    column = smiles_column(parquet.schema_arrow.names, column, path)
    for batch in parquet.iter_batches(batch_size=chunk_size, columns=[column]):
        yield ["" if s is None else str(s) for s in batch.column(0).to_pylist()]


def iter_smiles_chunks(path: Path, chunk_size: int, column: Optional[str] = None,
                       skip_chunks: int = 0) -> Iterator[List[str]]:
    """Chunks of ``chunk_size`` SMILES (the last may be shorter), in file order, never
    holding more than one chunk; the first ``skip_chunks`` are read and dropped, so a resumed
    run sees exactly the rows it would have seen.

    Parameters
    ----------
    path : path-like
        A CSV, SMI or Parquet file (plain or gzipped).
    chunk_size : int
        Rows per chunk.
    column : str, optional
        The SMILES column (default: ``smiles`` in any case).
    skip_chunks : int, default=0
        Chunks read and dropped first (resuming).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = path.write_text("name,SMILES\\n\\na,CCO\\nb,CCN\\nc,CCC\\n")
    >>> list(iter_smiles_chunks(path, chunk_size=2))
    [['CCO', 'CCN'], ['CCC']]
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    path = Path(path)
    kind = input_kind(path)
    if kind == "csv":
        chunks = _csv_chunks(path, chunk_size, column)
    elif kind == "parquet":
        chunks = _rechunk(_parquet_chunks(path, chunk_size, column), chunk_size)
    else:
        chunks = _smi_chunks(path, chunk_size)
    for index, chunk in enumerate(chunks):
        if index >= skip_chunks:
            yield chunk


def _rechunk(parts: Iterator[List[str]], chunk_size: int) -> Iterator[List[str]]:
    """Exactly ``chunk_size`` rows per chunk whatever the parts' sizes (Parquet batches stop
    at row-group ends)."""
    buffer: List[str] = []
    for part in parts:
        buffer += part
        while len(buffer) >= chunk_size:
            yield buffer[:chunk_size]
            buffer = buffer[chunk_size:]
    if buffer:
        yield buffer


def count_rows(path: Path, column: Optional[str] = None) -> int:
    """Rows of a SMILES file, as :func:`iter_smiles_chunks` reads them (Parquet: from its
    metadata)."""
    path = Path(path)
    if input_kind(path) == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        smiles_column(parquet.schema_arrow.names, column, path)
        return parquet.metadata.num_rows
    return sum(len(chunk) for chunk in iter_smiles_chunks(path, 100_000, column))
