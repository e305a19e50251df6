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

import hashlib
import logging
import os
import shutil
import threading
import time

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


def private_copy(path: str, identity: fileio.FileIdentity, cache_dir: str) -> str:
    """A copy of a local gensim model file and its ``.npy`` sidecars in the cache, to memory-map.

    A logdir file may be rewritten in place by a training job, and a memory-mapped page of a
    truncated file kills the process (SIGBUS); a private copy is never rewritten. It is copied
    once per file version into a temporary folder renamed into place when complete.
    """
    target = private_copy_path(path, identity, cache_dir)
    if os.path.exists(target):
        return target
    started = time.monotonic()
    logger.info("copying %s (%.0f MB) into the cache to memory-map it", path, identity.size / 1e6)
    with fileio.published_folder(os.path.dirname(target), target) as tmp:
        for src in (path, *fileio.sidecars(path)):
            # copy2 keeps the modification times: the vocabulary cache recognises the same
            # vectors whether they are mapped from the copy or, once settled, from the logdir.
            shutil.copy2(src, os.path.join(tmp, os.path.basename(src)))
        housekeeping.write_source(tmp, identity, seconds=time.monotonic() - started)
    logger.info("copied %s in %.1fs", path, time.monotonic() - started)
    return target


def copy_in_background(path: str, identity: fileio.FileIdentity, cache_dir: str, group=None):
    """Write the :func:`private_copy` of a file just read into memory (its pages are in the page
    cache, so copying costs little), for the next load to map; the thread, or ``None``."""
    target = private_copy_path(path, identity, cache_dir)

    def run() -> None:
        try:
            private_copy(path, identity, cache_dir)
            faults.clear(identity, faults.KIND_COPY)
        except OSError as exc:  # e.g. a full or read-only cache: the next load reads the file again
            reason = faults.note(identity, faults.KIND_COPY, exc) if faults.is_cache_write_failure(exc) else exc
            logger.warning("no private copy of %s (%s)", path, reason)
        finally:
            with _pending_lock:
                if _pending.get(target) is threading.current_thread():
                    del _pending[target]

    with _pending_lock:
        if target in _pending or os.path.exists(target):
            return None
        thread = (group or lifecycle.LIBRARY).spawn(run, name="w2v-private-copy")
        if thread is not None:
            _pending[target] = thread
    return thread


_pending: dict[str, threading.Thread] = {}  # published path → the thread writing it
_pending_lock = threading.Lock()


def wait_for_copies(timeout: float | None = None, target: str | None = None) -> bool:
    """Wait until the private copies being written (or the one of ``target``) are published."""
    with _pending_lock:
        threads = [t for k, t in _pending.items() if target is None or k == target]
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
