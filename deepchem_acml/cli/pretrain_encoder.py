"""``acml pretrain-encoder``: the recipe that made the shipped frozen spectrum encoders."""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

DATA_LICENCE = {
    "nmr": "nmrshiftdb2 database licence (ODbL-derived; attribution, share-alike)",
    "ms": "MassBank open records: CC0, CC BY, CC BY-SA or dl-de/by-2-0 per record (attribution; "
          "share-alike for CC BY-SA); see the shared data folder's massbank/SOURCE.md",
}


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "pretrain-encoder", help="pretrain a frozen spectrum autoencoder on spectra alone",
        description="Pretrain a 1-D convolutional autoencoder on spectra alone (nmrshiftdb2 "
                    "NMR, MassBank LC-MS/MS or EI; no structures; validation/test molecules "
                    "of the canonical split left out).")
    parser.add_argument("--modality", choices=["ms_gc", "ms_lc", "nmr_13c", "nmr_1h"],
                        default="nmr_13c")
    parser.add_argument("--data", type=Path, default=None,
                        help="nmrshiftdb2 or MassBank JSON-Lines, or .mgf/.msp spectra "
                             "(default: the shared data folder)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--broadening", type=float, default=0.5,
                        help="Gaussian broadening of each NMR peak (ppm, standard deviation)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml.cli.pretrain import command_line
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import NUCLEUS_OF, with_inchikeys, read_pairs
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer, NMRSpectrumFeaturizer
    from deepchem_acml.modalities.spectra import SPECTRUM_MODALITIES, save_spectrum_encoder
    from deepchem_acml.pretraining.spectrum_encoder import pretrain_spectrum_autoencoder

    frame, source = read_pairs(args.modality, args.data)
    frame, _ = heavy_atom_filter(with_inchikeys(frame))
    train_rows, _, _ = inchikey_split(frame.inchikey.tolist())
    frame = frame.iloc[train_rows]
    if args.modality in NUCLEUS_OF:
        featurizer = NMRSpectrumFeaturizer(NUCLEUS_OF[args.modality], broadening=args.broadening)
    else:
        featurizer = MassSpectrumFeaturizer()
    result = featurizer.featurize_with_report(frame.spectrum.tolist())
    what = SPECTRUM_MODALITIES[args.modality]
    print(f"{what} spectra from {source}: {result.summary(5)}")
    model, history = pretrain_spectrum_autoencoder(
        result.features, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed)
    provenance = {
        "recipe": "deepchem_acml.pretraining.spectrum_encoder.pretrain_spectrum_autoencoder",
        "command": command_line(),
        "data": f"{what} spectra from {Path(source).name}, spectra only",
        "data_licence": DATA_LICENCE[args.modality[:args.modality.index("_")]],
        "n_spectra": len(result.features),
        "excluded": "molecules in the valid/test buckets of inchikey_split(seed=0)",
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "seed": args.seed,
        "final_train_loss": history[-1]["train_loss"],
        "final_valid_loss": history[-1]["valid_loss"],
        "date": datetime.date.today().isoformat(),
    }
    save_spectrum_encoder(args.out, model, featurizer, provenance)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"provenance": provenance, "history": history}, indent=2))
    print(f"wrote {args.out} (embedding dimension {model.embedding_dim})")
    return 0
