#!/bin/bash
# DeepChem's DGL models from the dgl tox environment, one CPU thread: the GCN everywhere first
# (minutes a seed), then AttentiveFP (tens of minutes a seed on this CPU).
cd "$(dirname "$0")/.."
B="env PYTHONPATH=. .tox/dgl/bin/python benchmarks/moleculenet.py --threads 1"
SMALL="bbbp bace clintox sider esol freesolv lipo tox21"
$B --methods "DeepChem GCN" --tasks $SMALL
$B --methods "DeepChem AttentiveFP" --tasks $SMALL
$B --methods "DeepChem GCN" "DeepChem AttentiveFP" --tasks hiv
