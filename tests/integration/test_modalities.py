"""All six modalities through one API: the shipped frozen encoder loads, embeds real records,
reports bad rows by index, and an ACML graph encoder trains against it."""
import numpy as np
import pytest

from deepchem_acml import ACMLModel
from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_1h, read_embedded_nmr_13c
from deepchem_acml.data.sources import EMBEDDED_MASSBANK
from deepchem_acml.data.spectrum_files import read_massbank
from deepchem_acml.modalities import get_modality
from deepchem_acml.modalities.base import PRETRAINED_DIR

MODALITIES = ["nmr_13c", "nmr_1h", "ms_lc", "ms_gc", "smiles", "image"]
# bad inputs of each kind, and the reason each must be reported with
BAD_SPECTRA = [(None, "spectrum is None"), ("", "empty peak list"),
               (float("nan"), "missing (NaN)")]
BAD_MASS_SPECTRA = [([[-5.0, 10.0]], "negative m/z"), ([[50.0, float("nan")]], "NaN"),
                    ([], "empty peak list")]
BAD_MOLECULES = [("C1CC", "not a SMILES RDKit can parse"), (None, "expected a SMILES")]


def real_pairs(name: str, n: int = 96):
    """(smiles, modality inputs, bad inputs) from the data embedded in the package."""
    if name in ("nmr_13c", "smiles", "image"):
        frame = read_embedded_nmr_13c().head(n)
        inputs = frame.spectrum if name == "nmr_13c" else frame.smiles
        bad = BAD_SPECTRA if name == "nmr_13c" else BAD_MOLECULES
    elif name == "nmr_1h":
        frame, bad = read_embedded_nmr_1h().head(n), BAD_SPECTRA
        inputs = frame.spectrum
    else:
        frame = read_massbank(EMBEDDED_MASSBANK, "lc" if name == "ms_lc" else "gc").head(n)
        inputs, bad = frame.spectrum, BAD_MASS_SPECTRA
    return list(frame.smiles), list(inputs), bad


@pytest.mark.torch
@pytest.mark.parametrize("name", MODALITIES)
def test_each_modality_embeds_real_records_and_reports_bad_ones(name):
    modality = get_modality(name)
    assert not any(p.requires_grad for p in modality.encoder.parameters())
    _, inputs, bad = real_pairs(name, 24)
    mixed = inputs[:10] + [b for b, _ in bad] + inputs[10:]
    embeddings, result = modality.embed(mixed, batch_size=8)  # batches cross the bad rows
    assert embeddings.shape == (24, modality.embedding_dim) and np.isfinite(embeddings).all()
    assert result.indices.tolist() == list(range(10)) + list(range(10 + len(bad), len(mixed)))
    for failure, (_, reason) in zip(result.failures, bad):
        assert reason in failure.reason
    assert [f.index for f in result.failures] == list(range(10, 10 + len(bad)))
    assert np.linalg.matrix_rank(embeddings) > 1  # molecules are told apart


@pytest.mark.torch
@pytest.mark.parametrize("name", MODALITIES)
def test_acml_trains_against_each_modality(name):
    smiles, inputs, _ = real_pairs(name, 96)
    model = ACMLModel(name, encoder=dict(hidden_dim=32), projection_dim=32, num_cells=1,
                      batch_size=32, seed=0)
    dataset, failures = model.build_dataset(smiles, inputs)
    assert len(dataset) + len(failures) == len(smiles)
    before = model.evaluate_loss(dataset)
    model.fit(dataset, nb_epoch=40, progress=False, checkpoint_interval=0)
    assert model.evaluate_loss(dataset) < 0.75 * before


@pytest.mark.torch
@pytest.mark.parametrize("path", sorted(PRETRAINED_DIR.glob("acml_*.pt")), ids=lambda p: p.stem)
def test_every_shipped_acml_model_loads_by_name_and_embeds(path):
    from deepchem_acml import JointACMLModel

    name = path.stem[len("acml_"):]
    model = (JointACMLModel if name == "joint" else ACMLModel).from_pretrained(name)
    dataset, failures = model.featurize_graphs(["CCO", "c1ccccc1O", "bad"])
    assert [f.index for f in failures] == [2]
    assert model.predict_embedding(dataset).shape == (2, model.hyperparameters["hidden_dim"])


@pytest.mark.torch
def test_shipped_smiles_model_finds_molecules_outside_its_training_library_by_their_smiles():
    """The shipped SMILES model was trained on ZINC (MOSES) molecules; nmrshiftdb2 compounds
    are another chemistry (natural products, organometallic-free but more varied): its graph
    side must still pick each molecule's ChemNet embedding out of a pool far above chance."""
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.evaluation.retrieval import retrieval_report

    frame = read_embedded_nmr_13c().sample(256, random_state=0)
    model = ACMLModel.from_pretrained("smiles")
    dataset, failures = model.build_dataset(frame.smiles, frame.smiles)
    assert len(dataset) == 256 and not failures
    report = retrieval_report(model.predict(dataset), model.project_modality(dataset.y),
                              pool_size=64, seed=0)
    chance = report["chance"]["pools"]["top10"]
    assert report["pools"]["modality_to_graph"]["top10"] > max(0.8, 4 * chance)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["gc", "lc"])
def test_shipped_fragment_aware_ms_models_retrieve_far_better_than_the_1_da_ones(kind):
    """On the embedded MassBank subsets (mostly the models' training molecules: a regression
    check of the shipped files, not a held-out figure; those are in docs/retrieval.md), the
    fragment-aware models find the right molecule among 64 far more often than the 1-Da ones."""
    from deepchem_acml.data.spectrum_files import spectrum_inputs
    from deepchem_acml.evaluation.retrieval import retrieval_in_pools

    frame = read_massbank(EMBEDDED_MASSBANK, kind)
    scores = {}
    for name in (f"ms_{kind}", f"ms_{kind}_fragments"):
        model = ACMLModel.from_pretrained(name)
        dataset, _ = model.build_dataset(frame.smiles, spectrum_inputs(frame))
        assert len(dataset) > 100
        scores[name] = retrieval_in_pools(model.predict(dataset), model.project_modality(dataset.y),
                                          64, 5, 0)["modality_to_graph"]["top10"]
    assert scores[f"ms_{kind}_fragments"] > scores[f"ms_{kind}"] + 0.2, scores
