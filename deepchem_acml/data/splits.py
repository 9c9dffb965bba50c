"""Deterministic splits by molecule identity, so a molecule is never on both sides."""
from __future__ import annotations

import hashlib
from typing import Sequence, Tuple

import numpy as np


def inchikey_split(inchikeys: Sequence[str],
                   fractions: Tuple[float, float, float] = (0.8, 0.1, 0.1),
                   seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/valid/test indices from a hash of each InChIKey's connectivity block.

    Hashing the first 14 characters (the skeleton) puts all stereoisomers and charge states
    of a compound in the same split, and the split of a molecule does not depend on what else
    is in the data set: the same molecule lands in the same split in every data set and for
    every modality (for a fixed ``seed``).

    Examples
    --------
    >>> keys = ["BSYNRYMUTXBXSQ-UHFFFAOYSA-N"] * 2 + ["LFQSCWFLJHTTHZ-UHFFFAOYSA-N"]
    >>> train, valid, test = inchikey_split(keys)
    >>> sorted(np.concatenate([train, valid, test]).tolist())
    [0, 1, 2]
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        raise ValueError("fractions must be three non-negative numbers summing to 1, got "
                         f"{fractions}")
    positions = np.array([_unit_hash(str(key)[:14], seed) for key in inchikeys])
    cut_train, cut_valid = fractions[0], fractions[0] + fractions[1]
    indices = np.arange(len(positions))
    return (indices[positions < cut_train],
            indices[(positions >= cut_train) & (positions < cut_valid)],
            indices[positions >= cut_valid])


def _unit_hash(text: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64
