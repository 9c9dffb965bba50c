"""Cross-modal retrieval: top-k accuracy and mean reciprocal rank, in pools and in full.

Row i of the graph embeddings and row i of the modality embeddings are the same molecule.
A query's rank is counted pessimistically: every candidate scoring at least as high as the
right one (itself included) is ranked before it, so tied or constant embeddings never score
well by accident.
"""
from __future__ import annotations

from typing import Dict, Iterable, Sequence

import numpy as np

DEFAULT_KS = (1, 2, 3, 5, 10, 20)
DIRECTIONS = {"modality_to_graph": "modality → graph", "graph_to_modality": "graph → modality"}


#: queries scored at once: memory stays near ``RANK_BLOCK × n`` floats (a 50k-molecule test
#: split scored all at once needs a 10 GB similarity matrix, and was killed for memory)
RANK_BLOCK = 2048


def ranks_of_matches(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """1-based rank of candidate i for query i under dot-product similarity (ties count
    against the match), computed :data:`RANK_BLOCK` queries at a time."""
    queries, candidates = _check_pair(queries, candidates)
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), RANK_BLOCK):
        block = queries[start:start + RANK_BLOCK]
        scores = block @ candidates.T
        # (the match's score read from the same product: a separately summed dot product
        # rounds differently and would break ties)
        correct = scores[np.arange(len(block)), start + np.arange(len(block))]
        ranks[start:start + len(block)] = (scores >= correct[:, None]).sum(axis=1)
    return ranks


def summarize_ranks(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> Dict[str, float]:
    """Top-k accuracies (``top1``...) and mean reciprocal rank (``mrr``) from ranks."""
    ranks = np.asarray(ranks)
    summary = {f"top{k}": float(np.mean(ranks <= k)) for k in ks}
    summary["mrr"] = float(np.mean(1.0 / ranks))
    return summary


def retrieval_full(graph: np.ndarray, modality: np.ndarray,
                   ks: Sequence[int] = DEFAULT_KS) -> Dict[str, Dict[str, float]]:
    """Each query against every candidate of the set, both directions."""
    return {"modality_to_graph": summarize_ranks(ranks_of_matches(modality, graph), ks),
            "graph_to_modality": summarize_ranks(ranks_of_matches(graph, modality), ks)}


def retrieval_in_pools(graph: np.ndarray, modality: np.ndarray, pool_size: int = 128,
                       n_draws: int = 10, seed: int = 0, ks: Sequence[int] = DEFAULT_KS,
                       ) -> Dict[str, Dict[str, float]]:
    """The paper's protocol: shuffle, cut into pools of ``pool_size``, rank within each pool.

    Repeated over ``n_draws`` shuffles; the molecules left over after the last full pool of a
    draw are not queried in that draw (they are in others). With fewer molecules than
    ``pool_size``, the single pool is the whole set.
    """
    graph, modality = _check_pair(graph, modality)
    ranks: Dict[str, list] = {direction: [] for direction in DIRECTIONS}
    for pool in random_pools(len(graph), pool_size, n_draws, seed):
        ranks["modality_to_graph"].append(ranks_of_matches(modality[pool], graph[pool]))
        ranks["graph_to_modality"].append(ranks_of_matches(graph[pool], modality[pool]))
    return {direction: summarize_ranks(np.concatenate(r), ks) for direction, r in ranks.items()}


def random_pools(n: int, pool_size: int = 128, n_draws: int = 10, seed: int = 0):
    """The pools of :func:`retrieval_in_pools` (index arrays), so that a baseline ranked in
    the same pools sees exactly the same candidates.

    Examples
    --------
    >>> [len(pool) for pool in random_pools(10, pool_size=4, n_draws=2)]
    [4, 4, 4, 4]
    """
    size = min(pool_size, n)
    rng = np.random.default_rng(seed)
    for _ in range(n_draws):
        order = rng.permutation(n)
        for start in range(0, n - size + 1, size):
            yield order[start:start + size]


def retrieval_report(graph: np.ndarray, modality: np.ndarray, pool_size: int = 128,
                     n_draws: int = 10, seed: int = 0, ks: Sequence[int] = DEFAULT_KS) -> Dict:
    """Pools and full-set retrieval with the chance levels, as one JSON-ready dict."""
    n = len(graph)
    size = min(pool_size, n)
    return {
        "n_molecules": n,
        "pool_size": size,
        "n_draws": n_draws,
        "pools": retrieval_in_pools(graph, modality, pool_size, n_draws, seed, ks),
        "full": retrieval_full(graph, modality, ks),
        "chance": {"pools": {f"top{k}": min(k, size) / size for k in ks},
                   "full": {f"top{k}": min(k, n) / n for k in ks}},
    }


def format_retrieval_table(report: Dict, ks: Iterable[int] = DEFAULT_KS) -> str:
    """A plain-text table: one row per (protocol, direction), one column per k, plus MRR."""
    ks = list(ks)
    header = f"{'protocol':<22}{'direction':<20}" + "".join(f"{'top' + str(k):>8}" for k in ks) \
        + f"{'MRR':>8}"
    lines = [header, "-" * len(header)]
    protocols = (("pools", f"pools of {report['pool_size']}"),
                 ("full", f"all {report['n_molecules']}"))
    for key, label in protocols:
        for direction, direction_label in DIRECTIONS.items():
            row = report[key][direction]
            lines.append(f"{label:<22}{direction_label:<20}"
                         + "".join(f"{row[f'top{k}']:>8.3f}" for k in ks) + f"{row['mrr']:>8.3f}")
        chance = report["chance"][key]
        lines.append(f"{label:<22}{'chance':<20}"
                     + "".join(f"{chance[f'top{k}']:>8.3f}" for k in ks))
    return "\n".join(lines)


#: mean pairwise cosine of graph projections above which a model counts as collapsed (every
#: molecule mapped to nearly the same direction: retrieval can only be chance)
COLLAPSE_COSINE = 0.99


def mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean cosine similarity over all pairs of distinct rows (NaN for fewer than two rows;
    an all-zero row counts as orthogonal to everything), in O(N D).

    Examples
    --------
    >>> round(mean_pairwise_cosine(np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.001]])), 3)
    1.0
    >>> mean_pairwise_cosine(np.array([[1.0, 0.0], [0.0, 1.0]]))
    0.0
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n < 2:
        return float("nan")
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    total = unit.sum(axis=0)
    return float((total @ total - (unit * unit).sum()) / (n * (n - 1)))


def collapse_warnings(mean_cosine: float, report: Dict, name: str = "") -> list:
    """Plain-language warnings for a collapsed model: graph projections that all point the
    same way (``mean_cosine`` above :data:`COLLAPSE_COSINE`), and retrieval (``report`` from
    :func:`retrieval_report`) no better than chance at every k in a direction.

    Examples
    --------
    >>> report = retrieval_report(np.ones((8, 4)), np.eye(8, 4), pool_size=8, n_draws=1)
    >>> [w.split(": ")[1] for w in collapse_warnings(1.0, report, "nmr_13c")[:2]]
    ['collapsed graph projections', 'retrieval at chance']
    """
    prefix = f"{name}: " if name else ""
    warnings = []
    if np.isfinite(mean_cosine) and mean_cosine > COLLAPSE_COSINE:
        warnings.append(f"{prefix}collapsed graph projections: their mean pairwise cosine on the "
                        f"validation split is {mean_cosine:.4f} (above {COLLAPSE_COSINE}), so "
                        "nearly every molecule maps to the same point")
    chance = report["chance"]["pools"]
    flat = [DIRECTIONS[d] for d, row in report["pools"].items()
            if all(row[k] <= chance[k] + 1e-9 for k in chance)]
    if flat:
        warnings.append(f"{prefix}retrieval at chance: {' and '.join(flat)} is no better than "
                        f"chance at every k in pools of {report['pool_size']} on the test split")
    if warnings:
        warnings.append(f"{prefix}this checkpoint's embeddings carry little information about "
                        "the molecules; train longer (--epochs) or on more molecules before "
                        "using them")
    return warnings


def _check_pair(a: np.ndarray, b: np.ndarray):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"embeddings must be two (N, D) arrays of the same shape, got "
                         f"{a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("no molecules to evaluate")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("embeddings contain NaN or infinity")
    return a, b
