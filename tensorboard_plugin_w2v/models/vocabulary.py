"""Large vocabularies kept out of Python objects: a memory-mapped trie instead of gensim's dict.

gensim holds a vocabulary as ``key_to_index`` (a dict) and ``index_to_key`` (a list of str).
At 3M words that is about 400 MB of Python objects, rebuilt by unpickling at every start (most
of a cold start), and at 400k × 50 it is as large as the matrix itself. The first time a large
memory-mapped model is loaded, a background thread writes its words once into the cache folder
as a MARISA trie (``marisa-trie``) with two int arrays mapping trie ids to rows and back, beside
the word counts, the vector norms and what the listing shows. Every later load opens those files
as memory maps and maps the vectors from the model's own ``.npy`` sidecar: no unpickling, a few
MB of resident vocabulary. The sorted lower-cased words of :mod:`.prefix` are cached beside them,
for prefix search in frequency order. :class:`WordIndex` and :class:`WordList` stand in for
``key_to_index`` and ``index_to_key``, so gensim's methods run unchanged on the result.

    >>> kv, info = open_cached("/tmp/cache", fileio.stat("big.kv"), "big.kv.vectors.npy")  # doctest: +SKIP
    >>> kv.most_similar("king", topn=3)                                                   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import marisa_trie
import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import faults, vocabulary_writer
from tensorboard_plugin_w2v.models.norms import ensure_norms
from tensorboard_plugin_w2v.models.prefix import PrefixIndex, attach

logger = logging.getLogger(__name__)

VERSION = 3  # 3: the prefix index replaced the trie of lower-cased words
MIN_WORDS = 100_000  # smaller vocabularies unpickle in a fraction of a second: no cache
# The cache is written this long after the first load: building the tries holds the GIL for
# seconds at 3M words, and the model's first answers (and its norms) come first.
SAVE_DELAY_SECONDS = 5.0
INFO_NAME = "info.json"
_CHUNK = 65_536


class WordList(Sequence):
    """``index_to_key`` of a cached vocabulary: row → word, read from the trie."""

    def __init__(self, trie: marisa_trie.Trie, ids: np.ndarray):
        self._trie = trie
        self._ids = ids  # row → trie id

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, row):
        restore = self._trie.restore_key
        if isinstance(row, slice):
            return [restore(i) for i in self._ids[row].tolist()]
        return restore(int(self._ids[row]))

    def __iter__(self) -> Iterator[str]:
        restore = self._trie.restore_key
        for start in range(0, len(self._ids), _CHUNK):
            yield from (restore(i) for i in self._ids[start : start + _CHUNK].tolist())

    def __reduce__(self):  # copies and pickles of a model get a plain list
        return (list, (list(self),))


class WordIndex(Mapping):
    """``key_to_index`` of a cached vocabulary: word → row, looked up in the trie."""

    def __init__(self, trie: marisa_trie.Trie, rows: np.ndarray, words: WordList, prefix_index: PrefixIndex):
        self._trie = trie
        self._rows = rows  # trie id → row
        self._words = words
        self.prefix_index = prefix_index  # case-insensitive prefix search, most frequent first

    def _trie_id(self, key) -> int | None:
        if not isinstance(key, str) or "\0" in key:  # the trie would read "a\0b" as "a"
            return None
        try:
            return self._trie.get(key)
        except UnicodeEncodeError:  # lone surrogates: never a word of the vocabulary
            return None

    def __getitem__(self, key) -> int:
        found = self._trie_id(key)
        if found is None:
            raise KeyError(key)
        return int(self._rows[found])

    def get(self, key, default=None):
        found = self._trie_id(key)
        return default if found is None else int(self._rows[found])

    def __contains__(self, key) -> bool:
        return self._trie_id(key) is not None

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __reduce__(self):
        return (dict, (dict(self.items()),))


def cache_folder(cache_dir: str, identity: fileio.FileIdentity) -> str:
    """Where the vocabulary of one version of one model file is cached."""
    text = f"{identity.path}|{identity.size}|{identity.mtime_ns}|{identity.version}|vocab-v{VERSION}"
    return os.path.join(cache_dir, "vocab", hashlib.sha256(text.encode()).hexdigest()[:32])


def is_cached(cache_dir: str, identity: fileio.FileIdentity) -> bool:
    """Whether a vocabulary cache was written for this version (it may still be refused)."""
    return os.path.exists(os.path.join(cache_folder(cache_dir, identity), INFO_NAME))


def stamp(path: str) -> list[int]:
    """What the cache records of a vectors file to know it is still the same: size and mtime."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def mapped_files(cache_dir: str, identity: fileio.FileIdentity) -> list[str]:
    """The files of a cached vocabulary that :func:`open_cached` maps (all but its info);
    none if the folder is gone."""
    folder = cache_folder(cache_dir, identity)
    try:
        return [os.path.join(folder, name) for name in os.listdir(folder) if name != INFO_NAME]
    except OSError:
        return []


def open_cached(
    cache_dir: str,
    identity: fileio.FileIdentity,
    vectors_path: str,
    mmap: bool = True,
    read: Callable[[str], np.ndarray] | None = None,
) -> tuple[KeyedVectors, dict] | None:
    """The model rebuilt from its cached vocabulary and its vectors, with the saved info.

    The vectors are memory-mapped from ``vectors_path`` (or read into memory if ``mmap`` is
    false, by ``read`` when given); the cached files are always mapped, as nothing rewrites them. ``None`` when nothing
    usable is cached: never written, refused, or written for another version of the vectors.
    """
    folder = cache_folder(cache_dir, identity)
    try:
        with open(os.path.join(folder, INFO_NAME), encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        return None  # never written (or being written)
    except (OSError, ValueError) as exc:
        return _discard(folder, exc)
    if not isinstance(info, dict) or info.get("version") != VERSION or info.get("refused"):
        return None
    try:
        current = stamp(vectors_path)
    except OSError:
        return None  # the model's own vectors are unreadable: the caller's load says why
    if info.get("vectors") != current:  # written for vectors since replaced: write it anew
        return _discard(folder, "written for another version of the vectors file")
    try:
        vectors = read(vectors_path) if read is not None and not mmap else np.load(vectors_path, mmap_mode="r" if mmap else None)
    except (OSError, ValueError):
        return None
    try:
        if vectors.shape != (info["rows"], info["dim"]):
            return _discard(folder, f"written for vectors of another shape than {vectors.shape}")
        trie = marisa_trie.Trie()
        trie.mmap(os.path.join(folder, "words.marisa"))
        prefix_index = PrefixIndex.open(folder)
        # plain ndarray views of the maps: np.memmap's own indexing is several times slower
        ids = np.load(os.path.join(folder, "ids.npy"), mmap_mode="r").view(np.ndarray)
        rows = np.load(os.path.join(folder, "rows.npy"), mmap_mode="r").view(np.ndarray)
        norms = np.load(os.path.join(folder, "norms.npy"), mmap_mode="r").view(np.ndarray)
        counts = (
            np.load(os.path.join(folder, "counts.npy"), mmap_mode="r").view(np.ndarray)
            if info["counts"]
            else None
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # marisa: RuntimeError
        return _discard(folder, exc)
    if not (len(ids) == len(rows) == len(norms) == len(trie) == len(prefix_index) == info["rows"]):
        return _discard(folder, "its parts disagree on the number of words")
    kv = KeyedVectors(info["dim"], count=0, dtype=vectors.dtype)
    words = WordList(trie, ids)
    kv.index_to_key = words
    kv.key_to_index = WordIndex(trie, rows, words, prefix_index)
    kv.vectors = vectors
    kv.norms = norms
    if counts is not None:
        kv.expandos["count"] = counts
    return kv, info


def _discard(folder: str, reason) -> None:
    """Remove a cached vocabulary that cannot serve (damaged or outdated): the next load writes it
    again. Files another process still maps stay readable until it unmaps them."""
    logger.warning("removing the vocabulary cache %s: %s", folder, reason)
    shutil.rmtree(folder, ignore_errors=True)
    return None


def save(
    kv: KeyedVectors,
    cache_dir: str,
    identity: fileio.FileIdentity,
    info: dict,
    stop: threading.Event | None = None,
) -> bool:
    """Write ``kv``'s vocabulary, counts and norms into the cache; ``False`` if it cannot be.

    ``info["vectors"]`` is the :func:`stamp` of the ``.npy`` sidecar ``kv.vectors`` came from,
    taken before it was read. Vocabularies a trie cannot hold (words with NUL characters or lone
    surrogates) are recorded as refused, so later starts do not try again. When ``stop`` is set,
    the save ends at its next step with nothing written (``False``).
    """
    folder = cache_folder(cache_dir, identity)
    if os.path.exists(os.path.join(folder, INFO_NAME)):
        return True
    stopped = (lambda: stop.is_set()) if stop is not None else (lambda: False)
    started = time.monotonic()
    norms = np.asarray(ensure_norms(kv))  # first: a query waiting for them gets them sooner
    if stopped():
        return False
    words = kv.index_to_key
    info = {**info, "version": VERSION, "rows": len(words), "dim": int(kv.vector_size)}
    info["source"] = fileio.source_record(identity)
    counts = kv.expandos.get("count")
    info["counts"] = counts is not None
    try:
        with fileio.published_folder(folder, os.path.join(folder, INFO_NAME)) as tmp:
            try:
                # The tries are built by a child process: in this one they held the GIL for seconds.
                vocabulary_writer.write(tmp, words, counts, stopped)
            except InterruptedError:
                raise lifecycle.Stopped() from None
            np.save(os.path.join(tmp, "norms.npy"), norms)
            info["build_seconds"] = round(time.monotonic() - started, 6)  # weighed by the cache budget
            _write_json(os.path.join(tmp, INFO_NAME), info)  # last: its presence means complete
    except vocabulary_writer.Refused as exc:
        logger.info("vocabulary of %s not cached: %s", identity.path, exc)
        info["refused"] = str(exc)
        with fileio.published_folder(folder, os.path.join(folder, INFO_NAME)) as tmp:
            _write_json(os.path.join(tmp, INFO_NAME), info)
        return False
    except lifecycle.Stopped:  # the save's thread group closed: nothing is published
        return False
    return True


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


def worth_caching(kv: KeyedVectors) -> bool:
    """Large plain vocabularies (not fastText's, whose n-grams the cache does not hold)."""
    return (
        type(kv) is KeyedVectors and isinstance(kv.index_to_key, list) and len(kv.index_to_key) >= MIN_WORDS
    )


_saving: dict[str, threading.Thread] = {}
_saving_lock = threading.Lock()


def save_in_background(
    kv: KeyedVectors,
    cache_dir: str,
    identity: fileio.FileIdentity,
    info: dict,
    group: lifecycle.ThreadGroup | None = None,
) -> threading.Thread | None:
    """Start :func:`save` in a thread of ``group`` after ``SAVE_DELAY_SECONDS`` (once per folder
    at a time); the thread, or ``None``. Closing the group stops the save."""
    folder = cache_folder(cache_dir, identity)
    group = group or lifecycle.LIBRARY

    def run() -> None:
        try:
            if not group.sleep(SAVE_DELAY_SECONDS) and save(kv, cache_dir, identity, info, stop=group.stopping):
                faults.clear(identity, faults.KIND_VOCABULARY)
                attach(kv, PrefixIndex.open(folder, mapped=False))  # this process's queries use it too
        except Exception as exc:  # a full or read-only cache: the model keeps working without it
            if faults.is_cache_write_failure(exc):
                logger.warning("%s: %s", identity.path, faults.note(identity, faults.KIND_VOCABULARY, exc))
            else:
                logger.warning("could not cache the vocabulary of %s", identity.path, exc_info=True)
        finally:
            with _saving_lock:
                _saving.pop(folder, None)

    with _saving_lock:
        if folder in _saving or os.path.exists(os.path.join(folder, INFO_NAME)):
            return None
        thread = group.spawn(run, name="w2v-vocabulary")
        if thread is not None:
            _saving[folder] = thread
    return thread


def wait_for_saves(timeout: float | None = None) -> bool:
    """Wait until the vocabularies being cached are written (e.g. before a planned exit)."""
    with _saving_lock:
        threads = list(_saving.values())
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
