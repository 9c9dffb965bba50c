"""The retrieval table of every shipped ACML model (docs/retrieval.md), from the metrics each
pretraining run wrote beside its checkpoint (deepchem_acml/pretrained/acml_<name>.metrics.json).

    python benchmarks/retrieval_table.py > docs/retrieval.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

PRETRAINED = Path(__file__).resolve().parents[1] / "deepchem_acml" / "pretrained"
DIRECTIONS = {"modality_to_graph": "modality → graph", "graph_to_modality": "graph → modality"}


def main() -> int:
    lines = [
        "# Cross-modal retrieval of the shipped ACML models",
        "",
        "Measured on each model's held-out test molecules (split by InChIKey skeleton, "
        "`inchikey_split(seed=0)`, never seen in training, nor by the frozen spectrum "
        "encoders or the SMILES RoBERTa). The joint model is one graph encoder trained against "
        "several modalities at once; each of its rows is measured on the test molecules that "
        "have that modality. Pools: the right partner among 128 candidates drawn from the test split "
        "(10 draws; chance top-10 = 0.078); full: among the whole test split. Ties count "
        "against the query. CPU-only runs; the command of each is in its metrics file.",
        "",
        "| model | data (train/valid/test) | protocol | direction | top-1 | top-5 | top-10 | MRR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(PRETRAINED.glob("acml_*.metrics.json")):
        metrics = json.loads(path.read_text())
        name = path.name[len("acml_"):-len(".metrics.json")]
        data = metrics["data"]
        if "n_with_modality" in data:  # joint: one block per modality, on its own molecules
            counts = data["n_with_modality"]
            blocks = [(f"{name}: {m}", report,
                       "/".join(str(counts[s][m]) for s in ("train", "valid", "test")),
                       counts["test"][m]) for m, report in metrics["retrieval"].items()]
        else:
            blocks = [(name, metrics["retrieval"],
                       f"{data['n_train']}/{data['n_valid']}/{data['n_test']}", data["n_test"])]
        for label_name, retrieval, sizes, n_test in blocks:
            for protocol, label in (("pools", f"pools of {retrieval['pool_size']}"),
                                    ("full", f"all {n_test}")):
                for key, direction in DIRECTIONS.items():
                    r = retrieval[protocol][key]
                    lines.append(f"| `{label_name}` | {sizes} | {label} | {direction} | "
                                 f"{r['top1']:.3f} | {r['top5']:.3f} | {r['top10']:.3f} | "
                                 f"{r['mrr']:.3f} |")
    lines += mass_baseline_lines()
    lines += ["", "Commands:", ""]
    for path in sorted(PRETRAINED.glob("acml_*.metrics.json")):
        metrics = json.loads(path.read_text())
        line = f"- `{path.name}`: `{metrics['command']}` ({metrics['seconds_total'] / 60:.0f} min)"
        if "resumed_from" in metrics:  # trained in two runs: say so, with the first one
            first = metrics["resumed_from"]
            line += (f", resuming `{first['command']}` "
                     f"({first['seconds_total'] / 60:.0f} min: {first['note']})")
        lines.append(line)
    print("\n".join(lines))
    return 0


def mass_baseline_lines() -> list:
    """The MS models beside the precursor-mass rule on the same test molecules and pools
    (``benchmarks/ms_mass_baseline.py``), when it has been run."""
    path = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "ms_mass_baseline.json"
    if not path.exists():
        return []
    models = json.loads(path.read_text())["models"]
    lines = ["", "## MS models against the mass rule", "",
             "Spectrum → molecule on each model's held-out MassBank molecules, in the same random "
             "pools of 128 (10 draws). *Mass rule*: candidates ranked by |precursor m/z − "
             "(monoisotopic mass + adduct)| (LC-MS/MS, 0.01 Da; spectra without a precursor m/z "
             "left out) or by the heaviest peak against the nominal mass (GC-MS, EI: no "
             "precursor); isomers tie and are ordered at random. *Window, then the model*: the "
             "candidates inside the mass window first, ordered by the model's similarity, then "
             "the rest by mass error — what an MS user does with a spectrum model; it beats the "
             "rule only where the model tells molecules of the same mass apart. *Mass-matched "
             "pools*: each spectrum against the test molecules of its own molecule's mass (its "
             "isomers), where mass cannot help; chance is a random order of that pool. "
             "Commands and versions: `docs/benchmarks/ms_mass_baseline.json`.", "",
             "| model | test molecules (with precursor) | model alone top-1 / top-10 | mass rule "
             "top-1 / top-10 | window, then the model top-1 / top-10 | mass-matched pools: "
             "queries, mean pool, top-1 (chance) |",
             "|---|---|---|---|---|---|"]
    for label, r in models.items():
        pools, rule, both = r["pools"], r["mass_only"], r["mass_then_model"]
        matched = r["mass_matched"]
        iso = (f"{matched['n_queries']}, {matched['pool_size']:.1f}, {matched['top1']:.3f} "
               f"({matched['chance']['top1']:.3f})" if matched.get("n_queries") else "–")
        lines.append(f"| `{label}` (`{r['checkpoint']}`) | {r['n_evaluated']} "
                     f"({r['n_with_precursor']}) | {pools['top1']:.3f} / {pools['top10']:.3f} | "
                     f"{rule['top1']:.3f} / {rule['top10']:.3f} | {both['top1']:.3f} / "
                     f"{both['top10']:.3f} | {iso} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
