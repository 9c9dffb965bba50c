"""``acml pretrain-encoder``: the recipe that made the shipped frozen spectrum encoders."""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

NUCLEUS_OF = {"nmr_13c": "13C", "nmr_1h": "1H"}


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "pretrain-encoder", help="pretrain a frozen spectrum autoencoder on spectra alone",
        description="Pretrain a 1-D convolutional autoencoder on nmrshiftdb2 spectra (no "
                    "structures; validation/test molecules of the canonical split left out).")
    parser.add_argument("--modality", choices=sorted(NUCLEUS_OF), default="nmr_13c")
    parser.add_argument("--data", type=Path, default=None,
                        help="nmrshiftdb2 JSON-Lines file (default: shared data folder)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--broadening", type=float, default=0.5,
                        help="Gaussian broadening of each peak (ppm, standard deviation)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml.cli.pretrain import command_line
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter, nmrshiftdb2_path, read_nmrshiftdb2
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.spectra import NMRSpectrumFeaturizer
    from deepchem_acml.modalities.nmr import save_spectrum_encoder
    from deepchem_acml.pretraining.spectrum_encoder import pretrain_spectrum_autoencoder

    nucleus = NUCLEUS_OF[args.modality]
    data_path = args.data or nmrshiftdb2_path()
    frame, _ = heavy_atom_filter(read_nmrshiftdb2(data_path, nucleus=nucleus))
    train_rows, _, _ = inchikey_split(frame.inchikey.tolist())
    frame = frame.iloc[train_rows]
    featurizer = NMRSpectrumFeaturizer(nucleus, broadening=args.broadening)
    result = featurizer.featurize_with_report(frame.spectrum.tolist())
    print(f"{nucleus} spectra from {data_path}: {result.summary(5)}")
    model, history = pretrain_spectrum_autoencoder(
        result.features, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed)
    provenance = {
        "recipe": "deepchem_acml.pretraining.spectrum_encoder.pretrain_spectrum_autoencoder",
        "command": command_line(),
        "data": f"nmrshiftdb2 {nucleus} peak lists ({Path(data_path).name}), spectra only",
        "data_licence": "nmrshiftdb2 database licence (ODbL-derived; attribution, share-alike)",
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
