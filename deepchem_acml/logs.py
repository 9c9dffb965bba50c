"""Library loggers held quiet while this package does work whose messages it reports itself."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator


@contextlib.contextmanager
def quiet_logger(name: str, level: int = logging.ERROR) -> Iterator[None]:
    """Hold logger ``name`` at ``level`` inside the block, then restore whatever level it had
    (the user's choice survives).

    Examples
    --------
    >>> import logging
    >>> with quiet_logger("deepchem"):
    ...     logging.getLogger("deepchem").level == logging.ERROR
    True
    """
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
