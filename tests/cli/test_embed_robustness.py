"""`acml embed` under bad input, as a new user meets it: stale outputs, messy files, bad
paths and options. Each case was a silent wrong result or a traceback before."""
import numpy as np
import pandas as pd
import pytest

from deepchem_acml.cli import embed as embed_module
from deepchem_acml.cli.main import main
from deepchem_acml.embedding import embed_smiles, load_graph_encoder
from deepchem_acml.shipped import DEFAULT_ENCODER

pytestmark = pytest.mark.torch

SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "C1CC", "OCCO", "CCCl", "c1ccncc1"]


@pytest.fixture(scope="module")
def reference():
    """Each SMILES embedded on its own by the library (NaN where it fails)."""
    encoder = load_graph_encoder(DEFAULT_ENCODER)
    rows = []
    for s in SMILES + ["CCCC", "CCCCC", "CC=O", "C#N", "COC"]:
        embedded, result = embed_smiles(encoder, [s])
        rows.append(embedded[0] if len(result.indices) else np.full(encoder.hidden_dim, np.nan))
    return dict(zip(SMILES + ["CCCC", "CCCCC", "CC=O", "C#N", "COC"], rows))


def acml(capsys, *argv):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main(["embed", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_replaced_input_is_not_answered_with_the_old_output(tmp_path, capsys, reference):
    source, out = tmp_path / "in.smi", tmp_path / "o.npy"
    source.write_text("\n".join(SMILES[:4]) + "\n")
    assert acml(capsys, source, "--out", out)[0] == 0
    new = ["CCCC", "CCCCC", "CC=O", "C#N", "COC"]
    source.write_text("\n".join(new) + "\n")
    code, _, err = acml(capsys, source, "--out", out)
    assert code == 2 and "input file changed" in err and "--restart" in err
    assert "Traceback" not in err
    code, printed, _ = acml(capsys, source, "--out", out, "--restart")
    assert code == 0 and "Embedded 5 of 5" in printed
    np.testing.assert_allclose(np.load(out), np.stack([reference[s] for s in new]), atol=1e-5)


def test_blank_lines_and_multiline_quoted_fields_keep_rows_aligned(tmp_path, reference):
    source = tmp_path / "messy.csv"
    source.write_text('name,smiles\r\n\r\na,CCO\r\n"b\r\nsecond line",c1ccccc1\r\n\r\n'
                      'c,C1CC\r\nd,CC(=O)O\r\n\r\n')
    expected = pd.read_csv(source)["smiles"].tolist()
    assert expected == ["CCO", "c1ccccc1", "C1CC", "CC(=O)O"]
    summary = embed_module.embed_file(source, tmp_path / "o.npy", progress=False)
    assert (summary["n_rows"], summary["n_embedded"], summary["n_failed"]) == (4, 3, 1)
    matrix = np.load(tmp_path / "o.npy")
    assert matrix.shape[0] == 4 and not (matrix == 0).all(axis=1).any()  # no rows of zeros
    np.testing.assert_allclose(matrix[[0, 1, 3]], np.stack([reference[s] for s in
                                                            ("CCO", "c1ccccc1", "CC(=O)O")]),
                               atol=1e-5)
    failures = pd.read_csv(summary["failures"], keep_default_na=False)
    assert failures["row_0based"].tolist() == [2] and failures["input"].tolist() == ["C1CC"]
    assert np.isnan(matrix[2]).all()


def test_resuming_a_messy_file_continues_on_the_same_rows(tmp_path, monkeypatch):
    lines = ["smiles", ""] + [f"{s}\n" if i % 3 == 0 else s for i, s in
                              enumerate(SMILES * 3)]
    source = tmp_path / "in.csv"
    source.write_text("\n".join(f'"{line}"' if "\n" in line else line for line in lines) + "\n")
    straight = embed_module.embed_file(source, tmp_path / "a.npy", chunk_size=5, progress=False)
    real, calls = embed_module._featurize_chunk, {"n": 0}

    def crash_on_third(smiles, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(smiles, *args)

    monkeypatch.setattr(embed_module, "_featurize_chunk", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        embed_module.embed_file(source, tmp_path / "b.npy", chunk_size=5, progress=False)
    monkeypatch.setattr(embed_module, "_featurize_chunk", real)
    resumed = embed_module.embed_file(source, tmp_path / "b.npy", chunk_size=5, progress=False)
    assert resumed["n_rows"] == straight["n_rows"] == len(SMILES) * 3
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "a.npy"))
    assert (pd.read_csv(resumed["failures"])["row_0based"].tolist()
            == pd.read_csv(straight["failures"])["row_0based"].tolist())


def test_a_removed_output_is_rebuilt_not_reported_as_done(tmp_path, capsys):
    source, out = tmp_path / "in.smi", tmp_path / "o.npy"
    source.write_text("CCO\nCCN\nCCC\n")
    assert acml(capsys, source, "--out", out)[0] == 0
    out.unlink()
    code, printed, err = acml(capsys, source, "--out", out)
    assert code == 0 and out.exists() and np.isfinite(np.load(out)).all()
    assert "starting over" in err and "Embedded 3 of 3" in printed


@pytest.mark.parametrize("case", ["folder", "under_a_file", "new_folders"])
def test_output_paths(tmp_path, capsys, case):
    source = tmp_path / "in.smi"
    source.write_text("CCO\nCCN\n")
    (tmp_path / "plain_file").write_text("x")
    out = {"folder": tmp_path, "under_a_file": tmp_path / "plain_file" / "o.npy",
           "new_folders": tmp_path / "a" / "b" / "o.npy"}[case]
    code, _, err = acml(capsys, source, "--out", out)
    if case == "new_folders":
        assert code == 0 and np.load(out).shape == (2, 128)
        assert (tmp_path / "a" / "b" / "o.npy.failures.csv").exists()
    else:
        assert code == 2 and "--out" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_a_file_system_error_is_one_line_naming_the_path(tmp_path, capsys, monkeypatch):
    source = tmp_path / "in.smi"
    source.write_text("CCO\n")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(np.lib.format, "open_memmap", refuse)
    code, _, err = acml(capsys, source, "--out", tmp_path / "ro" / "o.npy")
    assert code == 2 and "Permission denied" in err and "o.npy" in err and "--out" in err


def test_a_missing_column_leaves_nothing_behind(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("name,structure\na,CCO\n")
    code, _, err = acml(capsys, source, "--out", tmp_path / "o.npy")
    assert code == 2 and "no 'smiles' column" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("option, value", [("--chunk-size", "0"), ("--chunk-size", "-1"),
                                           ("--batch-size", "0"), ("--jobs", "0")])
def test_numeric_options_are_checked(tmp_path, capsys, option, value):
    source = tmp_path / "in.smi"
    source.write_text("CCO\nCCN\n")
    code, _, err = acml(capsys, source, "--out", tmp_path / "o.npy", option, value)
    assert code == 2 and option in err
    assert not (tmp_path / "o.npy").exists()


def test_an_empty_file_is_named(tmp_path, capsys):
    source = tmp_path / "empty.csv"
    source.write_text("")
    code, _, err = acml(capsys, source, "--out", tmp_path / "o.npy")
    assert code == 2 and "empty.csv is empty" in err
