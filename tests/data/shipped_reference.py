"""Writes ``shipped_reference.npz``: what every shipped ACML checkpoint computes today.

The outputs of each shipped model on fixed molecules (graph embeddings, graph projections)
and on fixed modality embeddings (modality projections). ``tests/integration/
test_shipped_checkpoints.py`` compares the current code with them, so a refactor of the models
cannot change what users' checkpoints compute. Written at commit 3ace1c9 (before the models
were merged into one class); the entries of the checkpoints since stored with float16 weights
(``benchmarks/ship_pretrained.py --float16``: nmr_13c, nmr_1h, ms_lc, ms_gc, image, joint)
were rewritten from the float16 files, by the code that had just matched the 3ace1c9 entries
on the float32 files. Rerun only to record a deliberate change, naming what changed:

    .venv/bin/python tests/data/shipped_reference.py              # every entry
    .venv/bin/python tests/data/shipped_reference.py nmr_13c joint  # those models' entries only
"""
from pathlib import Path

import numpy as np

SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "O=C(O)CCl",
          "C1CCCCC1N", "c1ccc2ccccc2c1", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"]
SINGLE = ["nmr_13c", "nmr_1h", "smiles", "image", "ms_lc", "ms_gc"]
OUT = Path(__file__).with_name("shipped_reference.npz")


def fixed_modality_embeddings(dim: int) -> np.ndarray:
    return np.random.default_rng(dim).normal(size=(5, dim)).astype(np.float32)


def reference_arrays() -> dict:
    from deepchem_acml import ACMLModel, JointACMLModel

    arrays = {}
    for name in SINGLE:
        model = ACMLModel.from_pretrained(name)
        dataset, _ = model.featurize_graphs(SMILES)
        arrays[f"{name}/embedding"] = model.predict_embedding(dataset)
        arrays[f"{name}/projection"] = model.predict(dataset)
        modality = fixed_modality_embeddings(model.modality.embedding_dim)
        arrays[f"{name}/modality_projection"] = model.project_modality(modality)
    joint = JointACMLModel.from_pretrained()
    dataset, _ = joint.featurize_graphs(SMILES)
    arrays["joint/embedding"] = joint.predict_embedding(dataset)
    arrays["joint/projection"] = joint.predict(dataset)
    for name, modality in joint.modalities.items():
        embeddings = fixed_modality_embeddings(modality.embedding_dim)
        arrays[f"joint/{name}/modality_projection"] = joint.project_modality(name, embeddings)
    return arrays


def reference_arrays_of(names) -> dict:
    """:func:`reference_arrays`, the entries of the models in ``names`` only (``"joint"``
    for the joint model), the other entries kept from the file."""
    fresh = reference_arrays()
    kept = dict(np.load(OUT)) if OUT.exists() else {}
    chosen = {k: v for k, v in fresh.items() if k.split("/")[0] in names}
    return {**kept, **chosen}


if __name__ == "__main__":
    import sys

    names = sys.argv[1:]
    np.savez_compressed(OUT, **(reference_arrays_of(names) if names else reference_arrays()))
    print(f"wrote {OUT}" + (f" (entries of {', '.join(names)})" if names else ""))
