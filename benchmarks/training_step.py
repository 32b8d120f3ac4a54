"""Training step: the batched PLUME forward + backward against a per-sample loop, side by side in one run.

Builds a random Qwen2-VL PLUME model of a chosen size, a synthetic UME-R1-style batch (images, frame-list videos,
text, rationales), and times one optimisation step's forward + backward at curriculum stage 2 (ratio 0.5: half
the rationale latent, K = 4) two ways on the same rows: the batched training forward of ``PlumeLoss`` (one prefix
pass, the latent steps and the suffix for the whole batch), and a loop that runs the same training forward one
sample at a time (the authors' approach) before the same contrastive loss. Prints step times (best of ``--steps``
after a warm-up), their ratio, and the peak GPU memory of each on CUDA. ``encode_modes.py`` runs the same
measurement as its P4.

    python benchmarks/training_step.py --size tiny --batch-size 8 --steps 3                 # CPU sanity run
    python benchmarks/training_step.py --size 2b --dtype bfloat16 --device cuda --batch-size 16 --steps 5
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch
from measurement import describe_machine, machine, timed
from random_backbone import SIZES, make_backbone

STEP_KINDS = ("batched", "per-sample loop")


def synthetic_rows(folder: Path, count: int) -> list[dict[str, Any]]:
    """``count`` synthetic UME-R1-style training rows (media written under ``folder``)."""
    from plume_st.training.data.synthetic_data import write_synthetic_ume
    from plume_st.training.data.ume_data import read_ume_sft

    write_synthetic_ume(folder, num_records=count, seed=0)
    return read_ume_sft(folder / "train.jsonl", media_root=folder).to_list()


class TrainingStep:
    """One forward + backward over a batch of rows, batched or one sample at a time, on a PLUME model.

    Args:
        model: The PLUME SentenceTransformer.
        rows: Training rows (``query`` / ``positive`` columns of UME-R1 records).
        stage: Curriculum stage whose sequence is trained.
        device: Where the model lives.
    """

    def __init__(self, model: Any, rows: list[dict[str, Any]], stage: int, device: torch.device) -> None:
        from plume_st.training.curriculum import CurriculumSchedule
        from plume_st.training.data.collator import PlumeDataCollator
        from plume_st.training.losses.plume_loss import PlumeLoss

        self.model, self.rows, self.device = model, rows, device
        self.collator = PlumeDataCollator(preprocess_fn=model[0].preprocess, tokenizer=model[0].tokenizer)
        self.loss_fn = PlumeLoss(model, CurriculumSchedule(), gather_across_devices=False)
        self.loss_fn.curriculum.stage = stage
        self.spec = self.loss_fn.curriculum.spec()

    def columns(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The collated query and positive features of ``rows``, on the device."""
        batch = self.collator(rows)
        moved = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return [{k[len(p) :]: v for k, v in moved.items() if k.startswith(p)} for p in ("query_", "positive_")]

    def batched(self, rows: list[dict[str, Any]] | None = None) -> None:
        """The training forward of ``PlumeLoss`` over the whole batch (or ``rows``), then backward."""
        sum(self.loss_fn(self.columns(self.rows if rows is None else rows)).values()).backward()

    def per_sample(self) -> None:
        """The same training forward one sample at a time, the same loss over the concatenated outputs, backward."""
        from plume_st.training.losses.training_forward import training_forward

        pieces = self.loss_fn.pieces
        outputs = [[training_forward(self.model, c, self.spec, pieces) for c in self.columns([r])] for r in self.rows]
        query, positive = [o[0] for o in outputs], [o[1] for o in outputs]
        flat = query + positive
        parts = self.loss_fn.parts(
            torch.cat([o.gen_embedding for o in query]),
            torch.cat([o.gen_embedding for o in positive]),
            torch.cat([o.anchor_embedding for o in query]),
            torch.cat([o.anchor_embedding for o in positive]),
            torch.stack([o.cross_entropy_sum() for o in flat]).sum(),
            sum(o.num_tokens for o in flat),
            torch.cat([o.router_probs for o in flat]),
        )
        sum(parts.values()).backward()

    def measure(self, steps: int) -> dict[str, dict[str, float]]:
        """Best step time and peak GPU memory of each kind over ``steps`` steps (the model left in train mode).

        A batched step over two rows warms the forward and backward kernels up first.
        """
        self.model.train()
        self.batched(self.rows[:2])
        results = {}
        for kind, step in zip(STEP_KINDS, (self.batched, self.per_sample)):
            times, peaks = [], []
            for _ in range(steps):
                self.model.zero_grad(set_to_none=True)
                seconds, memory = timed(step, self.device)
                times.append(seconds)
                peaks.append(memory)
            results[kind] = {"seconds": min(times), "peak_gib": max(peaks)}
        self.model.zero_grad(set_to_none=True)
        return results


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

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        backbone = make_backbone(Path(tmp) / "backbone", args.size, dtype)
        model = build_plume_model(str(backbone), num_frames=4, model_kwargs={"dtype": dtype}, device=args.device)
        step = TrainingStep(model, synthetic_rows(Path(tmp) / "data", args.batch_size), args.stage, device)
        results = step.measure(args.steps)

    print(f"{describe_machine(machine(device))}")
    print(
        f"size={args.size} dtype={args.dtype} device={args.device} batch={args.batch_size} stage={args.stage} "
        f"K={step.spec.num_latent}"
    )
    print("| forward + backward | s/step | peak GPU GiB |\n|---|---|---|")
    for kind, result in results.items():
        print(f"| {kind} | {result['seconds']:.3f} | {result['peak_gib']:.2f} |")
    ratio = results["per-sample loop"]["seconds"] / results["batched"]["seconds"]
    print(f"per-sample / batched step time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
