"""Run by ``torchrun --nproc_per_node 2``: each rank computes the PLUME loss parts on its half of a fixed global batch
and writes its parts and gradients to ``{out_dir}/rank{rank}.json``.

``tensors`` mode: fixed embeddings, router probabilities and token losses; the gradients of the rank's rows.
``model`` mode: a tiny PLUME model on the first rows of a synthetic set at stage 2; the adapter's gradients.
``cached_ddp`` mode: the same model wrapped in DistributedDataParallel, ``CachedPlumeLoss`` with mini-batches of one
row; every parameter's DDP-averaged gradient is saved to ``{out_dir}/rank{rank}.pt``.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from plume_st.training.losses.loss_functions import info_nce, router_balance, token_mean

ROWS, DIM, STEPS, EXPERTS, TOKENS = 4, 6, 3, 4, 5


def global_inputs() -> dict[str, torch.Tensor]:
    """The fixed global batch: embeddings, router probabilities and per-row token losses."""
    generator = torch.Generator().manual_seed(7)
    tensors = {name: torch.randn(ROWS, DIM, generator=generator) for name in ("gen_q", "gen_p", "anc_q", "anc_p")}
    tensors["router_logits"] = torch.randn(ROWS, STEPS, EXPERTS, generator=generator)
    tensors["token_losses"] = torch.rand(ROWS, TOKENS, generator=generator)
    tensors["token_mask"] = (torch.arange(TOKENS)[None] < torch.tensor([[5], [2], [4], [1]])).float()
    for name, tensor in tensors.items():
        tensor.requires_grad_(name != "token_mask")
    return tensors


def parts_from(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The loss parts of (a shard of) the batch."""
    ce_sum = (inputs["token_losses"] * inputs["token_mask"]).sum()
    return {
        "ce": token_mean(ce_sum, int(inputs["token_mask"].sum())),
        "gen_infonce": info_nce(inputs["gen_q"], inputs["gen_p"], 0.02),
        "anchor_infonce": info_nce(inputs["anc_q"], inputs["anc_p"], 0.02),
        "balance": 0.1 * router_balance(torch.softmax(inputs["router_logits"], dim=-1)),
    }


MODEL_ROWS = 6


def model_setup(folder):
    """A tiny PLUME model (eval mode), its loss at stage 2 and the collated first rows of a synthetic set."""
    import plume_st
    from plume_st.training.curriculum import CurriculumSchedule
    from plume_st.training.data.collator import PlumeDataCollator
    from plume_st.training.data.synthetic_data import write_synthetic_ume
    from plume_st.training.data.ume_data import read_ume_sft
    from plume_st.training.losses.plume_loss import PlumeLoss

    backbone = plume_st.build_tiny_backbone(f"{folder}/backbone")
    model = plume_st.build_plume_model(str(backbone), num_frames=4, expert_dropout=0.0)
    model.eval()
    rows = read_ume_sft(write_synthetic_ume(folder, MODEL_ROWS, seed=0), media_root=folder).to_list()
    curriculum = CurriculumSchedule()
    curriculum.stage = 2
    collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
    return model, PlumeLoss(model, curriculum), rows, collator


def columns(batch):
    return [{k[len(p) :]: v for k, v in batch.items() if k.startswith(p)} for p in ("query_", "positive_")]


def run_model(out_dir: str, setup, rank: int, world: int) -> dict:
    model, loss, rows, collator = setup
    shard = MODEL_ROWS // world
    parts = loss(columns(collator(rows[rank * shard : (rank + 1) * shard])))
    sum(parts.values()).backward()
    grads = {}
    for name, param in model[1].named_parameters():
        grad = param.grad if param.grad is not None else torch.zeros_like(param)
        torch.distributed.all_reduce(grad)  # what DDP does, then divides by the world size
        grads[name] = (grad / world).tolist()
    return {"parts": {name: value.item() for name, value in parts.items()}, "grads": grads}


def run_cached_ddp(out_dir: str, setup, rank: int, world: int) -> None:
    from plume_st.training.losses.cached_plume_loss import CachedPlumeLoss

    model, loss, rows, collator = setup
    wrapped = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
    cached = CachedPlumeLoss(wrapped, loss.curriculum, mini_batch_size=1)
    shard = MODEL_ROWS // world
    for _ in range(2):  # a second step: DDP refuses a forward while the previous reduction is unfinished
        model.zero_grad()
        parts = cached(columns(collator(rows[rank * shard : (rank + 1) * shard])))
        sum(parts.values()).backward()
    grads = {name: param.grad.clone() for name, param in model.named_parameters() if param.grad is not None}
    result = {"parts": {name: value.item() for name, value in parts.items()}, "grads": grads}
    torch.save(result, f"{out_dir}/rank{rank}.pt")


def run_tensors(out_dir: str, rank: int, world: int) -> None:
    shard = ROWS // world
    inputs = {}
    for name, tensor in global_inputs().items():
        local = tensor.detach()[rank * shard : (rank + 1) * shard].clone()
        inputs[name] = local.requires_grad_(tensor.requires_grad)
    parts = parts_from(inputs)
    sum(parts.values()).backward()
    grads = {name: tensor.grad.tolist() for name, tensor in inputs.items() if tensor.grad is not None}
    result = {"parts": {name: value.item() for name, value in parts.items()}, "grads": grads}
    with open(f"{out_dir}/rank{rank}.json", "w", encoding="utf8") as handle:
        json.dump(result, handle)


def main(out_dir: str, mode: str = "tensors") -> None:
    # Build the model before the process group exists: transformers saves weights on the main process only.
    setup = model_setup(f"{out_dir}/rank{os.environ['RANK']}") if mode in ("model", "cached_ddp") else None
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    if mode == "cached_ddp":
        run_cached_ddp(out_dir, setup, rank, world)
    elif mode == "model":
        result = run_model(out_dir, setup, rank, world)
        with open(f"{out_dir}/rank{rank}.json", "w", encoding="utf8") as handle:
            json.dump(result, handle)
    else:
        run_tensors(out_dir, rank, world)
    # On two busy cores about one run in five aborted after both ranks had written their results ("terminate
    # called without an active exception", torch 2.14.1 + gloo): a thread still joinable when the interpreter tears
    # down. Both ranks wait for each other, close the group, then leave without the interpreter's teardown.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
