"""Spectrum files as users have them: several pairs per line, ':' ',' or tab separators,
scientific notation, a missing END IONS, MSP records run together, wrong Num Peaks. Each is
read without loss or reported; the well-formed files read as matchms reads them (those
tests run in the ``matchms`` tox environment: matchms' pins clash with the default one)."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from deepchem_acml.data.sources import EMBEDDED_DIR
from deepchem_acml.data.spectrum_files import read_mgf, read_msp, records_frame
from deepchem_acml.featurizers.spectra import MassSpectrumFeaturizer

SPECTRA = EMBEDDED_DIR / "spectra"
PEAKS = [[41.0, 100.0], [43.0, 50.0], [57.0, 20.0]]

MGF_FORMS = {
    "one pair per line": "41.0 100.0\n43.0 50.0\n57.0 20.0\n",
    "several pairs per line": "41.0 100.0 43.0 50.0 57.0 20.0\n",
    "colon pairs (MoNA)": "41:100 43:50 57:20\n",
    "tabs and charges": "41.0\t100.0\t1+\n43.0\t50.0\t1+\n57.0\t20.0\t1+\n",
    "commas": "41.0,100.0\n43.0,50.0\n57.0,20.0\n",
    "scientific notation": "4.1E+01 1.0e2\n4.3e1 5.0E+01\n5.7e+01 2e1\n",
}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def mgf(body, smiles="CCO", end=True):
    return f"BEGIN IONS\nPEPMASS=47.05\nSMILES={smiles}\n{body}" + ("END IONS\n" if end else "")


@pytest.mark.parametrize("form", sorted(MGF_FORMS))
def test_every_peak_form_of_mgf_reads_all_three_peaks(tmp_path, form):
    records = read_mgf(write(tmp_path, "x.mgf", mgf(MGF_FORMS[form])))
    assert len(records) == 1 and records[0]["problem"] is None
    np.testing.assert_allclose(records[0]["peaks"], PEAKS)


def test_a_missing_end_ions_keeps_every_record(tmp_path):
    text = (mgf(MGF_FORMS["one pair per line"], "CCO", end=False)   # ends at the next BEGIN
            + mgf(MGF_FORMS["several pairs per line"], "CCN")
            + mgf(MGF_FORMS["colon pairs (MoNA)"], "CCC", end=False))  # ends with the file
    records = read_mgf(write(tmp_path, "x.mgf", text))
    assert [r["smiles"] for r in records] == ["CCO", "CCN", "CCC"]
    for record in records:
        np.testing.assert_allclose(record["peaks"], PEAKS)


def test_msp_records_without_a_blank_line_stay_apart_and_counts_are_checked(tmp_path):
    text = ("Name: ethanol\nSMILES: CCO\nNum Peaks: 3\n41 100; 43 50; 57 20\n"
            "Name: ethylamine\nSMILES: CCN\nNum Peaks: 2\n41:100 43:50\n\n"
            "Name: propane\nSMILES: CCC\nNum Peaks: 3\n41\t100\n43\t50\n")  # one peak short
    records = read_msp(write(tmp_path, "x.msp", text))
    assert [r["smiles"] for r in records] == ["CCO", "CCN", "CCC"]
    np.testing.assert_allclose(records[0]["peaks"], PEAKS)
    np.testing.assert_allclose(records[1]["peaks"], PEAKS[:2])
    assert records[2]["problem"] == "Num Peaks says 3, 2 read"


def test_a_record_that_cannot_be_read_whole_is_reported_for_its_row(tmp_path):
    text = mgf(MGF_FORMS["one pair per line"]) + mgf("41 100 43\n", "CCN")
    frame = records_frame(read_mgf(write(tmp_path, "x.mgf", text)))
    assert frame.precursor_mz.tolist() == [47.05, 47.05]
    result = MassSpectrumFeaturizer().featurize_with_report(frame.spectrum.tolist())
    assert result.indices.tolist() == [0]
    assert [(f.index, f.reason) for f in result.failures] == [
        (1, "odd number of values on peak line '41 100 43'")]


# ------------------------------------------------------------------ against matchms
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "spectra"


def gunzipped(tmp_path, name, folder=FIXTURES):
    """A plain-text copy of a gzipped fixture (matchms reads uncompressed files)."""
    path = tmp_path / name.removesuffix(".gz")
    path.write_text(gzip.open(folder / name, "rt").read())
    return path


def matchms_peaks(spectrum):
    return np.column_stack([spectrum.peaks.mz, spectrum.peaks.intensities])


def sorted_peaks(peaks):
    return peaks[np.argsort(peaks[:, 0], kind="stable")]


def test_the_embedded_mgf_reads_as_matchms_reads_it(tmp_path):
    matchms = pytest.importorskip("matchms.importing")
    path = gunzipped(tmp_path, "gnps_pesticides.mgf.gz", SPECTRA)
    ours = read_mgf(path)
    theirs = list(matchms.load_from_mgf(str(path), metadata_harmonization=False))
    assert len(ours) == len(theirs) == 76
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(sorted_peaks(mine["peaks"]), matchms_peaks(other))
        assert mine["smiles"] == other.get("smiles")


def test_the_embedded_msp_reads_as_matchms_reads_it(tmp_path):
    matchms = pytest.importorskip("matchms.importing")
    path = gunzipped(tmp_path, "massbank_five.msp.gz", SPECTRA)
    ours = read_msp(path)
    theirs = list(matchms.load_from_msp(str(path), metadata_harmonization=False))
    assert len(ours) == len(theirs) == 5
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(sorted_peaks(mine["peaks"]), matchms_peaks(other))


@pytest.mark.parametrize("form", ["one pair per line", "tabs and charges",
                                  "scientific notation"])
def test_forms_matchms_reads_agree(tmp_path, form):
    matchms = pytest.importorskip("matchms.importing")
    path = write(tmp_path, "x.mgf", mgf(MGF_FORMS[form]))
    theirs = list(matchms.load_from_mgf(str(path), metadata_harmonization=False))
    np.testing.assert_allclose(matchms_peaks(theirs[0]), read_mgf(path)[0]["peaks"])


def test_where_matchms_loses_peaks_this_reader_does_not(tmp_path):
    """Written down, not hidden: matchms (pyteomics underneath) reads the first pair of a
    line with several; this reader reads all of them."""
    matchms = pytest.importorskip("matchms.importing")
    path = write(tmp_path, "x.mgf", mgf(MGF_FORMS["several pairs per line"]))
    theirs = list(matchms.load_from_mgf(str(path), metadata_harmonization=False))
    assert len(theirs[0].peaks.mz) < 3 <= len(read_mgf(path)[0]["peaks"])




@pytest.mark.parametrize("name", ["testdata.mgf.gz", "MoNA-export-GC-MS-first10.msp.gz"])
def test_matchms_own_test_files_read_alike(tmp_path, name):
    matchms = pytest.importorskip("matchms.importing")
    path = gunzipped(tmp_path, name)
    load = matchms.load_from_mgf if name.startswith("testdata") else matchms.load_from_msp
    theirs = list(load(str(path), metadata_harmonization=False))
    ours = read_mgf(path) if name.startswith("testdata") else read_msp(path)
    assert len(ours) == len(theirs) > 0
    assert all(r["problem"] is None for r in ours)
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(sorted_peaks(mine["peaks"]), matchms_peaks(other))


def test_mona_msp_structures_come_from_the_comments(tmp_path):
    records = read_msp(gunzipped(tmp_path, "MoNA-export-GC-MS-first10.msp.gz"))
    assert len(records) == 10 and all(r["problem"] is None for r in records)
    assert records[0]["inchikey"] == "ALRLPDGCPYIVHP-UHFFFAOYSA-N" and records[0]["smiles"]
    assert len(records[0]["peaks"]) == int(records[0]["metadata"]["num_peaks"]) == 75


def test_json_spectra_through_matchms(tmp_path):
    pytest.importorskip("matchms")
    from deepchem_acml.data.spectrum_files import read_spectrum_file

    records = read_spectrum_file(gunzipped(tmp_path, "gnps_spectra.json.gz"))
    assert records and all(r["peaks"].shape[1] == 2 and len(r["peaks"]) for r in records)


def test_formats_that_need_matchms_say_so_where_it_is_missing(tmp_path):
    try:
        import matchms  # noqa: F401
        pytest.skip("matchms is installed here")
    except ImportError:
        pass
    from deepchem_acml.data.spectrum_files import read_spectrum_file

    with pytest.raises(ImportError, match="tox -e matchms"):
        read_spectrum_file(tmp_path / "run.mzML")


JCAMP_NMR = """##TITLE=ethanol 13C
##JCAMP-DX=5.01
##DATA TYPE=NMR SPECTRUM
##.OBSERVE FREQUENCY=100.0
##$SMILES=CCO
##XUNITS=HZ
##YUNITS=ARBITRARY UNITS
##PEAK TABLE=(XY..XY)
1820.0,1.0 5790.0,1.0
##END=
"""


def test_jcamp_nmr_peak_table_in_hz_becomes_ppm(tmp_path):
    pytest.importorskip("jcamp")
    from deepchem_acml.data.spectrum_files import read_spectrum_file

    record = read_spectrum_file(write(tmp_path, "ethanol.jdx", JCAMP_NMR))[0]
    assert record["smiles"] == "CCO" and record["problem"] is None
    np.testing.assert_allclose(record["peaks"], [[18.2, 1.0], [57.9, 1.0]])


def test_a_broken_jcamp_file_is_refused_with_its_name(tmp_path):
    pytest.importorskip("jcamp")
    from deepchem_acml.data.spectrum_files import read_jcamp

    path = write(tmp_path, "broken.jdx", "##TITLE=x\n##PEAK TABLE=(XY..XY)\n1,2,3\n##END=\n")
    record = read_jcamp(path)[0]
    assert record["problem"] == "2 x values but 1 y values" and len(record["peaks"]) == 0
