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
import mmap
import os
import shutil
import threading
import time
from collections.abc import Mapping

import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.io.streamed import StreamedNpy
from tensorboard_plugin_w2v.models import faults, norms

Buffer = bytes | bytearray | memoryview | mmap.mmap

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
        fileio.write_source(tmp, identity, seconds=time.monotonic() - started)
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
    read: Mapping[str, Buffer] | None = None,
    stop: threading.Event | None = None,
) -> str:
    """A copy of a local gensim model file and its ``.npy`` sidecars in the cache, to memory-map.

    A logdir file may be rewritten in place by a training job, and a memory-mapped page of a
    truncated file kills the process (SIGBUS); a private copy is never rewritten. It is copied
    once per file version into a temporary folder renamed into place when complete (after its
    files are flushed to disk). Files whose bytes were already read (``read``: file name →
    bytes) are written from memory, the others copied. Setting ``stop`` ends the copy at its
    next step (:class:`~tensorboard_plugin_w2v.lifecycle.Stopped`).
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
            name = os.path.basename(src)
            _copy_file(src, os.path.join(tmp, name), stop, (read or {}).get(name))
        fileio.write_source(tmp, identity, seconds=time.monotonic() - started)
    logger.info("copied %s in %.1fs", path, time.monotonic() - started)
    return target


COPY_STEP_BYTES = 64 << 20  # copied by one system call; the stop switch is checked between them


def _copy_file(src: str, dst: str, stop: threading.Event | None, data: Buffer | None = None) -> None:
    """``shutil.copy2`` (the bytes by ``sendfile``, or from ``data`` when given, then times and
    mode), in steps of :data:`COPY_STEP_BYTES` with ``stop`` checked before each."""
    with open(src, "rb") as fin, open(dst, "wb") as out:
        size, offset = os.fstat(fin.fileno()).st_size, 0
        view = memoryview(data)[:size] if data is not None and len(data) >= size else None  # else copied
        try:
            while offset < size:
                if stop is not None and stop.is_set():
                    raise lifecycle.Stopped(f"copying {src} was stopped")
                if view is not None:
                    offset += out.write(view[offset : offset + COPY_STEP_BYTES])
                    continue
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
        finally:
            if view is not None:
                view.release()
    shutil.copystat(src, dst)


class PendingCopy:
    """A :func:`private_copy` written by a background thread of ``group``, at the lowest CPU
    priority: it is for the next load, so it must not slow the first queries of this one.
    A failure (e.g. a full cache folder) is noted (:mod:`~tensorboard_plugin_w2v.models.faults`)
    and kept in :attr:`error`; the model is served all the same."""

    def __init__(
        self,
        path: str,
        identity: fileio.FileIdentity,
        cache_dir: str,
        group: lifecycle.ThreadGroup | None = None,
        read: Mapping[str, Buffer] | None = None,
    ):
        self.path, self.identity, self.cache_dir, self.read = path, identity, cache_dir, read
        self.error: BaseException | None = None
        self.target = private_copy_path(path, identity, cache_dir)
        group = group or lifecycle.LIBRARY  # closing it stops the copy
        self._stop = group.stopping
        with _pending_lock:  # held until _thread is set: the thread's last step reads it
            self._thread = group.spawn(self._run, name="w2v-private-copy", nice=lifecycle.LOWEST)
            if self._thread is not None:
                _pending[self.target] = self._thread
        if self._thread is None:
            self.error = lifecycle.Stopped(f"{path} was not copied: closing")

    def _run(self) -> None:
        try:
            private_copy(self.path, self.identity, self.cache_dir, self.read, self._stop)
            faults.clear(self.identity, faults.KIND_COPY)
        except BaseException as exc:  # the model is served from memory all the same
            self.error = exc
            failure = isinstance(exc, OSError) and faults.is_cache_write_failure(exc)
            reason = faults.note(self.identity, faults.KIND_COPY, exc) if failure else exc
            logger.warning("no private copy of %s (%s)", self.path, reason)
        finally:
            self.read = None  # the bytes may be freed with the model
            with _pending_lock:
                if _pending.get(self.target) is self._thread:
                    del _pending[self.target]

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the copy is published (or has failed); whether it is done."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


class FreshRead:
    """A local gensim file that may still change: its sidecars are read, never mapped.

    Each ``.npy`` sidecar gensim asks for is read into memory by a
    :class:`~tensorboard_plugin_w2v.io.streamed.StreamedNpy`; the vectors' one is started
    (:meth:`prefetch`) before gensim unpickles the vocabulary, so the disk and the CPU work at
    once, with the norms computed behind the reader. Once the model is loaded, :meth:`publish`
    writes its private copy from the bytes read, in the background, for the next load to map
    (given a ``cache_dir``: large files only).
    """

    def __init__(
        self, path: str, identity: fileio.FileIdentity, cache_dir: str | None, group: lifecycle.ThreadGroup | None = None
    ):
        self.path, self.identity, self.cache_dir = path, identity, cache_dir
        self.group = group or lifecycle.LIBRARY
        self._streams: dict[str, StreamedNpy] = {}

    def _start(self, npy: str) -> StreamedNpy:
        stream = self._streams[npy] = StreamedNpy(npy)
        if self.group.spawn(stream.run, name="w2v-read", args=(self.group.stopping,), nice=lifecycle.LOADING) is None:
            stream.run()  # the group is closing: read it here
        return stream

    def prefetch(self, npy: str) -> norms.NormsJob | None:
        """Start reading ``npy`` and computing its rows' norms; the norms job, or ``None`` if the
        file cannot be read as an array (gensim's own load then says why)."""
        try:
            stream = self._start(npy)
        except (OSError, ValueError):
            return None
        return norms.start_streamed_norms(stream, self.group) if stream.array.ndim == 2 else None

    def array(self, npy: str) -> np.ndarray:
        """The array of ``npy``, read into memory (by :meth:`prefetch` or now)."""
        stream = self._streams.get(npy) or self._start(npy)
        return stream.result()

    def publish(self) -> PendingCopy | None:
        """Write the private copy in the background, from the bytes read where the files are
        still the versions read (else the copy would not match them); ``None`` without a cache."""
        if not self.cache_dir:
            return None
        read = {os.path.basename(npy): s.raw for npy, s in self._streams.items() if s.unchanged()}
        self._streams = {}
        return PendingCopy(self.path, self.identity, self.cache_dir, self.group, read)


_pending: dict[str, threading.Thread] = {}  # published path → the thread writing it
_pending_lock = threading.Lock()


def wait_for_copies(timeout: float | None = None, target: str | None = None) -> bool:
    """Wait until the private copies being written (or the one of ``target``) are published."""
    with _pending_lock:
        threads = list(_pending.values()) if target is None else [t for k, t in _pending.items() if k == target]
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
