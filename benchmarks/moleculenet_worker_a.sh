#!/bin/bash
# Worker A: the Hu et al. recipe (the soundness check first), one CPU thread.
cd "$(dirname "$0")/.."
B=".venv/bin/python benchmarks/moleculenet.py --threads 1"
$B --methods "GIN scratch (Hu et al. recipe)" --tasks bbbp bace clintox sider
$B --methods "GIN scratch (Hu et al. recipe)" --tasks tox21 esol freesolv lipo
$B --methods "GIN scratch (Hu et al. recipe)" --tasks hiv
