"""`acml pretrain` as a user meets it: another run's state refused, rows numbered as in the input
file with accurate reasons, clear errors for empty data and empty splits, collapsed models
flagged. Run in-process through `acml`'s own entry point (one import of torch for all)."""
import json

import numpy as np
import pandas as pd
import pytest

from deepchem_acml.cli.main import main
from deepchem_acml.featurizers.base import FAILURE_ROW_COLUMN

pytestmark = pytest.mark.torch

SMALL = ["--epochs", "1", "--hidden-dim", "16", "--projection-dim", "16", "--batch-size", "32",
         "--checkpoint-every", "0"]


@pytest.fixture(scope="module")
def two_csvs(tmp_path_factory, nmr_frame):
    folder = tmp_path_factory.mktemp("pairs")
    first, second = folder / "first.csv", folder / "second.csv"
    nmr_frame.iloc[3000:3120][["smiles", "spectrum"]].to_csv(first, index=False)
    nmr_frame.iloc[3200:3320][["smiles", "spectrum"]].to_csv(second, index=False)
    return first, second


def _pretrain(capsys, *arguments):
    code = main(["pretrain", *map(str, arguments)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_pretrain_refuses_another_runs_state_and_restart_starts_over(two_csvs, tmp_path, capsys):
    first, second = two_csvs
    out = tmp_path / "run"
    code, _, err = _pretrain(capsys, "--data", first, "--out", out, *SMALL)
    assert code == 0, err
    metrics = (out / "metrics.json").read_text()
    # other data and another learning rate: refused, naming both, with a command-line fix
    code, _, err = _pretrain(capsys, "--data", second, "--out", out, *SMALL,
                             "--learning-rate", "0.01")
    assert code == 2
    assert "the data (--data" in err and "--learning-rate (0.001 there, 0.01 here)" in err
    assert "add --restart to start over, or use another --out" in err
    assert (out / "metrics.json").read_text() == metrics  # nothing of the first run touched
    # another width: the same refusal, not a Python fix
    code, _, err = _pretrain(capsys, "--data", first, "--out", out, *SMALL[:2],
                             "--hidden-dim", "32", *SMALL[4:])
    assert code == 2 and "--hidden-dim (16 there, 32 here)" in err and "load(" not in err
    # --restart: the second run from scratch, and metrics.json names it alone
    code, out_text, err = _pretrain(capsys, "--data", second, "--out", out, *SMALL,
                                    "--learning-rate", "0.01", "--restart")
    assert code == 0, err
    assert "resuming" not in err and "--restart: removed" in out_text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["source"] == str(second)
    assert metrics["model"]["hyperparameters"]["learning_rate"] == 0.01
    first_epoch = metrics["training"]["history"]
    assert len(first_epoch) == 1
    # the same command again resumes its own run (to more epochs: the epoch count may grow)
    code, _, err = _pretrain(capsys, "--data", second, "--out", out, *SMALL,
                             "--learning-rate", "0.01", "--epochs", "2")
    assert code == 0, err
    history = json.loads((out / "metrics.json").read_text())["training"]["history"]
    assert len(history) == 2 and history[:1] == first_epoch


def test_failures_are_numbered_by_input_row_with_accurate_reasons(nmr_frame, tmp_path, capsys):
    frame = nmr_frame.iloc[4000:4130][["smiles", "spectrum"]].reset_index(drop=True)
    frame.loc[7, "smiles"] = "C1CC"                     # RDKit cannot parse it
    frame.loc[20, "smiles"] = "C" * 60                  # 60 heavy atoms
    frame.loc[33, "smiles"] = ""                        # an empty SMILES cell
    frame.loc[96, "spectrum"] = ""                      # an empty spectrum cell
    data = tmp_path / "pairs.csv"
    frame.to_csv(data, index=False)
    code, out_text, err = _pretrain(capsys, "--data", data, "--out", tmp_path / "run", *SMALL)
    assert code == 0, err
    failures = pd.read_csv(tmp_path / "run" / "failures.csv", keep_default_na=False)
    assert failures.columns.tolist() == [FAILURE_ROW_COLUMN, "input", "reason"]
    reasons = dict(zip(failures[FAILURE_ROW_COLUMN], failures.reason))
    assert reasons == {7: "RDKit could not parse the SMILES",
                       20: "60 heavy atoms, outside 3..50", 33: "no SMILES in the record",
                       96: "nmr_13c: empty peak list"}
    # row n of failures.csv is row n of the input (0 = the first row under the header)
    assert failures.input[failures[FAILURE_ROW_COLUMN] == 7].item() == pd.read_csv(data).smiles[7]
    assert ("set aside: 1 no SMILES, 1 RDKit could not parse the SMILES, 1 outside 3..50 heavy "
            "atoms (rows numbered from 0") in out_text
    assert f"row 96: {frame.smiles[96]!r}: nmr_13c: empty peak list" in out_text


def write_mgf(path, frame, without_smiles=()):
    """MassBank records (real spectra) as an MGF file; records in ``without_smiles`` get none."""
    blocks = []
    for i, row in enumerate(frame.itertuples()):
        peaks = "\n".join(f"{mz} {intensity}" for mz, intensity
                          in zip(row.spectrum["mz"], row.spectrum["intensities"]))
        smiles = "" if i in without_smiles else row.smiles
        blocks.append(f"BEGIN IONS\nPEPMASS={row.precursor_mz}\nSMILES={smiles}\n"
                      f"TITLE={row.accession}\n{peaks}\nEND IONS\n")
    path.write_text("\n".join(blocks))
    return path


@pytest.fixture(scope="module")
def massbank():
    from deepchem_acml.data.pairs import read_pairs
    from deepchem_acml.data.sources import EMBEDDED_MASSBANK

    return read_pairs("ms_lc", EMBEDDED_MASSBANK)[0]


def test_an_mgf_record_without_smiles_is_reported_as_such(massbank, tmp_path, capsys):
    data = write_mgf(tmp_path / "spectra.mgf", massbank.head(80), without_smiles={4})
    code, out_text, err = _pretrain(capsys, "--modality", "ms_lc", "--data", data,
                                    "--out", tmp_path / "run", *SMALL)
    assert code == 0, err
    failures = pd.read_csv(tmp_path / "run" / "failures.csv", keep_default_na=False)
    assert failures[failures[FAILURE_ROW_COLUMN] == 4].reason.item() == "no SMILES in the record"
    assert "set aside: 1 no SMILES (rows numbered from 0" in out_text


def test_seven_mgf_records_name_the_empty_split_and_leave_no_folder(massbank, tmp_path, capsys):
    data = write_mgf(tmp_path / "seven.mgf", massbank.head(7))
    out = tmp_path / "new" / "run"
    code, _, err = _pretrain(capsys, "--modality", "ms_lc", "--data", data, "--out", out, *SMALL)
    assert code == 2
    assert "split is empty or too small" in err and "at least 2 molecules" in err
    assert "valid" in err.split("split is")[0] and "Traceback" not in err
    assert not out.exists()  # the folder this run created is gone
    kept = tmp_path / "kept"  # a folder that was there before stays
    kept.mkdir()
    assert _pretrain(capsys, "--modality", "ms_lc", "--data", data, "--out", kept, *SMALL)[0] == 2
    assert kept.is_dir()


@pytest.mark.parametrize("content", ["", "smiles,spectrum\n"], ids=["empty", "header only"])
def test_empty_data_file_is_named_and_leaves_no_folder(content, tmp_path, capsys):
    data = tmp_path / "empty.csv"
    data.write_text(content)
    code, _, err = _pretrain(capsys, "--data", data, "--out", tmp_path / "run", *SMALL)
    assert code == 2 and str(data) in err and "a header line with smiles and spectrum" in err
    assert "No columns to parse" not in err and not (tmp_path / "run").exists()


def test_a_collapsed_run_is_flagged_in_the_console_and_metrics(nmr_frame, tmp_path, capsys):
    """600 molecules, 3 epochs (the demo's settings otherwise): the graph projections collapse
    onto one direction, and the run says so."""
    from deepchem_acml.cli.pretrain import run_pretraining

    metrics = run_pretraining(nmr_frame.head(600), tmp_path / "run", source="embedded subset",
                              epochs=3, checkpoint_every=0)
    out_text = capsys.readouterr().out
    assert metrics["collapse"]["valid_graph_projection_mean_cosine"] > 0.99
    assert any(w.startswith("collapsed graph projections") for w in metrics["warnings"])
    assert "WARNING: collapsed graph projections" in out_text
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["warnings"] == metrics["warnings"]


def test_the_collapse_detector_passes_spread_embeddings_and_flags_constant_ones():
    from deepchem_acml.evaluation.retrieval import (
        collapse_warnings,
        mean_pairwise_cosine,
        retrieval_report,
    )

    rng = np.random.default_rng(0)
    graph = rng.standard_normal((64, 16))
    modality = graph + 0.1 * rng.standard_normal((64, 16))
    healthy = retrieval_report(graph, modality, pool_size=32, n_draws=2)
    assert collapse_warnings(mean_pairwise_cosine(graph), healthy) == []
    constant = np.tile(rng.standard_normal(16), (64, 1)) + 1e-4 * graph
    flat = retrieval_report(np.tile(graph[0], (64, 1)), modality, pool_size=32, n_draws=2)
    warnings = collapse_warnings(mean_pairwise_cosine(constant), flat)
    assert warnings[0].startswith("collapsed graph projections")
    assert warnings[1].startswith("retrieval at chance:") and "graph → modality" in warnings[1]


def test_train_refuses_a_state_written_with_another_run_identity(small_frame, small_model_kwargs,
                                                                 tmp_path):
    """The library door behind `acml pretrain`: ACMLModel.train keeps the identity in the
    state and will not continue a state of another run."""
    from deepchem_acml import ACMLModel

    model = ACMLModel("nmr_13c", **small_model_kwargs)
    dataset, _ = model.build_dataset(small_frame.smiles, small_frame.spectrum)
    state = tmp_path / "state.pt"
    model.train(dataset, nb_epoch=1, checkpoint_path=state, progress=False,
                run_identity={"data": {"sha256": "a"}, "seed": 0})
    again = ACMLModel("nmr_13c", **small_model_kwargs)
    with pytest.raises(ValueError, match=r"differs in: data, seed \(0 there, 1 here\)"):
        again.train(dataset, nb_epoch=2, checkpoint_path=state, progress=False,
                    run_identity={"data": {"sha256": "b"}, "seed": 1})
    history = again.train(dataset, nb_epoch=2, checkpoint_path=state, progress=False,
                          run_identity={"data": {"sha256": "a"}, "seed": 0})
    assert [h["epoch"] for h in history] == [1, 2]  # the same run continues
