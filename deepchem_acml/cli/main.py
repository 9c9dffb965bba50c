"""The ``acml`` command line: demo, pretrain, pretrain-encoder, embed, embed-dask,
evaluate."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional


def _quiet_imports() -> None:
    # DeepChem logs a line for every optional backend it cannot import; users need none.
    for name in ("deepchem", "deepchem.models", "deepchem.feat", "deepchem.utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build_parser() -> argparse.ArgumentParser:
    from deepchem_acml.cli import demo, embed, embed_dask, evaluate, pretrain, pretrain_encoder

    parser = argparse.ArgumentParser(
        prog="acml", description="Asymmetric Contrastive Multimodal Learning for DeepChem.")
    parser.add_argument("--verbose", action="store_true", help="show DeepChem's own log lines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (demo, pretrain, pretrain_encoder, embed, embed_dask, evaluate):
        module.add_parser(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--verbose" not in argv:
        _quiet_imports()
    logging.basicConfig(level=logging.INFO if "--verbose" in argv else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"acml {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
