"""Property-based fuzz of ``acml embed`` input files: CSV and SMI with blank lines, quoted
multi-line fields, commas and quotes in other columns, comment-like lines, CRLF, a byte-order
mark, duplicated and unparseable rows, a crash at a random chunk and a resume, and a changed
input. Every output row is checked against the library embedding its own SMILES, so a row
that is misaligned, stale or silently lost fails the test."""
import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepchem_acml.cli import embed as embed_module
from deepchem_acml.embedding import embed_smiles, load_graph_encoder
from deepchem_acml.shipped import DEFAULT_ENCODER

pytestmark = pytest.mark.torch

POOL = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "OCCO", "CCCl", "c1ccncc1", "C[C@H](N)O",
        "F/C=C/F", "[NH4+].[Cl-]", "C1CC", "not a smiles", "#comment", "C" * 600, "CC#N"]
ENCODER = load_graph_encoder(DEFAULT_ENCODER)
REFERENCE = {}
for _smiles in POOL:
    _embedded, _result = embed_smiles(ENCODER, [_smiles], max_atoms=500)
    REFERENCE[_smiles] = _embedded[0] if len(_result.indices) else None

names = st.text(alphabet='ab ,"\n;\t', max_size=6)
rows = st.lists(st.tuples(st.sampled_from(POOL), names), min_size=1, max_size=40)


def csv_text(table, blank_after, crlf, bom):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "SMILES"])
    lines = buffer.getvalue().splitlines(keepends=True)
    for i, (smiles, name) in enumerate(table):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([name, smiles])
        lines.append(buffer.getvalue())
        if i in blank_after:
            lines.append("\n")
    text = "".join(lines)
    text = text.replace("\n", "\r\n") if crlf else text
    return ("\ufeff" if bom else "") + text


def smi_text(table, blank_after, crlf, bom):
    lines = []
    for i, (smiles, name) in enumerate(table):
        lines.append(f"{smiles}\t{name.replace(chr(10), ' ').strip() or 'x'}\n")
        if i in blank_after:
            lines.append("   \n")
    text = "".join(lines)
    return ("\ufeff" if bom else "") + (text.replace("\n", "\r\n") if crlf else text)


def expected_smiles(path, kind, table):
    """Rows as pandas reads the CSV; as the SMI rule says (non-blank lines, first field)."""
    if kind == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")[
            "SMILES"].tolist()
    return [smiles.split()[0] if smiles.split() else "" for smiles, _ in table]


def check_output(out, failures_path, smiles):
    matrix = np.load(out)
    assert matrix.shape == (len(smiles), ENCODER.hidden_dim)
    failed = set(pd.read_csv(failures_path, keep_default_na=False)["row_0based"].tolist())
    for i, s in enumerate(smiles):
        if REFERENCE.get(s) is None:
            assert i in failed and np.isnan(matrix[i]).all(), (i, s)
        else:
            assert i not in failed, (i, s)
            np.testing.assert_allclose(matrix[i], REFERENCE[s], rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(table=rows, kind=st.sampled_from(["csv", "smi"]), crlf=st.booleans(), bom=st.booleans(),
       blank=st.sets(st.integers(0, 39), max_size=5), chunk=st.integers(1, 12),
       crash=st.integers(1, 6), replacement=rows)
def test_embed_files_row_for_row(tmp_path_factory, table, kind, crlf, bom, blank, chunk, crash,
                                 replacement):
    folder = tmp_path_factory.mktemp("fuzz")
    path, out = folder / f"in.{kind}", folder / "out.npy"
    write = csv_text if kind == "csv" else smi_text
    path.write_bytes(write(table, blank, crlf, bom).encode("utf-8"))
    smiles = expected_smiles(path, kind, table)

    real, calls = embed_module._featurize_chunk, {"n": 0}

    def crash_at_chunk(batch, *args):
        calls["n"] += 1
        if calls["n"] == crash:
            raise KeyboardInterrupt
        return real(batch, *args)

    embed_module._featurize_chunk = crash_at_chunk
    try:
        embed_module.embed_file(path, out, chunk_size=chunk, progress=False)
    except KeyboardInterrupt:
        pass
    finally:
        embed_module._featurize_chunk = real
    summary = embed_module.embed_file(path, out, chunk_size=chunk, progress=False)
    assert summary["n_rows"] == len(smiles)
    assert summary["n_embedded"] + summary["n_failed"] == len(smiles)
    check_output(out, summary["failures"], smiles)

    path.write_bytes(write(replacement, set(), crlf, bom).encode("utf-8"))
    new_smiles = expected_smiles(path, kind, replacement)
    if new_smiles != smiles or path.read_bytes() != write(table, blank, crlf, bom).encode():
        with pytest.raises(ValueError, match="input file changed"):
            embed_module.embed_file(path, out, chunk_size=chunk, progress=False)
    summary = embed_module.embed_file(path, out, chunk_size=chunk, progress=False, restart=True)
    check_output(out, summary["failures"], new_smiles)
