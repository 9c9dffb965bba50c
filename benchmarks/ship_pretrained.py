"""Ship a trained model under ``deepchem_acml/pretrained`` as ``acml_<name>.pt`` (float16
weights, no optimizer state) with its ``metrics.json``. For an MS model trained against a
contrastive spectrum encoder (``--encoder``), that encoder ships too, as
``<modality>_contrastive_encoder.pt``, and the model's modality options are rewritten from the
training run's encoder path to the portable ``encoder="contrastive"``. Refuses to write unless
the shipped copy retrieves the held-out molecules as the trained model does (pools of 128
within 0.01): MassBank's held-out spectra for MS, the run's own test split otherwise.

    .venv/bin/python benchmarks/ship_pretrained.py \\
        --model runs/pretrain_ms_lc_tandem/acml_ms_lc.pt \\
        --encoder runs/ms_encoders/ms_lc_contrastive.pt --name ms_lc_fragments
    .venv/bin/python benchmarks/ship_pretrained.py \\
        --model runs/pretrain_smiles_distill20/acml_smiles.pt --name smiles_distilled

``--float16 NAME ...`` converts models already shipped with float32 weights in place, under
the same bar: the float16 copy must retrieve each modality's held-out molecules (the test
bucket of ``inchikey_split(seed=0)`` of its pretraining source, at most 1,024) as the float32
file does, pools of 128 within 0.01, or the float32 file stays:

    .venv/bin/python benchmarks/ship_pretrained.py --float16 nmr_13c nmr_1h joint
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

PRETRAINED = Path(__file__).resolve().parents[1] / "deepchem_acml" / "pretrained"


def half_encoder_copy(source: Path, target: Path) -> None:
    """The encoder checkpoint with float16 weights (read back into float32 by the loader)."""
    from deepchem_acml.checkpoints import half_precision, load_checkpoint_file, save_checkpoint_file
    from deepchem_acml.shipped import SPECTRUM_ENCODER_KIND

    data = load_checkpoint_file(source, kind=SPECTRUM_ENCODER_KIND)
    data["state_dict"] = half_precision(data["state_dict"])
    data["provenance"] = {**data.get("provenance", {}), "stored_as": "float16 weights"}
    for stamp in ("kind", "versions", "package_version", "torch_version"):
        data.pop(stamp, None)
    save_checkpoint_file(target, data, kind=SPECTRUM_ENCODER_KIND)
    if source.with_suffix(".json").exists():
        shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))


def pool_scores(model, frame) -> dict:
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    dataset, _ = model.build_dataset(frame.smiles.tolist(), frame.spectrum.tolist())
    return retrieval_in_pools(model.predict(dataset), model.project_modality(dataset.y), 128,
                              10, 0, ks=(1, 10))["modality_to_graph"]


def main(argv=None) -> int:
    from deepchem_acml import ACMLModel
    from deepchem_acml.modalities import get_modality

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ms_mass_baseline import held_out

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--encoder", type=Path, default=None,
                        help="MS models: the contrastive spectrum encoder they were trained with")
    parser.add_argument("--name", help="the shipped name (acml_<name>.pt)")
    parser.add_argument("--float16", nargs="+", metavar="NAME", default=None,
                        help="convert these shipped float32 models to float16 in place")
    args = parser.parse_args(argv)
    if args.float16:
        return 0 if all([convert_to_float16(name) for name in args.float16]) else 1
    if args.model is None or args.name is None:
        parser.error("--model and --name are required (or --float16 NAME ...)")
    trained = ACMLModel.load(args.model)
    modality = trained.modality.name
    encoder_file = None
    if args.encoder is not None:
        encoder_file = PRETRAINED / f"{modality}_contrastive_encoder.pt"
        half_encoder_copy(args.encoder, encoder_file)
        shipped_modality = get_modality(modality, encoder="contrastive")
        trained.modality.options, trained.modality.source = dict(shipped_modality.options), \
            shipped_modality.source
    target = PRETRAINED / f"acml_{args.name}.pt"
    trained.save(target, include_optimizer=False, weights_dtype="float16")
    shipped = ACMLModel.load(target)
    frame = held_out(modality) if args.encoder is not None else run_test_split(args.model)
    before, after = pool_scores(ACMLModel.load(args.model), frame), pool_scores(shipped, frame)
    print(f"pools of 128, trained: {before}; shipped: {after}")
    if max(abs(before[k] - after[k]) for k in before) > 0.01:
        target.unlink()
        raise SystemExit("the shipped copy retrieves differently: not shipped")
    metrics = json.loads((args.model.parent / "metrics.json").read_text())
    metrics["shipped_as"] = {"file": target.name, "weights": "float16", "pools_check": after,
                             **({"encoder": encoder_file.name} if encoder_file else {})}
    target.with_name(f"acml_{args.name}.metrics.json").write_text(json.dumps(metrics, indent=2))
    encoder_note = (f" and {encoder_file} ({encoder_file.stat().st_size / 1e6:.1f} MB)"
                    if encoder_file else "")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB){encoder_note}")
    return 0


def held_out_pairs(modality: str, limit: int = 1024):
    """Molecules of the test bucket of ``inchikey_split(seed=0)`` of ``modality``'s pretraining
    source (as ``acml pretrain`` reads it; SMILES models: the first 16,000 MOSES molecules),
    with their modality inputs, at most ``limit`` of them."""
    from deepchem_acml.data.nmrshiftdb2 import heavy_atom_filter
    from deepchem_acml.data.pairs import MODALITY_INPUT_COLUMN, read_pairs, with_inchikeys
    from deepchem_acml.data.splits import inchikey_split

    molecules = 16000 if modality in ("smiles", "image") else None
    frame, _ = heavy_atom_filter(with_inchikeys(read_pairs(modality, max_molecules=molecules)[0]))
    frame = frame.reset_index(drop=True)
    test = frame.iloc[inchikey_split(frame.inchikey.tolist(), seed=0)[2][:limit]]
    return list(test.smiles), list(test[MODALITY_INPUT_COLUMN[modality]])


def modality_scores(model, modality: str, smiles, inputs, dataset=None):
    """(pools-of-128 modality → graph retrieval of one modality of ``model``, the dataset
    used: built once, so that two copies of a model see the same frozen embeddings)."""
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    if dataset is None:
        mapping = {name: inputs if name == modality else [None] * len(smiles)
                   for name in model.modalities}
        dataset = model.build_dataset(smiles, mapping if len(mapping) > 1 else inputs)[0]
    rows, embeddings = model.modality_embeddings(dataset, modality)
    graph = model.predict(dataset)
    if graph.ndim == 3:
        graph = graph[:, list(model.modalities).index(modality)]
    scores = retrieval_in_pools(graph[rows], model.project_modality(embeddings, modality), 128,
                                10, 0, ks=(1, 10))["modality_to_graph"]
    return {k: round(float(v), 4) for k, v in scores.items()}, dataset


def convert_to_float16(name: str) -> bool:
    """Rewrite the shipped ``acml_<name>.pt`` with float16 weights if its held-out retrieval
    stays within 0.01 for every modality (else leave the float32 file); record the check in
    its ``metrics.json``. True when converted (or already float16)."""
    import tempfile

    import torch

    from deepchem_acml import ACMLModel
    from deepchem_acml.checkpoints import (
        KEPT_IN_FLOAT32,
        half_precision,
        load_checkpoint_file,
        save_checkpoint_file,
    )

    source = PRETRAINED / f"acml_{name}.pt"
    data = load_checkpoint_file(source)
    if not any(t.dtype == torch.float32 for k, t in data["model_state_dict"].items()
               if not any(kept in k for kept in KEPT_IN_FLOAT32)):
        print(f"{name}: already float16")
        return True
    data["model_state_dict"] = half_precision(data["model_state_dict"])
    kind = data.pop("kind")
    for stamp in ("package_version", "torch_version"):
        data.pop(stamp, None)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / source.name
        save_checkpoint_file(target, data, kind=kind)
        full, half = ACMLModel.load(source), ACMLModel.load(target)
        checks = {}
        for modality in full.modalities:
            smiles, inputs = held_out_pairs(modality, 512 if modality == "image" else 1024)
            before, dataset = modality_scores(full, modality, smiles, inputs)
            after, _ = modality_scores(half, modality, smiles, inputs, dataset)
            checks[modality] = {"molecules": len(smiles), "float32": before, "float16": after}
        print(f"{name}: {json.dumps(checks)}")
        if max(abs(c["float32"][k] - c["float16"][k]) for c in checks.values()
               for k in c["float32"]) > 0.01:
            print(f"{name}: the float16 copy retrieves differently; kept in float32")
            return False
        size = (source.stat().st_size, target.stat().st_size)
        shutil.move(str(target), source)
    metrics_path = source.with_name(f"acml_{name}.metrics.json")
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics["shipped_as"] = {**metrics.get("shipped_as", {}), "file": source.name,
                             "weights": "float16", "float16_check": checks}
    metrics_path.write_text(json.dumps(metrics, indent=2))
    print(f"{name}: float16, {size[0] / 1e6:.2f} MB -> {size[1] / 1e6:.2f} MB")
    return True


def run_test_split(model_path: Path):
    """The molecules of the pretraining run's test split (``test_embeddings.npz`` beside the
    checkpoint), as a frame whose modality input is the SMILES (smiles and image models)."""
    import pandas as pd

    smiles = np.load(model_path.parent / "test_embeddings.npz", allow_pickle=True)["smiles"]
    return pd.DataFrame({"smiles": list(smiles), "spectrum": list(smiles)})


if __name__ == "__main__":
    sys.exit(main())
