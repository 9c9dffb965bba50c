"""The one-line rule every mass-spectrum retrieval result must beat: rank the candidate
molecules by how close their ``[M + adduct]`` mass is to the spectrum's precursor m/z.

Ranked in the same random pools as :func:`~deepchem_acml.evaluation.retrieval.retrieval_in_pools`;
candidates with the same mass (isomers) tie, and a tie is broken at random, so the rule gets
exactly the credit that mass alone can earn.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from deepchem_acml.evaluation.retrieval import DEFAULT_KS, random_pools, summarize_ranks

PROTON = 1.007276
#: m/z of an ion minus the neutral monoisotopic mass, for the adducts MassBank uses most
ADDUCT_SHIFTS = {"[M+H]+": PROTON, "[M-H]-": -PROTON, "[M+Na]+": 22.989218,
                 "[M+NH4]+": 18.033823, "[M+K]+": 38.963158, "[M]+": -0.000549,
                 "[M]-": 0.000549, "[M+H-H2O]+": PROTON - 18.010565,
                 "[M-H2O+H]+": PROTON - 18.010565}


def monoisotopic_masses(smiles: Sequence[str]) -> np.ndarray:
    """Exact (monoisotopic) masses; NaN where RDKit cannot parse a SMILES."""
    from rdkit.Chem.Descriptors import ExactMolWt

    from deepchem_acml.chem import mol_from_smiles

    masses = []
    for s in smiles:
        mol = mol_from_smiles(s)
        masses.append(ExactMolWt(mol) if mol is not None else np.nan)
    return np.asarray(masses, dtype=np.float64)


def adduct_shifts(adducts: Sequence[Optional[str]]) -> np.ndarray:
    """Ion m/z minus neutral mass for each adduct; an unknown one counts as ``[M+H]+``."""
    return np.asarray([ADDUCT_SHIFTS.get(a or "", PROTON) for a in adducts], dtype=np.float64)


def mass_errors(precursor_mz: np.ndarray, shifts: np.ndarray, masses: np.ndarray
                ) -> np.ndarray:
    """(queries, candidates): |precursor m/z of query i − (mass of candidate j + shift of
    query i's adduct)|."""
    return np.abs(precursor_mz[:, None] - (masses[None, :] + shifts[:, None]))


def mass_rule_ranks(precursor_mz: np.ndarray, shifts: np.ndarray, masses: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Rank (1 = first) of each query's own molecule among all candidates (row i of each
    array is one molecule), by |precursor − (mass + shift)|, ties broken at random."""
    error = mass_errors(precursor_mz, shifts, masses)
    own = np.diag(error)[:, None]
    better = (error < own - 1e-9).sum(axis=1)
    ties = (np.abs(error - own) <= 1e-9).sum(axis=1) - 1
    return 1 + better + rng.integers(0, ties + 1)


def mass_only_retrieval(precursor_mz: np.ndarray, adducts: Sequence[Optional[str]],
                        masses: np.ndarray, pool_size: int = 128, n_draws: int = 10,
                        seed: int = 0, ks: Sequence[int] = DEFAULT_KS) -> Dict[str, float]:
    """Top-k and MRR of the precursor-mass rule, spectrum → molecule, in the random pools of
    :func:`~deepchem_acml.evaluation.retrieval.retrieval_in_pools` (same seed, same pools).

    Parameters
    ----------
    precursor_mz : np.ndarray
        Each spectrum's precursor m/z.
    adducts : sequence of str
        Each spectrum's precursor type (``"[M+H]+"``, ...); an unknown one is taken as
        ``[M+H]+``.
    masses : np.ndarray
        Each spectrum's molecule's monoisotopic mass (:func:`monoisotopic_masses`).
    pool_size, n_draws, seed : int
        As in ``retrieval_in_pools``.
    ks : sequence of int
        The top-k cut-offs.

    Returns
    -------
    dict
        ``top1``, ``top5``, ... and ``mrr``.

    Examples
    --------
    >>> masses = np.array([100.0, 150.0, 150.0, 200.0])   # two isomers at 150
    >>> report = mass_only_retrieval(masses + PROTON, ["[M+H]+"] * 4, masses, pool_size=4,
    ...                              n_draws=200, ks=(1, 2))
    >>> abs(report["top1"] - 0.75) < 0.05, report["top2"]  # each isomer first half the time
    (True, 1.0)
    """
    precursor_mz = np.asarray(precursor_mz, dtype=np.float64)
    masses = np.asarray(masses, dtype=np.float64)
    shifts = adduct_shifts(adducts)
    rng = np.random.default_rng(seed + 1)
    ranks = [mass_rule_ranks(precursor_mz[pool], shifts[pool], masses[pool], rng)
             for pool in random_pools(len(masses), pool_size, n_draws, seed)]
    return summarize_ranks(np.concatenate(ranks), ks)


def mass_matched_retrieval(graph: np.ndarray, modality: np.ndarray, masses: np.ndarray,
                           window: float = 0.01, ks: Sequence[int] = DEFAULT_KS,
                           skeletons: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Modality → graph retrieval where mass cannot help: each query's candidates are the
    molecules of the set whose monoisotopic mass lies within ``window`` Da of its own
    molecule's (its isomers, at the default 0.01 Da), the protocol of spectrum-identification
    benchmarks such as MassSpecGym. Queries with no other candidate are left out.

    Parameters
    ----------
    graph, modality : np.ndarray
        Row i of each is molecule i (projections in the shared space).
    masses : np.ndarray
        Monoisotopic masses, row by row.
    window : float, default=0.01
        Half-width of the mass window in Da.
    ks : sequence of int
        The top-k cut-offs.
    skeletons : sequence of str, optional
        Each molecule's connectivity (the InChIKey's first block): candidates with the
        query's own skeleton (its stereoisomers, one graph for a 2-D model) are left out, so
        the pools hold constitutional isomers only.

    Returns
    -------
    dict
        ``top1``, ... ``mrr``, ``n_queries``, the mean ``pool_size`` and the ``chance`` of
        each top-k (a random ranking in the same pools).

    Examples
    --------
    >>> masses = np.array([100.0, 100.0, 150.0, 150.0, 150.0])
    >>> same = np.eye(5)                                   # a perfect model
    >>> mass_matched_retrieval(same, same, masses, ks=(1,))["top1"]
    1.0
    >>> round(mass_matched_retrieval(same, same, masses, ks=(1,))["chance"]["top1"], 2)
    0.4
    """
    masses = np.asarray(masses, dtype=np.float64)
    skeletons = None if skeletons is None else np.asarray(skeletons, dtype=object)
    ranks, sizes = [], []
    for i in range(len(masses)):
        near = np.abs(masses - masses[i]) <= window
        if skeletons is not None:
            near &= (skeletons != skeletons[i]) | (np.arange(len(masses)) == i)
        pool = np.flatnonzero(near)
        if len(pool) < 2:
            continue
        others = pool[pool != i]
        # dot-product similarity and ties counted against the query, as retrieval_in_pools
        own = float(graph[i] @ modality[i])
        ranks.append(1 + int((graph[others] @ modality[i] >= own).sum()))
        sizes.append(len(pool))
    if not ranks:
        return {"n_queries": 0}
    sizes = np.asarray(sizes)
    report = summarize_ranks(np.asarray(ranks), ks)
    report.update(n_queries=len(ranks), pool_size=float(sizes.mean()),
                  chance={f"top{k}": float(np.mean(np.minimum(k, sizes) / sizes)) for k in ks})
    return report


def model_among_equal_masses_ranks(error: np.ndarray, similarity: np.ndarray,
                                   rng: np.random.Generator, tolerance: float = 1e-3
                                   ) -> np.ndarray:
    """Rank (1 = first) of each query's own molecule under the mass rule, except that the
    candidates whose mass error equals the right molecule's (within ``tolerance``: its
    isomers) are ordered by the model's similarity; ties the model leaves (stereoisomers, one
    2-D graph) are broken at random, as the mass rule breaks its own."""
    own_error, own_similarity = np.diag(error)[:, None], np.diag(similarity)[:, None]
    equal = np.abs(error - own_error) <= tolerance
    closer = (error < own_error - tolerance).sum(axis=1)
    better = (equal & (similarity > own_similarity + 1e-9)).sum(axis=1)
    tied = (equal & (np.abs(similarity - own_similarity) <= 1e-9)).sum(axis=1)  # self too
    return 1 + closer + better + rng.integers(0, tied)


def mass_rule_then_model_retrieval(precursor_mz: np.ndarray, adducts: Sequence[Optional[str]],
                                   masses: np.ndarray, graph: np.ndarray, modality: np.ndarray,
                                   pool_size: int = 128, n_draws: int = 10, seed: int = 0,
                                   ks: Sequence[int] = DEFAULT_KS) -> Dict[str, float]:
    """The mass rule with the model deciding among the candidates of equal mass
    (:func:`model_among_equal_masses_ranks`), in the pools of :func:`mass_only_retrieval`:
    above the rule exactly where the model tells isomers apart better than chance.

    Examples
    --------
    >>> masses = np.array([100.0, 150.0, 150.0, 200.0])   # two isomers at 150
    >>> perfect = np.eye(4)
    >>> mass_rule_then_model_retrieval(masses + PROTON, ["[M+H]+"] * 4, masses, perfect,
    ...                                perfect, pool_size=4, n_draws=5, ks=(1,))["top1"]
    1.0
    """
    precursor_mz = np.asarray(precursor_mz, dtype=np.float64)
    masses, shifts = np.asarray(masses, dtype=np.float64), adduct_shifts(adducts)
    rng = np.random.default_rng(seed + 1)
    ranks = []
    for pool in random_pools(len(masses), pool_size, n_draws, seed):
        error = mass_errors(precursor_mz[pool], shifts[pool], masses[pool])
        ranks.append(model_among_equal_masses_ranks(error, modality[pool] @ graph[pool].T, rng))
    return summarize_ranks(np.concatenate(ranks), ks)


def mass_then_model_ranks(error: np.ndarray, similarity: np.ndarray, tolerance: float
                          ) -> np.ndarray:
    """Rank (1 = first) of each query's own molecule when the candidates within
    ``tolerance`` of the precursor come first, ordered by the model's similarity, and the
    rest follow in order of mass error (as the mass rule orders them). Ties are counted
    against the query, as in ``retrieval_in_pools``."""
    outside = error > tolerance
    own_outside = np.diag(outside)[:, None]
    own_similarity, own_error = np.diag(similarity)[:, None], np.diag(error)[:, None]
    inside_ahead = ~outside & ((similarity >= own_similarity) | own_outside)
    outside_ahead = outside & own_outside & (error <= own_error)
    return (inside_ahead | outside_ahead).sum(axis=1)  # the query counts itself once


def mass_then_model_retrieval(precursor_mz: np.ndarray, adducts: Sequence[Optional[str]],
                              masses: np.ndarray, graph: np.ndarray, modality: np.ndarray,
                              tolerance: float = 0.01, pool_size: int = 128, n_draws: int = 10,
                              seed: int = 0, ks: Sequence[int] = DEFAULT_KS) -> Dict[str, float]:
    """What an MS user does: keep the candidates whose mass matches the precursor (within
    ``tolerance`` Da after the adduct shift), let the model's spectrum–molecule similarity
    order them, and put the others after them by mass error; same random pools as
    :func:`mass_only_retrieval`. Beats that rule only where the model tells molecules of the
    same mass apart.

    Parameters
    ----------
    precursor_mz : np.ndarray
        Each spectrum's precursor m/z.
    adducts : sequence of str
        Each spectrum's precursor type (unknown: ``[M+H]+``).
    masses : np.ndarray
        Each spectrum's molecule's monoisotopic mass.
    graph, modality : np.ndarray
        The model's projections, row by row (similarity: dot product).
    tolerance : float, default=0.01
        The mass window in Da.
    pool_size, n_draws, seed : int
        As in ``retrieval_in_pools``.
    ks : sequence of int
        The top-k cut-offs.

    Returns
    -------
    dict
        ``top1``, ``top5``, ... and ``mrr``.

    Examples
    --------
    >>> masses = np.array([100.0, 150.0, 150.0, 200.0])   # two isomers at 150
    >>> perfect = np.eye(4)                                # a model that tells them apart
    >>> mass_then_model_retrieval(masses + PROTON, ["[M+H]+"] * 4, masses, perfect, perfect,
    ...                           pool_size=4, n_draws=5, ks=(1,))["top1"]
    1.0
    """
    precursor_mz = np.asarray(precursor_mz, dtype=np.float64)
    masses, shifts = np.asarray(masses, dtype=np.float64), adduct_shifts(adducts)
    ranks = []
    for pool in random_pools(len(masses), pool_size, n_draws, seed):
        error = mass_errors(precursor_mz[pool], shifts[pool], masses[pool])
        similarity = modality[pool] @ graph[pool].T  # spectrum -> molecule
        ranks.append(mass_then_model_ranks(error, similarity, tolerance))
    return summarize_ranks(np.concatenate(ranks), ks)


def precursors_of(inputs: Sequence[Any], kind: str) -> Tuple[np.ndarray, List[Optional[str]]]:
    """(precursor m/z, adduct) of each spectrum input: from its metadata (LC-MS/MS; NaN and
    None where it has none), or for EI (``kind="gc"``) the heaviest peak as ``[M]+``."""
    from deepchem_acml.featurizers.spectra import parse_peak_list

    precursor, adducts = [], []
    for spectrum in inputs:
        metadata = spectrum if isinstance(spectrum, dict) else {}
        if kind == "gc":
            precursor.append(float(parse_peak_list(spectrum)[0].max()))
            adducts.append("[M]+")
        else:
            value = metadata.get("precursor_mz")
            precursor.append(float(value) if value is not None else np.nan)
            adducts.append(metadata.get("adduct"))
    return np.asarray(precursor, dtype=np.float64), adducts


def mass_protocols(smiles: Sequence[str], inputs: Sequence[Any], graph: np.ndarray,
                   modality: np.ndarray, kind: str = "lc", pool_size: int = 128,
                   n_draws: int = 10, seed: int = 0) -> Dict[str, Any]:
    """The two protocols an MS retrieval result needs, on the same molecules and pools.

    * random pools: the mass rule alone (:func:`mass_only_retrieval`), the mass window
      then the model (:func:`mass_then_model_retrieval`) and the mass rule with the model
      among equal masses (:func:`mass_rule_then_model_retrieval`), over the spectra with a
      precursor;
    * mass-matched pools (:func:`mass_matched_retrieval`): each spectrum against the
      molecules of the set within the window of its molecule's mass, with chance; and the
      same without the query's stereoisomers (``mass_matched_constitutional``), which no
      2-D graph tells apart.

    LC-MS/MS (``kind="lc"``) compares exact masses within 0.01 Da; EI (``kind="gc"``) has no
    precursor, so the heaviest peak stands for the molecular ion and masses are compared at
    nominal resolution.

    Parameters
    ----------
    smiles, inputs : sequence
        The evaluated molecules and their spectra (dicts with ``precursor_mz`` and
        ``adduct`` for LC-MS/MS), row by row with ``graph`` and ``modality``.
    graph, modality : np.ndarray
        The model's projections.
    kind : str, default="lc"
        ``"lc"`` or ``"gc"``.
    pool_size, n_draws, seed : int
        As in ``retrieval_in_pools``.

    Returns
    -------
    dict
        ``window``, ``n_with_precursor``, ``mass_only``, ``mass_then_model``,
        ``mass_rule_then_model``, ``mass_matched`` and ``mass_matched_constitutional``.

    Examples
    --------
    >>> smiles = ["CCO", "COC", "CCCO", "CC(C)O", "c1ccccc1"]  # two pairs of isomers
    >>> spectra = [{"mz": [10.0], "intensities": [1.0], "precursor_mz": mass + PROTON,
    ...             "adduct": "[M+H]+"} for mass in monoisotopic_masses(smiles)]
    >>> perfect = np.eye(5)                                   # a model that tells all apart
    >>> report = mass_protocols(smiles, spectra, perfect, perfect, pool_size=5, n_draws=2)
    >>> report["mass_rule_then_model"]["top1"], report["mass_matched"]["chance"]["top1"]
    (1.0, 0.5)
    """
    from deepchem_acml.data.pairs import inchikeys_of

    masses = monoisotopic_masses(smiles)
    precursor, adducts = precursors_of(inputs, kind)
    window = 0.01
    if kind == "gc":
        masses, precursor, window = np.round(masses), np.round(precursor), 0.5
    known = np.flatnonzero(np.isfinite(precursor) & np.isfinite(masses))
    report: Dict[str, Any] = {"kind": kind, "window": window, "n_with_precursor": len(known)}
    if len(known) < 2:
        return report
    pools = dict(pool_size=min(pool_size, len(known)), n_draws=n_draws, seed=seed)
    chosen = [adducts[i] for i in known]
    report["mass_only"] = mass_only_retrieval(precursor[known], chosen, masses[known], **pools)
    report["mass_then_model"] = mass_then_model_retrieval(
        precursor[known], chosen, masses[known], graph[known], modality[known],
        tolerance=window, **pools)
    report["mass_rule_then_model"] = mass_rule_then_model_retrieval(
        precursor[known], chosen, masses[known], graph[known], modality[known], **pools)
    finite = np.flatnonzero(np.isfinite(masses))
    matched = dict(window=min(window, 0.01))
    report["mass_matched"] = mass_matched_retrieval(graph[finite], modality[finite],
                                                    masses[finite], **matched)
    skeletons = [key[:14] for key in inchikeys_of([smiles[i] for i in finite])]
    report["mass_matched_constitutional"] = mass_matched_retrieval(
        graph[finite], modality[finite], masses[finite], skeletons=skeletons, **matched)
    return report
