"""What the ``acml`` commands share: one help layout (every option's default shown, examples
as written), choices read from the library when they are needed, old spellings kept for one
release, and the parent parsers of the options several commands take (one spelling per
concept).

Nothing here imports torch or DeepChem: ``acml --help`` builds every command's parser, and
the library's names (registered modalities, norms, precisions) are read only when a value is
checked or a command's help is printed.
"""
from __future__ import annotations

import argparse
import copy
import sys
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Sequence


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions wrapped, indented lines (the examples) as written; each option's help ends
    with its default; the old spellings of a renamed option are left out (they still work,
    with a warning)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line if line.startswith(" ") or not line.strip()
                         else super(HelpFormatter, self)._fill_text(line, width, indent)
                         for line in text.splitlines())

    def _get_help_string(self, action: argparse.Action) -> str:
        return (action.help or "") + default_note(action).replace("%", "%%")

    def _format_action_invocation(self, action: argparse.Action) -> str:
        old = getattr(action, "old", ())
        if old:
            action = copy.copy(action)
            action.option_strings = [s for s in action.option_strings if s not in old]
        return super()._format_action_invocation(action)


def takes_value(action: argparse.Action) -> bool:
    """An option given with a value (not a flag, not a positional argument, not hidden)."""
    return (bool(action.option_strings) and action.nargs != 0
            and action.help is not argparse.SUPPRESS)


def default_note(action: argparse.Action) -> str:
    """``" (default: X)"`` for an optional value whose help does not say its default itself.
    A ``None`` default gets no note: its help says what happens without the option (the
    tests hold every such help to naming its default)."""
    if (not takes_value(action) or action.required or action.default is None
            or action.default is argparse.SUPPRESS or "default" in (action.help or "")):
        return ""
    return f" (default: {default_text(action.default)})"


def default_text(value: Any) -> str:
    """A default as it is typed on the command line (a list as its words)."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


class LibraryNames:
    """Names the library defines (a registry, a constant), read each time they are needed,
    when a value is checked or help is printed, never when the parser is built: a modality
    registered before the command runs is accepted, and building the parser imports nothing
    heavy. Used as ``choices=`` (give a ``metavar``: argparse would otherwise spell the
    choices into the usage line while the parser is built).

    Parameters
    ----------
    read : callable
        ``read() -> iterable of str``.

    Examples
    --------
    >>> names = LibraryNames(lambda: ("layer", "batch"))
    >>> "batch" in names, list(names), str(names)
    (True, ['layer', 'batch'], 'layer, batch')
    """

    def __init__(self, read: Callable[[], Iterable[str]]):
        self._read = read

    def names(self) -> List[str]:
        return list(self._read())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, value: object) -> bool:
        return value in self.names()

    def __len__(self) -> int:
        return len(self.names())

    def __str__(self) -> str:
        return ", ".join(self.names())


def library_constant(module: str, name: str) -> LibraryNames:
    """The names of ``module.name`` (a tuple, or a dict's keys), read when needed.

    Examples
    --------
    >>> list(library_constant("deepchem_acml.cli.embed", "FORMATS"))
    ['npy', 'parquet', 'diskdataset']
    """
    return LibraryNames(lambda: list(getattr(import_module(module), name)))


def registered_modalities() -> List[str]:
    """The modality registry's names now (built-in ones and any registered since)."""
    return list(import_module("deepchem_acml.modalities").available_modalities())


MODALITIES = LibraryNames(registered_modalities)


def registered_modality(name: str) -> str:
    """``--modality``'s type: a name in the modality registry now, else an error that says
    how a modality of one's own gets there."""
    if name not in MODALITIES:
        raise argparse.ArgumentTypeError(
            f"no modality named {name!r}; registered: {MODALITIES}. Register your own with "
            "deepchem_acml.register_modality in a module, and load it with acml --plugin "
            "MODULE")
    return name


class Renamed(argparse._StoreAction):
    """An option that still accepts its ``old`` spellings for one release: each use prints a
    one-line deprecation warning on stderr; ``--help`` shows only the current spelling."""

    def __init__(self, option_strings: Sequence[str], dest: str, old: Sequence[str] = (),
                 **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.old = tuple(old)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if option_string in self.old:
            print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed "
                  f"in the next release; use {self.option_strings[0]}", file=sys.stderr)
        super().__call__(parser, namespace, values, option_string)


def add_renamed(parser: argparse.ArgumentParser, name: str, *old: str,
                **kwargs: Any) -> argparse.Action:
    """Add option ``name``, also accepted (deprecated) as each of ``old``."""
    return parser.add_argument(name, *old, action=Renamed, old=old, **kwargs)


def old_spellings(parser: argparse.ArgumentParser) -> Dict[str, str]:
    """``{old spelling: current spelling}`` of a parser's renamed options."""
    return {old: action.option_strings[0] for action in parser._actions
            for old in getattr(action, "old", ())}


def add_command(commands, name: str, help: str, description: str, examples: List[str],
                parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
    """A subcommand's parser with the shared help layout and its examples (shown after the
    options, and kept as ``parser.examples`` for the documentation page)."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    parser = commands.add_parser(name, help=help, description=description, epilog=epilog,
                                 parents=list(parents), formatter_class=HelpFormatter)
    parser.examples = list(examples)
    return parser


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


# --- parent parsers: one spelling, one help line per concept ---------------------------------


def device_options() -> argparse.ArgumentParser:
    """``--device``, as every command that runs a network takes it."""
    parent = _parent()
    parent.add_argument("--device", default=None, metavar="DEVICE",
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: the GPU when there "
                             "is one, else the CPU)")
    return parent


def seed_options(default: int = 0,
                 what: str = "initial weights, batch order") -> argparse.ArgumentParser:
    """``--seed``: the seed of the random choices a command makes (``what``, for its help)."""
    parent = _parent()
    parent.add_argument("--seed", type=int, default=default, help=f"random seed ({what})")
    return parent


def data_size_options() -> argparse.ArgumentParser:
    """``--max-molecules``: a quick run on the start of the data."""
    parent = _parent()
    parent.add_argument("--max-molecules", type=int, default=None, metavar="N",
                        help="use only the first N molecules of the data, for quick runs "
                             "(default: all)")
    return parent


def fitting_options(epochs: int, batch_size: int,
                    learning_rate: float) -> argparse.ArgumentParser:
    """``--epochs``, ``--batch-size``, ``--learning-rate``: every training command's
    optimisation options, with that command's defaults."""
    parent = _parent()
    parent.add_argument("--epochs", type=int, default=epochs,
                        help="passes over the training data")
    parent.add_argument("--batch-size", type=int, default=batch_size,
                        help="molecules per training batch")
    parent.add_argument("--learning-rate", type=float, default=learning_rate,
                        help="Adam learning rate")
    return parent


def pool_options() -> argparse.ArgumentParser:
    """``--pool-size``: the retrieval protocol's candidate pools."""
    parent = _parent()
    parent.add_argument("--pool-size", type=int, default=128,
                        help="retrieval candidates per pool (the ACML paper's protocol)")
    return parent


def pretrained_options(default: Any = None, required: bool = False, more: str = "",
                       old: Sequence[str] = ()) -> argparse.ArgumentParser:
    """``--pretrained``: the ACML model to read, a shipped name or a checkpoint file;
    ``more``: what the command adds to its help; ``old``: the command's old spellings."""
    from deepchem_acml.shipped import shipped_names

    parent = _parent()
    add_renamed(parent, "--pretrained", *old, default=default, required=required,
                metavar="MODEL",
                help=f"a shipped ACML model ({', '.join(shipped_names())}) or the path of a "
                     f"checkpoint written by acml pretrain or acml demo (acml_*.pt){more}")
    return parent


def library_options(input_help: str, out_help: str) -> argparse.ArgumentParser:
    """The library to embed and where to write (``acml embed``, ``acml embed-dask``)."""
    parent = _parent()
    parent.add_argument("input", type=Path, metavar="INPUT", help=input_help)
    parent.add_argument("--out", type=Path, required=True, metavar="OUT", help=out_help)
    parent.add_argument("--smiles-column", default=None, metavar="NAME",
                        help="the column with the SMILES (default: the column named smiles, in "
                             "any case)")
    return parent


def embedding_options(restart_help: str) -> argparse.ArgumentParser:
    """How the embedding commands run: batch, which molecules, starting over."""
    from deepchem_acml.chem import MAX_EMBEDDED_ATOMS

    parent = _parent()
    parent.add_argument("--batch-size", type=int, default=512,
                        help="molecules per forward pass of the encoder")
    parent.add_argument("--max-atoms", type=int, default=MAX_EMBEDDED_ATOMS, metavar="N",
                        help="molecules with more heavy atoms are listed as failures, not "
                             "embedded (outside the encoders' training range); 0: no limit")
    parent.add_argument("--restart", action="store_true", help=restart_help)
    return parent
