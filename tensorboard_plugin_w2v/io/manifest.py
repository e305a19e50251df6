"""A run's list of logged models: ``<run>/plugins/word2vec/manifest.json``.

The file is ``{"version": 1, "models": [{"name", "path", "step", "format", "wall_time"}]}``;
``path`` is relative to the run directory (``/`` separators) or absolute. Writers replace the
whole file atomically, so a reader sees the old list or the new one, never half of one.

``version`` is the format's major version (an int, or a ``"major.minor"`` string; a file
without one is version 1). A later minor version only adds fields, which readers ignore; a
newer major version may mean anything, so its entries are never read as if they were ours:
:func:`read_entries` raises :class:`ManifestTooNew`, and :func:`add_entry` refuses to append.

    >>> from tensorboard_plugin_w2v.io import manifest
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

NEWER_VERSION = "written by a newer version of tensorboard-plugin-w2v"


class ManifestError(ValueError):
    """The manifest exists but cannot be used; the message names the file and the problem."""


class ManifestTooNew(ManifestError):
    """The manifest's major format version is newer than this package reads."""

    def __init__(self, path: str, version, names: list[tuple[str, int | None]]):
        self.path = path
        self.version = version
        self.names = names  # (name, step) of the entries that carry them, for the listing
        super().__init__(f"{path}: {self.reason}")

    @property
    def reason(self) -> str:
        return (
            f"{NEWER_VERSION} (manifest format {self.version}; this version reads format "
            f"{md.MANIFEST_VERSION}); upgrade tensorboard-plugin-w2v to use it"
        )


def major_version(version) -> int:
    """The major number of a manifest's ``version`` field (missing: 1).

    >>> major_version(1), major_version("2.3"), major_version(None)
    (1, 2, 1)
    """
    if version is None:
        return 1
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(f"version is {version!r}, not a number")
    try:
        return int(str(version).split(".", 1)[0])
    except ValueError:
        raise ValueError(f"version is {version!r}, not a number") from None


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

    Raises ``OSError`` if the file cannot be read, :class:`ManifestTooNew` if a newer version
    of the package wrote it, ``ValueError`` if it is not JSON or ``models`` is not a list,
    ``KeyError``/``TypeError`` if there is no ``models`` key.
    """
    data = json.loads(fileio.read_text(path))
    version = data.get("version") if isinstance(data, dict) else None
    if major_version(version) > md.MANIFEST_VERSION:
        raise ManifestTooNew(path, version, _names(data.get("models")))
    entries = data["models"]
    if not isinstance(entries, list):
        raise ValueError('"models" is not a list')
    return entries


def _names(entries) -> list[tuple[str, int | None]]:
    """``(name, step)`` of the entries of a newer manifest that have a plain name."""
    if not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip():
            step = entry.get("step")
            out.append(
                (entry["name"], step if isinstance(step, int) and not isinstance(step, bool) else None)
            )
    return out


def check_writable(run_dir: str) -> None:
    """Raise :class:`ManifestTooNew` if the run's manifest was written by a newer version."""
    target = manifest_path(run_dir)
    if fileio.exists(target):
        _existing(target)


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
    except ManifestTooNew:
        raise
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
