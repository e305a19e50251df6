"""A ``.npy`` file read into private memory (never memory-mapped), in a background thread.

A model file written a moment ago may be rewritten in place by the job that wrote it, and a
mapped page of a truncated file kills the process (SIGBUS), so such a file is read, not mapped.
:class:`StreamedNpy` reads it into anonymous memory with few, large system calls, which release
the GIL: gensim's unpickling of the vocabulary beside it needs the GIL most of the time for
seconds, and a reader that needed the GIL between small reads would wait for it at each one. The
page cache is dropped behind the reader (``RWF_DONTCACHE`` on Linux 6.14+, else
``posix_fadvise(DONTNEED)``), so the file's pages are not held twice: touching fresh memory is
what such a read costs most. Rows are announced as they arrive, so the norms can follow the
reader (:meth:`StreamedNpy.wait_rows`). While requests are being answered, each step's memory is
faulted in before it is read (:func:`_touch`). :func:`read_npy` and :func:`read_file` (a
pickle's bytes) read a file the same way in the calling thread, in place of ``np.load``: numpy
asks for transparent huge pages for its large arrays, and on a VM whose host backs them slowly,
the read into such fresh memory took 0.33 s instead of 0.08 s for 160 MB and held up the
server's other threads meanwhile (with 16 clients on the load test, their p99 rose from 60 to 95
ms while it ran once every 1.5 s; not at all with this memory).

    >>> stream = StreamedNpy("vectors.npy")        # doctest: +SKIP
    >>> threading.Thread(target=stream.run).start()  # doctest: +SKIP
    >>> stream.result().shape                        # doctest: +SKIP
    (3000000, 300)
"""

from __future__ import annotations

import errno
import io
import math
import mmap
import os
import threading

import numpy as np

from tensorboard_plugin_w2v import lifecycle

RWF_DONTCACHE = 0x80  # linux/fs.h (6.14+): read through the page cache and drop the pages after
FIRST_STEP_BYTES = 0x7FFFF000  # the most one read() returns on Linux: reads while the GIL is held elsewhere
STEP_BYTES = 256 << 20  # later reads: the norms follow the reader in steps this size
TOUCHED_STEP_BYTES = 16 << 20  # while requests are answered: reads this size, each faulted in first
HEADER_BYTES = 1 << 16  # more than any .npy header gensim or numpy writes
_FLAG_REFUSED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS}


def npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the header of the ``.npy`` file ``f`` is at the
    start of, leaving ``f`` at its data; ``ValueError`` if it is not one."""
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read_header(f)


class StreamedNpy:
    """One ``.npy`` file's array, in anonymous memory that :meth:`run` fills.

    Opening parses the header and reserves the memory (``OSError`` / ``ValueError`` for a file
    that is not a readable array); :attr:`array` is the array over that memory (its rows are
    valid once :meth:`wait_rows` says so), :attr:`raw` the file's bytes (header included).
    """

    def __init__(self, path: str):
        self.path = path
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            head = io.BytesIO(os.pread(fd, HEADER_BYTES, 0))
            shape, fortran, dtype = npy_header(head)
            if dtype.hasobject:
                raise ValueError(f"{path} holds Python objects, not numbers")
            status = os.fstat(fd)
            self.size, self.version = status.st_size, (status.st_ino, status.st_size, status.st_mtime_ns)
            offset, count = head.tell(), math.prod(shape)
            if offset + count * dtype.itemsize > self.size:
                raise ValueError(f"{path} is truncated: its header promises more than the file holds")
            self.raw = _anonymous_memory(max(self.size, 1))
            flat = np.frombuffer(self.raw, dtype=dtype, count=count, offset=offset)
            self.array = flat.reshape(shape, order="F" if fortran else "C")
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._offset, self._fortran = fd, offset, fortran
        self._row_bytes = dtype.itemsize * math.prod(shape[1:]) if shape else dtype.itemsize
        self._bytes_read = 0
        self._done = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    def run(self, stop: threading.Event | None = None) -> None:
        """Read the whole file (the background thread's part); errors are kept for the waiters."""
        try:
            self._read_all(stop)
        except BaseException as exc:  # every waiter re-raises it
            self._error = exc
        finally:
            os.close(self._fd)
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def _read_all(self, stop: threading.Event | None) -> None:
        for count in _fill(self._fd, self.raw, self.size, self.path, stop):
            with self._changed:
                self._bytes_read += count
                self._changed.notify_all()

    def unchanged(self) -> bool:
        """Whether the whole file was read and is still the version that was read."""
        try:
            status = os.stat(self.path)
        except OSError:
            return False
        done = self._done and self._error is None
        return done and (status.st_ino, status.st_size, status.st_mtime_ns) == self.version

    def rows_read(self) -> int:
        """How many leading rows are complete (all of them only at the end, for Fortran order)."""
        if self._fortran:
            return len(self.array) if self._done and self._error is None else 0
        return max(0, self._bytes_read - self._offset) // max(1, self._row_bytes)

    def wait_rows(self, stop_row: int) -> None:
        """Wait until rows ``0…stop_row`` are read; raises what stopped the read."""
        with self._changed:
            while not self._done and self.rows_read() < stop_row:
                self._changed.wait()
        if self._error is not None:
            raise self._error

    def result(self) -> np.ndarray:
        """The whole array, once read; raises what stopped the read."""
        with self._changed:
            while not self._done:
                self._changed.wait()
        if self._error is not None:
            raise self._error
        return self.array


def read_file(path: str) -> bytes | mmap.mmap:
    """The bytes of the file ``path`` (a pickle, say), read now into anonymous memory as a
    :class:`StreamedNpy` reads (``b""`` for an empty file); ``OSError`` if it cannot be read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if not size:
            return b""
        raw = _anonymous_memory(size)
        for _ in _fill(fd, raw, size, path, None):
            pass
        return raw
    finally:
        os.close(fd)


def _fill(fd: int, raw: mmap.mmap, size: int, path: str, stop: threading.Event | None):
    """Read the first ``size`` bytes of ``fd`` into ``raw`` with few, large system calls (GIL
    released), dropping the page cache behind; yields each step's byte count."""
    flags = RWF_DONTCACHE if hasattr(os, "preadv") else 0
    view = memoryview(raw)
    done = 0
    try:
        while done < size:
            if stop is not None and stop.is_set():
                raise lifecycle.Stopped(f"reading {path} was stopped")
            step = FIRST_STEP_BYTES if done == 0 else STEP_BYTES
            if lifecycle.DEMAND.lately():  # requests are being answered: fault the memory in first
                step = min(step, TOUCHED_STEP_BYTES)
                _touch(raw, done, min(done + step, size))
            piece = view[done : min(done + step, size)]
            try:
                count = _read_into(fd, piece, done, flags)
            except (OSError, NotImplementedError) as exc:  # NotImplementedError: no preadv2
                if flags and getattr(exc, "errno", errno.ENOSYS) in _FLAG_REFUSED:
                    flags = 0  # a kernel before 6.14: drop the pages after each read instead
                    continue
                raise
            finally:
                piece.release()
            if count == 0:
                raise ValueError(f"{path} is truncated: it shrank while it was read")
            if not flags and hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, done, count, os.POSIX_FADV_DONTNEED)
            done += count
            yield count
    finally:
        view.release()


def _read_into(fd: int, piece: memoryview, offset: int, flags: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [piece], offset, flags)
    os.lseek(fd, offset, os.SEEK_SET)  # no preadv (macOS before 11, Windows): a plain read
    with io.FileIO(fd, closefd=False) as f:
        return f.readinto(piece)


def _touch(raw: mmap.mmap, start: int, stop: int) -> None:
    """Fault the pages of ``raw[start:stop]`` in from user space (numpy's loop, without the GIL).
    A read() into memory not yet faulted in faults it from the kernel, which takes the
    process's memory-map lock for each page; while a host is slow to back fresh memory, the
    server's other threads then wait at their own mmap()/munmap() (new request threads' stacks,
    numpy's arrays): every request stood still for 0.2–0.5 s as a 160 MB file was read. A
    fault from user space locks only its own mapping."""
    if stop > start:
        np.frombuffer(raw, dtype=np.uint8, count=stop - start, offset=start)[:: mmap.PAGESIZE] = 0


def read_npy(path: str) -> np.ndarray:
    """The array of the ``.npy`` file ``path``, read now into anonymous memory (see above);
    ``OSError`` / ``ValueError`` for a file that is not a readable array."""
    stream = StreamedNpy(path)
    stream.run()
    return stream.result()


def _anonymous_memory(size: int) -> mmap.mmap:
    """``size`` bytes of private anonymous memory (not shared memory, whose pages cost more)."""
    private = getattr(mmap, "MAP_PRIVATE", None)
    if private is None:  # Windows
        return mmap.mmap(-1, size)
    return mmap.mmap(-1, size, flags=private | mmap.MAP_ANONYMOUS)
