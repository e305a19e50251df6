"""Keeps the cache folder under ``--word2vec_cache_budget`` by evicting its least valuable entries.

The cache folder holds entries of five kinds, all rebuilt on demand when missing: private copies
(``copies/``), converted word2vec files (``converted/``), vocabulary tries (``vocab/``), search
indexes (``index/<key>.faiss`` + ``.json``) and copies of remote files (``remote/``). When
their total size exceeds the budget, entries go in order of least value, where

    value = seconds it took to build / (seconds since it was last used + 60)

so an index that took twenty minutes to build outlives a conversion that takes ten seconds,
unless it has not been used for a long time. The build time is what the entry recorded when it
was written (``build_seconds`` of an index, ``seconds`` of a conversion or copy), else an
estimate from its size. An entry in use is never evicted: one that a process on this machine has
memory-mapped or open (read from ``/proc``), or a temporary still being written. Entries seen in
use have their folder's (or index metadata's) modification time set to now, which is how their
last use is remembered.

    >>> enforce("/home/me/.cache/tensorboard_plugin_w2v", 20 << 30)     # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio, temporaries
from tensorboard_plugin_w2v.models import housekeeping

logger = logging.getLogger(__name__)

DEFAULT_BUDGET = "20G"
FOLDER_KINDS = ("copies", "converted", "vocab", "remote")
INDEX_KIND = "index"
ESTIMATED_BYTES_PER_SECOND = 200e6  # rebuild speed assumed for entries that recorded no time
AGE_OFFSET_SECONDS = 60.0
CHECK_INTERVAL_SECONDS = 10.0


@dataclass
class Entry:
    """One cache entry: the paths that make it up, its size on disk, its last use and cost."""

    kind: str
    paths: tuple[str, ...]
    bytes: int
    last_used: float
    build_seconds: float
    in_use: bool = False

    def value(self, now: float) -> float:
        return self.build_seconds / (max(0.0, now - self.last_used) + AGE_OFFSET_SECONDS)


def _disk_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _recorded_seconds(kind: str, folder: str) -> float | None:
    if kind == "vocab":
        found = _read_json(os.path.join(folder, "info.json")).get("build_seconds")
    else:
        found = _read_json(os.path.join(folder, fileio.SOURCE_NAME)).get("seconds")
    return float(found) if isinstance(found, (int, float)) and found >= 0 else None


def entries(cache_dir: str) -> list[Entry]:
    """Every complete entry of the cache folder (temporaries excluded)."""
    out = []
    for kind, name, path in housekeeping.kind_entries(cache_dir, (*FOLDER_KINDS, INDEX_KIND)):
        if name.startswith(temporaries.PREFIX):
            continue
        if kind == INDEX_KIND:
            if not name.endswith(housekeeping.INDEX_SUFFIX):
                continue
            meta = path[: -len(housekeeping.INDEX_SUFFIX)] + ".json"
            paths = tuple(p for p in (path, meta) if os.path.exists(p))
            seconds = _read_json(meta).get("build_seconds")
            seconds = float(seconds) if isinstance(seconds, (int, float)) else None
        elif os.path.isdir(path):
            paths, seconds = (path,), _recorded_seconds(kind, path)
        else:
            continue
        try:
            last = os.stat(paths[-1]).st_mtime  # the folder, or the index's metadata
        except OSError:
            continue
        size = sum(_disk_bytes(p) for p in paths)
        cost = seconds if seconds is not None else size / ESTIMATED_BYTES_PER_SECOND
        out.append(Entry(kind, paths, size, last, cost))
    return out


def paths_in_use(cache_dir: str) -> set[str]:
    """Files under ``cache_dir`` that a process on this machine has memory-mapped or open."""
    root = os.path.realpath(cache_dir).rstrip(os.sep) + os.sep
    found: set[str] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
                for line in f:
                    at = line.find(root)
                    if at >= 0:
                        found.add(line[at:].rstrip("\n").removesuffix(" (deleted)"))
        except OSError:
            pass
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(root):
                found.add(target)
    return found


def _mark_in_use(items: list[Entry], cache_dir: str, now: float) -> None:
    used = paths_in_use(cache_dir)
    real = os.path.realpath(cache_dir)
    for entry in items:
        mine = [os.path.join(real, os.path.relpath(p, cache_dir)) for p in entry.paths]
        if any(u == m or u.startswith(m + os.sep) for u in used for m in mine):
            entry.in_use = True
            entry.last_used = now
            marker = entry.paths[-1]  # the folder, or the index's metadata
            try:
                os.utime(marker, (now, now))
            except OSError:
                pass


def enforce(cache_dir: str, budget_bytes: int, now: float | None = None) -> list[str]:
    """Evict entries, least valuable first, until the cache folder's entries fit ``budget_bytes``.

    Returns the paths removed. Entries in use are never removed, even if the budget is exceeded.
    """
    now = time.time() if now is None else now
    items = entries(cache_dir)
    _mark_in_use(items, cache_dir, now)
    total = sum(e.bytes for e in items)
    removed: list[str] = []
    if total <= budget_bytes:
        return removed
    for entry in sorted((e for e in items if not e.in_use), key=lambda e: e.value(now)):
        if total <= budget_bytes:
            break
        for path in entry.paths:
            try:
                temporaries.remove_path(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("could not evict %s from the cache: %s", path, exc)
                continue
            removed.append(path)
        total -= entry.bytes
    if removed:
        logger.info(
            "evicted %d cache entries to stay within the cache budget (%.0f MB of %.0f MB used)",
            len(removed),
            total / 1e6,
            budget_bytes / 1e6,
        )
    return removed


def folder_bytes(cache_dir: str) -> int:
    """Size on disk of the whole cache folder (temporaries included)."""
    return _disk_bytes(cache_dir) if os.path.isdir(cache_dir) else 0


class Keeper(housekeeping.Sweeper):
    """Runs :func:`enforce` in the background (threads of ``group``), at most once per ``interval``
    seconds; ``request`` starts a check, usable as a load listener."""

    def __init__(
        self,
        cache_dir: str | None,
        budget_bytes: int,
        interval: float = CHECK_INTERVAL_SECONDS,
        group: lifecycle.ThreadGroup | None = None,
    ):
        super().__init__(cache_dir, interval=interval, group=group)
        self.budget_bytes = budget_bytes
        self.evictions = 0

    def check(self) -> list[str]:
        """Enforce the budget now, in this thread (after a background check, if one is running)."""
        thread = self._thread
        if thread is not None:
            thread.join()
        removed = enforce(self.cache_dir, self.budget_bytes) if self.cache_dir else []
        self.evictions += len(removed)
        return removed

    def _run(self) -> None:
        try:
            self.evictions += len(enforce(self.cache_dir, self.budget_bytes))
        except Exception:  # housekeeping never disturbs serving
            logger.warning("keeping the cache folder within its budget failed", exc_info=True)
