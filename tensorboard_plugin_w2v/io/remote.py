"""Copies of remote model files that are never corrupt and never make a request wait for long.

A remote file (``s3://``, any fsspec scheme) is copied once into the cache folder so gensim can
memory-map it. A store can fail in the middle of that copy: stop, answer errors, hang, or get a
new upload of the same object. So a copy

- runs in a background job shared by every request that needs it; a request waits at most
  ``timeout`` seconds for it and then gets :class:`~tensorboard_plugin_w2v.errors.StoreUnavailable`
  (HTTP 503) while the job goes on; the next request finds the finished copy, or the job's
  failure (reported once, then forgotten, so the request after that tries again);
- reads an ``s3://`` object with one ``GET`` bound to the ETag the model version was listed with
  (``If-Match``), so a new upload mid-copy fails the copy instead of mixing two versions; other
  schemes are re-checked (size) after the copy;
- writes into a locked temporary folder renamed into place only once every byte arrived (see
  :mod:`temporaries`): a copy cut short leaves nothing a later start would trust.

    >>> local = local_copy(fileio.stat("s3://b/run/vectors.bin"), "/tmp/cache", timeout=30)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import threading
import time

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.errors import StoreUnavailable
from tensorboard_plugin_w2v.io import fileio, oserrors, s3

logger = logging.getLogger(__name__)

COMPLETE_NAME = ".complete"
_CHUNK = 8 << 20


def copy_folder(identity, cache_dir: str) -> str:
    """Where the copy of one version of a remote file (and its sidecars) lives."""
    key = hashlib.sha256(
        f"{identity.path}|{identity.size}|{identity.mtime_ns}|{identity.version}".encode()
    ).hexdigest()
    return os.path.join(cache_dir, "remote", key[:32])


class _Job:
    def __init__(self):
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.result: str | None = None


_jobs: dict[str, _Job] = {}
_jobs_lock = threading.Lock()


def local_copy(
    identity,
    cache_dir: str,
    sidecars=(),
    timeout: float | None = None,
    group: lifecycle.ThreadGroup | None = None,
) -> str:
    """A local path holding this version of a remote file (see the module's docstring); ``sidecars``
    are the paths of its gensim ``.npy`` files, or a function listing them (called by the copy job,
    a thread of ``group``, :data:`~tensorboard_plugin_w2v.lifecycle.LIBRARY` by default: closing
    the group stops the copy)."""
    folder = copy_folder(identity, cache_dir)
    local = os.path.join(folder, posixpath.basename(identity.path))
    if os.path.exists(os.path.join(folder, COMPLETE_NAME)):
        with _jobs_lock:
            _jobs.pop(folder, None)
        return local
    timeout = s3.timeout_seconds if timeout is None else timeout
    with _jobs_lock:
        job = _jobs.get(folder)
        if job is None:
            group = group or lifecycle.LIBRARY
            job = _Job()
            args = (job, folder, identity, sidecars, group.stopping)
            if group.spawn(_run, name="w2v-remote-copy", args=args) is None:
                raise StoreUnavailable(f"{identity.path}: not copied, the server is closing", retry_after=1)
            _jobs[folder] = job
    if not job.done.wait(timeout):
        raise StoreUnavailable(
            f"{identity.path}: the store did not deliver the file within {timeout:g} s "
            "(--word2vec_remote_timeout); the copy goes on, try again shortly",
            retry_after=max(1, int(timeout)),
        )
    with _jobs_lock:
        if _jobs.get(folder) is job:
            del _jobs[folder]  # a failure is reported once: the next request tries again
    if job.error is not None:
        if isinstance(job.error, StoreUnavailable):
            raise job.error
        raise StoreUnavailable(
            f"{identity.path}: the store failed while the file was copied ({_describe(job.error)}); "
            "nothing was kept, try again",
            retry_after=1,
        )
    return job.result


def _run(job: _Job, folder: str, identity, sidecars, stop: threading.Event) -> None:
    started = time.monotonic()
    try:
        job.result = _copy(folder, identity, sidecars, stop)
        logger.info("copied %s into the cache in %.1fs", identity.path, time.monotonic() - started)
    except BaseException as exc:  # reported to the waiting requests
        logger.warning("copying %s failed: %s", identity.path, _describe(exc))
        if oserrors.is_disk_full(exc):
            exc = StoreUnavailable(
                f"{identity.path}: the cache folder is full, and a remote model is served from a "
                "local copy in it; make room there and try again",
                retry_after=60,
            )
        job.error = exc
    finally:
        job.done.set()


def _copy(folder: str, identity, sidecars, stop: threading.Event) -> str:
    started = time.monotonic()
    parts = [(identity.path, identity)]
    for src in sidecars() if callable(sidecars) else sidecars:
        parts.append((src, fileio.stat(src)))
    with fileio.published_folder(folder, os.path.join(folder, COMPLETE_NAME)) as tmp:
        for src, version in parts:
            _copy_one(src, version, os.path.join(tmp, posixpath.basename(src)), stop)
        for src, version in parts:  # a sidecar re-uploaded meanwhile would not match its model
            if fileio.stat(src) != version:
                raise StoreUnavailable(
                    f"{src} changed while it was copied; nothing was kept, try again", retry_after=1
                )
        fileio.write_source(tmp, identity, time.monotonic() - started)
        open(os.path.join(tmp, COMPLETE_NAME), "w").close()
    return os.path.join(folder, posixpath.basename(identity.path))


def _copy_one(src: str, version, dest: str, stop: threading.Event) -> None:
    """Copy one object into ``dest``: all of ``version``'s bytes, or an error (also when ``stop``
    is set: :class:`~tensorboard_plugin_w2v.lifecycle.Stopped`)."""
    written = 0
    with open(dest, "wb") as out:
        if src.startswith("s3://"):
            import botocore.exceptions

            bucket, key = s3.split(src)
            extra = {"IfMatch": version.version} if version.version else {}
            try:
                body = s3.client().get_object(Bucket=bucket, Key=key, **extra)["Body"]
                for chunk in body.iter_chunks(_CHUNK):
                    _check(stop, src)
                    out.write(chunk)
                    written += len(chunk)
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in ("PreconditionFailed", "412"):
                    raise StoreUnavailable(
                        f"{src} changed while it was copied; nothing was kept, try again", retry_after=1
                    ) from None
                raise OSError(f"{src}: {exc}") from None
            except (botocore.exceptions.BotoCoreError, ConnectionError) as exc:
                raise OSError(f"{src}: {exc}") from None
        else:
            with fileio.open_binary(src) as fin:
                for chunk in iter(lambda: fin.read(_CHUNK), b""):
                    _check(stop, src)
                    out.write(chunk)
            written = out.tell()
    if written != version.size:
        raise StoreUnavailable(
            f"{src}: {written} bytes arrived of {version.size} (cut short or changed); nothing was kept",
            retry_after=1,
        )


def _check(stop: threading.Event, src: str) -> None:
    if stop.is_set():
        raise lifecycle.Stopped(f"copying {src} was stopped: closing")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "…"


def with_deadline(func, timeout: float | None, what: str):
    """``func()`` in a daemon thread; its result, or ``TimeoutError`` after ``timeout`` seconds
    (the call goes on in the background). Used for remote listings, whose library has no timeout."""
    timeout = s3.timeout_seconds if timeout is None else timeout
    box: dict = {}
    done = threading.Event()

    def run():
        try:
            box["result"] = func()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"w2v-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"{what} did not finish within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["result"]
