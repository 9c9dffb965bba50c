"""Writing files so that a reader never sees half of one: the one implementation the package
uses for checkpoints, caches, state files, records and output parts."""
from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union


def open_text(path: Union[str, os.PathLike], errors: str = "strict") -> IO[str]:
    """A text stream of ``path`` in UTF-8 (a byte-order mark dropped; line ends kept as they
    are, for parsers that handle them), decompressed when the name ends in ``.gz``.
    ``errors="replace"`` for formats where one bad byte must not lose a file (spectra)."""
    path = Path(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", errors=errors, newline="")


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside ``path`` to write to; when the block ends without an error
    it is flushed to disk and renamed onto ``path`` (atomic on one file system), otherwise
    removed. The file gets the usual permissions (umask), not ``mkstemp``'s 0600.

    ``suffix`` ends the temporary name (``np.savez`` appends ``.npz`` unless the name ends
    so). Hidden (leading dot), so folder listings and globs skip it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "state.json"
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("{}")
    >>> target.read_text()
    '{}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
