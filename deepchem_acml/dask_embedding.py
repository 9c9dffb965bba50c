"""Embedding a SMILES library partitioned over a Dask cluster (the ``distributed`` extra).

The library (Parquet files or a CSV) is read as ``dask.dataframe`` partitions; each partition
goes through :func:`~deepchem_acml.embedding.embed_smiles` on a worker (the encoder loaded
once per worker process) and is written as one Parquet part aligned with its input rows,
with a CSV of the rows that failed::

    OUT/_run.json                          what was asked for (checked on a rerun)
    OUT/embeddings/part-000000.parquet     row, acml000...: every input row (NaN: failed)
    OUT/failures/part-000000.csv           index, input, reason (index = input row)

A part is written whole and renamed (a worker that dies leaves nothing half-written), its
failure list before it, so an existing embeddings part means a finished partition: a rerun
with the same input and model skips it; a changed input, model or partitioning is refused
(``restart=True`` starts over). ``pandas.read_parquet(OUT / "embeddings")`` reads the result
in row order.

Any Dask cluster works: a ``LocalCluster`` (what the tests use), SLURM/PBS through
dask-jobqueue, Kubernetes through dask-kubernetes (``docs/distributed.md``). On GPUs run one
worker process per GPU, each seeing its own (``CUDA_VISIBLE_DEVICES``): a worker puts the
encoder on its GPU when it has one.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, List, Optional, Union

import numpy as np

from deepchem_acml.chem import MAX_EMBEDDED_ATOMS
from deepchem_acml.featurizers.base import FAILURE_ROW_COLUMN
from deepchem_acml.files import atomic_path
from deepchem_acml.shipped import DEFAULT_ENCODER

EMBEDDINGS, FAILURES, RUN_FILE = "embeddings", "failures", "_run.json"


def require_dask() -> None:
    """A one-line error naming the extra when Dask is not installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError("embedding on a Dask cluster needs dask and distributed: pip install "
                          "'deepchem-acml[distributed]'") from None


def read_library(path: Union[str, os.PathLike], smiles_column: Optional[str] = None,
                 blocksize: Union[str, int, None] = "64MB"):
    """The SMILES column of a Parquet file or folder, or of a CSV, as a one-column
    ``dask.dataframe`` (column ``smiles``; an empty or missing value stays a row, reported as
    a failure, never dropped).

    Parameters
    ----------
    path : path-like
        A ``.parquet`` file, a folder of them, or a ``.csv`` / ``.csv.gz`` file.
    smiles_column : str, optional
        The SMILES column (default: ``smiles`` in any case).
    blocksize : str or int, default="64MB"
        Bytes per partition of a plain CSV (a gzipped CSV is one partition: gzip cannot be
        split; Parquet partitions follow its files and row groups).

    Returns
    -------
    dask.dataframe.DataFrame
        One column, ``smiles``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "library.csv"
    >>> _ = path.write_text("name,SMILES\\na,CCO\\nb,\\nc,c1ccccc1\\n")
    >>> frame = read_library(path)
    >>> list(frame.columns), frame.compute()["smiles"].tolist()
    (['smiles'], ['CCO', '', 'c1ccccc1'])
    """
    import dask.dataframe as dd

    from deepchem_acml.data.smiles_files import smiles_column as find_column

    path = Path(path)
    name = path.name.lower()
    if path.is_dir() or name.endswith(".parquet"):
        import pyarrow.parquet as pq

        first = path if path.is_file() else min(path.rglob("*.parquet"), default=None)
        if first is None:
            raise ValueError(f"{path} holds no .parquet file")
        schema = pq.read_schema(first)
        column = find_column(schema.names, smiles_column, path)
        # one partition per row group: Dask's default merges the row groups of a small file
        # into one partition, which leaves every worker but one idle
        frame = dd.read_parquet(str(path), columns=[column], split_row_groups=True)
    elif name.endswith((".csv", ".csv.gz")):
        import pandas as pd

        header = pd.read_csv(path, nrows=0).columns.tolist()
        column = find_column(header, smiles_column, path)
        frame = dd.read_csv(str(path), usecols=[column], dtype={column: str},
                            keep_default_na=False,
                            blocksize=None if name.endswith(".gz") else blocksize)
    else:
        raise ValueError(f"{path}: expected a .parquet file or folder, or a .csv / .csv.gz file")
    return frame.rename(columns={column: "smiles"})


def embed_library(path: Union[str, os.PathLike], out: Union[str, os.PathLike],
                  pretrained: str = DEFAULT_ENCODER, smiles_column: Optional[str] = None,
                  client: Any = None, blocksize: Union[str, int, None] = "64MB",
                  batch_size: int = 512, max_atoms: Optional[int] = MAX_EMBEDDED_ATOMS,
                  restart: bool = False) -> dict:
    """Embed every SMILES of a library on a Dask cluster, one output part per input
    partition; resumable (a rerun skips the partitions already written).

    Parameters
    ----------
    path : path-like
        Parquet file or folder, or CSV (:func:`read_library`).
    out : path-like
        The output folder (on a file system every worker can write to).
    pretrained : str, default="smiles_distilled"
        A shipped model name or a checkpoint path that every worker can read.
    smiles_column : str, optional
        The SMILES column (default: ``smiles`` in any case).
    client : distributed.Client, optional
        The cluster to run on (default: the current client, else Dask's default scheduler).
    blocksize : str or int, default="64MB"
        Bytes per partition of a plain CSV.
    batch_size : int, default=512
        Molecules per forward pass.
    max_atoms : int, optional
        Molecules with more heavy atoms are reported as failures (None: no limit).
    restart : bool, default=False
        Start over even if ``out`` holds a run with another input or settings.

    Returns
    -------
    dict
        ``n_rows``, ``n_embedded``, ``n_failed``, ``n_partitions``, ``n_skipped`` (partitions
        already written), ``out``.

    Examples
    --------
    Without a client, Dask's default scheduler runs the partitions in this process:

    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"smiles": ["CCO", "C1CC", "CCN"]}).to_parquet(folder / "lib.parquet")
    >>> summary = embed_library(folder / "lib.parquet", folder / "out")
    >>> summary["n_rows"], summary["n_failed"], summary["n_skipped"]
    (3, 1, 0)
    >>> pd.read_parquet(folder / "out" / "embeddings").shape
    (3, 129)
    >>> embed_library(folder / "lib.parquet", folder / "out")["n_skipped"]
    1
    """
    import dask

    from deepchem_acml.embedding import encoder_digest
    from deepchem_acml.shipped import checkpoint_file

    require_dask()
    checkpoint_file(pretrained)  # (a clear error for a name that is neither shipped nor a file)
    path, out = Path(path), Path(out)
    if not path.exists():
        raise FileNotFoundError(f"no input at {path}")
    frame = read_library(path, smiles_column, blocksize)
    partitions = frame.to_delayed()
    lengths = [int(n) for n in dask.compute(*[dask.delayed(len)(p) for p in partitions],
                                            **_scheduler(client))]
    settings = {"input": str(path.resolve()), "input_fingerprint": _fingerprint(path),
                "smiles_column": smiles_column, "blocksize": blocksize,
                "partition_rows": lengths, "pretrained": str(pretrained),
                "encoder_sha256": encoder_digest(pretrained), "max_atoms": max_atoms}
    _prepare_output(out, settings, restart)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(int).tolist()
    todo = [i for i in range(len(partitions)) if not _part_done(out, i, lengths[i])]
    tasks = [dask.delayed(_embed_partition)(partitions[i], i, starts[i], str(out),
                                            str(pretrained), batch_size, max_atoms)
             for i in todo]
    dask.compute(*tasks, **_scheduler(client))
    n_failed = sum(len(_read_failures(out, i)) for i in range(len(partitions)))
    return {"n_rows": int(sum(lengths)), "n_embedded": int(sum(lengths)) - n_failed,
            "n_failed": n_failed, "n_partitions": len(partitions),
            "n_skipped": len(partitions) - len(todo), "out": str(out)}


def _scheduler(client) -> dict:
    return {} if client is None else {"scheduler": client}


def _fingerprint(path: Path) -> List[list]:
    """(relative name, SHA-256) of the input file, or of every file of an input folder."""
    from deepchem_acml.data.smiles_files import file_sha256

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [[str(p.relative_to(path.parent)), file_sha256(p)] for p in files]


def _prepare_output(out: Path, settings: dict, restart: bool) -> None:
    """A fresh output folder, or the one of the same run to resume (a clear error for
    another run's, unless ``restart``)."""
    run_file = out / RUN_FILE
    if run_file.exists() and not restart:
        previous = json.loads(run_file.read_text())
        if previous == settings:
            return
        changed = sorted(k for k in settings if previous.get(k) != settings[k])
        what = ("the input changed since" if "input_fingerprint" in changed
                else f"other settings ({', '.join(changed)}) than")
        raise ValueError(f"{out} was made by a run with {what} this one; pass restart=True "
                         "(--restart) to embed again into it, or choose another output")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the output is a folder")
    if out.exists() and any(out.iterdir()):
        if not run_file.exists():  # never delete what another program put there
            raise ValueError(f"{out} holds files of no embedding run; choose an empty or new "
                             "folder")
        shutil.rmtree(out)
    (out / EMBEDDINGS).mkdir(parents=True)
    (out / FAILURES).mkdir()
    with atomic_path(run_file) as temporary:
        temporary.write_text(json.dumps(settings))


def _part_path(out: Path, index: int) -> Path:
    return out / EMBEDDINGS / f"part-{index:06d}.parquet"


def _failures_path(out: Path, index: int) -> Path:
    return out / FAILURES / f"part-{index:06d}.csv"


def _part_done(out: Path, index: int, n_rows: int) -> bool:
    """A partition is done when its part exists with its rows and its failure list too."""
    import pyarrow.parquet as pq

    part = _part_path(out, index)
    if not part.exists() or not _failures_path(out, index).exists():
        return False
    return pq.ParquetFile(part).metadata.num_rows == n_rows


def _read_failures(out: Path, index: int):
    import pandas as pd

    return pd.read_csv(_failures_path(out, index), dtype={"input": str}, keep_default_na=False)


def _embed_partition(frame, index: int, start: int, out: Union[str, Path], pretrained: str,
                     batch_size: int, max_atoms: Optional[int]) -> int:
    """On a worker: embed one partition with :func:`embed_smiles` and write its part (every
    row, NaN where it failed) after its failure list; returns the rows written."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepchem_acml.embedding import embed_smiles, embedding_feature_names

    encoder = _worker_encoder(pretrained)
    column = frame["smiles"].astype(object)  # pyarrow strings: a missing value is pd.NA
    smiles = column.where(column.notna(), None).tolist()  # reported as "input is None"
    embeddings, result = embed_smiles(encoder, smiles, batch_size, max_atoms=max_atoms)
    block = np.full((len(smiles), encoder.hidden_dim), np.nan, dtype=np.float32)
    block[result.indices] = embeddings
    out = Path(out)
    with atomic_path(_failures_path(out, index)) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([FAILURE_ROW_COLUMN, "input", "reason"])
            writer.writerows((f.index + start, f.input, f.reason) for f in result.failures)
    columns = {"row": pa.array(np.arange(start, start + len(smiles), dtype=np.int64))}
    columns.update({name: pa.array(block[:, j])
                    for j, name in enumerate(embedding_feature_names(block.shape[1]))})
    with atomic_path(_part_path(out, index)) as temporary:
        pq.write_table(pa.table(columns), temporary)
    return len(smiles)


_WORKER_ENCODERS: dict = {}
_WORKER_READY = False


def _worker_encoder(pretrained: str):
    """The encoder, loaded once per worker process, on its GPU when it has one; the worker
    process set up for embedding the first time a task asks (one torch thread on the CPU:
    run one worker process per core)."""
    if not _WORKER_READY and _in_dask_worker():  # never the caller's process
        _prepare_worker()
    if pretrained not in _WORKER_ENCODERS:
        from deepchem_acml.embedding import load_graph_encoder

        _WORKER_ENCODERS[pretrained] = load_graph_encoder(pretrained)
    return _WORKER_ENCODERS[pretrained]


def _prepare_worker() -> None:
    import torch

    from deepchem_acml.embedding import keep_freed_memory_for_reuse, set_cpu_threads

    global _WORKER_READY
    keep_freed_memory_for_reuse()  # (Dask's MALLOC_TRIM_THRESHOLD_ halves the GIN's speed)
    if not torch.cuda.is_available():
        set_cpu_threads(1)
    _WORKER_READY = True


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False
