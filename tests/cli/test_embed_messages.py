"""`acml embed` as DeepChem and a terminal see it (issue 34, items 4, 6, 7, 8): a DiskDataset
output that ``dc.data.DiskDataset(OUT)`` loads, Ctrl-C without a traceback and a rerun that
says where it resumes, a missing pyarrow named by its extra, an unknown model blamed on
``--pretrained``."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from deepchem_acml.cli.main import main

from .test_demo import _acml

pytestmark = pytest.mark.torch


def acml(capsys, *argv):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main(["embed", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def smiles_file(tmp_path, nmr_frame):
    smiles = nmr_frame.smiles.iloc[:600].tolist()
    smiles[3] = "C1CC"  # fails: the dataset leaves it out, the failure list names it
    path = tmp_path / "in.smi"
    path.write_text("\n".join(smiles) + "\n")
    return path, smiles


def test_diskdataset_output_is_a_deepchem_dataset_with_smiles_ids(smiles_file, tmp_path,
                                                                   capsys):
    import deepchem as dc

    path, smiles = smiles_file
    out = tmp_path / "dd"
    code, _, err = acml(capsys, path, "--format", "diskdataset", "--out", out,
                        "--chunk-size", "250")
    assert code == 0, err
    dataset = dc.data.DiskDataset(str(out))
    kept = [s for i, s in enumerate(smiles) if i != 3]
    assert len(dataset) == 599 and dataset.ids.tolist() == kept
    assert dataset.y.shape == (599, 0) and dataset.w.shape == (599, 0)
    assert len(dataset.get_task_names()) == 0
    frame = dataset.to_dataframe()
    assert frame["ids"].tolist() == kept and frame.shape == (599, 129)
    X, y, w, ids = next(dataset.iterbatches(batch_size=64))
    assert X.shape == (64, 128) and y.shape == (64, 0)
    assert acml(capsys, path, "--out", tmp_path / "e.npy", "--chunk-size", "250")[0] == 0
    np.testing.assert_array_equal(dataset.X, np.delete(np.load(tmp_path / "e.npy"), 3, 0))


def test_an_unknown_pretrained_name_is_blamed_on_pretrained(smiles_file, tmp_path, capsys):
    path, _ = smiles_file
    code, _, err = acml(capsys, path, "--out", tmp_path / "e7.npy", "--pretrained", "nmr13c")
    assert code == 2
    assert "--pretrained nmr13c" in err and "--out" not in err
    assert "'nmr_13c'" in err and "'smiles'" in err  # the shipped names are listed
    assert not (tmp_path / "e7.npy").exists()


def test_parquet_without_pyarrow_names_the_extra_without_a_traceback(smiles_file, tmp_path,
                                                                     capsys, monkeypatch):
    path, _ = smiles_file
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    code, _, err = acml(capsys, path, "--format", "parquet", "--out", tmp_path / "p")
    assert code == 2
    assert err.strip().splitlines() == [
        "acml embed: error: Parquet input or output needs pyarrow: pip install "
        "'deepchem-acml[parquet]'"]


def test_ctrl_c_stops_with_one_line_and_the_rerun_says_where_it_resumes(tmp_path, nmr_frame):
    """A real SIGINT to the process group, as a terminal's Ctrl-C sends it (worker processes
    included), while two processes embed."""
    smiles = (nmr_frame.smiles.tolist() * 3)[:20000]
    path, out = tmp_path / "big.smi", tmp_path / "e.npy"
    path.write_text("\n".join(smiles) + "\n")
    command = _acml() + ["embed", str(path), "--out", str(out), "--chunk-size", "500",
                         "--jobs", "2"]
    # (SIGINT back to its default in the child: a shell that starts this suite in the
    # background, as `make test &` does, leaves SIGINT ignored, and Python keeps it so)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = tmp_path / "e.npy.state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["chunks_done"] >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    done = json.loads(state.read_text())["chunks_done"] * 500
    assert f"acml embed: interrupted; {done:,} of 20,000 rows are done in {out}" in err
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"acml embed: resuming at row {done:,} of 20,000 ({out})" in rerun.stderr
    assert np.isfinite(np.load(out)).all()
