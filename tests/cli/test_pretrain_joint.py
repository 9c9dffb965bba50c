"""Joint pretraining (`acml pretrain --modality A B ...`) on real nmrshiftdb2 records: molecules
with 13C only, 1H only or both, all with SMILES."""
import json

import numpy as np
import pandas as pd
import pytest

from deepchem_acml.cli.pretrain import joint_pairs, run_pretraining
from deepchem_acml.data.sources import EMBEDDED_NMR_1H, EMBEDDED_NMR_13C

pytestmark = pytest.mark.torch


def test_joint_pairs_merge_modalities_by_inchikey_and_mask_what_is_missing():
    frame, source = joint_pairs(["nmr_13c", "nmr_1h", "smiles"],
                                paths={"nmr_13c": EMBEDDED_NMR_13C, "nmr_1h": EMBEDDED_NMR_1H})
    assert "nmr_13c" in source and "nmr_1h" in source
    assert frame.inchikey.is_unique and frame.smiles.notna().all()
    keys_13c = set(pd.read_csv(EMBEDDED_NMR_13C).inchikey)
    keys_1h = set(pd.read_csv(EMBEDDED_NMR_1H).inchikey)
    assert set(frame.inchikey) == keys_13c | keys_1h  # no molecule dropped
    has_13c, has_1h = frame.nmr_13c.notna(), frame.nmr_1h.notna()
    assert has_1h.sum() == len(keys_1h)
    assert (has_13c & has_1h).any() and (has_13c & ~has_1h).any() and (~has_13c & has_1h).any()


def test_joint_pretraining_writes_per_modality_retrieval_and_a_loadable_checkpoint(tmp_path):
    from deepchem_acml import JointACMLModel

    frame, source = joint_pairs(["nmr_13c", "nmr_1h", "smiles"],
                                paths={"nmr_13c": EMBEDDED_NMR_13C, "nmr_1h": EMBEDDED_NMR_1H})
    # every 1H molecule and as many 13C-only ones, so all three modalities reach the test split
    frame = pd.concat([frame[frame.nmr_1h.notna()], frame[frame.nmr_1h.isna()].head(500)])
    frame.loc[frame.index[3], "nmr_1h"] = "not a peak list"
    out = tmp_path / "joint"
    metrics = run_pretraining(frame, out, source=source, modality=["nmr_13c", "nmr_1h", "smiles"],
                              epochs=2, hidden_dim=32, projection_dim=32, batch_size=64,
                              pool_size=32, checkpoint_every=0)
    assert set(metrics["retrieval"]) == {"nmr_13c", "nmr_1h", "smiles"}
    counts = metrics["data"]["n_with_modality"]["test"]
    assert counts["smiles"] == metrics["data"]["n_test"] > counts["nmr_13c"] > 0
    assert 0 < counts["nmr_1h"] < metrics["data"]["n_test"]
    top10 = {name: report["pools"]["modality_to_graph"]["top10"]
             for name, report in metrics["retrieval"].items()}
    assert all(0.0 <= value <= 1.0 for value in top10.values()), top10
    # ChemNet's SMILES side aligns within two epochs: well above chance (10 of 32 = 0.31)
    assert top10["smiles"] > 1.5 * 10 / 32, top10
    failures = pd.read_csv(out / "failures.csv")
    assert failures["reason"].str.contains("nmr_1h").any()  # the bad 1H row, reported
    saved = np.load(out / "test_embeddings.npz")
    assert saved["nmr_1h_graph_projection"].shape == (counts["nmr_1h"], 32)
    restored = JointACMLModel.load(out / "acml_joint.pt")
    assert list(restored.modalities) == ["nmr_13c", "nmr_1h", "smiles"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["modalities"][2]["name"] == "smiles"
