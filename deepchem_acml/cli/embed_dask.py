"""``acml embed-dask``: embed a SMILES library partitioned over a Dask cluster."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deepchem_acml.chem import MAX_EMBEDDED_ATOMS
from deepchem_acml.shipped import DEFAULT_ENCODER


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "embed-dask", help="embed a Parquet/CSV SMILES library on a Dask cluster (one Parquet "
                           "part per input partition; resumable)",
        description="Read a SMILES library as dask.dataframe partitions, embed each on a Dask "
                    "worker with a pretrained ACML graph encoder and write OUT/embeddings/"
                    "part-NNNNNN.parquet (columns row and acml000...: every input row, NaN where "
                    "it failed) and OUT/failures/part-NNNNNN.csv (index, input, reason). A "
                    "rerun skips the partitions already written. Needs the 'distributed' "
                    "extra.")
    parser.add_argument("input", type=Path,
                        help="a .parquet file or folder, or a .csv / .csv.gz file, with a "
                             "SMILES column")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (e.g. tcp://host:8786); "
                             "default: a local cluster of --workers processes")
    parser.add_argument("--workers", type=int, default=None,
                        help="local cluster: worker processes, one thread each (default: "
                             "one per core)")
    parser.add_argument("--pretrained", default=DEFAULT_ENCODER,
                        help="shipped model name or ACML checkpoint path, readable by every "
                             "worker (default: %(default)s)")
    parser.add_argument("--smiles-column", default=None,
                        help="column with the SMILES (default: 'smiles', any case)")
    parser.add_argument("--blocksize", default="64MB",
                        help="bytes per partition of a plain CSV (default 64MB)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-atoms", type=int, default=MAX_EMBEDDED_ATOMS,
                        help="molecules with more heavy atoms are listed as failures; 0: no "
                             "limit")
    parser.add_argument("--restart", action="store_true",
                        help="embed again into --out even if it holds another run")
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
