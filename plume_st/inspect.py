"""Trajectory inspection: what the latent steps of a PLUME model do, input by input and step by step.

For a batch of inputs and every latent step k = 1..K this records the router probabilities of the transition adapter
and the experts it chose (top-k), the norm of the latent input z~(k) fed back to the backbone, and, for k = 0..K, the
cosine between the embedding read after k steps and the one read after K (k = 0: the suffix right after ``<bot>``)::

    from plume_st.inspect import trajectory, format_table, plot_trajectory

    result = trajectory(model, ["a red ball", "photo.jpg", {"image": "photo.jpg", "text": "what colour?"}])
    print(format_table(result))
    plot_trajectory(result, "trajectory.png")

Everything is read from ``model.encode``: one batch per k with ``latent_steps=k`` for the embeddings, and the K-step
batch with ``output_value=None`` for the ``router_probs`` (B, K, M) and ``latent_inputs`` (B, K, D) that
``LatentRollout`` writes into the features. ``plume-st inspect MODEL INPUT... --out DIR`` prints the table and writes
``DIR/trajectory.png`` and ``DIR/trajectory.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from torch.nn import functional as F
from tqdm.auto import tqdm

from plume_st.modules.media import IMAGE_EXTENSIONS, URL_PREFIXES, VIDEO_EXTENSIONS, describe

TABLE_HEADERS = ("input", "step", "experts", "router probs", "|z~(k)|", "cos to e_K")


@dataclass
class Trajectory:
    """The latent trajectory of a batch of N inputs over K latent steps, with M routed experts.

    Args:
        labels: A name for every input (N).
        router_probs: Router probabilities of every step, (N, K, M); M = 0 without a transition adapter.
        chosen_experts: The top-k experts of every step, most probable first, (N, K, top_k).
        latent_norms: L2 norm of the latent input z~(k) fed back to the backbone at step k, (N, K).
        embeddings: The L2-normalised embedding read after k = 0..K latent steps, (K + 1, N, D).
    """

    labels: list[str]
    router_probs: torch.Tensor
    chosen_experts: torch.Tensor
    latent_norms: torch.Tensor
    embeddings: torch.Tensor

    @property
    def latent_steps(self) -> int:
        """The number of latent steps K."""
        return self.router_probs.shape[1]

    @property
    def cosine_to_final(self) -> torch.Tensor:
        """Cosine between the embedding after k steps and after K steps, (N, K + 1) for k = 0..K."""
        return torch.einsum("knd,nd->nk", self.embeddings, self.embeddings[-1])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: per input, its cosines to the final embedding and one record per latent step."""
        cosines = self.cosine_to_final.tolist()
        return {
            "latent_steps": self.latent_steps,
            "num_experts": self.router_probs.shape[2],
            "top_k": self.chosen_experts.shape[2],
            "inputs": [
                {
                    "label": label,
                    "cosine_to_final": cosines[row],
                    "steps": [
                        {
                            "step": step + 1,
                            "router_probs": self.router_probs[row, step].tolist(),
                            "chosen_experts": self.chosen_experts[row, step].tolist(),
                            "latent_norm": self.latent_norms[row, step].item(),
                        }
                        for step in range(self.latent_steps)
                    ],
                }
                for row, label in enumerate(self.labels)
            ],
        }


def find_latent_rollout(model: SentenceTransformer) -> torch.nn.Module:
    """The model's ``LatentRollout`` module.

    Matched by class name along the MRO: a folder loaded with ``trust_remote_code=True`` builds the class from the
    source copied into that folder, which is not ``plume_st.modules.LatentRollout`` itself.

    Raises:
        ValueError: If the model has none.
    """
    for module in model:
        if any(cls.__name__ == "LatentRollout" for cls in type(module).__mro__):
            return module
    names = ", ".join(type(module).__name__ for module in model)
    raise ValueError(
        f"the model has no LatentRollout module (its modules: {names}); trajectories need a PLUME model "
        "(plume_st.build_plume_model or a saved PLUME folder)"
    )


def _check_latent_steps(latent_steps: Any) -> int:
    if isinstance(latent_steps, bool) or not isinstance(latent_steps, int) or latent_steps < 1:
        raise ValueError(
            f"latent_steps must be a positive integer to inspect a trajectory (K = 0 runs no latent step), "
            f"got {latent_steps!r}"
        )
    return latent_steps


def input_label(item: Any, limit: int = 40) -> str:
    """A short name for an input: a string as it is (cut to ``limit`` characters), anything else described."""
    if not isinstance(item, str):
        return describe(item, limit=limit)
    return item if len(item) <= limit else item[: limit - 3] + "..."


def trajectory(
    model: SentenceTransformer,
    inputs: list[Any],
    latent_steps: int | None = None,
    labels: list[str] | None = None,
    batch_size: int | None = None,
    show_progress_bar: bool = True,
) -> Trajectory:
    """Run ``inputs`` through K latent steps and record what every step does.

    Args:
        model: A PLUME model (it has a ``LatentRollout`` module); it is encoded in ``reasoning="latent"`` mode.
        inputs: Anything ``model.encode`` accepts: texts, images, paths, URLs, dicts, videos, chat messages.
        latent_steps: K (default: the model's own).
        labels: A name per input (default: a short description of each input).
        batch_size: Inputs per encode batch (default: all of them in one batch).
        show_progress_bar: Show a progress bar over the K + 1 encode passes.

    Returns:
        The :class:`Trajectory` of the batch.

    Raises:
        ValueError: For a model without a ``LatentRollout``, K < 1, no inputs, labels of the wrong length, or an
            input ``encode`` refuses (the error names the input).
    """
    rollout = find_latent_rollout(model)
    latent_steps = _check_latent_steps(rollout.latent_steps if latent_steps is None else latent_steps)
    if not isinstance(inputs, list) or not inputs:
        raise ValueError(f"inputs must be a non-empty list, got {describe(inputs)}")
    labels = [input_label(item) for item in inputs] if labels is None else list(labels)
    if len(labels) != len(inputs):
        raise ValueError(f"got {len(labels)} labels for {len(inputs)} inputs")
    kwargs = {"reasoning": "latent", "batch_size": batch_size or len(inputs), "show_progress_bar": False}
    with tqdm(total=latent_steps + 1, desc="Latent steps", disable=not show_progress_bar) as progress:
        final = model.encode(inputs, latent_steps=latent_steps, output_value=None, **kwargs)
        progress.update()
        embeddings = []
        for step in range(latent_steps):
            embeddings.append(model.encode(inputs, latent_steps=step, convert_to_tensor=True, **kwargs).cpu())
            progress.update()
    features = {
        key: torch.stack([item[key] for item in final]).cpu().float()
        for key in ("router_probs", "latent_inputs", "sentence_embedding")
    }
    embeddings.append(features["sentence_embedding"])
    router_probs = features["router_probs"]
    top_k = rollout.adapter.top_k if rollout.adapter is not None else 0
    return Trajectory(
        labels=labels,
        router_probs=router_probs,
        chosen_experts=router_probs.topk(top_k, dim=-1).indices,
        latent_norms=features["latent_inputs"].norm(dim=-1),
        embeddings=F.normalize(torch.stack(embeddings).float(), dim=-1),
    )


def table_rows(result: Trajectory) -> list[list[str]]:
    """One row per input and latent step k = 1..K, the cells of :data:`TABLE_HEADERS` as text."""
    cosines = result.cosine_to_final
    rows = []
    for row, label in enumerate(result.labels):
        for step in range(result.latent_steps):
            experts = ",".join(str(expert) for expert in result.chosen_experts[row, step].tolist()) or "-"
            probs = " ".join(f"{prob:.2f}" for prob in result.router_probs[row, step].tolist()) or "-"
            cells = [label if step == 0 else "", str(step + 1), experts, probs]
            rows.append(cells + [f"{result.latent_norms[row, step]:.2f}", f"{cosines[row, step + 1]:.4f}"])
    return rows


def table_caption(result: Trajectory) -> str:
    """The k = 0 cosines (the embedding read right after ``<bot>``, before any latent step), one per input."""
    cosines = ", ".join(f"{label}: {cos:.4f}" for label, cos in zip(result.labels, result.cosine_to_final[:, 0]))
    return f"cos(e_0, e_K), no latent step: {cosines}"


def format_table(result: Trajectory) -> str:
    """A plain fixed-width table: one row per input and latent step, then the k = 0 cosines."""
    rows = [list(TABLE_HEADERS)] + table_rows(result)
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines + [table_caption(result)])


def print_table(result: Trajectory) -> None:
    """Print the table with rich (a dependency of the command line's typer)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"latent trajectory, K = {result.latent_steps}", caption=table_caption(result))
    table.add_column(TABLE_HEADERS[0], overflow="fold", max_width=30)
    for header in TABLE_HEADERS[1:]:
        table.add_column(header, no_wrap=True)
    for index, row in enumerate(table_rows(result), start=1):
        table.add_row(*row, end_section=index % result.latent_steps == 0)
    Console().print(table)


def plot_trajectory(result: Trajectory, path: str | os.PathLike) -> Path:
    """Plot router probabilities, latent norms and cosines to the final embedding per step; save as an image.

    Left: a heat map of the router probabilities (one row per input and expert, one column per step; the chosen
    experts are ringed). Middle: |z~(k)| per step. Right: cos(e_k, e_K) for k = 0..K. One line per input.

    Returns:
        The path written.
    """
    num_inputs, num_steps, num_experts = result.router_probs.shape
    steps = range(1, num_steps + 1)
    height = max(4.5, 0.22 * num_inputs * num_experts + 1.5)  # room for one heat-map row per input and expert
    from matplotlib.figure import Figure  # drawn without pyplot, so without a GUI backend

    figure = Figure(figsize=(16, height), layout="constrained")
    router_axes, norm_axes, cosine_axes = figure.subplots(1, 3, width_ratios=[1.4, 1, 1])
    _plot_router(router_axes, result)
    norms, cosines = result.latent_norms.numpy(), result.cosine_to_final.numpy()
    for row, label in enumerate(result.labels):
        norm_axes.plot(steps, norms[row], marker="o", label=label)
        cosine_axes.plot(range(num_steps + 1), cosines[row], marker="o", label=label)
    norm_axes.set(title="norm of the latent input |z~(k)|", xlabel="latent step k", ylabel="L2 norm")
    cosine_axes.set(title="cosine to the K-step embedding", xlabel="latent steps k", ylabel="cos(e_k, e_K)")
    for axes in (norm_axes, cosine_axes):
        axes.grid(alpha=0.3)
    cosine_axes.legend(fontsize="small", loc="lower right")
    figure.savefig(path, dpi=120)
    return Path(path)


def _plot_router(axes: Any, result: Trajectory) -> None:
    num_inputs, num_steps, num_experts = result.router_probs.shape
    if num_experts == 0:
        axes.text(0.5, 0.5, "no transition adapter\n(transition='identity')", ha="center", va="center")
        axes.set_axis_off()
        return
    heat = result.router_probs.permute(0, 2, 1).reshape(num_inputs * num_experts, num_steps).numpy()
    image = axes.imshow(
        heat,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=1,
        extent=(0.5, num_steps + 0.5, num_inputs * num_experts - 0.5, -0.5),
    )
    chosen = result.chosen_experts
    rows = torch.arange(num_inputs)[:, None, None].expand_as(chosen)
    steps = torch.arange(1, num_steps + 1)[None, :, None].expand_as(chosen)
    axes.scatter(
        steps.flatten().numpy(),
        (rows * num_experts + chosen).flatten().numpy(),
        s=40,
        facecolors="none",
        edgecolors="white",
        linewidths=1.2,
    )
    for boundary in range(1, num_inputs):
        axes.axhline(boundary * num_experts - 0.5, color="white", linewidth=2)
    axes.set_yticks(
        range(num_inputs * num_experts),
        [
            f"{label[:24]} · e{expert}" if expert == 0 else f"e{expert}"
            for label in result.labels
            for expert in range(num_experts)
        ],
        fontsize="small",
    )
    axes.set(
        title="router probabilities (ringed: chosen experts)", xlabel="latent step k", xticks=range(1, num_steps + 1)
    )
    axes.figure.colorbar(image, ax=axes, shrink=0.8)


def save_trajectory(result: Trajectory, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``trajectory.json`` and ``trajectory.png`` into ``out_dir`` (created if needed); returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "trajectory.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf8")
    return json_path, plot_trajectory(result, out_dir / "trajectory.png")


def parse_input_argument(argument: str) -> str | dict[str, Any]:
    """One command-line input: a JSON object (``{"image": "a.png", "text": "..."}``) or a string ``encode`` parses.

    A string is passed on as it is (a text, or an image / video path or URL, as ``encode`` reads it), except that a
    name ending in an image or video extension must be a URL or an existing file, rather than silently become text.

    Raises:
        ValueError: For malformed JSON, JSON that is not an object, or a media file that does not exist.
    """
    if argument.lstrip().startswith("{"):
        try:
            parsed = json.loads(argument)
        except json.JSONDecodeError as error:
            raise ValueError(f"input {argument!r} starts with '{{' but is not valid JSON: {error}") from error
        if not isinstance(parsed, dict):
            raise ValueError(f'input {argument!r} must be a JSON object such as {{"image": ..., "text": ...}}')
        return parsed
    is_media_name = argument.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
    if is_media_name and not argument.startswith(URL_PREFIXES) and not os.path.isfile(argument):
        raise ValueError(f"input {argument!r} names a media file that does not exist")
    return argument


def inspect_model(
    model_name_or_path: str,
    arguments: list[str],
    out_dir: str | os.PathLike,
    latent_steps: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> Trajectory:
    """``plume-st inspect``: load the model, compute the trajectory of the inputs, print the table, save the files.

    Args:
        model_name_or_path: A saved PLUME folder or Hub id (loaded with ``trust_remote_code=True``).
        arguments: The command-line inputs (see :func:`parse_input_argument`); they label the rows.
        out_dir: Folder for ``trajectory.png`` and ``trajectory.json``.
        latent_steps: K (default: the model's own).
        model_kwargs: Passed to ``from_pretrained`` of the backbone (``dtype``, ``attn_implementation``; see
            :func:`plume_st.precision.model_kwargs_for`).

    Returns:
        The trajectory.
    """
    inputs = [parse_input_argument(argument) for argument in arguments]
    if latent_steps is not None:
        _check_latent_steps(latent_steps)
    try:
        model = SentenceTransformer(model_name_or_path, trust_remote_code=True, model_kwargs=model_kwargs)
    except OSError as error:
        raise ValueError(f"cannot load the model {model_name_or_path!r}: {error}") from error
    print(f"{model_name_or_path}: {str(model.dtype).removeprefix('torch.')} on {model.device}")
    result = trajectory(model, inputs, latent_steps=latent_steps, labels=[input_label(a) for a in arguments])
    print_table(result)
    for path in save_trajectory(result, out_dir):
        print(f"wrote {path}")
    return result
