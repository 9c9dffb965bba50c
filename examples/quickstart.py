"""Quickstart: align a GIN with the frozen 13C NMR encoder, then retrieve spectra <-> graphs.

Runs offline on the nmrshiftdb2 subset shipped with the package, in about a minute on a
laptop CPU:

    python examples/quickstart.py
"""
from deepchem_acml import ACMLModel
from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
from deepchem_acml.data.splits import inchikey_split
from deepchem_acml.evaluation.retrieval import format_retrieval_table, retrieval_report


def main(n_molecules: int = 2000, epochs: int = 10) -> dict:
    frame = read_embedded_nmr_13c().head(n_molecules)  # columns: inchikey, smiles, spectrum
    # the frozen 13C encoder + a trainable GIN (ACML's, narrowed to 64 for a laptop CPU)
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=64), seed=0)
    dataset, failures = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    for failure in failures:  # nothing is dropped silently
        print("not usable:", failure)
    train_idx, valid_idx, test_idx = inchikey_split(list(dataset.ids))
    history = model.train(dataset.select(train_idx), dataset.select(valid_idx), nb_epoch=epochs)
    test = dataset.select(test_idx)
    report = retrieval_report(model.predict(test), model.project_modality(test.y))
    print(format_retrieval_table(report))
    print("graph embeddings for downstream models:", model.predict_embedding(test).shape)
    return {"history": history, "report": report}


if __name__ == "__main__":
    main()
