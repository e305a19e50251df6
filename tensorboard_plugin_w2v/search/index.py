"""Approximate nearest-neighbour search for large models, built in the background and cached.

The index is a `usearch <https://github.com/unum-cloud/usearch>`_ HNSW graph over the model's
unit vectors, centred and stored as int8 (a quarter of the float32 matrix; see
:class:`Quantizer`), searched by Euclidean distance, which ranks unit vectors as cosine does. It
only proposes candidates: :mod:`queries` re-scores them with gensim's exact arithmetic on the
stored float32 vectors, so every similarity shown equals gensim's and int8 rounding costs no
recall. Built indexes are saved in the cache folder under the model file's identity (path,
size, modification time) and memory-mapped when reused, so a restarted server answers from
the index at once and only the pages it touches are resident.

    >>> manager = IndexManager(cache_dir="/tmp/w2v-cache")         # doctest: +SKIP
    >>> store.add_load_listener(manager.attach)                    # doctest: +SKIP
    >>> ids, sims = search(model, batch_of_vectors, k=10)          # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
import time
import weakref
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import housekeeping

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from tensorboard_plugin_w2v.models.loading import LoadedModel

logger = logging.getLogger(__name__)

LIBRARY = "usearch"
FORMAT_VERSION = 2
CONNECTIVITY = 16  # HNSW "M"
EXPANSION_ADD = 128  # HNSW "efConstruction": recall@10 at 1M × 300 is 1.000 (64: 0.963), build 1.4× longer
EXPANSION_SEARCH = 192  # HNSW "ef": recall@10 at 3M × 300 is 0.994 (128: 0.961, 256: 0.994 and 30% slower)
MIN_CANDIDATES = 64  # candidates re-scored exactly per query, at least
CANDIDATE_FACTOR = 3  # ... and at least this many per wanted answer
EXACT_MAX_CELLS = 50_000_000  # rows × dim up to which exact search stays the default
BUILD_BATCH = 32_768  # rows per insertion call (progress granularity)
BUILD_START_DELAY = 3.0  # seconds between a model's load and the start of its index build

STATE_EXACT = "exact"  # small model: exact search is fast, no index is built
STATE_UNAVAILABLE = "unavailable"  # usearch is not installed
STATE_QUEUED = "queued"
STATE_BUILDING = "building"
STATE_READY = "ready"
STATE_FAILED = "failed"
STATE_CANCELLED = "cancelled"


def available() -> bool:
    """True when the ANN library (usearch, the ``ann`` extra) can be imported."""
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def cache_key(identity: fileio.FileIdentity) -> str:
    """Name of a model version's index in the cache: its identity and the index parameters."""
    text = (
        f"{identity.path}|{identity.size}|{identity.mtime_ns}|"
        f"{LIBRARY}-v{FORMAT_VERSION}-M{CONNECTIVITY}-efc{EXPANSION_ADD}-i8"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


NORM_CHUNK_ROWS = 8_192  # rows per step: the squared temporary stays in the CPU cache (2× faster than 65,536)


class NormsJob:
    """The norms of every row, equal to gensim's ``np.linalg.norm(vectors, axis=1)``, in chunks.

    gensim squares the whole matrix into a temporary copy (3.6 GB for 3M × 300); the same
    formula applied to chunks gives identical values without it. Any thread may call
    :meth:`work` to help: the chunks are shared out until none is left, so a thread that needs
    the norms computes its share instead of waiting idle.
    """

    def __init__(self, vectors: np.ndarray, chunk_rows: int = NORM_CHUNK_ROWS):
        self.vectors = vectors
        self.chunk_rows = chunk_rows
        self.norms = np.empty(len(vectors), dtype=vectors.dtype)
        self._next = 0
        self._left = -(-len(vectors) // chunk_rows)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._error: BaseException | None = None
        if self._left == 0:
            self._done.set()

    def work(self) -> None:
        """Compute chunks until none is left to take."""
        while not self._done.is_set():
            with self._lock:
                start = self._next
                if start >= len(self.vectors):
                    return
                self._next += self.chunk_rows
            stop = start + self.chunk_rows
            try:
                self.norms[start:stop] = np.linalg.norm(self.vectors[start:stop], axis=1)
            except BaseException as exc:  # every waiter re-raises it
                self._error = exc
                self._done.set()
                raise
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def result(self) -> np.ndarray:
        """Help until every chunk is taken, wait for the others, and return the norms."""
        self.work()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self.norms


def row_norms(
    vectors: np.ndarray, chunk_rows: int = NORM_CHUNK_ROWS, threads: int | None = None
) -> np.ndarray:
    """Norms of every row, equal to gensim's ``np.linalg.norm(vectors, axis=1)``, on ``threads`` cores."""
    job = NormsJob(vectors, chunk_rows)
    chunks = -(-len(vectors) // chunk_rows)
    for _ in range(min(threads or os.cpu_count() or 1, chunks) - 1):  # the caller works too
        threading.Thread(target=job.work, name="w2v-norms", daemon=True).start()
    return job.result()


_pending_norms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_norms_guard = threading.Lock()


def ensure_norms(kv: KeyedVectors, chunk_rows: int = NORM_CHUNK_ROWS) -> np.ndarray:
    """Fill ``kv.norms`` as gensim's ``fill_norms`` would (see :class:`NormsJob`), once.

    Callers arriving while the norms are computed help compute them.
    """
    if kv.norms is not None:
        return kv.norms
    with _norms_guard:
        job = _pending_norms.get(kv)
        if job is None:
            job = _pending_norms[kv] = NormsJob(kv.vectors, chunk_rows)
    try:
        norms = job.result()
    except BaseException:
        with _norms_guard:
            if _pending_norms.get(kv) is job:
                del _pending_norms[kv]
        raise
    if kv.norms is None:
        kv.norms = norms
    return kv.norms


def start_norms(vectors: np.ndarray) -> NormsJob:
    """Start computing the norms of ``vectors`` in a background thread.

    Used on a memory map of a model's vectors opened while gensim is still unpickling the
    model (one thread: the unpickling keeps a core); the first query's thread joins in with
    :func:`ensure_norms` once the model is adopted (:func:`adopt_norms`).
    """
    job = NormsJob(vectors)
    threading.Thread(target=job.work, name="w2v-norms", daemon=True).start()
    return job


def adopt_norms(kv: KeyedVectors, pending: NormsJob) -> None:
    """Let :func:`ensure_norms` take ``kv``'s norms from ``pending`` (see :func:`start_norms`)."""
    with _norms_guard:
        if kv.norms is None and kv not in _pending_norms and pending.vectors.shape == kv.vectors.shape:
            _pending_norms[kv] = pending


def _unit_rows(kv: KeyedVectors, start: int, stop: int) -> np.ndarray:
    norms = kv.norms[start:stop]
    safe = np.where(norms > 0, norms, 1).astype(np.float32)
    return np.asarray(kv.vectors[start:stop], dtype=np.float32) / safe[:, None]


class Quantizer:
    """Maps unit vectors into int8's range without changing their cosine ranking.

    For unit vectors ``|u - q|² = 2 - 2 u·q``, and Euclidean distance ignores a common shift,
    so the index stores ``scale · (u - centre)`` and is queried with ``scale · (q - centre)``
    under the L2 metric. Subtracting the mean direction (which dominates many trained models)
    and scaling the remainder to ``[-1, 1]`` spends int8's 8 bits on what tells words apart.
    """

    def __init__(self, centre: np.ndarray, scale: float):
        self.centre = np.asarray(centre, dtype=np.float32)
        self.scale = float(scale)

    def __call__(self, unit: np.ndarray) -> np.ndarray:
        out = (np.asarray(unit, dtype=np.float32) - self.centre) * np.float32(self.scale)
        return np.clip(out, -1.0, 1.0, out=out)  # int8 holds [-1, 1] × 127

    @classmethod
    def fit(cls, kv: KeyedVectors, chunk_rows: int = 65_536, sample_rows: int = 65_536) -> Quantizer:
        """Centre = mean unit vector; scale = 1 / (largest centred component of a sample, plus margin)."""
        total = np.zeros(kv.vector_size, dtype=np.float64)
        for start in range(0, len(kv.vectors), chunk_rows):
            total += _unit_rows(kv, start, start + chunk_rows).sum(axis=0, dtype=np.float64)
        centre = (total / max(1, len(kv.vectors))).astype(np.float32)
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(len(kv.vectors), min(sample_rows, len(kv.vectors)), replace=False))
        norms = np.where(kv.norms[rows] > 0, kv.norms[rows], 1)
        biggest = float(np.max(np.abs(np.asarray(kv.vectors[rows]) / norms[:, None] - centre)))
        return cls(centre, 1.0 / max(biggest * 1.25, 1e-9))

    def to_json(self) -> dict:
        return {"centre": self.centre.tolist(), "scale": self.scale}

    @classmethod
    def from_json(cls, data: dict) -> Quantizer:
        return cls(np.array(data["centre"], dtype=np.float32), data["scale"])


class AnnIndex:
    """A built index: ``candidates(unit_queries, count)`` proposes row numbers per query."""

    def __init__(self, index, quantizer: Quantizer, path: str | None = None):
        self._index = index
        self.quantizer = quantizer
        self.path = path

    @property
    def nbytes(self) -> int:
        if self.path is not None:
            return os.path.getsize(self.path)
        return int(self._index.memory_usage)

    def candidates(self, unit_queries: np.ndarray, count: int, threads: int = 1) -> np.ndarray:
        """``len(unit_queries) × count`` row numbers, best first; ``-1`` pads missing ones."""
        q = self.quantizer(np.atleast_2d(unit_queries))
        found = self._index.search(q, count, threads=threads)
        keys = np.full((len(q), count), -1, dtype=np.int64)
        if not hasattr(found, "counts"):  # usearch answers one query with a plain Matches
            got = np.asarray(found.keys, dtype=np.int64)[:count]
            keys[0, : len(got)] = got
            return keys
        got = np.asarray(found.keys, dtype=np.int64).reshape(len(q), -1)
        for i, c in enumerate(np.asarray(found.counts).reshape(-1)):
            keys[i, :c] = got[i, :c]
        return keys

    @classmethod
    def open(cls, path: str, quantizer: Quantizer) -> AnnIndex:
        """Memory-map a saved index (read-only)."""
        from usearch.index import Index

        index = Index.restore(path, view=True)
        if index is None:
            raise ValueError(f"{path} is not a usearch index")
        index.expansion_search = EXPANSION_SEARCH
        return cls(index, quantizer, path)


class IndexHandle:
    """The index of one model version: its state, build progress, and the index once ready."""

    def __init__(self, key: str, rows: int, dim: int, state: str):
        self.key = key
        self.rows = rows
        self.dim = dim
        self.state = state
        self.done_rows = 0
        self.error: str | None = None
        self.from_cache = False
        self.build_seconds: float | None = None
        self.index: AnnIndex | None = None
        self.model_ref = None  # weak reference to the model being indexed (building reads it)
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
        if self.state == STATE_READY:
            out["from_cache"] = self.from_cache
            out["bytes"] = self.nbytes
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
    ):
        self.cache_dir = cache_dir
        self.exact_max_cells = exact_max_cells
        self.threads = threads
        self.batch_rows = batch_rows
        self._jobs: queue.Queue = queue.Queue()
        self._handles: weakref.WeakValueDictionary[str, IndexHandle] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closes_at_exit = False

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
        model.index = handle
        return handle

    def _new_handle(self, key: str, rows: int, dim: int, model: LoadedModel) -> IndexHandle:
        if rows * dim <= self.exact_max_cells:
            return IndexHandle(key, rows, dim, STATE_EXACT)
        if not available():
            return IndexHandle(key, rows, dim, STATE_UNAVAILABLE)
        handle = IndexHandle(key, rows, dim, STATE_QUEUED)
        saved = self._open_saved(handle)
        if saved is not None:
            handle.index, handle.from_cache, handle.done_rows = saved, True, rows
            handle._finish(STATE_READY)
            logger.info("reusing the saved index for %s", model.identity.path if model.identity else key)
            return handle
        handle.model_ref = weakref.ref(model)
        self._jobs.put(handle)
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="w2v-index-builder", daemon=True)
            self._worker.start()
            if not self._closes_at_exit:
                atexit.register(self.close)
                self._closes_at_exit = True
        return handle

    # -- cache files ----------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[str, str]:
        folder = os.path.join(self.cache_dir or "", "index")
        return os.path.join(folder, f"{key}.usearch"), os.path.join(folder, f"{key}.json")

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
            return AnnIndex.open(path, Quantizer.from_json(meta["quantizer"]))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None

    def _save(
        self, handle: IndexHandle, built, quantizer: Quantizer, model_path: str, source: dict | None
    ) -> AnnIndex:
        """Write the index (temp file + rename, then its metadata) and memory-map it back."""
        path, meta_path = self._paths(handle.key)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".usearch")
        os.close(fd)
        try:
            built.save(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is readable as the model is
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        meta = {
            "format": FORMAT_VERSION,
            "library": LIBRARY,
            "rows": handle.rows,
            "dim": handle.dim,
            "quantizer": quantizer.to_json(),
            "bytes": os.path.getsize(path),
            "build_seconds": handle.build_seconds,
            "model": model_path,
            "source": source,  # the model version it indexes (see housekeeping)
            "connectivity": CONNECTIVITY,
            "expansion_add": EXPANSION_ADD,
        }
        fileio.write_atomic(meta_path, json.dumps(meta, indent=1).encode())
        return AnnIndex.open(path, quantizer)

    # -- building -------------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Stop building (after the current batch) and wait for the builder thread to end.

        Registered to run at exit: a thread still inside usearch when Python shuts down would
        abort the whole process (SIGABRT) instead of letting it exit.
        """
        worker = self._worker
        if worker is None:
            return
        for handle in list(self._handles.values()):
            handle.cancel()
        self._jobs.put(None)
        worker.join(timeout)

    def _work(self) -> None:
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
        from usearch.index import Index

        # The model was just loaded for a query: let its first answers have the cores.
        handle.cancelled.wait(max(0.0, handle.created + BUILD_START_DELAY - time.monotonic()))
        model = handle.model_ref()
        if model is None or handle.cancelled.is_set():
            handle._finish(STATE_CANCELLED)
            return
        label = model.identity.path if model.identity else handle.key
        source = housekeeping.source_record(model.identity) if model.identity else None
        handle.state = STATE_BUILDING
        started = time.monotonic()
        ensure_norms(model.kv)
        quantizer = Quantizer.fit(model.kv)
        del model
        built = Index(
            ndim=handle.dim, metric="l2sq", dtype="i8", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD
        )
        logger.info("building the search index of %s (%d × %d)", label, handle.rows, handle.dim)
        reported = 0.0
        for start in range(0, handle.rows, self.batch_rows):
            model = handle.model_ref()
            if model is None or handle.cancelled.is_set():
                logger.info("stopped building the index of %s (model evicted)", label)
                handle._finish(STATE_CANCELLED)
                return
            stop = min(handle.rows, start + self.batch_rows)
            block = quantizer(_unit_rows(model.kv, start, stop))
            del model
            built.add(np.arange(start, stop, dtype=np.uint64), block, threads=self.threads)
            handle.done_rows = stop
            if stop / handle.rows - reported >= 0.1 or stop == handle.rows:
                reported = stop / handle.rows
                logger.info("index of %s: %d%% (%.0fs)", label, 100 * reported, time.monotonic() - started)
        handle.build_seconds = time.monotonic() - started
        built.expansion_search = EXPANSION_SEARCH
        index = AnnIndex(built, quantizer)
        if self.cache_dir:
            try:
                index = self._save(handle, built, quantizer, label, source)
            except OSError as exc:
                logger.warning(
                    "could not save the index of %s in the cache (%s); keeping it in memory", label, exc
                )
        handle.index = index
        handle._finish(STATE_READY)
        logger.info("index of %s ready in %.1fs", label, handle.build_seconds)


def search(
    model: LoadedModel, vectors: np.ndarray, k: int, exact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` rows by cosine similarity for each row of ``vectors`` (a batch of queries).

    Returns ``(rows, similarities)``, each ``len(vectors) × k``, best first. Uses the model's
    index when it is ready (candidates re-scored exactly), else an exact scan in chunks.
    Meant for batch work such as evaluation; nothing is excluded from the answers.
    """
    from tensorboard_plugin_w2v.analysis import queries

    kv = model.kv
    q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    q_norms = np.linalg.norm(q, axis=1, keepdims=True)
    q = q / np.where(q_norms > 0, q_norms, 1)
    index = None if exact else model.searcher()
    if index is not None:
        return queries.rescore_batch(
            kv, q, index.candidates(q, max(MIN_CANDIDATES, CANDIDATE_FACTOR * k), threads=0), k
        )
    return queries.exact_batch(kv, q, k)
