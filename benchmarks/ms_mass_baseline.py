"""The precursor-mass rule beside the shipped MS models: spectrum → molecule retrieval on the
same held-out molecules and the same random pools as their model cards.

LC-MS/MS: rank candidates by |precursor m/z − (monoisotopic mass + adduct shift)|; beside it,
the mass window (0.01 Da) with ACML's similarity ordering the candidates inside it. GC-MS (EI)
spectra have no precursor: the heaviest peak stands for the molecular ion (``[M]+``), at the
nominal resolution EI libraries use. Ties (isomers) are broken at random. Reads MassBank from
the shared data folder; writes ``docs/benchmarks/ms_mass_baseline.json``.

    .venv/bin/python benchmarks/ms_mass_baseline.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def held_out(kind: str):
    """The test molecules of the shipped model's split (InChIKey buckets, seed 0) among the
    pairs both featurizers take."""
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import with_inchikeys
    from deepchem_acml.data.spectrum_files import read_massbank
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer
    from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer

    frame, _ = heavy_atom_filter(with_inchikeys(read_massbank(kind=kind).reset_index(drop=True)))
    frame = frame.reset_index(drop=True)
    ok = set(MassSpectrumFeaturizer().featurize_with_report(frame.spectrum.tolist()).indices)
    ok &= set(GraphArrayFeaturizer().featurize_with_report(frame.smiles.tolist()).indices)
    frame = frame.iloc[sorted(ok)].reset_index(drop=True)
    test = inchikey_split(frame.inchikey.tolist(), seed=0)[2]
    return frame.iloc[test].reset_index(drop=True)


def acml_projections(name: str, frame):
    """(rows of ``frame`` the shipped model of ``name`` takes, graph projections, spectrum
    projections)."""
    from deepchem_acml import ACMLModel

    model = ACMLModel.from_pretrained(name)
    dataset, _ = model.build_dataset(frame.smiles.tolist(), frame.spectrum.tolist())
    return (np.asarray(dataset.ids, dtype=int), model.predict(dataset),
            model.project_modality(dataset.y))


def acml_mass_matched(name: str, frame, projections) -> dict:
    """The shipped ACML model of ``name`` on the same test molecules, in pools of isomers
    (mass within 0.01 Da), where the mass rule is at chance by construction."""
    from deepchem_acml.evaluation.mass_baseline import mass_matched_retrieval, monoisotopic_masses

    rows, graph, spectra = projections
    masses = monoisotopic_masses(frame.smiles.iloc[rows])
    if name == "ms_gc":
        masses = np.round(masses)  # EI is read at nominal mass
    return mass_matched_retrieval(graph, spectra, masses, window=0.01, ks=(1, 5, 10))


def main() -> int:
    from deepchem_acml.evaluation.mass_baseline import (mass_only_retrieval,
                                                        mass_then_model_retrieval,
                                                        monoisotopic_masses)
    from deepchem_acml.provenance import package_versions

    results = {}
    for name, kind, pool in (("ms_lc", "lc", 128), ("ms_gc", "gc", 128)):
        frame = held_out(kind)
        masses = monoisotopic_masses(frame.smiles)
        if kind == "lc":
            precursor, adducts = frame.precursor_mz.to_numpy(float), frame.adduct.tolist()
            known = np.isfinite(precursor)
        else:  # the heaviest peak, nominal mass: compare rounded masses
            precursor = np.array([float(s[:, 0].max()) for s in frame.spectrum])
            masses, adducts = np.round(masses), ["[M]+"] * len(frame)
            known = np.ones(len(frame), bool)
        projections = acml_projections(name, frame)
        known &= np.isin(np.arange(len(frame)), projections[0])  # rows both sides can score
        at = np.searchsorted(projections[0], np.flatnonzero(known))
        kept_adducts = [a for a, k in zip(adducts, known) if k]
        report = mass_only_retrieval(precursor[known], kept_adducts, masses[known],
                                     pool_size=pool, n_draws=10, seed=0)
        # the mass window, then ACML's similarity (0.01 Da; EI at nominal mass: 0.5)
        combined = mass_then_model_retrieval(
            precursor[known], kept_adducts, masses[known], projections[1][at],
            projections[2][at], tolerance=0.01 if kind == "lc" else 0.5, pool_size=pool,
            n_draws=10, seed=0)
        results[name] = {"n_test": int(len(frame)), "n_with_precursor": int(known.sum()),
                         "pool_size": min(pool, int(known.sum())), **report,
                         "mass_window_then_acml": combined,
                         "acml_in_mass_matched_pools": acml_mass_matched(name, frame,
                                                                         projections)}
        print(name, json.dumps(results[name]))
    out = Path("docs/benchmarks/ms_mass_baseline.json")
    out.write_text(json.dumps({"results": results, "versions": package_versions(),
                               "command": "python benchmarks/ms_mass_baseline.py"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
