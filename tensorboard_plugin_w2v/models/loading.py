"""One entry point that turns any supported file into a gensim ``KeyedVectors``.

gensim's own files are memory-mapped (``mmap='r'``) where that is safe (see
:func:`may_memory_map`): a file rewritten in place while mapped (gensim's ``save`` truncates its
``.npy`` files) would kill the whole process with SIGBUS on the next read. Every failure becomes a
:class:`~tensorboard_plugin_w2v.errors.ModelLoadError` whose message a person understands. The
per-format readers are in :mod:`~tensorboard_plugin_w2v.models.readers`.

    >>> from tensorboard_plugin_w2v.models.loading import load_model
    >>> model = load_model("logs/run1/w2v.model")       # doctest: +SKIP
    >>> model.kv.most_similar("king", topn=3)            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import time
import zipfile
from typing import TYPE_CHECKING

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError
from tensorboard_plugin_w2v.io import fileio, formats, remote
from tensorboard_plugin_w2v.io.cachedir import default_cache_dir
from tensorboard_plugin_w2v.models import convert, readers, sanity
from tensorboard_plugin_w2v.models.model import PICKLE_REFUSED, LoadedModel, describe
from tensorboard_plugin_w2v.models.model import file_label as _label

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

__all__ = [
    "LoadedModel",
    "MMAP_ALWAYS",
    "MMAP_AUTO",
    "MMAP_NEVER",
    "MMAP_POLICIES",
    "PICKLE_REFUSED",
    "SETTLED_SECONDS",
    "load_model",
    "may_memory_map",
    "vocabulary_bytes",
]

logger = logging.getLogger(__name__)

MMAP_AUTO, MMAP_ALWAYS, MMAP_NEVER, MMAP_POLICIES = (
    md.MMAP_AUTO,
    md.MMAP_ALWAYS,
    md.MMAP_NEVER,
    md.MMAP_POLICIES,
)
# Under "auto", a logdir file is mapped once it and its sidecars have been unchanged this long.
SETTLED_SECONDS = 300.0


def load_model(
    path: str,
    format: str | None = None,
    *,
    metadata_path: str | None = None,
    tensor_shape: tuple[int, ...] | None = None,
    allow_pickle: bool = True,
    cache_dir: str | None = None,
    mmap_policy: str = MMAP_AUTO,
    group: lifecycle.ThreadGroup | None = None,
) -> LoadedModel:
    """Load ``path`` in any supported format (sniffed from its header when not given).

    ``mmap_policy`` says which logdir files may be memory-mapped (see :func:`may_memory_map`);
    private copies in ``cache_dir`` (remote files, converted word2vec files) always are.
    Background work the load starts (copies of remote files and private copies, a large model's
    norms, its vocabulary cache, later its prefix index) runs in ``group``'s threads (:data:`~tensorboard_plugin_w2v.lifecycle.LIBRARY` by default).
    """
    identity = _identity(path)
    format = format or _sniffed_format(path)
    if format in md.PICKLE_FORMATS and not allow_pickle:
        raise ModelLoadError(PICKLE_REFUSED)
    if format not in readers.READERS:
        raise ModelLoadError(f"unknown model format {format!r}")
    local, metadata_path, mmap = _local_source(
        path, identity, format, metadata_path, cache_dir, mmap_policy, group
    )
    sanity.check_size(local, format)
    unmapped = local == path and not mmap
    fresh = _fresh_read(path, identity, format, cache_dir, group) if unmapped else None
    try:
        model = readers.READERS[format](
            local,
            metadata_path=metadata_path,
            tensor_shape=tensor_shape,
            mmap=mmap,
            cache_dir=cache_dir,
            identity=identity,
            group=group,
            fresh=fresh,
        )
    except ModelLoadError:
        raise
    except Exception as exc:  # gensim and numpy raise many kinds; all mean an unusable file
        raise _load_error(exc, path, local, format) from None
    if fresh is not None:
        fresh.publish()  # its private copy, for the next load to map
    model.identity = identity
    model.group = group  # later work on the model (its prefix index) runs there too
    model.extra_bytes += vocabulary_bytes(model.kv)
    return model


def _identity(path: str) -> fileio.FileIdentity:
    try:
        return fileio.stat(path)
    except FileNotFoundError:
        raise ModelLoadError(f"file not found: {_label(path)}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read {_label(path)}: {exc.strerror or exc}") from None


def _sniffed_format(path: str) -> str:
    try:
        header = formats.sniff(path)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {_label(path)}: {exc.strerror or exc}") from None
    if header is None:
        raise ModelLoadError(f"{_label(path)} is not a word2vec model in any format this plugin reads")
    return header.format


def _local_source(
    path: str,
    identity: fileio.FileIdentity,
    format: str,
    metadata_path: str | None,
    cache_dir: str | None,
    mmap_policy: str,
    group: lifecycle.ThreadGroup | None = None,
) -> tuple[str, str | None, str | None]:
    """``(local file to read, local metadata file, mmap mode)``: remote files are copied into the
    cache folder, large local gensim files that may still change are served from a private copy."""
    if fileio.is_remote(path):
        cache = cache_dir or default_cache_dir()
        # listed by the copy job, which a request waits for at most --word2vec_remote_timeout
        extra = (lambda: fileio.sidecars(path)) if format in md.GENSIM_NATIVE_FORMATS else ()
        local = remote.local_copy(identity, cache, extra, group=group)
        if metadata_path:
            metadata_path = remote.local_copy(fileio.stat(metadata_path), cache, group=group)
        return local, metadata_path, "r"
    if may_memory_map(path, mmap_policy):
        return path, metadata_path, "r"
    local = path
    if format in md.GENSIM_NATIVE_FORMATS and cache_dir and _large(path):
        copied = convert.private_copy_path(path, identity, cache_dir)
        convert.wait_for_copies(target=copied)  # one being written for an earlier load: wait for it
        local = copied if os.path.exists(copied) else path  # else copied while it loads
    return local, metadata_path, "r" if local != path else None


def _load_error(exc: Exception, path: str, local: str, format: str) -> ModelLoadError:
    """What went wrong, in words a person understands."""
    native = format in md.GENSIM_NATIVE_FORMATS
    if isinstance(exc, KeyError):
        return ModelLoadError(f"{_label(path)}: the file is malformed (missing {exc})")
    if isinstance(exc, FileNotFoundError):
        missing = os.path.basename(exc.filename or str(exc))
        if missing == os.path.basename(local):
            return ModelLoadError(f"file not found: {_label(path)} (removed while loading)")
        return ModelLoadError(
            f"{_label(path)}: a file it needs is missing: {missing} (gensim saves large arrays in "
            "'.npy' files beside the model; copy them along with it)"
        )
    if isinstance(exc, MemoryError):
        return ModelLoadError(f"{_label(path)}: not enough memory to load this model")
    if isinstance(exc, (ModuleNotFoundError, AttributeError)) and native:
        import gensim

        return ModelLoadError(
            f"{_label(path)}: saved by a gensim version that gensim {gensim.__version__} cannot read "
            f"({describe(exc)})"
        )
    if isinstance(exc, UnicodeDecodeError) and not (native or format == md.FORMAT_FASTTEXT_BIN):
        return ModelLoadError(f"{_label(path)}: the file is not valid UTF-8 text where words should be")
    damage = next((words for kind, words in _DAMAGE if isinstance(exc, kind)), "truncated or malformed")
    return ModelLoadError(f"{_label(path)}: the file is {damage} ({describe(exc)})")


_DAMAGE = (
    ((EOFError, pickle.UnpicklingError, zipfile.BadZipFile, UnicodeDecodeError), "truncated or corrupt"),
    ((ModuleNotFoundError, AttributeError), "malformed"),
)


def may_memory_map(path: str, policy: str = MMAP_AUTO) -> bool:
    """Whether a logdir file may be memory-mapped rather than read into memory.

    ``always`` maps every gensim file (fastest cold start, least memory: for logdirs of
    finished models); ``never`` maps no logdir file (for logdirs where jobs rewrite files in
    place); ``auto`` maps files that have settled (unchanged for ``SETTLED_SECONDS``, so not a
    training job's latest save). A file that is not mapped is read into memory; a large one
    is also copied into the cache folder, for later loads to map (:class:`convert.FreshRead`).
    """
    if policy == MMAP_ALWAYS:
        return True
    if policy == MMAP_NEVER or fileio.is_remote(path):
        return False
    try:
        newest = max(os.stat(p).st_mtime for p in (path, *fileio.sidecars(path)))
    except OSError:
        return False
    return time.time() - newest >= SETTLED_SECONDS


def _large(path: str) -> bool:
    try:
        return sum(os.path.getsize(p) for p in (path, *fileio.sidecars(path))) >= convert.PRIVATE_COPY_MIN_BYTES
    except OSError:
        return False


def _fresh_read(
    path: str,
    identity: fileio.FileIdentity,
    format: str,
    cache_dir: str | None,
    group: lifecycle.ThreadGroup | None = None,
) -> convert.FreshRead | None:
    """A local gensim file that may not be mapped has its ``.npy`` sidecars read into memory
    while gensim unpickles it (:class:`convert.FreshRead`), never by gensim's own ``np.load``:
    that read into fresh numpy memory held up every request thread of the server for 0.3 s at
    160 MB. A large one is then copied into the cache for the next load to map."""
    if format not in md.GENSIM_NATIVE_FORMATS or fileio.is_remote(path):
        return None
    return convert.FreshRead(path, identity, cache_dir if _large(path) else None, group)


def vocabulary_bytes(kv: KeyedVectors, sample: int = 1000) -> int:
    """About how much memory a Python vocabulary holds (gensim's dict, its list, their strings
    and ints), so the memory budget counts it; 0 for a cached, memory-mapped one."""
    words = kv.index_to_key
    if not isinstance(words, list) or not words:
        return 0
    picked = words[:: max(1, len(words) // sample)]
    per_word = sum(map(sys.getsizeof, picked)) / len(picked) + sys.getsizeof(len(words))  # str + int
    return sys.getsizeof(kv.key_to_index) + sys.getsizeof(words) + int(per_word * len(words))
