#!/bin/bash
# Worker B: everything else in the main environment, one CPU thread, cheapest methods first
# over all tasks (the random forests, hours on the many-task sets, come after the neural rows).
cd "$(dirname "$0")/.."
B=".venv/bin/python benchmarks/moleculenet.py --threads 1"
SMALL="bbbp bace clintox sider esol freesolv lipo tox21"
$B --tasks $SMALL --methods "ACML frozen + linear" "untrained GIN + linear" "teacher + linear" "LightGBM on ECFP4 counts" "LightGBM on RDKit 2-D descriptors"
$B --tasks $SMALL --methods "ACML fine-tuned" "GIN scratch (ACML architecture)"
$B --tasks $SMALL --methods "chemprop D-MPNN"
$B --tasks $SMALL --methods "RF on RDKit 2-D descriptors" "RF on ECFP4 counts"
$B --tasks hiv --methods "ACML frozen + linear" "untrained GIN + linear" "teacher + linear" "LightGBM on ECFP4 counts" "LightGBM on RDKit 2-D descriptors"
$B --tasks hiv --methods "ACML fine-tuned" "GIN scratch (ACML architecture)" "chemprop D-MPNN"
$B --tasks hiv --methods "RF on RDKit 2-D descriptors" "RF on ECFP4 counts"
