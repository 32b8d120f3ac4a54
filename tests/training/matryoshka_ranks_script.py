"""Run by ``torchrun --nproc_per_node 2``: each rank computes the Matryoshka InfoNCE on its half of a fixed global
batch (candidates gathered from both ranks) and writes its loss and its rows' gradients to
``{out_dir}/rank{rank}.json``.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from plume_st.training.losses.loss_functions import info_nce

ROWS, DIM = 4, 8
DIMS, WEIGHTS = [8, 4, 2], [1.0, 0.5, 0.25]


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed global queries and documents (positives only), with gradients."""
    generator = torch.Generator().manual_seed(11)
    queries, documents = torch.randn(ROWS, DIM, generator=generator), torch.randn(ROWS, DIM, generator=generator)
    return queries.requires_grad_(), documents.requires_grad_()


def main(out_dir: str) -> None:
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    rows = slice(rank * ROWS // world, (rank + 1) * ROWS // world)
    queries, documents = (tensor.detach()[rows].clone().requires_grad_() for tensor in global_batch())
    loss = info_nce(queries, documents, 0.1, gather=True, dims=DIMS, weights=WEIGHTS)
    loss.backward()
    result = {"loss": loss.item(), "query_grad": queries.grad.tolist(), "document_grad": documents.grad.tolist()}
    with open(f"{out_dir}/rank{rank}.json", "w", encoding="utf8") as handle:
        json.dump(result, handle)
    # As in distributed_loss_script.py: wait for each other, close the group, leave without the interpreter teardown.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
