"""word2vec binary/text, fastText ``.vec`` and GloVe files, converted once into gensim's format.

Those formats are parsed in full at every load (GoogleNews takes minutes) and cannot be
memory-mapped. The first load parses the file with gensim's own reader, logging progress,
and saves the result in the cache folder as a gensim ``KeyedVectors`` with its vectors in a
``.npy`` sidecar; every later load memory-maps that. The conversion is keyed by the source
file's identity (path, size, modification time), so a changed file is converted again.

A conversion is written into a temporary folder that is renamed into place when complete, so a
crash mid-way never leaves a half conversion that a later start would trust.

    >>> kv_path = ensure_converted("GoogleNews.bin", fileio.stat("GoogleNews.bin"),
    ...                            "/tmp/cache", binary=True)           # doctest: +SKIP
    >>> KeyedVectors.load(kv_path, mmap="r")                              # doctest: +SKIP
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable

from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import faults, housekeeping

logger = logging.getLogger(__name__)

CONVERT_VERSION = 1
CONVERT_MIN_BYTES = 16 << 20  # smaller files parse in well under a second: no conversion
MODEL_NAME = "vectors.kv"
PROGRESS_INTERVAL = 5.0  # seconds between progress log lines


def converted_dir(identity: fileio.FileIdentity, cache_dir: str, binary: bool, no_header: bool) -> str:
    """The cache folder of one version of one source file."""
    text = f"{identity.path}|{identity.size}|{identity.mtime_ns}|b{int(binary)}h{int(not no_header)}|v{CONVERT_VERSION}"
    return os.path.join(cache_dir, "converted", hashlib.sha256(text.encode()).hexdigest()[:32])


def find_converted(
    identity: fileio.FileIdentity, cache_dir: str, binary: bool, no_header: bool = False
) -> str | None:
    """The converted model's path if this version was converted before, else ``None``."""
    path = os.path.join(converted_dir(identity, cache_dir, binary, no_header), MODEL_NAME)
    return path if os.path.exists(path) else None


def ensure_converted(
    source: str,
    identity: fileio.FileIdentity,
    cache_dir: str,
    *,
    binary: bool,
    no_header: bool = False,
) -> str:
    """Path of the gensim ``KeyedVectors`` converted from ``source`` (converting it now if needed).

    ``source`` is a local file (a remote file's local copy); ``identity`` names the version.
    """
    found = find_converted(identity, cache_dir, binary, no_header)
    if found:
        return found
    final = converted_dir(identity, cache_dir, binary, no_header)
    label = os.path.basename(identity.path.rstrip("/"))
    started = time.monotonic()
    logger.info("converting %s (%.0f MB) once into %s", label, identity.size / 1e6, final)
    with fileio.published_folder(final, os.path.join(final, MODEL_NAME)) as tmp:
        with _ProgressLog(source, label):
            kv = KeyedVectors.load_word2vec_format(source, binary=binary, no_header=no_header)
        kv.save(os.path.join(tmp, MODEL_NAME), sep_limit=0)  # every array in a .npy sidecar
        housekeeping.write_source(tmp, identity, seconds=time.monotonic() - started)
        del kv
    logger.info("converted %s in %.1fs", label, time.monotonic() - started)
    return os.path.join(final, MODEL_NAME)


class _ProgressLog:
    """Logs how far a reader has got through ``path`` (from the kernel's file position, on Linux)."""

    def __init__(self, path: str, label: str, interval: float = PROGRESS_INTERVAL):
        self.path = os.path.realpath(path)
        self.label = label
        self.interval = interval
        self.size = max(1, os.path.getsize(path))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="w2v-convert-progress", daemon=True)

    def __enter__(self) -> _ProgressLog:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            position = self.position()
            if position is not None:
                logger.info(
                    "converting %s: %d%% read (%.0fs)",
                    self.label,
                    100 * position // self.size,
                    time.monotonic() - self._started,
                )

    def position(self) -> int | None:
        """Offset of an open descriptor of the file in this process, if one can be seen."""
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return None
        for fd in fds:
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != self.path:
                    continue
                with open(f"/proc/self/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except (OSError, ValueError):
                continue
        return None


PRIVATE_COPY_MIN_BYTES = 256 << 20  # gensim files (with their .npy) from this size are copied


def private_copy_path(path: str, identity: fileio.FileIdentity, cache_dir: str) -> str:
    """Where the private copy of one version of a local gensim file is (or would be) published."""
    text = f"{identity.path}|{identity.size}|{identity.mtime_ns}|copy-v{CONVERT_VERSION}"
    final = os.path.join(cache_dir, "copies", hashlib.sha256(text.encode()).hexdigest()[:32])
    return os.path.join(final, os.path.basename(path))


def private_copy(
    path: str,
    identity: fileio.FileIdentity,
    cache_dir: str,
    main_copied: Callable[[str], None] | None = None,
    written: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> str:
    """A copy of a local gensim model file and its ``.npy`` sidecars in the cache, to memory-map.

    A logdir file may be rewritten in place by a training job, and a memory-mapped page of a
    truncated file kills the process (SIGBUS); a private copy is never rewritten. It is copied
    once per file version into a temporary folder renamed into place when complete (after its
    files are flushed to disk). ``main_copied`` is called with the temporary copy of the main
    file as soon as it is written (the sidecars follow), ``written`` with the temporary folder
    once every file is written, before the flush: :class:`PendingCopy` reads and maps them then.
    Setting ``stop`` ends the copy at its next step (:class:`~tensorboard_plugin_w2v.lifecycle.Stopped`).
    """
    target = private_copy_path(path, identity, cache_dir)
    if os.path.exists(target):
        return target
    started = time.monotonic()
    logger.info("copying %s (%.0f MB) into the cache to memory-map it", path, identity.size / 1e6)
    with fileio.published_folder(os.path.dirname(target), target) as tmp:
        for src in (path, *fileio.sidecars(path)):
            # The copy keeps the modification times: the vocabulary cache recognises the same
            # vectors whether they are mapped from the copy or, once settled, from the logdir.
            _copy_file(src, os.path.join(tmp, os.path.basename(src)), stop)
            if src == path and main_copied is not None:
                main_copied(os.path.join(tmp, os.path.basename(src)))
        housekeeping.write_source(tmp, identity, seconds=time.monotonic() - started)
        if written is not None:
            written(tmp)
    logger.info("copied %s in %.1fs", path, time.monotonic() - started)
    return target


COPY_STEP_BYTES = 64 << 20  # copied by one system call; the stop switch is checked between them


def _copy_file(src: str, dst: str, stop: threading.Event | None) -> None:
    """``shutil.copy2`` (the bytes by ``sendfile``, then times and mode), in steps of
    :data:`COPY_STEP_BYTES` with ``stop`` checked before each."""
    with open(src, "rb") as fin, open(dst, "wb") as out:
        size, offset = os.fstat(fin.fileno()).st_size, 0
        while offset < size:
            if stop is not None and stop.is_set():
                raise lifecycle.Stopped(f"copying {src} was stopped")
            try:
                sent = os.sendfile(out.fileno(), fin.fileno(), offset, min(COPY_STEP_BYTES, size - offset))
            except (OSError, AttributeError) as exc:
                if offset or getattr(exc, "errno", None) == errno.ENOSPC:
                    raise
                shutil.copyfileobj(fin, out)  # no file-to-file sendfile on this system
                break
            if sent == 0:  # the file shrank meanwhile
                break
            offset += sent
    shutil.copystat(src, dst)


RELEASE_TIMEOUT_SECONDS = 600.0  # a loader that never releases its copy delays its publication this long


class PendingCopy:
    """A :func:`private_copy` written by a background thread, usable before it is published.

    The loader unpickles the copy's main file while the sidecars are still being copied (the
    two overlap: one waits on the disk, the other on the CPU), then maps the copied sidecars as
    soon as they are written, without waiting for them to be flushed to disk and renamed into
    place (a mapping outlives the rename; nothing truncates a private copy): the copy is renamed
    once the loader calls :meth:`release`. Copying into the page cache and mapping it costs far
    less than reading into fresh anonymous memory, whose first touch is slow. If the copy fails
    (e.g. a full cache folder), :meth:`main` and :meth:`sidecars_folder` answer ``None``: the
    caller reads the logdir file into memory instead.
    """

    def __init__(
        self,
        path: str,
        identity: fileio.FileIdentity,
        cache_dir: str,
        group: lifecycle.ThreadGroup | None = None,
    ):
        self.path, self.identity, self.cache_dir = path, identity, cache_dir
        self.error: BaseException | None = None
        self._main = None  # the open copy of the main file
        self._folder: str | None = None
        self._main_ready, self._written, self._released = threading.Event(), threading.Event(), threading.Event()
        self.target = private_copy_path(path, identity, cache_dir)
        group = group or lifecycle.LIBRARY  # closing it stops the copy
        self._stop = group.stopping
        with _pending_lock:  # held until _thread is set: the thread's last step reads it
            self._thread = group.spawn(self._run, name="w2v-private-copy")
            if self._thread is not None:
                _pending[self.target] = self._thread
        if self._thread is None:  # the group is closing: no copy, the loader reads the file
            self.error = lifecycle.Stopped(f"{path} was not copied: closing")
            self._main_ready.set()
            self._written.set()

    def _run(self) -> None:
        try:
            target = private_copy(
                self.path, self.identity, self.cache_dir, self._on_main, self._on_written, self._stop
            )
            if not self._main_ready.is_set():  # published meanwhile by another process: use it
                self._on_main(target)
                self._on_written(os.path.dirname(target))
            faults.clear(self.identity, faults.KIND_COPY)
        except BaseException as exc:  # the loader reads the logdir file into memory instead
            self.error = exc
            failure = isinstance(exc, OSError) and faults.is_cache_write_failure(exc)
            reason = faults.note(self.identity, faults.KIND_COPY, exc) if failure else exc
            logger.warning("serving %s without a private copy (%s)", self.path, reason)
        finally:
            self._main_ready.set()
            self._written.set()
            with _pending_lock:
                if _pending.get(self.target) is self._thread:
                    del _pending[self.target]

    def _on_main(self, tmp_main: str) -> None:
        self._main = open(tmp_main, "rb")  # open now: the folder is renamed once complete
        self._main_ready.set()

    def _on_written(self, tmp: str) -> None:
        self._folder = tmp
        self._written.set()
        self._released.wait(RELEASE_TIMEOUT_SECONDS)  # the loader maps the files before the rename

    def release(self) -> None:
        """The loader has mapped what it needs (or needs nothing): publish the copy."""
        self._released.set()

    def main(self):
        """The copy's main file, open for reading (the caller closes it), or ``None``."""
        self._main_ready.wait()
        main, self._main = self._main, None
        return main

    def sidecars_folder(self) -> str | None:
        """The folder holding the copied sidecars, complete (maybe not yet renamed), or ``None``."""
        self._written.wait()
        return None if self.error is not None else self._folder

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the copy is published (or has failed); whether it is done."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


_pending: dict[str, threading.Thread] = {}  # published path → the thread writing it
_pending_lock = threading.Lock()


def wait_for_copies(timeout: float | None = None, target: str | None = None) -> bool:
    """Wait until the private copies being written (or the one of ``target``) are published."""
    with _pending_lock:
        threads = list(_pending.values()) if target is None else [t for k, t in _pending.items() if k == target]
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
