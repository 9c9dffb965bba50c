"""One evaluation of an ACML checkpoint: retrieval, isomers, properties, maps -> a report folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from deepchem_acml.evaluation.isomers import isomer_discrimination, isomer_groups
from deepchem_acml.evaluation.properties import (
    PROPERTIES,
    ecfp,
    property_correlation,
    rdkit_properties,
)
from deepchem_acml.evaluation.retrieval import DEFAULT_KS, DIRECTIONS, retrieval_report


def evaluate_model(model, smiles: Sequence[str], modality_inputs: Sequence[Any], out: Path,
                   pool_size: int = 128, n_draws: int = 10, seed: int = 0,
                   map_property: str = "MolWt", map_method: str = "pca",
                   progress: bool = True, rows: Optional[Sequence[int]] = None,
                   provenance: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Evaluate ``model`` (an ``ACMLModel``) on paired data; write report.json/.md and PNGs.

    Baselines in the property analysis: an untrained encoder of the same architecture and
    seed, and ECFP4 (2,048 bits), so a reader sees what ACML training added.

    Parameters
    ----------
    model : ACMLModel
        The model to evaluate.
    smiles, modality_inputs : sequence
        The pairs, row by row (a row without SMILES is reported as such; an empty input cell
        as empty input).
    out : Path
        The report folder.
    pool_size, n_draws, seed : int, default=128, 10, 0
        The retrieval protocol.
    map_property, map_method : str, default="MolWt", "pca"
        The 2-D map.
    progress : bool, default=True
        A progress bar over the steps (the property probes one by one).
    rows : sequence of int, optional
        Each pair's row in the user's input (default: 0, 1, ...): failures are reported by
        these numbers.
    provenance : dict, optional
        What was evaluated (``checkpoint``, ``data``), stored at the top of both reports.
    """
    from tqdm.auto import tqdm

    from deepchem_acml.featurizers.base import FAILURE_ROW_COLUMN, empty_cells_as_empty_text

    smiles, modality_inputs = list(smiles), empty_cells_as_empty_text(modality_inputs)
    rows = list(range(len(smiles))) if rows is None else [int(r) for r in rows]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=4 + 3 * len(PROPERTIES), desc="evaluate", unit="step", disable=not progress)
    bar.set_postfix_str("featurizing and encoding")
    dataset, kept, failures = _paired_dataset(model, smiles, modality_inputs)
    kept_smiles = [smiles[i] for i in kept]
    graph_projection = model.predict(dataset)
    modality_projection = model.project_modality(dataset.y)
    graph_embedding = model.predict_embedding(dataset)
    bar.update(1)

    bar.set_postfix_str("retrieval")
    retrieval = retrieval_report(graph_projection, modality_projection, pool_size, n_draws, seed)
    mass = _mass_protocols(model, kept_smiles, [modality_inputs[i] for i in kept],
                           graph_projection, modality_projection, pool_size, n_draws, seed)
    bar.update(1)
    bar.set_postfix_str("isomers")
    isomers = {kind: isomer_discrimination(graph_projection, modality_projection,
                                           isomer_groups(kept_smiles, kind), graph_embedding, seed)
               for kind in ("constitutional", "stereo")}
    bar.update(1)
    bar.set_postfix_str("property probes (ACML, untrained GIN, ECFP4)")
    properties = property_correlation(_property_baselines(model, dataset, graph_embedding,
                                                          kept_smiles),
                                      kept_smiles, seed=seed, on_probe=lambda: bar.update(1))

    report = {**(provenance or {}), "n_input": len(smiles), "n_evaluated": len(dataset),
              "failures": [{FAILURE_ROW_COLUMN: rows[f.index], "input": f.input,
                            "reason": f.reason} for f in sorted(failures, key=lambda f: f.index)],
              "model": model.config(), "retrieval": retrieval, "isomers": isomers,
              "properties": _without_dimension_lists(properties)}
    if mass is not None:
        report["mass"] = mass
    bar.set_postfix_str("figures")
    figures = write_figures(out, retrieval, properties, graph_embedding, kept_smiles,
                            map_property, map_method, seed)
    report["figures"] = figures
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(render_markdown(report))
    bar.update(1)
    bar.close()
    return report


def _paired_dataset(model, smiles: List[Any], modality_inputs: List[Any]):
    """The model's dataset of the usable pairs, the input rows it kept (in its order), and
    one failure per row left out (a row without SMILES is reported as such, not parsed)."""
    from deepchem_acml.featurizers.base import (
        NO_SMILES,
        FeaturizationFailure,
        is_missing_cell,
        lacks_smiles,
    )

    usable = [i for i, s in enumerate(smiles) if not lacks_smiles(s)]
    failures = [FeaturizationFailure(i, "" if is_missing_cell(s) else s, NO_SMILES)
                for i, s in enumerate(smiles) if lacks_smiles(s)]
    dataset, more = model.build_dataset([smiles[i] for i in usable],
                                        [modality_inputs[i] for i in usable])
    failures += [FeaturizationFailure(usable[f.index], f.input, f.reason) for f in more]
    return dataset, [usable[int(i)] for i in dataset.ids], failures


def _property_baselines(model, dataset, graph_embedding: np.ndarray,
                        smiles: Sequence[str]) -> Dict[str, np.ndarray]:
    """ACML's graph embeddings beside an untrained encoder of the same architecture and seed,
    and ECFP4."""
    from deepchem_acml import ACMLModel

    architecture = {"modalities": list(model.modalities.values()),
                    "hyperparameters": model.hyperparameters}
    untrained = ACMLModel.from_config(architecture,
                                      seed=model.seed if model.seed is not None else 0)
    return {"ACML": graph_embedding, "untrained GIN": untrained.predict_embedding(dataset),
            "ECFP4": ecfp(smiles)}


def _mass_protocols(model, smiles, inputs, graph, modality, pool_size, n_draws, seed):
    """The mass-rule baseline and mass-matched pools for a mass-spectrum model (else None)."""
    from deepchem_acml.data.pairs import MASSBANK_KIND_OF
    from deepchem_acml.evaluation.mass_baseline import mass_protocols

    name = model.modality.name if model.modality is not None else None
    if name not in MASSBANK_KIND_OF:
        return None
    return mass_protocols(smiles, inputs, graph, modality, MASSBANK_KIND_OF[name], pool_size,
                          n_draws, seed)


def _without_dimension_lists(properties: Dict) -> Dict:
    slim = json.loads(json.dumps(properties))
    for per_property in slim["embeddings"].values():
        for entry in per_property.values():
            entry.pop("dimension_r", None)
    return slim


def write_figures(out: Path, retrieval: Dict, properties: Dict, graph_embedding: np.ndarray,
                  smiles: Sequence[str], map_property: str, map_method: str,
                  seed: int) -> Dict[str, str]:
    """Top-k curves, the correlation heat map, the probe comparison and a 2-D map (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    return {"topk_curve": _save(topk_figure(retrieval), out / "topk_curve.png"),
            "correlation_heatmap": _save(correlation_figure(properties),
                                         out / "correlation_heatmap.png"),
            "probe_r2": _save(probe_figure(properties), out / "probe_r2.png"),
            "embedding_map": _save(embedding_map(graph_embedding, smiles, map_property,
                                                 map_method, seed), out / "embedding_map.png")}


def topk_figure(retrieval: Dict):
    """Top-k accuracy against k, both directions, pools and full set, with chance."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4))
    for protocol, style in (("pools", "-"), ("full", "--")):
        where = (f"pools of {retrieval['pool_size']}" if protocol == "pools"
                 else f"all {retrieval['n_molecules']}")
        for direction, label in DIRECTIONS.items():
            values = [retrieval[protocol][direction][f"top{k}"] for k in DEFAULT_KS]
            ax.plot(DEFAULT_KS, values, style, marker="o", label=f"{label}, {where}")
        chance = [retrieval["chance"][protocol][f"top{k}"] for k in DEFAULT_KS]
        ax.plot(DEFAULT_KS, chance, style, color="grey", label=f"chance ({protocol})")
    ax.set(xlabel="k", ylabel="top-k accuracy", ylim=(0, 1.02), title="Cross-modal retrieval")
    ax.set_xticks(DEFAULT_KS)  # only the k measured (the default locator adds k = 2.5, 7.5)
    _legend_beside(ax, fontsize=7)
    fig.tight_layout()
    return fig


def correlation_figure(properties: Dict):
    """Pearson r of the 48 most correlated ACML dimensions with each property."""
    import matplotlib.pyplot as plt

    acml = properties["embeddings"]["ACML"]
    matrix = np.array([acml[p]["dimension_r"] for p in PROPERTIES])
    order = np.argsort(-np.abs(matrix).max(axis=0))[:48]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    image = ax.imshow(matrix[:, order], cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_yticks(range(len(PROPERTIES)), PROPERTIES)
    ax.set_xlabel("embedding dimension (the 48 most correlated, by max |r|)")
    ax.set_xticks(range(len(order)), order, fontsize=5, rotation=90)
    fig.colorbar(image, ax=ax, label="Pearson r")
    ax.set_title("Per-dimension correlation of ACML graph embeddings with properties")
    fig.tight_layout()
    return fig


#: the lowest R² drawn in the probe figure: a worse probe (overfit on few molecules, R² far
#: below 0) is drawn down to it with its value written on the bar, not stretching the axis
PROBE_FLOOR = -1.0


def probe_figure(properties: Dict):
    """Cross-validated linear-probe R² per property, one bar per embedding."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 3.6))
    names = list(properties["embeddings"])
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        values = np.array([properties["embeddings"][name][p]["linear_r2"] for p in PROPERTIES])
        x = np.arange(len(PROPERTIES)) + j * width
        ax.bar(x, np.maximum(values, PROBE_FLOOR), width, label=name)
        for xi, value in zip(x[values < PROBE_FLOOR], values[values < PROBE_FLOOR]):
            ax.text(xi, PROBE_FLOOR + 0.03, f"{value:.1f}", ha="center", va="bottom",
                    fontsize=7, rotation=90, color="white")
    ax.set_xticks(np.arange(len(PROPERTIES)) + width * (len(names) - 1) / 2, PROPERTIES,
                  rotation=30)
    floor = PROBE_FLOOR if ax.get_ylim()[0] < 0 else 0
    ax.set(ylabel="cross-validated R² (linear probe)", ylim=(floor, 1))
    _legend_beside(ax, fontsize=8)
    ax.set_title("Linear probes: embedding → property")
    fig.tight_layout()
    return fig


def _legend_beside(ax, fontsize: int) -> None:
    # outside the axes, right of them: bars and curves reach every corner of the plot area
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def embedding_map(embeddings: np.ndarray, smiles: Sequence[str], color_by: str = "MolWt",
                  method: str = "pca", seed: int = 0):
    """A 2-D PCA or t-SNE map of embeddings, coloured by an RDKit property; returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if color_by not in PROPERTIES:
        raise ValueError(f"color_by must be one of {PROPERTIES}, got {color_by!r}")
    if method == "pca":
        pca = PCA(2, random_state=seed)
        points = pca.fit_transform(embeddings)
        axes = [f"principal component {i + 1} ({100 * share:.0f} % of the variance)"
                for i, share in enumerate(pca.explained_variance_ratio_)]
    elif method == "tsne":
        points = TSNE(2, random_state=seed, init="pca",
                      perplexity=min(30, max(5, len(embeddings) // 4))).fit_transform(embeddings)
        axes = ["t-SNE 1", "t-SNE 2"]
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    values = rdkit_properties(smiles)[color_by].to_numpy()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    scatter = ax.scatter(points[:, 0], points[:, 1], c=values, s=6, cmap="viridis")
    fig.colorbar(scatter, ax=ax, label=color_by)
    # (coordinates have no units: the labels say which axis, the ticks would mean nothing)
    ax.set(title=f"ACML graph embeddings ({'PCA' if method == 'pca' else 't-SNE'})",
           xticks=[], yticks=[], xlabel=axes[0], ylabel=axes[1])
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path.name


def render_markdown(report: Dict) -> str:
    """The human-readable report.md."""
    retrieval = report["retrieval"]
    lines = ["# ACML evaluation report", "", *_provenance_markdown(report),
             f"Molecules evaluated: {report['n_evaluated']} of {report['n_input']} "
             f"({len(report['failures'])} not usable; listed in report.json by their row in "
             "the input, counted from 0).",
             f"Modality: `{report['model']['modality']['name']}`.", "",
             "## Cross-modal retrieval", "",
             "| protocol | direction | " + " | ".join(f"top-{k}" for k in DEFAULT_KS) + " | MRR |",
             "|---|---|" + "---|" * (len(DEFAULT_KS) + 1)]
    for protocol, label in (("pools", f"pools of {retrieval['pool_size']} "
                                      f"({retrieval['n_draws']} draws)"),
                            ("full", f"all {retrieval['n_molecules']}")):
        for direction, direction_label in DIRECTIONS.items():
            row = retrieval[protocol][direction]
            lines.append(f"| {label} | {direction_label} | "
                         + " | ".join(f"{row[f'top{k}']:.3f}" for k in DEFAULT_KS)
                         + f" | {row['mrr']:.3f} |")
        chance = retrieval["chance"][protocol]
        lines.append(f"| {label} | chance | "
                     + " | ".join(f"{chance[f'top{k}']:.3f}" for k in DEFAULT_KS) + " | |")
    lines += ["", "![top-k](topk_curve.png)", ""] + _mass_markdown(report.get("mass"))
    lines += ["## Isomer discrimination", "",
              "For each molecule of an isomer group, its spectrum (or graph) is ranked against "
              "the group's graphs (or spectra); accuracy = fraction ranked first.", "",
              "| isomers | groups | molecules | group sizes (size: count) | modality → graph | "
              "graph → modality | chance | isomer / random distance |",
              "|---|---|---|---|---|---|---|---|"]
    for kind, entry in report["isomers"].items():
        if not entry["n_groups"]:
            lines.append(f"| {kind} | 0 | 0 | no isomer groups in this data | – | – | – "
                         "| – |")
            continue
        sizes = ", ".join(f"{k}: {v}" for k, v in entry["group_sizes"].items())
        lines.append(f"| {kind} | {entry['n_groups']} | {entry['n_molecules']} | {sizes} | "
                     f"{entry['accuracy']['modality_to_graph']:.3f} | "
                     f"{entry['accuracy']['graph_to_modality']:.3f} | {entry['chance']:.3f} | "
                     f"{entry['separation_ratio']:.3f} |")
    properties = report["properties"]
    lines += ["", "## Property correlation", "",
              f"{properties['n_molecules']} molecules; 5-fold cross-validation. Linear: ridge "
              "probe (Pearson r, R²); nonlinear: random-forest probe (R²) and the largest "
              "per-dimension mutual information (nats); strongest single-dimension Pearson r.",
              "",
              "| property | embedding | strongest dim r | linear r | linear R² | forest R² | MI |",
              "|---|---|---|---|---|---|---|"]
    for prop in PROPERTIES:
        for name, per_property in properties["embeddings"].items():
            e = per_property[prop]
            lines.append(f"| {prop} | {name} | {e['strongest_r']:+.3f} | {e['linear_r']:.3f} | "
                         f"{e['linear_r2']:.3f} | {e['forest_r2']:.3f} | "
                         f"{e['mutual_information']:.3f} |")
    lines += ["", "![correlations](correlation_heatmap.png)", "", "![probes](probe_r2.png)", "",
              "![map](embedding_map.png)", ""]
    return "\n".join(lines)


def _provenance_markdown(report: Dict) -> List[str]:
    """Which checkpoint, data and split the report is about."""
    lines = []
    checkpoint = report.get("checkpoint")
    if checkpoint:
        shipped = (f"; the shipped model `{checkpoint['shipped_name']}`"
                   if "shipped_name" in checkpoint else "")
        lines.append(f"Checkpoint: `{checkpoint['path']}` (SHA-256 `{checkpoint['sha256']}`"
                     f"{shipped}).")
    data = report.get("data")
    if data:
        lines.append(f"Data: {data['source']} ({data['n_rows']} rows); evaluated on "
                     f"{data['split']}.")
    return lines + [""] if lines else []


def _mass_markdown(mass: Optional[Dict]) -> List[str]:
    """The mass-spectrum section: the mass rule beside the model, and mass-matched pools."""
    if not mass or "mass_only" not in mass:
        return []
    what = ("precursor m/z against [M + adduct], 0.01 Da" if mass["kind"] == "lc"
            else "the heaviest peak against the nominal mass (EI has no precursor)")
    lines = ["## Against the mass rule", "",
             f"Spectrum → molecule in the same random pools, over the "
             f"{mass['n_with_precursor']} spectra with a precursor; mass rule: {what}; "
             "isomers tie and are ordered at random. Window then model: candidates inside the "
             "window first, ordered by the model, then the rest by mass error. Mass rule, then "
             "the model: the rule's order, with the model ordering the candidates of equal "
             "mass (isomers).", "",
             "| ranking | top-1 | top-5 | top-10 | MRR |", "|---|---|---|---|---|"]
    for key, label in (("mass_only", "mass rule alone"),
                       ("mass_then_model", "mass window, then the model"),
                       ("mass_rule_then_model", "mass rule, then the model among isomers")):
        row = mass[key]
        lines.append(f"| {label} | {row['top1']:.3f} | {row['top5']:.3f} | {row['top10']:.3f} "
                     f"| {row['mrr']:.3f} |")
    lines += ["", "Mass-matched pools: each spectrum against the evaluated molecules of the same "
              "mass (its isomers), where mass cannot help; then without the query's "
              "stereoisomers (same InChIKey skeleton: one graph for a 2-D model).", "",
              "| isomers | queries | mean pool | top-1 | chance top-1 |", "|---|---|---|---|---|"]
    for key, label in (("mass_matched", "all"), ("mass_matched_constitutional",
                                                  "constitutional only")):
        matched = mass.get(key, {})
        if matched.get("n_queries"):
            lines.append(f"| {label} | {matched['n_queries']} | {matched['pool_size']:.1f} | "
                         f"{matched['top1']:.3f} | {matched['chance']['top1']:.3f} |")
        else:
            lines.append(f"| {label} | 0 | – | – | – |")
    return lines + [""]
