"""MS models beside the precursor-mass rule: spectrum → molecule retrieval on the held-out
MassBank molecules of the shipped models' split, in the same random pools, and in
mass-matched pools where mass cannot help (``deepchem_acml.evaluation.mass_baseline.
mass_protocols``, the protocols of ``acml evaluate``).

LC-MS/MS: candidates ranked by |precursor m/z − (monoisotopic mass + adduct shift)|; beside
it, the mass window (0.01 Da) with the model's similarity ordering the candidates inside it
and mass error the rest. GC-MS (EI) spectra have no precursor: the heaviest peak stands for
the molecular ion (``[M]+``), at nominal mass. Isomers tie under the rule and are ordered at
random. Reads MassBank from the shared data folder; one record per model label in
``docs/benchmarks/ms_mass_baseline.json`` (a rerun replaces that label's record).

    .venv/bin/python benchmarks/ms_mass_baseline.py                        # the shipped models
    .venv/bin/python benchmarks/ms_mass_baseline.py --models \\
        "ms_lc fragment-aware=runs/pretrain_ms_lc_tandem/acml_ms_lc.pt"
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path("docs/benchmarks/ms_mass_baseline.json")


def held_out(modality: str):
    """The test molecules of the pretraining split (InChIKey buckets, seed 0) among the pairs
    both the graph and the 1-Da featurizer take, spectra with their metadata."""
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import read_pairs, with_inchikeys
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer
    from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer

    frame, _ = heavy_atom_filter(with_inchikeys(read_pairs(modality)[0]))
    frame = frame.reset_index(drop=True)
    ok = set(MassSpectrumFeaturizer().featurize_with_report(frame.spectrum.tolist()).indices)
    ok &= set(GraphArrayFeaturizer().featurize_with_report(frame.smiles.tolist()).indices)
    frame = frame.iloc[sorted(ok)].reset_index(drop=True)
    return frame.iloc[inchikey_split(frame.inchikey.tolist(), seed=0)[2]].reset_index(drop=True)


def evaluate(label: str, source: str) -> dict:
    """Random-pool retrieval and both mass protocols of one model on its held-out molecules."""
    from deepchem_acml import ACMLModel
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF
    from deepchem_acml.evaluation.mass_baseline import mass_protocols
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    model = ACMLModel.from_pretrained(source)
    name = model.modality.name
    frame = held_out(name)
    dataset, _ = model.build_dataset(frame.smiles.tolist(), frame.spectrum.tolist())
    rows = np.asarray(dataset.ids, dtype=int)
    graph, spectra = model.predict(dataset), model.project_modality(dataset.y)
    return {"model": label, "checkpoint": str(source), "modality": name,
            "n_test": len(frame), "n_evaluated": len(rows),
            "pools": retrieval_in_pools(graph, spectra, 128, 10, 0, ks=(1, 5, 10))
            ["modality_to_graph"],
            **mass_protocols(frame.smiles.iloc[rows].tolist(), frame.spectrum.iloc[rows].tolist(),
                             graph, spectra, MASSBANK_KIND_OF[name], 128, 10, 0)}


def ceilings(modality: str) -> dict:
    """Top-1 of the mass rule with a perfect model among equal masses: one that knows each
    molecule's skeleton (the best any 2-D graph model can do: stereoisomers stay tied) and
    one that knows the molecule itself. The rest of the gap to 1 is the rule's own misses
    (precursors that match no [M + adduct], unknown adducts)."""
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF
    from deepchem_acml.evaluation.mass_baseline import (
        mass_rule_then_model_retrieval,
        monoisotopic_masses,
        precursors_of,
    )

    frame = held_out(modality)
    masses = monoisotopic_masses(frame.smiles)
    precursor, adducts = precursors_of(frame.spectrum.tolist(), MASSBANK_KIND_OF[modality])
    if MASSBANK_KIND_OF[modality] == "gc":
        masses, precursor = np.round(masses), np.round(precursor)
    known = np.flatnonzero(np.isfinite(precursor) & np.isfinite(masses))
    skeletons = frame.inchikey.str[:14].to_numpy()[known]
    ids = {key: i for i, key in enumerate(sorted(set(skeletons)))}
    oracles = {"2-D (knows the skeleton)": np.eye(len(ids))[[ids[k] for k in skeletons]],
               "3-D (knows the molecule)": np.eye(len(known))}
    return {name: mass_rule_then_model_retrieval(
        precursor[known], [adducts[i] for i in known], masses[known], oracle, oracle,
        pool_size=min(128, len(known)), ks=(1, 10))["top1"] for name, oracle in oracles.items()}


def main(argv=None) -> int:
    from deepchem_acml.provenance import command_line, package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["ms_lc shipped=ms_lc",
                                                        "ms_gc shipped=ms_gc"],
                        help="LABEL=CHECKPOINT (a shipped name or a path)")
    args = parser.parse_args(argv)
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    stored = previous.get("models", {})
    for spec in args.models:
        label, source = spec.split("=", 1)
        result = evaluate(label, source)
        result.update(versions=package_versions(),
                      command=command_line("python benchmarks/ms_mass_baseline.py", argv))
        stored[label] = result
        print(label, json.dumps({k: result[k] for k in ("pools", "mass_only", "mass_then_model",
                                                            "mass_rule_then_model")
                                 if k in result}))
    limits = {m: ceilings(m) for m in ("ms_lc", "ms_gc")}
    OUT.write_text(json.dumps({"models": stored, "ceilings": limits}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
