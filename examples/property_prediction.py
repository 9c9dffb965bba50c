"""Property prediction with the package's defaults: frozen ACML embeddings in scikit-learn,
and the pretrained default fine-tuned as a DeepChem model, beside the same network trained
from random weights.

BBBP (blood-brain barrier penetration, shipped with the package), DeepChem scaffold split:

    python examples/property_prediction.py
"""
import deepchem as dc
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepchem_acml import ACMLEmbedder, ACMLPropertyModel
from deepchem_acml.data.moleculenet import moleculenet_dir


def roc_auc(model, test) -> float:
    metric = dc.metrics.Metric(dc.metrics.roc_auc_score)
    return float(model.evaluate(test, [metric])["roc_auc_score"])


def main(epochs: int = 20) -> dict:
    # 1. fine-tune the pretrained default encoder (the recommended recipe)
    model = ACMLPropertyModel(n_tasks=1, mode="classification", seed=0)
    tasks, (train, valid, test), _ = dc.molnet.load_bbbp(
        featurizer=model.graph_featurizer, splitter="scaffold",
        data_dir=str(moleculenet_dir("bbbp")), transformers=[])
    model.fit(train, nb_epoch=epochs)
    finetuned = roc_auc(model, test)

    # 2. the same network from random weights: what the pretraining adds
    scratch_model = ACMLPropertyModel(
        n_tasks=1, mode="classification", seed=0,
        encoder=dict(hidden_dim=128, atom_features="rich"), encoder_learning_rate_scale=1.0)
    scratch_model.fit(train, nb_epoch=epochs)
    scratch = roc_auc(scratch_model, test)

    # 3. frozen embeddings of the default encoder in a scikit-learn pipeline
    pipe = make_pipeline(ACMLEmbedder(), StandardScaler(), LogisticRegressionCV(max_iter=2000))
    pipe.fit(list(train.ids), train.y[:, 0])
    frozen = float(roc_auc_score(test.y[:, 0], pipe.predict_proba(list(test.ids))[:, 1]))

    print(f"BBBP test ROC-AUC: fine-tuned ACML {finetuned:.3f} | same network from random "
          f"weights {scratch:.3f} | frozen ACML + logistic regression {frozen:.3f}")
    return {"finetuned": finetuned, "scratch": scratch, "frozen": frozen}


if __name__ == "__main__":
    main()
