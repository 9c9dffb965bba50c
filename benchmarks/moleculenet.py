"""MoleculeNet benchmark: ACML against strong and faithful baselines, resumable.

Every (task, method, seed) that finishes is appended as one record to
``OUT/moleculenet.json`` (score, validation score, best epoch, epochs run, wall time,
versions, command); a rerun skips what is recorded for the same settings, so the benchmark
can be stopped at any point and continued. ``--render`` only redraws ``OUT/moleculenet.md``,
``OUT/moleculenet.png`` and ``OUT/moleculenet_tasks.png`` from the records (and, for the
repository's own records, the README's table). Methods: ``deepchem_acml.evaluation.moleculenet``.
Reads the MoleculeNet files from the shared data folder ($ACML_DATA_DIR or ../shared/data;
ESOL and BBBP are embedded in the package). DeepChem's GCN and AttentiveFP need DGL: run
them from the ``dgl`` tox environment into the same file.

    .venv/bin/python benchmarks/moleculenet.py --methods "GIN scratch (Hu et al. recipe)" \\
        --tasks bbbp bace --seeds 0 1 2
    PYTHONPATH=. .tox/dgl/bin/python benchmarks/moleculenet.py --methods "DeepChem GCN"
    .venv/bin/python benchmarks/moleculenet.py --render
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

logging.getLogger("deepchem").setLevel(logging.ERROR)
logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
logging.getLogger("deepchem_acml.evaluation").setLevel(logging.INFO)  # a line per record


def parse_arguments(argv=None) -> argparse.Namespace:
    from deepchem_acml.evaluation.moleculenet import ALL_METHODS, FEATURE_ENCODER, TASKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=sorted(TASKS))
    parser.add_argument("--methods", nargs="+", default=None, choices=sorted(ALL_METHODS),
                        metavar="METHOD", help="default: every method this environment runs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pretrained", default="smiles",
                        help="the ACML checkpoint of the ACML rows (shipped name or path)")
    parser.add_argument("--feature-encoder", default=FEATURE_ENCODER,
                        help="the shipped encoder whose frozen embeddings the tree rows read "
                        "(default: %(default)s)")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--device", default=None, help="torch device (default: DeepChem's "
                        "choice, the GPU when there is one)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--state-dir", type=Path, default=Path("runs/benchmark_states"),
                        help="where a neural unit writes its training state after every "
                        "epoch; a stopped unit continues from it (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every epoch's validation score of the neural methods")
    parser.add_argument("--render", action="store_true",
                        help="only redraw the table and figure from the records")
    return parser.parse_args(argv)


def default_methods() -> list:
    """The methods whose dependencies import here (DGL's only in the dgl environment)."""
    from deepchem_acml.evaluation.moleculenet import DGL_METHODS, METHODS

    try:
        import dgl  # noqa: F401
        return list(DGL_METHODS)
    except ImportError:
        return list(METHODS)


def method_recipe(method: str, args: argparse.Namespace) -> dict:
    """The settings a record of ``method`` depends on (a change makes a new recipe id)."""
    from deepchem_acml.evaluation.moleculenet import (
        ACML_RECIPE,
        DESCRIPTORS,
        HEAD_FIRST_RECIPE,
        HU_RECIPE,
        MEAN_POOLING_SCRATCH_RECIPE,
        RICH_DISTILLED,
        SLOW_ENCODER_RECIPE,
    )

    neural = {"max_epochs": args.max_epochs, "patience": args.patience}
    recipes = {
        "GIN scratch (Hu et al. recipe)": {**HU_RECIPE, **neural},
        "GIN scratch (ACML architecture)": {**ACML_RECIPE, **neural, "like": args.pretrained},
        "ACML fine-tuned": {**ACML_RECIPE, **neural, "pretrained": args.pretrained},
        "ACML fine-tuned (slow encoder, mean pooling)": {**SLOW_ENCODER_RECIPE, **neural,
                                                         "pretrained": args.pretrained},
        f"ACML fine-tuned ({RICH_DISTILLED}, slow encoder, mean pooling)": {
            **SLOW_ENCODER_RECIPE, **neural, "pretrained": RICH_DISTILLED},
        "ACML fine-tuned (head first, slow encoder, mean pooling)": {
            **HEAD_FIRST_RECIPE, **neural, "pretrained": args.pretrained},
        "GIN scratch (ACML architecture, mean pooling)": {
            **MEAN_POOLING_SCRATCH_RECIPE, **neural, "like": args.pretrained, "pooling": "mean"},
        "GIN scratch (ACML architecture, mean pooling, rich atoms)": {
            **MEAN_POOLING_SCRATCH_RECIPE, **neural, "like": args.pretrained, "pooling": "mean",
            "atom_features": "rich"},
        "ACML frozen + linear": {"pretrained": args.pretrained},
        "untrained GIN + linear": {"like": args.pretrained},
        "teacher + linear": {"teacher_of": args.pretrained},
        "DeepChem GCN": neural, "DeepChem AttentiveFP": neural,
        "ACML fine-tuned + descriptors": {**SLOW_ENCODER_RECIPE, **DESCRIPTORS, **neural,
                                          "pretrained": RICH_DISTILLED},
        "GIN scratch + descriptors": {**MEAN_POOLING_SCRATCH_RECIPE, **DESCRIPTORS, **neural,
                                      "like": RICH_DISTILLED, "pooling": "mean"},
        "chemprop D-MPNN + RDKit descriptors": {"molecule_featurizers":
                                                "v1_rdkit_2d_normalized"},
        "ACMLPropertyModel() defaults": {**neural, "defaults": _property_model_defaults()},
        "ACML frozen + LightGBM": {"pretrained": args.feature_encoder},
        "untrained GIN + LightGBM": {"like": args.feature_encoder},
        "LightGBM on RDKit 2-D descriptors + ACML": {"pretrained": args.feature_encoder},
        "LightGBM on RDKit 2-D descriptors + untrained GIN": {"like": args.feature_encoder},
    }
    return {"method": method, **recipes.get(method, {}), "protocol": 2}


def _property_model_defaults() -> dict:
    # (the defaults row means "whatever the defaults are": changed defaults make a new
    # recipe, never a cell that mixes two sets of defaults)
    import inspect

    from deepchem_acml.models.finetune import ACMLPropertyModel

    parameters = inspect.signature(ACMLPropertyModel.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def run(args: argparse.Namespace, argv=None) -> int:
    import torch

    from deepchem_acml.evaluation.benchmark_records import (
        append_record,
        is_recorded,
        read_records,
        recipe_id,
    )
    from deepchem_acml.evaluation.moleculenet import (
        BenchmarkContext,
        EarlyStopping,
        load_split_task,
        run_method,
    )
    from deepchem_acml.provenance import command_line, package_versions

    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.out / "moleculenet.json"
    args.state_dir.mkdir(parents=True, exist_ok=True)
    methods = args.methods or default_methods()
    context = BenchmarkContext(args.pretrained, EarlyStopping(args.max_epochs, args.patience),
                               args.device, feature_encoder=args.feature_encoder)
    versions = package_versions(["chemprop", "lightgbm", "dgl"])
    failed = []
    for name in args.tasks:
        task = None
        for method in methods:
            recipe = method_recipe(method, args)
            for seed in args.seeds:
                if is_recorded(read_records(path), name, method, seed, recipe_id(recipe)):
                    continue
                task = task or load_split_task(name)
                # (the records file in the name: two runs into different files never share)
                state = args.state_dir / (f"{name}-{recipe_id(recipe)}-{seed}-"
                                          f"{recipe_id({'records': str(path.resolve())})}.pt")
                unit = replace(context, stopping=replace(context.stopping, state_path=str(state)))
                try:
                    result, seconds = run_method(method, task, seed, unit)
                except Exception:  # one broken unit must not end an unattended run
                    logging.exception("%s, seed %d, %s failed; nothing recorded", name, seed,
                                      method)
                    failed.append((name, method, seed))
                    continue
                append_record(path, {
                    "task": name, "method": method, "seed": seed, "mode": task.mode,
                    "metric": "ROC-AUC" if task.mode == "classification" else "RMSE",
                    **result.as_record(), "seconds": seconds, "recipe": recipe,
                    "recipe_id": recipe_id(recipe), "device": str(args.device or "default"),
                    "threads": torch.get_num_threads(),
                    "sizes": {n: len(s) for n, s in task.smiles.items()},
                    "n_unparsed_skipped": task.n_unparsed, "versions": versions,
                    "command": command_line("python benchmarks/moleculenet.py", argv),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
                state.unlink(missing_ok=True)
    render(args.out)
    if failed:
        print(f"{len(failed)} unit(s) failed and were not recorded: {failed}", file=sys.stderr)
    return 1 if failed else 0


def render(out: Path) -> int:
    from deepchem_acml.evaluation.benchmark_records import read_records
    from deepchem_acml.evaluation.benchmark_report import (
        plot,
        plot_tasks,
        render_markdown,
        write_readme_table,
    )

    records = read_records(out / "moleculenet.json")
    (out / "moleculenet.md").write_text(render_markdown(records))
    plot(records, out / "moleculenet.png")
    plot_tasks(records, out / "moleculenet_tasks.png")
    written = [out / name
               for name in ("moleculenet.md", "moleculenet.png", "moleculenet_tasks.png")]
    readme = Path(__file__).resolve().parents[1] / "README.md"
    own = out.resolve() == readme.parent / "docs" / "benchmarks"
    if own and write_readme_table(records, readme):
        written.append(readme)  # the README's table, only from the repository's own records
    print(f"{len(records)} records; wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None) -> int:
    args = parse_arguments(argv)
    if args.verbose:
        logging.getLogger("deepchem_acml.evaluation").setLevel(logging.DEBUG)
    args.out.mkdir(parents=True, exist_ok=True)
    return render(args.out) if args.render else run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
