"""Matryoshka training on the synthetic set: hit@1 per embedding size, with and without ``matryoshka_dims``.

For each seed, trains a tiny PLUME model (hidden size 64) twice, once with ``loss.matryoshka_dims`` and once without,
and prints held-out image -> caption hit@1 at 64, 32, 16, 8, 4 and 2 dimensions (four fresh images per class against
the 18 captions, :func:`~plume_st.training.demo_training.hit_at_1_by_dim`) as one JSON line per run.

The demo's run (72 steps through the five curriculum stages, K = 0 ... 8)::

    python training_scripts/matryoshka_seeds.py --seeds 0 1 2 3 4

The short run of ``tests/training/test_matryoshka_retrieval.py`` (fully latent, K = 2)::

    python training_scripts/matryoshka_seeds.py --seeds 0 1 2 3 4 --latent-steps 2 --ratios 1 --max-steps 30
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from plume_st.training.demo_training import hit_at_1_by_dim
from plume_st.training.run import train_from_config

DIMS = [64, 32, 16, 8, 4, 2]


def config_for(folder: Path, seed: int, dims: list[int] | None, args: argparse.Namespace) -> dict[str, Any]:
    """The training configuration of one run (the demo's, with the sizes and the schedule of the arguments)."""
    curriculum = {"stage_fractions": [1, 1, 1, 1, 2], "final_answer_first_half": True}
    if args.ratios:
        curriculum = {"ratios": args.ratios}
    model = {"backbone": "tiny", "latent_steps": args.latent_steps, "num_frames": 4, "dtype": "float32"}
    return {
        "model": {**model, "seed": seed, "expert_dropout": 0.0},
        "curriculum": curriculum,
        "data": {
            "synthetic": {
                "num_records": args.num_records,
                "seed": seed,
                "folder": str(folder / "data"),
                "kinds": args.kinds,
            }
        },
        "finetune": {"freeze_vision": not args.train_vision},
        "loss": {"matryoshka_dims": dims, "matryoshka_weights": args.matryoshka_weights if dims else None},
        "training": {
            "output_dir": str(folder / "trainer"),
            "max_steps": args.max_steps,
            "per_device_train_batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "warmup_steps": max(1, args.max_steps // 30),
            "lr_scheduler_type": "constant_with_warmup",
            "save_strategy": "no",
            "seed": seed,
            "disable_tqdm": True,
            "multi_dataset_batch_sampler": "proportional",
            "log_level": "error",
            "dataloader_pin_memory": False,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-steps", type=int, default=72)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-records", type=int, default=384)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--latent-steps", type=int, default=8)
    parser.add_argument("--ratios", type=float, nargs="*", default=None, help="curriculum ratios (default: demo's)")
    parser.add_argument("--matryoshka-dims", type=int, nargs="+", default=[64, 32, 16])
    parser.add_argument("--matryoshka-weights", type=float, nargs="+", default=None)
    parser.add_argument("--train-vision", action="store_true", help="train the vision tower too (default frozen)")
    parser.add_argument("--kinds", nargs="+", default=["shapes_i2t", "shapes_t2i", "motion_v2t"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        for dims in (args.matryoshka_dims, None):
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                result = train_from_config(config_for(Path(folder), seed, dims, args), save_final=False)
                hits = hit_at_1_by_dim(result.model, DIMS)
            record = {"seed": seed, "matryoshka_dims": dims, "max_steps": args.max_steps}
            record.update(hit_at_1={str(dim): round(value, 4) for dim, value in hits.items()})
            record.update(seconds=round(time.perf_counter() - start, 1))
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
