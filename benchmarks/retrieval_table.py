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
    """The precursor-mass rule on the same test molecules and pools as the MS models
    (``benchmarks/ms_mass_baseline.py``), beside them, when it has been run."""
    path = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "ms_mass_baseline.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    lines = ["", "## The one-line baseline for the MS models", "",
             "Spectrum → molecule in the same random pools, candidates ranked by |precursor m/z "
             "− (monoisotopic mass + adduct)| (LC-MS/MS; spectra without a precursor m/z left "
             "out) or by the heaviest peak against the nominal mass (GC-MS, EI: no precursor); "
             "isomers tie and are ordered at random (`benchmarks/ms_mass_baseline.py`). **Both "
             "shipped MS models lose to it**: mass alone tells the molecules of a random pool "
             "apart; what an MS encoder must add is the fragments that separate molecules of "
             "the same mass.", "",
             "| rule | test molecules (with precursor) | pool | top-1 | top-5 | top-10 | MRR |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| mass only, `{name}` test split | {r['n_test']} ({r['n_with_precursor']}) | "
                     f"{r['pool_size']} | {r['top1']:.3f} | {r['top5']:.3f} | {r['top10']:.3f} | "
                     f"{r['mrr']:.3f} |")
        m = r.get("mass_window_then_acml")
        if m:
            window = "0.01 Da" if name == "ms_lc" else "nominal mass"
            lines.append(f"| mass window ({window}), then the shipped `{name}` ACML similarity | "
                         f"{r['n_test']} ({r['n_with_precursor']}) | {r['pool_size']} | "
                         f"{m['top1']:.3f} | {m['top5']:.3f} | {m['top10']:.3f} | "
                         f"{m['mrr']:.3f} |")
    lines += ["", "The window-then-model row is what an MS user does with a spectrum model: keep "
              "the candidates of matching mass and let the model order them. It is *below* the "
              "mass rule alone (which also orders candidates by how close their mass is): inside "
              "the window the shipped models rank no better than chance.", "",
              "Where mass cannot help: each spectrum against the test molecules of the same "
              "mass (within 0.01 Da; nominal mass for EI), its isomers. These pools are small "
              "(the test split holds few isomers of each molecule), so chance is high:", "",
              "| model | queries with an isomer | mean pool | top-1 | chance top-1 |",
              "|---|---|---|---|---|"]
    for name, r in results.items():
        m = r.get("acml_in_mass_matched_pools")
        if m and m.get("n_queries"):
            lines.append(f"| `{name}` (shipped ACML) | {m['n_queries']} | {m['pool_size']:.1f} | "
                         f"{m['top1']:.3f} | {m['chance']['top1']:.3f} |")
    lines += ["", "Both are at chance among isomers: the shipped MS models neither reach the "
              "mass rule in random pools nor tell isomers apart."]
    return lines


if __name__ == "__main__":
    sys.exit(main())
