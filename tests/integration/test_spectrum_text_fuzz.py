"""Property-based fuzz of spectrum text (issue 34): random peak lists written in every style
``parse_peak_list`` accepts (nmrshiftdb2, list text as pandas and NumPy write it, mz:intensity
pairs, one line of positions, one peak per line; with and without intensities; several
separators and number formats), read back peak for peak, directly and through a CSV file
read as ``acml pretrain``/``acml evaluate`` read one. Random text from the separator alphabet
checks the other half of the promise: a text that parses keeps every number it holds (no
peak cut off); one that does not is reported with a reason."""
import csv
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deepchem_acml.featurizers.base import FeaturizationError
from deepchem_acml.featurizers.spectra import (
    MassSpectrumFeaturizer,
    NMRSpectrumFeaturizer,
    parse_peak_list,
)

FORMATS = {"repr": repr, "fixed": "{:.3f}".format, "scientific": "{:.6e}".format,
           "integer": "{:.0f}".format, "numpy": lambda x: f"{x:.1f}".rstrip("0")}
positions = st.floats(min_value=-45.0, max_value=995.0, allow_nan=False, allow_infinity=False)
intensities = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)
peak_lists = st.lists(st.tuples(positions, intensities), min_size=1, max_size=25)


STYLES = ["nmrshiftdb2", "list", "numpy list", "list rows", "tuple rows", "numpy rows", "array",
          "colon pairs", "one line", "per line"]


@st.composite
def written_spectra(draw, style=None, with_intensity=None):
    """(text, expected positions, expected intensities or None for 'all 1', style); the
    style and whether intensities are written drawn unless given (a style that has no
    intensities, or always has them, decides that itself)."""
    peaks = draw(peak_lists)
    fmt = FORMATS[draw(st.sampled_from(sorted(FORMATS)))]
    pos = [fmt(p) for p, _ in peaks]
    inten = [fmt(abs(i)) for _, i in peaks]
    with_intensity = draw(st.booleans()) if with_intensity is None else with_intensity
    style = draw(st.sampled_from(STYLES)) if style is None else style
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    if style == "nmrshiftdb2":
        if with_intensity:
            entries = [f"{p};{i}{draw(st.sampled_from(['', 'S', 'D', 'T', 'Q']))};{k}"
                       for k, (p, i) in enumerate(zip(pos, inten))]
        else:
            entries = pos
        # the last '|' may be left out, unless it is the only one (the text's mark)
        text = "|".join(entries) + ("|" if len(entries) == 1 else draw(st.sampled_from(["|", ""])))
        with_intensity = False  # annotations, not intensities: every peak has intensity 1
    elif style in ("list", "numpy list", "array"):
        sep = " " if style == "numpy list" else ", "
        text = "[" + sep.join(pos) + "]"
        text = f"array({text})" if style == "array" else text
        with_intensity = False
    elif style in ("list rows", "tuple rows", "numpy rows"):
        if style == "numpy rows":
            text = "[" + (newline + " ").join(f"[{p} {i}]" for p, i in zip(pos, inten)) + "]"
        else:
            left, right = ("[", "]") if style == "list rows" else ("(", ")")
            text = "[" + ", ".join(f"{left}{p}, {i}{right}" for p, i in zip(pos, inten)) + "]"
        with_intensity = True
    elif style == "colon pairs":
        sep = draw(st.sampled_from([" ", ", ", ";", "; ", "\t", newline]))
        text = sep.join(f"{p}:{i}" for p, i in zip(pos, inten))
        with_intensity = True
    elif style == "one line":
        sep = draw(st.sampled_from([" ", "\t", ", ", ";", "; ", ","]))
        text = sep.join(pos) + draw(st.sampled_from(["", sep.strip()]))
        with_intensity = False
    else:  # one peak per line
        assume(len(peaks) >= 2)
        sep = draw(st.sampled_from([" ", "\t", ",", ";", "; ", ", "]))
        lines = [f"{p}{sep}{i}" for p, i in zip(pos, inten)] if with_intensity else pos
        text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    text = draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", " ", "\n"]))
    expected_pos = [float(p) for p in pos]
    expected_inten = [float(i) for i in inten] if with_intensity else None
    return text, expected_pos, expected_inten, style


def may_be_a_decimal_comma(text):
    """The one refusal a well-formed text can meet: digits around a comma and no '.' at all
    (integers written with ',' between them), read as a possible decimal comma."""
    return "." not in text and re.search(r"\d,\d", text) is not None


def check_round_trip(text, expected_pos, expected_inten, parsed=None):
    try:
        pos, inten = parsed if parsed is not None else parse_peak_list(text)
    except FeaturizationError as err:
        assert may_be_a_decimal_comma(text) and "decimal comma" in str(err), (text, str(err))
        return False
    assert pos.tolist() == expected_pos, text
    assert inten.tolist() == (expected_inten or [1.0] * len(expected_pos)), text
    return True


@pytest.mark.parametrize("with_intensity", [True, False])
@pytest.mark.parametrize("style", STYLES)
def test_every_accepted_style_keeps_every_peak(style, with_intensity):
    outcomes = []

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(written_spectra(style, with_intensity))
    def round_trip(spectrum):
        text, expected_pos, expected_inten, _ = spectrum
        outcomes.append(check_round_trip(text, expected_pos, expected_inten))

    round_trip()
    assert sum(outcomes) > len(outcomes) / 2  # mostly read, not refused as decimal commas


SEPARATOR_TEXT = st.text(alphabet="0123456789.;:|, \t\n[]()-+e", max_size=40)


def numbers_in(text):
    return [float(t) for t in re.split(r"[\s,;:\[\]()|]+", text) if t]


@settings(max_examples=3000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(SEPARATOR_TEXT)
def test_text_that_parses_keeps_every_number_and_text_that_does_not_says_why(text):
    try:
        pos, inten = parse_peak_list(text)
    except FeaturizationError as err:
        assert str(err)
        return
    stripped = text.strip()
    if "|" in stripped and not stripped.startswith(("[", "(")):
        entries = [e for e in stripped.split("|") if e.strip()]
        assert len(pos) == len(entries) and (inten == 1.0).all(), text
        return
    kept = sorted(pos.tolist()) if (inten == 1.0).all() else None
    found = sorted(numbers_in(text))
    assert found in (sorted(pos.tolist() + inten.tolist()), kept), (text, pos, inten)


# ---------------------------------------------------------------- through a CSV file
SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "OCCO", "CCCl"]
BAD_TEXT = ["170,2;128,5", "[ 1.  2.  3. ...  8.  9. 10.]", "7.26;100\n1.25", "41:100 43",
            "170.2 ppm", "", "56.8;0.0D;6"]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.one_of(written_spectra(), st.sampled_from(BAD_TEXT)), min_size=1,
                     max_size=25),
       crlf=st.booleans(), modality=st.sampled_from(["nmr_13c", "ms_lc"]))
def test_peak_text_in_a_csv_file_reads_row_for_row(tmp_path_factory, rows, crlf, modality):
    """Each row of a CSV (quoted multi-line cells, CRLF or LF) reads back to its own peaks,
    through the reader the command line uses; a bad cell is that row's failure, in place."""
    from deepchem_acml.data.pairs import read_pairs

    path = tmp_path_factory.mktemp("text") / "pairs.csv"
    texts = [row if isinstance(row, str) else row[0] for row in rows]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(["smiles", "spectrum"])
        writer.writerows([SMILES[i % len(SMILES)], text] for i, text in enumerate(texts))
    frame, _ = read_pairs(modality, path)
    assert len(frame) == len(rows)
    featurizer = (NMRSpectrumFeaturizer("13C", out_of_range="drop") if modality == "nmr_13c"
                  else MassSpectrumFeaturizer())
    result = featurizer.featurize_with_report(frame.spectrum.tolist())
    failed = {f.index: f.reason for f in result.failures}
    assert sorted(result.indices.tolist() + list(failed)) == list(range(len(rows)))
    for i, (row, cell) in enumerate(zip(rows, frame.spectrum)):
        if isinstance(row, str):  # a bad text: that row, with a reason
            assert i in failed and failed[i], (row, cell)
            continue
        _, expected_pos, expected_inten, _ = row
        if isinstance(cell, dict):  # the MS reader parsed the text into mz/intensities
            parsed = (np.asarray(cell["mz"]), np.asarray(cell["intensities"]))
            check_round_trip(row[0], expected_pos, expected_inten, parsed)
        else:
            check_round_trip(cell, expected_pos, expected_inten)


def test_a_csv_column_of_single_shifts_stays_peak_text(tmp_path):
    """pandas reads a column of single numbers as floats: "170.2" became 170.2, which every
    featurizer refused ("spectrum array has shape ()")."""
    from deepchem_acml.data.pairs import read_pairs

    path = tmp_path / "one_peak.csv"
    path.write_text("smiles,spectrum\nCC(=O)O,170.2\nC,-2.3\n")
    frame, _ = read_pairs("nmr_13c", path)
    result = NMRSpectrumFeaturizer("13C").featurize_with_report(frame.spectrum)
    assert result.n_failed == 0 and frame.spectrum.tolist() == ["170.2", "-2.3"]
    with pytest.raises(FeaturizationError, match=r"one peak is \[170.2\]"):
        parse_peak_list(170.2)
