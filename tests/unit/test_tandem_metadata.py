"""Issue 34, item 5: the fragment-aware LC-MS/MS model says when the precursor m/z, adduct or
ion mode are missing (a count, or a refusal per row), in the featurizer, in ``build_dataset``
and on the command line's MGF/MSP path; the EI model, which does not use them, stays quiet.

Measured by ``benchmarks/ms_metadata.py`` on the held-out MassBank compounds of the shipped
models' split (598 LC-MS/MS spectra, top-10 in pools of 128): ``ms_lc_fragments`` retrieves
0.758 with the metadata, 0.545 without the precursor m/z, 0.658 without the adduct, 0.760
without the ion mode, 0.370 from bare peaks; ``ms_gc_fragments`` (80 EI spectra) 0.850 with
and 0.863 without."""
import gzip
import warnings

import pytest

from deepchem_acml.data.sources import EMBEDDED_DIR, EMBEDDED_MASSBANK
from deepchem_acml.data.spectrum_files import read_massbank, read_mgf, read_msp, records_frame
from deepchem_acml.featurizers.spectra import MissingMetadataWarning, TandemSpectrumFeaturizer

SPECTRA = EMBEDDED_DIR / "spectra"
FULL = {"mz": [61.028, 43.018], "intensities": [100.0, 25.0], "precursor_mz": 79.039,
        "adduct": "[M+H]+", "ion_mode": "positive"}
BARE = {"mz": [61.028, 43.018], "intensities": [100.0, 25.0]}


def test_the_featurizer_warns_with_a_count_of_spectra_missing_each_field():
    featurizer = TandemSpectrumFeaturizer(max_mz=100.0, max_loss=50.0)
    no_precursor = {k: v for k, v in FULL.items() if k != "precursor_mz"}
    inputs = [FULL, BARE, [[61.0, 1.0]], no_precursor, {**FULL, "ion_mode": "n/a"}]
    with pytest.warns(MissingMetadataWarning) as caught:
        result = featurizer.featurize_with_report(inputs)
    assert result.n_failed == 0  # warned, not refused
    message = str(caught[0].message)
    assert "of 5 spectra, 3 have no precursor m/z, 2 no adduct, 3 no ion mode" in message
    assert "precursor_mz" in message and "missing_metadata='ignore'" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        featurizer.featurize_with_report([FULL, FULL])  # nothing missing: no warning
        TandemSpectrumFeaturizer(max_mz=100.0, missing_metadata="ignore").featurize([BARE])


def test_the_featurizer_can_refuse_each_spectrum_missing_a_field():
    featurizer = TandemSpectrumFeaturizer(max_mz=100.0, max_loss=50.0, missing_metadata="error")
    result = featurizer.featurize_with_report([FULL, BARE, {**FULL, "adduct": None}])
    assert result.indices.tolist() == [0]
    assert [f.index for f in result.failures] == [1, 2]
    assert "no precursor m/z, adduct, ion mode" in result.failures[0].reason
    assert "no adduct" in result.failures[1].reason
    with pytest.raises(ValueError, match="missing_metadata"):
        TandemSpectrumFeaturizer(missing_metadata="drop")


@pytest.mark.torch
def test_build_dataset_of_ms_lc_fragments_warns_once_with_the_count():
    from deepchem_acml import ACMLModel

    model = ACMLModel.from_pretrained("ms_lc_fragments")
    frame = read_massbank(EMBEDDED_MASSBANK, kind="lc").head(40)
    bare = [{"mz": p[:, 0], "intensities": p[:, 1]} for p in frame.spectrum]
    with pytest.warns(MissingMetadataWarning) as caught:
        dataset, _ = model.build_dataset(frame.smiles.tolist(), bare)
    relevant = [w for w in caught if issubclass(w.category, MissingMetadataWarning)]
    assert len(relevant) == 1  # once for the call, not once per batch
    assert "ms_lc: of 40 spectra, 40 have no precursor m/z, 40 no adduct, 40 no ion mode" \
        in str(relevant[0].message)
    assert len(dataset) == 40  # the rows are kept


@pytest.mark.torch
def test_the_ei_fragment_model_does_not_ask_for_a_precursor():
    from deepchem_acml import ACMLModel

    model = ACMLModel.from_pretrained("ms_gc_fragments")
    frame = read_massbank(EMBEDDED_MASSBANK, kind="gc").head(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingMetadataWarning)
        dataset, _ = model.build_dataset(frame.smiles.tolist(), frame.spectrum.tolist())
    assert len(dataset) == 20


def test_mgf_and_msp_records_carry_their_adduct_ion_mode_and_collision_energy():
    """The CLI's MGF/MSP path (``read_pairs`` -> ``records_frame``) read only the precursor,
    so every spectrum of a file reached the fragment model without adduct and ion mode."""
    gnps = records_frame(read_mgf(SPECTRA / "gnps_pesticides.mgf.gz"))
    assert gnps.ion_mode.iloc[0] == "negative"
    assert gnps.adduct.iloc[0] == "[M-H]-"  # from the name: "... 2-(2-Furyl)-1H-benzimidazole M-H"
    assert gnps.adduct.notna().mean() > 0.9 and gnps.ion_mode.notna().all()
    msp = records_frame(read_msp(SPECTRA / "massbank_five.msp.gz"))
    assert msp.ion_mode.tolist()[0] == "positive" and msp.collision_energy.iloc[0] == "40"
    assert msp.adduct.notna().sum() == 4  # one record has no Precursor_type


@pytest.mark.parametrize("fields, adduct, mode", [
    ("ADDUCT=[M+Na]+\nIONMODE=Positive\n", "[M+Na]+", "positive"),
    ("PRECURSOR_TYPE=[M-H]-\nIONMODE=negative\n", "[M-H]-", "negative"),
    ("NAME=caffeine M+H\nIONMODE=positive\n", "[M+H]+", "positive"),
    ("NAME=caffeine [M+H]+\nCHARGE=1+\n", "[M+H]+", "positive"),
    ("NAME=caffeine\nIONMODE=n/a\n", None, None),
    ("NAME=caffeine M\nIONMODE=N\n", None, "negative"),
])
def test_mgf_adduct_and_ion_mode_spellings(tmp_path, fields, adduct, mode):
    path = tmp_path / "one.mgf"
    path.write_text(f"BEGIN IONS\nPEPMASS=195.088\n{fields}SMILES=CN1C=NC2=C1C(=O)N(C(=O)N2C)C\n"
                    "138.066 100\n110.071 20\nEND IONS\n")
    frame = records_frame(read_mgf(path))
    assert frame.adduct.iloc[0] == adduct and frame.ion_mode.iloc[0] == mode


def bare_mgf(path, n=6):
    """MGF records of the embedded MassBank LC subset with peaks and SMILES only."""
    frame = read_massbank(EMBEDDED_MASSBANK, kind="lc").head(n)
    with gzip.open(path, "wt") as handle:
        for smiles, peaks in zip(frame.smiles, frame.spectrum):
            handle.write(f"BEGIN IONS\nSMILES={smiles}\n")
            handle.writelines(f"{mz} {intensity}\n" for mz, intensity in peaks)
            handle.write("END IONS\n")
    return path


@pytest.mark.torch
def test_the_cli_path_for_mgf_files_warns_for_a_bare_file(tmp_path):
    """``acml pretrain/evaluate --data FILE.mgf`` read through ``read_pairs``, then
    ``build_dataset``: the count reaches the command line as a warning on stderr."""
    from deepchem_acml import ACMLModel
    from deepchem_acml.data.pairs import read_pairs

    frame, _ = read_pairs("ms_lc", bare_mgf(tmp_path / "bare.mgf.gz"))
    model = ACMLModel.from_pretrained("ms_lc_fragments")
    with pytest.warns(MissingMetadataWarning, match="of 6 spectra, 6 have no precursor m/z"):
        model.build_dataset(frame.smiles.tolist(), frame.spectrum.tolist())


def test_a_csv_of_peak_text_keeps_its_metadata_columns(tmp_path):
    """A CSV with peak text and precursor_mz/adduct/ion_mode columns: the metadata reached the
    featurizer only for peak arrays, so text spectra lost it without a word."""
    import pandas as pd

    from deepchem_acml.data.pairs import read_pairs

    path = tmp_path / "pairs.csv"
    pd.DataFrame({"smiles": ["OCC(O)=O", "CCO"], "spectrum": ["61.028:100;43.018:25", "oops"],
                  "precursor_mz": [77.023, 47.049], "adduct": ["[M+H]+", "[M+H]+"],
                  "ion_mode": ["positive", "positive"]}).to_csv(path, index=False)
    frame, _ = read_pairs("ms_lc", path)
    first, second = frame.spectrum
    assert first["mz"].tolist() == [61.028, 43.018] and first["adduct"] == "[M+H]+"
    assert second == "oops"  # left for the featurizer to report
    featurizer = TandemSpectrumFeaturizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingMetadataWarning)
        result = featurizer.featurize_with_report([first])
    assert result.n_failed == 0


@pytest.mark.torch
def test_acml_pretrain_on_a_bare_mgf_says_the_metadata_is_missing(tmp_path):
    """The command line itself: ``acml pretrain --modality ms_lc --ms-encoder contrastive
    --data bare.mgf`` trains, and says how many spectra lack what."""
    from deepchem_acml.cli.main import main

    path = bare_mgf(tmp_path / "bare.mgf.gz", n=40)
    with pytest.warns(MissingMetadataWarning, match="ms_lc: of 40 spectra, 40 have no precursor"):
        main(["pretrain", "--modality", "ms_lc", "--ms-encoder", "contrastive", "--data",
              str(path), "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "run")])
