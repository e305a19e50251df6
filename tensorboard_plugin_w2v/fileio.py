"""The one file layer: local paths through ``os``, remote logdirs through TensorBoard's gfile.

TensorBoard's stub gfile (``tensorboard.compat.tensorflow_stub.io.gfile``) reads ``s3://``
through boto3 and any fsspec scheme (``gs://`` with gcsfs), whether or not TensorFlow is
installed, so remote paths always go through it. Models on remote storage are copied once
into a local cache folder so gensim can memory-map them.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tensorboard.compat.tensorflow_stub.io import gfile as _remote


def is_remote(path: str) -> bool:
    """True for URLs such as ``s3://bucket/key`` or ``gs://bucket/key``."""
    return "://" in path


@dataclass(frozen=True)
class FileIdentity:
    """What identifies one version of a file: a new size or mtime means a new version."""

    path: str
    size: int
    mtime_ns: int


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def dirname(path: str) -> str:
    return posixpath.dirname(path) if is_remote(path) else os.path.dirname(path)


def normpath(path: str) -> str:
    if is_remote(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}"
    return os.path.normpath(path)


def exists(path: str) -> bool:
    return _remote.exists(path) if is_remote(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _remote.isdir(path) if is_remote(path) else os.path.isdir(path)


def stat(path: str) -> FileIdentity:
    """Size and modification time (remote stores report size only)."""
    if is_remote(path):
        return FileIdentity(path, int(_remote.stat(path).length), 0)
    st = os.stat(path)
    return FileIdentity(path, st.st_size, st.st_mtime_ns)


def walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` for local and remote folders; symlinked folders are not followed."""
    if is_remote(top):
        yield from _remote.walk(top)
    else:
        yield from os.walk(top, followlinks=False)


def open_binary(path: str) -> IO[bytes]:
    return _remote.GFile(path, "rb") if is_remote(path) else open(path, "rb")


def read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a file (fewer if it is shorter)."""
    with open_binary(path) as f:
        return f.read(size)


def read_text(path: str) -> str:
    with open_binary(path) as f:
        return f.read().decode("utf-8")


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` so readers see either the old file or the whole new one."""
    if is_remote(path):
        # Object stores replace an object in one step when the upload completes.
        with _remote.GFile(path, "wb") as f:
            f.write(data)
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; others' TensorBoards must read it
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask cannot be read without setting it


def is_within(path: str, root: str) -> bool:
    """True if ``path`` (symlinks resolved, for local paths) lies inside ``root``."""
    if is_remote(path) or is_remote(root):
        p, r = normpath(path), normpath(root).rstrip("/")
        return p == r or p.startswith(r + "/")
    p, r = os.path.realpath(path), os.path.realpath(root)
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def local_copy(identity: FileIdentity, cache_dir: str, sidecars: tuple[str, ...] = ()) -> str:
    """A local path holding this version of a (possibly remote) file.

    Local files are returned as they are. Remote files, with their sidecar files (full paths
    of gensim's ``.npy`` files beside them), are downloaded once into ``cache_dir`` under a
    folder named after the file's identity.
    """
    if not is_remote(identity.path):
        return identity.path
    key = hashlib.sha256(f"{identity.path}|{identity.size}|{identity.mtime_ns}".encode()).hexdigest()
    folder = os.path.join(cache_dir, "remote", key[:32])
    local = os.path.join(folder, posixpath.basename(identity.path))
    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return local
    os.makedirs(folder, exist_ok=True)
    for src in (identity.path, *sidecars):
        dest = os.path.join(folder, posixpath.basename(src))
        with _remote.GFile(src, "rb") as fin, open(dest + ".part", "wb") as fout:
            shutil.copyfileobj(fin, fout, 8 << 20)
        os.replace(dest + ".part", dest)
    open(done, "w").close()
    return local


def sidecars(path: str) -> tuple[str, ...]:
    """gensim's ``<file>.<attribute>.npy`` arrays saved beside a native model."""
    pattern = path + ".*.npy"
    if is_remote(path):
        return tuple(_remote.glob(pattern))
    import glob as _glob

    return tuple(_glob.glob(_glob.escape(path) + ".*.npy"))
