#!/bin/bash
# The fine-tuning ablation (issue: embeddings that carry chemistry): ACML fine-tuned with the
# encoder at a tenth of the head's learning rate and mean pooling, beside the default recipe.
cd "$(dirname "$0")/.."
B=".venv/bin/python benchmarks/moleculenet.py --threads 1"
$B --tasks bbbp bace clintox sider --methods "ACML fine-tuned (slow encoder, mean pooling)"
$B --tasks esol freesolv lipo tox21 --methods "ACML fine-tuned (slow encoder, mean pooling)"
