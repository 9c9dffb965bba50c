"""The peak-text grammar of ``parse_peak_list`` (issue 34, items 1 and 15): every accepted
style keeps every peak, and text that cannot be read without guessing is reported with a
reason, never cut short."""
import numpy as np
import pytest

from deepchem_acml import MassSpectrumFeaturizer, NMRSpectrumFeaturizer
from deepchem_acml.featurizers.base import FeaturizationError
from deepchem_acml.featurizers.spectra import parse_peak_list


def peaks(text):
    positions, intensities = parse_peak_list(text)
    return positions.tolist(), intensities.tolist()


def test_a_semicolon_separated_shift_list_keeps_every_peak():
    """Item 1: "170.2;128.5;20.1" was read as one nmrshiftdb2 entry (170.2 alone), with no
    report, so it featurized exactly as [170.2]."""
    featurizer = NMRSpectrumFeaturizer("13C")
    rows = featurizer.featurize(["170.2;128.5;20.1", [170.2]])
    assert featurizer.last_report_.n_failed == 0
    assert not np.array_equal(rows[0], rows[1])
    assert (rows[0] > 0).sum() == 3
    assert peaks("170.2;128.5;20.1") == ([170.2, 128.5, 20.1], [1.0, 1.0, 1.0])
    assert peaks("170.2; 128.5; 20.1;") == ([170.2, 128.5, 20.1], [1.0, 1.0, 1.0])


def test_shift_intensity_lines_written_with_semicolons_keep_every_peak():
    """Item 1: "7.26;100\\n1.25;50" kept 7.26 alone (the rest of the text was dropped)."""
    assert peaks("7.26;100\n1.25;50") == ([7.26, 1.25], [100.0, 50.0])
    assert peaks("7.26; 100\r\n1.25; 50\r\n") == ([7.26, 1.25], [100.0, 50.0])
    vector = NMRSpectrumFeaturizer("1H").featurize(["7.26;100\n1.25;50"])[0]
    assert (vector > 0).sum() == 2 and vector.max() == 1.0


def test_pandas_list_text_is_read():
    """Item 15: a list column written to CSV by pandas ("[170.2, 128.5]") was refused."""
    assert peaks("[170.2, 128.5]") == ([170.2, 128.5], [1.0, 1.0])
    assert peaks("[170.2 128.5]") == ([170.2, 128.5], [1.0, 1.0])            # str(np.array)
    assert peaks("[[41.0, 100.0], [43.0, 50.0]]") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("[(41.0, 100.0), (43.0, 50.0)]") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("[[ 41. 100.]\n [ 43.  50.]]") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("array([41.5, 43.0])") == ([41.5, 43.0], [1.0, 1.0])


def test_colon_pairs_separated_by_semicolons_are_read():
    """Item 15: "41:100;43:50" was refused ("does not parse")."""
    assert peaks("41:100;43:50") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("41:100; 43:50") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("41:100 43:50") == ([41.0, 43.0], [100.0, 50.0])
    assert peaks("41:100\n43:50\n") == ([41.0, 43.0], [100.0, 50.0])
    vector = MassSpectrumFeaturizer(max_mz=100.0).featurize(["41:100;43:25"])[0]
    assert vector[41] == 1.0 and vector[43] == 0.5


def test_nmrshiftdb2_entries_keep_their_shifts_and_ignore_the_annotations():
    """nmrshiftdb2's second field is an intensity-and-multiplicity annotation (0.0 for 98 % of
    its 13C peaks) and the third the atom: the shift is the peak, every peak has intensity 1."""
    assert peaks("56.8;0.0D;6|126.2;0.0S;0|") == ([56.8, 126.2], [1.0, 1.0])
    assert peaks("53.5;0.967T;0|20.1") == ([53.5, 20.1], [1.0, 1.0])
    assert peaks("170.2|128.5|") == ([170.2, 128.5], [1.0, 1.0])


@pytest.mark.parametrize("text, reason", [
    ("170,2;128,5", "decimal comma"),           # European CSV: ',' decimals, ';' between peaks
    ("170,2;100\n128,5;50", "decimal comma"),
    ("41,5 100\n43,0 50", "decimal comma"),
    ("1,5", "decimal comma"),
    ("[ 1.  2.  3. ...  8.  9. 10.]", "summarized"),   # NumPy's str() of a long array
    ("[170.2, 128.5", "bracket"),
    ("[[41.0, 100.0], [43.0]]", "row"),
    ("[[41.0, 100.0, 1.0], [43.0, 50.0, 1.0]]", "row"),
    ("7.26;100\n1.25", "columns"),
    ("41 100 1\n43 50 1", "columns"),
    ("41:100 43", "pairs"),
    ("41:100:5", "pairs"),
    ("56.8;0.0D;6", "does not parse"),          # an nmrshiftdb2 entry needs its '|'
    ("abc;x|", "does not parse"),
    ("170.2 ppm", "does not parse"),
])
def test_text_that_cannot_be_read_without_guessing_is_reported(text, reason):
    with pytest.raises(FeaturizationError, match=reason):
        parse_peak_list(text)


def test_one_line_is_a_list_of_positions_however_many_numbers_it_has():
    """The documented rule for a single line: positions only (a peak with its intensity needs
    'mz:intensity' or a line of its own), so no number of the text is ever dropped."""
    assert peaks("41 100") == ([41.0, 100.0], [1.0, 1.0])
    assert peaks("41\t100") == ([41.0, 100.0], [1.0, 1.0])
