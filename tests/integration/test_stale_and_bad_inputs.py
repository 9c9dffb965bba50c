"""Nothing stale, nothing misaligned: DeepChem caches, pickles, checkpoints and peak text
under the inputs a new user tries."""
import os
import pickle
import shutil
import subprocess
import sys
import warnings

import deepchem as dc
import numpy as np
import pytest
import torch

from deepchem_acml import ACMLEmbedder, ACMLFeaturizer, ACMLGraphFeaturizer, ACMLModel
from deepchem_acml.checkpoints import CheckpointError, load_checkpoint_file
from deepchem_acml.data.moleculenet import moleculenet_dir
from deepchem_acml.featurizers.base import FeaturizationError
from deepchem_acml.featurizers.spectra import parse_peak_list
from deepchem_acml.shipped import pretrained_path

pytestmark = pytest.mark.torch


def test_deepchem_cache_never_mixes_models(tmp_path):
    """Two checkpoints at the same path, one after the other, into one save_dir: the second
    load featurizes again instead of returning the first model's embeddings."""
    model_path = tmp_path / "my_model.pt"
    shutil.copy(pretrained_path("nmr_13c"), model_path)
    first = ACMLFeaturizer(str(model_path))
    first_name, first_embedding = str(first), first.featurize(["CCO"])
    shutil.copy(pretrained_path("smiles"), model_path)  # retrained: same name, new content
    second = ACMLFeaturizer(str(model_path))
    assert first_name != str(second) and first_name.startswith("ACMLFeaturizer_my_model_")
    np.testing.assert_array_equal(first.featurize(["CCO"]), first_embedding)  # its own weights
    assert "/" not in str(second)
    save_dir = tmp_path / "cache"
    loaded = []
    for featurizer in (ACMLFeaturizer("nmr_13c"), second):
        _, (train, _, _), _ = dc.molnet.load_delaney(
            featurizer=featurizer, splitter="scaffold", data_dir=str(moleculenet_dir("delaney")),
            save_dir=str(save_dir), transformers=[])
        loaded.append(np.asarray(train.X))
    assert not np.allclose(loaded[0], loaded[1])
    expected = ACMLFeaturizer(str(model_path)).featurize(list(train.ids[:5]))
    np.testing.assert_allclose(loaded[1][:5], expected, atol=1e-5)


def test_featurizers_pickle_small_after_use():
    smiles = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"] * 300
    for featurizer in (ACMLFeaturizer("nmr_13c"), ACMLGraphFeaturizer()):
        before = len(pickle.dumps(featurizer))
        featurizer.featurize(smiles)
        assert featurizer.last_report_ is not None  # still there for the user ...
        assert len(pickle.dumps(featurizer)) == before < 2000  # ... but not in the pickle


def test_the_failure_report_is_given_once():
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("deepchem_acml").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ACMLGraphFeaturizer().featurize(["CCO", "C1CC"])
    finally:
        logging.getLogger("deepchem_acml").removeHandler(handler)
    assert len([w for w in caught if "1 failed" in str(w.message)]) == 1
    assert not [r for r in records if "failed" in r.getMessage()]


def test_a_huge_molecule_is_reported_not_embedded():
    chain = "C" * 5000
    featurizer = ACMLFeaturizer("nmr_13c")
    result = featurizer.featurize_with_report(["CCO", chain])
    assert result.indices.tolist() == [0]
    assert "5000 heavy atoms" in result.failures[0].reason or "atoms" in result.failures[0].reason
    embedder = ACMLEmbedder("nmr_13c", on_error="nan").fit(["CCO"])
    out = embedder.transform(["CCO", chain])
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()
    assert np.abs(out[0]).max() < 100


def test_checkpoint_errors_say_what_is_wrong(tmp_path):
    text, noise, truncated = tmp_path / "text.pt", tmp_path / "noise.pt", tmp_path / "half.pt"
    text.write_text("epoch 3\nloss 0.1\n")
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    data = pretrained_path("nmr_13c").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_checkpoint_file(text)
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_checkpoint_file(noise)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_file(truncated)

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo unsafe",))

    torch.save({"kind": "acml", "x": Payload()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint_file(tmp_path / "unsafe.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a deepchem-acml checkpoint"):
        load_checkpoint_file(tmp_path / "foreign.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint file at /path/that/does"):
        ACMLModel.from_pretrained("/path/that/does/not/exist.pt")
    with pytest.raises(FileNotFoundError, match="no pretrained ACML model named 'nmr_14c'"):
        ACMLModel.from_pretrained("nmr_14c")


def test_the_cli_reports_a_text_file_checkpoint_in_one_line(tmp_path, capsys):
    from deepchem_acml.cli.main import main

    (tmp_path / "text.pt").write_text("not a model\n")
    (tmp_path / "in.smi").write_text("CCO\n")
    code = main(["embed", str(tmp_path / "in.smi"), "--out", str(tmp_path / "o.npy"),
                 "--pretrained", str(tmp_path / "text.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "is not a PyTorch checkpoint" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("text, positions, intensities", [
    ("41 100\n43 50\n57 20", [41, 43, 57], [100, 50, 20]),
    ("41\t100\r\n43\t50\r\n", [41, 43], [100, 50]),
    ("41,100\n43,50", [41, 43], [100, 50]),
    ("41:100 43:50 57:20", [41, 43, 57], [100, 50, 20]),
    ("1.2e2 1.3e2", [120, 130], [1, 1]),
    ("128.5,130.1, 22.0", [128.5, 130.1, 22.0], [1, 1, 1]),
])
def test_peak_text_forms(text, positions, intensities):
    found = parse_peak_list(text)
    np.testing.assert_allclose(found[0], positions)
    np.testing.assert_allclose(found[1], intensities)


@pytest.mark.parametrize("text", ["1,5", "41,5 100\n43,5 50", "41 100 3\n43 50", "41:100 43"])
def test_ambiguous_peak_text_is_refused(text):
    with pytest.raises(FeaturizationError):
        parse_peak_list(text)


def test_importing_the_package_and_deepchem_through_it_is_quiet():
    """The public names hold DeepChem's import-time log lines back (logs.quiet_logger, no
    import hook: the package leaves the import system as it found it)."""
    code = ("import sys\n"
            "finders = list(sys.meta_path)\n"
            "import deepchem_acml\n"
            "assert sys.meta_path == finders, sys.meta_path\n"
            "from deepchem_acml import NMRSpectrumFeaturizer, ACMLModel\n"
            "import logging\n"
            "assert logging.getLogger('deepchem').level == logging.NOTSET\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == "" and completed.stdout.strip() == ""


def test_acml_evaluate_with_a_text_file_checkpoint_is_one_line(tmp_path, capsys):
    from deepchem_acml.cli.main import main

    (tmp_path / "text.pt").write_text("not a model\n")
    code = main(["evaluate", "--checkpoint", str(tmp_path / "text.pt"), "--out",
                 str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 2 and "is not a PyTorch checkpoint" in err and "Traceback" not in err


def test_loading_a_benchmark_task_prints_no_rdkit_warnings(capfd):
    from deepchem_acml.evaluation.moleculenet import load_split_task

    capfd.readouterr()
    task = load_split_task("bbbp")
    captured = capfd.readouterr()
    assert len(task.smiles["train"]) > 1500
    assert "WARNING" not in captured.err and "valence" not in captured.err
