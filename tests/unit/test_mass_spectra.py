"""Mass spectra: MGF/MSP/MassBank readers and the binning featurizer, on real records."""
import gzip

import numpy as np
import pytest

from deepchem_acml.data.sources import EMBEDDED_DIR
from deepchem_acml.data.spectrum_files import (
    read_massbank,
    read_mgf,
    read_msp,
    read_spectrum_file,
    records_frame,
)
from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer

SPECTRA = EMBEDDED_DIR / "spectra"


def test_mgf_and_msp_readers_on_real_files():
    gnps = read_mgf(SPECTRA / "gnps_pesticides.mgf.gz")
    assert len(gnps) == 76 and all(r["smiles"] for r in gnps)
    assert all(r["peaks"].ndim == 2 and r["peaks"].shape[1] == 2 for r in gnps)
    assert float(gnps[0]["metadata"]["pepmass"]) == pytest.approx(183.057)
    massbank = read_msp(SPECTRA / "massbank_five.msp.gz")
    assert [r["inchikey"] for r in massbank][0] == "XTWYTFMLZFPYCI-UHFFFAOYSA-N"
    assert [len(r["peaks"]) for r in massbank] == [2, 1, 3, 3, 32]
    np.testing.assert_allclose(massbank[0]["peaks"], [[135.0, 83.0], [136.0, 999.0]])
    assert len(read_spectrum_file(SPECTRA / "massbank_five.msp.gz")) == 5
    with pytest.raises(ValueError, match="unknown spectrum file type"):
        read_spectrum_file("spectra.txt")


def test_a_damaged_mgf_record_is_reported_by_the_featurizer_not_dropped(tmp_path):
    text = ("BEGIN IONS\nSMILES=CCO\n45.0 100\n31.0 20\nEND IONS\n"
            "BEGIN IONS\nSMILES=CCN\n44.0 abc\nEND IONS\n"
            "BEGIN IONS\nSMILES=CCC\nEND IONS\n"
            "BEGIN IONS\nSMILES=CCCl\n-3.0 10\nEND IONS\n")
    path = tmp_path / "damaged.mgf.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    frame = records_frame(read_mgf(path))
    assert frame.smiles.tolist() == ["CCO", "CCN", "CCC", "CCCl"]
    result = MassSpectrumFeaturizer().featurize_with_report(frame.spectrum.tolist())
    assert result.indices.tolist() == [0]
    assert [(f.index, f.reason) for f in result.failures] == [
        (1, "peak intensities contain NaN or infinity"), (2, "empty peak list"),
        (3, "negative m/z")]


def test_massbank_one_spectrum_per_compound_and_binning():
    path = SPECTRA / "massbank_subset.jsonl.gz"
    lc, gc = read_massbank(path, "lc"), read_massbank(path, "gc")
    assert len(lc) == 300 and len(gc) == 120
    for frame in (lc, gc):  # one row per compound (InChIKey, or SMILES where none is given)
        assert frame.inchikey.fillna(frame.smiles).is_unique
    featurizer = MassSpectrumFeaturizer()
    for frame in (lc, gc):
        result = featurizer.featurize_with_report(frame.spectrum.tolist())
        assert result.n_failed == 0
        vectors = np.stack(result.features)
        assert vectors.shape == (len(frame), 1000)
        np.testing.assert_allclose(vectors.max(axis=1), 1.0)
    # EI spectra of small molecules sit below m/z 1000; the base peak is where the featurizer
    # puts its maximum
    first = gc.spectrum.iloc[0]
    base = int(first[np.argmax(first[:, 1]), 0])
    assert np.argmax(featurizer.featurize([first])[0]) == base
    with pytest.raises(ValueError, match="kind"):
        read_massbank(path, "maldi")


def test_massbank_precursors_match_the_molecules_through_their_adducts():
    """On the embedded MassBank records, the precursor m/z read from each record equals the
    molecule's monoisotopic mass plus its adduct's shift: the reader and the adduct table of
    the mass-only baseline agree with real data."""
    from deepchem_acml.data.sources import EMBEDDED_DIR
    from deepchem_acml.evaluation.mass_baseline import (
        ADDUCT_SHIFTS,
        mass_only_retrieval,
        monoisotopic_masses,
    )

    frame = read_massbank(EMBEDDED_DIR / "spectra" / "massbank_subset.jsonl.gz", kind="lc")
    known = frame[frame.adduct.isin(list(ADDUCT_SHIFTS)) & frame.precursor_mz.notna()]
    assert len(known) > 250
    expected = monoisotopic_masses(known.smiles) + known.adduct.map(ADDUCT_SHIFTS).to_numpy()
    error = np.abs(known.precursor_mz.to_numpy() - expected)
    assert np.median(error) < 0.005 and (error < 0.05).mean() > 0.95
    report = mass_only_retrieval(known.precursor_mz.to_numpy(), known.adduct.tolist(),
                                 monoisotopic_masses(known.smiles), pool_size=128)
    assert report["top1"] > 0.8  # the rule a spectrum model has to beat


def test_the_mass_window_then_the_model_ranks_isomers_by_the_model():
    from deepchem_acml.evaluation.mass_baseline import mass_then_model_ranks

    # three candidates: 0 and 1 are isomers matching every query's precursor; 2 does not
    error = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 5.0], [5.0, 5.0, 0.0]])
    similarity = np.array([[0.1, 0.9, 1.0], [0.1, 0.9, 1.0], [0.5, 0.2, 0.1]])
    ranks = mass_then_model_ranks(error, similarity, tolerance=0.01)
    # query 0: its isomer is more similar -> 2nd; the mass-mismatched 2 never ahead of it
    # query 1: first; query 2: the only match for its own precursor -> first, whatever the model
    assert ranks.tolist() == [2, 1, 1]


def test_outside_the_mass_window_candidates_follow_by_mass_error_not_by_the_model():
    from deepchem_acml.evaluation.mass_baseline import mass_then_model_ranks

    # query 0's own molecule (0) is 0.2 Da off its precursor (an odd adduct): the one
    # candidate inside the window comes first, then the outside ones by mass error, so the
    # model's liking for the far-off candidate 2 does not push the right answer down
    error = np.array([[0.2, 0.0, 3.0], [0.2, 0.0, 3.0], [3.0, 3.0, 0.0]])
    similarity = np.array([[0.1, 0.5, 0.9], [0.1, 0.5, 0.9], [0.0, 0.0, 1.0]])
    assert mass_then_model_ranks(error, similarity, tolerance=0.01).tolist() == [2, 1, 1]


def test_the_model_breaks_only_the_mass_rules_ties_and_its_own_ties_at_random():
    from deepchem_acml.evaluation.mass_baseline import model_among_equal_masses_ranks

    # candidates 0 and 1 have the same mass (isomers) and match the precursor; 2 is 0.004 Da
    # closer to query 2's precursor than its own molecule... and the model cannot change that
    error = np.array([[0.001, 0.001, 0.3], [0.001, 0.001, 0.3], [0.2, 0.2, 0.004]])
    similarity = np.array([[0.2, 0.9, 1.0], [0.2, 0.9, 1.0], [5.0, 5.0, 0.0]])
    rng = np.random.default_rng(0)
    assert model_among_equal_masses_ranks(error, similarity, rng).tolist() == [2, 1, 1]
    # a model that cannot tell the isomers apart (one graph) leaves them to chance
    flat = np.zeros((3, 3))
    ranks = np.array([model_among_equal_masses_ranks(error, flat, rng)[0] for _ in range(400)])
    assert set(ranks.tolist()) == {1, 2} and 0.4 < (ranks == 1).mean() < 0.6


def test_constitutional_pools_leave_out_the_querys_stereoisomers():
    from deepchem_acml.evaluation.mass_baseline import mass_matched_retrieval

    masses = np.array([150.0, 150.0, 150.0])
    skeletons = ["A", "A", "B"]  # 0 and 1 are stereoisomers (one 2-D graph), 2 another isomer
    graph = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # a 2-D model: 0 and 1 tie
    every = mass_matched_retrieval(graph, graph, masses, ks=(1,))
    constitutional = mass_matched_retrieval(graph, graph, masses, ks=(1,), skeletons=skeletons)
    assert every["top1"] == pytest.approx(1 / 3)  # the stereo ties count against 0 and 1
    # pools: {0, 2}, {1, 2} and, for 2, all three
    assert constitutional["top1"] == 1.0 and constitutional["pool_size"] == pytest.approx(7 / 3)
