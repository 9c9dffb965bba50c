"""Rehearse the GPU check here, on the CPU, as the lent GPU machine will run it.

Builds exactly what travels into a temporary folder (the tracked files, the untracked files
git does not ignore, and a freshly prepared ``runs/gpu_carry/``), checks its size against the
64 MiB limit, then runs the same command (``bash benchmarks/gpu_check.sh``, with
``--dry-run``) there with a ``python3`` that holds only packages the GPU machine has (torch,
numpy, pandas, scikit-learn, tqdm; no RDKit, no DeepChem): ``make test`` builds that
environment, ``.venv-gpu-rehearsal`` (Python 3.11 and torch 2.13.0 CPU, where the GPU
machine has Python 3.12 and torch 2.11 with CUDA). Passes when every step of the check
passes and what travels fits.

    .venv/bin/python benchmarks/gpu_rehearsal.py --python .venv-gpu-rehearsal/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_prepare import TRAVEL_LIMIT, prepare, run_arguments, travelling_files  # noqa: E402


def copy_tree(target: Path) -> None:
    """What the run tool sends: tracked files and untracked files git does not ignore."""
    for name in travelling_files(ROOT):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)


def clean_environment(python: Path) -> dict:
    """The environment of the command there: ``python3`` is the rehearsal environment's (its
    ``bin`` first on the path), and nothing of this machine's Python settings leaks in."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = f"{python.absolute().parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def importable_beyond_the_gpu_machine(env: dict) -> list:
    """Packages the rehearsal interpreter must lack, as the GPU machine does, that it has."""
    probe = ("import importlib.util as u; print(' '.join(n for n in ('rdkit', 'deepchem', "
             "'deepchem_acml') if u.find_spec(n)))")
    found = subprocess.run(["python3", "-c", probe], env=env, capture_output=True, text=True,
                           cwd=tempfile.gettempdir(), check=True).stdout.split()
    return found


def rehearse(python: Path, keep: bool = False) -> dict:
    started = time.time()
    folder = Path(tempfile.mkdtemp(prefix="gpu-rehearsal-"))
    tree, out = folder / "tree", folder / "out"
    try:
        copy_tree(tree)
        carry = tree / "runs" / "gpu_carry"
        prepare(carry, cpu_reference=False, wheel_cache=ROOT / "runs" / "gpu_wheels")
        tree_bytes = sum(p.stat().st_size for p in tree.rglob("*")
                         if p.is_file() and not p.is_relative_to(carry))
        carried = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
        size = {"tree bytes": tree_bytes, "carried bytes": carried,
                "total bytes": tree_bytes + carried, "fits": tree_bytes + carried < TRAVEL_LIMIT}
        env = clean_environment(python)
        leaked = importable_beyond_the_gpu_machine(env)
        env["OUT"] = str(out)
        command = run_arguments(carry)["command"] + " --dry-run"
        completed = subprocess.run(command, shell=True, cwd=tree, env=env, capture_output=True,
                                   text=True, timeout=900)
        report = json.loads((out / "gpu_check.json").read_text()) \
            if (out / "gpu_check.json").exists() else {}
        return {"passed": completed.returncode == 0 and size["fits"] and not leaked,
                "returncode": completed.returncode, "size": size,
                "importable there but not on the GPU machine": leaked,
                "check": report, "seconds": round(time.time() - started, 1),
                "output tail": (completed.stdout + completed.stderr)[-3000:],
                "folder": str(folder) if keep else None}
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=ROOT / ".venv-gpu-rehearsal" / "bin"
                        / "python", help="an interpreter holding only what the GPU machine has")
    parser.add_argument("--report", type=Path, default=None, help="also write the result here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # the progress bars of preparing the inputs
    if not args.python.exists():
        print(f"no rehearsal interpreter at {args.python}: `make gpu-rehearsal-env` builds it",
              file=sys.stderr)
        return 2
    result = rehearse(args.python, args.keep)
    if args.report is not None:
        args.report.write_text(json.dumps(result, indent=2, default=str))
    size = result["size"]
    print(f"travelling: tree {size['tree bytes'] / 2 ** 20:.1f} MiB + carried "
          f"{size['carried bytes'] / 2 ** 20:.1f} MiB = {size['total bytes'] / 2 ** 20:.1f} MiB "
          f"(limit {TRAVEL_LIMIT / 2 ** 20:.0f} MiB)")
    print("steps: " + ", ".join(f"{k} {'ok' if v.get('ok') else 'FAILED'}"
                                 for k, v in result["check"].items() if isinstance(v, dict)
                                 and "ok" in v))
    if result["importable there but not on the GPU machine"]:
        print("the rehearsal interpreter holds "
              f"{result['importable there but not on the GPU machine']}: rebuild it bare")
    if not result["passed"]:
        print(result["output tail"])
    print(f"gpu rehearsal {'passed' if result['passed'] else 'FAILED'} in "
          f"{result['seconds']} s")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
