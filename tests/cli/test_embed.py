"""`acml embed`: streaming, failure side file, both formats, resume after an interruption."""
import subprocess

import numpy as np
import pandas as pd
import pytest

from deepchem_acml.cli import embed as embed_module

from .test_demo import _acml

pytestmark = pytest.mark.torch


@pytest.fixture
def smiles_csv(tmp_path, nmr_frame):
    smiles = nmr_frame.smiles.iloc[:1200].tolist()
    smiles[7], smiles[1100] = "C1CC", ""
    path = tmp_path / "in.csv"
    pd.DataFrame({"name": range(len(smiles)), "SMILES": smiles}).to_csv(path, index=False)
    return path, smiles


def test_embed_csv_to_npy_keeps_row_order_and_lists_failures(smiles_csv, tmp_path):
    path, smiles = smiles_csv
    out = tmp_path / "emb.npy"
    completed = subprocess.run(_acml() + ["embed", str(path), "--out", str(out),
                                          "--chunk-size", "500"],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    matrix = np.load(out)
    assert matrix.shape == (1200, 128)
    assert np.isnan(matrix[[7, 1100]]).all() and np.isfinite(np.delete(matrix, [7, 1100], 0)).all()
    failures = pd.read_csv(str(out) + ".failures.csv", keep_default_na=False)
    assert failures["row_0based"].tolist() == [7, 1100]
    from deepchem_acml.embedding import embed_smiles, load_graph_encoder
    from deepchem_acml.shipped import DEFAULT_ENCODER

    direct, _ = embed_smiles(load_graph_encoder(DEFAULT_ENCODER), smiles[600:610])
    np.testing.assert_allclose(matrix[600:610], direct, rtol=1e-4, atol=1e-5)


def test_interrupted_embedding_resumes_to_the_same_result(smiles_csv, tmp_path, monkeypatch):
    path, _ = smiles_csv
    reference = tmp_path / "straight.npy"
    embed_module.embed_file(path, reference, chunk_size=300, progress=False)

    calls = {"n": 0}
    real = embed_module._featurize_chunk

    def crash_on_third_chunk(smiles, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated interruption")
        return real(smiles, *args)

    resumed = tmp_path / "resumed.npy"
    monkeypatch.setattr(embed_module, "_featurize_chunk", crash_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        embed_module.embed_file(path, resumed, chunk_size=300, progress=False)
    monkeypatch.setattr(embed_module, "_featurize_chunk", real)
    summary = embed_module.embed_file(path, resumed, chunk_size=300, progress=False)
    assert summary["n_embedded"] == 1198 and summary["n_failed"] == 2
    np.testing.assert_array_equal(np.load(resumed), np.load(reference))
    assert (pd.read_csv(str(resumed) + ".failures.csv")["row_0based"].tolist()
            == pd.read_csv(str(reference) + ".failures.csv")["row_0based"].tolist())


def test_embed_to_diskdataset_and_clear_errors(smiles_csv, tmp_path):
    import deepchem as dc

    path, smiles = smiles_csv
    summary = embed_module.embed_file(path, tmp_path / "dd", fmt="diskdataset", chunk_size=500,
                                      progress=False)
    dataset = dc.data.DiskDataset(str(tmp_path / "dd"))
    assert len(dataset) == summary["n_embedded"] == 1198
    assert dataset.ids.tolist() == [s for i, s in enumerate(smiles) if i not in (7, 1100)]
    with pytest.raises(ValueError, match="has no column .smi."):
        embed_module.embed_file(path, tmp_path / "x.npy", smiles_column="smi", progress=False)


def test_parquet_in_and_out_and_gzipped_smi_give_the_npy_result(smiles_csv, tmp_path):
    """The same molecules as Parquet (input and output) and as a gzipped .smi file: every
    route gives the embeddings of the plain CSV → npy run, row for row."""
    import gzip

    path, smiles = smiles_csv
    reference = tmp_path / "reference.npy"
    embed_module.embed_file(path, reference, chunk_size=500, progress=False)
    expected = np.load(reference)

    parquet_in = tmp_path / "in.parquet"
    pd.DataFrame({"id": range(len(smiles)), "smiles": smiles}).to_parquet(parquet_in,
                                                                         row_group_size=256)
    summary = embed_module.embed_file(parquet_in, tmp_path / "out_parquet", fmt="parquet",
                                      chunk_size=500, progress=False)
    assert summary["n_rows"] == 1200 and summary["n_failed"] == 2
    table = pd.read_parquet(tmp_path / "out_parquet")
    assert table["row"].tolist() == list(range(1200))
    np.testing.assert_array_equal(table.drop(columns="row").to_numpy(np.float32), expected)

    smi_gz = tmp_path / "in.smi.gz"
    with gzip.open(smi_gz, "wt") as handle:
        handle.writelines(f"{s}\tmol{i}\n" for i, s in enumerate(smiles))
    assert embed_module.count_rows(smi_gz) == 1200
    embed_module.embed_file(smi_gz, tmp_path / "from_gz.npy", chunk_size=500, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "from_gz.npy"), expected)
    (tmp_path / "molecules.xlsx").write_text("not supported")
    with pytest.raises(ValueError, match="expected one of"):
        embed_module.embed_file(tmp_path / "molecules.xlsx", tmp_path / "x.npy", progress=False)


def test_two_processes_embed_what_one_does(tmp_path, nmr_frame):
    """Each process featurizes and embeds its share: same rows, same failures, same values."""
    smiles = nmr_frame.smiles.iloc[:2400].tolist()
    smiles[5], smiles[2300] = "C1CC", "not a smiles"
    path = tmp_path / "in.smi"
    path.write_text("\n".join(smiles) + "\n")
    outputs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}.npy"
        summary = embed_module.embed_file(path, out, chunk_size=2400, jobs=jobs, progress=False)
        assert summary["n_failed"] == 2
        outputs[jobs] = np.load(out)
        failures = pd.read_csv(str(out) + ".failures.csv", keep_default_na=False)
        assert failures["row_0based"].tolist() == [5, 2300]
    assert np.isnan(outputs[2][[5, 2300]]).all()
    np.testing.assert_array_equal(outputs[2], outputs[1])  # same per-row arithmetic


def test_bf16_embeds_close_to_fp32_and_is_recorded(tmp_path, nmr_frame):
    """--precision bf16 (opt-in): the same rows within 2 % of each fp32 row's norm, in one
    and two processes (bf16 keeps 8 bits of mantissa: about 0.3 % a row in the median, under
    1 % at worst on these molecules); a resume with another precision is refused."""
    smiles = nmr_frame.smiles.iloc[:2400].tolist()
    path = tmp_path / "in.smi"
    path.write_text("\n".join(smiles) + "\n")
    embed_module.embed_file(path, tmp_path / "fp32.npy", chunk_size=1200, progress=False)
    reference = np.load(tmp_path / "fp32.npy")
    for jobs in (1, 2):
        out = tmp_path / f"bf16_{jobs}.npy"
        embed_module.embed_file(path, out, chunk_size=1200, jobs=jobs, precision="bf16",
                                progress=False)
        error = np.linalg.norm(np.load(out) - reference, axis=1)
        assert (error <= 0.02 * np.linalg.norm(reference, axis=1)).all()
        assert not np.array_equal(np.load(out), reference)  # bf16 really ran
    with pytest.raises(ValueError, match=r"other settings \(precision\)"):
        embed_module.embed_file(path, tmp_path / "bf16_1.npy", chunk_size=1200, progress=False)
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        embed_module.embed_file(path, tmp_path / "fp16.npy", precision="fp16", device="cpu",
                                progress=False)
