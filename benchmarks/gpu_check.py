"""The GPU check: figures of the package on a CUDA device, written for the lent GPU machine.

That machine has its own ``python3`` (torch with CUDA, numpy, pandas, scikit-learn) and
neither RDKit nor DeepChem, so nothing here parses a molecule: the inputs are prepared on a
machine that has them (``benchmarks/gpu_prepare.py``: graph arrays, frozen 13C NMR
embeddings, the DeepChem wheel, a stand-in ``rdkit`` package for DeepChem's module-level
imports) and carried in ``runs/gpu_carry/``; ``benchmarks/gpu_check.sh`` installs the wheel
and runs this script. The steps, each timed, each recording its own error while the others
go on (the JSON is rewritten after every step, so a run cut short still reports):

1. ``environment``: versions, the device, where DeepChem and RDKit come from;
2. ``device parity``: a shipped encoder embeds the same graphs on the device and the CPU
   (the check of the ``gpu`` tests, which featurize SMILES and so need RDKit);
3. ``pretraining``: ``ACMLModel`` steps/s on the 13C NMR pairs (batch 128), fp32 and bf16;
4. ``embedding``: molecules/s of the default frozen encoder, fp32 and bf16;
5. ``fine-tuning``: ``ACMLPropertyModel`` with its defaults but the graph alone (the default
   RDKit descriptors need RDKit, which the GPU machine lacks) on BBBP's scaffold split (test
   ROC-AUC at the best validation epoch; steps/s, fp32 and bf16);
6. ``determinism``: one seeded pretraining run twice on the device, weights compared;
7. ``resume on the CPU``: a training state written on the device, resumed on the CPU.

Writes ``OUT/gpu_check.json``; throughput is set beside the CPU figures carried in
``cpu_reference.json`` (measured by the prepare script on the machine that prepared them).

    benchmarks/gpu_check.sh                           # on the GPU machine (OUT set there)
    benchmarks/gpu_check.sh --dry-run                 # the same steps on the CPU, tiny sizes
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("environment", "device parity", "pretraining", "embedding", "fine-tuning",
         "determinism", "resume on the CPU")
#: the throughput steps the prepare script measures on its own CPU, for the comparison
THROUGHPUT_STEPS = ("pretraining", "embedding", "fine-tuning")
SIZES = {  # molecules, steps and epochs of each mode
    "full": dict(pairs=4000, pretrain_steps=150, embed=None, finetune_epochs=30,
                 bf16_epochs=5, small_pairs=1024, small_epochs=2),
    "cpu reference": dict(pairs=4000, pretrain_steps=30, embed=None, finetune_epochs=1,
                          bf16_epochs=1, small_pairs=1024, small_epochs=1),
    "dry run": dict(pairs=256, pretrain_steps=4, embed=256, finetune_epochs=1, bf16_epochs=1,
                    small_pairs=128, small_epochs=1, bbbp_rows=256),
}
#: ``ACMLModel.fit`` without its progress bar and without writing checkpoints into its
#: model_dir (not part of a training step's cost)
QUIET = {"progress": False, "checkpoint_interval": 0}
#: optional backends DeepChem imports when it finds them; kept out, so that DeepChem loads
#: the same modules on the GPU machine (which has some of them) as in the rehearsal (none)
KEPT_OUT = ("jax", "jaxlib", "haiku", "optax", "torch_geometric", "tensorflow", "dgl",
            "dgllife", "lightning", "pytorch_lightning", "transformers", "tokenizers")


def prepare_imports(carry: Path) -> dict:
    """Make DeepChem importable without RDKit: the carried stand-in ``rdkit`` (module-level
    names only; calling any of it raises) goes on the path where no RDKit is installed."""
    for name in KEPT_OUT:  # None in sys.modules: `import` fails, find_spec answers None
        sys.modules.setdefault(name, None)
    uses_standin = importlib.util.find_spec("rdkit") is None
    if uses_standin:
        sys.path.append(str(carry / "standin"))
    return {"rdkit": "carried stand-in (no RDKit here)" if uses_standin else "installed"}


class ArrayGraph:
    """One molecular graph from carried arrays, for when DeepChem's ``GraphData`` is absent
    (the encoders read only these four attributes)."""

    def __init__(self, node_features, edge_index, edge_features):
        self.node_features, self.edge_index = node_features, edge_index
        self.edge_features, self.num_nodes = edge_features, len(node_features)


def pack_graphs(graphs) -> dict:
    """Arrays holding ``graphs`` (``GraphData``-like objects), for :func:`unpack_graphs`."""
    import numpy as np

    return {"node_counts": np.array([len(g.node_features) for g in graphs], np.int32),
            "edge_counts": np.array([g.edge_index.shape[1] for g in graphs], np.int32),
            "node_features": np.concatenate([g.node_features for g in graphs]).astype(np.int16),
            "edge_index": np.concatenate([g.edge_index for g in graphs], axis=1).astype(np.int16),
            "edge_features": np.concatenate([np.reshape(g.edge_features, (-1, 2))
                                             for g in graphs]).astype(np.int16)}


def unpack_graphs(arrays, limit=None):
    """An object array of graphs from :func:`pack_graphs`' arrays (``GraphData`` when
    DeepChem imports, else :class:`ArrayGraph`)."""
    import numpy as np

    try:
        from deepchem.feat import GraphData as make
    except ImportError:
        make = ArrayGraph
    nodes = np.cumsum(np.concatenate(([0], arrays["node_counts"]))).astype(np.int64)
    edges = np.cumsum(np.concatenate(([0], arrays["edge_counts"]))).astype(np.int64)
    n = len(arrays["node_counts"]) if limit is None else min(limit, len(arrays["node_counts"]))
    graphs = np.empty(n, dtype=object)
    as_int = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731  (stored as int16)
    for i in range(n):
        atoms, bonds = slice(nodes[i], nodes[i + 1]), slice(edges[i], edges[i + 1])
        graphs[i] = make(node_features=as_int(arrays["node_features"][atoms]),
                         edge_index=as_int(arrays["edge_index"][:, bonds]),
                         edge_features=as_int(arrays["edge_features"][bonds]))
    return graphs


class Check:
    """The report: ``with check.step(name):`` times a step and records its error, if any;
    the JSON is written after each step."""

    def __init__(self, out: Path, report: dict, only=None, budget_s=None):
        self.out, self.report, self.only = out, report, only
        self.deadline = None if budget_s is None else time.time() + budget_s
        out.mkdir(parents=True, exist_ok=True)

    def wanted(self, name: str) -> bool:
        if self.only is not None and name not in self.only:
            return False
        if self.deadline is not None and time.time() > self.deadline:
            self.report[name] = {"ok": False, "error": "not started: the time budget ran out"}
            self.write()
            return False
        return True

    def step(self, name: str):
        check = self

        class Step:
            def __enter__(self):
                self.started = time.time()
                check.report[name] = {}
                print(f"== {name}", flush=True)
                return check.report[name]

            def __exit__(self, kind, value, traceback):
                entry = check.report[name]
                entry.update(ok=kind is None, seconds=round(time.time() - self.started, 1))
                if kind is not None:
                    import traceback as tb

                    entry["error"] = f"{kind.__name__}: {value}"
                    entry["where"] = tb.format_tb(traceback)[-1].strip().splitlines()[0]
                    print(f"   failed: {entry['error']}", flush=True)
                check.write()
                return kind is not None and issubclass(kind, Exception)
        return Step()

    def write(self) -> None:
        (self.out / "gpu_check.json").write_text(json.dumps(self.report, indent=2, default=str))


def synchronize(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def environment(device: str, imports: dict) -> dict:
    import numpy
    import torch

    figures = {"python": platform.python_version(), "torch": torch.__version__,
               "numpy": numpy.__version__, "cuda available": torch.cuda.is_available(), **imports}
    if torch.device(device).type == "cuda":
        figures.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                       capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                       bf16=torch.cuda.is_bf16_supported())
    import deepchem

    figures["deepchem"] = f"{deepchem.__version__} ({Path(deepchem.__file__).parent})"
    return figures


def device_parity(device: str, graphs) -> dict:
    import numpy as np

    from deepchem_acml.embedding import embed_graphs, load_graph_encoder
    from deepchem_acml.shipped import DEFAULT_ENCODER

    cpu = embed_graphs(load_graph_encoder(DEFAULT_ENCODER, device="cpu"), list(graphs))
    on_device = embed_graphs(load_graph_encoder(DEFAULT_ENCODER, device=device), list(graphs))
    difference = float(np.abs(on_device - cpu).max())
    if difference > 1e-3 * float(np.abs(cpu).max()):
        raise AssertionError(f"{device} and CPU embeddings differ by {difference:.2e}")
    return {"encoder": DEFAULT_ENCODER, "molecules": len(graphs),
            "max abs difference vs CPU": difference}


def pairs_dataset(pairs, n):
    import deepchem as dc
    import numpy as np

    graphs = unpack_graphs(pairs, n)
    return dc.data.NumpyDataset(graphs, pairs["embeddings"][:len(graphs)].astype(np.float32),
                                np.ones((len(graphs), 1), np.float32))


def pretraining_model(device: str, precision: str = "fp32", seed: int = 0):
    """The shipped models' recipe (GIN 5 x 128, layer norm, projection 256, batch 128)."""
    import torch

    from deepchem_acml import ACMLModel

    return ACMLModel("nmr_13c", encoder=dict(hidden_dim=128), projection_dim=256,
                     batch_size=128, seed=seed, precision=precision,
                     device=torch.device(device))


def pretraining(device: str, data, steps: int) -> dict:
    figures = {"pairs": len(data), "batch": 128}
    for precision in ("fp32", "bf16"):
        model = pretraining_model(device, precision)
        model.fit(data, nb_epoch=1, **QUIET)  # warm-up: builds the optimizer, first kernels
        epochs = max(1, math.ceil(steps / max(1, len(data) // 128)))
        first, started = model._global_step, time.time()
        model.fit(data, nb_epoch=epochs, **QUIET)
        synchronize(device)
        figures[f"steps/s ({precision})"] = round((model._global_step - first)
                                                  / (time.time() - started), 2)
    return figures


def embedding(device: str, graphs) -> dict:
    from deepchem_acml.embedding import embed_graphs, load_graph_encoder
    from deepchem_acml.shipped import DEFAULT_ENCODER

    encoder = load_graph_encoder(DEFAULT_ENCODER, device=device)
    figures = {"encoder": DEFAULT_ENCODER, "molecules": len(graphs), "batch": 512}
    for precision in ("fp32", "bf16"):
        embed_graphs(encoder, list(graphs[:512]), batch_size=512, precision=precision)  # warm-up
        synchronize(device)
        started = time.time()
        embed_graphs(encoder, list(graphs), batch_size=512, precision=precision)
        synchronize(device)
        figures[f"molecules/s ({precision})"] = round(len(graphs) / (time.time() - started), 1)
    return figures


def bbbp_datasets(bbbp, rows=None) -> dict:
    import deepchem as dc

    data = {}
    for split in ("train", "valid", "test"):
        graphs = unpack_graphs(bbbp_prefix(bbbp, split), rows)
        data[split] = dc.data.NumpyDataset(graphs, bbbp[f"{split}/y"][:len(graphs)],
                                           bbbp[f"{split}/w"][:len(graphs)])
    return data


def fine_tuning(device: str, data: dict, atom_features: str, epochs: int,
                bf16_epochs: int) -> dict:
    """Test ROC-AUC at the best validation epoch and steps/s, fp32 and bf16, of
    ``ACMLPropertyModel`` with its defaults."""
    import torch
    from sklearn.metrics import roc_auc_score

    from deepchem_acml import ACMLPropertyModel
    from deepchem_acml.models.finetune import DEFAULT_ENCODER

    def auc(model, split):
        return float(roc_auc_score(data[split].y[:, 0], model.predict(data[split])[:, 0, 1]))

    figures = {"task": "BBBP (scaffold split)", "encoder": DEFAULT_ENCODER, "batch": 64,
               "molecule features": "none (graph alone)",
               "train molecules": len(data["train"])}
    for precision, n_epochs in (("fp32", epochs), ("bf16", bf16_epochs)):
        # the graph alone: the default RDKit descriptors beside it need RDKit, which the GPU
        # machine lacks (the carried graphs are featurized here, without them)
        model = ACMLPropertyModel(1, "classification", seed=0, precision=precision,
                                  device=torch.device(device), molecule_features=None)
        if model.graph_featurizer.atom_features != atom_features:
            raise ValueError(f"the carried BBBP graphs have {atom_features!r} atom features, "
                             f"the default encoder reads {model.graph_featurizer.atom_features!r}:"
                             " run benchmarks/gpu_prepare.py again")
        best, training = (-1.0, None, 0), 0.0
        for epoch in range(1, n_epochs + 1):
            started = time.time()
            model.fit(data["train"], nb_epoch=1, checkpoint_interval=0)  # no checkpoint files
            synchronize(device)
            training += time.time() - started
            valid = auc(model, "valid")
            if valid > best[0]:
                best = (valid, auc(model, "test"), epoch)
        figures[f"steps/s ({precision})"] = round(model._global_step / training, 2)
        figures[f"epochs ({precision})"] = n_epochs
        figures[f"test ROC-AUC at best valid epoch ({precision})"] = round(best[1], 4)
        figures[f"best valid ROC-AUC ({precision})"] = round(best[0], 4)
    return figures


def determinism(device: str, data, epochs: int) -> dict:
    """One seeded run twice: are the weights bitwise equal (and if not, how far apart)?"""
    import torch

    states = []
    for _ in range(2):
        model = pretraining_model(device, seed=0)
        model.fit(data, nb_epoch=epochs, **QUIET)
        states.append({k: v.detach().float().cpu() for k, v in model.model.state_dict().items()})
    difference = max(float((states[0][k] - states[1][k]).abs().max()) for k in states[0])
    return {"pairs": len(data), "epochs": epochs, "bitwise equal": difference == 0.0,
            "max abs weight difference": difference,
            "deterministic algorithms": torch.are_deterministic_algorithms_enabled()}


def resume_on_cpu(device: str, data, epochs: int, folder: Path) -> dict:
    """A run trained on ``device`` for ``epochs`` epochs, its training state resumed on the
    CPU for one more, set beside the same run never interrupted on ``device``: the last
    epoch's training loss should agree (exactly on the CPU; within float rounding across
    devices)."""
    import numpy as np
    import torch

    state_path = folder / "training_state.pt"
    state_path.unlink(missing_ok=True)
    pretraining_model(device, seed=0).train(data, data, nb_epoch=epochs,
                                            checkpoint_path=state_path, progress=False)
    resumed = pretraining_model("cpu", seed=0).train(data, data, nb_epoch=epochs + 1,
                                                     checkpoint_path=state_path, progress=False)
    whole = pretraining_model(device, seed=0).train(data, data, nb_epoch=epochs + 1,
                                                    progress=False)
    last = (float(resumed[-1]["train_loss"]), float(whole[-1]["train_loss"]))
    difference = abs(last[0] - last[1]) / max(abs(last[1]), 1e-12)
    if len(resumed) != epochs + 1 or not np.isfinite(last[0]) or difference > 0.02:
        raise AssertionError(f"resumed on the CPU: {resumed}; uninterrupted: {whole}")
    return {"written on": str(torch.device(device)), "resumed on": "cpu",
            "epochs on the device": epochs, "epochs after resuming": len(resumed),
            "last epoch train loss (resumed on the CPU)": round(last[0], 5),
            "last epoch train loss (uninterrupted on the device)": round(last[1], 5),
            "relative difference": difference}


def compare_with_cpu(report: dict, reference: dict) -> dict:
    """Device figures over the carried CPU figures, for every throughput figure in both."""
    ratios = {}
    for step in THROUGHPUT_STEPS:
        for key, value in report.get(step, {}).items():
            cpu = reference.get(step, {}).get(key)
            if "/s" in key and isinstance(cpu, (int, float)) and cpu > 0:
                ratios[f"{step}: {key}"] = round(value / cpu, 1)
    return ratios


def run(args) -> dict:
    imports = prepare_imports(args.carry)
    import torch

    device = args.device or ("cpu" if args.dry_run else "cuda")
    mode = "dry run" if args.dry_run else ("cpu reference" if args.cpu_reference else "full")
    size = SIZES[mode]
    report = {"mode": mode, "device": device, "carry": str(args.carry)}
    check = Check(args.out, report, args.only, args.budget_s)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        report["error"] = "no CUDA device here (pass --dry-run to run the steps on the CPU)"
        check.write()
        return report
    # read inside the steps, so that a file missing from the carry fails those steps alone
    pairs = functools.partial(carried, args.carry, "pairs_13c.npz")
    bbbp = functools.partial(carried, args.carry, "bbbp.npz")
    if check.wanted("environment"):
        with check.step("environment") as entry:
            entry.update(environment(device, imports))
    if check.wanted("device parity"):
        with check.step("device parity") as entry:
            entry.update(device_parity(device, unpack_graphs(pairs(), 256)))
    if check.wanted("pretraining"):
        with check.step("pretraining") as entry:
            entry.update(pretraining(device, pairs_dataset(pairs(), size["pairs"]),
                                     size["pretrain_steps"]))
    if check.wanted("embedding"):
        with check.step("embedding") as entry:
            entry.update(embedding(device, unpack_graphs(pairs(), size["embed"])))
    if check.wanted("fine-tuning"):
        with check.step("fine-tuning") as entry:
            arrays = bbbp()
            entry.update(fine_tuning(device, bbbp_datasets(arrays, size.get("bbbp_rows")),
                                     str(arrays["atom_features"]), size["finetune_epochs"],
                                     size["bf16_epochs"]))
    if check.wanted("determinism"):
        with check.step("determinism") as entry:
            entry.update(determinism(device, pairs_dataset(pairs(), size["small_pairs"]),
                                     size["small_epochs"]))
    if check.wanted("resume on the CPU"):
        with check.step("resume on the CPU") as entry:
            entry.update(resume_on_cpu(device, pairs_dataset(pairs(), size["small_pairs"]),
                                       size["small_epochs"], args.out))
        (args.out / "training_state.pt").unlink(missing_ok=True)  # not a figure: stays there
    reference = args.carry / "cpu_reference.json"
    if reference.exists() and not args.cpu_reference:
        cpu = json.loads(reference.read_text())
        report["cpu reference"] = {"measured on": cpu.get("machine", "unknown"),
                                   **{s: cpu[s] for s in THROUGHPUT_STEPS if s in cpu}}
        report["device / cpu"] = compare_with_cpu(report, cpu)
    elif not args.cpu_reference:
        report["cpu reference"] = "none carried (gpu_prepare.py --cpu-reference measures it)"
    failed = [n for n, e in report.items() if isinstance(e, dict) and e.get("ok") is False]
    report["failed steps"] = failed
    check.write()
    return report


def carried(carry: Path, name: str) -> dict:
    """The arrays of one carried file (a clear error when it was not prepared or carried)."""
    import numpy as np

    path = carry / name
    if not path.is_file():
        raise FileNotFoundError(f"no {path}: run benchmarks/gpu_prepare.py and carry its folder")
    return dict(np.load(path))


def bbbp_prefix(bbbp: dict, split: str) -> dict:
    return {k[len(split) + 1:]: v for k, v in bbbp.items() if k.startswith(split + "/")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carry", type=Path, default=ROOT / "runs" / "gpu_carry",
                        help="the folder benchmarks/gpu_prepare.py wrote")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="every step on the CPU with tiny sizes (the rehearsal)")
    parser.add_argument("--cpu-reference", action="store_true",
                        help="the throughput steps at full size on this CPU (gpu_prepare.py)")
    parser.add_argument("--only", nargs="+", choices=STEPS, default=None)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start no step after this many seconds (each records why)")
    args = parser.parse_args(argv)
    if args.cpu_reference:
        args.device, args.only = "cpu", args.only or list(THROUGHPUT_STEPS)
    report = run(args)
    print(json.dumps(report, indent=2, default=str))
    if report.get("error") or report.get("failed steps"):
        print("FAILED: " + (report.get("error") or ", ".join(report["failed steps"])))
        return 1
    print(f"gpu_check: every step passed; {args.out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
