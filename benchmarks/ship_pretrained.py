"""Ship a trained model under ``deepchem_acml/pretrained`` as ``acml_<name>.pt`` (float16
weights, no optimizer state) with its ``metrics.json``. For an MS model trained against a
contrastive spectrum encoder (``--encoder``), that encoder ships too, as
``<modality>_contrastive_encoder.pt``, and the model's modality options are rewritten from the
training run's encoder path to the portable ``encoder="contrastive"``. Refuses to write unless
the shipped copy retrieves the held-out molecules as the trained model does (pools of 128
within 0.01): MassBank's held-out spectra for MS, the run's own test split otherwise.

    .venv/bin/python benchmarks/ship_pretrained.py --model runs/pretrain_ms_lc_tandem/acml_ms_lc.pt \\
        --encoder runs/ms_encoders/ms_lc_contrastive.pt --name ms_lc_fragments
    .venv/bin/python benchmarks/ship_pretrained.py \\
        --model runs/pretrain_smiles_distill20/acml_smiles.pt --name smiles_distilled
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
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--encoder", type=Path, default=None,
                        help="MS models: the contrastive spectrum encoder they were trained with")
    parser.add_argument("--name", required=True, help="the shipped name (acml_<name>.pt)")
    args = parser.parse_args(argv)
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
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)" + (
        f" and {encoder_file} ({encoder_file.stat().st_size / 1e6:.1f} MB)" if encoder_file else ""))
    return 0


def run_test_split(model_path: Path):
    """The molecules of the pretraining run's test split (``test_embeddings.npz`` beside the
    checkpoint), as a frame whose modality input is the SMILES (smiles and image models)."""
    import pandas as pd

    smiles = np.load(model_path.parent / "test_embeddings.npz", allow_pickle=True)["smiles"]
    return pd.DataFrame({"smiles": list(smiles), "spectrum": list(smiles)})


if __name__ == "__main__":
    sys.exit(main())
