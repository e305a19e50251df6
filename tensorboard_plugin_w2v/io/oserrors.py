"""What an ``OSError`` means for a write: a file system out of room, or one that refuses writes.

    >>> import errno
    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
"""

from __future__ import annotations

import errno
import re

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
UNWRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
# numpy reports a short write without an errno ("Not enough free space to write N bytes",
# "N requested and M written").
_DISK_FULL_WORDS = ("no space left", "not enough free space", "disk quota exceeded", "file too large")
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def chain(exc: BaseException | None):
    """``exc`` and what caused it, outermost first."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means a file system ran out of room."""
    for e in chain(exc):
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(e, (OSError, MemoryError, ValueError)):
            text = str(e).lower()
            if any(w in text for w in _DISK_FULL_WORDS) or _SHORT_WRITE.search(text):
                return True
    return False


def unwritable(exc: BaseException) -> OSError | None:
    """The error of a file system that refuses writes (read-only, not permitted), if ``exc`` is one."""
    return next((e for e in chain(exc) if isinstance(e, OSError) and e.errno in UNWRITABLE_ERRNOS), None)
