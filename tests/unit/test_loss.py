import math

import pytest
import torch

from deepchem_acml.nn.loss import acml_contrastive_loss


def test_soft_targets_on_identity_embeddings_equal_the_binary_entropy():
    # G = C = I2, tau = 1: logits = I and targets = softmax(I) row-wise, so each row's soft
    # cross-entropy is the entropy of p = e / (e + 1), in both directions.
    eye = torch.eye(2)
    p = math.e / (math.e + 1)
    expected = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert float(acml_contrastive_loss(eye, eye)) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.5822, abs=1e-4)


def test_infonce_on_identity_embeddings():
    # logits = I3: -log(e / (e + 2)) per row, both directions.
    expected = math.log(1 + 2 / math.e)
    assert float(acml_contrastive_loss(torch.eye(3), torch.eye(3), targets="infonce")) == \
        pytest.approx(expected, abs=1e-6)


def _reference_soft_loss(graph, modality, tau):
    """The formula written out with plain Python loops, independent of the torch code."""
    n = len(graph)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    logits = [[dot(modality[i], graph[j]) / tau for j in range(n)] for i in range(n)]
    similarity = [[(dot(modality[i], modality[j]) + dot(graph[i], graph[j])) / 2 * tau
                   for j in range(n)] for i in range(n)]

    def softmax(row):
        top = max(row)
        e = [math.exp(v - top) for v in row]
        return [v / sum(e) for v in e]

    targets = [softmax(row) for row in similarity]
    transpose = lambda m: [list(col) for col in zip(*m)]  # noqa: E731
    def ce(rows_logits, rows_targets):
        total = 0.0
        for z, t in zip(rows_logits, rows_targets):
            log_p = [math.log(p) for p in softmax(z)]
            total += -sum(ti * lp for ti, lp in zip(t, log_p))
        return total / len(rows_logits)
    return (ce(logits, targets) + ce(transpose(logits), transpose(targets))) / 2


def test_soft_loss_matches_the_written_out_formula_on_an_asymmetric_case():
    graph = [[0.5, -1.0, 0.2], [1.5, 0.3, -0.4], [-0.7, 0.8, 1.1]]
    modality = [[0.1, -0.9, 0.4], [1.2, 0.0, -0.2], [-0.3, 1.4, 0.6]]
    for tau in (1.0, 0.5):
        got = acml_contrastive_loss(torch.tensor(graph), torch.tensor(modality), temperature=tau)
        assert float(got) == pytest.approx(_reference_soft_loss(graph, modality, tau), rel=1e-5)


def test_loss_is_lower_for_aligned_than_for_shuffled_pairs():
    torch.manual_seed(0)
    graph = torch.randn(16, 8)
    aligned = acml_contrastive_loss(graph, graph + 0.01 * torch.randn(16, 8), targets="infonce")
    shuffled = acml_contrastive_loss(graph, graph[torch.randperm(16)], targets="infonce")
    assert float(aligned) < float(shuffled)


def test_gradients_reach_both_sides():
    graph = torch.randn(4, 3, requires_grad=True)
    modality = torch.randn(4, 3, requires_grad=True)
    acml_contrastive_loss(graph, modality).backward()
    assert graph.grad.abs().sum() > 0 and modality.grad.abs().sum() > 0


def test_non_finite_inputs_are_refused_before_they_reach_the_weights():
    bad = torch.ones(3, 2)
    bad[1, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite"):
        acml_contrastive_loss(bad, torch.ones(3, 2))


def test_shape_and_option_errors():
    with pytest.raises(ValueError, match="same"):
        acml_contrastive_loss(torch.ones(3, 2), torch.ones(3, 4))
    with pytest.raises(ValueError, match="targets"):
        acml_contrastive_loss(torch.ones(3, 2), torch.ones(3, 2), targets="hard")
