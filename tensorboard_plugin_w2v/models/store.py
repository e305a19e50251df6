"""Thread-safe cache of loaded models, keyed by file identity and bounded by a memory budget.

A model loads at its first query. A file whose size or modification time changed is loaded
again at the next query; until the new version has loaded, the old one keeps answering, and a
new version that fails to load (say, still being written) leaves the old one in service. A
file that fails with no older version in memory is remembered as failed until it changes.
Loads of different models run in parallel; only bookkeeping takes the store-wide lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError, StoreUnavailable
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import faults, steady
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.models.model import PICKLE_REFUSED, LoadedModel

logger = logging.getLogger(__name__)

STATUS_NOT_LOADED = "not loaded"
STATUS_LOADING = "loading"
STATUS_OK = "ok"
STATUS_ERROR = "error"


@dataclass
class _Slot:
    identity: fileio.FileIdentity
    model: LoadedModel
    # Memory-mapped ``.npy`` sidecars as they were when loaded; see ``_mapped_files_changed``.
    sidecars: tuple[fileio.FileIdentity, ...] = ()


def _mapped_files_changed(slot: _Slot) -> bool:
    """True if a memory-mapped sidecar changed since loading.

    gensim's ``save`` rewrites ``.npy`` files in place, and reading a memory-mapped page of a
    truncated file kills the process (SIGBUS), so such a model must not answer again.
    """
    for old in slot.sidecars:
        try:
            if fileio.stat(old.path) != old:
                return True
        except OSError:
            return True
    return False


def _unreadable(path: str) -> str:
    """Why ``path`` could not be stat'ed: gone, or storage that does not answer."""
    try:
        fileio.stat(path)
    except FileNotFoundError:
        return f"file not found: {path}"
    except OSError as exc:
        return f"cannot read {path}: {exc}"
    return f"file not found: {path}"


def _libc():
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc
        return None


_LIBC = _libc()
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
LARGE_BLOCK_BYTES = 8 << 20
KEPT_FREE_BYTES = 2 * LARGE_BLOCK_BYTES  # free memory a heap keeps at its top (glibc's own ratio)
ARENAS = 2  # heaps glibc may hold (its default: 8 per core)


def keep_large_blocks_returnable() -> None:
    """Allocate blocks of ``LARGE_BLOCK_BYTES`` and more (a parsed model's arrays) with ``mmap``,
    so freeing one gives it back to the system. glibc otherwise raises that threshold to the size
    of the last block freed and keeps later ones in per-thread arenas: a server converting new
    versions of a model for days grew by a model's size in each of its threads' arenas.

    Fixing that threshold also fixes the trim threshold, at 128 KB unless set: each free at the
    top of a heap gave its pages back, and a request's next arrays (3CosMul's scores at 400k
    words) faulted them in again, a fifth of the query's time; so a heap keeps
    ``KEPT_FREE_BYTES``, as glibc's own thresholds would (twice the mmap threshold).

    glibc makes up to eight heaps per core (one more whenever a thread finds the others locked),
    each keeping that much: a server whose requests each run in a new thread filled one after
    another, its resident memory creeping for minutes. Python threads allocate holding the GIL
    and seldom meet at a lock, so ``ARENAS`` heaps suffice and bound what is kept free."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
        _LIBC.mallopt(_M_ARENA_MAX, ARENAS)


def release_freed_memory() -> None:
    """Give the memory freed by a load back to the system (glibc ``malloc_trim``)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class ModelStore:
    """Loaded models by path; ``get`` returns a current :class:`LoadedModel` or raises."""

    def __init__(
        self,
        memory_budget_bytes: int,
        cache_dir: str | None = None,
        allow_pickle: bool = True,
        mmap_policy: str = md.MMAP_AUTO,
        group: lifecycle.ThreadGroup | None = None,
    ):
        keep_large_blocks_returnable()
        self.memory_budget_bytes = memory_budget_bytes
        self.cache_dir = cache_dir
        self.allow_pickle = allow_pickle
        self.mmap_policy = mmap_policy
        self.group = group  # threads a load starts (norms, vocabulary cache) belong to it
        self._slots: OrderedDict[str, _Slot] = OrderedDict()  # LRU order, most recent last
        self._failed: dict[str, tuple[fileio.FileIdentity | None, str]] = {}
        self._path_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._listeners: list = []

    def add_load_listener(self, callback) -> None:
        """``callback(version, model)`` runs after each successful load (e.g. to build an index)."""
        self._listeners.append(callback)

    def get(self, version: ModelVersion) -> LoadedModel:
        """The loaded model for the current file at ``version.path``."""
        if version.error:
            raise ModelLoadError(version.error)
        try:
            identity = self._identity(version)
        except StoreUnavailable as exc:  # the store's fault, not the file's: memory answers, else 503
            return self._from_memory(version, exc)
        with self._lock:
            slot = self._slots.get(version.path)
            if slot is not None:
                self._slots.move_to_end(version.path)
            failed = self._failed.get(version.path)
            path_lock = self._path_locks.setdefault(version.path, threading.Lock())
        if slot is not None and _mapped_files_changed(slot):
            logger.warning("%s: a memory-mapped file changed in place; reloading", version.path)
            with self._lock:
                if self._slots.get(version.path) is slot:
                    del self._slots[version.path]
            slot = None
        if slot is not None and (identity is None or slot.identity == identity):
            self._retry_if_due(version, identity, slot, path_lock)
            return slot.model  # current, or the file vanished: keep answering from memory
        if failed is not None and failed[0] == identity:
            if slot is not None:
                return slot.model
            raise ModelLoadError(failed[1])
        if slot is not None and not path_lock.acquire(blocking=False):
            return slot.model  # a newer version is loading; the old one answers meanwhile
        if slot is None:
            path_lock.acquire()
        try:
            return self._load_locked(version, identity, slot)
        finally:
            path_lock.release()

    def _from_memory(self, version: ModelVersion, error: Exception) -> LoadedModel:
        with self._lock:
            slot = self._slots.get(version.path)
        if slot is None:
            raise error
        return slot.model

    @staticmethod
    def _identity(version: ModelVersion) -> fileio.FileIdentity | None:
        """The file's identity; ``None`` if it is gone or unreadable; 503 if a store does not answer."""
        try:
            return fileio.stat(version.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if fileio.is_remote(version.path):
                raise StoreUnavailable(f"the store cannot be read: {exc}", retry_after=1) from None
            return None

    def _retry_if_due(self, version: ModelVersion, identity, old: _Slot, path_lock: threading.Lock) -> None:
        """A model served without a cache entry that did not fit is loaded again in the background
        once :data:`faults.RETRY_SECONDS` passed (room may be back); it answers meanwhile."""
        if identity is None or not faults.retry_due(identity) or not path_lock.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._load_locked(version, identity, old, again=True)
            except Exception:  # the version in memory keeps answering
                logger.warning("retrying the cache entries of %s failed", version.path, exc_info=True)
            finally:
                path_lock.release()

        if (self.group or lifecycle.LIBRARY).spawn(run, name="w2v-cache-retry") is None:
            path_lock.release()

    def _load_file(self, version: ModelVersion) -> LoadedModel:
        """``version`` read from its file by a thread of lower CPU priority (:data:`lifecycle.LOADING`,
        :func:`lifecycle.run_lowered`): the requests to the models already loaded come first."""
        from tensorboard_plugin_w2v.models.loading import load_model  # gensim: first load only

        def load(fmt: str | None) -> LoadedModel:
            return load_model(
                version.path,
                fmt,
                metadata_path=version.metadata_path,
                tensor_shape=version.tensor_shape,
                allow_pickle=self.allow_pickle,
                cache_dir=self.cache_dir,
                mmap_policy=self.mmap_policy,
                group=self.group,
            )

        try:
            return lifecycle.run_lowered(
                self.group or lifecycle.LIBRARY, lambda: steady.load_classified(version, load), name="w2v-load"
            )
        except lifecycle.Stopped:
            raise StoreUnavailable("the server is closing", retry_after=1) from None

    def _load_locked(self, version: ModelVersion, identity, old: _Slot | None, again: bool = False) -> LoadedModel:
        with self._lock:  # another thread may have loaded it while this one waited
            slot = self._slots.get(version.path)
            failed = self._failed.get(version.path)
        if slot is not None and slot.identity == identity and not again:
            return slot.model
        if failed is not None and failed[0] == identity and slot is None:
            raise ModelLoadError(failed[1])
        started = time.monotonic()
        try:
            if identity is None:
                raise ModelLoadError(_unreadable(version.path))
            model, identity, sidecars = steady.read_steady(version, identity, self._load_file)
        except StoreUnavailable as exc:  # not the file's fault: nothing is remembered
            if old is not None:
                logger.warning("keeping the version in memory of %s: %s", version.path, exc.message)
                return old.model
            raise
        except ModelLoadError as exc:
            with self._lock:
                self._failed[version.path] = (identity, exc.message)
            if old is not None:
                logger.warning("keeping the previous version of %s: %s", version.path, exc.message)
                return old.model
            raise
        logger.info(
            "%s %s (%d words × %d) in %.2fs",
            "reloaded" if again else "loaded",
            version.path,
            model.vocab_size,
            model.dim,
            time.monotonic() - started,
        )
        with self._lock:
            self._failed.pop(version.path, None)
            self._slots[version.path] = _Slot(identity, model, sidecars)
            self._slots.move_to_end(version.path)
            self._evict_locked(keep=version.path)
        release_freed_memory()
        for listener in self._listeners:
            try:
                listener(version, model)
            except Exception:  # a listener's failure must not fail the query
                logger.exception("load listener failed for %s", version.path)
        return model

    def _evict_locked(self, keep: str) -> None:
        total = sum(s.model.nbytes for s in self._slots.values())
        for path in list(self._slots):
            if total <= self.memory_budget_bytes:
                break
            if path == keep:
                continue
            total -= self._slots.pop(path).model.nbytes
            logger.info("evicted %s to stay within the memory budget", path)

    def status(self, version: ModelVersion) -> tuple[str, LoadedModel | None, str | None]:
        """(status, loaded model or None, error) without loading anything."""
        if version.error:
            return STATUS_ERROR, None, version.error
        if not self.allow_pickle and version.format in md.PICKLE_FORMATS:
            return STATUS_ERROR, None, PICKLE_REFUSED  # known before any load is tried
        with self._lock:
            slot = self._slots.get(version.path)
            failed = self._failed.get(version.path)
            lock = self._path_locks.get(version.path)
        if slot is not None:
            return STATUS_OK, slot.model, None
        if lock is not None and lock.locked():
            return STATUS_LOADING, None, None
        if failed is not None:
            return STATUS_ERROR, None, failed[1]
        return STATUS_NOT_LOADED, None, None

    def forget_missing(self, paths) -> int:
        """Drop what is kept for model files no longer listed (``paths``: those listed): failures,
        idle path locks, loaded versions. Keeps the store's maps bounded while files come and go;
        returns how many entries went."""
        keep = set(paths)
        dropped = 0
        with self._lock:
            for path in [p for p in self._failed if p not in keep]:
                del self._failed[path]
                dropped += 1
            for path in [p for p, lock in self._path_locks.items() if p not in keep and not lock.locked()]:
                del self._path_locks[path]
                dropped += 1
            for path in [p for p in self._slots if p not in keep]:
                del self._slots[path]
                dropped += 1
        return dropped

    def stats(self) -> dict:
        """Sizes of the store's maps (what a long-running server must keep bounded)."""
        with self._lock:
            return {
                "loaded_models": len(self._slots),
                "loaded_bytes": sum(s.model.nbytes for s in self._slots.values()),
                "failed_versions": len(self._failed),
                "path_locks": len(self._path_locks),
                "cache_notes": faults.count(),
            }

    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(s.model.nbytes for s in self._slots.values())
