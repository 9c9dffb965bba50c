"""`acml evaluate` writes a complete report for a checkpoint, offline."""
import json
import subprocess

import numpy as np
import pytest

from deepchem_acml import ACMLModel
from deepchem_acml.cli.main import main
from deepchem_acml.data.smiles_files import file_sha256

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
        _acml() + ["evaluate", "--pretrained", str(tmp_path / "model.pt"), "--data", str(data),
                   "--split", "all", "--n-draws", "2", "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["n_input"] == 241 and report["n_evaluated"] == 240
    # the bad row is the file's last data row: 240, counted from 0 under the header
    assert report["failures"] == [{"row_0based": 240, "input": "C1CC",
                                   "reason": "graph: RDKit could not parse the SMILES"}]
    # what was evaluated: the checkpoint (path, hash), the user's data and the split
    assert report["checkpoint"] == {"path": str((tmp_path / "model.pt").resolve()),
                                    "sha256": file_sha256(tmp_path / "model.pt")}
    assert report["data"]["source"] == str(data) and report["data"]["split"] == "every row"
    assert f"Evaluating {tmp_path / 'model.pt'} on every row of {data}" in completed.stdout
    assert "property probes" in completed.stderr and "28/28" in completed.stderr  # the bar
    assert report["retrieval"]["pool_size"] == 128
    assert set(report["isomers"]) == {"constitutional", "stereo"}
    assert set(report["properties"]["embeddings"]) == {"ACML", "untrained GIN", "ECFP4"}
    mw = report["properties"]["embeddings"]["ACML"]["MolWt"]
    assert {"linear_r", "linear_r2", "forest_r2", "mutual_information", "strongest_r"} <= set(mw)
    for figure in report["figures"].values():
        assert (tmp_path / "report" / figure).stat().st_size > 5000
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Isomer discrimination" in markdown and "## Property correlation" in markdown
    assert report["checkpoint"]["sha256"] in markdown and f"Data: {data} (241 rows)" in markdown


def test_evaluate_puts_an_ms_model_beside_the_mass_rule_offline(tmp_path):
    """No --data: an MS model is evaluated on the embedded MassBank subset, with the mass rule
    in the same pools and the mass-matched pools (chance stated)."""
    completed = subprocess.run(  # a shipped model by name
        _acml() + ["evaluate", "--pretrained", "ms_lc", "--split", "all",
                   "--n-draws", "2", "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Against the mass rule" in completed.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["data"]["source"].endswith("as no --data was given")
    assert "embedded MassBank subset" in report["data"]["source"]
    assert report["checkpoint"]["shipped_name"] == "ms_lc"
    assert "as no --data was given" in completed.stdout
    mass = json.loads((tmp_path / "report" / "report.json").read_text())["mass"]
    assert mass["kind"] == "lc" and mass["n_with_precursor"] > 250
    assert mass["mass_only"]["top1"] > 0.8  # mass alone tells most of a random pool apart
    # the window keeps every right answer the mass rule finds in its top 10
    assert mass["mass_then_model"]["top10"] >= mass["mass_only"]["top10"] - 0.01
    matched = mass["mass_matched"]
    assert matched["n_queries"] > 20 and 0 < matched["chance"]["top1"] < 1
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Against the mass rule" in markdown and "Mass-matched pools" in markdown


def test_evaluate_without_isomers_says_so_and_draws_readable_figures(tmp_path, nmr_frame,
                                                                     small_model_kwargs, capsys):
    """Data with no two molecules of one formula: no accuracy (not NaN) for isomers; the
    figures: integer k ticks, legends beside the plots, labelled map axes."""
    import matplotlib

    matplotlib.use("Agg")
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    from deepchem_acml.chem import mol_from_smiles
    from deepchem_acml.evaluation.report import (
        PROBE_FLOOR,
        embedding_map,
        probe_figure,
        topk_figure,
    )
    from deepchem_acml.evaluation.retrieval import DEFAULT_KS

    formulas = nmr_frame.smiles.map(lambda s: CalcMolFormula(mol_from_smiles(s)))
    frame = nmr_frame[~formulas.duplicated(keep=False)].head(40)
    data = tmp_path / "pairs.csv"
    rows = frame[["smiles", "spectrum"]].reset_index(drop=True)
    rows.loc[40] = ["", rows.spectrum[0]]  # an empty SMILES cell
    rows.loc[41] = ["CCCCO", ""]           # an empty spectrum cell
    rows.to_csv(data, index=False)
    model = ACMLModel("nmr_13c", **small_model_kwargs)
    model.save(tmp_path / "model.pt")
    code = main(["evaluate", "--pretrained", str(tmp_path / "model.pt"), "--data", str(data),
                 "--split", "all", "--n-draws", "1", "--out", str(tmp_path / "report")])
    console = capsys.readouterr()
    assert code == 0, console.err[-2000:]
    assert "no isomer groups in this data" in console.out and "nan" not in console.out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["failures"] == [
        {"row_0based": 40, "input": "", "reason": "no SMILES in the record"},
        {"row_0based": 41, "input": "CCCCO", "reason": "nmr_13c: empty peak list"}]
    assert report["isomers"]["constitutional"] == {"n_groups": 0, "n_molecules": 0,
                                                   "group_sizes": {},
                                                   "note": "no isomer groups in this data"}
    assert "no isomer groups in this data" in (tmp_path / "report" / "report.md").read_text()

    topk = topk_figure(report["retrieval"]).axes[0]
    assert topk.get_xticks().tolist() == list(DEFAULT_KS)
    probes = probe_figure(report["properties"]).axes[0]
    assert probes.get_ylim()[0] >= PROBE_FLOOR  # a very poor probe does not squash the rest
    for ax in (topk, probes):  # the legend starts right of the plot area
        ax.figure.canvas.draw()
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1
    embeddings = np.random.default_rng(0).standard_normal((40, 8))
    for method, label in (("pca", "principal component 1"), ("tsne", "t-SNE 1")):
        ax = embedding_map(embeddings, frame.smiles.tolist(), method=method).axes[0]
        assert ax.get_xlabel().startswith(label) and ax.get_ylabel()
