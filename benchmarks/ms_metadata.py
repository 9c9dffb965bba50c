"""What the fragment-aware MS models lose without their spectra's metadata: spectrum →
molecule retrieval of ``ms_lc_fragments`` and ``ms_gc_fragments`` on the held-out MassBank
molecules of the shipped models' split (``ms_mass_baseline.held_out``), in random pools of
128 (10 draws, seed 0; the EI test split is smaller than a pool: all of it), with every
spectrum's precursor m/z, adduct, ion mode and collision energy, without each of them, and
as bare peaks. The figures behind ``TandemSpectrumFeaturizer``'s missing-metadata warning
(issue 34, item 5). Reads MassBank from the shared data folder; writes
``docs/benchmarks/ms_metadata.json``. About a minute on a CPU.

    .venv/bin/python benchmarks/ms_metadata.py
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

OUT = Path("docs/benchmarks/ms_metadata.json")
FIELDS = ("precursor_mz", "adduct", "ion_mode", "collision_energy")


def variants(spectra):
    """The held-out spectra as given, without each metadata field, and as bare peaks."""
    def without(keys):
        return [{k: v for k, v in s.items() if k not in keys} if isinstance(s, dict) else s
                for s in spectra]

    out = {"with all metadata": spectra}
    out.update({f"without {field}": without({field}) for field in FIELDS})
    out["bare peaks"] = without(set(FIELDS))
    return out


def measure(name: str) -> dict:
    from ms_mass_baseline import held_out

    from deepchem_acml import ACMLModel
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools
    from deepchem_acml.featurizers.spectra import MissingMetadataWarning

    model = ACMLModel.from_pretrained(name)
    frame = held_out(model.modality.name)
    result = {"modality": model.modality.name, "n_test": len(frame), "pool_size": 128,
              "n_draws": 10, "seed": 0, "variants": {}}
    for label, spectra in variants(frame.spectrum.tolist()).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingMetadataWarning)  # the point of the run
            dataset, _ = model.build_dataset(frame.smiles.tolist(), spectra)
        pools = retrieval_in_pools(model.predict(dataset), model.project_modality(dataset.y),
                                   128, 10, 0, ks=(1, 5, 10))["modality_to_graph"]
        result["variants"][label] = {"n_evaluated": len(dataset), **pools}
        print(name, label, {k: round(v, 3) for k, v in pools.items()}, flush=True)
    return result


def main(argv=None) -> int:
    from deepchem_acml.provenance import command_line, package_versions

    results = {name: measure(name) for name in ("ms_lc_fragments", "ms_gc_fragments")}
    OUT.write_text(json.dumps({"models": results, "versions": package_versions(),
                               "command": command_line("python benchmarks/ms_metadata.py",
                                                       argv)}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
