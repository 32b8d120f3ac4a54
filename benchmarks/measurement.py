"""Timing, peak memory and the machine a benchmark ran on."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import transformers


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """Run ``fn`` once; returns its wall-clock seconds and its peak GPU memory in GiB (NaN on CPU)."""
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    seconds = time.perf_counter() - start
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return seconds, memory


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_bf16_flags() -> list[str]:
    """The CPU's bfloat16 instruction flags in ``/proc/cpuinfo`` (``avx512_bf16``, ``amx_bf16``; Linux only)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return []
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return sorted(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    return []


def machine(device: torch.device) -> dict[str, str | int | list[str]]:
    """What the numbers were measured on: CPU (and its bfloat16 flags), cores, torch threads, library versions, GPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "bf16_flags": cpu_bf16_flags(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "none",
    }


def describe_machine(info: dict[str, str | int | list[str]]) -> str:
    """One line naming the machine."""
    gpu = "" if info["gpu"] == "none" else f", GPU {info['gpu']}"
    threads = f"{info['torch_threads']} torch thread" + ("" if info["torch_threads"] == 1 else "s")
    return (
        f"{info['cpu']}, {info['cores']} cores ({threads}){gpu}; "
        f"torch {info['torch']}, transformers {info['transformers']}"
    )
