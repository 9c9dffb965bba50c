"""``acml embed-dask``: embed a SMILES library partitioned over a Dask cluster."""
from __future__ import annotations

import argparse
import os
import sys

from deepchem_acml.cli.options import (
    add_command,
    embedding_options,
    library_options,
    pretrained_options,
)
from deepchem_acml.shipped import DEFAULT_ENCODER


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: "
                          "a local cluster of --workers processes)")
    own.add_argument("--workers", type=int, default=None, metavar="N",
                     help="local cluster: worker processes, one thread each (default: one per "
                          "core)")
    own.add_argument("--blocksize", default="64MB", metavar="BYTES",
                     help="bytes per partition of a plain CSV")
    parser = add_command(
        commands, "embed-dask", help="embed a Parquet/CSV SMILES library on a Dask cluster (one "
                                     "Parquet part per input partition; resumable)",
        description="Read a SMILES library as dask.dataframe partitions, embed each on a Dask "
                    "worker with a pretrained ACML graph encoder and write OUT/embeddings/"
                    "part-NNNNNN.parquet (columns row and acml000...: every input row, NaN "
                    "where it failed) and OUT/failures/part-NNNNNN.csv (row_0based, input, "
                    "reason). A rerun skips the partitions already written. Needs the "
                    "'distributed' extra (pip install 'deepchem-acml[distributed]').",
        examples=["acml embed-dask deepchem_acml/datasets/moleculenet/delaney-processed.csv "
                  "--out esol_embeddings --workers 2",
                  "acml embed-dask library/ --out library_embeddings --scheduler "
                  "tcp://scheduler:8786"],
        parents=[
            library_options(input_help="a .parquet file or a folder of them, or a .csv or "
                                       ".csv.gz file, with a SMILES column",
                            out_help="the output folder (embeddings/ and failures/ part "
                                     "files)"),
            pretrained_options(DEFAULT_ENCODER, more=", readable by every worker (default: "
                                                      "%(default)s)"),
            own, embedding_options(restart_help="embed again into --out even if it holds "
                                                "another run")])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Dask's own INFO lines (scheduler, nanny, workers) are for debugging clusters, not for
    # this command's user; set before distributed is imported so spawned workers inherit it
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    from deepchem_acml.cli.embed import check_pretrained
    from deepchem_acml.dask_embedding import embed_library, require_dask

    try:
        require_dask()
        check_pretrained(args.pretrained)
    except (ImportError, ValueError) as err:
        print(f"acml embed-dask: error: {err}", file=sys.stderr)
        return 2
    from distributed import Client, LocalCluster

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        summary = embed_library(args.input, args.out, args.pretrained, args.smiles_column,
                                client, args.blocksize, args.batch_size,
                                args.max_atoms or None, args.restart)
    except KeyboardInterrupt:
        print("\nacml embed-dask: interrupted; the partitions written are kept. Run the same "
              "command again to resume.", file=sys.stderr)
        return 130
    finally:
        client.close()
    print(f"Embedded {summary['n_embedded']} of {summary['n_rows']} rows "
          f"({summary['n_failed']} failed) in {summary['n_partitions']} partitions "
          f"({summary['n_skipped']} already written) -> {args.out}")
    return 0
