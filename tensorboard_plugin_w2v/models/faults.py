"""What went wrong, in the terms that decide what to do: whose fault, and whether to try again.

A failure while a model is served is one of:

- **the model file's**: truncated, corrupt, a format it does not hold. The file is reported
  (HTTP 422) and not tried again until it changes.
- **the cache folder's**: it is full (``ENOSPC``, a quota) or cannot be written. The file is fine:
  the model is served from the file itself (slower), ``/models`` says why under ``degraded``, and
  the cache write is tried again later (:data:`RETRY_SECONDS`), so work resumes once there is room.
- **the storage's**: a remote store that is down, slow or answering errors, a file that changed
  while it was read. Reported as HTTP 503; nothing is remembered, the next request tries again.

This module tells them apart (:func:`is_disk_full`, :func:`is_cache_write_failure`) and keeps
the notes of what the cache could not hold (:func:`note`, :func:`notes_for`), keyed by model
version and bounded in number.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from tensorboard_plugin_w2v.io.oserrors import is_disk_full, unwritable

__all__ = ["is_disk_full", "is_cache_write_failure", "note", "clear", "notes_for", "retry_due"]

RETRY_SECONDS = 60.0  # a cache write that failed for lack of room is tried again after this long
MAX_NOTES = 512

KIND_CONVERSION = "conversion"
KIND_COPY = "private copy"
KIND_VOCABULARY = "vocabulary"
KIND_INDEX = "index"


def is_cache_write_failure(exc: BaseException) -> bool:
    """A failure to write into the cache folder (full, read-only, not permitted)."""
    return is_disk_full(exc) or unwritable(exc) is not None


def describe(exc: BaseException) -> str:
    """A short reason in plain words."""
    if is_disk_full(exc):
        return "the cache folder is full"
    refused = unwritable(exc)
    if refused is not None:
        return f"the cache folder cannot be written ({refused.strerror})"
    return f"{type(exc).__name__}: {exc}"


_notes: OrderedDict[tuple, dict[str, tuple[str, float]]] = OrderedDict()
_lock = threading.Lock()


def _key(identity) -> tuple:
    return (identity.path, identity.size, identity.mtime_ns, getattr(identity, "version", ""))


def note(identity, kind: str, exc: BaseException) -> str:
    """Record that ``kind`` of cache entry could not be written for this model version; the text."""
    text = f"{kind} not written: {describe(exc)}"
    if identity is None:
        return text
    with _lock:
        entry = _notes.setdefault(_key(identity), {})
        entry[kind] = (text, time.monotonic())
        _notes.move_to_end(_key(identity))
        while len(_notes) > MAX_NOTES:
            _notes.popitem(last=False)
    return text


def clear(identity, kind: str) -> None:
    """``kind`` was written after all: forget its note."""
    if identity is None:
        return
    with _lock:
        entry = _notes.get(_key(identity))
        if entry is not None:
            entry.pop(kind, None)
            if not entry:
                del _notes[_key(identity)]


def notes_for(identity) -> list[str]:
    """What the cache could not hold for this model version (empty when nothing failed)."""
    if identity is None:
        return []
    with _lock:
        entry = _notes.get(_key(identity), {})
        return [text for text, _ in entry.values()]


def retry_due(identity, now: float | None = None) -> bool:
    """Whether a failed cache write of this version is old enough to be tried again."""
    if identity is None:
        return False
    now = time.monotonic() if now is None else now
    with _lock:
        entry = _notes.get(_key(identity))
        return bool(entry) and min(at for _, at in entry.values()) + RETRY_SECONDS <= now


def count() -> int:
    """How many model versions have notes (bounded by ``MAX_NOTES``)."""
    with _lock:
        return len(_notes)
