"""The PLUME prompt: special tokens, the user-turn template and the assistant prefix and suffix.

Every PLUME input is rendered as one Qwen chat turn::

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n{media}{instruction}{text}\\n<disc_emb>\\n{EMBED_INSTRUCTION}<|im_end|>\\n
    <|im_start|>assistant\\n<think><bot>

The prefix ends at ``<bot>``; the latent steps follow it, then :data:`LATENT_SUFFIX` closes the thought and
places ``<gen_emb>``, whose last-layer hidden state is the embedding.
"""

from __future__ import annotations

DISC_EMB = "<disc_emb>"
GEN_EMB = "<gen_emb>"
BOT = "<bot>"
EOT = "<eot>"
CT = "<ct>"
PLUME_TOKENS: tuple[str, ...] = (DISC_EMB, GEN_EMB, BOT, EOT, CT)

EMBED_INSTRUCTION = (
    "Represent the above input text, images, videos, or any combination of the three as embeddings. "
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word or "
    "sentence. Finally, use the <gen_emb> tag to represent the entire input."
)
SYSTEM_PROMPT = "You are a helpful assistant."
ASSISTANT_PREFIX = "<think>" + BOT
LATENT_SUFFIX = EOT + "</think>\n" + GEN_EMB
IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
VIDEO_PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"
RESERVED_IN_TEXT: tuple[str, ...] = (
    *PLUME_TOKENS,
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Control tokens the prompt places itself; user text containing them would change the prompt's structure."""


def check_user_text(text: str) -> None:
    """Reject user text (instruction included) that contains a PLUME or Qwen control token.

    Raises:
        ValueError: Naming the token found.
    """
    found = [token for token in RESERVED_IN_TEXT if token in text]
    if found:
        raise ValueError(f"text contains the reserved control token(s) {found}; remove them from the input")


def render_prompt(text: str, num_images: int = 0, num_videos: int = 0) -> str:
    """Render one input as the PLUME chat prompt, ending with the assistant prefix ``<think><bot>``.

    Args:
        text: The instruction followed by the input's text (may be empty when media are present).
        num_images: Number of images, placed before the text.
        num_videos: Number of videos, placed after the images.

    Returns:
        The full prompt string, ready for the backbone's processor.
    """
    media = IMAGE_PLACEHOLDER * num_images + VIDEO_PLACEHOLDER * num_videos
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{media}{text}\n{DISC_EMB}\n{EMBED_INSTRUCTION}<|im_end|>\n"
        f"<|im_start|>assistant\n{ASSISTANT_PREFIX}"
    )
