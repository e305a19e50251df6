"""Ask the kernel to read and map a range of memory-mapped pages now, or whether they are in memory.

Linux's ``madvise(MADV_POPULATE_READ)`` (5.14+) faults every page of a range in (reading it
from disk first when it must) in one system call, which ctypes makes without holding the GIL.
Used by the norms of a freshly mapped matrix and by the prefetch of a reopened search index,
which also asks ``mincore`` which pieces of a file are in the page cache already (:func:`resident`).
``madvise(MADV_WILLNEED)`` (:func:`ask_for`) starts reading exactly the pages of given ranges
and returns at once, so many scattered pages are read in parallel, without the read-around a
page fault adds (this disk's 8 MB a fault).
:func:`drop` does the opposite, for benchmarks and tests that start from a cold page cache.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

import numpy as np

MADV_WILLNEED = 3  # linux/mman.h
MADV_POPULATE_READ = 22
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@functools.cache
def _madvise():
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):  # not a POSIX libc
        return None
    fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


def populate_range(address: int, length: int) -> int:
    """Populate ``length`` bytes from ``address`` (page-aligned); 0, or the ``errno`` of the refusal
    (``ENOSYS`` where there is no ``madvise``, ``EINVAL`` on kernels before 5.14)."""
    madvise = _madvise()
    if madvise is None:
        return errno.ENOSYS
    return 0 if madvise(address, length, MADV_POPULATE_READ) == 0 else ctypes.get_errno()


def ask_for(address: int, length: int) -> int:
    """Start reading the pages of ``length`` bytes from ``address`` (any alignment) into the page
    cache, without waiting and without read-around; 0, or the ``errno`` of the refusal."""
    madvise = _madvise()
    if madvise is None:
        return errno.ENOSYS
    start = address - address % PAGE
    return 0 if madvise(start, address + length - start, MADV_WILLNEED) == 0 else ctypes.get_errno()


def ask_for_rows(matrix: np.ndarray, rows: np.ndarray) -> None:
    """:func:`ask_for` the pages holding each of ``rows`` of a mapped C-ordered ``matrix``, in
    one call per run of rows sharing pages."""
    if matrix.ndim != 2 or not len(rows):
        return
    stride = matrix.strides[0]
    first = matrix.ctypes.data + np.sort(np.asarray(rows, dtype=np.int64)) * stride
    page_from, page_to = first // PAGE, (first + stride - 1) // PAGE
    # runs of rows whose pages touch or overlap are one range
    breaks = np.flatnonzero(page_from[1:] > page_to[:-1] + 1) + 1
    for lo, hi in zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(first)].tolist(), strict=True):
        ask_for(int(page_from[lo]) * PAGE, (int(page_to[hi - 1]) + 1 - int(page_from[lo])) * PAGE)


@functools.cache
def _mincore():
    try:
        fn = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte))
    fn.restype = ctypes.c_int
    return fn


def resident(address: int, length: int) -> bool | None:
    """Whether every page of a mapped range (page-aligned ``address``) is in memory, which for a
    file mapping means in the page cache (``mincore``); ``None`` where the kernel does not say."""
    mincore = _mincore()
    if mincore is None or length <= 0:
        return None
    vec = np.zeros((length + PAGE - 1) // PAGE, dtype=np.uint8)
    if mincore(address, length, vec.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))) != 0:
        return None
    return bool(np.bitwise_and(vec, 1).all())


def populate_array(rows) -> bool:
    """Populate the pages of a memory-mapped numpy array; whether the kernel did."""
    if rows.nbytes == 0:
        return False
    address = rows.ctypes.data
    start = address - address % PAGE
    return populate_range(start, address + rows.nbytes - start) == 0


def drop(path: str, offset: int = 0, length: int = 0) -> None:
    """Ask the kernel to drop ``length`` bytes of ``path`` from ``offset`` (0: to the end) out of
    the page cache (``posix_fadvise(DONTNEED)``, no root needed; dirty pages stay until written)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
