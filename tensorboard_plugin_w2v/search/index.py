"""Approximate nearest-neighbour indexes for large models, built in the background and cached.

:class:`IndexManager` gives each loaded large model an :class:`IndexHandle`: an index
(:mod:`~tensorboard_plugin_w2v.search.ann`) reused from the cache folder, or built there by one
worker thread. Built indexes are saved under the model file's identity (path, size,
modification time) and memory-mapped when reused, so a restarted server answers from the index
at once; a background thread then brings the mapped pages in (:mod:`~tensorboard_plugin_w2v.io.prefetch`), so the first
queries do not wait for them. After each build the search breadth is calibrated on a sample of
the model's words (:mod:`.calibration`) and saved with the index. Until an index is ready,
queries scan exactly.

    >>> manager = IndexManager(cache_dir="/tmp/w2v-cache")         # doctest: +SKIP
    >>> store.add_load_listener(manager.attach)                    # doctest: +SKIP
    >>> manager.close()                                             # doctest: +SKIP
"""

from __future__ import annotations

import errno
import json
import logging
import os
import queue
import threading
import time
import weakref
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio, prefetch
from tensorboard_plugin_w2v.models import faults, housekeeping
from tensorboard_plugin_w2v.models.norms import ensure_norms, unit_rows
from tensorboard_plugin_w2v.search import ann, calibration
from tensorboard_plugin_w2v.search.ann import (
    FORMAT_VERSION,
    LIBRARY,
    PROBES_DEFAULT,
    AnnIndex,
    available,
    cache_key,
    installed,
)

if TYPE_CHECKING:
    from tensorboard_plugin_w2v.models.loading import LoadedModel

logger = logging.getLogger(__name__)

EXACT_MAX_CELLS = 50_000_000  # rows × dim up to which exact search stays the default
BUILD_BATCH = 32_768  # rows per insertion call (progress granularity, and how soon a build stops)
ASSIGN_SHARE = 0.8  # of a build's work, finding every row's list (the rest: encoding the rows)
BUILD_START_DELAY = 3.0  # seconds between a model's load and the start of its index build
# Builds use every core, at a lower priority (the threads faiss starts inherit it): a query
# takes a core from them at once, and they have both while no query waits.
BUILD_NICE = lifecycle.LOWEST

STATE_EXACT = "exact"  # small model: exact search is fast, no index is built
STATE_UNAVAILABLE = "unavailable"  # faiss is not installed
STATE_QUEUED = "queued"
STATE_BUILDING = "building"
STATE_READY = "ready"
STATE_FAILED = "failed"
STATE_CANCELLED = "cancelled"

# What a build is doing (``stage`` in the status while building), in order.
STAGES = ("training", "assigning", "encoding", "calibrating", "saving")


class IndexHandle:
    """The index of one model version: its state, build progress, and the index once ready."""

    def __init__(self, key: str, rows: int, dim: int, state: str):
        self.key = key
        self.rows = rows
        self.dim = dim
        self.state = state
        self.done_rows = 0
        self.stage: str | None = None  # one of STAGES while building
        self.error: str | None = None
        self.from_cache = False
        self.build_seconds: float | None = None
        self.calibration: dict | None = None  # Calibration.to_json() of the build (saved with it)
        self.prefetch: str | None = None  # how the saved index's pages were brought in
        self.index: AnnIndex | None = None
        self.model_ref = None  # weak reference to the model being indexed (building reads it)
        self.label: str = key  # the model file, for log lines
        self.source: dict | None = None  # the model version indexed (see housekeeping)
        self.created = time.monotonic()
        self.cancelled = threading.Event()
        self._finished = threading.Event()
        if state not in (STATE_QUEUED, STATE_BUILDING):
            self._finished.set()

    def ready(self) -> AnnIndex | None:
        """The index if it is ready, else ``None`` (answer exactly meanwhile)."""
        return self.index if self.state == STATE_READY else None

    @property
    def nbytes(self) -> int:
        index = self.ready()
        return index.nbytes if index is not None else 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until building has ended (ready, failed or cancelled); False on time-out."""
        return self._finished.wait(timeout)

    def cancel(self) -> None:
        self.cancelled.set()

    def _finish(self, state: str, error: str | None = None) -> None:
        self.state, self.error = state, error
        self._finished.set()

    def status(self) -> dict:
        """What the ``/models`` listing shows under ``"index"``."""
        out: dict = {"state": self.state, "library": LIBRARY}
        if self.state in (STATE_QUEUED, STATE_BUILDING, STATE_READY):
            out["progress"] = round(self.done_rows / self.rows, 4) if self.rows else 1.0
        if self.state == STATE_BUILDING and self.stage:
            out["stage"] = self.stage
        if self.state == STATE_READY:
            out["from_cache"] = self.from_cache
            out["bytes"] = self.nbytes
            out["lists"] = self.index.lists
            out["probes"] = self.index.probes
            out["candidates"] = self.index.min_candidates
        if self.calibration is not None:
            out["recall_at_10"] = self.calibration["recall_at_10"]
        if self.build_seconds is not None:
            out["build_seconds"] = round(self.build_seconds, 1)
        if self.error:
            out["error"] = self.error
        return out


class IndexManager:
    """Gives each loaded large model an index: reused from the cache folder, or built there.

    Register :meth:`attach` with ``ModelStore.add_load_listener``. Builds run one at a time
    in a daemon thread; a model evicted from the store stops its build at the next batch.
    """

    def __init__(
        self,
        cache_dir: str | None,
        exact_max_cells: int = EXACT_MAX_CELLS,
        threads: int = 0,
        batch_rows: int = BUILD_BATCH,
        group: lifecycle.ThreadGroup | None = None,
    ):
        self.cache_dir = cache_dir
        self.exact_max_cells = exact_max_cells
        self.threads = threads
        self.batch_rows = batch_rows
        self._jobs: queue.Queue = queue.Queue()
        self._handles: weakref.WeakValueDictionary[str, IndexHandle] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._group = group or lifecycle.ThreadGroup("w2v-index")
        self._own_group = group is None
        self._group.on_close(self.close)
        self._closed = False
        # A thread still inside faiss when Python shuts down would abort the whole process
        # (SIGABRT) instead of letting it exit: builds stop at exit.
        lifecycle.close_at_exit(self)

    def attach(self, version, model: LoadedModel) -> IndexHandle:
        """Load listener: set ``model.index`` (reusing a saved index at once when there is one)."""
        kv = model.kv
        rows, dim = len(kv.vectors), int(kv.vector_size)
        identity = model.identity or fileio.stat(version.path)
        key = cache_key(identity)
        with self._lock:
            handle = self._handles.get(key)
            if handle is None or handle.state in (STATE_FAILED, STATE_CANCELLED):
                handle = self._new_handle(key, rows, dim, model)
                self._handles[key] = handle
            elif handle.state in (STATE_QUEUED, STATE_BUILDING):
                handle.model_ref = weakref.ref(model)  # the same file loaded again: build on
            elif self._unsaved(handle) and faults.retry_due(model.identity):
                # built while the cache folder was full: try to save it again (room may be back)
                self._group.spawn(self._save_again, name="w2v-index-save", args=(handle, model.identity))
        model.index = handle
        return handle

    def _unsaved(self, handle: IndexHandle) -> bool:
        return bool(self.cache_dir) and handle.state == STATE_READY and handle.index.path is None

    def _save_again(self, handle: IndexHandle, identity) -> None:
        index = handle.index
        try:
            path = self._save(handle, index, handle.label, handle.source)
            handle.index = self._open_built(handle, path, index.probes, index.min_candidates)
            faults.clear(identity, faults.KIND_INDEX)
        except OSError as exc:
            faults.note(identity, faults.KIND_INDEX, exc)

    def _new_handle(self, key: str, rows: int, dim: int, model: LoadedModel) -> IndexHandle:
        if rows * dim <= self.exact_max_cells:
            return IndexHandle(key, rows, dim, STATE_EXACT)
        if not installed():
            return IndexHandle(key, rows, dim, STATE_UNAVAILABLE)
        handle = IndexHandle(key, rows, dim, STATE_QUEUED)
        saved = self._open_saved(handle)
        if saved is not None:
            handle.index, handle.from_cache, handle.done_rows = saved, True, rows
            handle._finish(STATE_READY)
            logger.info("reusing the saved index for %s", model.identity.path if model.identity else key)
            return handle
        handle.model_ref = weakref.ref(model)
        if self._closed:
            handle._finish(STATE_CANCELLED)
            return handle
        self._jobs.put(handle)
        if self._worker is None or not self._worker.is_alive():
            self._worker = self._group.spawn(self._work, name="w2v-index-builder")
        return handle

    # -- cache files ----------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[str, str]:
        folder = os.path.join(self.cache_dir or "", "index")
        return os.path.join(folder, f"{key}{housekeeping.INDEX_SUFFIX}"), os.path.join(folder, f"{key}.json")

    def _open_saved(self, handle: IndexHandle) -> AnnIndex | None:
        """The saved index if its metadata vouches for it (a half-written file never does)."""
        if not self.cache_dir:
            return None
        path, meta_path = self._paths(handle.key)
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
            if (
                meta.get("format") != FORMAT_VERSION
                or meta.get("rows") != handle.rows
                or meta.get("dim") != handle.dim
                or meta.get("bytes") != os.path.getsize(path)
            ):
                return None
            handle.build_seconds = meta.get("build_seconds")
            handle.calibration = meta.get("calibration")
            tuned = handle.calibration or {}
            return self._open_built(handle, path, tuned.get("probes", PROBES_DEFAULT), tuned.get("candidates", 0))
        except (OSError, ValueError, KeyError, RuntimeError, ImportError):  # ImportError: a broken faiss
            return None

    def _open_built(self, handle: IndexHandle, path: str, probes: int, min_candidates: int) -> AnnIndex:
        """Memory-map a saved index and bring its pages in from a background thread (which
        notes how on ``handle``: the index may not be set on it yet when it is done)."""
        index = AnnIndex.open(path, probes, min_candidates)
        # a weak reference: an evicted model's handle goes at once, as if nothing read its file
        self._group.spawn(
            self._prefetch, name="w2v-index-prefetch", args=(weakref.ref(handle), path), nice=lifecycle.LOWEST
        )
        return index

    def _prefetch(self, handle_ref: weakref.ref, path: str) -> None:
        how = prefetch.prefetch(path, self._group.stopping)
        handle = handle_ref()
        if handle is not None:
            handle.prefetch = how

    def _save(self, handle: IndexHandle, built: AnnIndex, model_path: str, source: dict | None) -> str:
        """Write the index (temp file + rename, then its metadata); return its path."""
        path, meta_path = self._paths(handle.key)
        with fileio.atomic_path(path) as tmp:
            try:
                built.save(tmp)
            except RuntimeError as exc:  # faiss names the failed write, not why it failed
                raise _write_error(tmp, built.serialized_bytes, exc) from None
        meta = {
            "format": FORMAT_VERSION,
            "library": LIBRARY,
            "rows": handle.rows,
            "dim": handle.dim,
            "lists": built.lists,
            "bytes": os.path.getsize(path),
            "build_seconds": handle.build_seconds,
            "calibration": handle.calibration,
            "model": model_path,
            "source": source,  # the model version it indexes (see housekeeping)
        }
        fileio.write_atomic(meta_path, json.dumps(meta, indent=1).encode())
        return path

    # -- building -------------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Stop building (after the current batch) and wait for the builder thread to end;
        later models get no index. Safe to call more than once."""
        self._closed = True
        for handle in list(self._handles.values()):
            handle.cancel()
        self._jobs.put(None)
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        if self._own_group and not self._group.closed:
            self._group.close(timeout)

    def _work(self) -> None:
        lifecycle.lower_priority(BUILD_NICE)
        while True:
            handle = self._jobs.get()
            if handle is None:  # closed
                return
            try:
                self._build(handle)
            except Exception as exc:  # a failed build leaves exact search in service
                logger.exception("building the search index failed")
                handle._finish(STATE_FAILED, f"{type(exc).__name__}: {exc}")

    def _build(self, handle: IndexHandle) -> None:
        # The model was just loaded for a query: let its first answers have the cores.
        handle.cancelled.wait(max(0.0, handle.created + BUILD_START_DELAY - time.monotonic()))
        model = handle.model_ref()
        if model is None or handle.cancelled.is_set():
            handle._finish(STATE_CANCELLED)
            return
        if not available():  # installed but not importable: exact search stays
            handle._finish(STATE_UNAVAILABLE)
            return
        label = handle.label = model.identity.path if model.identity else handle.key
        source = handle.source = fileio.source_record(model.identity) if model.identity else None
        handle.state = STATE_BUILDING
        started = time.monotonic()
        ensure_norms(model.kv)
        del model
        ann.set_threads(self.threads)
        index = self._add_rows(handle, started)
        handle.stage = "calibrating"
        tuned = self._calibrate(handle, index) if index is not None else None
        if tuned is None:
            logger.info("stopped building the index of %s (model evicted)", label)
            handle._finish(STATE_CANCELLED)
            return
        handle.calibration = tuned.to_json()
        handle.build_seconds = time.monotonic() - started
        (logger.info if tuned.met else logger.warning)(
            "index of %s: recall@10 %.3f on %d sample words visiting %d lists (target %.2f)",
            label, tuned.recall, tuned.sample, tuned.probes, calibration.TARGET_RECALL + calibration.MARGIN,
        )
        if self.cache_dir:
            handle.stage = "saving"
            identity = getattr(handle.model_ref(), "identity", None)
            try:
                path = self._save(handle, index, label, source)
                index = None  # free the built lists before mapping the saved ones
                index = self._open_built(handle, path, tuned.probes, tuned.candidates)
                faults.clear(identity, faults.KIND_INDEX)
            except OSError as exc:
                reason = faults.note(identity, faults.KIND_INDEX, exc) if faults.is_cache_write_failure(exc) else exc
                logger.warning("could not save the index of %s in the cache (%s); keeping it in memory", label, reason)
        handle.index = index
        handle._finish(STATE_READY)
        logger.info("index of %s ready in %.1fs", label, handle.build_seconds)

    def _add_rows(self, handle: IndexHandle, started: float) -> AnnIndex | None:
        """Train the lists on a sample, then add every row, normalised a batch at a time (no
        float copy of the matrix); ``None`` if the model was evicted or the build cancelled."""
        logger.info("building the search index of %s (%d × %d)", handle.label, handle.rows, handle.dim)
        evicted = _Evicted(handle)
        model = handle.model_ref()
        if model is None:
            return None
        handle.stage = "training"
        sample = unit_rows(model.kv, ann.training_rows(handle.rows))
        del model
        built = ann.train(sample, handle.dim, handle.rows, stop=evicted.is_set)
        del sample
        if built is None:
            return None
        logger.info("index of %s: %d lists trained (%.0fs)", handle.label, built.nlist, time.monotonic() - started)
        # Every row's list first (the costly part: ASSIGN_SHARE of the work), so each list is
        # allocated once at its final size; then the rows are encoded into them.
        find = ann.list_finder(built)
        lists = np.empty(handle.rows, dtype=np.int64)
        stop = 0
        handle.stage = "assigning"
        for start, stop, block in self._unit_batches(handle, started, 0.0, ASSIGN_SHARE):
            lists[start:stop] = find(block)
        if stop < handle.rows:
            return None  # evicted or cancelled
        ann.reserve(built, np.bincount(lists, minlength=built.nlist))
        stop = 0
        handle.stage = "encoding"
        for start, stop, block in self._unit_batches(handle, started, ASSIGN_SHARE, 1.0):
            ann.add(built, start, block, lists[start:stop])
        return AnnIndex(built) if stop == handle.rows else None

    def _unit_batches(self, handle: IndexHandle, started: float, done: float, until: float):
        """``(start, stop, unit rows)`` of the model a batch at a time, the build's progress
        moving from ``done`` to ``until``; ends early (before the last rows) when the model is
        evicted or the build cancelled."""
        for start in range(0, handle.rows, self.batch_rows):
            model = handle.model_ref()
            if model is None or handle.cancelled.is_set():
                return
            stop = min(handle.rows, start + self.batch_rows)
            block = unit_rows(model.kv, start, stop)
            del model
            yield start, stop, block
            before = handle.done_rows / handle.rows
            handle.done_rows = int(handle.rows * (done + (until - done) * stop / handle.rows))
            after = handle.done_rows / handle.rows
            if int(after * 10) > int(before * 10) or stop == handle.rows:
                logger.info("index of %s: %d%% (%.0fs)", handle.label, 100 * after, time.monotonic() - started)

    def _calibrate(self, handle: IndexHandle, index: AnnIndex) -> calibration.Calibration | None:
        """Choose how many lists the index visits, on a sample of its model; ``None`` if the model went."""
        model = handle.model_ref()
        if model is None:
            return None
        kv = model.kv  # not the model: evicting it stops the calibration at its next step
        del model
        try:
            return calibration.calibrate(kv, index, threads=self.threads, stop=_Evicted(handle))
        except calibration.Cancelled:
            return None


class _Evicted:
    """``is_set()`` once the handle's build is cancelled or its model has been evicted."""

    def __init__(self, handle: IndexHandle):
        self.handle = handle

    def is_set(self) -> bool:
        return self.handle.cancelled.is_set() or self.handle.model_ref() is None


def _write_error(path: str, needed: int, exc: Exception) -> OSError:
    """The ``OSError`` a failed faiss write stands for: a full disk if it lacked the room."""
    try:
        st = os.statvfs(os.path.dirname(path))
        full = st.f_bavail * st.f_frsize < needed
    except OSError:
        full = False
    return OSError(errno.ENOSPC if full else errno.EIO, f"{exc} ({needed} bytes to write)")
