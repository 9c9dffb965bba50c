"""One prepared GPU check, for a machine with a GPU (under 5 minutes on one):

1. the ``gpu`` tests (every device path on the CPU and on CUDA);
2. the demo trained on CUDA (a subset, a few epochs);
3. a pretraining run killed mid-training and resumed with the same command;
4. fine-tuning on one MoleculeNet task (BBBP, shipped) through the benchmark runner;
5. throughput on the device beside the CPU: pretraining steps/s, embedding molecules/s,
   fine-tuning steps/s (fp32, and bf16 where the device has it).

Writes ``OUT/gpu_check.json`` and prints a table. ``--dry-run`` does every step on the CPU
with tiny sizes (CI runs it so, so the script cannot rot while no GPU is at hand).

    python benchmarks/gpu_check.py --out runs/gpu_check            # on the GPU machine
    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check  # anywhere
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def acml(*arguments) -> list:
    return [sys.executable, "-m", "deepchem_acml.cli.main", *map(str, arguments)]


def step(name: str, report: dict):
    """``with step(name, report):`` records the step's seconds and success in
    ``report[name]`` (a failed step is recorded, and the check goes on to the next)."""
    class Step:
        def __enter__(self):
            self.started = time.time()
            report[name] = {}
            print(f"== {name}", flush=True)

        def __exit__(self, kind, value, traceback):
            report[name].update(ok=kind is None, seconds=round(time.time() - self.started, 1))
            if kind is not None:
                report[name]["error"] = f"{kind.__name__}: {value}"
            return kind is not None and issubclass(kind, Exception)
    return Step()


def run(command: list, timeout: int) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                               cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command[-6:])} failed:\n{completed.stderr[-2000:]}")
    return completed


def kill_and_resume(out: Path, data: Path, device: str, epochs: int) -> dict:
    command = acml("pretrain", "--data", data, "--out", out, "--epochs", epochs,
                   "--hidden-dim", 32, "--batch-size", 32, "--checkpoint-every", 2,
                   "--seed", 3, "--device", device)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    state = out / "training_state.pt"
    deadline = time.time() + 240
    while not state.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    killed = process.poll() is None
    if killed:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    resumed = run(command, 600)
    return {"killed_mid_run": killed, "resumed": "resuming from" in resumed.stderr,
            "finished": (out / "metrics.json").exists()}


def throughput(device: str, n_molecules: int, steps: int) -> dict:
    """Steps/s and molecules/s of the three kinds of work, fp32 (and bf16)."""
    import numpy as np
    import torch

    import deepchem as dc

    from deepchem_acml import ACMLGraphFeaturizer, ACMLModel, ACMLPropertyModel
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c
    from deepchem_acml.embedding import embed_graphs, load_graph_encoder

    frame = read_embedded_nmr_13c().head(n_molecules)
    graphs = ACMLGraphFeaturizer().featurize(frame.smiles.tolist())
    figures = {}
    encoder = load_graph_encoder("nmr_13c", device=device)
    for precision in ("fp32", "bf16"):
        embed_graphs(encoder, list(graphs[:256]), precision=precision)  # warm-up
        started = time.time()
        embed_graphs(encoder, list(graphs), batch_size=512, precision=precision)
        _sync(device)
        figures[f"embedding molecules/s ({precision})"] = len(graphs) / (time.time() - started)

    model = ACMLModel("nmr_13c", batch_size=128, seed=0, device=torch.device(device))
    data, _ = model.build_dataset(frame.smiles, frame.spectrum)
    model.fit(data, nb_epoch=1)  # warm-up, builds the optimizer
    started, done = time.time(), 0
    while done < steps:
        model.fit(data, nb_epoch=1)
        done += int(np.ceil(len(data) / 128))
    _sync(device)
    figures["pretraining steps/s (batch 128)"] = done / (time.time() - started)

    labels = (frame.smiles.str.len().to_numpy() > 20).astype(float)[:, None]
    task = dc.data.NumpyDataset(graphs, labels)
    for precision in ("fp32", "bf16"):
        tuned = ACMLPropertyModel(1, "classification", pretrained="nmr_13c", batch_size=64,
                                  precision=precision, device=torch.device(device), seed=0)
        tuned.fit(task, nb_epoch=1)
        started = time.time()
        tuned.fit(task, nb_epoch=2)
        _sync(device)
        figures[f"fine-tuning steps/s ({precision}, batch 64)"] = (
            2 * np.ceil(len(task) / 64) / (time.time() - started))
    return {k: round(float(v), 1) for k, v in figures.items()}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_check"))
    parser.add_argument("--dry-run", action="store_true",
                        help="every step on the CPU with tiny sizes (CI)")
    args = parser.parse_args(argv)
    import torch

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run to check the script on the "
              "CPU", file=sys.stderr)
        return 2
    size = dict(n=300, steps=6, epochs=3, demo=300) if args.dry_run else \
        dict(n=4000, steps=200, epochs=6, demo=4000)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
              "dry_run": args.dry_run, "torch": torch.__version__}
    with step("gpu tests", report):
        run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests/integration/test_devices.py"]
            if not args.dry_run else [sys.executable, "-m", "pytest", "-q", "-m", "gpu",
                                      "tests/integration/test_devices.py", "-k",
                                      "torchrun or default_device"], 600)
    with step("demo on the device", report):
        run(acml("demo", "--out", args.out / "demo", "--max-molecules", size["demo"],
                 "--epochs", 2, "--device", device), 600)
    with step("kill and resume", report):
        from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c

        pairs = args.out / "pairs.csv"
        read_embedded_nmr_13c().iloc[:size["n"]][["smiles", "spectrum"]].to_csv(pairs, index=False)
        report["kill and resume"].update(kill_and_resume(args.out / "resume", pairs, device,
                                                         size["epochs"]))
    with step("fine-tune BBBP", report):
        run([sys.executable, "benchmarks/moleculenet.py", "--tasks", "bbbp", "--methods",
             "ACML fine-tuned", "--seeds", "0", "--max-epochs", "2" if args.dry_run else "20",
             "--device", device, "--out", str(args.out / "bbbp")], 600)
        records = json.loads((args.out / "bbbp" / "moleculenet.json").read_text())["records"]
        report["fine-tune BBBP"]["test ROC-AUC"] = round(records[-1]["score"], 4)
    with step("throughput", report):
        report["throughput"]["on the device"] = throughput(device, size["n"], size["steps"])
        if device != "cpu":
            report["throughput"]["cpu"] = throughput("cpu", min(size["n"], 1000), 20)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
    failed = [name for name, entry in report.items() if isinstance(entry, dict)
              and entry.get("ok") is False]
    resume = report.get("kill and resume", {})
    if not (resume.get("resumed") or not resume.get("killed_mid_run")) or not resume.get("finished"):
        failed.append("kill and resume (not resumed or not finished)")
    print("FAILED: " + ", ".join(failed) if failed else "gpu_check: every step passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
