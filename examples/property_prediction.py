"""Use the shipped ACML encoder for property prediction: scikit-learn and DeepChem ways.

ESOL (aqueous solubility, shipped with the package), DeepChem scaffold split:

    python examples/property_prediction.py
"""
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepchem_acml import ACMLEmbedder
from deepchem_acml.evaluation.moleculenet import load_split_task, train_graph_model


def main(epochs: int = 10) -> dict:
    task = load_split_task("esol")  # dc.molnet.load_delaney, scaffold split, offline
    y = {split: values[:, 0] for split, values in task.y.items()}

    # 1. frozen embeddings in a scikit-learn pipeline
    pipe = make_pipeline(ACMLEmbedder("nmr_13c"), StandardScaler(), RidgeCV(np.logspace(-2, 3, 11)))
    pipe.fit(task.smiles["train"], y["train"])
    frozen = float(np.sqrt(np.mean((pipe.predict(task.smiles["test"]) - y["test"]) ** 2)))

    # 2. fine-tuning the pretrained encoder end to end (ACMLPropertyModel, a DeepChem TorchModel)
    finetuned = train_graph_model(task, "nmr_13c", seed=0, epochs=epochs)
    scratch = train_graph_model(task, None, seed=0, epochs=epochs, hidden_dim=128)
    print(f"ESOL test RMSE (log mol/L): frozen ACML + ridge {frozen:.3f} | "
          f"fine-tuned ACML {finetuned:.3f} | same GIN from scratch {scratch:.3f}")
    return {"frozen": frozen, "finetuned": finetuned, "scratch": scratch}


if __name__ == "__main__":
    main()
