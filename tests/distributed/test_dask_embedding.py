"""Embedding a library over a Dask cluster: a 2-worker ``LocalCluster`` (processes) on real
molecules. Every input row comes back in place (NaN where it failed, the failure listed with
its input row), the values are ``embed_smiles``'s, a rerun skips finished partitions and a
changed input is refused."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.torch

from deepchem_acml.cli.main import main  # noqa: E402
from deepchem_acml.dask_embedding import embed_library  # noqa: E402
from deepchem_acml.embedding import embed_smiles, load_graph_encoder  # noqa: E402
from deepchem_acml.shipped import DEFAULT_ENCODER  # noqa: E402


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    with Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture
def library(tmp_path, nmr_frame):
    """300 real molecules in three Parquet files, two of them failing, one missing."""
    smiles = nmr_frame.smiles.iloc[:300].tolist()
    smiles[5], smiles[250] = "C1CC", ""
    frame = pd.DataFrame({"id": range(300), "SMILES": smiles})
    frame.loc[120, "SMILES"] = None
    folder = tmp_path / "library"
    folder.mkdir()
    for k, (a, b) in enumerate([(0, 100), (100, 180), (180, 300)]):
        frame.iloc[a:b].to_parquet(folder / f"f{k}.parquet", index=False)
    return folder, frame["SMILES"].tolist()


def expected_rows(smiles):
    encoder = load_graph_encoder(DEFAULT_ENCODER, device="cpu")
    embedded, result = embed_smiles(encoder, smiles, batch_size=512)
    rows = np.full((len(smiles), encoder.hidden_dim), np.nan, dtype=np.float32)
    rows[result.indices] = embedded
    return rows


def test_partitions_come_back_aligned_with_their_failures_and_resume(client, library,
                                                                      tmp_path):
    folder, smiles = library
    out = tmp_path / "out"
    summary = embed_library(folder, out, client=client)
    assert summary == {"n_rows": 300, "n_embedded": 297, "n_failed": 3, "n_partitions": 3,
                       "n_skipped": 0, "out": str(out)}
    table = pd.read_parquet(out / "embeddings")
    assert table["row"].tolist() == list(range(300))
    got = table.drop(columns="row").to_numpy(np.float32)
    np.testing.assert_allclose(got, expected_rows(smiles), rtol=1e-6, atol=1e-6)
    failures = pd.concat(pd.read_csv(p, keep_default_na=False)
                         for p in sorted((out / "failures").glob("*.csv")))
    assert failures["row_0based"].tolist() == [5, 120, 250]
    assert failures["reason"].tolist()[1] == "input is None"

    (out / "embeddings" / "part-000001.parquet").unlink()  # a partition lost
    again = embed_library(folder, out, client=client)
    assert again["n_skipped"] == 2 and again["n_failed"] == 3
    np.testing.assert_array_equal(pd.read_parquet(out / "embeddings").drop(columns="row")
                                  .to_numpy(np.float32), got)

    pd.DataFrame({"SMILES": ["CCO"] * 100}).to_parquet(folder / "f0.parquet", index=False)
    with pytest.raises(ValueError, match="the input changed since this one"):
        embed_library(folder, out, client=client)


def test_the_command_on_a_running_scheduler_embeds_a_csv(client, nmr_frame, tmp_path,
                                                         capsys):
    smiles = nmr_frame.smiles.iloc[300:420].tolist()
    smiles[7] = "not a smiles"
    source = tmp_path / "lib.csv"
    pd.DataFrame({"smiles": smiles}).to_csv(source, index=False)
    out = tmp_path / "csv_out"
    code = main(["embed-dask", str(source), "--out", str(out), "--scheduler",
                 client.scheduler.address, "--blocksize", "1KB"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Embedded 119 of 120 rows (1 failed)" in captured.out
    table = pd.read_parquet(out / "embeddings")
    assert table["row"].tolist() == list(range(120))
    assert len(list((out / "embeddings").glob("*.parquet"))) > 1  # really partitioned
    np.testing.assert_allclose(table.drop(columns="row").to_numpy(np.float32),
                               expected_rows(smiles), rtol=1e-6, atol=1e-6)


def test_a_parquet_file_is_split_by_its_row_groups(tmp_path):
    """Every row group is a partition, so a single file still feeds every worker (Dask's
    default reads a small file as one partition: one busy worker, the others idle)."""
    from deepchem_acml.dask_embedding import read_library

    smiles = ["CCO", "CCN", "c1ccccc1", "CC(=O)O"] * 50
    pd.DataFrame({"smiles": smiles}).to_parquet(tmp_path / "lib.parquet", row_group_size=50)
    frame = read_library(tmp_path / "lib.parquet")
    assert frame.npartitions == 4
    assert frame.compute()["smiles"].tolist() == smiles
