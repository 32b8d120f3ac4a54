"""The ``--dtype`` of every command that loads a model: the choices, the ``auto`` rule and the ``model_kwargs``.

``serve``, ``embed-corpus``, ``eval`` and ``inspect`` turn ``--dtype`` and ``--attn-implementation`` into the
``model_kwargs`` of ``SentenceTransformer(...)`` with :func:`model_kwargs_for`; in Python the same is
``SentenceTransformer(folder, trust_remote_code=True, model_kwargs={"dtype": torch.bfloat16})`` or
``build_plume_model(backbone, model_kwargs={"dtype": torch.bfloat16})``.

``auto`` keeps the checkpoint's own dtype (what loading without ``model_kwargs`` does: float32 for models built by
plume-st, the saved dtype otherwise), except on a CPU without native bfloat16 arithmetic (neither the
``avx512_bf16`` nor the ``amx_bf16`` instructions), where it loads float32: there PyTorch emulates bfloat16 matrix
products through float32 and converts at every operation, so a bfloat16 model is slower than the same model in
float32 (``benchmarks/encode_modes.py --compare-dtypes`` measures both). ``auto`` never chooses bfloat16 for a
float32 checkpoint: that would change the embeddings (to cosine ~0.9999) without being asked.

torch is imported when a dtype is resolved, not with the module: the command lines import it to describe options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

DTYPES = ("auto", "float32", "bfloat16", "float16")
"""The values of ``--dtype``."""
DTYPE_HELP = (
    "auto | float32 | bfloat16 | float16. auto: the checkpoint's dtype, but float32 on a CPU without bfloat16 "
    "instructions (AVX512-BF16 / AMX); bfloat16 is faster only on a CPU with them, or on a GPU."
)
"""The help text of ``--dtype``."""
ATTN_HELP = "Attention implementation of the backbone: sdpa | eager | flash_attention_2 (default: transformers')."
"""The help text of ``--attn-implementation``."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (x86 AVX512-BF16 or AMX), as PyTorch's cpuinfo reports them."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def resolve_dtype(dtype: str, device: str | None = None) -> torch.dtype | None:
    """The torch dtype ``--dtype`` asks for, ``None`` for the checkpoint's own.

    Args:
        dtype: One of :data:`DTYPES`.
        device: Where the model will run (``None``: CUDA when this machine has it, else the CPU).

    Raises:
        ValueError: For a value outside :data:`DTYPES`.
    """
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype != "auto":
        return getattr(torch, dtype)
    on_cpu = torch.device(device).type == "cpu" if device else not torch.cuda.is_available()
    if on_cpu and not cpu_has_native_bf16():
        return torch.float32
    return None


def model_kwargs_for(
    dtype: str = "auto", attn_implementation: str | None = None, device: str | None = None
) -> dict[str, Any]:
    """The ``model_kwargs`` of ``SentenceTransformer(...)`` for ``--dtype`` and ``--attn-implementation``.

    Args:
        dtype: One of :data:`DTYPES` (see the module's docstring for ``auto``).
        attn_implementation: ``"sdpa"``, ``"eager"``, ``"flash_attention_2"``, ... (``None``: transformers'
            default).
        device: Where the model will run (``None``: CUDA when this machine has it, else the CPU).

    Returns:
        ``{"dtype": ...}`` unless the checkpoint's own dtype applies, plus ``attn_implementation`` when given.
    """
    kwargs: dict[str, Any] = {}
    torch_dtype = resolve_dtype(dtype, device)
    if torch_dtype is not None:
        kwargs["dtype"] = torch_dtype
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    return kwargs
