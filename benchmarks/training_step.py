"""Training step: the batched PLUME forward + backward against a per-sample loop, side by side in one run.

Builds a random Qwen2-VL PLUME model of a chosen size, a synthetic UME-R1-style batch (images, frame-list videos,
text, rationales), and times one optimisation step's forward + backward at curriculum stage 2 (ratio 0.5: half
the rationale latent, K = 4) two ways on the same rows: the batched training forward of ``PlumeLoss`` (one prefix
pass, K latent steps and one suffix pass for the whole batch), and a loop that runs the same training forward one
sample at a time (the authors' approach) before the same contrastive loss. Prints step times, their ratio, and the
peak GPU memory of each on CUDA.

    python benchmarks/training_step.py --size tiny --batch-size 8 --steps 3                 # CPU sanity run
    python benchmarks/training_step.py --size 2b --dtype bfloat16 --device cuda --batch-size 16 --steps 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from random_backbone import SIZES, make_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--stage", type=int, default=2, help="curriculum stage (2: ratio 0.5, K = 4)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from plume_st.build import build_plume_model
    from plume_st.training.collator import PlumeDataCollator
    from plume_st.training.curriculum import CurriculumSchedule
    from plume_st.training.plume_loss import PlumeLoss
    from plume_st.training.synthetic_data import write_synthetic_ume
    from plume_st.training.training_forward import training_forward
    from plume_st.training.ume_data import read_ume_sft

    with tempfile.TemporaryDirectory() as tmp:
        backbone = make_backbone(Path(tmp) / "backbone", args.size)
        model = build_plume_model(
            str(backbone), num_frames=4, model_kwargs={"dtype": getattr(torch, args.dtype)}, device=args.device
        )
        write_synthetic_ume(Path(tmp) / "data", num_records=args.batch_size, seed=0)
        rows = read_ume_sft(Path(tmp) / "data" / "train.jsonl", media_root=Path(tmp) / "data").to_list()
        model.train()
        collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
        loss_fn = PlumeLoss(model, CurriculumSchedule(), gather_across_devices=False)
        loss_fn.curriculum.stage = args.stage
        spec = loss_fn.curriculum.spec()
        device = torch.device(args.device)

        def columns(batch):
            moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            return [{k[len(p) :]: v for k, v in moved.items() if k.startswith(p)} for p in ("query_", "positive_")]

        def batched_step() -> None:
            sum(loss_fn(columns(collator(rows))).values()).backward()

        def per_sample_step() -> None:
            outputs = [
                [training_forward(model, c, spec, loss_fn.pieces) for c in columns(collator([r]))] for r in rows
            ]
            query, positive = [o[0] for o in outputs], [o[1] for o in outputs]
            flat = query + positive
            parts = loss_fn.parts(
                torch.cat([o.gen_embedding for o in query]),
                torch.cat([o.gen_embedding for o in positive]),
                torch.cat([o.anchor_embedding for o in query]),
                torch.cat([o.anchor_embedding for o in positive]),
                torch.stack([o.cross_entropy_sum() for o in flat]).sum(),
                sum(o.num_tokens for o in flat),
                torch.cat([o.router_probs for o in flat]),
            )
            sum(parts.values()).backward()

        results = {}
        for name, step in (("batched", batched_step), ("per-sample loop", per_sample_step)):
            model.zero_grad(set_to_none=True)
            step()  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            for _ in range(args.steps):
                model.zero_grad(set_to_none=True)
                step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = (time.perf_counter() - start) / args.steps
            memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
            results[name] = (seconds, memory)

    print(
        f"size={args.size} dtype={args.dtype} device={args.device} batch={args.batch_size} stage={args.stage} "
        f"K={spec.num_latent}"
    )
    print("| forward + backward | s/step | peak GPU GiB |\n|---|---|---|")
    for name, (seconds, memory) in results.items():
        print(f"| {name} | {seconds:.3f} | {memory:.2f} |")
    print(f"per-sample / batched step time: {results['per-sample loop'][0] / results['batched'][0]:.2f}x")


if __name__ == "__main__":
    main()
