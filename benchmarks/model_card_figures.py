"""The figures of the model card (``deepchem_acml/pretrained/MODEL_CARD.md``) that summarise
benchmark records rather than a single record: the mean validation score of a shipped
encoder's probes or fine-tuned rows, by which the shipped defaults were chosen. Reads only
committed records and prints JSON, which the card quotes and declares as its source:

    .venv/bin/python benchmarks/model_card_figures.py > docs/benchmarks/model_card_figures.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DISTILLATION = "docs/benchmarks/distillation.json"
MOLECULENET = "docs/benchmarks/moleculenet.json"
RICH_CANDIDATE = "docs/benchmarks/candidates/rich_d20/moleculenet.json"
CLASSIFICATION = ["bbbp", "bace", "clintox", "sider", "tox21", "hiv"]
#: Rows of the distillation ablation whose seed-0 checkpoint is a shipped file (the command
#: of each record names the checkpoint it probed).
PROBED = {
    "acml_smiles_distilled.pt": "ACML frozen + linear (distillation 20)",
    "distillation weight 5 (same recipe)": "ACML frozen + linear (distillation 5)",
    "acml_smiles.pt": "ACML frozen + linear (contrastive only)",
    "acml_nmr_13c.pt": "ACML frozen + linear (teacher: 13C NMR)",
    "acml_nmr_1h.pt": "ACML frozen + linear (teacher: 1H NMR)",
    "acml_image.pt": "ACML frozen + linear (teacher: image CNN)",
    "acml_ms_lc_fragments.pt": "ACML frozen + linear (teacher: LC-MS/MS (fragments))",
    "acml_ms_gc_fragments.pt": "ACML frozen + linear (teacher: EI-MS (fragments))",
}
#: The fine-tuned rows compared when ``smiles_rich_distilled`` was chosen (validation only).
FINE_TUNED = {
    "acml_smiles_rich_distilled.pt": (RICH_CANDIDATE,
                                      "runs/pretrain_smiles_rich_d20_excl_s0/acml_smiles.pt"),
    "acml_smiles.pt": (MOLECULENET, "smiles"),
}
FINE_TUNED_METHOD = "ACML fine-tuned (slow encoder, mean pooling)"


def records(path: str) -> list:
    return json.loads((ROOT / path).read_text())["records"]


def probe_validation(rows: list, method: str) -> dict:
    """Mean validation ROC-AUC over the six classification tasks, per pretraining seed."""
    by_seed: dict = {}
    for r in rows:
        if r["method"] == method and r["task"] in CLASSIFICATION:
            by_seed.setdefault(r["seed"], {})[r["task"]] = r["valid_score"]
    means = {seed: float(np.mean(list(tasks.values()))) for seed, tasks in by_seed.items()
             if len(tasks) == len(CLASSIFICATION)}
    return {"seed 0": means.get(0), "seeds": len(means),
            "mean over seeds": float(np.mean(list(means.values())))}


def chemnet_r2(rows: list, method: str) -> dict:
    """Held-out R² of the ridge map from the graph embedding to ChemNet's, per seed."""
    scores = {r["seed"]: r["score"] for r in rows
              if r["method"] == method and r["task"] == "chemnet_r2"}
    return {"seed 0": scores.get(0), "seeds": len(scores),
            "mean over seeds": float(np.mean(list(scores.values())))}


def fine_tuned_validation(path: str, pretrained: str) -> dict:
    """Mean validation scores over seeds: ROC-AUC over BBBP, BACE, ClinTox and SIDER; RMSE
    of ESOL and of FreeSolv."""
    rows = [r for r in records(path) if r["method"] == FINE_TUNED_METHOD
            and (r.get("recipe") or {}).get("pretrained") == pretrained]

    def mean(tasks):
        return float(np.mean([r["valid_score"] for r in rows if r["task"] in tasks]))

    return {"roc_auc (bbbp, bace, clintox, sider)": mean(CLASSIFICATION[:4]),
            "rmse esol": mean(["esol"]), "rmse freesolv": mean(["freesolv"]),
            "seeds": len({r["seed"] for r in rows})}


def main() -> int:
    ablation = records(DISTILLATION)
    figures = {
        "command": "python benchmarks/model_card_figures.py",
        "sources": [DISTILLATION, MOLECULENET, RICH_CANDIDATE],
        "probe_valid_roc_auc": {name: probe_validation(ablation, method)
                                for name, method in PROBED.items()},
        "chemnet_r2": {name: chemnet_r2(ablation, method) for name, method in (
            ("acml_smiles_distilled.pt", PROBED["acml_smiles_distilled.pt"]),
            ("acml_smiles.pt", "ACML frozen + linear"),
            ("untrained GIN", "untrained GIN + linear"))},
        "fine_tuned_valid": {name: fine_tuned_validation(*where)
                             for name, where in FINE_TUNED.items()},
    }
    json.dump(figures, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
