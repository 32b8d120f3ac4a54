"""The report of ``encode_modes.py``: markdown tables, the JSON file and the README block they regenerate.

A README holds one block per configuration between ``<!-- speed:KEY:begin -->`` and ``<!-- speed:KEY:end -->``
(``KEY`` such as ``small-cpu``, ``mid-cpu``, ``2b-cuda``); ``--readme`` replaces the text between the two markers
with a fresh run's tables and leaves the rest of the file as it is.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from measurement import describe_machine


def gib(value: float) -> str:
    """A memory figure for a table (``-`` where none was measured: on CPU)."""
    return "-" if math.isnan(value) else f"{value:.2f}"


@dataclass
class EncodeRun:
    """One mode encoded at one batch size: the best total time over the repeats and the passes counted."""

    mode: str
    batch_size: int
    items: int
    seconds: float
    passes_per_batch: float
    peak_gib: float = float("nan")

    @property
    def per_item(self) -> float:
        return self.seconds / self.items


@dataclass
class Ratio:
    """A ratio of two measurements of the same run, with the target it is held to (``None``: no target)."""

    name: str
    measured_as: str
    value: float
    target: tuple[str, float] | None = None  # (">=" or "<=", bound)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target
        return self.value >= bound if op == ">=" else self.value <= bound


@dataclass
class SpeedReport:
    """Everything one run of ``encode_modes.py`` measured."""

    config: dict[str, Any]
    machine: dict[str, Any]
    runs: list[EncodeRun]
    training: dict[str, dict[str, float]] = field(default_factory=dict)
    training_config: dict[str, Any] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.config['size']}-{self.config['device'].split(':')[0]}"

    def to_json(self) -> dict[str, Any]:
        ratios = [{**asdict(r), "met": r.met} for r in self.ratios]
        runs = [{**asdict(r), "per_item": r.per_item} for r in self.runs]
        return {**asdict(self), "runs": runs, "ratios": ratios}

    def markdown(self) -> str:
        """The machine, the command's settings and the three tables."""
        c = self.config
        lines = [
            f"Measured on {describe_machine(self.machine)}. Random Qwen2-VL `--size {c['size']}` "
            f"({c['dtype']}, {c['device']}), {c['images']} images at {c['image_size']} px, K = {c['latent_steps']}, "
            f"explicit rationales forced to exactly N = {c['explicit_tokens']} tokens, best of {c['repeats']}:",
            "",
            "| mode | batch | items | s / item | items / s | backbone passes / batch (counted) |",
            "|---|---|---|---|---|---|",
        ]
        for run in self.runs:
            lines.append(
                f"| {run.mode} | {run.batch_size} | {run.items} | {run.per_item:.4f} | {1 / run.per_item:.2f} "
                f"| {run.passes_per_batch:g} |"
            )
        if self.training:
            t = self.training_config
            lines += [
                "",
                f"| training step (stage {t['stage']}, K = {t['num_latent']}, batch {t['batch_size']}, forward + "
                "backward) | s / step | peak GPU GiB |",
                "|---|---|---|",
            ]
            lines += [f"| {k} | {v['seconds']:.3f} | {gib(v['peak_gib'])} |" for k, v in self.training.items()]
        lines += ["", "| ratio | measured as | value | target |", "|---|---|---|---|"]
        for ratio in self.ratios:
            target = "" if ratio.target is None else f"{ratio.target[0]} {ratio.target[1]:g}x"
            if ratio.met is not None:
                target += " (met)" if ratio.met else " (**not met**)"
            lines.append(f"| {ratio.name} | {ratio.measured_as} | {ratio.value:.2f}x | {target} |")
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def write_readme(self, path: Path) -> None:
        """Replace the README's block of this configuration by the fresh tables."""
        begin, end = f"<!-- speed:{self.key}:begin -->", f"<!-- speed:{self.key}:end -->"
        text = path.read_text()
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"{path} has no block {begin} ... {end} to regenerate")
        path.write_text(pattern.sub(lambda _: f"{begin}\n{self.markdown()}\n{end}", text, count=1))
