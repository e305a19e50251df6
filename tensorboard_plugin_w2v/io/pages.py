"""Ask the kernel to read and map a range of memory-mapped pages now, or whether they are in memory.

Linux's ``madvise(MADV_POPULATE_READ)`` (5.14+) faults every page of a range in (reading it
from disk first when it must) in one system call, which ctypes makes without holding the GIL.
Used by the norms of a freshly mapped matrix and by the prefetch of a reopened search index,
which also asks ``mincore`` which pieces of a file are in the page cache already (:func:`resident`).
:func:`drop` does the opposite, for benchmarks and tests that start from a cold page cache.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

import numpy as np

MADV_POPULATE_READ = 22  # linux/mman.h
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
