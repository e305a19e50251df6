"""How far a long computation has got, and its stop switch."""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """An evaluation stopped because :meth:`Progress.cancel` was called."""


class Progress:
    """How far a running evaluation has got (questions answered of ``total``), and its stop switch."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self, done: int) -> None:
        """Record ``done`` questions answered; raise :class:`Cancelled` if asked to stop."""
        self.done = done
        if self._cancelled.is_set():
            raise Cancelled()

    def to_json(self) -> dict:
        fraction = self.done / self.total if self.total else None
        return {"done": self.done, "total": self.total, "fraction": fraction}
