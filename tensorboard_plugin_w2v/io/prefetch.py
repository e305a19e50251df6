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

On a cold page cache the first queries run while the prefetch reads, and each fault of a
mapped page reads 8 MB around it on this disk: a query re-scoring 64 random rows of a cold
matrix asked for up to 512 MB, queued behind the prefetch's reads, and 13-17 of the first 50
queries after a restart took 20-440 ms each. So the prefetch first notes which pieces of each
file are not in the page cache, and records how far it has brought the file in
(:class:`Progress`). Until it is past the last cold piece, the first query to meet it asks the
kernel for exactly the cold pages it is about to read (:func:`ask_for_rows`; the index asks
for its visited lists), all at once and without read-around, and answers beside it; the
queries after it wait until the pages are in (:func:`settle`), since each query reading beside
the prefetch slows it down. A file the page cache holds has nothing to ask for or wait for.
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

CHUNK = 32 << 20  # bytes touched per call: a closing server waits for at most one chunk


class Progress:
    """How far a prefetch has brought one file in, as the queries reading it see it."""

    def __init__(self) -> None:
        self.cold: np.ndarray | None = None  # per CHUNK: not in the page cache when looked at
        self.reached = 0  # bytes from the start populated
        self.done = False  # every page brought in
        self.pages_in = threading.Event()  # set once the pages are in or the prefetch ended
        self.reader: int | None = None  # the thread of the first query that met the prefetch

    def look(self, path: str) -> None:
        """Note which pieces of ``path`` are not in the page cache (:func:`_cold_chunks`); when
        none is, the queries have nothing to ask for or wait for. Where it cannot be looked
        at, every piece counts as cold."""
        try:
            with _own_mapping(path) as data:
                cold = [] if data is None else _cold_chunks(data)
                pieces = 0 if data is None else (len(data) + CHUNK - 1) // CHUNK
        except (OSError, ValueError):  # gone or emptied meanwhile: the prefetch will say
            return
        self.cold = np.zeros(pieces, dtype=bool)
        self.cold[np.asarray(cold, dtype=np.int64) // CHUNK] = True
        self.advance(0)

    @property
    def open(self) -> bool:
        """Whether a cold piece lies at or beyond ``reached`` (or none was looked at yet)."""
        return not self.done and (self.cold is None or bool(self.cold[self.reached // CHUNK :].any()))

    def advance(self, reached: int, done: bool = False) -> None:
        self.reached = max(self.reached, reached)
        self.done = self.done or done
        if not self.open:
            self.pages_in.set()

    def ahead(self, ends: np.ndarray) -> np.ndarray:
        """Which of the byte ranges ending at ``ends`` lie in a cold piece not yet reached."""
        ahead = ends > self.reached
        if self.cold is not None and len(self.cold):
            ahead &= self.cold[np.minimum((ends - 1) // CHUNK, len(self.cold) - 1)]
        return ahead


# Each file a prefetch has started on, by the path it was given, its absolute and its real path.
_FILES: dict[str, Progress] = {}
_MEETING = threading.Lock()


def _track(path: str, progress: Progress | None = None) -> Progress:
    progress = progress or Progress()
    for key in (path, os.path.abspath(path), os.path.realpath(path)):
        _FILES[key] = progress
    return progress


def settle(path: str | None) -> None:
    """Before a query reads ``path``'s pages: the first query (its thread) that meets a
    prefetch reading cold pieces of them reads beside it (asking for exactly its pages); the
    others wait until the pages are in (until the prefetch has looked which pieces are cold,
    they read beside it too). Each query reading beside the prefetch waits behind
    its reads and makes it slower: after a cold restart, 13-80 ms a query instead of 1-3."""
    progress = _FILES.get(path) if path is not None else None
    if progress is None or progress.pages_in.is_set():
        return
    with _MEETING:
        if progress.reader is None:
            progress.reader = threading.get_ident()
    # Not before the prefetch has looked for cold pieces (at the lowest priority, that can take
    # seconds beside a loading model): a warm file's queries must not wait for that.
    if progress.reader != threading.get_ident() and progress.cold is not None:
        progress.pages_in.wait()


def reaching(path: str | None) -> bool:
    """Whether cold pieces of ``path`` are still being brought in (or it has not been looked
    at yet): then a query asks the kernel for exactly the pages it is about to read there
    (:func:`not_yet_in`), all at once (:func:`pages.ask_for`), instead of faulting on each,
    which reads 8 MB around it on this disk. Pieces in the page cache are not asked for: asking
    costs 0.5-0.9 ms per 64 rows even for pages in memory."""
    progress = _FILES.get(path) if path is not None else None
    return progress is not None and progress.open


def not_yet_in(path: str, ends: np.ndarray) -> np.ndarray:
    """Which of the byte ranges of ``path`` ending at ``ends`` lie in cold pieces the
    prefetch has not reached."""
    progress = _FILES.get(path)
    return np.zeros(len(ends), dtype=bool) if progress is None else progress.ahead(ends)


def ask_for_rows(matrix: np.ndarray, rows: np.ndarray) -> None:
    """:func:`pages.ask_for_rows` for the ``rows`` of a mapped ``matrix`` in cold pieces the
    prefetch of its file has not reached (:func:`not_yet_in`)."""
    filename = getattr(matrix, "filename", None)
    settle(filename)
    if reaching(filename):
        rows = np.asarray(rows)
        rows = rows[not_yet_in(filename, matrix.offset + (rows + 1) * matrix.strides[0])]
        if len(rows):
            pages.ask_for_rows(matrix, rows)


def mapped_ranges(path: str, maps: str = "/proc/self/maps") -> list[tuple[int, int, int]]:
    """``(start, end, file offset)`` of this process's mappings of ``path``."""
    real = os.path.realpath(path)
    out = []
    try:
        with open(maps, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(None, 5)
                if len(parts) == 6 and parts[5] in (real, path):
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    out.append((start, end, int(parts[2], 16)))
    except OSError:
        return []
    return out


def _populate(mappings: list[tuple[int, int, int]], progress: Progress, stop: threading.Event | None) -> bool:
    """Populate the pages of ``mappings`` (``madvise`` releases the GIL), a :data:`CHUNK` at a
    time, recording how far the file is in (:func:`not_yet_in`); False if stopped.

    A range unmapped meanwhile (an older index closed) is skipped.
    """
    for start, end, offset in mappings:
        for at in range(start, end, CHUNK):
            if stop is not None and stop.is_set():
                return False
            code = pages.populate_range(at, min(CHUNK, end - at))
            if code in (errno.ENOMEM, errno.EFAULT):  # no longer mapped
                break
            if code:
                raise OSError(code, os.strerror(code))
            if offset == 0:
                progress.advance(at + min(CHUNK, end - at) - start)
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


def _bring_in(path: str, mappings: list[tuple[int, int, int]], progress: Progress, stop: threading.Event | None) -> bool:
    """Populate this process's ``mappings`` of ``path``, then touch the pieces that were not in
    the page cache before (see above); False if stopped."""
    if not _populate(mappings, progress, stop):
        return False
    progress.pages_in.set()  # the queries waiting for them go on (see settle)
    if progress.cold is None:
        return touch(path, stop)
    with _own_mapping(path) as data:
        return data is None or _touch_chunks(data, (np.flatnonzero(progress.cold) * CHUNK).tolist(), stop)


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


def prefetch(path: str, stop: threading.Event | None = None, progress: Progress | None = None) -> str:
    """Bring ``path``'s pages into memory: ``"mapped"`` when this process's mappings of it
    were populated and the pages read from disk touched (see above), ``"read"`` when the file
    was read through instead, ``"stopped"`` if ``stop`` was set first, ``"failed"`` when neither
    worked. Until it ends, queries see its :class:`Progress` (:func:`settle`, :func:`reaching`)."""
    progress = progress or _track(path)
    try:
        if progress.cold is None:
            progress.look(path)
        mappings = mapped_ranges(path)
        how = None
        if mappings:
            try:
                how = "mapped" if _bring_in(path, mappings, progress, stop) else "stopped"
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
                    raise
        if how is None:
            how = "read" if _read_through(path, stop) >= os.path.getsize(path) else "stopped"
        if how != "stopped":
            progress.advance(os.path.getsize(path), done=True)
        return how
    except (OSError, ValueError) as exc:  # ValueError: numpy's, for a file emptied meanwhile
        logger.info("could not prefetch %s: %s", path, exc)
        return "failed"
    finally:
        progress.pages_in.set()


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
        return dict.fromkeys(sizes, "skipped")  # their pages fault in as queries read them
    # From now on, until each is brought in, the queries ask for its pages (for the cold
    # pieces only, once it has been looked at) or wait (see settle).
    progress = {path: _track(path) for path in sizes}
    done = {}
    try:
        for path, one in progress.items():
            one.look(path)
        for path in sorted(sizes, key=sizes.__getitem__):
            if stop is not None and stop.is_set():
                break
            done[path] = prefetch(path, stop, progress[path])
    finally:
        for one in progress.values():
            one.pages_in.set()
    return done
