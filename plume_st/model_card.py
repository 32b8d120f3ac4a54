"""The model card of a saved PLUME model: ``MODEL_CARD.md`` filled in, plus sentence-transformers' own sections.

sentence-transformers generates a card on every save (metadata, architecture, training datasets, hyper-parameters,
logs). Its usage snippet cannot load a PLUME model (no ``trust_remote_code=True``), so the saved ``README.md`` is:
ST's front matter, the filled-in PLUME template (configuration, usage, modes, limitations, citation), then ST's
sections except its "Usage" section.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

TEMPLATE_PATH = Path(__file__).with_name("MODEL_CARD.md")


def split_sections(markdown: str) -> tuple[str, list[str]]:
    """Split a card into its front matter (with the ``---`` lines) and its level-2 sections (code fences respected)."""
    front = ""
    if markdown.startswith("---\n"):
        end = markdown.index("\n---\n", 4) + len("\n---\n")
        front, markdown = markdown[:end], markdown[end:]
    sections, current, in_code = [], [], False
    for line in markdown.splitlines(keepends=True):
        in_code ^= line.startswith("```")
        if line.startswith("## ") and not in_code:
            sections.append("".join(current))
            current = []
        current.append(line)
    sections.append("".join(current))
    return front, sections


def card_values(model: Any) -> dict[str, Any]:
    """The template's fields, read from the model's modules."""
    input_module, rollout = model[0], model[1]
    config = input_module.causal_lm.config
    return {
        "title": f"PLUME on {Path(config.name_or_path).name or config.model_type}",
        "backbone": config.name_or_path,
        "family": config.model_type,
        "hidden_size": rollout.hidden_size,
        "latent_steps": rollout.latent_steps,
        "num_experts": rollout.num_experts,
        "top_k": rollout.top_k,
        "shared_expert": "yes" if rollout.shared_expert else "no",
        "reasoning": rollout.reasoning,
        "position_scheme": rollout.position_scheme,
        "num_frames": input_module.num_frames,
        "model_id": model.model_card_data.model_id or "path/to/this-model",
    }


def render_model_card(model: Any, generated: str) -> str:
    """The PLUME card: ``generated`` (ST's card) front matter + filled template + ST's sections but "Usage"."""
    front, sections = split_sections(generated)
    kept = [section for section in sections[1:] if not section.startswith("## Usage")]
    body = Template(TEMPLATE_PATH.read_text(encoding="utf8")).substitute(card_values(model))
    return front + "\n" + body + "\n" + "".join(kept)
