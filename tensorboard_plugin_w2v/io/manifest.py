"""A run's list of logged models: ``<run>/plugins/word2vec/manifest.json``.

The file is ``{"version": 1, "models": [{"name", "path", "step", "format", "wall_time"}]}``;
``path`` is relative to the run directory (``/`` separators) or absolute. Writers replace the
whole file atomically, so a reader sees the old list or the new one, never half of one.

    >>> from tensorboard_plugin_w2v import manifest
    >>> manifest.add_entry("logs/run1", name="w2v", path="plugins/word2vec/w2v/1/w2v.model",
    ...                    step=1, format="gensim-word2vec")          # doctest: +SKIP
    >>> [e["step"] for e in manifest.read_entries(manifest.manifest_path("logs/run1"))]  # doctest: +SKIP
    [1]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import fileio


class ManifestError(ValueError):
    """The manifest exists but cannot be used; the message names the file and the problem."""


def manifest_path(run_dir: str) -> str:
    """Where the manifest of ``run_dir`` lives."""
    return fileio.join(run_dir, *md.MANIFEST_PATH.split("/"))


def safe_name(name: str) -> str:
    """``name`` as a file name: letters, digits, ``_.-`` only, at most 60 characters.

    >>> safe_name("king / queen")
    'king_queen'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._")[:60] or "model"


def read_entries(path: str) -> list:
    """The ``models`` list of the manifest at ``path``, entries unchecked.

    Raises ``OSError`` if the file cannot be read, ``ValueError`` if it is not JSON or
    ``models`` is not a list, ``KeyError``/``TypeError`` if there is no ``models`` key.
    """
    entries = json.loads(fileio.read_text(path))["models"]
    if not isinstance(entries, list):
        raise ValueError('"models" is not a list')
    return entries


def add_entry(
    run_dir: str,
    *,
    name: str,
    path: str,
    step: int | None = None,
    format: str | None = None,
    wall_time: float | None = None,
    under_lock=None,
) -> tuple[dict, list[dict]]:
    """Add one model version to the run's manifest, replacing an entry of the same name and step.

    Returns the new entry and the entries it replaced (so the caller can delete their files).
    Concurrent writers on one machine are serialised with a lock file; ``under_lock(entries)``,
    if given, runs while the lock is held, before the manifest is replaced.
    """
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        raise TypeError(f"step must be an int or None, got {step!r}")
    entry = {
        "name": name,
        "path": path,
        "step": step,
        "format": format,
        "wall_time": time.time() if wall_time is None else float(wall_time),
    }
    target = manifest_path(run_dir)
    with locked(target + ".lock"):
        entries = _existing(target)
        if under_lock is not None:
            under_lock(entries)
        replaced = [
            e for e in entries if isinstance(e, dict) and e.get("name") == name and e.get("step") == step
        ]
        kept = [e for e in entries if not any(e is r for r in replaced)]
        kept.append(entry)
        data = {"version": md.MANIFEST_VERSION, "models": kept}
        fileio.write_atomic(target, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return entry, replaced


def _existing(target: str) -> list:
    if not fileio.exists(target):
        return []
    try:
        return read_entries(target)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ManifestError(
            f"{target}: the manifest is unreadable ({exc}); fix or delete it before logging more models"
        ) from None


@contextlib.contextmanager
def locked(lock_path: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock_path`` (local files only; object stores have none)."""
    if fileio.is_remote(lock_path):
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(lock_path)), exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; writes stay atomic, last writer wins
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
