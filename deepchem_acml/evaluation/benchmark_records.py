"""The MoleculeNet benchmark's records: one per finished (task, method, seed), appended to a
JSON file as each finishes, and everything the table and figure are computed from.

Several processes (the main environment, the ``dgl`` environment) may append to one file at
once: every write takes an exclusive lock, re-reads the file and replaces it atomically, so no
record is lost and a reader never sees half a file.

Aggregation: mean ± sample standard deviation (ddof=1) over seeds. A method *wins* against
another on a task only where the difference of the means exceeds the larger of the two
standard deviations. Each method's rank per task is 1 for the best mean (ties share the
average rank); the mean rank is over the tasks the method ran.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from deepchem_acml.files import atomic_path

SCHEMA = 1


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_records(path: Path) -> List[Dict[str, Any]]:
    """Every record in ``path`` (none when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a benchmark record file of schema {SCHEMA} "
                         f"(found {data.get('schema')!r})")
    return data["records"]


def append_record(path: Path, record: Dict[str, Any]) -> None:
    """Add one record under the file lock; atomic replace."""
    path = Path(path)
    with _locked(path):
        records = read_records(path) + [record]
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps({"schema": SCHEMA, "records": records}, indent=1)
                                 + "\n")


def record_key(record: Dict[str, Any]) -> Tuple[str, str, int, str]:
    return record["task"], record["method"], int(record["seed"]), record["recipe_id"]


def recipe_id(recipe: Dict[str, Any]) -> str:
    """A short stable name for a method's settings: records of other settings never count
    as this method's."""
    import hashlib

    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:12]


def is_recorded(records: Iterable[Dict[str, Any]], task: str, method: str, seed: int,
                recipe: str) -> bool:
    return (task, method, seed, recipe) in {record_key(r) for r in records}


@dataclass
class Cell:
    """One (task, method): its scores over seeds."""

    scores: List[float]
    mode: str

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1); NaN with one seed."""
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else float("nan")

    @property
    def deterministic(self) -> bool:
        return len(self.scores) > 1 and len(set(self.scores)) == 1


def current_records(records: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """For every (task, method), only the records of its newest recipe (the latest written),
    one per seed (the first written, should two runs have recorded the same unit): results of
    superseded settings stay in the file but are not aggregated."""
    newest: Dict[Tuple[str, str], str] = {}
    for record in records:
        newest[record["task"], record["method"]] = record["recipe_id"]
    seen, current = set(), []
    for record in records:
        if newest[record["task"], record["method"]] == record["recipe_id"] \
                and record_key(record) not in seen:
            seen.add(record_key(record))
            current.append(record)
    return current


def cells(records: Sequence[Dict[str, Any]], score: str = "score"
          ) -> Dict[str, Dict[str, Cell]]:
    """{task: {method: Cell}} from the current records (one score per seed): the test
    ``score``, or with ``score="valid_score"`` the validation score of the model kept (the
    only score model selection may read)."""
    table: Dict[str, Dict[str, Cell]] = {}
    for record in sorted(current_records(records), key=lambda r: int(r["seed"])):
        if record.get(score) is None:
            continue
        cell = table.setdefault(record["task"], {}).setdefault(
            record["method"], Cell([], record["mode"]))
        cell.scores.append(float(record[score]))
    return table


def wins(a: Cell, b: Cell) -> bool:
    """``a`` beats ``b``: the mean is better by more than the larger standard deviation (a
    single seed or a deterministic method contributes 0)."""
    margin = max(np.nan_to_num(a.std), np.nan_to_num(b.std))
    difference = a.mean - b.mean if a.mode == "classification" else b.mean - a.mean
    return bool(difference > margin)


#: rows that check another row rather than compete with it (the defaults row is, by
#: construction, the recommended row again): shown in the table, left out of the ranks
NOT_RANKED = frozenset({"ACMLPropertyModel() defaults"})


def ranks(table: Dict[str, Dict[str, Cell]]) -> Dict[str, Dict[str, float]]:
    """{task: {method: rank}}, 1 = best mean; ties share the average rank; the rows of
    :data:`NOT_RANKED` are not ranked."""
    from scipy.stats import rankdata

    out = {}
    for task, found in table.items():
        methods = [m for m in found if m not in NOT_RANKED]
        means = np.array([found[m].mean for m in methods])
        sign = -1.0 if next(iter(found.values())).mode == "classification" else 1.0
        out[task] = dict(zip(methods, rankdata(sign * means).tolist()))
    return out


def mean_ranks(table: Dict[str, Dict[str, Cell]],
               methods: Optional[Sequence[str]] = None) -> Dict[str, Tuple[float, int]]:
    """{method: (mean rank, tasks ranked)} over the tasks where every method of ``methods``
    ran (all methods when None), so the ranks compare like with like."""
    methods = list(methods or sorted({m for found in table.values() for m in found}))
    shared = {t: {m: f[m] for m in methods} for t, f in table.items()
              if all(m in f for m in methods)}
    per_task = ranks(shared)
    return {m: (float(np.mean([per_task[t][m] for t in per_task])) if per_task else float("nan"),
                len(per_task)) for m in methods}


def head_to_head(table: Dict[str, Dict[str, Cell]], ours: str, other: str
                 ) -> Dict[str, Any]:
    """Wins, losses, ties (by :func:`wins`) and the mean absolute difference per metric
    (positive: ``ours`` better) over the tasks both ran."""
    out = {"wins": 0, "losses": 0, "ties": 0, "tasks": [], "delta": {}}
    deltas: Dict[str, List[float]] = {"ROC-AUC": [], "RMSE": []}
    for task, found in table.items():
        if ours not in found or other not in found:
            continue
        a, b = found[ours], found[other]
        out["tasks"].append(task)
        key = "wins" if wins(a, b) else "losses" if wins(b, a) else "ties"
        out[key] += 1
        if a.mode == "classification":
            deltas["ROC-AUC"].append(a.mean - b.mean)
        else:
            deltas["RMSE"].append(b.mean - a.mean)
    out["delta"] = {k: float(np.mean(v)) for k, v in deltas.items() if v}
    return out
