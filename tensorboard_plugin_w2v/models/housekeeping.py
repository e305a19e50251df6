"""The cache folder drops what belongs to file versions that no longer exist.

Every entry the plugin writes into ``--word2vec_cache_dir`` (private copies, converted word2vec
files, vocabularies, search indexes) belongs to one version of one model file, and records it
(:func:`~tensorboard_plugin_w2v.io.fileio.source_record`). A training job that saves a large
model every epoch would otherwise leave a copy, an index and a vocabulary per epoch behind. :func:`sweep` removes the entries
whose local source file is gone or has changed since (a version never comes back), and
temporaries of writes whose process is gone (see :mod:`temporaries`). Entries of remote files, and entries without a
record, are kept. Files still memory-mapped by this process stay readable after removal: on
POSIX an unlinked file lives until it is unmapped.

    >>> sweep("/tmp/cache")          # doctest: +SKIP
    ['/tmp/cache/copies/3f0c…']
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio, temporaries

logger = logging.getLogger(__name__)

FOLDER_KINDS = ("copies", "converted", "vocab")  # one folder per entry
REMOTE_KIND = "remote"  # copies of remote files: kept (their source cannot be checked), temporaries swept
INDEX_KIND = "index"  # ``<key>.faiss`` with ``<key>.json`` (its metadata holds the record)
INDEX_SUFFIX = ".faiss"
RETIRED_INDEX_SUFFIXES = (".usearch",)  # indexes of earlier versions (HNSW graphs): swept
TEMPORARY_AGE_SECONDS = temporaries.UNLOCKED_AGE_SECONDS  # an unlocked temporary this old is dead
SWEEP_INTERVAL_SECONDS = 600.0
# A temporary whose writer was alive (or just created) at a sweep is looked at again after these
# waits, doubling up to the sweep interval: a process killed a moment before a restart releases
# its locks a moment later, and its leftovers should not wait ten minutes.
RECHECK_FIRST_SECONDS = 2.0


def is_gone(record: dict | None) -> bool:
    """Whether the recorded version of a local file no longer exists (changed or removed)."""
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        return False  # no record: keep the entry
    path = record["path"]
    if fileio.is_remote(path):
        return False
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # unreadable for now (permissions, a network file system): keep
    return (st.st_size, st.st_mtime_ns) != (record.get("size"), record.get("mtime_ns"))


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _folder_record(folder: str) -> dict | None:
    found = _read_json(os.path.join(folder, fileio.SOURCE_NAME))
    if found is None:  # the vocabulary cache keeps its record in its info file
        info = _read_json(os.path.join(folder, "info.json"))
        found = info.get("source") if isinstance(info, dict) else None
    return found


def kind_entries(cache_dir: str, kinds) -> Iterator[tuple[str, str, str]]:
    """``(kind, name, path)`` of everything in the cache folder's ``kinds`` folders, sorted."""
    for kind in kinds:
        parent = os.path.join(cache_dir, kind)
        try:
            names = sorted(os.listdir(parent))
        except OSError:
            continue
        for name in names:
            yield kind, name, os.path.join(parent, name)


def stale_entries(cache_dir: str, now: float | None = None) -> list[str]:
    """Paths in ``cache_dir`` that :func:`sweep` would remove."""
    now = time.time() if now is None else now
    out = []
    for kind, name, path in kind_entries(cache_dir, (*FOLDER_KINDS, INDEX_KIND, REMOTE_KIND)):
        if name.startswith(temporaries.PREFIX):
            # a write whose process is gone (killed mid-way), or that never finished
            if temporaries.abandoned(path, now):
                out.append(path)
        elif kind == INDEX_KIND:
            stem, ext = os.path.splitext(path)
            if ext in RETIRED_INDEX_SUFFIXES:
                out.extend(p for p in (path, stem + ".json") if os.path.exists(p))
            elif ext == ".json":
                meta = _read_json(path)
                if isinstance(meta, dict) and is_gone(meta.get("source")):
                    out.extend(p for p in (stem + INDEX_SUFFIX, path) if os.path.exists(p))
        elif os.path.isdir(path) and is_gone(_folder_record(path)):
            out.append(path)
    return list(dict.fromkeys(out))


def pending_temporaries(cache_dir: str, now: float | None = None) -> list[str]:
    """Temporaries of ``cache_dir`` whose writer may still be alive (locked, or only just made)."""
    now = time.time() if now is None else now
    return [
        path
        for _kind, name, path in kind_entries(cache_dir, (*FOLDER_KINDS, INDEX_KIND, REMOTE_KIND))
        if name.startswith(temporaries.PREFIX) and not temporaries.abandoned(path, now)
    ]


def sweep(cache_dir: str, stop: threading.Event | None = None) -> list[str]:
    """Remove the stale entries of ``cache_dir``; the paths removed. Stops early once ``stop`` is set."""
    removed = []
    for path in stale_entries(cache_dir):
        if stop is not None and stop.is_set():
            break
        try:
            temporaries.remove_path(path)
        except FileNotFoundError:
            continue  # another process swept it first
        except OSError as exc:
            logger.warning("could not remove %s from the cache: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        logger.info("removed %d cache entries of model versions that no longer exist", len(removed))
    return removed


class Sweeper:
    """Runs :func:`sweep` in the background, at most once per ``interval`` seconds."""

    def __init__(
        self,
        cache_dir: str | None,
        interval: float = SWEEP_INTERVAL_SECONDS,
        group: lifecycle.ThreadGroup | None = None,
    ):
        self.cache_dir = cache_dir
        self.interval = interval
        self._last = -float("inf")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._group = group or lifecycle.LIBRARY

    def request(self, *_args) -> threading.Thread | None:
        """Start a sweep unless one ran recently or is running (usable as a load listener)."""
        if not self.cache_dir:
            return None
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval or (self._thread is not None and self._thread.is_alive()):
                return None
            self._last = now
            self._thread = self._group.spawn(self._run, name="w2v-cache-sweep")
            return self._thread

    def _run(self) -> None:
        wait = RECHECK_FIRST_SECONDS
        try:
            while True:
                sweep(self.cache_dir, stop=self._group.stopping)
                if not pending_temporaries(self.cache_dir) or self._group.stopping.wait(wait):
                    return
                wait = min(2 * wait, self.interval)  # until their writers end, or are known dead
        except Exception:  # housekeeping never disturbs serving
            logger.warning("sweeping the cache folder failed", exc_info=True)
