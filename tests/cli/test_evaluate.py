"""`acml evaluate` writes a complete report for a checkpoint, offline."""
import json
import subprocess

import pytest

from deepchem_acml import ACMLModel

from .test_demo import _acml

pytestmark = pytest.mark.torch


def test_evaluate_writes_report_and_figures(tmp_path, nmr_frame, small_model_kwargs):
    frame = nmr_frame.iloc[2000:2240]
    model = ACMLModel("nmr_13c", **small_model_kwargs)
    dataset, _ = model.build_dataset(frame.smiles, frame.spectrum)
    model.fit(dataset, nb_epoch=3, checkpoint_interval=0, progress=False)
    model.save(tmp_path / "model.pt")
    data = tmp_path / "pairs.csv"
    rows = frame[["smiles", "spectrum"]].copy()
    rows.loc[len(rows) + 5000] = ["C1CC", rows.spectrum.iloc[0]]  # one bad row, reported
    rows.to_csv(data, index=False)

    completed = subprocess.run(
        _acml() + ["evaluate", "--checkpoint", str(tmp_path / "model.pt"), "--data", str(data),
                   "--split", "all", "--n-draws", "2", "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["n_input"] == 241 and report["n_evaluated"] == 240
    assert report["failures"][0]["input"] == "C1CC"
    assert report["retrieval"]["pool_size"] == 128
    assert set(report["isomers"]) == {"constitutional", "stereo"}
    assert set(report["properties"]["embeddings"]) == {"ACML", "untrained GIN", "ECFP4"}
    mw = report["properties"]["embeddings"]["ACML"]["MolWt"]
    assert {"linear_r", "linear_r2", "forest_r2", "mutual_information", "strongest_r"} <= set(mw)
    for figure in report["figures"].values():
        assert (tmp_path / "report" / figure).stat().st_size > 5000
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Isomer discrimination" in markdown and "## Property correlation" in markdown


def test_evaluate_puts_an_ms_model_beside_the_mass_rule_offline(tmp_path):
    """No --data: an MS model is evaluated on the embedded MassBank subset, with the mass rule
    in the same pools and the mass-matched pools (chance stated)."""
    completed = subprocess.run(  # a shipped model by name
        _acml() + ["evaluate", "--checkpoint", "ms_lc", "--split", "all",
                   "--n-draws", "2", "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Against the mass rule" in completed.stdout
    mass = json.loads((tmp_path / "report" / "report.json").read_text())["mass"]
    assert mass["kind"] == "lc" and mass["n_with_precursor"] > 250
    assert mass["mass_only"]["top1"] > 0.8  # mass alone tells most of a random pool apart
    # the window keeps every right answer the mass rule finds in its top 10
    assert mass["mass_then_model"]["top10"] >= mass["mass_only"]["top10"] - 0.01
    matched = mass["mass_matched"]
    assert matched["n_queries"] > 20 and 0 < matched["chance"]["top1"] < 1
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Against the mass rule" in markdown and "Mass-matched pools" in markdown
