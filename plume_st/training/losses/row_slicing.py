"""Slicing a collated PLUME column to a range of rows, vision tensors included.

``pixel_values`` (and ``pixel_values_videos``) hold the patches of every image of the batch back to back, and
``image_grid_thw`` one (t, h, w) row per image, so a row range maps to a contiguous range of images and patches.
Which row an image belongs to follows from the image tokens each row holds (``t * h * w / merge_size**2`` per
image, in order). The GradCache loss uses this to run a large batch in mini-batches.
"""

from __future__ import annotations

from typing import Any

import torch

_VISION = (
    ("pixel_values", "image_grid_thw", "image_token_id"),
    ("pixel_values_videos", "video_grid_thw", "video_token_id"),
)


def slice_rows(features: dict[str, Any], start: int, end: int, config: Any, merge_size: int) -> dict[str, Any]:
    """Rows ``start:end`` of a collated column.

    Args:
        features: One column's features (``input_ids`` (B, L), vision tensors, ``think_*``, ``answer_*``).
        start: First row.
        end: One past the last row.
        config: The backbone's config (``image_token_id``, ``video_token_id``).
        merge_size: The processor's spatial merge size.
    """
    input_ids = features["input_ids"]
    batch = input_ids.shape[0]
    vision_keys = {key for group in _VISION for key in group[:2]} | {"second_per_grid_ts"}
    sliced = {
        key: value[start:end] if isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == batch else value
        for key, value in features.items()
        if key not in vision_keys
    }
    for pixel_key, grid_key, token_attr in _VISION:
        grid = features.get(grid_key)
        if grid is None:
            continue
        patches = grid.prod(dim=-1)
        item_tokens = torch.cumsum(patches // merge_size**2, dim=0)
        row_tokens = torch.cumsum((input_ids == getattr(config, token_attr)).sum(dim=1), dim=0)
        item_row = torch.searchsorted(row_tokens, item_tokens)
        selected = (item_row >= start) & (item_row < end)
        if not selected.any():
            continue
        offsets = torch.cat([patches.new_zeros(1), torch.cumsum(patches, dim=0)])
        first, last = selected.nonzero()[[0, -1], 0].tolist()
        sliced[pixel_key] = features[pixel_key][offsets[first] : offsets[last + 1]]
        sliced[grid_key] = grid[first : last + 1]
        if pixel_key == "pixel_values_videos" and features.get("second_per_grid_ts") is not None:
            sliced["second_per_grid_ts"] = features["second_per_grid_ts"][first : last + 1]
    return sliced
