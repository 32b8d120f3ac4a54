"""Optional extras (``serve``, ``mteb``): their packages are imported only where they are used, and a missing one is
reported with the command that installs it."""

from __future__ import annotations

import importlib

EXTRA_MODULES = {
    "serve": ("ray", "ray.serve", "fastapi", "pydantic"),
    "mteb": ("mteb",),
}


def install_hint(extra: str) -> str:
    """How to install ``extra``: from a clone of the repository, or from a package index."""
    return f'pip install -e ".[{extra}]" (from a clone of the repository) or pip install "plume-st[{extra}]"'


class MissingExtraError(ImportError):
    """A feature's optional extra is not installed; the message names the extra and how to install it."""

    def __init__(self, extra: str, feature: str, missing: str) -> None:
        super().__init__(f"{feature} needs the {extra!r} extra ({missing} cannot be imported): {install_hint(extra)}")
        self.extra = extra


def require_extra(extra: str, feature: str) -> None:
    """Import the packages of ``extra``.

    Args:
        extra: The extra's name in ``pyproject.toml`` (a key of :data:`EXTRA_MODULES`).
        feature: What needs it, for the message (``"plume-st serve"``).

    Raises:
        MissingExtraError: One of the extra's packages cannot be imported.
    """
    for name in EXTRA_MODULES[extra]:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise MissingExtraError(extra, feature, name) from error
