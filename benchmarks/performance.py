"""Speed and scale benchmarks (issue: speed and scale). Each part prints a table and writes JSON
to OUT/performance.json (merged with earlier parts); docs/performance.md quotes the results.
Reads the MOSES SMILES from the shared data folder ($ACML_DATA_DIR or ../shared/data).

    python benchmarks/performance.py featurize   # ACML vs DeepChem graph featurizers, joblib
    python benchmarks/performance.py cache       # training with the embedding cache vs recompute
    python benchmarks/performance.py end-to-end  # SMILES -> embedding vs bare RDKit; 10k/100k
    python benchmarks/performance.py stream      # `acml embed` over all MOSES SMILES: peak RSS,
                                                 # cost after 10k/100k/1M/1.58M rows
    python benchmarks/performance.py scaling     # `acml embed` of 20k SMILES, 1 and 2 processes;
                                                 # one SMILES, the whole command
    python benchmarks/performance.py aggregation # GIN forward: sparse aggregation vs gather/scatter
    python benchmarks/performance.py embedding   # side by side on the same SMILES: RDKit parsing,
                                                 # acml embed --jobs 1/2, acml embed-dask on a
                                                 # 2-worker LocalCluster; ratios, peak memory;
                                                 # start-up; 100k vs 1M rows
    python benchmarks/performance.py embedding-profile  # per molecule: parse, featurize,
                                                 # collate, forward before/now/bf16, writing

Run on an idle machine: the figures are wall-clock.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

logging.getLogger("deepchem").setLevel(logging.ERROR)


def moses_smiles(n: int) -> List[str]:
    import pandas as pd

    from deepchem_acml.data.sources import moses_smiles_path

    return pd.read_csv(moses_smiles_path(), nrows=n)["SMILES"].tolist()


def best_of(function: Callable[[], Any], repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs, in seconds (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def featurize(n: int = 20000) -> Dict[str, Any]:
    import deepchem as dc
    from joblib import Parallel, delayed

    from deepchem_acml.featurizers.graph import ACMLGraphFeaturizer

    smiles = moses_smiles(n)
    candidates = {"ACMLGraphFeaturizer":
                  lambda: ACMLGraphFeaturizer().featurize_with_report(smiles),
                  "dc.feat.SNAPFeaturizer": lambda: dc.feat.SNAPFeaturizer().featurize(smiles),
                  "dc.feat.MolGraphConvFeaturizer":
                      lambda: dc.feat.MolGraphConvFeaturizer(use_edges=True).featurize(smiles)}
    seconds = {name: best_of(run, repeats=2) for name, run in candidates.items()}
    rates = {name: n / s for name, s in seconds.items()}
    ours = rates["ACMLGraphFeaturizer"]
    scaling = {}
    for jobs in range(1, (os.cpu_count() or 1) + 1):
        parts = np.array_split(np.arange(n), jobs)
        scaling[jobs] = n / best_of(lambda: Parallel(n_jobs=jobs)(
            delayed(ACMLGraphFeaturizer().featurize_with_report)([smiles[i] for i in part])
            for part in parts), repeats=2)
    result = {"n_smiles": n, "molecules_per_second": rates,
              "ratio_vs": {name: ours / rate for name, rate in rates.items()},
              "joblib_molecules_per_second": scaling}
    print(f"graph featurization of {n} MOSES SMILES (molecules/s):")
    for name, rate in rates.items():
        print(f"  {name:<32} {rate:10.0f}   ACML / this = {ours / rate:.2f}")
    for jobs, rate in scaling.items():
        print(f"  joblib n_jobs={jobs:<3}{'':18} {rate:10.0f}   speed-up {rate / scaling[1]:.2f}")
    return result


def cache(n: int = 1024, steps: int = 12) -> Dict[str, Any]:
    """Training steps/s of the same ACML model on the same batches, frozen embeddings cached
    (this package) vs the frozen encoder run on every batch (the reference design)."""
    import torch

    from deepchem_acml import ACMLModel
    from deepchem_acml.modalities import get_modality

    smiles = moses_smiles(n)
    result = {}
    for name in ("smiles", "image"):
        modality = get_modality(name)
        features = modality.featurize(smiles)
        kept = [smiles[i] for i in features.indices]
        model = ACMLModel(modality, encoder=dict(hidden_dim=128), projection_dim=256,
                          batch_size=128, seed=0)
        dataset, _ = model.build_dataset(kept, kept)
        raw = features.features
        model._ensure_built()
        optimizer = model._pytorch_optimizer
        batches = [np.arange(i, i + 128) % len(kept) for i in range(0, steps * 128, 128)]

        def train(recompute: bool) -> None:
            for rows in batches:
                if recompute:  # the frozen encoder's forward pass, every step
                    with torch.no_grad():
                        y = modality.encode([raw[i] for i in rows])
                else:
                    y = dataset.y[rows]
                inputs, _, _ = model._prepare_batch(([dataset.X[rows]], [y], [None]))
                outputs = model._network(inputs)
                loss = model._contrastive_loss([outputs[i] for i in model._loss_outputs], [], [])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        cached = steps / best_of(lambda: train(False), repeats=2)
        # one repeat: the CNN makes a recompute run minutes long, so its noise is small
        recomputed = steps / best_of(lambda: train(True), repeats=1)
        result[name] = {"cached_steps_per_second": cached,
                        "recompute_steps_per_second": recomputed, "ratio": cached / recomputed,
                        "batch_size": 128, "steps": steps}
        print(f"{name:<7} training steps/s: cached {cached:.2f}, recompute {recomputed:.3f}, "
              f"ratio {cached / recomputed:.1f}")
    return result


def end_to_end(sizes=(10_000, 100_000)) -> Dict[str, Any]:
    """SMILES -> embeddings in one process (parse, featurize, batch, GIN forward) vs bare RDKit
    parsing of the same SMILES. The cost at 1M molecules comes from the stream part (one
    ``acml embed`` run over all MOSES SMILES, timed chunk by chunk)."""
    from rdkit import Chem, RDLogger

    from deepchem_acml.embedding import embed_smiles, load_graph_encoder

    RDLogger.DisableLog("rdApp.*")
    encoder = load_graph_encoder("nmr_13c")
    smiles = moses_smiles(max(sizes))
    result = {"sizes": {}}
    for n in sizes:
        part = smiles[:n]
        started = time.perf_counter()
        embed_smiles(encoder, part)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        for s in part:
            Chem.MolFromSmiles(s)
        rdkit = time.perf_counter() - started
        result["sizes"][n] = {"seconds": ours, "molecules_per_second": n / ours,
                              "rdkit_parse_seconds": rdkit, "ratio_vs_rdkit_parse": rdkit / ours}
        print(f"{n:>9} SMILES -> embeddings: {ours:8.1f} s ({n / ours:7.0f}/s); bare RDKit "
              f"parsing {rdkit:6.1f} s; ours runs at {rdkit / ours:.2f} of RDKit parsing speed")
    return result


def stream(chunk_size: int = 10_000) -> Dict[str, Any]:
    """Peak RSS and time of ``acml embed`` over all MOSES training SMILES (the gzipped CSV as
    it is), and its cumulative cost after 10k, 100k, 1M rows (chunk timings of the run)."""
    import shutil
    import tempfile

    from deepchem_acml.data.sources import moses_smiles_path

    scratch = Path(tempfile.mkdtemp(prefix="acml-stream-"))  # 800 MB of embeddings, not docs
    target = scratch / "moses_embeddings.npy"
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "deepchem_acml.cli.main", "embed",
               str(moses_smiles_path()), "--out", str(target), "--jobs", str(os.cpu_count()),
               "--chunk-size", str(chunk_size)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    peak_kb = next(int(line.split(":")[1]) for line in completed.stderr.splitlines()
                   if "Maximum resident set size" in line)
    rows = np.load(target, mmap_mode="r").shape[0]
    state = json.loads(Path(f"{target}.state.json").read_text())
    cumulative = np.cumsum(state["chunk_seconds"])
    at = {n: float(cumulative[n // chunk_size - 1]) for n in (10_000, 100_000, 1_000_000)
          if n // chunk_size <= len(cumulative)}
    at[rows] = float(cumulative[-1])
    per_molecule = {n: s / n for n, s in at.items()}
    print(f"acml embed over {rows} MOSES SMILES: {seconds:.0f} s, peak RSS "
          f"{peak_kb / 1024:.0f} MB, {state['n_failed']} failed rows")
    for n, s in at.items():
        print(f"  after {n:>9} rows: {s:8.1f} s ({n / s:6.0f}/s)")
    shutil.rmtree(scratch)  # the figures are what the run is for
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024,
            "n_failed": state["n_failed"], "seconds_at_rows": at,
            "chunk_seconds": state["chunk_seconds"],
            "seconds_per_molecule_spread": max(per_molecule.values()) / min(per_molecule.values()),
            "command": " ".join(command[2:])}


def scaling(n: int = 20_000) -> Dict[str, Any]:
    """``acml embed`` of the same ``n`` MOSES SMILES with ``--jobs 1`` and ``--jobs 2`` (whole
    commands, best of two), beside bare RDKit parsing in one process; and the whole command
    for one SMILES (start-up)."""
    import tempfile

    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    scratch = Path(tempfile.mkdtemp(prefix="acml-scaling-"))
    smiles = moses_smiles(n)
    (scratch / "in.smi").write_text("\n".join(smiles) + "\n")
    (scratch / "one.smi").write_text("CCO\n")
    acml = [sys.executable, "-m", "deepchem_acml.cli.main", "embed"]

    def command(source: str, jobs: int) -> Callable[[], Any]:
        def run():
            out = scratch / f"{source}.{jobs}.npy"
            subprocess.run(acml + [str(scratch / source), "--out", str(out), "--jobs", str(jobs),
                                   "--chunk-size", str(n), "--restart"],
                           check=True, capture_output=True)
        return run

    seconds = {jobs: best_of(command("in.smi", jobs), repeats=2) for jobs in (1, 2)}
    startup = best_of(command("one.smi", 1), repeats=2)
    parse = best_of(lambda: [Chem.MolFromSmiles(s) for s in smiles], repeats=2)
    same = np.allclose(np.load(scratch / "in.smi.1.npy"), np.load(scratch / "in.smi.2.npy"),
                       rtol=1e-5, atol=1e-5, equal_nan=True)
    result = {"n": n, "seconds": seconds, "speedup_1_to_2": seconds[1] / seconds[2],
              "one_smiles_seconds": startup, "rdkit_parse_seconds": parse,
              "ratio_vs_rdkit_parse": {jobs: parse / s for jobs, s in seconds.items()},
              "outputs_equal": bool(same)}
    print(f"acml embed of {n} SMILES: --jobs 1 {seconds[1]:.1f} s, --jobs 2 {seconds[2]:.1f} s "
          f"({result['speedup_1_to_2']:.2f}x); bare RDKit parsing {parse:.1f} s; one SMILES "
          f"{startup:.1f} s; outputs equal: {same}")
    return result


def aggregation(n: int = 5_000) -> Dict[str, Any]:
    """The shipped GIN's forward pass over ``n`` MOSES molecules (batches of 256, one thread),
    and its training steps (batches of 128: forward, backward, AdamW step): the sparse
    aggregation the encoder uses against gathering and scattering every edge (the code before
    it), interleaved."""
    import torch

    from deepchem_acml.embedding import load_graph_encoder
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer
    from deepchem_acml.nn import gin

    torch.set_num_threads(1)
    encoder = load_graph_encoder("nmr_13c", device="cpu")
    graphs = GraphArrayFeaturizer().featurize_with_report(moses_smiles(n)).features
    batches = [encoder.collate(graphs[i:i + 256]) for i in range(0, len(graphs), 256)]

    def forward():
        with torch.no_grad():
            return [encoder(batch) for batch in batches]

    def scatter(self, h, batch, operators=None):  # the previous implementation
        self_loop = (self.bond_type_embedding.weight[gin.SELF_LOOP_BOND_TYPE]
                     + self.bond_direction_embedding.weight[0])
        source, target = batch.edge_index
        messages = h[source] + self._edge_embedding(batch.edge_features)
        return self.mlp((h + self_loop).index_add(0, target, messages))

    training_batches = [encoder.collate(graphs[i:i + 128]) for i in range(0, 1280, 128)]
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-4)

    def train_steps():  # forward, backward and an optimizer step per batch of 128
        encoder.train()
        for batch in training_batches:
            optimizer.zero_grad()
            encoder(batch).pow(2).mean().backward()
            optimizer.step()
        encoder.eval()

    reference, original = forward(), gin.GINEConv.forward
    times: Dict[str, List[float]] = {"sparse": [], "scatter": [], "sparse_train": [],
                                     "scatter_train": []}
    try:  # interleaved, best of five each: a busy machine slows both alike
        for _ in range(5):
            for name, implementation in (("sparse", original), ("scatter", scatter)):
                gin.GINEConv.forward = implementation
                times[name].append(best_of(forward, repeats=1))
                times[f"{name}_train"].append(best_of(train_steps, repeats=1))
        gin.GINEConv.forward = scatter
        encoder.load_state_dict(load_graph_encoder("nmr_13c", device="cpu").state_dict())
        difference = max(float((a - b).abs().max()) for a, b in zip(reference, forward()))
    finally:
        gin.GINEConv.forward = original
    sparse, gathered = min(times["sparse"]), min(times["scatter"])
    steps = len(training_batches)
    train_rates = {name: steps / min(times[f"{name}_train"]) for name in ("sparse", "scatter")}
    print(f"GIN training steps/s (batch 128, one thread): sparse {train_rates['sparse']:.2f}, "
          f"gather/scatter {train_rates['scatter']:.2f} "
          f"({train_rates['sparse'] / train_rates['scatter']:.2f}x)")
    print(f"GIN forward, {n} molecules: sparse {sparse:.2f} s, gather/scatter {gathered:.2f} s "
          f"({gathered / sparse:.2f}x); largest difference {difference:.1e}")
    return {"n": n, "sparse_seconds": sparse, "scatter_seconds": gathered,
            "speedup": gathered / sparse, "max_abs_difference": difference,
            "training_steps_per_second": train_rates,
            "training_speedup": train_rates["sparse"] / train_rates["scatter"]}


MOSES_MISSING = ("the MOSES SMILES are missing: this benchmark reads {path} (the shared data "
                 "folder's moses/train.csv.gz; set $ACML_DATA_DIR to the folder holding moses/)")


def _moses_or_exit(n: int) -> List[str]:
    """The first ``n`` MOSES SMILES, or a clear message and exit when the folder is missing."""
    from deepchem_acml.data.sources import DataNotFoundError, moses_smiles_path

    try:
        moses_smiles_path()
    except DataNotFoundError as err:
        sys.exit(f"performance.py embedding: {err}. " + MOSES_MISSING.format(path="moses/"))
    return moses_smiles(n)


def _run_measured(command: List[str], env: Dict[str, str] = None) -> Dict[str, float]:
    """Wall seconds and peak memory of a command *with all its child processes* (the sum of
    their resident sets, sampled every 50 ms: worker processes count)."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, text=True)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return {"seconds": seconds, "peak_mb": peak / 2**20, "stdout": out}


_DASK_DRIVER = """
import json, sys, time
started = time.perf_counter()
from distributed import Client, LocalCluster
from deepchem_acml.dask_embedding import embed_library
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
from deepchem_acml.shipped import DEFAULT_ENCODER
def warm():  # the encoder loaded and the featurizer imported: the workers' start-up
    from deepchem_acml.dask_embedding import _worker_encoder
    from deepchem_acml.embedding import embed_smiles
    embed_smiles(_worker_encoder(DEFAULT_ENCODER), ["CCO"])
client.run(warm)
ready = time.perf_counter()
summary = embed_library(sys.argv[1], sys.argv[2], client=client, restart=True)
done = time.perf_counter()
client.close(); cluster.close()
print(json.dumps({"startup": ready - started, "embed": done - ready,
                  "n_failed": summary["n_failed"]}))
"""


def embedding(n: int = 20_000, rounds: int = 3, large: int = 1_000_000,
              before: str = None) -> Dict[str, Any]:
    """The embedding path side by side on the same ``n`` MOSES SMILES, ``rounds`` times
    interleaved (medians reported; each round's ratios come from runs minutes apart at most):
    bare RDKit parsing in one process; ``acml embed`` with ``--jobs 1`` and ``--jobs 2`` (whole
    commands, and their embedding rate after start-up from the chunk timings); the Dask path
    (``embed_library`` on a 2-worker ``LocalCluster``, after the cluster is up); each as a
    ratio to the parse rate, with peak memory of the process tree. Then the whole command for
    one SMILES, and ``acml embed --jobs 2`` on 100k and ``large`` rows (peak memory).
    ``before``: a checkout of an earlier version whose ``acml embed`` runs beside (same rounds).
    The ``_bf16`` rows add ``--precision bf16`` (their "÷ one process" is against fp32)."""
    import shutil
    import statistics
    import tempfile

    import pandas as pd
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    scratch = Path(tempfile.mkdtemp(prefix="acml-embedding-"))
    smiles = _moses_or_exit(max(n, 100_000, large))
    (scratch / "in.smi").write_text("\n".join(smiles[:n]) + "\n")
    pd.DataFrame({"smiles": smiles[:n]}).to_parquet(scratch / "in.parquet", row_group_size=n // 8)
    (scratch / "one.smi").write_text("CCO\n")
    acml = [sys.executable, "-m", "deepchem_acml.cli.main", "embed"]
    envs = {"now": dict(os.environ)}
    if before:
        envs["before"] = dict(os.environ, PYTHONPATH=str(Path(before).resolve()))

    def embed(jobs: int, version: str, extra: tuple = ()) -> Dict[str, float]:
        out = scratch / f"{version}.{jobs}{''.join(extra)}.npy"
        run = _run_measured(acml + [str(scratch / "in.smi"), "--out", str(out), "--jobs",
                                    str(jobs), "--chunk-size", str(n // 4), "--restart",
                                    *extra], envs[version])
        chunks = json.loads(Path(f"{out}.state.json").read_text())["chunk_seconds"]
        # rows after the first chunk over their time: the rate once started
        run["steady_rate"] = (n - n // 4) / sum(chunks[1:])
        run["rate"] = n / run["seconds"]
        return run

    def dask_path() -> Dict[str, float]:
        run = _run_measured([sys.executable, "-c", _DASK_DRIVER, str(scratch / "in.parquet"),
                             str(scratch / "dask_out")])
        times = json.loads(run["stdout"].strip().splitlines()[-1])
        return {"seconds": run["seconds"], "peak_mb": run["peak_mb"],
                "startup_seconds": times["startup"], "steady_rate": n / times["embed"],
                "rate": n / run["seconds"]}

    rows: Dict[str, List[Dict[str, float]]] = {}
    for _ in range(rounds):
        started = time.perf_counter()
        for s in smiles[:n]:
            Chem.MolFromSmiles(s)
        rows.setdefault("rdkit_parse", []).append({"rate": n / (time.perf_counter() - started)})
        for version in envs:
            for jobs in (1, 2):
                rows.setdefault(f"{version}_jobs{jobs}", []).append(embed(jobs, version))
        rows.setdefault("dask_2_workers", []).append(dask_path())
        for jobs in (1, 2):  # opt-in bfloat16 matrix products (AVX512-BF16 / AMX CPUs)
            rows.setdefault(f"now_jobs{jobs}_bf16", []).append(
                embed(jobs, "now", ("--precision", "bf16")))
    same = np.array_equal(np.load(scratch / "now.1.npy"), np.load(scratch / "now.2.npy"),
                          equal_nan=True)
    dask_table = pd.read_parquet(scratch / "dask_out" / "embeddings")
    same_dask = bool(np.allclose(dask_table.drop(columns="row").to_numpy(np.float32),
                                 np.load(scratch / "now.1.npy"), rtol=1e-5, atol=1e-5,
                                 equal_nan=True))

    def ratios(key: str, field: str) -> List[float]:
        return [r[field] / p["rate"] for r, p in zip(rows[key], rows["rdkit_parse"])]

    result: Dict[str, Any] = {"n": n, "rounds": rounds, "outputs_equal_jobs1_jobs2": bool(same),
                              "dask_equal_jobs1": same_dask, "paths": {}}
    parse = statistics.median(r["rate"] for r in rows["rdkit_parse"])
    print(f"{n} MOSES SMILES, {rounds} rounds interleaved, medians (ratios: per round, then "
          f"the median); RDKit MolFromSmiles {parse:,.0f}/s in one process")
    print(f"  {'path':<22}{'whole command':>16}{'÷ parse':>9}{'after start-up':>16}{'÷ parse':>9}"
          f"{'÷ one process':>15}{'peak MB':>9}")
    one = {version: f"{version}_jobs1" for version in envs}
    for key in rows:
        if key == "rdkit_parse":
            continue
        version = key.split("_")[0] if key.split("_")[0] in envs else "now"
        whole, steady = ratios(key, "rate"), ratios(key, "steady_rate")
        vs_one = [a / b for a, b in zip(steady, ratios(one[version], "steady_rate"))]
        entry = {"rate": statistics.median(r["rate"] for r in rows[key]),
                 "steady_rate": statistics.median(r["steady_rate"] for r in rows[key]),
                 "ratio_to_parse": statistics.median(whole),
                 "steady_ratio_to_parse": statistics.median(steady),
                 "steady_ratio_to_one_process": statistics.median(vs_one),
                 "peak_mb": statistics.median(r["peak_mb"] for r in rows[key]),
                 "per_round": rows[key]}
        result["paths"][key] = entry
        print(f"  {key:<22}{entry['rate']:>12,.0f} /s{entry['ratio_to_parse']:>8.2f}x"
              f"{entry['steady_rate']:>12,.0f} /s{entry['steady_ratio_to_parse']:>8.2f}x"
              f"{entry['steady_ratio_to_one_process']:>14.2f}x{entry['peak_mb']:>9.0f}")
    result["rdkit_parse_rate"] = parse
    for version in envs:
        startup = [_run_measured(acml + [str(scratch / "one.smi"), "--out",
                                         str(scratch / f"one.{version}.npy"), "--restart"],
                                 envs[version])["seconds"] for _ in range(rounds)]
        result[f"{version}_one_smiles_seconds"] = statistics.median(startup)
        print(f"  acml embed of one SMILES ({version}), whole command: "
              f"{statistics.median(startup):.2f} s (median of {rounds})")
    print(f"  outputs: --jobs 1 and 2 identical: {same}; Dask path equal within 1e-5: "
          f"{same_dask}")
    memory = {}
    for rows_n in sorted({100_000, large}):
        path = scratch / f"lib{rows_n}.smi"
        path.write_text("\n".join(smiles[:rows_n]) + "\n")
        run = _run_measured(acml + [str(path), "--out", str(scratch / f"lib{rows_n}.npy"),
                                    "--jobs", "2", "--restart"])
        memory[rows_n] = {"seconds": run["seconds"], "peak_mb": run["peak_mb"]}
        print(f"  acml embed --jobs 2 of {rows_n:,} rows: {run['seconds']:.0f} s, peak memory "
              f"(all processes) {run['peak_mb']:.0f} MB")
        (scratch / f"lib{rows_n}.npy").unlink()
    result["memory"] = memory
    shutil.rmtree(scratch)
    return result


def embedding_profile(n: int = 5_000) -> Dict[str, Any]:
    """Where ``acml embed``'s time goes, per molecule, on ``n`` MOSES SMILES in one process:
    RDKit parsing alone; featurization (parsing included); collation; the GIN forward as
    ``acml embed`` ran it before (``no_grad``, torch's default thread count) and now
    (``inference_mode``, one thread per process), and with ``--precision bf16``; writing the
    rows to the npy memmap; and the import time of the command (``python -X importtime``)."""
    import shutil
    import tempfile

    import torch
    from rdkit import Chem, RDLogger

    from deepchem_acml.embedding import keep_freed_memory_for_reuse, load_graph_encoder
    from deepchem_acml.featurizers.molecular_graph import GraphArrayFeaturizer
    from deepchem_acml.shipped import DEFAULT_ENCODER

    RDLogger.DisableLog("rdApp.*")
    smiles = _moses_or_exit(n)
    keep_freed_memory_for_reuse()  # as acml embed runs
    default_threads = torch.get_num_threads()
    encoder = load_graph_encoder(DEFAULT_ENCODER, device="cpu")  # acml embed's default
    graphs = GraphArrayFeaturizer().featurize_with_report(smiles).features
    batches = [encoder.collate(graphs[i:i + 512]) for i in range(0, len(graphs), 512)]

    def forward(threads: int, mode, precision=None) -> Callable[[], Any]:
        def run():
            torch.set_num_threads(threads)
            with mode(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
                return [encoder(b) for b in batches]
        return run

    scratch = Path(tempfile.mkdtemp(prefix="acml-profile-"))
    matrix = np.lib.format.open_memmap(scratch / "m.npy", mode="w+", dtype=np.float32,
                                       shape=(n, encoder.hidden_dim))
    block = np.random.default_rng(0).random((n, encoder.hidden_dim), dtype=np.float32)

    def write():
        matrix[:] = block
        matrix.flush()

    seconds = {
        "rdkit_parse": best_of(lambda: [Chem.MolFromSmiles(s) for s in smiles], 3),
        "featurize_including_parse": best_of(
            lambda: GraphArrayFeaturizer().featurize_with_report(smiles), 3),
        "collate": best_of(lambda: [encoder.collate(graphs[i:i + 512])
                                    for i in range(0, len(graphs), 512)], 3),
        f"forward_before_no_grad_{default_threads}_threads": best_of(
            forward(default_threads, torch.no_grad), 3),
        "forward_now_inference_mode_1_thread": best_of(forward(1, torch.inference_mode), 3),
        "forward_bf16_1_thread": best_of(forward(1, torch.inference_mode, "bf16"), 3),
        "write_npy_rows": best_of(write, 3)}
    per_molecule_ms = {k: 1e3 * v / n for k, v in seconds.items()}
    imports = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              "from deepchem_acml.cli import main, embed; main.build_parser(); "
                              "import deepchem_acml.embedding, tqdm, rdkit.Chem"],
                             capture_output=True, text=True).stderr
    rows = [line.split("|") for line in imports.splitlines() if line.startswith("import time:")]
    import_seconds = sum(int(cumulative) for _, cumulative, name in rows  # top-level imports
                         if cumulative.strip().isdigit() and not name.startswith("  ")) / 1e6
    shutil.rmtree(scratch)
    print(f"per molecule ({n} MOSES SMILES, one process, ms; best of three):")
    for name, value in per_molecule_ms.items():
        print(f"  {name:<44}{value:8.3f}")
    print(f"  start-up imports of acml embed: {import_seconds:.2f} s (python -X importtime)")
    return {"n": n, "per_molecule_ms": per_molecule_ms, "import_seconds": import_seconds,
            "default_threads": default_threads}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["featurize", "cache", "end-to-end", "stream", "scaling",
                                         "aggregation", "embedding", "embedding-profile"])
    parser.add_argument("--n", type=int, default=20_000, help="embedding: SMILES per path")
    parser.add_argument("--rounds", type=int, default=3, help="embedding: interleaved rounds")
    parser.add_argument("--large", type=int, default=1_000_000,
                        help="embedding: the large library of the flat-memory check")
    parser.add_argument("--before", default=None,
                        help="embedding: a checkout of an earlier version run beside")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]  # other work on the machine skews every ratio
    runners = {"featurize": featurize, "cache": cache, "end-to-end": end_to_end,
               "stream": stream, "scaling": scaling, "aggregation": aggregation,
               "embedding-profile": embedding_profile}
    if args.part == "embedding":
        result = embedding(args.n, args.rounds, args.large, args.before)
    else:
        result = runners[args.part]()
    path = args.out / "performance.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.part] = {"result": result, "machine": {
        "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}},
        "command": "python benchmarks/performance.py " + " ".join(argv or sys.argv[1:])}
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
