import numpy as np
import pytest

from deepchem_acml.evaluation.retrieval import (
    format_retrieval_table,
    ranks_of_matches,
    retrieval_in_pools,
    retrieval_report,
)


def test_perfect_embeddings_retrieve_everything():
    x = np.eye(300)
    report = retrieval_report(x, x, pool_size=128, n_draws=3)
    for protocol in ("pools", "full"):
        for direction in ("modality_to_graph", "graph_to_modality"):
            assert report[protocol][direction]["top1"] == 1.0
            assert report[protocol][direction]["mrr"] == 1.0
    assert report["chance"]["pools"]["top10"] == pytest.approx(10 / 128)


def test_constant_embeddings_do_not_score_by_ties():
    x = np.ones((50, 4))
    ranks = ranks_of_matches(x, x)
    assert (ranks == 50).all()
    report = retrieval_report(x, x, pool_size=10, n_draws=2)
    assert report["pools"]["modality_to_graph"]["top5"] == 0.0


def test_random_embeddings_are_near_chance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2048, 32)), rng.normal(size=(2048, 32))
    pools = retrieval_in_pools(a, b, pool_size=128, n_draws=5)
    assert pools["modality_to_graph"]["top10"] == pytest.approx(10 / 128, abs=0.02)
    assert pools["graph_to_modality"]["top1"] == pytest.approx(1 / 128, abs=0.01)


def test_known_ranks_and_directions():
    graph = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    modality = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    # modality 1 is closest to graph 0 and 2 (0.7 + 0.07): the right graph 1 scores 0.1
    assert ranks_of_matches(modality, graph).tolist() == [1, 3, 2]
    # graph 0 ties with modality 1 (1.0); graph 2 scores 0.7, 0.77, 0.7: all tie or beat it
    assert ranks_of_matches(graph, modality).tolist() == [2, 2, 3]


def test_small_set_uses_one_pool_and_table_formats():
    x = np.eye(20)
    report = retrieval_report(x, x, pool_size=128)
    assert report["pool_size"] == 20
    table = format_retrieval_table(report)
    assert "pools of 20" in table and "chance" in table and "modality → graph" in table


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        ranks_of_matches(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        ranks_of_matches(np.full((2, 2), np.nan), np.ones((2, 2)))


def test_ranks_in_blocks_equal_ranks_of_the_whole_product(monkeypatch):
    from deepchem_acml.evaluation import retrieval

    # small integers: every dot product is exact, so ties are real ties in both computations
    rng = np.random.default_rng(3)
    queries = rng.integers(-2, 3, size=(50, 4)).astype(np.float32)
    candidates = rng.integers(-2, 3, size=(50, 4)).astype(np.float32)
    scores = queries @ candidates.T
    whole = (scores >= np.diag(scores)[:, None]).sum(axis=1)
    monkeypatch.setattr(retrieval, "RANK_BLOCK", 7)   # 8 blocks, the last one short
    blocked = retrieval.ranks_of_matches(queries, candidates)
    assert blocked.tolist() == whole.tolist() and len(set(whole.tolist())) > 5
