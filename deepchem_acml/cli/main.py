"""The ``acml`` command line: demo, pretrain, pretrain-encoder, embed, embed-dask,
evaluate."""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from importlib import import_module
from typing import List, Optional

from deepchem_acml.cli.options import HelpFormatter
from deepchem_acml.logs import quiet_logger


class ImportPlugin(argparse.Action):
    """``--plugin MODULE``: imported as soon as it is read, so that what it registers (a
    modality) is known when the command's own options are checked."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            import_module(values)
        except ImportError as err:
            parser.error(f"--plugin {values}: cannot import it ({err}); the module must be "
                         "importable from this Python, e.g. installed or on PYTHONPATH")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])


def build_parser() -> argparse.ArgumentParser:
    from deepchem_acml.cli import demo, embed, embed_dask, evaluate, pretrain, pretrain_encoder

    parser = argparse.ArgumentParser(
        prog="acml", formatter_class=HelpFormatter,
        description="Asymmetric Contrastive Multimodal Learning for DeepChem. "
                    "`acml COMMAND --help` lists a command's options and their defaults.")
    parser.add_argument("--verbose", action="store_true",
                        help="show DeepChem's own log lines and this package's INFO lines")
    parser.add_argument("--plugin", action=ImportPlugin, metavar="MODULE",
                        help="import MODULE before the command reads its options, e.g. one "
                             "that registers a modality with deepchem_acml.register_modality, "
                             "which --modality then accepts; repeatable (default: none)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (demo, pretrain, pretrain_encoder, embed, embed_dask, evaluate):
        module.add_parser(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in argv
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # TensorFlow's C++ start-up lines, should DeepChem find TensorFlow installed
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # DeepChem logs a warning for every optional backend it cannot import (when a command
    # runs, or when its help reads the library's choices); users need none
    with contextlib.nullcontext() if verbose else quiet_logger("deepchem"):
        args = build_parser().parse_args(argv)
        try:
            return int(args.run(args) or 0)
        except (FileNotFoundError, ValueError) as err:
            print(f"acml {args.command}: error: {err}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
