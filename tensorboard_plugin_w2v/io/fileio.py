"""The one file layer: local paths through ``os``, remote logdirs through TensorBoard's gfile.

TensorBoard's stub gfile (``tensorboard.compat.tensorflow_stub.io.gfile``) reads ``s3://``
through boto3 and any fsspec scheme (``gs://`` with gcsfs), whether or not TensorFlow is
installed, so remote paths always go through it. Models on remote storage are copied once
into a local cache folder so gensim can memory-map them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import posixpath
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tensorboard.compat.tensorflow_stub.io import gfile as _remote

from tensorboard_plugin_w2v.io import temporaries


def is_remote(path: str) -> bool:
    """True for URLs such as ``s3://bucket/key`` or ``gs://bucket/key``."""
    return "://" in path


@dataclass(frozen=True)
class FileIdentity:
    """What identifies one version of a file: a new size or mtime means a new version."""

    path: str
    size: int
    mtime_ns: int
    version: str = ""  # an object store's ETag: a new upload of the same size is a new version

    @functools.cached_property  # every answer shows it (a frozen dataclass still has a __dict__)
    def tag(self) -> str:
        """A short name of this version, shown in every answer made from it."""
        text = f"{self.path}|{self.size}|{self.mtime_ns}|{self.version}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


SOURCE_NAME = "source.json"  # in a cache folder: the file version it was made from


def source_record(identity: FileIdentity) -> dict:
    """What a cache entry records of the file version it was made from (local paths are absolute,
    as :func:`stat` gives them: TensorBoards started in other folders share the cache)."""
    return {"path": identity.path, "size": identity.size, "mtime_ns": identity.mtime_ns}


def write_source(folder: str, identity: FileIdentity, seconds: float | None = None) -> None:
    """Record ``identity`` in a cache folder being written (and how long the entry took to
    make, which the cache budget weighs)."""
    record = source_record(identity)
    if seconds is not None:
        record["seconds"] = round(seconds, 6)  # microseconds: a small copy takes well under 1 ms
    with open(os.path.join(folder, SOURCE_NAME), "w", encoding="utf-8") as f:
        json.dump(record, f)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def dirname(path: str) -> str:
    return posixpath.dirname(path) if is_remote(path) else os.path.dirname(path)


def normpath(path: str) -> str:
    if is_remote(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}"
    return os.path.normpath(path)


def _remote_call(func, *args):
    """A call into the remote layer, whose failures (the stub's own ``OpError``s, botocore's
    errors for an unreachable or refusing store) become ``OSError``, which callers handle."""
    try:
        return func(*args)
    except OSError:
        raise
    except Exception as exc:
        raise OSError(f"{args[0] if args else ''}: {type(exc).__name__}: {exc}") from exc


def exists(path: str) -> bool:
    return _remote_call(_remote.exists, path) if is_remote(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _remote_call(_remote.isdir, path) if is_remote(path) else os.path.isdir(path)


def stat(path: str) -> FileIdentity:
    """Size and modification time (and ETag for ``s3://``; other remote stores report size only)."""
    if path.startswith("s3://"):
        return _s3_stat(path)
    if is_remote(path):
        return FileIdentity(path, int(_remote_call(_remote.stat, path).length), 0)
    st = os.stat(path)
    # Absolute: cache entries are keyed by it, and TensorBoard keeps a relative --logdir as given.
    return FileIdentity(os.path.abspath(path), st.st_size, st.st_mtime_ns)


def _s3_stat(path: str) -> FileIdentity:
    """The stub gfile's S3 ``stat`` reports the length only, so an object re-uploaded with the
    same size (a retrained model of the same vocabulary) would look unchanged; ask S3 (at
    ``S3_ENDPOINT``, as the stub does) for its modification time and ETag too."""
    import botocore.exceptions

    from tensorboard_plugin_w2v.io import s3

    bucket, key = s3.split(path)
    try:  # a client whose calls give up after --word2vec_remote_timeout
        head = s3.client().head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise FileNotFoundError(2, "no such object", path) from None
        raise OSError(f"cannot stat {path}: {exc}") from None
    except botocore.exceptions.BotoCoreError as exc:  # unreachable endpoint, bad credentials
        raise OSError(f"cannot stat {path}: {exc}") from None
    modified = head.get("LastModified")
    mtime_ns = int(modified.timestamp() * 1e9) if modified is not None else 0
    return FileIdentity(path, int(head["ContentLength"]), mtime_ns, str(head.get("ETag", "")))


def walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` for local and remote folders; symlinked folders are not followed."""
    if is_remote(top):
        walker = _remote_call(_remote.walk, top)
        while True:
            step = _remote_call(next, walker, None)
            if step is None:
                return
            yield step
    else:
        yield from os.walk(top, followlinks=False)


def open_binary(path: str) -> IO[bytes]:
    if is_remote(path):
        return _remote.GFile(path, "rb")
    if os.path.exists(path) and not os.path.isfile(path):
        # Opening a named pipe blocks until something writes to it; a device may never end.
        raise OSError(f"not a regular file: {path}")
    return open(path, "rb")


def read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a file (fewer if it is shorter)."""
    with open_binary(path) as f:
        return _remote_call(f.read, size) if is_remote(path) else f.read(size)


def read_text(path: str) -> str:
    with open_binary(path) as f:
        return (_remote_call(f.read) if is_remote(path) else f.read()).decode("utf-8")


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` so readers see either the old file or the whole new one."""
    if is_remote(path):
        # Object stores replace an object in one step when the upload completes.
        with _remote.GFile(path, "wb") as f:
            f.write(data)
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path beside local ``path``; what the block writes there replaces ``path`` in
    one step when the block completes (flushed to disk first, with the mode new files get under
    the umask), and is removed if the block fails. The one atomic write of the package.

    >>> with atomic_path("/tmp/w2v-example.txt") as tmp:                  # doctest: +SKIP
    ...     open(tmp, "w").write("complete or absent")
    """
    folder = os.path.dirname(os.path.abspath(path))
    # locked while written (see temporaries): a sweep tells a killed writer's leftover at once
    with temporaries.claimed_file(folder, suffix=os.path.basename(path)) as (_fd, tmp):
        yield tmp
        _settle(tmp, FILE_MODE)
        os.replace(tmp, path)


def _settle(path: str, mode: int) -> None:
    """Flush a file just written to disk and give it ``mode`` (mkstemp makes files 0600, mkdtemp
    folders 0700; others' TensorBoards sharing a cache or logdir must read them)."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(path, mode)


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask cannot be read without setting it
FILE_MODE = 0o666 & ~_UMASK  # files written atomically get what open() would give them
FOLDER_MODE = 0o777 & ~_UMASK


def is_within(path: str, root: str) -> bool:
    """True if ``path`` (symlinks resolved, for local paths) lies inside ``root``."""
    if is_remote(path) or is_remote(root):
        p, r = normpath(path), normpath(root).rstrip("/")
        return p == r or p.startswith(r + "/")
    p, r = os.path.realpath(path), os.path.realpath(root)
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def sidecars(path: str) -> tuple[str, ...]:
    """gensim's ``<file>.<attribute>.npy`` arrays saved beside a native model."""
    if is_remote(path):
        # The stub's S3 glob only understands one trailing '*' (it returns [] for '.*.npy').
        found = _remote_call(_remote.glob, path + ".*")
        return tuple(sorted(p for p in found if p.endswith(".npy") and "/" not in p[len(path) :]))
    import glob as _glob

    return tuple(_glob.glob(_glob.escape(path) + ".*.npy"))


def settle_folder(folder: str) -> None:
    """Flush the files just written into a temporary ``folder`` to disk and give them, and it,
    the modes :func:`atomic_path` gives: what :func:`published_folder` does before its rename,
    for writers that rename under a lock of their own (``log_model``)."""
    for name in os.listdir(folder):
        if name != temporaries.WRITER_NAME and os.path.isfile(os.path.join(folder, name)):
            _settle(os.path.join(folder, name), FILE_MODE)
    os.chmod(folder, FOLDER_MODE)


@contextlib.contextmanager
def published_folder(final: str, result: str) -> Iterator[str]:
    """A temporary folder beside ``final``, renamed to ``final`` when the block completes.

    Readers never see a half-filled folder: its files are flushed to disk (and given the modes
    :func:`atomic_path` gives) before the rename; a failed block leaves nothing behind; if another
    process published the same folder first (its ``result`` file exists), that one is kept.
    """
    parent = os.path.dirname(final)
    tmp = None
    try:
        with temporaries.claimed_folder(parent) as tmp:  # locked while written: see temporaries
            yield tmp
            settle_folder(tmp)
            try:
                # The lock file goes along: until the rename the folder always says whether its
                # writer lives (a writer killed while flushing leaves a folder sweeps remove).
                os.rename(tmp, final)
            except OSError:
                if not os.path.exists(result):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same work
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(final, temporaries.WRITER_NAME))
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
