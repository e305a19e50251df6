"""Reading a model file that may change while it is read, and telling whose fault a failure is.

A training job rewrites its files in place: gensim's ``save`` writes the ``.npy`` sidecars first
and the pickle last, truncating each before writing it. A load that overlaps a save may read the
new arrays with the old vocabulary, or half a file. :func:`read_steady` only accepts a load during
which neither the file nor its sidecars changed, and does not start one while a sidecar is newer
than its pickle (a save in progress, for a few seconds at most); otherwise it waits and reads again, and gives up with
:class:`~tensorboard_plugin_w2v.errors.StoreUnavailable` (HTTP 503: try again) if the file keeps
changing. :func:`load_classified` turns what escapes a load into the file's fault
(:class:`ModelLoadError`, 422, remembered until the file changes) or the storage's
(``StoreUnavailable``, never remembered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tensorboard_plugin_w2v.errors import ModelLoadError, StoreUnavailable
from tensorboard_plugin_w2v.io import fileio, formats
from tensorboard_plugin_w2v.models.discovery import SOURCE_FILE, ModelVersion
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.models.model import file_label as _label

logger = logging.getLogger(__name__)

READ_ATTEMPTS = 3  # reads of a file that keeps changing while it is read, before giving up (503)
# gensim writes a model's pickle right after its .npy files: a sidecar newer than its pickle for
# longer than this was rewritten on its own, not by a save still under way.
SAVE_GRACE_SECONDS = 5.0


def sidecar_identities(path: str) -> tuple[fileio.FileIdentity, ...]:
    """The identities of a local model's ``.npy`` sidecars (none for remote models: their local
    copies never change)."""
    if fileio.is_remote(path):
        return ()
    found = []
    for sidecar in fileio.sidecars(path):
        try:
            found.append(fileio.stat(sidecar))
        except OSError:
            pass
    return tuple(found)


def identity_now(path: str) -> fileio.FileIdentity | None:
    """The file's identity now; ``None`` if it is gone; 503 if storage does not answer."""
    try:
        return fileio.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnavailable(f"cannot read {path}: {exc}", retry_after=1) from None


def read_steady(
    version: ModelVersion, identity: fileio.FileIdentity, load: Callable[[ModelVersion], LoadedModel]
) -> tuple[LoadedModel, fileio.FileIdentity, tuple[fileio.FileIdentity, ...]]:
    """``load(version)`` with the file unchanged from start to end: ``(model, identity, sidecars)``."""
    for _attempt in range(READ_ATTEMPTS):
        identity = _after_save(version.path, identity)
        sidecars = sidecar_identities(version.path)
        try:
            model = load(version)
        except ModelLoadError:
            after = identity_now(version.path)
            if after is None or (after == identity and sidecar_identities(version.path) == sidecars):
                raise  # the file is what it was: its own fault
            identity = after  # it was being rewritten: read the new version
            continue
        after = identity_now(version.path)
        if after is None:
            raise ModelLoadError(f"file not found: {_label(version.path)} (removed while loading)")
        if after == identity and sidecar_identities(version.path) == sidecars:
            return model, identity, sidecars
        logger.info("%s changed while it was read; reading it again", version.path)
        identity = after
    raise StoreUnavailable(
        f"{_label(version.path)} kept changing while it was read (a job is rewriting it); try again",
        retry_after=1,
    )


def _after_save(path: str, identity: fileio.FileIdentity) -> fileio.FileIdentity:
    """Wait while a gensim save seems under way: a sidecar newer than its pickle, written in the
    last :data:`SAVE_GRACE_SECONDS` (older than that, it was rewritten on its own, on purpose)."""
    deadline = time.monotonic() + SAVE_GRACE_SECONDS
    while time.monotonic() < deadline:
        newest = max((s.mtime_ns for s in sidecar_identities(path)), default=0)
        if newest <= identity.mtime_ns or time.time_ns() - newest > SAVE_GRACE_SECONDS * 1e9:
            break
        logger.info("%s is being saved; waiting for the save to end", path)
        time.sleep(0.1)
        identity = identity_now(path) or identity
    return identity


def current_format(version: ModelVersion) -> str | None:
    """The format to read a file with: sniffed again for files found by their header, which may
    have been replaced by another format under the same name since the listing."""
    if version.source != SOURCE_FILE or fileio.is_remote(version.path):
        return version.format
    try:
        sniffed = formats.sniff(version.path)
    except OSError:
        return version.format
    if sniffed is not None and sniffed.format != version.format:
        logger.info("%s is now %s (was %s)", version.path, sniffed.format, version.format)
        return sniffed.format
    return version.format


def load_classified(version: ModelVersion, load: Callable[[str | None], LoadedModel]) -> LoadedModel:
    """``load(format)`` with every failure classified: the file's (422), the storage's (503)."""
    try:
        return load(current_format(version))
    except FileNotFoundError:
        raise ModelLoadError(f"file not found: {_label(version.path)} (removed while loading)") from None
    except OSError as exc:
        if fileio.is_remote(version.path):
            raise StoreUnavailable(f"the store cannot be read: {exc}", retry_after=1) from None
        raise ModelLoadError(f"cannot read {_label(version.path)}: {exc.strerror or exc}") from None
