
import pytest
import torch

from deepchem_acml.checkpoints import CheckpointError, load_checkpoint_file, save_checkpoint_file


def test_round_trip_records_kind_and_versions(tmp_path):
    path = save_checkpoint_file(tmp_path / "c.pt", {"w": torch.ones(2), "cfg": {"a": 1}}, kind="x")
    data = load_checkpoint_file(path, kind="x")
    assert data["cfg"] == {"a": 1} and torch.equal(data["w"], torch.ones(2))
    assert data["package_version"] and data["torch_version"]
    assert not list(tmp_path.glob("*.tmp"))


class _Payload:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED",))


def test_pickled_code_is_refused_and_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"kind": "acml_model", "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint_file(path)
    assert not (tmp_path / "PWNED").exists()


def test_wrong_kind_and_foreign_files(tmp_path):
    path = save_checkpoint_file(tmp_path / "c.pt", {}, kind="spectrum_autoencoder")
    with pytest.raises(CheckpointError, match="expected 'acml_model'"):
        load_checkpoint_file(path, kind="acml_model")
    torch.save({"state": torch.ones(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a deepchem-acml checkpoint"):
        load_checkpoint_file(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint_file(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "missing.pt")


def test_a_checkpoint_handed_to_the_wrong_reader_names_the_right_one():
    from deepchem_acml import ACMLModel
    from deepchem_acml.modalities.spectra import load_spectrum_modality, shipped_spectrum_encoder
    from deepchem_acml.shipped import pretrained_path

    with pytest.raises(CheckpointError, match=r"ACMLModel\.load"):
        load_spectrum_modality("nmr_13c", pretrained_path("nmr_13c"))
    with pytest.raises(CheckpointError, match=r"get_modality\(name, checkpoint=path\)"):
        ACMLModel.load(shipped_spectrum_encoder("nmr_13c"))
