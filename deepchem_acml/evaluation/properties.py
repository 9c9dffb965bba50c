"""How well embeddings encode drug-discovery properties: linear and nonlinear measures."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas loads when a table is made: `acml embed` starts without it
    import pandas as pd


def _property_functions() -> Dict[str, Callable]:
    from rdkit import Chem
    from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

    return {
        "MolWt": Descriptors.MolWt,
        "LogP": Crippen.MolLogP,
        "HBD": Lipinski.NHOHCount,
        "HBA": Lipinski.NOCount,
        "TPSA": rdMolDescriptors.CalcTPSA,
        "RotatableBonds": Lipinski.NumRotatableBonds,
        "QED": QED.qed,
        "ChiralCenters": lambda m: len(Chem.FindMolChiralCenters(m, includeUnassigned=True)),
    }


PROPERTIES = tuple(["MolWt", "LogP", "HBD", "HBA", "TPSA", "RotatableBonds", "QED",
                    "ChiralCenters"])


def rdkit_properties(smiles: Sequence[str]) -> pd.DataFrame:
    """The eight properties of the ACML correlation analysis (NaN where RDKit fails)."""
    from deepchem_acml.chem import mol_from_smiles

    functions = _property_functions()
    rows = []
    for s in smiles:
        mol = mol_from_smiles(s)
        rows.append({name: (float(f(mol)) if mol is not None else np.nan)
                     for name, f in functions.items()})
    import pandas as pd

    return pd.DataFrame(rows, columns=list(PROPERTIES))


def dimension_correlations(embeddings: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Pearson r of each embedding dimension with one property (0 for constant dimensions)."""
    x = embeddings - embeddings.mean(axis=0)
    y = values - values.mean()
    denominator = np.sqrt((x ** 2).sum(axis=0) * (y ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y[:, None]).sum(axis=0) / denominator
    return np.nan_to_num(r)


def probe_scores(embeddings: np.ndarray, values: np.ndarray, folds: int = 5,
                 seed: int = 0, max_information_dimensions: int = 128) -> Dict[str, float]:
    """Cross-validated probes from embedding to property.

    ``linear_r``/``linear_r2``: ridge regression (regularisation chosen by inner CV) on
    standardised embeddings; ``forest_r2``: a random forest (nonlinear; sqrt(d) features per
    split); ``mutual_information``: the largest per-dimension mutual information estimate
    (nats; a nonlinear dependence that Pearson's r misses), over the
    ``max_information_dimensions`` dimensions of highest variance (the kNN estimator costs
    ~15 ms per dimension; a 2,048-bit fingerprint would take half a minute per property).
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.feature_selection import mutual_info_regression
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cv = KFold(folds, shuffle=True, random_state=seed)
    linear = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    predicted = cross_val_predict(linear, embeddings, values, cv=cv)
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, max_features="sqrt",
                                   n_jobs=-1, random_state=seed)
    forest_predicted = cross_val_predict(forest, embeddings, values, cv=cv)
    widest = np.argsort(-embeddings.var(axis=0))[:max_information_dimensions]
    information = mutual_info_regression(embeddings[:, widest], values, random_state=seed)
    return {
        "linear_r": float(np.corrcoef(predicted, values)[0, 1]),
        "linear_r2": float(r2_score(values, predicted)),
        "forest_r2": float(r2_score(values, forest_predicted)),
        "mutual_information": float(information.max()),
    }


def property_correlation(embeddings: Dict[str, np.ndarray], smiles: Sequence[str],
                         folds: int = 5, seed: int = 0,
                         on_probe: Optional[Callable[[], None]] = None) -> Dict:
    """All measures for each named embedding (e.g. ACML, untrained encoder, ECFP);
    ``on_probe`` is called after each (embedding, property) pair (for a progress bar: the
    forest probes are the slow step of an evaluation)."""
    table = rdkit_properties(smiles)
    usable = table.notna().all(axis=1).to_numpy()
    report: Dict = {"n_molecules": int(usable.sum()), "properties": list(PROPERTIES),
                    "embeddings": {}}
    for name, matrix in embeddings.items():
        matrix = np.asarray(matrix, dtype=np.float64)[usable]
        per_property = {}
        for prop in PROPERTIES:
            values = table[prop].to_numpy()[usable]
            r = dimension_correlations(matrix, values)
            strongest = int(np.argmax(np.abs(r)))
            per_property[prop] = {"strongest_dimension": strongest,
                                  "strongest_r": float(r[strongest]),
                                  "dimension_r": r.tolist(),
                                  **probe_scores(matrix, values, folds, seed)}
            if on_probe is not None:
                on_probe()
        report["embeddings"][name] = per_property
    return report


def ecfp(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan/ECFP bit vectors (all zeros where RDKit fails), the fingerprint baseline."""
    from rdkit.Chem import rdFingerprintGenerator

    from deepchem_acml.chem import mol_from_smiles

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.float32)
    for i, s in enumerate(smiles):
        mol = mol_from_smiles(s)
        if mol is not None:
            out[i] = generator.GetFingerprintAsNumPy(mol)
    return out
