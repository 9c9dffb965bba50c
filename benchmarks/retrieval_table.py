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
        "have that modality. Pools: the right partner among 128 candidates drawn from the test "
        "split "
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
    stored = json.loads(path.read_text())
    models = stored["models"]
    lines = ["", "## MS models against the mass rule", "",
             "Spectrum → molecule on each model's held-out MassBank molecules, in the same random "
             "pools of 128 (10 draws). *Mass rule*: candidates ranked by |precursor m/z − "
             "(monoisotopic mass + adduct)| (LC-MS/MS, 0.01 Da; spectra without a precursor m/z "
             "left out) or by the heaviest peak against the nominal mass (GC-MS, EI: no "
             "precursor); isomers tie and are ordered at random. *Window, then the model*: the "
             "candidates inside the mass window first, ordered by the model's similarity, then "
             "the rest by mass error — what an MS user does with a spectrum model; it beats the "
             "rule only where the model tells molecules of the same mass apart. *Mass rule, then "
             "the model*: the rule's order, the model ordering only the candidates of equal mass "
             "(isomers; its own ties at random). *Mass-matched pools*: each spectrum against the "
             "test molecules of its own molecule's mass (its isomers), where mass cannot help; "
             "*constitutional*: the same without the query's stereoisomers (same InChIKey "
             "skeleton, one graph for a 2-D model); chance is a random order of each pool. "
             "Commands and versions: `docs/benchmarks/ms_mass_baseline.json`.", "",
             "| model | test molecules (with precursor) | model alone | mass rule | window, then "
             "the model | mass rule, then the model | mass-matched pools: queries, mean pool, "
             "top-1 (chance) | constitutional isomers only |",
             "|---|---|---|---|---|---|---|---|"]
    for label, r in models.items():
        scores = [r[k] for k in ("pools", "mass_only", "mass_then_model", "mass_rule_then_model")
                  if k in r]
        columns = [f"{s['top1']:.3f} / {s['top10']:.3f}" for s in scores]
        columns += ["–"] * (4 - len(columns))
        for key in ("mass_matched", "mass_matched_constitutional"):
            m = r.get(key, {})
            columns.append(f"{m['n_queries']}, {m['pool_size']:.1f}, {m['top1']:.3f} "
                           f"({m['chance']['top1']:.3f})" if m.get("n_queries") else "–")
        lines.append(f"| `{label}` (`{r['checkpoint']}`) | {r['n_evaluated']} "
                     f"({r['n_with_precursor']}) | " + " | ".join(columns) + " |")
    lines += ["", "Each cell of the four ranking columns: top-1 / top-10."]
    for name, limit in stored.get("ceilings", {}).items():
        lines += ["", f"How far a model can lift the mass rule's top-1 on the `{name}` test "
                  "molecules (a perfect model among equal masses): "
                  + "; ".join(f"{what}: {top1:.3f}" for what, top1 in limit.items())
                  + ". The rest of the gap to 1 is the rule's own misses (precursors that "
                  "match no [M + adduct])."]
    return lines


if __name__ == "__main__":
    sys.exit(main())
