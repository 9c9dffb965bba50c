"""The fragment-aware MS input (exact masses, neutral losses, metadata), its contrastive
encoder trained on spectra alone, and how both reach ACML."""
import numpy as np
import pytest
import torch

from deepchem_acml.data.sources import EMBEDDED_MASSBANK
from deepchem_acml.data.spectrum_files import read_massbank, spectrum_inputs
from deepchem_acml.featurizers.spectra import (
    MassSpectrumFeaturizer,
    TandemSpectrumFeaturizer,
    UnreadableSpectrum,
)


def test_peaks_of_one_nominal_mass_keep_their_exact_masses_apart():
    featurizer = TandemSpectrumFeaturizer(max_mz=100.0, max_loss=50.0)
    co, ethylene = featurizer.featurize([{"mz": [27.9949], "intensities": [1.0]},
                                         {"mz": [28.0313], "intensities": [1.0]}])
    assert co[28] == ethylene[28] == 1.0  # same nominal bin
    assert co[100 + 28] == pytest.approx(2 * -0.0051)
    assert ethylene[100 + 28] == pytest.approx(0.0626)


def test_neutral_losses_come_from_the_precursor_or_else_the_heaviest_peak():
    featurizer = TandemSpectrumFeaturizer(max_mz=200.0, max_loss=100.0)
    losses = slice(400, 500)  # intensity channel of the loss block
    with_precursor = featurizer.featurize([{"mz": [121.065, 103.054], "intensities": [9.0, 4.0],
                                            "precursor_mz": 139.075}])[0]
    assert np.flatnonzero(with_precursor[losses]).tolist() == [18, 36]  # H2O, 2 H2O
    without = featurizer.featurize([[[121.065, 9.0], [103.054, 4.0]]])[0]
    assert np.flatnonzero(without[losses]).tolist() == [18]  # from the heaviest peak
    assert with_precursor[600 + 2] == 1.0 and without[600 + 2] == 0.0  # "has a precursor"


def test_metadata_reaches_the_vector_and_unknown_values_say_so():
    featurizer = TandemSpectrumFeaturizer(max_mz=100.0, max_loss=50.0)
    base = {"mz": [50.0], "intensities": [1.0]}
    known, unknown = featurizer.featurize([
        {**base, "ion_mode": "negative", "adduct": "[M-H]-", "collision_energy": "35 eV"}, base])
    meta = slice(300 + 3, None)
    # ion mode (pos, neg, ?), adducts ([M+H]+, [M-H]-, [M+Na]+, [M+NH4]+, [M]+, other, ?), CE
    assert known[meta].tolist() == [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, pytest.approx(0.35), 1]
    assert unknown[meta].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_bad_spectra_are_reported_by_row():
    result = TandemSpectrumFeaturizer(max_mz=100.0).featurize_with_report(
        [None, {"mz": [], "intensities": []}, [[-3.0, 1.0]], [[150.0, 1.0]],
         UnreadableSpectrum("Num Peaks says 3, 2 read"), [[40.0, 1.0]]])
    assert result.indices.tolist() == [5]
    assert [f.index for f in result.failures] == [0, 1, 2, 3, 4]
    assert "negative m/z" in result.failures[2].reason
    assert "no peaks below" in result.failures[3].reason


def test_massbank_rows_carry_their_metadata_and_old_encoders_read_them_unchanged():
    frame = read_massbank(EMBEDDED_MASSBANK, kind="lc")
    inputs = spectrum_inputs(frame)
    assert {"precursor_mz", "adduct", "ion_mode"} <= set(inputs[0])
    assert sum("collision_energy" in x for x in inputs) > len(inputs) / 2
    old = MassSpectrumFeaturizer()
    assert np.array_equal(old.featurize(inputs[:20]), old.featurize(list(frame.spectrum[:20])))
    every = read_massbank(EMBEDDED_MASSBANK, kind="lc", all_spectra=True)
    assert len(every) == len(frame)  # the embedded subset holds one spectrum per compound


def replicate_measurements(frame, rng):
    """A second, poor measurement of each spectrum (the embedded subset holds one spectrum per
    compound): m/z jittered by up to 3 mDa, intensities scaled by 0.1-1.9, half the peaks
    lost, and five noise peaks added."""
    replicates = []
    for peaks in frame.spectrum:
        keep = rng.random(len(peaks)) > 0.5
        keep[np.argmax(peaks[:, 1])] = True
        noisy = peaks[keep] * [1.0, 1.0]
        noisy[:, 0] += rng.uniform(-0.003, 0.003, keep.sum())
        noisy[:, 1] *= rng.uniform(0.1, 1.9, keep.sum())
        noise = np.column_stack([rng.uniform(50, 500, 5),
                                 rng.uniform(0, 0.3, 5) * noisy[:, 1].max()])
        replicates.append(np.vstack([noisy, noise]))
    return frame.assign(spectrum=replicates)


@pytest.mark.torch
def test_contrastive_pretraining_learns_to_match_a_compounds_spectra(tmp_path):
    import pandas as pd

    from deepchem_acml import get_modality
    from deepchem_acml.modalities.spectra import save_spectrum_encoder
    from deepchem_acml.nn.spectrum_mlp import SpectrumMLPEncoder
    from deepchem_acml.pretraining.spectrum_contrastive import (
        pretrain_spectrum_contrastive,
        same_compound_top1,
        spectra_by_compound,
    )

    frame = read_massbank(EMBEDDED_MASSBANK, kind="lc")
    both = pd.concat([frame, replicate_measurements(frame, np.random.default_rng(0))])
    featurizer = TandemSpectrumFeaturizer()
    result = featurizer.featurize_with_report(spectrum_inputs(both))
    assert result.n_failed == 0
    features = np.stack(result.features)
    groups = both.accession.to_numpy()
    encoder, history = pretrain_spectrum_contrastive(
        features, groups, epochs=6, batch_size=64, hidden_dims=(128,), embedding_dim=32,
        validation_fraction=0.3, progress=False, device="cpu")
    best = max(history, key=lambda h: h["valid_same_compound_top1"])
    compounds = spectra_by_compound(groups)  # 300 compounds, two spectra each
    held_out_top1 = best["valid_same_compound_top1"]
    torch.manual_seed(0)
    untrained = same_compound_top1(SpectrumMLPEncoder(features.shape[1], (128,), 32).eval(),
                                   torch.from_numpy(features), compounds)
    trained = same_compound_top1(encoder, torch.from_numpy(features), compounds)
    assert held_out_top1 > 0.5 and trained > untrained + 0.2  # chance: 1/90 held out
    path = save_spectrum_encoder(tmp_path / "ms.pt", encoder, featurizer, {"test": True})
    modality = get_modality("ms_lc", checkpoint=path)
    embedded, report = modality.embed(spectrum_inputs(both.head(10)))
    expected = encoder.encode(torch.from_numpy(features[:10])).detach().numpy()
    assert report.n_failed == 0 and np.allclose(embedded, expected, atol=1e-6)


def test_encoder_options_are_checked_against_the_modality():
    import argparse

    from deepchem_acml.cli.pretrain import encoder_options

    def args(**given):
        base = dict(encoder_checkpoint=None, encoder=None, all_spectra=False)
        return argparse.Namespace(**{**base, **given})

    assert encoder_options(args(encoder="contrastive"), ["ms_lc"]) == {"encoder": "contrastive"}
    for bad, modalities in ((args(encoder="contrastive"), ["nmr_13c"]),
                            (args(all_spectra=True), ["smiles"]),
                            (args(all_spectra=True), ["ms_lc", "nmr_13c"]),
                            (args(encoder="roberta"), ["ms_lc"])):
        with pytest.raises(SystemExit):
            encoder_options(bad, modalities)


def test_an_unknown_shipped_encoder_kind_says_which_there_are():
    from deepchem_acml import get_modality

    with pytest.raises(ValueError, match="autoencoder"):
        get_modality("ms_lc", encoder="transformer")
