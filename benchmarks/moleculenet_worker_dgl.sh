#!/bin/bash
# DeepChem's DGL models (GCN, AttentiveFP), from the dgl tox environment, one CPU thread.
cd "$(dirname "$0")/.."
B="env PYTHONPATH=. .tox/dgl/bin/python benchmarks/moleculenet.py --threads 1"
$B --methods "DeepChem GCN" "DeepChem AttentiveFP" --tasks bbbp bace clintox sider esol freesolv lipo tox21
$B --methods "DeepChem GCN" "DeepChem AttentiveFP" --tasks hiv
