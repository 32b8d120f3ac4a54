"""The model card of a saved PLUME model: ``MODEL_CARD.md`` filled in, plus sentence-transformers' own sections.

sentence-transformers generates a card on every save (metadata, architecture, training datasets, hyper-parameters,
logs). Its usage snippet cannot load a PLUME model (no ``trust_remote_code=True``), so the saved ``README.md`` is:
ST's front matter, the filled-in PLUME template (configuration, usage, modes, limitations, citation), then ST's
sections except its "Usage" section. A model converted from the authors' weights (``profile="official"``) gets a
section naming the source checkpoint, the profile and the paper's MMEB-v2 numbers.

No card names a local file: the backbone is named by its Hub id when one is known (``plume_backbone_id`` in the
backbone's config, recorded on save), and any absolute path left in ST's sections is cut to its file name.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any

TEMPLATE_PATH = Path(__file__).with_name("MODEL_CARD.md")
PAPER_URL = "https://arxiv.org/abs/2604.02073"
AUTHORS_CODE_URL = "https://github.com/haoxiangzhao12138/PLUME"
_LOCAL_PATH = re.compile(r"(?<![\w.:/~-])(?:~|[A-Za-z]:)?(?:/[\w.+\-]+){2,}")
"""An absolute POSIX (or ``C:``) path of two or more parts not inside a URL."""

OFFICIAL_SECTION = """## Source: the authors' released weights

This model is the PLUME checkpoint $source released by the paper's authors (He et al., *PLUME: Latent Reasoning
Based Universal Multimodal Embedding*, [arXiv 2604.02073]($paper_url), code: $code_url), converted with
`plume-st convert`; the weights are unchanged. Its configuration reproduces the authors' inference procedure, the
**official profile**, which differs from plume-st's default profile:

| | official profile (this model) | plume-st default |
|---|---|---|
| text-only input | blank 28x28 white image in front (56x56: 4 image tokens), text stripped | text only |
| latent and suffix positions | the row's cache length, on all three M-RoPE axes | largest prefix position + 1 |
| after the forced `<gen_emb>` | greedy decoding (at most $continuation tokens), last `<gen_emb>` pooled | none |
| pixels per image | $min_pixels to $max_pixels | the processor's minimum to 2,359,296 |

### MMEB-v2 (the paper's numbers for PLUME on Qwen2-VL-2B, not measured on this conversion)

| Image | Video | VisDoc | All (78 datasets) |
|---|---|---|---|
| 66.3 | 44.1 | 67.5 | 61.6 |
"""


MATRYOSHKA_SECTION = """
### Matryoshka dimensions

This model was trained with Matryoshka representation learning: the first $dims dimensions of its embedding were
each trained to retrieve on their own (renormalised). Keep a prefix to store smaller vectors:

```python
model = SentenceTransformer("$model_id", trust_remote_code=True, truncate_dim=$smallest)
# or per call: model.encode(inputs, truncate_dim=$smallest)
```
"""


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


def is_hub_id(name: str | None) -> bool:
    """Whether ``name`` reads as ``org/name`` on the Hub and is no folder here."""
    return bool(name) and re.fullmatch(r"[\w.\-]+/[\w.\-]+", name) is not None and not Path(name).exists()


def backbone_id(config: Any) -> str | None:
    """The backbone's Hub id: recorded in its config, else its ``name_or_path`` when that is a Hub id."""
    recorded = getattr(config, "plume_backbone_id", None)
    return recorded or (config.name_or_path if is_hub_id(config.name_or_path) else None)


def without_local_paths(text: str) -> str:
    """``text`` with every absolute local path cut to its last part (``/tmp/x/train.jsonl:6`` -> ``train.jsonl:6``)."""
    return _LOCAL_PATH.sub(lambda match: match.group(0).rsplit("/", 1)[-1], text)


def official_section(model: Any) -> str:
    """The converted model's provenance and profile section (empty for models plume-st built)."""
    input_module, rollout = model[0], model[1]
    if getattr(input_module, "profile", "default") != "official":
        return ""
    source = getattr(input_module.causal_lm.config, "plume_source_checkpoint", None)
    return Template(OFFICIAL_SECTION).substitute(
        source=f"[`{source}`](https://huggingface.co/{source})" if source else "(converted from a local folder)",
        paper_url=PAPER_URL,
        code_url=AUTHORS_CODE_URL,
        continuation=f"{rollout.continuation_max_tokens:,}",
        min_pixels=f"{input_module.min_pixels:,}",
        max_pixels=f"{input_module.max_pixels:,}",
    )


def matryoshka_section(model: Any, model_id: str) -> str:
    """The Matryoshka usage section for a model trained with Matryoshka dimensions (empty otherwise)."""
    from plume_st.model import matryoshka_dims  # plume_st.model imports this module

    dims = matryoshka_dims(model)
    if not dims:
        return ""
    listed = ", ".join(map(str, dims[:-1])) + f" and {dims[-1]}" if len(dims) > 1 else str(dims[0])
    return Template(MATRYOSHKA_SECTION).substitute(dims=listed, model_id=model_id, smallest=dims[-1])


def card_values(model: Any) -> dict[str, Any]:
    """The template's fields, read from the model's modules."""
    input_module, rollout = model[0], model[1]
    config = input_module.causal_lm.config
    hub_id = backbone_id(config)
    model_id = model.model_card_data.model_id or "path/to/this-model"
    return {
        "title": f"PLUME on {hub_id.split('/')[-1] if hub_id else config.model_type}",
        "backbone": f"`{hub_id}`" if hub_id else "a local backbone (no Hub id)",
        "family": config.model_type,
        "hidden_size": rollout.hidden_size,
        "latent_steps": rollout.latent_steps,
        "num_experts": rollout.num_experts,
        "top_k": rollout.top_k,
        "shared_expert": "yes" if rollout.shared_expert else "no",
        "reasoning": rollout.reasoning,
        "position_scheme": rollout.position_scheme,
        "profile": getattr(input_module, "profile", "default"),
        "num_frames": input_module.num_frames,
        "official_section": official_section(model),
        "model_id": model_id,
        "matryoshka_section": matryoshka_section(model, model_id),
    }


def render_model_card(model: Any, generated: str) -> str:
    """The PLUME card: ``generated`` (ST's card) front matter + filled template + ST's sections but "Usage"."""
    front, sections = split_sections(generated)
    front = "".join(line for line in front.splitlines(keepends=True)
                    if not line.startswith("base_model: ") or is_hub_id(line.split(": ", 1)[1].strip()))
    kept = [section for section in sections[1:] if not section.startswith("## Usage")]
    body = Template(TEMPLATE_PATH.read_text(encoding="utf8")).substitute(card_values(model))
    return without_local_paths(front) + "\n" + body + "\n" + without_local_paths("".join(kept))
