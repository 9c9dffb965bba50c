"""The quickstart example runs as written and learns (small settings)."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_trains_and_retrieves_above_chance():
    result = _load("quickstart").main(n_molecules=2000, epochs=8)
    pools = result["report"]["pools"]["modality_to_graph"]
    assert pools["top10"] > 3 * result["report"]["chance"]["pools"]["top10"]
    assert result["history"][-1]["valid_loss"] < result["history"][0]["valid_loss"]


@pytest.mark.slow
def test_property_prediction_example():
    result = _load("property_prediction").main(epochs=8)
    assert result["finetuned"] < result["scratch"]
