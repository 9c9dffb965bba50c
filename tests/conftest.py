"""Shared fixtures: real nmrshiftdb2 records from the embedded subset, small models."""
from __future__ import annotations

import logging

import pytest

logging.getLogger("deepchem").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def nmr_frame():
    """The embedded nmrshiftdb2 13C subset (8,000 real compounds)."""
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c

    return read_embedded_nmr_13c()


@pytest.fixture(scope="session")
def small_frame(nmr_frame):
    """256 real compounds with their 13C peak lists."""
    return nmr_frame.head(256).reset_index(drop=True)


@pytest.fixture
def small_model_kwargs():
    """A narrow ACML model that trains in seconds on CPU."""
    return dict(encoder=dict(hidden_dim=32), projection_dim=64, num_cells=1, batch_size=64,
                seed=0)
