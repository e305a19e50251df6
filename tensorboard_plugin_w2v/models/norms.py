"""Vector norms of a model, equal to gensim's, without gensim's whole-matrix temporary.

gensim's ``fill_norms`` is ``np.linalg.norm(vectors, axis=1)``, which squares the whole matrix
into a temporary copy (3.6 GB at 3M × 300). :class:`NormsJob` applies the same formula to
chunks, so the values are identical; any thread that needs the norms computes chunks too
instead of waiting idle. Each thread squares its rows into one small scratch buffer
(:func:`norms_into`), so no chunk allocates memory. This is the one place row norms are computed
(:mod:`~tensorboard_plugin_w2v.models.norms_child` runs it in a child process while a model decodes).

    >>> import numpy as np
    >>> v = np.array([[3, 4], [0, 0]], dtype=np.float32)
    >>> row_norms(v).tolist()
    [5.0, 0.0]
"""

from __future__ import annotations

import mmap
import os
import select
import subprocess
import sys
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import pages

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from tensorboard_plugin_w2v.io.streamed import StreamedNpy

NORM_CHUNK_ROWS = 8_192  # rows a thread takes at a time
SCRATCH_BYTES = 8 << 20  # squared rows held at once by each thread: they stay in the last-level cache


def norms_into(rows: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray | None:
    """``out[:] = np.linalg.norm(rows, axis=1)``, bit for bit, squaring the rows into ``scratch``
    (a flat buffer of ``rows``' dtype, allocated when ``None``) a few at a time; the scratch
    buffer to use next time.

    NumPy's norm of real rows copies them (``x.conj()``), squares them into a new array and sums
    each row (pairwise, along the contiguous row): two temporaries the size of the chunk, and past
    glibc's mmap threshold each is fresh memory whose every page faults. Here the same ufuncs run on
    rows that fit ``scratch``; anything else (complex or integer values, rows that are not
    C-contiguous, whose sums NumPy orders differently) takes ``np.linalg.norm`` itself.

    >>> v = np.array([[3, 4], [0, 0], [1, 0]], dtype=np.float32)
    >>> out = np.empty(3, np.float32); _ = norms_into(v, out, np.empty(2, np.float32)); out.tolist()
    [5.0, 0.0, 1.0]
    """
    if rows.dtype.kind != "f" or rows.ndim != 2 or not rows.flags.c_contiguous:
        out[:] = np.linalg.norm(rows, axis=1)
        return scratch
    dim = rows.shape[1]
    if scratch is None or scratch.dtype != rows.dtype or len(scratch) < dim:
        scratch = np.empty(max(dim, SCRATCH_BYTES // rows.dtype.itemsize), dtype=rows.dtype)
    step = len(scratch) // max(1, dim)
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        squares = scratch[: block.size].reshape(block.shape)
        np.multiply(block, block, out=squares)  # (x.conj() * x).real of real x
        target = out[start : start + len(block)]
        np.add.reduce(squares, axis=1, out=target)
        np.sqrt(target, out=target)
    return scratch


def finished_norms_into(rows: np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray | None:
    """:func:`norms_into`, computed aside and then copied, so ``out`` only ever holds finished
    norms: for shared norms that another process may be reading, or writing the same values
    into (a reduction's output holds zeros and partial sums until it is done, and one working
    in place took the square root of values copied in meanwhile)."""
    finished = np.empty(len(rows), dtype=out.dtype)
    scratch = norms_into(rows, finished, scratch)
    out[:] = finished
    return scratch


class NormsJob:
    """The norms of every row of ``vectors``, computed chunk by chunk by whichever threads help."""

    def __init__(self, vectors: np.ndarray, chunk_rows: int = NORM_CHUNK_ROWS):
        self.vectors = vectors
        self.chunk_rows = chunk_rows
        self.norms = np.empty(len(vectors), dtype=vectors.dtype)
        self._next = 0  # the first chunk no thread has taken
        self._end = len(vectors)  # ... and the end of those left (a child takes chunks from the last)
        self._left = -(-len(vectors) // chunk_rows)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._error: BaseException | None = None
        if self._left == 0:
            self._done.set()

    def work(self, stop: threading.Event | None = None) -> None:
        """Compute chunks until none is left to take (or until ``stop`` is set: a background
        helper leaves the rest to the threads that need the result)."""
        scratch = None  # this thread's, for every chunk it takes
        while not self._done.is_set() and not (stop is not None and stop.is_set()):
            with self._lock:
                start = self._next
                if start >= self._end:
                    return
                self._next += self.chunk_rows
            stop_row = min(start + self.chunk_rows, len(self.vectors))
            try:
                scratch = self._chunk_norms(start, stop_row, scratch)
            except BaseException as exc:  # every waiter re-raises it
                self._error = exc
                self._done.set()
                raise
            with self._lock:
                finished = self._count_chunk()
            if finished:
                self._finished()

    def _count_chunk(self) -> bool:
        """Count one more chunk computed (the lock held); whether it was the last."""
        self._left -= 1
        if self._left == 0:
            self._done.set()
        return self._left == 0

    def _finished(self) -> None:
        """Called once by the thread that computed the last chunk."""

    def _chunk_norms(self, start: int, stop: int, scratch: np.ndarray | None) -> np.ndarray | None:
        """Fill ``norms[start:stop]``; the scratch buffer for the next chunk."""
        return norms_into(self.vectors[start:stop], self.norms[start:stop], scratch)

    def unpickled(self) -> None:
        """The model these vectors belong to is decoded: the GIL is free for the norms now."""

    def background(self, stop: threading.Event | None = None) -> None:
        """A background helper's part: :meth:`work`, with a failure kept for :meth:`result`
        (re-raised in the thread that needs the norms), not raised into the helper's thread."""
        try:
            self.work(stop)
        except BaseException:  # noqa: BLE001 - kept in self._error by work()
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (without helping) until the norms are computed or failed; whether they are."""
        return self._done.wait(timeout)

    def result(self) -> np.ndarray:
        """Help until every chunk is taken, wait for the others, and return the norms."""
        self.work()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self.norms


class MappedNormsJob(NormsJob):
    """A :class:`NormsJob` over a memory map of a model gensim is still unpickling.

    Beside the unpickling, which holds the GIL most of the time, a thread here computing norms
    waited for the GIL at each of its NumPy calls: it computed a tenth of a 3M-word model's
    norms during the load and made the load 0.3 s slower (and handing the GIL over at every
    frame for it made the decoding slower still: :mod:`~tensorboard_plugin_w2v.io.unpickling`).
    So a child process computes them (:mod:`~tensorboard_plugin_w2v.models.norms_child`: a GIL
    of its own, the same file through the shared page cache, the same calls and so the same
    bits), from the last chunk to the first, into shared memory that is this job's
    :attr:`norms`; the background thread counts each chunk the child reports. Before that it has
    the kernel read and map the whole matrix in one call (``madvise(MADV_POPULATE_READ)``
    through ctypes, without the GIL), so the first query's pass over it takes no page faults.
    This process's threads take chunks from the first: the background thread once the model is
    decoded (:meth:`unpickled`), a query that needs the norms at once (its chunk mapped the same
    way first); where no child can run (no ``memfd``, a matrix not stored row by row) they
    compute every chunk. Chunks are ``PREFETCH_CHUNK_BYTES``, so the GIL changes hands rarely.
    """

    def __init__(self, vectors: np.ndarray):
        row_bytes = max(1, int(np.prod(vectors.shape[1:])) * vectors.dtype.itemsize)
        super().__init__(vectors, max(NORM_CHUNK_ROWS, PREFETCH_CHUNK_BYTES // row_bytes))
        self._populate = True
        self._decoded = threading.Event()
        self._child = self._start_child()

    def unpickled(self) -> None:
        """The model is decoded: the background thread computes the norms from now on."""
        self._decoded.set()

    def background(self, stop: threading.Event | None = None) -> None:
        """Read and map the whole matrix, take the child's chunks as it writes them, then
        compute what is left once the model is decoded."""
        if self._populate:
            self._populate = pages.populate_array(self.vectors)
        if self._child is not None:
            self._follow_child(stop)
        while not self._done.is_set() and not self._decoded.wait(STOP_POLL_SECONDS):
            if stop is not None and stop.is_set():
                return
        super().background(stop)

    def _start_child(self) -> subprocess.Popen | None:
        """Start :mod:`~tensorboard_plugin_w2v.models.norms_child` on this matrix's file, its
        norms shared through a ``memfd`` that becomes :attr:`norms`; ``None`` where it cannot
        run (no ``memfd``, a matrix that is not a plain 2-D float array of a file)."""
        vectors = self.vectors
        path = getattr(vectors, "filename", None)
        if not path or vectors.ndim != 2 or vectors.dtype.kind != "f" or not vectors.flags.c_contiguous:
            return None
        base = vectors
        while getattr(base, "base", None) is not None and isinstance(base.base, np.memmap):
            base = base.base  # a view: the file offset is its base's plus its own
        offset = int(getattr(base, "offset", 0)) + (vectors.ctypes.data - base.ctypes.data)
        try:
            fd = os.memfd_create("w2v-norms", os.MFD_CLOEXEC)
        except (AttributeError, OSError):
            return None
        try:
            os.ftruncate(fd, max(1, self.norms.nbytes))
            shared = mmap.mmap(fd, max(1, self.norms.nbytes))
            argv = [path, offset, *vectors.shape, vectors.dtype.str, self.chunk_rows, fd]
            child = subprocess.Popen(
                [sys.executable, "-m", "tensorboard_plugin_w2v.models.norms_child", *map(str, argv)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd,),
                env=lifecycle.child_environment(),
            )
        except (OSError, ValueError, subprocess.SubprocessError):  # no child: this process computes them
            return None
        finally:
            os.close(fd)
        self.norms = np.frombuffer(shared, dtype=vectors.dtype)[: len(vectors)]
        return child

    def _follow_child(self, stop: threading.Event | None) -> None:
        """Count each chunk the child has written, until the two ends meet, it exits, or
        ``stop`` is set (then it is killed; this process computes the rest)."""
        child, pending = self._child, b""
        try:
            fd = child.stdout.fileno()
            while not (stop is not None and stop.is_set()):
                if not select.select([fd], [], [], STOP_POLL_SECONDS)[0]:
                    continue
                data = os.read(fd, 4096)
                if not data:
                    return  # it exited
                *lines, pending = (pending + data).split(b"\n")
                if not all(self._child_wrote(int(line)) for line in lines):
                    return
        except (OSError, ValueError):  # a broken pipe or not a chunk number: compute the rest here
            pass
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
            self._child = None

    def _finished(self) -> None:
        """This process computed the last chunk: the child has nothing left to do (and the
        thread following it ends, letting its map of the matrix go)."""
        child = self._child
        if child is not None:
            child.kill()

    def _child_wrote(self, chunk: int) -> bool:
        """Count ``chunk`` as computed; whether the child has more to do."""
        start = chunk * self.chunk_rows
        with self._lock:
            if start < self._next:  # a thread here took it too: the two ends met
                return False
            self._end = min(self._end, start)
            return not self._count_chunk()

    def _chunk_norms(self, start: int, stop: int, scratch: np.ndarray | None) -> np.ndarray | None:
        if self._populate:
            self._populate = pages.populate_array(self.vectors[start:stop])  # unsupported (old kernel): plain faults from now on
        # Where the two ends meet, the child may be copying its norms of this very chunk into
        # the shared ones (a block of a 3M-word model's norms once came out wrong there).
        return finished_norms_into(self.vectors[start:stop], self.norms[start:stop], scratch)


PREFETCH_CHUNK_BYTES = 32 << 20
STOP_POLL_SECONDS = 0.1  # a waiting background thread notices its group closing this soon


class StreamedNormsJob(NormsJob):
    """A :class:`NormsJob` over a matrix being read into memory (:class:`~tensorboard_plugin_w2v.io.streamed.StreamedNpy`):
    each chunk waits until its rows are read, so the norms follow the reader."""

    def __init__(self, stream: StreamedNpy):
        super().__init__(stream.array)
        self.stream = stream

    def _chunk_norms(self, start: int, stop: int, scratch: np.ndarray | None) -> np.ndarray | None:
        self.stream.wait_rows(stop)
        return super()._chunk_norms(start, stop, scratch)


def row_norms(
    vectors: np.ndarray, chunk_rows: int = NORM_CHUNK_ROWS, threads: int | None = None
) -> np.ndarray:
    """Norms of every row, equal to gensim's ``np.linalg.norm(vectors, axis=1)``, on ``threads`` cores."""
    job = NormsJob(vectors, chunk_rows)
    chunks = -(-len(vectors) // chunk_rows)
    helpers = [
        threading.Thread(target=job.work, name="w2v-norms", daemon=True)
        for _ in range(min(threads or os.cpu_count() or 1, chunks) - 1)  # the caller works too
    ]
    for helper in helpers:
        helper.start()
    try:
        return job.result()
    finally:
        for helper in helpers:  # they end with the last chunk: none outlives the call
            helper.join()


def norms_of(kv: KeyedVectors, rows: np.ndarray) -> np.ndarray:
    """Norms of some rows of ``kv`` (from ``kv.norms`` when filled), equal to gensim's."""
    if kv.norms is not None:
        return kv.norms[rows]
    return np.linalg.norm(kv.vectors[rows], axis=1)


def model_norms(kv: KeyedVectors) -> np.ndarray:
    """``kv.norms`` if filled, else the same values computed in chunks (the model is left as it is)."""
    return kv.norms if kv.norms is not None else row_norms(kv.vectors)


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
    with _norms_guard:  # the job may hold a second memory map of the matrix (start_norms): let it go
        if _pending_norms.get(kv) is job:
            del _pending_norms[kv]
    return kv.norms


def start_norms(vectors: np.ndarray, group: lifecycle.ThreadGroup | None = None) -> NormsJob:
    """Start computing the norms of ``vectors`` in a background thread of ``group`` (reading
    a memory map's pages in large steps without the GIL: see :class:`MappedNormsJob`).

    Used on a memory map of a model's vectors opened while gensim is still unpickling the
    model (one thread: the unpickling keeps a core); a memory map's norms are computed by a
    child process meanwhile, and in this process only once told the unpickling has ended
    (:meth:`NormsJob.unpickled`; see :class:`MappedNormsJob`). The first query's thread
    joins in with :func:`ensure_norms` once the model is adopted (:func:`adopt_norms`). A
    closed group's thread stops after its current chunk; whoever needs the norms computes the rest.
    """
    job = MappedNormsJob(vectors) if isinstance(vectors, np.memmap) else NormsJob(vectors)
    return _in_background(job, group)


def start_streamed_norms(stream: StreamedNpy, group: lifecycle.ThreadGroup | None = None) -> NormsJob:
    """:func:`start_norms` for a matrix being read: the thread follows the reader."""
    return _in_background(StreamedNormsJob(stream), group)


def _in_background(job: NormsJob, group: lifecycle.ThreadGroup | None) -> NormsJob:
    group = group or lifecycle.LIBRARY
    group.spawn(job.background, name="w2v-norms", args=(group.stopping,), nice=lifecycle.LOADING)
    return job


def adopt_norms(kv: KeyedVectors, pending: NormsJob) -> None:
    """Let :func:`ensure_norms` take ``kv``'s norms from ``pending`` (see :func:`start_norms`)."""
    with _norms_guard:
        if kv.norms is None and kv not in _pending_norms and pending.vectors.shape == kv.vectors.shape:
            _pending_norms[kv] = pending


def unit_rows(kv: KeyedVectors, start: int, stop: int | None = None) -> np.ndarray:
    """Rows ``start…stop`` of ``kv`` (or the rows ``start`` lists, when ``stop`` is ``None``)
    divided by their norms (zero rows stay zero), as float32."""
    if stop is None:
        norms, out = kv.norms[start], np.asarray(kv.vectors[start], dtype=np.float32)  # a copy already
    else:
        norms, out = kv.norms[start:stop], np.array(kv.vectors[start:stop], dtype=np.float32)
    out /= np.where(norms > 0, norms, 1).astype(np.float32)[:, None]
    return out
