"""``acml pretrain-encoder``: the recipes that made the shipped frozen encoders (spectrum
autoencoders; the small SMILES RoBERTa)."""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import List

from deepchem_acml.cli.options import (
    LibraryNames,
    add_command,
    add_renamed,
    data_size_options,
    device_options,
    fitting_options,
    library_constant,
    seed_options,
)

DATA_LICENCE = {
    "nmr": "nmrshiftdb2 database licence (ODbL-derived; attribution, share-alike)",
    "smiles": "MOSES (ZINC Clean Leads subset), MIT licence",
    "ms": "MassBank open records: CC0, CC BY, CC BY-SA or dl-de/by-2-0 per record (attribution; "
          "share-alike for CC BY-SA); see the shared data folder's massbank/SOURCE.md",
}


def pretrainable_modalities() -> List[str]:
    """The modalities whose frozen encoder this command pretrains: the spectra, and SMILES."""
    from deepchem_acml.modalities.spectra import SPECTRUM_MODALITIES

    return sorted([*SPECTRUM_MODALITIES, "smiles"])


def add_parser(commands) -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--modality", default="nmr_13c", metavar="NAME",
                     choices=LibraryNames(pretrainable_modalities),
                     help="the modality whose encoder to pretrain, one of %(choices)s")
    own.add_argument("--data", type=Path, default=None, metavar="FILE",
                     help="nmrshiftdb2 or MassBank JSON-Lines, .mgf/.msp spectra, or a CSV "
                          "with a smiles column (default: the shared data folder)")
    own.add_argument("--out", type=Path, required=True, metavar="PATH",
                     help="checkpoint file to write (smiles: a HuggingFace directory)")
    own.add_argument("--encoder", default="autoencoder", metavar="KIND",
                     choices=library_constant("deepchem_acml.modalities.spectra",
                                              "SHIPPED_ENCODER_KINDS"),
                     help="the kind of spectrum encoder, one of %(choices)s: the 1-Da-bin "
                          "autoencoder (every spectrum modality), or for ms_lc and ms_gc the "
                          "MLP over fragments, neutral losses and metadata with their mass "
                          "defects, trained to tell compounds apart from all their spectra")
    add_renamed(own, "--hidden-dim", "--hidden-size", type=int, default=128,
                help="smiles: the RoBERTa's width (4 layers, 4 heads)")
    own.add_argument("--broadening", type=float, default=0.5, metavar="PPM",
                     help="NMR: Gaussian broadening of each peak (standard deviation, ppm)")
    parser = add_command(
        commands, "pretrain-encoder", help="pretrain a frozen modality encoder (spectra; SMILES)",
        description="Pretrain a frozen modality encoder on that modality alone (no pairs; "
                    "validation/test molecules of the canonical split left out): a 1-D "
                    "convolutional autoencoder on nmrshiftdb2 NMR or MassBank LC-MS/MS or EI "
                    "spectra, or a small RoBERTa on SMILES by masked-language modelling. "
                    "These are the recipes of the shipped frozen encoders; acml pretrain "
                    "--encoder-checkpoint trains ACML against the file written.",
        examples=["acml pretrain-encoder --modality nmr_13c --data "
                  "deepchem_acml/datasets/nmrshiftdb2_13c_demo.csv.gz --epochs 2 "
                  "--out runs/nmr_13c_autoencoder.pt",
                  "acml pretrain-encoder --modality ms_lc --encoder contrastive --epochs 40 "
                  "--out runs/ms_lc_contrastive.pt"],
        parents=[own, data_size_options(), fitting_options(15, 128, 1e-3), seed_options(),
                 device_options()])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import NUCLEUS_OF, read_pairs, with_inchikeys
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer, NMRSpectrumFeaturizer
    from deepchem_acml.modalities.spectra import SPECTRUM_MODALITIES, save_spectrum_encoder
    from deepchem_acml.pretraining.spectrum_encoder import pretrain_spectrum_autoencoder
    from deepchem_acml.provenance import command_line

    frame, source = read_pairs(args.modality, args.data, args.max_molecules)
    frame, _ = heavy_atom_filter(with_inchikeys(frame))
    train_rows, _, _ = inchikey_split(frame.inchikey.tolist())
    frame = frame.iloc[train_rows]
    if args.modality == "smiles":
        return _pretrain_smiles_roberta(args, frame, source)
    if args.encoder == "contrastive":
        from deepchem_acml.data.pairs import MASSBANK_KIND_OF

        if args.modality not in MASSBANK_KIND_OF:
            raise SystemExit("--encoder contrastive is for ms_lc and ms_gc")
        return _pretrain_tandem_encoder(args, source)
    if args.modality in NUCLEUS_OF:
        featurizer = NMRSpectrumFeaturizer(NUCLEUS_OF[args.modality], broadening=args.broadening)
    else:
        featurizer = MassSpectrumFeaturizer()
    result = featurizer.featurize_with_report(frame.spectrum.tolist())
    what = SPECTRUM_MODALITIES[args.modality]
    print(f"{what} spectra from {source}: {result.summary(5)}")
    model, history = pretrain_spectrum_autoencoder(
        result.features, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed, device=args.device)
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


def _pretrain_smiles_roberta(args: argparse.Namespace, frame, source: str) -> int:
    from deepchem_acml.featurizers.molecule_inputs import canonical_smiles
    from deepchem_acml.pretraining.smiles_mlm import pretrain_smiles_roberta
    from deepchem_acml.provenance import command_line

    canonical = [canonical_smiles(s) for s in frame.smiles]  # as the featurizer feeds the encoder
    print(f"{len(canonical)} SMILES from {source} (validation/test molecules of the canonical "
          "split left out)")
    _, history = pretrain_smiles_roberta(
        canonical, args.out, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, hidden_size=args.hidden_dim, seed=args.seed,
        device=args.device,
        provenance={"command": command_line(), "data": f"canonical SMILES from {Path(source).name}",
                    "data_licence": DATA_LICENCE["smiles"],
                    "excluded": "molecules in the valid/test buckets of inchikey_split(seed=0)",
                    "date": datetime.date.today().isoformat()})
    last = history[-1]
    print(f"wrote {args.out}: masked-token accuracy {last['valid_accuracy']:.3f} on held-out "
          f"SMILES (commonest token: {last['commonest_token_accuracy']:.3f})")
    return 0


def _pretrain_tandem_encoder(args: argparse.Namespace, source: str) -> int:
    """Every MassBank spectrum of the training compounds (not one per compound), with its
    metadata, through the contrastive recipe."""
    import numpy as np

    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF, with_inchikeys
    from deepchem_acml.data.spectrum_files import read_massbank, spectrum_inputs
    from deepchem_acml.data.splits import inchikey_split
    from deepchem_acml.featurizers.spectra import TandemSpectrumFeaturizer
    from deepchem_acml.modalities.spectra import (
        SPECTRUM_MODALITIES,
        TANDEM_MISSING_METADATA,
        save_spectrum_encoder,
    )
    from deepchem_acml.pretraining.spectrum_contrastive import pretrain_spectrum_contrastive
    from deepchem_acml.provenance import command_line

    # the same keys, filter and split as the one-spectrum-per-compound pairs ACML trains on
    spectra = read_massbank(source, kind=MASSBANK_KIND_OF[args.modality], all_spectra=True)
    spectra, _ = heavy_atom_filter(with_inchikeys(spectra))
    spectra = spectra.iloc[inchikey_split(spectra.inchikey.tolist())[0]]
    # EI spectra have no precursor, adduct or ion mode: no warning for them
    featurizer = TandemSpectrumFeaturizer(
        missing_metadata=TANDEM_MISSING_METADATA.get(args.modality, "warn"))
    result = featurizer.featurize_with_report(spectrum_inputs(spectra))
    groups = spectra.inchikey.to_numpy()[result.indices]
    what = SPECTRUM_MODALITIES[args.modality]
    print(f"{what} spectra from {source}: {result.summary(5)}; "
          f"{len(set(groups))} training compounds")
    encoder, history = pretrain_spectrum_contrastive(
        np.stack(result.features), groups, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed, device=args.device)
    best = max(history, key=lambda h: h["valid_same_compound_top1"])
    provenance = {
        "recipe": "deepchem_acml.pretraining.spectrum_contrastive.pretrain_spectrum_contrastive",
        "command": command_line(),
        "data": f"{what} spectra from {Path(source).name}, spectra only (compound identity "
                "as the only label)",
        "data_licence": DATA_LICENCE["ms"], "n_spectra": len(result.features),
        "n_compounds": len(set(groups)),
        "excluded": "molecules in the valid/test buckets of inchikey_split(seed=0)",
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "seed": args.seed, "best_epoch": best["epoch"],
        "valid_same_compound_top1": best["valid_same_compound_top1"],
        "date": datetime.date.today().isoformat(),
    }
    save_spectrum_encoder(args.out, encoder, featurizer, provenance)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"provenance": provenance, "history": history}, indent=2))
    print(f"wrote {args.out}: a compound's other spectrum found first among "
          f"{best['valid_same_compound_top1']:.3f} of held-out compounds (epoch {best['epoch']})")
    return 0
