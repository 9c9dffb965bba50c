# Two entry points (see README): `make demo` and `make test`. Each one builds .venv first,
# idempotently: the stamp is rebuilt only when the pins or the package metadata change.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
PIP := $(VENV)/bin/python -m pip install --disable-pip-version-check -q -c requirements/constraints.txt

# The GPU check's rehearsal environment: only packages the lent GPU machine has (torch CPU,
# numpy, pandas, scikit-learn, tqdm; no RDKit, no DeepChem), built once. Python 3.11 and
# torch 2.13.0 CPU stand in for that machine's Python 3.12 and torch 2.11 with CUDA.
REHEARSAL := .venv-gpu-rehearsal
REHEARSAL_STAMP := $(REHEARSAL)/.installed-stamp

.PHONY: venv demo test test-all lint docs clean gpu-rehearsal-env gpu-rehearsal

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so that no later requirement pulls another build. (Here the pin
	# resolves to the CPU wheel on the local disk; from public PyPI on Linux it is a CUDA
	# build: CPU-only users install torch from the CPU index first, see docs/guide/install.md.)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[test,smiles,image,parquet,docs,spectra,distributed]' tox
	touch $(STAMP)

$(REHEARSAL_STAMP): requirements/constraints.txt
	test -x $(REHEARSAL)/bin/python || $(PYTHON) -m venv $(REHEARSAL)
	$(REHEARSAL)/bin/python -m pip install --disable-pip-version-check -q \
	    -c requirements/constraints.txt torch==2.13.0 numpy pandas scikit-learn tqdm
	touch $(REHEARSAL_STAMP)

gpu-rehearsal-env: $(REHEARSAL_STAMP)

# What would travel to the GPU machine, built in a temporary folder and run there on the CPU
# (tests/cli/test_gpu_check.py runs it too, inside `make test`).
gpu-rehearsal: $(STAMP) $(REHEARSAL_STAMP)
	$(VENV)/bin/python benchmarks/gpu_rehearsal.py --python $(REHEARSAL)/bin/python

demo: $(STAMP)
	$(VENV)/bin/acml demo --out acml-demo-output

# The default suite, then the DGL environment (its own torch 2.2.1 + dgl 2.1.0, built once in
# .tox/dgl: DGL cannot be installed beside the default torch) and the matchms one (matchms
# needs scipy and networkx older than the default pins; the spectrum readers are checked
# against it there). The rehearsal environment is built first, so that the suite rehearses
# the GPU check (tests/cli/test_gpu_check.py).
test: $(STAMP) $(REHEARSAL_STAMP)
	$(MAKE) lint
	$(VENV)/bin/python -m pytest
	$(MAKE) docs
	$(VENV)/bin/tox -e dgl
	$(VENV)/bin/tox -e matchms

# The linter on everything (settings in pyproject.toml), the type checker on the public faces
# (the models users build, the featurizers, transformer, estimator and embedding functions).
TYPED := deepchem_acml/__init__.py deepchem_acml/models/finetune.py \
	deepchem_acml/featurizers/base.py deepchem_acml/featurizers/graph.py \
	deepchem_acml/featurizers/embedding.py deepchem_acml/featurizers/descriptors.py \
	deepchem_acml/featurizers/spectra.py deepchem_acml/trans.py deepchem_acml/sklearn.py \
	deepchem_acml/embedding.py deepchem_acml/modalities/image.py deepchem_acml/modalities/smiles.py \
	deepchem_acml/models/acml.py deepchem_acml/models/joint.py deepchem_acml/modalities/base.py \
	deepchem_acml/featurizers/molecular_graph.py deepchem_acml/dask_embedding.py
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(TYPED)

# The documentation site, warnings as errors (docstrings, links, the table of contents), into
# docs/_build/html (not committed).
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html

# Everything, the slow checks included (benchmark-sized runs).
test-all: $(STAMP)
	$(VENV)/bin/python -m pytest -m ""

clean:
	rm -rf $(VENV) $(REHEARSAL) .tox acml-demo-output .pytest_cache docs/_build
