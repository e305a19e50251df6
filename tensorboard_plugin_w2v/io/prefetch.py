"""Bring a memory-mapped file's pages into this process before queries touch them.

A saved index is memory-mapped when a restarted server reuses it (:mod:`~tensorboard_plugin_w2v.search.index`),
and so are a model's matrix and its vocabulary cache when they come from that cache
(:mod:`~tensorboard_plugin_w2v.models.readers`). Each page a search touches for the first time
costs a page fault: a disk read on a cold page cache, and a few microseconds even on a warm one;
the first queries after a restart touch thousands. A background thread therefore populates the
whole mapping at once, in chunks: Linux's ``madvise(MADV_POPULATE_READ)`` (5.14+) maps every
page (reading it from disk first when it must). Where that is refused, the file is read
sequentially, which at least fills the page cache.

Then one byte of every page is read (:func:`touch`). On this project's 2-core test machine, a
Firecracker VM, memory the guest frees is handed back to the host (free page reporting), and the
guest kernel's DAMON pages out file pages no process has touched for about a minute (a 0.94 GB
index read with ``cat`` and left unmapped fell from 895 MB resident to 3 MB in two minutes;
mapped by a running server it stayed). A restart after such a pause reads the files from disk,
and the first access to each page the disk filled costs another 2-8 µs while the host maps it in
again: populating a 0.94 GB index from disk took 0.52 s, touching its pages afterwards 1.39 s.
Touching them here moves that wait off the queries (one byte a page costs 0.03 s per GB where
memory is warm; reading the whole file through, 0.12 s per GB of memory traffic, slowed the
first queries beside it). Only the pieces that were not in the page cache before populating are
touched (``mincore``): the pages the cache already held are memory the guest has been using, so
touching them again is work without a wait to move. Measured at 3M × 300, restarts from a
cold page cache improved with this (first 50 queries +0.41 to +0.94 ms over TensorBoard's floor,
against +1.02 to +1.41); restarts from a warm one did not measurably.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Iterator

import numpy as np

from tensorboard_plugin_w2v.io import pages

logger = logging.getLogger(__name__)

CHUNK = 32 << 20  # bytes per call: a closing server waits for at most one chunk


def mapped_ranges(path: str, maps: str = "/proc/self/maps") -> list[tuple[int, int]]:
    """``(start, end)`` addresses of this process's mappings of ``path``."""
    real = os.path.realpath(path)
    out = []
    try:
        with open(maps, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(None, 5)
                if len(parts) == 6 and parts[5] in (real, path):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    out.append((start, end))
    except OSError:
        return []
    return out


def _populate(ranges: list[tuple[int, int]], stop: threading.Event | None) -> bool:
    """Populate the pages of ``ranges`` (``madvise`` releases the GIL); False if stopped.

    A range unmapped meanwhile (an older index closed) is skipped.
    """
    for start, end in ranges:
        for at in range(start, end, CHUNK):
            if stop is not None and stop.is_set():
                return False
            code = pages.populate_range(at, min(CHUNK, end - at))
            if code in (errno.ENOMEM, errno.EFAULT):  # no longer mapped
                break
            if code:
                raise OSError(code, os.strerror(code))
    return True


@contextlib.contextmanager
def _own_mapping(path: str) -> Iterator[np.ndarray | None]:
    """``path`` mapped read-only as bytes by a mapping of this function's own (nothing is read
    yet), unmapped afterwards; ``None`` for an empty file (which cannot be mapped)."""
    if os.path.getsize(path) == 0:
        yield None
        return
    data = np.memmap(path, dtype=np.uint8, mode="r")
    try:
        yield data
    finally:
        del data


def touch(path: str, stop: threading.Event | None = None) -> bool:
    """Read one byte of every page of ``path`` through a mapping of its own (numpy's reduction
    releases the GIL), which also brings the file into the page cache; False if stopped."""
    with _own_mapping(path) as data:
        return data is None or _touch_chunks(data, range(0, len(data), CHUNK), stop)


def _touch_chunks(data: np.ndarray, offsets, stop: threading.Event | None) -> bool:
    """Read one byte of every page of the :data:`CHUNK`-long pieces of ``data`` (a file
    mapping) that begin at ``offsets``; False if stopped."""
    for at in offsets:
        if stop is not None and stop.is_set():
            return False
        np.bitwise_or.reduce(data[at : at + CHUNK : pages.PAGE])
    return True


def _cold_chunks(data: np.ndarray) -> list[int]:
    """Offsets of the :data:`CHUNK`-long pieces of ``data`` (a file mapping) with a page that is
    not in the page cache (all of them where the kernel does not say)."""
    address = data.ctypes.data
    return [at for at in range(0, len(data), CHUNK) if not pages.resident(address + at, min(CHUNK, len(data) - at))]


def _bring_in(path: str, ranges: list[tuple[int, int]], stop: threading.Event | None) -> bool:
    """Populate this process's ``ranges`` of ``path``, then touch the pieces that were not in
    the page cache before (see above); False if stopped."""
    with _own_mapping(path) as data:
        cold = [] if data is None else _cold_chunks(data)
        return _populate(ranges, stop) and (data is None or _touch_chunks(data, cold, stop))


def _read_through(path: str, stop: threading.Event | None) -> int:
    """Read ``path`` sequentially (fills the page cache); bytes read."""
    done = 0
    with open(path, "rb", buffering=0) as f:
        try:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        except (AttributeError, OSError):
            pass
        buf = bytearray(4 << 20)
        while not (stop is not None and stop.is_set()):
            got = f.readinto(buf)
            if not got:
                break
            done += got
    return done


def prefetch(path: str, stop: threading.Event | None = None) -> str:
    """Bring ``path``'s pages into memory: ``"mapped"`` when this process's mappings of it
    were populated and the pages read from disk touched (see above), ``"read"`` when the file
    was read through instead, ``"stopped"`` if ``stop`` was set first, ``"failed"`` when neither worked."""
    try:
        ranges = mapped_ranges(path)
        if ranges:
            try:
                return "mapped" if _bring_in(path, ranges, stop) else "stopped"
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
                    raise
        done = _read_through(path, stop)
        return "read" if done >= os.path.getsize(path) else "stopped"
    except (OSError, ValueError) as exc:  # ValueError: numpy's, for a file emptied meanwhile
        logger.info("could not prefetch %s: %s", path, exc)
        return "failed"


def resident_fraction(path: str, smaps: str = "/proc/self/smaps") -> float:
    """The fraction of this process's mappings of ``path`` that is resident (0 if unmapped)."""
    real = os.path.realpath(path)
    size = rss = 0
    inside = False
    try:
        with open(smaps, encoding="utf-8", errors="replace") as f:
            for line in f:
                head = line.split(None, 5)
                if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
                    inside = len(head) == 6 and head[5].rstrip("\n") in (real, path)
                elif inside and head[0] == "Size:":
                    size += int(head[1]) * 1024
                elif inside and head[0] == "Rss:":
                    rss += int(head[1]) * 1024
    except OSError:
        return 0.0
    return rss / size if size else 0.0


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """The kernel's estimate of the memory available without swapping (``MemAvailable``), in
    bytes; ``None`` where it is not known."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def warm(paths: list[str], stop: threading.Event | None = None, available: int | None = None) -> dict[str, str]:
    """:func:`prefetch` each of ``paths``, the smallest first (a model's norms, vocabulary
    arrays and ids, which every query reads, before its matrix, of which a query reads a few
    rows), if together they take at most half the
    memory ``available`` (:func:`available_memory` by default; where that is unknown, or they
    do not fit, nothing is read: a model mapped because it is larger than memory must not push
    everything else out). How each was brought in (``"skipped"`` for all when they did not fit)."""
    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.path.getsize(path)
        except OSError:
            continue
    available = available_memory() if available is None else available
    if available is None or 2 * sum(sizes.values()) > available:
        return dict.fromkeys(sizes, "skipped")
    done = {}
    for path in sorted(sizes, key=sizes.__getitem__):
        if stop is not None and stop.is_set():
            break
        done[path] = prefetch(path, stop)
    return done
