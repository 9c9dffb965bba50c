import pytest
import torch

from deepchem_acml import ACMLGraphFeaturizer
from deepchem_acml.data.batching import collate_graphs
from deepchem_acml.nn.gin import GINEncoder, pool_nodes


@pytest.fixture
def graphs():
    return ACMLGraphFeaturizer().featurize_with_report(
        ["CCO", "c1ccccc1O", "C[C@H](N)O", "C[C@@H](N)O", "[Na+].[Cl-]", "C"]).features


def test_collate_offsets_edges_and_indexes_graphs(graphs):
    batch = collate_graphs(graphs)
    sizes = [g.num_nodes for g in graphs]
    assert batch.num_graphs == len(graphs)
    assert batch.node_features.shape == (sum(sizes), 2)
    assert torch.bincount(batch.graph_index).tolist() == sizes
    # every edge stays inside its own graph
    assert (batch.graph_index[batch.edge_index[0]] == batch.graph_index[batch.edge_index[1]]).all()


def test_collate_refuses_failed_rows_with_advice():
    import numpy as np
    with pytest.raises(TypeError, match="failed featurization"):
        collate_graphs([np.array([])])


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
def test_batched_equals_one_by_one(graphs, pooling):
    torch.manual_seed(0)
    encoder = GINEncoder(num_layers=3, hidden_dim=16, pooling=pooling).eval()
    together = encoder(collate_graphs(graphs))
    alone = torch.cat([encoder(collate_graphs([g])) for g in graphs])
    assert together.shape == (len(graphs), 16)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_embedding_does_not_depend_on_atom_order():
    torch.manual_seed(0)
    encoder = GINEncoder(num_layers=5, hidden_dim=32).eval()
    a, b = ACMLGraphFeaturizer().featurize_with_report(["OCC(=O)N", "NC(=O)CO"]).features
    torch.testing.assert_close(encoder(collate_graphs([a])), encoder(collate_graphs([b])),
                               atol=1e-5, rtol=1e-5)


def test_enantiomers_get_different_embeddings(graphs):
    torch.manual_seed(0)
    encoder = GINEncoder(num_layers=2, hidden_dim=16).eval()
    out = encoder(collate_graphs(graphs))
    assert not torch.allclose(out[2], out[3])


def test_gradients_flow_to_every_parameter(graphs):
    encoder = GINEncoder(num_layers=2, hidden_dim=8)
    encoder(collate_graphs(graphs)).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_pool_nodes():
    h = torch.tensor([[1.0], [3.0], [5.0]])
    index = torch.tensor([0, 0, 1])
    assert pool_nodes(h, index, 2, "sum").tolist() == [[4.0], [5.0]]
    assert pool_nodes(h, index, 2, "mean").tolist() == [[2.0], [5.0]]
    assert pool_nodes(h, index, 2, "max").tolist() == [[3.0], [5.0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="pooling"):
        GINEncoder(pooling="attention")
    with pytest.raises(ValueError, match="num_layers"):
        GINEncoder(num_layers=0)


def test_a_single_atom_batch_trains(graphs):
    encoder = GINEncoder(num_layers=2, hidden_dim=8).train()
    methane = graphs[-1]
    assert methane.num_nodes == 1
    out = encoder(collate_graphs([methane]))
    out.sum().backward()
    assert out.shape == (1, 8) and torch.isfinite(out).all()


def test_rich_atom_features_are_read_and_their_absence_is_named():
    from deepchem_acml.featurizers.graph import RICH_ATOM_VOCABULARY

    smiles = ["c1ccccc1O", "C1CCCCC1O", "CC(=O)[O-]", "C[N+](C)(C)C"]
    rich_graphs = ACMLGraphFeaturizer(atom_features="rich").featurize(smiles)
    torch.manual_seed(0)
    rich = GINEncoder(num_layers=2, hidden_dim=16, atom_features="rich").eval()
    assert len(rich.rich_atom_embeddings) == len(RICH_ATOM_VOCABULARY)
    hu = GINEncoder(num_layers=2, hidden_dim=16).eval()
    hu.load_state_dict({k: v for k, v in rich.state_dict().items()
                        if not k.startswith("rich_atom_embeddings")})
    with torch.no_grad():
        rich_out = rich(collate_graphs(rich_graphs))
        # the Hu encoder reads only the first two codes: the same graphs give what it gives
        # on Hu graphs, and the rich tables change the embeddings
        hu_out = hu(collate_graphs(rich_graphs))
        torch.testing.assert_close(hu_out, hu(collate_graphs(ACMLGraphFeaturizer().featurize(
            smiles))))
    assert not torch.allclose(rich_out, hu_out)
    with pytest.raises(ValueError, match="atom_features='rich'"):
        rich(collate_graphs(ACMLGraphFeaturizer().featurize(smiles)))
    rebuilt = GINEncoder.from_config(rich.config())
    assert rebuilt.atom_features == "rich"
    assert rebuilt.graph_featurizer().atom_features == "rich"
    assert GINEncoder.from_config({"num_layers": 2, "hidden_dim": 16}).atom_features == "hu"
