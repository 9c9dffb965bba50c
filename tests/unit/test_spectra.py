import numpy as np
import pytest

from deepchem_acml import NMRSpectrumFeaturizer, PeakListFeaturizer
from deepchem_acml.featurizers.base import FeaturizationError
from deepchem_acml.featurizers.spectra import parse_peak_list


def test_nmrshiftdb2_string_is_parsed():
    positions, intensities = parse_peak_list("25.8;0.0T;1|25.8;0.0T;8|170.2;0.0S;3|")
    assert positions.tolist() == [25.8, 25.8, 170.2]
    assert intensities.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("spectrum", [[1.0, 2.5], np.array([[1.0, 3.0], [2.5, 1.0]]),
                                      {"positions": [1.0, 2.5]}, "1.0, 2.5", "1.0 2.5"])
def test_accepted_forms(spectrum):
    positions, _ = parse_peak_list(spectrum)
    assert positions.tolist() == [1.0, 2.5]


@pytest.mark.parametrize("spectrum, reason", [
    (None, "None"), ("", "empty"), ([], "empty"), ("abc;x|", "does not parse"),
    ([1.0, float("nan")], "NaN"), ([[1.0, -2.0]], "negative"),
    ([[1.0, float("inf")]], "NaN or inf"),
    (np.zeros((2, 3)), "shape"), ([[1.0, 0.0]], "zero"), (float("nan"), "missing"),
])
def test_bad_spectra_raise_with_a_reason(spectrum, reason):
    with pytest.raises(FeaturizationError, match=reason):
        parse_peak_list(spectrum)


def test_binning_adds_up_symmetric_atoms_and_scales_to_one():
    featurizer = PeakListFeaturizer(low=0, high=10, resolution=1)
    (vector,) = featurizer.featurize_with_report([[3.2, 3.7, 8.1]]).features
    assert vector.shape == (10,)
    assert vector[3] == 1.0 and vector[8] == 0.5 and vector.sum() == 1.5


def test_broadening_spreads_but_keeps_the_peak_position():
    featurizer = PeakListFeaturizer(low=0, high=100, resolution=1, broadening=2.0)
    (vector,) = featurizer.featurize_with_report([[50.5]]).features
    assert vector.argmax() == 50 and (vector > 0).sum() > 5


def test_out_of_range_policy():
    strict = PeakListFeaturizer(low=0, high=10, resolution=1)
    assert "outside" in strict.featurize_with_report([[3.0, 12.0]]).failures[0].reason
    lenient = PeakListFeaturizer(low=0, high=10, resolution=1, out_of_range="drop")
    assert lenient.featurize_with_report([[3.0, 12.0]]).n_failed == 0
    assert "no peaks inside" in lenient.featurize_with_report([[12.0]]).failures[0].reason


def test_real_13c_spectra_of_the_embedded_subset(small_frame):
    featurizer = NMRSpectrumFeaturizer("13C")
    result = featurizer.featurize_with_report(small_frame.spectrum)
    assert result.n_failed == 0 and len(result.features) == len(small_frame)
    first = small_frame.spectrum.iloc[0]
    n_distinct_bins = len({int((float(p.split(";")[0]) + 50) / 0.1)
                           for p in first.split("|") if p})
    assert (result.features[0] > 0).sum() == n_distinct_bins
    assert result.features[0].shape == (4000,)


def test_mixed_good_and_bad_spectra_keep_their_indices():
    featurizer = NMRSpectrumFeaturizer("13C")
    inputs = ["20.1;0.0Q;0|", "", "500.0;0.0S;0|", None, [30.0, np.nan], "77.0;0.0D;1|"]
    result = featurizer.featurize_with_report(inputs)
    assert result.indices.tolist() == [0, 5]
    assert [f.index for f in result.failures] == [1, 2, 3, 4]


def test_featurize_returns_a_matrix_when_all_succeed():
    out = NMRSpectrumFeaturizer("13C").featurize(["20.1;0.0Q;0|", "77.0;0.0D;1|"])
    assert out.shape == (2, 4000) and out.dtype == np.float32


def test_invalid_settings():
    with pytest.raises(ValueError, match="nucleus"):
        NMRSpectrumFeaturizer("19F")
    with pytest.raises(ValueError, match="greater"):
        PeakListFeaturizer(low=5, high=1, resolution=1)
