"""Shared fixtures of the training tests: a tiny backbone, a synthetic UME-R1 set, one CPU thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import plume_st
from plume_st.training.data.synthetic_data import write_synthetic_ume


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


def torchrun_two_ranks(script_name: str, *args: str, timeout: int = 400) -> None:
    """Run ``tests/training/<script_name> *args`` under ``torchrun --nproc_per_node 2`` (gloo, CPU, one thread)."""
    script = Path(__file__).with_name(script_name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = subprocess.run([*command, str(script), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
