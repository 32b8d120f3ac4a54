"""Shared fixtures: tiny random Qwen-VL backbones and PLUME models built on the fly (offline, seeded)."""

from __future__ import annotations

from pathlib import Path

import pytest

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """``tiny_backbone(family) -> Path``: a tiny random backbone folder, built once per family."""
    from plume_st.backbones.tiny import build_tiny_backbone

    cache: dict[str, Path] = {}

    def get(family: str = "qwen2_vl") -> Path:
        if family not in cache:
            cache[family] = build_tiny_backbone(tmp_path_factory.mktemp(f"backbone_{family}"), family=family)
        return cache[family]

    return get


@pytest.fixture(scope="session")
def plume_model(tiny_backbone):
    """``plume_model(family, **build_kwargs)``: a PLUME model on a tiny backbone in eval mode, cached."""
    import plume_st

    cache = {}

    def get(family: str = "qwen2_vl", **kwargs):
        key = (family, tuple(sorted(kwargs.items())))
        if key not in cache:
            model = plume_st.build_plume_model(str(tiny_backbone(family)), device="cpu", **kwargs)
            model.eval()
            cache[key] = model
        return cache[key]

    return get
