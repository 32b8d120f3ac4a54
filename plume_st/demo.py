"""``plume-st demo``: the whole life of a PLUME model on a tiny offline backbone, in a minute on a laptop CPU.

Builds a tiny random Qwen2-VL backbone, builds a PLUME model on it, saves it, reloads it through plain
``SentenceTransformer(..., trust_remote_code=True)``, and embeds text, an image, a video (frame list) and a
rendered PDF page into one space, printing the similarity table.
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


def run_demo(out_dir: str | Path | None = None, family: str = "qwen2_vl") -> Path:
    """Run the demo; returns the folder of the saved model."""
    from sentence_transformers import SentenceTransformer

    from plume_st.backbones.tiny import build_tiny_backbone
    from plume_st.build import build_plume_model

    workdir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="plume-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"[1/4] building a tiny random {family} backbone in {workdir / 'backbone'}")
    backbone = build_tiny_backbone(workdir / "backbone", family=family)
    print("[2/4] building a PLUME model (K=8 latent steps, 4+1 experts, top-2)")
    model = build_plume_model(str(backbone), latent_steps=8, device="cpu")
    model_dir = workdir / "plume-model"
    model.save_pretrained(str(model_dir))
    print(f"[3/4] saved to {model_dir}; reloading with SentenceTransformer(..., trust_remote_code=True)")
    loaded = SentenceTransformer(str(model_dir), trust_remote_code=True, device="cpu")
    labels, inputs = demo_inputs(workdir)
    print("[4/4] encoding text, image, image+text, video and a rendered PDF page")
    for reasoning in ("latent", "none"):
        embeddings = loaded.encode(inputs, reasoning=reasoning, convert_to_tensor=True)
        print(f"\ncosine similarities, reasoning={reasoning!r} (untrained tiny model: the numbers show the plumbing)")
        print(format_table(labels, loaded.similarity(embeddings, embeddings)))
    return model_dir
