"""The error a PLUME model raises for a bad input: which items, and what is wrong with them."""

from __future__ import annotations


class PlumeInputError(ValueError):
    """A bad input to ``encode`` / ``preprocess``, or a bad setting of the call (a ``prompt`` with a control token).

    A ``ValueError``, so code that catches ``ValueError`` keeps working. Callers that embed items of several users
    in one batch (a server) drop the items at ``positions`` and encode the rest again.

    Args:
        message: The full message (the item's name and the problem).
        problem: The problem alone, in the user's terms, without the item's name or description.
        positions: The item's position(s) in the list given to ``encode`` (one object passed several times has
            several), or ``None`` when the error is not one item's (a setting of the call) or the position is unknown.
    """

    def __init__(self, message: str, problem: str | None = None, positions: list[int] | None = None) -> None:
        super().__init__(message)
        self.problem = problem if problem is not None else message
        self.positions = list(positions) if positions is not None else None


class PlumeInputTypeError(PlumeInputError, TypeError):
    """A :class:`PlumeInputError` for an input of an unsupported type (also a ``TypeError``, as before)."""
