"""The MoleculeNet benchmark's table (Markdown) and figure, rendered from its records."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from deepchem_acml.evaluation.benchmark_records import (
    NOT_RANKED,
    Cell,
    cells,
    head_to_head,
    mean_ranks,
    ranks,
)

TASK_ORDER = ("bbbp", "bace", "clintox", "sider", "tox21", "hiv", "esol", "freesolv", "lipo")
METHOD_ORDER = ("ACML fine-tuned", "ACML fine-tuned (slow encoder, mean pooling)",
                "ACML fine-tuned (smiles_rich_distilled, slow encoder, mean pooling)",
                "ACML fine-tuned (head first, slow encoder, mean pooling)",
                "ACMLPropertyModel() defaults",
                "ACML fine-tuned + descriptors", "ACML frozen + LightGBM",
                "LightGBM on RDKit 2-D descriptors + ACML",
                "ACML frozen + linear", "GIN scratch + descriptors", "untrained GIN + LightGBM",
                "LightGBM on RDKit 2-D descriptors + untrained GIN",
                "GIN scratch (ACML architecture)",
                "GIN scratch (ACML architecture, mean pooling)",
                "GIN scratch (ACML architecture, mean pooling, rich atoms)",
                "GIN scratch (Hu et al. recipe)", "untrained GIN + linear", "teacher + linear",
                "DeepChem GCN", "DeepChem AttentiveFP", "chemprop D-MPNN",
                "chemprop D-MPNN + RDKit descriptors", "RF on ECFP4 counts",
                "RF on RDKit 2-D descriptors", "LightGBM on ECFP4 counts",
                "LightGBM on RDKit 2-D descriptors")
#: the tasks every candidate for the recommended row must have run (:func:`validation_choice`)
SMALL_TASKS = ("bbbp", "bace", "clintox", "esol", "freesolv", "lipo")
OURS = "ACML fine-tuned"
#: The row the package recommends: what ``ACMLPropertyModel(n_tasks, mode)`` does by default,
#: the ACML row with the best mean validation rank (:func:`validation_choice`).
RECOMMENDED = "ACML fine-tuned + descriptors"
#: The README's benchmark table lives between these two lines (written by
#: :func:`write_readme_table`).
README_BEGIN = "<!-- benchmark table: rendered from docs/benchmarks/moleculenet.json by " \
    "benchmarks/moleculenet.py --render -->"
README_END = "<!-- end of benchmark table -->"

#: Published numbers (BASELINES.md of the project's shared folder), quoted, not rerun:
#: ROC-AUC (x100 in the sources) and RMSE, scaffold split; protocols differ.
LITERATURE: Dict[str, Dict[str, float]] = {
    "GIN, no pretraining (Hu et al. 2020)": dict(
        bbbp=0.658, tox21=0.740, sider=0.573, clintox=0.580, hiv=0.753, bace=0.701),
    "GIN, no pretraining (GraphMVP's rerun)": dict(
        bbbp=0.654, tox21=0.749, sider=0.580, clintox=0.588, hiv=0.753, bace=0.726),
    "GIN, no pretraining (TorchDrug benchmark)": dict(
        bbbp=0.671, tox21=0.750, sider=0.589, clintox=0.608, hiv=0.764, bace=0.665),
    "Hu et al. 2020, best pretraining": dict(bbbp=0.687, clintox=0.726, bace=0.845),
    "MolCLR (GIN) †": dict(bbbp=0.736, tox21=0.798, sider=0.680, clintox=0.932, hiv=0.806,
                           bace=0.890),
    "GraphMVP": dict(bbbp=0.685, tox21=0.745, sider=0.623, clintox=0.790, hiv=0.748,
                     bace=0.768),
    "DeepChem leaderboard GCN": dict(bbbp=0.676, sider=0.627, clintox=0.907, bace=0.818,
                                     esol=0.885, lipo=0.781),
    "DeepChem leaderboard RF (ECFP4)": dict(bbbp=0.719, sider=0.650, clintox=0.783, bace=0.851,
                                            esol=1.741, lipo=0.962),
}
LITERATURE_NOTE = (
    "Literature rows are quoted from their papers or leaderboards (via the project's "
    "BASELINES.md), **not rerun here**; their protocols differ (Hu et al.: test ROC-AUC of the "
    "last of 100 epochs, 10 seeds; GraphMVP: best validation epoch, 3 seeds; DeepChem: "
    "early stopping, 3 runs; their scaffold splits are their own code's). † read from a "
    "secondary copy of the original table.")


def _ordered(names: Sequence[str], order: Sequence[str]) -> List[str]:
    return [n for n in order if n in names] + sorted(set(names) - set(order))


def format_cell(cell: Optional[Cell]) -> str:
    if cell is None:
        return "–"
    n = len(cell.scores)
    if n == 1:
        return f"{cell.mean:.3f} (1 seed)"
    if cell.deterministic:
        return f"{cell.mean:.3f} (det.)"
    return f"{cell.mean:.3f} ± {cell.std:.3f}" + ("" if n >= 3 else f" ({n} seeds)")


def render_markdown(records: Sequence[Dict[str, Any]]) -> str:
    """Results table (methods x tasks, best measured mean per task in bold), literature
    rows, ACML fine-tuned head to head, and mean ranks."""
    table = cells(records)
    tasks = _ordered(list(table), TASK_ORDER)
    methods = _ordered(sorted({m for found in table.values() for m in found}), METHOD_ORDER)
    metric = {t: "ROC-AUC ↑" if next(iter(table[t].values())).mode == "classification"
              else "RMSE ↓" for t in tasks}
    lines = ["# MoleculeNet benchmark: results", "",
             "Rendered from `moleculenet.json` by `benchmarks/moleculenet.py --render`; protocol, "
             "methods and commands: [README](README.md).", "",
             "![Rank of every method on every task, and its mean rank](moleculenet.png)", "",
             "![Every method per task: mean and standard deviation over seeds]"
             "(moleculenet_tasks.png)", "",
             "Per task: mean and standard deviation over seeds, methods in the order of their "
             "mean rank, ACML rows in red, the recommended row in bold; a mean beyond the axis "
             "is drawn to its edge with its value written there.", "",
             "| method | " + " | ".join(f"{t} ({metric[t]})" for t in tasks) + " |",
             "|---|" + "---|" * len(tasks)]
    best = {t: (max if metric[t].startswith("ROC") else min)(c.mean for c in table[t].values())
            for t in tasks}
    for method in methods:
        row = []
        for t in tasks:
            text = format_cell(table[t].get(method))
            row.append(f"**{text}**" if method in table[t] and table[t][method].mean == best[t]
                       else text)
        lines.append(f"| {method} | " + " | ".join(row) + " |")
    for name, values in LITERATURE.items():
        row = [f"{values[t]:.3f}" if t in values else "–" for t in tasks]
        lines.append(f"| *{name}* (literature) | " + " | ".join(row) + " |")
    lines += ["", "Mean ± sample standard deviation (ddof=1) over seeds; (det.): the same "
              "score for every seed (a fixed encoder and a convex probe); bold: best measured "
              "mean. " + LITERATURE_NOTE, ""]
    return "\n".join(lines + soundness_lines(table) + [""] + comparison_lines(table, methods)
                     + [""] + rank_lines(table, methods) + [""] + validation_lines(records)
                     + [""] + compute_lines(records))


HU = "GIN scratch (Hu et al. recipe)"
NO_PRETRAINING = ("GIN, no pretraining (Hu et al. 2020)", "GIN, no pretraining (GraphMVP's rerun)")


def soundness_lines(table: Dict[str, Dict[str, Cell]]) -> List[str]:
    """The training loop's check: our run of Hu et al.'s recipe against the published
    no-pretraining GIN (within 4 ROC-AUC points of either quoted row counts as agreeing)."""
    shared = [t for t in TASK_ORDER if t in table and HU in table[t]
              and t in LITERATURE[NO_PRETRAINING[0]]]
    if not shared:
        return []
    lines = [f"## Soundness check: {HU} against the literature", "",
             "| task | ours | Hu et al. 2020 | GraphMVP's rerun | within 4 points |",
             "|---|---|---|---|---|"]
    agreeing = 0
    for task in shared:
        ours = table[task][HU]
        quoted = [LITERATURE[row][task] for row in NO_PRETRAINING]
        within = any(abs(ours.mean - q) <= 0.04 for q in quoted)
        agreeing += within
        lines.append(f"| {task} | {format_cell(ours)} | {quoted[0]:.3f} | {quoted[1]:.3f} | "
                     f"{'yes' if within else 'no'} |")
    lines += ["", f"{agreeing} of {len(shared)} tasks run agree within 4 points (the bar: at "
              "least 4 of the 6)."]
    return lines


def compute_lines(records: Sequence[Dict[str, Any]]) -> List[str]:
    """Wall-clock hours per method as recorded (each record's own ``seconds``), with the
    threads it ran on, and the median minutes of one unit (a task and a seed): the measured
    cost of the plan."""
    per_method: Dict[str, List[Dict[str, Any]]] = {}
    for record in records:
        per_method.setdefault(record["method"], []).append(record)
    lines = ["## Compute, as recorded", "", "Wall-clock time of every record (CPU unless the "
             "record's device says otherwise): hours in all, and the median minutes of one "
             "unit (one task, one seed; other tasks than HIV, and HIV, which dominates).", "",
             "| method | records | hours (all but HIV) | hours (HIV) | minutes a unit "
             "(all but HIV) | minutes a unit (HIV) | threads |",
             "|---|---|---|---|---|---|---|"]
    for method in _ordered(list(per_method), METHOD_ORDER):
        found = per_method[method]
        seconds = [[r.get("seconds", 0) for r in found if (r["task"] == "hiv") == hiv]
                   for hiv in (False, True)]
        hours = [sum(s) / 3600 for s in seconds]
        unit = [f"{np.median(s) / 60:.1f}" if s else "–" for s in seconds]
        threads = sorted({str(r.get("threads", "?")) for r in found})
        lines.append(f"| {method} | {len(found)} | {hours[0]:.2f} | {hours[1]:.2f} | "
                     f"{unit[0]} | {unit[1]} | {', '.join(threads)} |")
    return lines


def comparison_lines(table: Dict[str, Dict[str, Cell]], methods: Sequence[str]) -> List[str]:
    if not any(OURS in found for found in table.values()):
        return []
    lines = [f"## {OURS} against each method", "",
             "A win counts only where the difference of the means exceeds the larger of the "
             "two standard deviations; Δ is the mean absolute difference (positive: "
             f"{OURS} better; ROC-AUC gain, RMSE reduction).", "",
             "| against | tasks | wins | ties | losses | Δ ROC-AUC | Δ RMSE |",
             "|---|---|---|---|---|---|---|"]
    for other in methods:
        if other == OURS:
            continue
        h = head_to_head(table, OURS, other)
        if h["tasks"]:
            delta = {k: f"{v:+.3f}" for k, v in h["delta"].items()}
            lines.append(f"| {other} | {len(h['tasks'])} | {h['wins']} | {h['ties']} | "
                         f"{h['losses']} | {delta.get('ROC-AUC', '–')} | "
                         f"{delta.get('RMSE', '–')} |")
    return lines


def rank_lines(table: Dict[str, Dict[str, Cell]], methods: Sequence[str]) -> List[str]:
    """Mean rank per method, each over the tasks it ran (1 = best)."""
    lines = ["## Mean rank", "", "Rank 1 is the best mean on a task; each method is ranked "
             "among the methods that ran that task, averaged over the tasks it ran.", "",
             "| method | mean rank | tasks |", "|---|---|---|"]
    per_method: Dict[str, List[float]] = {}
    for per_task in ranks(table).values():
        for method, rank in per_task.items():
            per_method.setdefault(method, []).append(rank)
    for method in sorted(per_method, key=lambda m: np.mean(per_method[m])):
        lines.append(f"| {method} | {np.mean(per_method[method]):.2f} | "
                     f"{len(per_method[method])} |")
    return lines


def is_acml(method: str) -> bool:
    """Whether a row uses an ACML-trained encoder (the other rows are baselines and
    controls)."""
    return method.startswith("ACML") or method.endswith("+ ACML")


def validation_choice(records: Sequence[Dict[str, Any]]
                      ) -> Tuple[Optional[str], Dict[str, Tuple[float, int]]]:
    """The ACML row that the validation scores favour — the best mean rank by validation
    score among the ACML rows that ran at least the six small tasks, over the tasks every one
    of them ran (a row with fewer tasks waits: it would shrink the comparison to its own) —
    and every candidate's ``(mean validation rank, tasks)``. Test scores play no part: this
    is the model selection that picks the package's default."""
    table = cells(records, score="valid_score")
    candidates = sorted({m for found in table.values() for m in found
                         if is_acml(m) and m not in NOT_RANKED
                         and all(m in table.get(t, {}) for t in SMALL_TASKS)})
    if not candidates:
        return None, {}
    ranked = mean_ranks(table, candidates)
    if not any(tasks for _, tasks in ranked.values()):
        return None, ranked
    return min(ranked, key=lambda m: ranked[m][0]), ranked


def validation_lines(records: Sequence[Dict[str, Any]]) -> List[str]:
    """The section that shows how the recommended row is chosen."""
    winner, ranked = validation_choice(records)
    if winner is None:
        return []
    valid = cells(records, score="valid_score")
    tasks = [t for t in TASK_ORDER if t in valid and all(m in valid[t] for m in ranked)]
    lines = ["## Choosing the recommended row (validation scores only)", "",
             "Each ACML row's validation score (of the model its own selection kept: the best "
             "epoch, or the best point of a grid), ranked among the ACML rows that ran at least "
             "the six small tasks, on each task every one of them ran, and the mean of those "
             "ranks. The best mean rank is the "
             "package's default, `ACMLPropertyModel(n_tasks, mode)`; test scores play no "
             "part. A grid searched on validation (the tree rows) flatters its validation "
             "score more than an early stop does.", "",
             "| ACML row | mean validation rank | " + " | ".join(tasks) + " |",
             "|---|---|" + "---|" * len(tasks)]
    for method in sorted(ranked, key=lambda m: ranked[m][0]):
        name = f"**{method}**" if method == winner else method
        row = [format_cell(valid[t][method]) for t in tasks]
        lines.append(f"| {name} | {ranked[method][0]:.2f} | " + " | ".join(row) + " |")
    return lines


def readme_table_lines(records: Sequence[Dict[str, Any]],
                       recommended: str = RECOMMENDED) -> List[str]:
    """The README's small table: per task, the recommended row's score and rank beside the
    best measured baseline (the best row that uses no ACML encoder), and the mean ranks."""
    table = cells(records)
    tasks = [t for t in _ordered(list(table), TASK_ORDER) if recommended in table[t]]
    if not tasks:
        return [f"No records of {recommended!r} yet."]
    per_task = ranks(table)
    lines = ["| task (metric) | ACML, recommended | its rank | best baseline | its score | "
             "ACML's result |", "|---|---|---|---|---|---|"]
    outcomes: List[str] = []
    for task in tasks:
        found = table[task]
        classification = found[recommended].mode == "classification"
        baselines = [m for m in found if not is_acml(m)]
        pick = max if classification else min
        best = pick(baselines, key=lambda m: found[m].mean) if baselines else None
        rank = per_task[task][recommended]
        outcome = "–"
        if best:
            ours, theirs = found[recommended], found[best]
            gain = (ours.mean - theirs.mean) * (1 if classification else -1)
            margin = max(np.nan_to_num(ours.std), np.nan_to_num(theirs.std))
            outcome = "win" if gain > margin else "loss" if -gain > margin else "tie"
            outcomes.append(outcome)
        lines.append(f"| {task} ({'ROC-AUC ↑' if classification else 'RMSE ↓'}) | "
                     f"{format_cell(found[recommended])} | {rank:g} of {len(per_task[task])} | "
                     f"{best or '–'} | {format_cell(found[best]) if best else '–'} | "
                     f"{outcome} |")
    runs = {m: [r[m] for r in per_task.values() if m in r]
            for m in {m for r in per_task.values() for m in r}}
    # rows that ran fewer tasks are not ranked beside it: a mean over two tasks is no match
    enough = len(tasks) - 1
    mean = {m: float(np.mean(found)) for m, found in runs.items() if len(found) >= enough}
    order = sorted(mean, key=lambda m: mean[m])
    counts = ", ".join(f"{outcomes.count(o)} {o}" + ("" if outcomes.count(o) == 1 else
                                                      "es" if o == "loss" else "s")
                       for o in ("win", "tie", "loss"))
    lines += ["", f"Against the best baseline of each task: {counts} (a win or loss only where "
              "the difference of the means exceeds the larger standard deviation). Mean rank "
              f"over the tasks each row ran: {mean[recommended]:.2f}, "
              f"{_ordinal(order.index(recommended) + 1)} of the {len(order)} rows that ran at "
              f"least {enough} of these {len(tasks)} tasks (best: {order[0]}, "
              f"{mean[order[0]]:.2f})."]
    missing = [t for t in _ordered(list(table), TASK_ORDER) if t not in tasks]
    if missing:
        lines[-1] += (f" Not yet run for the recommended row: {', '.join(missing)} — the "
                      "ranks above are over its tasks only.")
    return lines


def write_readme_table(records: Sequence[Dict[str, Any]], readme: Path) -> bool:
    """Replace the lines between :data:`README_BEGIN` and :data:`README_END` in ``readme``
    with :func:`readme_table_lines`; False (nothing written) when the markers are missing."""
    readme = Path(readme)
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    body = "\n".join(readme_table_lines(records))
    readme.write_text(f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}")
    return True


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _rank_order(table: Dict[str, Dict[str, Cell]]) -> Tuple[List[str], Dict[str, float]]:
    """Methods by mean rank (over the tasks each ran), best first, and the mean ranks."""
    per_task = ranks(table)
    names = {m for r in per_task.values() for m in r}
    mean = {m: float(np.mean([r[m] for r in per_task.values() if m in r])) for m in names}
    return sorted(names, key=lambda m: (mean[m], m)), mean


def _label(method: str, width: int = 44) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(method, width)) or method


def plot(records: Sequence[Dict[str, Any]], path: Path) -> Path:
    """Heat map of ranks: one row per method (best mean rank first), one column per task and
    a mean-rank column; rank 1 is the best mean on a task. The recommended row is framed and
    its label bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = cells(records)
    tasks = _ordered(list(table), TASK_ORDER)
    per_task = ranks(table)
    methods, mean = _rank_order(table)
    grid = np.array([[per_task[t].get(m, np.nan) for t in tasks] + [mean[m]] for m in methods])
    scaled = grid / np.array([len(table[t]) for t in tasks] + [len(methods)])
    labels = [_label(m) for m in methods]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure, ax = plt.subplots(figsize=(10, 0.24 * lines + 0.1 * len(methods) + 1.4))
    colours = matplotlib.colormaps["RdYlGn_r"].copy()
    colours.set_bad("#dddddd")
    ax.imshow(np.ma.masked_invalid(scaled), cmap=colours, vmin=0, vmax=1, aspect="auto")
    for i in range(len(methods)):
        for j in range(len(tasks) + 1):
            value = grid[i, j]
            text = "–" if np.isnan(value) else (f"{value:.1f}" if j == len(tasks) else f"{value:g}")
            ax.text(j, i, text, ha="center", va="center", fontsize=10,
                    fontweight="bold" if j == len(tasks) else "normal")
    ax.set_xticks(range(len(tasks) + 1), list(tasks) + ["mean\nrank"], fontsize=10)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(methods)), labels, fontsize=10)
    ax.axvline(len(tasks) - 0.5, color="black", linewidth=1.5)
    if RECOMMENDED in methods:
        row = methods.index(RECOMMENDED)
        ax.get_yticklabels()[row].set_fontweight("bold")
        ax.add_patch(plt.Rectangle((-0.5, row - 0.5), len(tasks) + 1, 1, fill=False,
                                   edgecolor="black", linewidth=2.5, clip_on=False))
    ax.set_title("Rank on each task (1 = best mean, – not run); framed: recommended",
                 fontsize=10, pad=10)
    ax.tick_params(length=0)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_tasks(records: Sequence[Dict[str, Any]], path: Path) -> Path:
    """One narrow panel per task, the methods listed once on the left (best mean rank first):
    mean and standard deviation over seeds, ACML rows in red, the recommended row's label
    bold. A mean outside the axis is drawn to its edge and its value written there."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = cells(records)
    tasks = _ordered(list(table), TASK_ORDER)
    methods, _ = _rank_order(table)
    labels = [_label(m) for m in methods]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure, axes = plt.subplots(1, len(tasks), sharey=True, squeeze=False,
                                figsize=(10, 0.24 * lines + 0.1 * len(methods) + 1.4))
    y = np.arange(len(methods))
    for ax, task in zip(axes[0], tasks):
        found = table[task]
        classification = next(iter(found.values())).mode == "classification"
        means = np.array([found[m].mean if m in found else np.nan for m in methods])
        stds = np.array([np.nan_to_num(found[m].std) if m in found else 0.0 for m in methods])
        finite = means[np.isfinite(means)]
        if classification:
            low, high = max(0.4, finite.min() - 0.03), min(1.0, finite.max() + 0.03)
        else:  # clip what lies beyond twice the median RMSE (FreeSolv's linear probe)
            low, high = 0.0, min(finite.max() * 1.05, 2 * float(np.median(finite)))
        shown = np.clip(means, low, high)
        colours = ["tab:red" if is_acml(m) else "tab:blue" for m in methods]
        ax.barh(y, shown - low, left=low, xerr=np.where(means == shown, stds, 0), color=colours,
                alpha=0.8, error_kw=dict(lw=0.8, capsize=1.5))
        for i in np.flatnonzero(np.isfinite(means) & (means != shown)):
            ax.text(high, y[i], f"{means[i]:.1f} ▸", ha="right", va="center", fontsize=8,
                    color="white", fontweight="bold")
        ax.set_xlim(low, high)
        ax.set_title(f"{task}\n{'AUC ↑' if classification else 'RMSE ↓'}", fontsize=10)
        ax.tick_params(axis="x", labelsize=8, labelrotation=90)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, labels, fontsize=10)
    axes[0][0].invert_yaxis()
    if RECOMMENDED in methods:
        axes[0][0].get_yticklabels()[methods.index(RECOMMENDED)].set_fontweight("bold")
    figure.tight_layout(w_pad=0.3)
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
