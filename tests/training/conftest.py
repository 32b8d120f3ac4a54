"""Shared fixtures of the training tests: a tiny backbone, a synthetic UME-R1 set, one CPU thread."""

from __future__ import annotations

import pytest
import torch

import plume_st
from plume_st.training.synthetic_data import write_synthetic_ume


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # The tiny models run several times faster on one thread than on two busy ones.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    return str(plume_st.build_tiny_backbone(tmp_path_factory.mktemp("backbone")))


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    write_synthetic_ume(folder, num_records=24, seed=0, name="train")
    return folder


def make_model(backbone: str, **kwargs):
    kwargs.setdefault("latent_steps", 8)
    kwargs.setdefault("num_frames", 4)
    kwargs.setdefault("expert_dropout", 0.0)
    return plume_st.build_plume_model(backbone, **kwargs)
