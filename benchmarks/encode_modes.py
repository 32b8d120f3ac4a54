"""The three reasoning modes and the training step, measured side by side in one run, with the passes counted.

Builds a random Qwen2-VL backbone of a chosen size (no download: the tiny tokenizer and processors, random weights),
wraps it as a PLUME model and, on the same generated images, times ``model.encode`` with ``reasoning="none"``
(single pass), ``"latent"`` (K latent steps) and ``"explicit"`` (a rationale of exactly N tokens, forced on the
random model by :func:`encode_probes.forced_rationale_length`), each at batch 1 (a batch-1 loop) and at batch B,
then one training step batched against a per-sample loop (``training_step.py``). Every encode counts its backbone
passes (:class:`encode_probes.BackbonePasses`) and checks them: 1 for ``none``, 1 + K for ``latent``, 1 + 1 + N + 1
for ``explicit`` (prefix, ``<eot>``, N tokens, ``<gen_emb>``). Prints the tables and the ratios:

* P1: explicit / latent time per item, at batch 1 and at batch B (the paper, H20, batch 1: 30.3x);
* P2: latent / none time per item, at batch 1 and at batch B (the paper: 1.9x);
* P3: latent as a batch-1 loop / latent at batch B (what batching the rollout buys);
* P4: training step, per-sample loop / batched (peak GPU memory of each on CUDA).

With ``--compare-dtypes`` it instead encodes the same items with the same weights in float32 and in ``--dtype``
(default there: bfloat16), the two runs interleaved, and prints one table: s/item per mode and batch in each dtype,
the speedup and the smallest cosine of an item's embedding to its float32 one (the explicit rationale is forced to
the same N tokens at both dtypes, so the embeddings compare). No training step.

    python benchmarks/encode_modes.py --size small                                   # CPU, under 3 minutes
    python benchmarks/encode_modes.py --size mid --readme README.md --out mid.json   # the CPU targets
    python benchmarks/encode_modes.py --size mid --compare-dtypes --images 8 --batch-size 8 --explicit-tokens 32
    bash benchmarks/gpu_check.sh                                                     # 2B, bf16, SDPA, CUDA
"""

from __future__ import annotations

import argparse
import math
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import torch
from encode_probes import BackbonePasses, explicit_passes, forced_rationale_length
from measurement import describe_machine, machine, timed
from PIL import Image, ImageDraw
from random_backbone import SIZES, make_backbone
from speed_report import DtypeComparison, DtypeRow, EncodeRun, Ratio, SpeedReport
from tqdm import tqdm
from training_step import TrainingStep, synthetic_rows

TARGETS: dict[tuple[str, str], dict[str, tuple[str, float]]] = {
    ("mid", "cpu"): {
        "P1, batch 1": (">=", 24),
        "P2, batch B": ("<=", 1.2),
        "P2, batch 1": ("<=", 2.1),
        "P4": (">=", 3),
    },
    ("2b", "cuda"): {
        "P1, batch 1": (">=", 30),
        "P2, batch 1": ("<=", 1.6),
        "P3": (">=", 4),
        "throughput": (">=", 10),
    },
}
"""The issue's targets per (size, device type); a ratio without one is reported without a verdict."""
PAPER_LATENT_ITEMS_PER_SECOND = 3.3
"""The paper's latent throughput (one H20, the 2B model, batch 1)."""


def images(count: int, side: int) -> list[Image.Image]:
    """``count`` distinct generated ``side`` x ``side`` images."""
    out = []
    for i in range(count):
        image = Image.new("RGB", (side, side), (i * 37 % 255, 80, 160))
        ImageDraw.Draw(image).ellipse([side // 4, side // 4, side // 2 + i % 7, side // 2], fill=(250, 200, 0))
        out.append(image)
    return out


def expected_passes(mode: str, latent_steps: int, explicit_tokens: int) -> int:
    """Backbone passes of one batch: the prefix, then the mode's own passes."""
    if mode == "none":
        return 1
    if mode == "latent":
        return 1 + max(latent_steps, 1)
    return explicit_passes(explicit_tokens)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--images", type=int, default=16, help="items encoded per run (P2, P3, P1 at batch B)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16, help="the batch size B")
    parser.add_argument("--latent-steps", type=int, default=8)
    parser.add_argument("--explicit-tokens", type=int, default=403, help="rationale length N (UME-R1: ~403)")
    parser.add_argument("--explicit-items", type=int, default=2, help="items of the batch-1 explicit run")
    parser.add_argument("--repeats", type=int, default=2, help="each run is timed this often; the best counts")
    parser.add_argument("--train-batch-size", type=int, default=None, help="default: the batch size B")
    parser.add_argument("--train-steps", type=int, default=1, help="timed steps after a warm-up (0: no P4)")
    parser.add_argument("--train-stage", type=int, default=2, help="curriculum stage (2: ratio 0.5, K = 4)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        help="dtype of the model (default: float32; with --compare-dtypes the one compared to float32: bfloat16)",
    )
    parser.add_argument(
        "--compare-dtypes",
        action="store_true",
        help="encode in float32 and in --dtype side by side: s/item, speedup, smallest cosine to float32",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--attn", default="sdpa", help="attn_implementation of the backbone")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a loaded machine, OpenMP threads that wait for each other at every "
        "small op of a decode step make it several times slower and the ratios depend on the others' load; "
        "0 keeps torch's default)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--readme", type=Path, default=None, help="regenerate this README's speed block")
    args = parser.parse_args()
    for name in ("images", "batch_size", "explicit_tokens", "explicit_items", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.explicit_items > args.images:
        parser.error(f"--explicit-items ({args.explicit_items}) cannot exceed --images ({args.images})")
    if args.compare_dtypes and args.dtype == "float32":
        parser.error("--compare-dtypes compares float32 to --dtype bfloat16 or float16")
    args.dtype = args.dtype or ("bfloat16" if args.compare_dtypes else "float32")
    args.train_batch_size = args.train_batch_size or args.batch_size
    return args


def encode_once(
    model: Any, inputs: list[Image.Image], mode: str, batch: int, device: torch.device
) -> tuple[EncodeRun, np.ndarray]:
    """One timed ``model.encode`` of ``inputs`` with its backbone passes counted per batch; and the embeddings."""
    embeddings = []
    with BackbonePasses(model) as passes:
        seconds, memory = timed(
            lambda: embeddings.append(model.encode(inputs, batch_size=batch, reasoning=mode)), device
        )
    run = EncodeRun(mode, batch, len(inputs), seconds, passes.count / math.ceil(len(inputs) / batch), memory)
    return run, embeddings[0]


def measure_encodes(
    models: dict[str, Any], args: argparse.Namespace, device: torch.device, rationale_token: int | None = None
) -> tuple[dict[tuple[str, str, int], EncodeRun], dict[tuple[str, str, int], np.ndarray]]:
    """Time every (model, mode, batch size) run ``args.repeats`` times, interleaved, keeping the best; check passes.

    Args:
        models: The models by name (one, or the float32 and low-precision models of ``--compare-dtypes``).
        args: The command's settings.
        device: Their device.
        rationale_token: If given, every explicit rationale token is this one (the same rationale in every model).

    Returns:
        The best run and the embeddings of every ``(model name, mode, batch size)``.
    """
    inputs = images(args.images, args.image_size)
    plan = [
        (mode, batch, args.explicit_items if (mode, batch) == ("explicit", 1) else args.images)
        for batch in (1, args.batch_size)
        for mode in ("none", "latent", "explicit")
    ]
    for model in models.values():
        model.encode(inputs[: args.batch_size], batch_size=args.batch_size)  # warm-up
        model.encode(inputs[:1], batch_size=1)
    best: dict[tuple[str, str, int], EncodeRun] = {}
    embeddings: dict[tuple[str, str, int], np.ndarray] = {}
    with ExitStack() as stack, tqdm(total=args.repeats * len(plan) * len(models)) as bar:
        for model in models.values():
            stack.enter_context(forced_rationale_length(model, args.explicit_tokens, rationale_token))
        for _ in range(args.repeats):
            for mode, batch, items in plan:
                for name, model in models.items():
                    bar.set_description(f"{name}: {mode} at batch {batch}")
                    run, embeddings[name, mode, batch] = encode_once(model, inputs[:items], mode, batch, device)
                    expected = expected_passes(mode, args.latent_steps, args.explicit_tokens)
                    if run.passes_per_batch != expected:
                        raise RuntimeError(
                            f"{name}, {mode} at batch {batch}: counted {run.passes_per_batch:g} backbone passes per "
                            f"batch, expected {expected}"
                        )
                    if (name, mode, batch) not in best or run.seconds < best[name, mode, batch].seconds:
                        best[name, mode, batch] = run
                    bar.update()
    return best, embeddings


def smallest_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest cosine between the rows of ``a`` and the same rows of ``b``."""
    a, b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def compare_dtypes(backbone: Path, args: argparse.Namespace, device: torch.device) -> DtypeComparison:
    """Encode with the same weights in float32 and in ``args.dtype``, side by side (``--compare-dtypes``)."""
    models = {dtype: build_model(backbone, args, dtype) for dtype in ("float32", args.dtype)}
    rationale_token = models["float32"][0].token_id("<bot>")  # any fixed token: the same rationale in both
    best, embeddings = measure_encodes(models, args, device, rationale_token)
    rows = [
        DtypeRow(
            mode,
            batch,
            run.items,
            run.per_item,
            best[args.dtype, mode, batch].per_item,
            smallest_cosine(embeddings["float32", mode, batch], embeddings[args.dtype, mode, batch]),
        )
        for (name, mode, batch), run in best.items()
        if name == "float32"
    ]
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return DtypeComparison(config, machine(device), args.dtype, rows)


def ratios(runs: list[EncodeRun], training: dict[str, dict[str, float]], args: argparse.Namespace) -> list[Ratio]:
    """P1-P4 (and on CUDA the latent throughput against the paper's), with the targets of this configuration."""
    t = {(run.mode, run.batch_size): run.per_item for run in runs}
    b, n, k = args.batch_size, args.explicit_tokens, args.latent_steps
    found = [
        ("P1, batch 1", f"explicit (N = {n}) / latent (K = {k}), s per item", t["explicit", 1] / t["latent", 1]),
        (f"P1, batch {b}", "the same at batch B", t["explicit", b] / t["latent", b]),
        ("P2, batch 1", "latent / none, s per item", t["latent", 1] / t["none", 1]),
        (f"P2, batch {b}", "the same at batch B", t["latent", b] / t["none", b]),
        ("P3", f"latent: batch-1 loop / batch {b}, s per item", t["latent", 1] / t["latent", b]),
    ]
    if training:
        step = {kind: result["seconds"] for kind, result in training.items()}
        found.append(("P4", "training step: per-sample loop / batched", step["per-sample loop"] / step["batched"]))
    device_type = torch.device(args.device).type
    if device_type == "cuda":
        paper = PAPER_LATENT_ITEMS_PER_SECOND
        found.append(("throughput", f"latent items/s at batch {b} / the paper's {paper}", 1 / t["latent", b] / paper))
    targets = TARGETS.get((args.size, device_type), {})
    return [
        Ratio(name, measured_as, value, targets.get(name.replace(f"batch {b}", "batch B")))
        for name, measured_as, value in found
    ]


def build_model(backbone: Path, args: argparse.Namespace, dtype: str) -> Any:
    """The PLUME model on ``backbone`` in ``dtype``, in eval mode (the adapter seeded: the same at every dtype)."""
    from plume_st.build import build_plume_model

    return build_plume_model(
        str(backbone),
        latent_steps=args.latent_steps,
        num_frames=4,
        max_pixels=args.image_size * args.image_size,
        model_kwargs={"dtype": getattr(torch, dtype), "attn_implementation": args.attn},
        device=args.device,
    ).eval()


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    training, training_config = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.compare_dtypes:  # float32 weights, rounded once to the compared dtype when loaded
            report = compare_dtypes(make_backbone(Path(tmp) / "backbone", args.size), args, device)
        else:
            backbone = make_backbone(Path(tmp) / "backbone", args.size, getattr(torch, args.dtype))
            model = build_model(backbone, args, args.dtype)
            best, _ = measure_encodes({args.dtype: model}, args, device)
            runs = list(best.values())
            if args.train_steps:
                rows = synthetic_rows(Path(tmp) / "data", args.train_batch_size)
                step = TrainingStep(model, rows, args.train_stage, device)
                training = step.measure(args.train_steps)
                training_config = {
                    "stage": args.train_stage,
                    "num_latent": step.spec.num_latent,
                    "batch_size": args.train_batch_size,
                    "steps": args.train_steps,
                }
            report = SpeedReport(
                config={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                machine=machine(device),
                runs=runs,
                training=training,
                training_config=training_config,
                ratios=ratios(runs, training, args),
            )
    print(report.markdown())
    if args.out:
        report.write_json(args.out)
    if args.readme:
        report.write_readme(args.readme)
        print(f"regenerated the {report.key} block of {args.readme} ({describe_machine(report.machine)})")


if __name__ == "__main__":
    main()
