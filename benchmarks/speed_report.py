"""The report of ``encode_modes.py``: markdown tables, the JSON file and the README block they regenerate.

A README holds one block per configuration between ``<!-- speed:KEY:begin -->`` and ``<!-- speed:KEY:end -->``
(``KEY`` such as ``small-cpu``, ``mid-cpu``, ``2b-cuda``, and ``mid-cpu-dtypes`` for the float32-vs-bfloat16 table of
``--compare-dtypes``); ``--readme`` replaces the text between the two markers with a fresh run's tables and leaves
the rest of the file as it is. A JSON file written on another machine (the GPU
check) regenerates its block here::

    python benchmarks/speed_report.py gpu_2b.json --readme README.md
"""

from __future__ import annotations

import argparse
import json
import math
import re
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from measurement import describe_machine


def gib(value: float) -> str:
    """A memory figure for a table (``-`` where none was measured: on CPU)."""
    return "-" if math.isnan(value) else f"{value:.2f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Markdown table lines."""
    return [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"] + [f"| {' | '.join(row)} |" for row in rows]


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

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{self.target[0]} {self.target[1]:g}x " + ("(met)" if self.met else "(**not met**)")


def replace_block(path: Path, key: str, text: str) -> None:
    """Replace the README's ``speed:KEY`` block by ``text``.

    Raises:
        ValueError: If the README has no block ``key``.
    """
    begin, end = f"<!-- speed:{key}:begin -->", f"<!-- speed:{key}:end -->"
    content = path.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)
    if not pattern.search(content):
        raise ValueError(f"{path} has no block {begin} ... {end} to regenerate")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{text}\n{end}", content, count=1))


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpeedReport:
        runs = [EncodeRun(**{k: v for k, v in run.items() if k != "per_item"}) for run in data["runs"]]
        ratios = [
            Ratio(r["name"], r["measured_as"], r["value"], tuple(r["target"]) if r["target"] else None)
            for r in data["ratios"]
        ]
        return cls(data["config"], data["machine"], runs, data["training"], data["training_config"], ratios)

    def markdown(self) -> str:
        """The machine, the command's settings and the three tables."""
        c = self.config
        on_gpu = any(not math.isnan(run.peak_gib) for run in self.runs)
        header = ["mode", "batch", "items", "s / item", "items / s", "backbone passes / batch (counted)"]
        rows = [
            [run.mode, str(run.batch_size), str(run.items), f"{run.per_item:.4f}", f"{1 / run.per_item:.2f}"]
            + [f"{run.passes_per_batch:g}"]
            + ([gib(run.peak_gib)] if on_gpu else [])
            for run in self.runs
        ]
        intro = (
            f"Measured on {describe_machine(self.machine)}. Random Qwen2-VL `--size {c['size']}` "
            f"({c['dtype']}, {c['device']}, {c['attn']}), {c['images']} images at {c['image_size']} px, "
            f"K = {c['latent_steps']}, explicit rationales forced to exactly N = {c['explicit_tokens']} tokens, "
            f"best of {c['repeats']}:"
        )
        lines = [
            textwrap.fill(intro, width=119, break_on_hyphens=False),
            "",
            *table(header + (["peak GPU GiB"] if on_gpu else []), rows),
        ]
        if self.training:
            t = self.training_config
            what = f"training step (stage {t['stage']}, K = {t['num_latent']}, batch {t['batch_size']}, fwd + bwd)"
            rows = [[kind, f"{r['seconds']:.3f}", gib(r["peak_gib"])] for kind, r in self.training.items()]
            lines += ["", *table([what, "s / step", "peak GPU GiB"], rows)]
        rows = [[r.name, r.measured_as, f"{r.value:.2f}x", r.target_text()] for r in self.ratios]
        lines += ["", *table(["ratio", "measured as", "value", "target"], rows)]
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def write_readme(self, path: Path) -> None:
        """Replace the README's block of this configuration by the fresh tables.

        Raises:
            ValueError: If the README has no block for this configuration.
        """
        replace_block(path, self.key, self.markdown())


@dataclass
class DtypeRow:
    """One mode at one batch size encoded in float32 and in a lower precision, on the same items."""

    mode: str
    batch_size: int
    items: int
    float32_per_item: float
    low_per_item: float
    min_cosine: float

    @property
    def speedup(self) -> float:
        return self.float32_per_item / self.low_per_item


@dataclass
class DtypeComparison:
    """What ``encode_modes.py --compare-dtypes`` measured: every mode and batch size in float32 and in ``dtype``."""

    config: dict[str, Any]
    machine: dict[str, Any]
    dtype: str
    rows: list[DtypeRow]

    @property
    def key(self) -> str:
        return f"{self.config['size']}-{self.config['device'].split(':')[0]}-dtypes"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kind": "dtypes", "rows": [{**asdict(r), "speedup": r.speedup} for r in self.rows]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DtypeComparison:
        rows = [DtypeRow(**{k: v for k, v in row.items() if k != "speedup"}) for row in data["rows"]]
        return cls(data["config"], data["machine"], data["dtype"], rows)

    def markdown(self) -> str:
        """The machine (with its bfloat16 instructions), the settings and the side-by-side table."""
        c, m = self.config, self.machine
        flags = ", ".join(m.get("bf16_flags") or []) or "none"
        intro = (
            f"Measured on {describe_machine(m)}; bfloat16 instructions: {flags}. Random Qwen2-VL `--size {c['size']}` "
            f"({c['device']}, {c['attn']}), {c['images']} images at {c['image_size']} px, K = {c['latent_steps']}, "
            f"explicit rationales forced to the same N = {c['explicit_tokens']} tokens at both dtypes, float32 and "
            f"{self.dtype} runs interleaved, best of {c['repeats']}:"
        )
        header = ["mode", "batch", "items", "float32 s / item", f"{self.dtype} s / item", "speedup"]
        rows = [
            [r.mode, str(r.batch_size), str(r.items), f"{r.float32_per_item:.4f}", f"{r.low_per_item:.4f}"]
            + [f"{r.speedup:.2f}x", f"{r.min_cosine:.5f}"]
            for r in self.rows
        ]
        lines = [textwrap.fill(intro, width=119, break_on_hyphens=False), ""]
        return "\n".join(lines + table(header + ["smallest cosine to float32"], rows))

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def write_readme(self, path: Path) -> None:
        """Replace the README's ``SIZE-DEVICE-dtypes`` block by the fresh table."""
        replace_block(path, self.key, self.markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path, help="a JSON file written by encode_modes.py --out")
    parser.add_argument("--readme", type=Path, default=None, help="regenerate this README's block of the result")
    args = parser.parse_args()
    data = json.loads(args.result.read_text())
    report = DtypeComparison.from_json(data) if data.get("kind") == "dtypes" else SpeedReport.from_json(data)
    print(report.markdown())
    if args.readme:
        report.write_readme(args.readme)


if __name__ == "__main__":
    main()
