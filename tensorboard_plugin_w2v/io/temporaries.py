"""Temporary files and folders that say whether their writer is still alive.

Every write of the plugin goes to a ``.tmp-…`` name first and is renamed into place when
complete. A process killed mid-write (SIGKILL, OOM killer, power loss) leaves that temporary
behind. To tell such leftovers from writes still going on in another process, a writer holds an
exclusive ``flock`` on the temporary file (or on a ``.writer`` file inside a temporary folder)
while it writes; the kernel releases the lock when the process dies, however it dies. A sweep
that can take the lock knows the writer is gone and removes the temporary at once, instead of
waiting hours to be sure. A ``.writer`` file is locked before it gets its name, so one that can
be locked is abandoned however young it is.

    >>> with claimed_folder("/tmp/cache/converted") as tmp:     # doctest: +SKIP
    ...     write_everything_into(tmp)
    >>> abandoned("/tmp/cache/converted/.tmp-k2j3")              # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; temporaries are then judged by age only
    fcntl = None

PREFIX = ".tmp-"
WRITER_NAME = ".writer"  # inside a temporary folder: the file its writer holds locked
WRITER_PREFIX = WRITER_NAME + "-"  # a writer file being created, locked, not yet renamed
# A temporary file is locked microseconds after it is created (and a folder's lock file named
# microseconds after the folder): never judge one younger than this.
MIN_AGE_SECONDS = 1.0
# A temporary nobody can vouch for (no lock file) is trusted to be dead after this long.
UNLOCKED_AGE_SECONDS = 6 * 3600
# A temporary folder keeps its lock file until it is renamed into place; one without it was left
# by an earlier version of the plugin, killed while it flushed the folder's files.
UNLOCKED_FOLDER_AGE_SECONDS = 600


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def claimed_file(folder: str, suffix: str = "") -> Iterator[tuple[int, str]]:
    """``(fd, path)`` of a new temporary file in ``folder``, locked until the block ends.

    The caller writes through ``fd`` (or opens ``path`` again) and renames ``path`` into place;
    whatever is left at ``path`` when the block ends (an exception, no rename) is removed.
    """
    os.makedirs(folder, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=folder, prefix=PREFIX, suffix=suffix)
    try:
        _lock(fd)
        yield fd, path
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@contextlib.contextmanager
def claimed_folder(parent: str) -> Iterator[str]:
    """A new temporary folder in ``parent`` whose ``.writer`` file is locked until the block ends.

    The folder is not removed by this context (callers rename it into place or remove it).
    """
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=PREFIX)
    with writer_lock(tmp):
        yield tmp


@contextlib.contextmanager
def writer_lock(folder: str) -> Iterator[str]:
    """Hold ``folder``'s ``.writer`` file locked until the block ends: while it is, :func:`abandoned`
    says the folder is being written. The file stays; its path is yielded, for the writer to
    remove once the folder is complete."""
    path = os.path.join(folder, WRITER_NAME)
    if os.path.exists(path) or fcntl is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except BaseException:
            os.close(fd)
            raise
    else:  # locked under another name, then named: a ``.writer`` nobody holds is never a new one
        fd, fresh = tempfile.mkstemp(dir=folder, prefix=WRITER_PREFIX)
        try:
            _lock(fd)
            os.rename(fresh, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(fresh)
            raise
    try:
        yield path
    finally:
        os.close(fd)


def writer_file(path: str) -> str:
    """The file whose lock tells whether the writer of the temporary ``path`` is alive."""
    return os.path.join(path, WRITER_NAME) if os.path.isdir(path) else path


def unclaimed(folder: str) -> bool:
    """Whether ``folder`` holds nothing but a writer file that never got its name: a writer
    killed between creating the folder and naming its lock file (or one doing that right now)."""
    return all(name.startswith(WRITER_PREFIX) for name in os.listdir(folder))


def abandoned(path: str, now: float | None = None) -> bool:
    """Whether the temporary at ``path`` was left by a writer that is gone.

    True when its writer's lock is free (its process ended) — for a temporary file, once it is
    older than a moment — or, for temporaries without a lock file, when it is older than
    ``UNLOCKED_AGE_SECONDS`` (a folder: see the constants above).
    """
    now = time.time() if now is None else now
    try:
        age = now - os.lstat(path).st_mtime
    except OSError:
        return False
    target = writer_file(path)
    folder = target != path
    try:
        if fcntl is None or not os.path.exists(target):
            if folder and unclaimed(path):  # killed between mkdtemp and naming its lock file
                return age > MIN_AGE_SECONDS
            if folder and fcntl is not None:  # left by a version that dropped it early
                return age > UNLOCKED_FOLDER_AGE_SECONDS
            return age > UNLOCKED_AGE_SECONDS
        # A temporary file is locked right after it is created: only that moment is ambiguous.
        if not folder and now - os.lstat(target).st_mtime < MIN_AGE_SECONDS:
            return False
    except OSError:
        return False
    try:
        fd = os.open(target, os.O_RDONLY)
    except OSError:
        return age > UNLOCKED_AGE_SECONDS
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live process is writing it
    except OSError:
        return age > UNLOCKED_AGE_SECONDS  # a file system without flock
    finally:
        os.close(fd)
    return True


def remove_path(path: str) -> None:
    """Remove a file, or a folder with everything in it (``OSError`` if that fails)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove(path: str) -> bool:
    """Remove a temporary file or folder; False if it was already gone or cannot be removed.

    A folder's writer file goes last: a sweep killed (or failing) midway leaves a folder that
    the next sweep still knows to be abandoned, where one without it would count as an older
    version's and be kept for ``UNLOCKED_FOLDER_AGE_SECONDS``."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for name in os.listdir(path):
                if name != WRITER_NAME:
                    remove_path(os.path.join(path, name))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(path, WRITER_NAME))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        return False
    return True


def sweep_folder(folder: str) -> list[str]:
    """Remove the abandoned temporaries directly inside ``folder``; the paths removed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [
        path
        for path in (os.path.join(folder, n) for n in sorted(names) if n.startswith(PREFIX))
        if abandoned(path) and remove(path)
    ]
