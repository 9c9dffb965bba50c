"""Prepare what the GPU check carries to the lent GPU machine, and say how to run it there.

The GPU machine has no RDKit and no DeepChem, so everything that needs them is done here,
in the package's environment, into one ignored folder (default ``runs/gpu_carry/``):

- ``pairs_13c.npz``: graph arrays of the first 4,000 embedded nmrshiftdb2 13C molecules and
  their frozen ``nmr_13c`` spectrum embeddings (the pretraining inputs);
- ``bbbp.npz``: graph arrays (the atom features of ``ACMLPropertyModel``'s default
  encoder), labels and weights of BBBP's scaffold split (as the MoleculeNet benchmark splits
  it);
- ``wheels/``: the DeepChem 2.8.0 wheel (pure Python), installed there into a temporary
  folder by ``benchmarks/gpu_check.sh``;
- ``standin/rdkit``: a stand-in package with no code of RDKit's, so that DeepChem's
  module-level ``from rdkit import Chem`` succeeds; calling anything of it raises;
- ``cpu_reference.json`` (``--cpu-reference``): the check's throughput steps at full size on
  this machine's CPU, set beside the GPU's figures.

Then prints the ``run`` arguments and the size of what travels (tracked files, untracked
files that git does not ignore, and the carried folder; the limit is 64 MiB).

    .venv/bin/python benchmarks/gpu_prepare.py --cpu-reference
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check import pack_graphs  # noqa: E402

TRAVEL_LIMIT = 64 * 2 ** 20  # bytes: what the GPU machine receives, at most
#: the tracked files' budget (tests/cli/test_gpu_check.py): the rest of TRAVEL_LIMIT is room
#: for the carried folder (about 2 MiB) and for files not yet committed
TREE_BUDGET = 48 * 2 ** 20
DEEPCHEM_WHEEL = "deepchem==2.8.0"
RUN_TIMEOUT_S = 540  # the check stops starting steps at 420 s; a step may run on past it
STANDIN = '''"""A stand-in for RDKit, carried by the GPU check where RDKit is not installed:
DeepChem's modules import names of RDKit at module level; any name resolves, iterating one is
empty, and calling one raises. No code of RDKit's is here."""


class _Absent:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Absent(f"{self._name}.{name}")

    def __iter__(self):
        return iter(())

    def __call__(self, *args, **kwargs):
        raise ImportError(f"{self._name}: RDKit is not installed here (a stand-in package)")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Absent(f"{__name__}.{name}")
'''


def write_pairs(carry: Path, n: int) -> int:
    """The pretraining inputs: graphs and frozen 13C NMR embeddings of the embedded pairs."""
    import numpy as np

    from deepchem_acml import ACMLModel
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c

    frame = read_embedded_nmr_13c().head(n)
    dataset, _ = ACMLModel("nmr_13c", encoder=dict(hidden_dim=8), projection_dim=8).build_dataset(
        frame.smiles.tolist(), frame.spectrum.tolist())
    np.savez_compressed(carry / "pairs_13c.npz", embeddings=dataset.y.astype(np.float32),
                        **pack_graphs(dataset.X))
    return len(dataset)


def write_bbbp(carry: Path) -> dict:
    """BBBP's scaffold split (the benchmark's loader) as graph arrays, featurized for the
    default encoder of ``ACMLPropertyModel``."""
    import numpy as np

    from deepchem_acml import ACMLGraphFeaturizer
    from deepchem_acml.embedding import load_graph_encoder
    from deepchem_acml.evaluation.moleculenet import load_split_task
    from deepchem_acml.models.finetune import DEFAULT_ENCODER

    atom_features = load_graph_encoder(DEFAULT_ENCODER).atom_features
    task = load_split_task("bbbp")
    arrays = {"atom_features": np.array(atom_features)}
    for split, smiles in task.smiles.items():
        report = ACMLGraphFeaturizer(atom_features=atom_features).featurize_with_report(smiles)
        rows = np.asarray(report.indices)
        arrays.update({f"{split}/{k}": v for k, v in pack_graphs(
            [report.features[i] for i in rows]).items()})
        arrays[f"{split}/y"] = task.y[split][rows].astype(np.float32)
        arrays[f"{split}/w"] = task.w[split][rows].astype(np.float32)
    np.savez_compressed(carry / "bbbp.npz", **arrays)
    return {split: len(smiles) for split, smiles in task.smiles.items()}


def write_standin(carry: Path) -> None:
    for package in ("rdkit", "rdkit/Chem"):
        folder = carry / "standin" / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(STANDIN)


def write_wheels(carry: Path, cache: Path) -> list:
    """The DeepChem wheel, from ``cache`` or else fetched once into it with pip."""
    cache.mkdir(parents=True, exist_ok=True)
    name = DEEPCHEM_WHEEL.replace("==", "-")
    found = sorted(cache.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", DEEPCHEM_WHEEL, "-d", str(cache)], check=True)
        found = sorted(cache.glob(f"{name}-*.whl"))
    (carry / "wheels").mkdir(exist_ok=True)
    for wheel in found:
        shutil.copy(wheel, carry / "wheels" / wheel.name)
    return [w.name for w in found]


def measure_cpu_reference(carry: Path) -> dict:
    """The check's throughput steps at full size on this CPU, through the same script."""
    import tempfile

    import torch

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"),
                        "--cpu-reference", "--carry", str(carry), "--out", out], check=True,
                       cwd=ROOT)
        report = json.loads((Path(out) / "gpu_check.json").read_text())
    # the load says whether other work shared the cores while the figures were taken
    report["machine"] = (f"{platform.machine()} CPU, {os.cpu_count()} cores visible, torch "
                         f"{torch.__version__} with {torch.get_num_threads()} threads, load "
                         f"average {load:.1f} before and {os.getloadavg()[0]:.1f} after (the "
                         "machine that prepared the carried inputs)")
    (carry / "cpu_reference.json").write_text(json.dumps(report, indent=2))
    return report


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def travelling_files(root: Path) -> list:
    """Tracked files and untracked files git does not ignore (what the run tool sends)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=root, capture_output=True, check=True)
    names = sorted({n for n in listed.stdout.decode().split("\0") if n})
    return [n for n in names if (root / n).is_file()]


def travelling_size(root: Path, carried: list) -> dict:
    tree = sum((root / n).stat().st_size for n in travelling_files(root))
    carry = sum(folder_size(root / c) for c in carried)
    return {"tree bytes": tree, "carried bytes": carry, "total bytes": tree + carry,
            "limit bytes": TRAVEL_LIMIT, "fits": tree + carry < TRAVEL_LIMIT}


def run_arguments(carry: Path) -> dict:
    return {"command": "bash benchmarks/gpu_check.sh",
            "carry": [os.path.relpath(carry, ROOT)], "timeout_s": RUN_TIMEOUT_S}


def tracked_size(root: Path) -> int:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                            check=True).stdout.decode().split("\0")
    return sum((root / n).stat().st_size for n in listed if n and (root / n).is_file())


def print_sizes(carry: Path) -> None:
    mib = lambda n: f"{n / 2 ** 20:.1f} MiB"  # noqa: E731
    pretrained = ROOT / "deepchem_acml" / "pretrained"
    print(f"tracked files: {mib(tracked_size(ROOT))} (budget {mib(TREE_BUDGET)}), of which "
          f"deepchem_acml/pretrained/ {mib(folder_size(pretrained))}")
    size = travelling_size(ROOT, [carry] if carry.exists() else [])
    print(f"would travel: tree {mib(size['tree bytes'])} (tracked and untracked-not-ignored) "
          f"+ carried {mib(size['carried bytes'])} = {mib(size['total bytes'])} "
          f"(limit {mib(TRAVEL_LIMIT)})")


def prepare(carry: Path, cpu_reference: bool, wheel_cache: Path, pairs: int = 4000) -> dict:
    carry.mkdir(parents=True, exist_ok=True)
    summary = {"pairs": write_pairs(carry, pairs), "bbbp": write_bbbp(carry),
               "wheels": write_wheels(carry, wheel_cache)}
    write_standin(carry)
    (carry / "cpu_reference.json").unlink(missing_ok=True)  # figures of older code: not kept
    if cpu_reference:
        summary["cpu reference"] = measure_cpu_reference(carry)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carry", type=Path, default=ROOT / "runs" / "gpu_carry",
                        help="the folder to write (inside the repository, ignored by git)")
    parser.add_argument("--cpu-reference", action="store_true",
                        help="also measure the throughput steps on this CPU (a few minutes)")
    parser.add_argument("--wheel-cache", type=Path, default=ROOT / "runs" / "gpu_wheels")
    parser.add_argument("--sizes", action="store_true",
                        help="only print the sizes: tracked tree, its budget, what would travel")
    args = parser.parse_args(argv)
    carry = args.carry.resolve()
    if args.sizes:
        print_sizes(carry)
        return 0
    summary = prepare(carry, args.cpu_reference, args.wheel_cache)
    size = travelling_size(ROOT, [carry]) if carry.is_relative_to(ROOT) else None
    print(json.dumps({k: v for k, v in summary.items() if k != "cpu reference"}, indent=2))
    print("run tool arguments:", json.dumps(run_arguments(carry)))
    if size is not None:
        print("travelling: " + ", ".join(f"{k} {v / 2 ** 20:.1f} MiB" if "bytes" in k else
                                          f"{k} {v}" for k, v in size.items()))
        if not size["fits"]:
            print("too large to travel: ignore or carry less", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
