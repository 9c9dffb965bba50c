#!/bin/bash
# The prepared GPU check (benchmarks/gpu_check.py): on a GPU machine, from the repository root,
#   benchmarks/gpu_check.sh            # everything on CUDA, figures in runs/gpu_check/gpu_check.json
#   benchmarks/gpu_check.sh --dry-run  # the same steps on the CPU, tiny sizes (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" benchmarks/gpu_check.py --out "${OUT:-runs/gpu_check}" "$@"
