"""``plume-st demo``: the whole life of a PLUME model on a tiny offline backbone, in about a minute on a CPU.

Builds a tiny random Qwen2-VL backbone and a PLUME model on it, trains it with ``SentenceTransformerTrainer``
through every curriculum stage on the generated synthetic set (progress bar, per-stage losses, held-out hit@1
before and after), saves it, reloads it through plain ``SentenceTransformer(..., trust_remote_code=True)``, and
embeds text, an image, a video (frame list) and a rendered PDF page into one space, printing the similarity table.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from plume_st.documents import render_pdf_pages


def demo_inputs(workdir: Path) -> tuple[list[str], list[object]]:
    """Generated demo inputs: (labels, inputs) for text, image, image+text, video and a rendered PDF page."""
    image = Image.new("RGB", (96, 96), (30, 90, 200))
    ImageDraw.Draw(image).ellipse([20, 20, 76, 76], fill=(240, 60, 40))
    frames = []
    for t in range(8):
        frame = Image.new("RGB", (64, 64), (10, 10, 10))
        ImageDraw.Draw(frame).rectangle([4 + 6 * t, 24, 16 + 6 * t, 36], fill=(250, 220, 0))
        frames.append(frame)
    page = Image.new("RGB", (200, 260), "white")
    draw = ImageDraw.Draw(page)
    draw.text((12, 12), "Quarterly report", fill="black")
    draw.rectangle([20, 60, 60, 200], fill=(40, 120, 40))
    draw.rectangle([80, 120, 120, 200], fill=(40, 120, 40))
    pdf_path = workdir / "report.pdf"
    page.save(pdf_path)
    rendered = render_pdf_pages(pdf_path, dpi=72)[0]
    labels = ["text", "image", "image+text", "video", "pdf page"]
    inputs = [
        "a red ball on a blue background",
        image,
        {"image": image, "text": "what colour is the ball?"},
        {"video": frames},
        rendered,
    ]
    return labels, inputs


def format_table(labels: list[str], scores) -> str:
    """A fixed-width similarity table."""
    width = max(len(label) for label in labels) + 2
    lines = [" " * width + "".join(f"{label:>{width}}" for label in labels)]
    for label, row in zip(labels, scores):
        lines.append(f"{label:<{width}}" + "".join(f"{float(value):>{width}.3f}" for value in row))
    return "\n".join(lines)


def parse_dims(text: str) -> list[int]:
    """``"64,32,16"`` -> ``[64, 32, 16]``.

    Raises:
        ValueError: For an entry that is not a positive whole number.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(f"expected comma-separated positive sizes such as '32,16', got {text!r}")
    return [int(part) for part in parts]


def run_demo(
    out_dir: str | Path | None = None,
    family: str = "qwen2_vl",
    max_steps: int = 72,
    matryoshka_dims: list[int] | None = None,
) -> Path:
    """Run the demo; returns the folder of the trained, saved model.

    Args:
        out_dir: Working folder (default: a new temporary folder).
        family: Backbone family of the tiny model.
        max_steps: Training steps through the five curriculum stages.
        matryoshka_dims: Also train these prefixes of the 64-dimensional embedding (Matryoshka); the report lists
            hit@1 per size and the saved model records them.
    """
    from plume_st.training.demo_training import run_training_demo

    workdir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="plume-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"PLUME demo in {workdir}: tiny random {family} backbone, K = 8 latent steps, 4 + 1 experts, top-2")
    result = run_training_demo(
        workdir / "training", max_steps=max_steps, family=family, matryoshka_dims=matryoshka_dims
    )
    model_dir, loaded = Path(result["model_dir"]), result["model"]  # reloaded from disk by the training demo
    labels, inputs = demo_inputs(workdir)
    for reasoning in ("latent", "none"):
        embeddings = loaded.encode(inputs, reasoning=reasoning, convert_to_tensor=True)
        print(f"\ncosine similarities of the trained model, reasoning={reasoning!r}")
        print(format_table(labels, loaded.similarity(embeddings, embeddings)))
    print(f"\nthe model is in {model_dir}: SentenceTransformer({str(model_dir)!r}, trust_remote_code=True)")
    return model_dir
