"""``acml evaluate``: retrieval, isomer discrimination and property analyses of a checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepchem_acml.cli.options import (
    add_command,
    device_options,
    library_constant,
    pool_options,
    pretrained_options,
    seed_options,
)


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--data", type=Path, default=None, metavar="FILE",
                     help="a CSV with smiles and spectrum columns; an nmrshiftdb2 or MassBank "
                          ".jsonl.gz; or .mgf/.msp spectra with SMILES (default: the embedded "
                          "nmrshiftdb2 13C subset; for an MS model the embedded MassBank "
                          "subset). MS models add the mass-rule baseline and mass-matched pools")
    own.add_argument("--split", default="test", choices=["test", "all"], metavar="ROWS",
                     help="evaluate on the InChIKey test split (test) or on every row (all)")
    own.add_argument("--out", type=Path, default=Path("acml-report"), metavar="DIR",
                     help="the report's folder (report.json, report.md, figures)")
    own.add_argument("--n-draws", type=int, default=10, metavar="N",
                     help="random candidate pools drawn per query set (retrieval in pools)")
    own.add_argument("--map-property", default="MolWt", metavar="NAME",
                     choices=library_constant("deepchem_acml.evaluation.properties",
                                              "PROPERTIES"),
                     help="the property that colours the 2-D map, one of %(choices)s")
    own.add_argument("--map-method", default="pca", choices=["pca", "tsne"], metavar="METHOD",
                     help="the 2-D map's projection, one of %(choices)s")
    parser = add_command(
        commands, "evaluate", help="write a report (JSON, Markdown, PNG) on an ACML checkpoint",
        description="Evaluate an ACML checkpoint on paired data: retrieval (pools and full), "
                    "isomer discrimination, property correlation with baselines, 2-D map. "
                    "Writes report.json, report.md and figures to OUT.",
        examples=["acml evaluate --pretrained nmr_13c --out acml-report",
                  "acml evaluate --pretrained runs/13c/acml_nmr_13c.pt --data my_spectra.csv "
                  "--split all --out runs/13c/report"],
        parents=[pretrained_options(required=True, old=["--checkpoint"]), own, pool_options(),
                 seed_options(0, "retrieval pools, 2-D map"), device_options()])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml import ACMLModel
    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, with_inchikeys
    from deepchem_acml.devices import resolve_device
    from deepchem_acml.evaluation.report import evaluate_model
    from deepchem_acml.shipped import checkpoint_file

    path = checkpoint_file(args.pretrained)
    model = ACMLModel.load(path, device=resolve_device(args.device))
    name = model.modality.name if model.modality is not None else "nmr_13c"
    frame, data = evaluation_frame(name, args.data)
    frame, split = evaluation_split(with_inchikeys(frame), args.split, data["source"])
    print(f"Evaluating {path} on {split} of {data['source']}: {len(frame)} of "
          f"{data['n_rows']} rows")
    column = MODALITY_INPUT_COLUMN.get(name, "spectrum")
    report = evaluate_model(model, frame.smiles.tolist(), frame[column].tolist(), args.out,
                            pool_size=args.pool_size, n_draws=args.n_draws, seed=args.seed,
                            map_property=args.map_property, map_method=args.map_method,
                            rows=frame.index.tolist(),
                            provenance={"checkpoint": checkpoint_record(args.pretrained, path),
                                        "data": {**data, "split": split}})
    top10 = report["retrieval"]["pools"]["modality_to_graph"]["top10"]
    print(f"Evaluated {report['n_evaluated']} molecules: spectrum → graph top-10 in pools "
          f"{top10:.3f}; {isomer_sentence(report['isomers']['constitutional'])}. "
          f"Report: {args.out / 'report.md'}")
    mass = report.get("mass", {})
    if "mass_then_model" in mass:
        print(f"Against the mass rule: top-1 {mass['mass_then_model']['top1']:.3f} (mass window, "
              f"then the model) vs {mass['mass_only']['top1']:.3f} (mass alone)")
    return 0


def isomer_sentence(entry) -> str:
    """The constitutional-isomer result in words (no accuracy over zero groups)."""
    if not entry["n_groups"]:
        return "constitutional isomers: no isomer groups in this data"
    return (f"constitutional-isomer accuracy {entry['accuracy']['modality_to_graph']:.3f} over "
            f"{entry['n_groups']} groups")


def checkpoint_record(given: str, path: Path) -> dict:
    """Which checkpoint was evaluated: the path, its SHA-256, and the shipped name it was
    asked for by (if any)."""
    from deepchem_acml.data.smiles_files import file_sha256

    record = {"path": str(Path(path).resolve()), "sha256": file_sha256(path)}
    if not Path(given).is_file():  # a name, not a path: a shipped model
        record["shipped_name"] = str(given)
    return record


def evaluation_split(frame, split: str, source: str):
    """The rows to evaluate and their description: the InChIKey test split, or every row."""
    from deepchem_acml.data.splits import inchikey_split

    if split == "all":
        chosen, what = frame, "every row"
    else:
        chosen = frame.iloc[inchikey_split(frame.inchikey.tolist(), seed=0)[2]]
        what = "the InChIKey-skeleton test split (inchikey_split seed 0: 10 % of skeletons)"
    if len(chosen) < 2:
        raise ValueError(f"{what} of {source} holds {len(chosen)} of its {len(frame)} rows; "
                         "evaluation needs at least 2 molecules: use --split all, or --data "
                         "with more molecules")
    return chosen, what


def evaluation_frame(modality: str, data):
    """The paired molecules to evaluate on and where they came from: ``data`` (the user's
    file, through the pretraining readers) when given, else the embedded subset of the
    modality (MassBank for MS models, else the nmrshiftdb2 13C demo), said so."""
    from deepchem_acml.cli.pretrain import read_data
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF
    from deepchem_acml.data.sources import EMBEDDED_MASSBANK

    if data is not None:
        if not Path(data).is_file():
            raise FileNotFoundError(f"--data: no data file at {data}")
        frame, source = read_data(modality, data)
        return frame, {"source": str(source), "given_by": "--data", "n_rows": len(frame)}
    if modality in MASSBANK_KIND_OF:
        frame, source = read_data(modality, EMBEDDED_MASSBANK)
        what = f"the embedded MassBank subset ({Path(source).name})"
    else:
        frame, what = read_embedded_nmr_13c(), "the embedded nmrshiftdb2 13C subset"
    return frame, {"source": f"{what}, as no --data was given", "given_by": "default",
                   "n_rows": len(frame)}
