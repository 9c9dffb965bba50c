"""The heads' building blocks on their own."""
import pytest
import torch

from deepchem_acml.nn.heads import RunningStandardization

pytestmark = pytest.mark.torch


def test_running_standardization_keeps_a_shifted_batch_where_it_lies():
    torch.manual_seed(0)
    norm = RunningStandardization(4)
    norm.train()
    for _ in range(50):  # the whole data set: mean 3, standard deviation 2
        norm(torch.randn(64, 4) * 2 + 3)
    assert torch.allclose(norm.running_mean, torch.full((4,), 3.0), atol=0.3)
    neighbourhood = torch.randn(64, 4) * 0.5 + 7  # a batch of near neighbours, far out
    standardised = norm(neighbourhood)
    assert float(standardised.mean()) > 1.5  # about (7 - 3) / 2; batch statistics give 0
    batch_norm = torch.nn.BatchNorm1d(4, affine=False).train()
    assert abs(float(batch_norm(neighbourhood).mean())) < 1e-5
    # the same buffers as BatchNorm1d(affine=False): checkpoints load into either
    assert norm.state_dict().keys() == batch_norm.state_dict().keys()
    batch_norm.load_state_dict(norm.state_dict())


def test_running_standardization_starts_from_the_first_batch():
    norm = RunningStandardization(2).train()
    first = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
    norm(first)
    assert torch.allclose(norm.running_mean, first.mean(0))
    assert torch.allclose(norm.running_var, first.var(0))
