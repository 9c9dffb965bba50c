#!/bin/bash
# The GPU check (benchmarks/gpu_check.py), written for the lent GPU machine: its own python3
# (torch with CUDA, numpy, pandas, scikit-learn; no RDKit, no DeepChem, no network). From the
# repository root, with runs/gpu_carry/ prepared by benchmarks/gpu_prepare.py and carried:
#   bash benchmarks/gpu_check.sh            # on the GPU: $OUT/gpu_check.json and its log
#   bash benchmarks/gpu_check.sh --dry-run  # the same steps on the CPU, tiny sizes
# PYTHON, GPU_CARRY and GPU_CHECK_BUDGET_S override the interpreter, the carried folder and
# the seconds after which no further step starts.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
CARRY="${GPU_CARRY:-runs/gpu_carry}"
OUT_DIR="${OUT:-runs/gpu_check}"
mkdir -p "$OUT_DIR"
if [ ! -f "$CARRY/pairs_13c.npz" ]; then
  echo "gpu_check: no prepared inputs in $CARRY; run .venv/bin/python benchmarks/gpu_prepare.py" \
       "where the package's environment is, and carry that folder" >&2
  exit 2
fi
# DeepChem travels as its wheel (pure Python); it goes into a temporary folder, not the
# machine's environment, and only where DeepChem is not installed.
SITE="$(mktemp -d)"
shopt -s nullglob
wheels=("$CARRY"/wheels/*.whl)
if [ ${#wheels[@]} -gt 0 ] && ! "$PYTHON" -c \
    "import importlib.util, sys; sys.exit(importlib.util.find_spec('deepchem') is None)"; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --ignore-requires-python --disable-pip-version-check --target "$SITE" "${wheels[@]}" \
    || echo "gpu_check: the carried wheels did not install; the steps that need them say so" >&2
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# cuBLAS reads this before its first use; without it seeded CUDA runs cannot repeat bitwise.
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
"$PYTHON" benchmarks/gpu_check.py --carry "$CARRY" --out "$OUT_DIR" \
    --budget-s "${GPU_CHECK_BUDGET_S:-420}" "$@" 2>&1 | tee "$OUT_DIR/gpu_check.log"
status=$?
rm -rf "$SITE"
exit $status
