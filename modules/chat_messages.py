"""Chat messages as PLUME inputs: one conversation becomes one ``{"text", "image", "video"}`` dict.

A message is ``{"role": ..., "content": ...}``; ``content`` is a string or a list of parts in any of the common
spellings: ``{"type": "text", "text": ...}``, ``{"type": "image", "image" | "url" | "path": ...}``,
``{"type": "image_url", "image_url": {"url": ...}}`` (OpenAI / vLLM), ``{"type": "video", "video" | "url" | "path":
...}`` and ``{"type": "video_url", "video_url": {"url": ...}}``.

How it maps onto the PLUME prompt (whose system turn and embedding instruction are fixed):

* the text of ``system`` turns is the instruction: it is placed in front of the user's text exactly as
  ``encode(..., prompt=...)`` places it;
* the parts of ``user`` turns are gathered in order: texts are joined as Qwen's chat template joins them (directly),
  images and videos keep their order but, as in every PLUME prompt, all images come first, then the videos, then
  the text;
* ``assistant`` (and any other) turns are refused: PLUME embeds an input, it does not continue a conversation.
"""

from __future__ import annotations

from typing import Any

_PART_KEYS = {"image": ("image", "url", "path"), "video": ("video", "url", "path")}


def _part_media(part: dict[str, Any], kind: str) -> Any:
    if part["type"] == f"{kind}_url":
        value = part.get(f"{kind}_url")
        value = value.get("url") if isinstance(value, dict) else value
    else:
        value = next((part[key] for key in _PART_KEYS[kind] if part.get(key) is not None), None)
    if value is None:
        raise ValueError(f"a {part['type']!r} content part has no {kind}: {sorted(map(str, part))}")
    return value


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(part, dict) and "type" in part for part in content):
        raise ValueError("message content must be a string or a list of parts with a 'type'")
    return content


def messages_to_dict(messages: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """The ``{"text", "image", "video"}`` dict equivalent to one conversation.

    Raises:
        ValueError: An assistant or unknown role, a malformed part, a conversation without user content.
    """
    messages = [messages] if isinstance(messages, dict) else messages
    instruction, texts, images, videos = [], [], [], []
    for message in messages:
        role = message.get("role")
        if role not in ("system", "user"):
            raise ValueError(f"a {role!r} turn cannot be embedded; pass system and user turns only")
        for part in _content_parts(message.get("content")):
            kind = part["type"]
            if kind == "text":
                (instruction if role == "system" else texts).append(str(part.get("text", "")))
            elif role == "system":
                raise ValueError(f"a system turn may hold text only, got a {kind!r} part")
            elif kind in ("image", "image_url"):
                images.append(_part_media(part, "image"))
            elif kind in ("video", "video_url"):
                videos.append(_part_media(part, "video"))
            else:
                raise ValueError(f"unsupported content part type {kind!r}; expected text, image(_url), video(_url)")
    if not (texts or images or videos):
        raise ValueError("the conversation has no user content")
    result: dict[str, Any] = {"text": "".join(instruction) + "".join(texts)}
    if images:
        result["image"] = images
    if len(videos) == 1:
        result["video"] = videos[0]
    elif videos:
        result["video"] = videos
    return result
