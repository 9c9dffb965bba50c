"""Worker for the distributed-training test: trains a small ACML model on real nmrshiftdb2
records in however many processes launched it (``torchrun --nproc_per_node N`` or plain
``python``), then rank 0 writes the epoch losses and final weights to OUT.

    torchrun --standalone --nproc_per_node 2 tests/distributed/ddp_worker.py OUT
"""
import json
import logging
import sys


def main(out: str) -> None:
    import torch

    from deepchem_acml import ACMLModel, distributed
    from deepchem_acml.data.nmrshiftdb2 import read_embedded_nmr_13c

    logging.getLogger("deepchem").setLevel(logging.ERROR)
    distributed.init_from_environment("cpu")
    frame = read_embedded_nmr_13c().head(200)
    # No dropout: its random masks are drawn per process, so they would differ by design.
    # A global batch of 63 splits 32 + 31: the gather handles unequal shares.
    model = ACMLModel("nmr_13c", encoder=dict(hidden_dim=32, dropout=0.0), projection_dim=64,
                      num_cells=1, batch_size=63, projection_dropout=0.0, seed=0)
    dataset, _ = model.build_dataset(frame.smiles, frame.spectrum, ids=frame.inchikey)
    history = model.train(dataset, nb_epoch=3, progress=False)
    if distributed.is_main_process():
        torch.save({k: v.detach().clone() for k, v in model._network.state_dict().items()},
                   f"{out}/weights.pt")
        with open(f"{out}/result.json", "w") as handle:
            json.dump({"world_size": distributed.world_size(), "history": history,
                       "steps": model._global_step}, handle)


if __name__ == "__main__":
    main(sys.argv[1])
