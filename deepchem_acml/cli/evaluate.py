"""``acml evaluate``: retrieval, isomer discrimination and property analyses of a checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepchem_acml.evaluation.properties import PROPERTIES


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate", help="write a report (JSON, Markdown, PNG) on an ACML checkpoint",
        description="Evaluate an ACML checkpoint on paired data: retrieval (pools and full), "
                    "isomer discrimination, property correlation with baselines, 2-D map.")
    parser.add_argument("--checkpoint", required=True,
                        help="a checkpoint written by `acml demo`/`acml pretrain` (acml_*.pt), "
                             "or a shipped model's name (nmr_13c, ms_lc_fragments, ...)")
    parser.add_argument("--data", type=Path, default=None,
                        help="CSV with smiles, spectrum; an nmrshiftdb2 or MassBank .jsonl.gz; "
                             "or .mgf/.msp spectra with SMILES (default: the embedded "
                             "nmrshiftdb2 13C subset; for an MS model the embedded MassBank "
                             "subset). MS models add the mass-rule baseline and mass-matched "
                             "pools")
    parser.add_argument("--split", choices=["test", "all"], default="test",
                        help="evaluate on the InChIKey test split (default) or on every row")
    parser.add_argument("--out", type=Path, default=Path("acml-report"))
    parser.add_argument("--pool-size", type=int, default=128)
    parser.add_argument("--n-draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--map-property", choices=PROPERTIES, default="MolWt")
    parser.add_argument("--map-method", choices=["pca", "tsne"], default="pca")
    parser.add_argument("--device", default=None,
                        help="torch device (default: the GPU when there is one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml import ACMLModel
    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, with_inchikeys
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.devices import resolve_device
    from deepchem_acml.evaluation.report import evaluate_model

    from deepchem_acml.shipped import checkpoint_file

    model = ACMLModel.load(checkpoint_file(args.checkpoint), device=resolve_device(args.device))
    name = model.modality.name if model.modality is not None else "nmr_13c"
    frame = with_inchikeys(evaluation_frame(name, args.data))
    if args.split == "test":
        frame = frame.iloc[inchikey_split(frame.inchikey.tolist(), seed=0)[2]]
    column = MODALITY_INPUT_COLUMN.get(name, "spectrum")
    report = evaluate_model(model, frame.smiles.tolist(), frame[column].tolist(), args.out,
                            pool_size=args.pool_size, n_draws=args.n_draws, seed=args.seed,
                            map_property=args.map_property, map_method=args.map_method)
    top10 = report["retrieval"]["pools"]["modality_to_graph"]["top10"]
    iso = report["isomers"]["constitutional"]
    print(f"Evaluated {report['n_evaluated']} molecules: spectrum → graph top-10 in pools "
          f"{top10:.3f}; constitutional-isomer accuracy "
          f"{iso.get('accuracy', {}).get('modality_to_graph', float('nan')):.3f} over "
          f"{iso['n_groups']} groups. Report: {args.out / 'report.md'}")
    mass = report.get("mass", {})
    if "mass_then_model" in mass:
        print(f"Against the mass rule: top-1 {mass['mass_then_model']['top1']:.3f} (mass window, "
              f"then the model) vs {mass['mass_only']['top1']:.3f} (mass alone)")
    return 0


def evaluation_frame(modality: str, data):
    """The paired molecules to evaluate on: ``data`` through the pretraining readers, or the
    embedded subset of the modality (MassBank for MS models, else the nmrshiftdb2 13C demo)."""
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF, read_pairs
    from deepchem_acml.data.sources import EMBEDDED_MASSBANK

    if data is None and modality in MASSBANK_KIND_OF:
        data = EMBEDDED_MASSBANK
    if data is None:
        return read_embedded_nmr_13c()
    if not data.is_file():
        raise FileNotFoundError(f"no data file at {data}")
    return read_pairs(modality, data)[0]
