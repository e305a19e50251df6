"""One reader per format, each turning a local file into a :class:`LoadedModel`.

:func:`~tensorboard_plugin_w2v.models.loading.load_model` picks the reader (:data:`READERS`),
decides what may be memory-mapped and turns every failure into a message; the readers only read.
gensim's native files come from the vocabulary cache when it holds them (no unpickling); large
ones get their norms started while gensim unpickles them and their vocabulary cached afterwards.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
from gensim.models import FastText, KeyedVectors, Word2Vec
from gensim.utils import SaveLoad

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError
from tensorboard_plugin_w2v.io import prefetch, streamed, unpickling
from tensorboard_plugin_w2v.models import convert, deferred_index, faults, vocabulary
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.models.model import file_label as _label
from tensorboard_plugin_w2v.models.norms import adopt_norms, start_norms

logger = logging.getLogger(__name__)

EMPTY_LABEL = "<Empty Line>"
PREFETCH_MIN_BYTES = 256 << 20  # vectors from this size get their norms computed while loading
DEFER_MIN_WORDS = 100_000  # vocabularies from this size get their key_to_index after the load


def _early_norms(path: str, sidecar: str, group: lifecycle.ThreadGroup | None):
    """Start computing the norms of a large model's vectors from their ``.npy`` sidecar, if any."""
    npy = f"{path}.{sidecar}.npy"
    try:
        if os.path.getsize(npy) < PREFETCH_MIN_BYTES:
            return None
        vectors = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return start_norms(vectors, group) if vectors.ndim == 2 else None


def _adopt_early_norms(kv: KeyedVectors, pending) -> None:
    if pending is not None:
        adopt_norms(kv, pending)


def _load_gensim_model(
    path: str,
    cls,
    mmap: str | None = "r",
    cache_dir: str | None = None,
    identity=None,
    group=None,
    fresh: convert.FreshRead | None = None,
    **_,
) -> LoadedModel:
    fmt = md.FORMAT_GENSIM_FASTTEXT if cls is FastText else md.FORMAT_GENSIM_WORD2VEC
    if cls is Word2Vec:  # fastText models need their n-grams: never from the vocabulary cache
        cached = _cached_vocabulary(path, "wv.vectors", mmap, cache_dir, identity, fresh, group)
        if cached is not None:
            kv, info = cached
            return LoadedModel(kv, fmt, counts_known=info["counts"], training=info.get("training"))
    model, stamp, early = _unpickle(path, cls, "wv.vectors", mmap, group, fresh)
    if not isinstance(model, (Word2Vec, FastText)):
        raise ModelLoadError(
            f"{_label(path)}: expected a gensim {cls.__name__}, found {type(model).__name__}"
        )
    training = {a: _plain(getattr(model, a)) for a in md.TRAINING_ATTRIBUTES if hasattr(model, a)}
    kv = model.wv
    _check_vectors(path, kv)
    _adopt_early_norms(kv, early)
    if cls is Word2Vec:
        _cache_vocabulary_later(kv, stamp, cache_dir, identity, {"training": training}, group)
    return LoadedModel(
        kv, fmt, counts_known="count" in kv.expandos, training=training, extra_bytes=_ngram_bytes(kv)
    )


def _load_keyedvectors(path: str, **kw) -> LoadedModel:
    kv, counts_known = _open_keyedvectors(path, **kw)
    return LoadedModel(
        kv, md.FORMAT_GENSIM_KEYEDVECTORS, counts_known=counts_known, extra_bytes=_ngram_bytes(kv)
    )


def _open_keyedvectors(
    path: str,
    mmap: str | None = "r",
    cache_dir: str | None = None,
    identity=None,
    group=None,
    fresh: convert.FreshRead | None = None,
    **_,
) -> tuple[KeyedVectors, bool]:
    """A saved ``KeyedVectors`` (from the vocabulary cache when it is there) and whether it has counts."""
    cached = _cached_vocabulary(path, "vectors", mmap, cache_dir, identity, fresh, group)
    if cached is not None:
        return cached[0], cached[1]["counts"]
    kv, stamp, early = _unpickle(path, KeyedVectors, "vectors", mmap, group, fresh)
    if not isinstance(kv, KeyedVectors):
        raise ModelLoadError(f"{_label(path)}: expected gensim KeyedVectors, found {type(kv).__name__}")
    _check_vectors(path, kv)
    _adopt_early_norms(kv, early)
    _cache_vocabulary_later(kv, stamp, cache_dir, identity, {}, group)
    return kv, "count" in kv.expandos


def _unpickle(
    path: str, cls, suffix: str, mmap: str | None, group: lifecycle.ThreadGroup | None, fresh=None
):
    """``(cls.load(path), stamp, early norms)``, as gensim's ``SaveLoad.load`` in two steps.

    The pickle is read whole first (one read, before the matrix competes for the disk), then
    decoded while the early norms' thread reads and maps the matrix without the GIL (the
    decoding lets other threads have the GIL between frames: :mod:`~tensorboard_plugin_w2v.io.unpickling`;
    see :class:`~tensorboard_plugin_w2v.models.norms.MappedNormsJob`). ``stamp``
    is the vectors sidecar's :func:`vocabulary.stamp`. Both are ``None`` when there is no
    sidecar, or when it changed while it was read (then neither the early norms nor a
    vocabulary cache may be trusted with it). A ``fresh`` file's sidecars are read into memory
    instead of mapped, the vectors' one while the pickle is decoded (:class:`convert.FreshRead`)."""
    compress, subname = SaveLoad._adapt_by_suffix(path)
    if compress:  # compressed pickles are read through gensim's smart_open, never mapped
        return cls.load(path, mmap=None), None, None
    before = _vectors_stamp(path, suffix)
    early = fresh.prefetch(f"{path}.{suffix}.npy") if fresh is not None and before is not None else None
    data = streamed.read_file(path)  # not f.read(): see io.streamed
    if mmap and before is not None:
        early = _early_norms(path, suffix, group)
    try:
        loaded = _decode(data, _sidecar_rows(path, suffix), group, early)
    finally:
        if early is not None:
            early.unpickled()
    del data
    if fresh is not None:
        _load_specials_read(loaded, path, compress, subname, fresh)
    else:
        loaded._load_specials(path, mmap, compress, subname)
    if before is None or _vectors_stamp(path, suffix) != before:
        return loaded, None, None
    return loaded, before, early


def _decode(data, rows: int, group: lifecycle.ThreadGroup | None, early=None):
    """gensim's ``utils.unpickle`` of ``data``, yielding the GIL; a vocabulary of ``rows`` words
    from :data:`DEFER_MIN_WORDS` is decoded without its ``key_to_index``, which is built after
    the load (:mod:`.deferred_index`) once the ``early`` norms are computed: the first answers
    need only the list of words, the norms and the cores."""
    skipped = unpickling.without_key_index(data, rows) if rows >= DEFER_MIN_WORDS else None
    if skipped is not None:
        loaded = unpickling.loads(skipped, encoding="latin1")
        kv = getattr(loaded, "wv", loaded)
        words = getattr(kv, "index_to_key", None)
        if getattr(kv, "key_to_index", None) == {} and type(words) is list and len(words) == rows:
            deferred_index.defer(kv, group or lifecycle.LIBRARY, early.wait if early is not None else None)
            return loaded
        del loaded  # not the layout it seemed to be: decode it whole
    return unpickling.loads(data, encoding="latin1")


def _sidecar_rows(path: str, suffix: str) -> int:
    """The rows of the vectors' ``.npy`` sidecar, read from its header; 0 without one."""
    try:
        with open(f"{path}.{suffix}.npy", "rb") as f:
            shape = streamed.npy_header(f)[0]
    except (OSError, ValueError):
        return 0
    return int(shape[0]) if len(shape) == 2 else 0


def _load_specials_read(obj, fname: str, compress: bool, subname, fresh) -> None:
    """gensim's ``_load_specials`` (its recursion, ignored attributes, sparse matrices and each
    class's fix-ups of older versions, e.g. fastText's vectors rebuilt from their n-grams), with
    the ``.npy`` arrays it lists (``__numpys``) taken from ``fresh.array`` beforehand instead
    of loaded by it: their lists are emptied for the call and restored after.

    Only a ``KeyedVectors``' arrays are read: the arrays of the model around it (``syn1neg``,
    ``syn1``) serve further training only, which the plugin never does, so they are left out
    (``None``) rather than read into memory."""
    emptied: list[tuple[object, list[str]]] = []

    def attach(node, name: str) -> None:
        for attrib in getattr(node, "__recursive_saveloads", []):
            attach(getattr(node, attrib), f"{name}.{attrib}")
        numpys = list(getattr(node, "__numpys", []))
        keep = isinstance(node, KeyedVectors)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for attrib in numpys:
                setattr(node, attrib, fresh.array(subname(name, attrib)) if keep else None)
        emptied.append((node, numpys))
        setattr(node, "__numpys", [])

    try:
        attach(obj, fname)
        obj._load_specials(fname, None, compress, subname)
    finally:
        for node, numpys in emptied:
            setattr(node, "__numpys", numpys)


def _cached_vocabulary(
    path: str, suffix: str, mmap: str | None, cache_dir: str | None, identity, fresh=None, group=None
):
    """``(kv, info)`` rebuilt from the vocabulary cache without unpickling, or ``None``. A
    ``fresh`` file's vectors are read into memory (:class:`convert.FreshRead`), not mapped.

    Nothing of a mapped matrix or of the cache's arrays is read to open them, so their pages
    are brought in by a background thread at the lowest priority (:func:`prefetch.warm`)
    before the queries' random rows find them one by one."""
    if not cache_dir or identity is None:
        return None
    read = fresh.array if fresh is not None else None
    vectors = f"{path}.{suffix}.npy"
    cached = vocabulary.open_cached(cache_dir, identity, vectors, mmap=bool(mmap), read=read)
    if cached is not None:
        files = ([vectors] if mmap else []) + vocabulary.mapped_files(cache_dir, identity)
        group = group or lifecycle.LIBRARY
        group.spawn(prefetch.warm, name="w2v-model-prefetch", args=(files, group.stopping), nice=lifecycle.LOWEST)
    return cached


def _vectors_stamp(path: str, suffix: str) -> list[int] | None:
    try:
        return vocabulary.stamp(f"{path}.{suffix}.npy")
    except OSError:  # the vectors are inside the pickle: nothing the cache could map
        return None


def _cache_vocabulary_later(
    kv: KeyedVectors, stamp, cache_dir: str | None, identity, info: dict, group: lifecycle.ThreadGroup | None
) -> None:
    """Write the vocabulary cache of a large model in the background, so the next start is fast."""
    if not cache_dir or identity is None or stamp is None or not vocabulary.worth_caching(kv):
        return
    vocabulary.save_in_background(kv, cache_dir, identity, {**info, "vectors": stamp}, group)


def _load_word2vec_format(
    path: str,
    binary: bool,
    no_header: bool,
    fmt: str,
    cache_dir: str | None = None,
    identity=None,
    group=None,
    **_,
) -> LoadedModel:
    converted = None
    if cache_dir and identity is not None and identity.size >= convert.CONVERT_MIN_BYTES:
        try:
            converted = convert.ensure_converted(path, identity, cache_dir, binary=binary, no_header=no_header)
            faults.clear(identity, faults.KIND_CONVERSION)
        except OSError as exc:
            if not faults.is_cache_write_failure(exc):
                raise
            # The file is fine, the cache folder is not: parse the file itself (slower).
            logger.warning("%s: %s", path, faults.note(identity, faults.KIND_CONVERSION, exc))
    if converted is not None:
        kv, _counts = _open_keyedvectors(
            converted, mmap="r", cache_dir=cache_dir, identity=identity, group=group
        )
    else:
        kv = KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)
    _check_vectors(path, kv)
    return LoadedModel(kv, fmt)


def _load_fasttext_bin(path: str, **_) -> LoadedModel:
    from gensim.models.fasttext import load_facebook_vectors

    kv = load_facebook_vectors(path)
    return LoadedModel(
        kv, md.FORMAT_FASTTEXT_BIN, counts_known="count" in kv.expandos, extra_bytes=_ngram_bytes(kv)
    )


def _load_projector(
    path: str, metadata_path: str | None, tensor_shape, fmt: str, mmap: str | None = "r", **_
) -> LoadedModel:
    if not metadata_path:
        raise ModelLoadError(f"{_label(path)}: the embedding has no metadata file, so its rows have no words")
    if fmt == md.FORMAT_PROJECTOR_RAW:
        rows, dim = tensor_shape
        if mmap:
            vectors = np.memmap(path, dtype="<f4", mode="r", shape=(rows, dim))
        else:
            vectors = np.fromfile(path, dtype="<f4", count=rows * dim).reshape(rows, dim)
    else:
        try:
            vectors = np.loadtxt(path, dtype=np.float32, delimiter="\t", ndmin=2)
        except UnicodeDecodeError:
            if not tensor_shape or len(tensor_shape) != 2:
                raise
            need = tensor_shape[0] * tensor_shape[1] * 4
            raise ModelLoadError(
                f"{_label(path)}: the tensor is truncated or corrupt: not a TSV, and its "
                f"{os.path.getsize(path)} bytes are not the {need} bytes of a raw float32 tensor "
                f"of shape {list(tensor_shape)}"
            ) from None
    words = read_metadata_words(metadata_path)
    if len(words) != len(vectors):
        raise ModelLoadError(
            f"{_label(path)}: the metadata file has {len(words)} rows but the tensor has {len(vectors)}"
        )
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = _unique_words(words)
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    kv.vectors = vectors
    kv.norms = None
    return LoadedModel(kv, fmt)


def read_metadata_words(path: str) -> list[str]:
    """Word labels of a projector metadata TSV: one column (no header), else ``word``/``label``/first."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = [line.rstrip("\r").split("\t") for line in lines]
    if not rows or max(len(r) for r in rows) == 1:
        return [r[0] for r in rows]
    header = [h.strip().lower() for h in rows[0]]
    col = next((header.index(n) for n in ("word", "label") if n in header), 0)
    return [r[col] if col < len(r) else "" for r in rows[1:]]


def _unique_words(words: list[str]) -> list[str]:
    """Keys must be unique: a repeated label keeps its row, marked with the row number."""
    seen: set[str] = set()
    out = []
    for row, word in enumerate(words):
        key = word if word.strip() else EMPTY_LABEL
        if key in seen:
            key = f"{key} (row {row})"
        seen.add(key)
        out.append(key)
    return out


def _check_vectors(path: str, kv: KeyedVectors) -> None:
    vectors = kv.vectors
    if vectors.ndim != 2 or vectors.shape[0] != len(kv.index_to_key):
        raise ModelLoadError(
            f"{_label(path)}: {len(kv.index_to_key)} words but a vectors array of shape {vectors.shape}"
        )


def _ngram_bytes(kv: KeyedVectors) -> int:
    ngrams = getattr(kv, "vectors_ngrams", None)
    return int(ngrams.nbytes) if ngrams is not None else 0


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


READERS = {
    md.FORMAT_GENSIM_WORD2VEC: lambda p, **kw: _load_gensim_model(p, Word2Vec, **kw),
    md.FORMAT_GENSIM_FASTTEXT: lambda p, **kw: _load_gensim_model(p, FastText, **kw),
    md.FORMAT_GENSIM_KEYEDVECTORS: _load_keyedvectors,
    md.FORMAT_WORD2VEC_BINARY: lambda p, **kw: _load_word2vec_format(
        p, True, False, md.FORMAT_WORD2VEC_BINARY, **kw
    ),
    md.FORMAT_WORD2VEC_TEXT: lambda p, **kw: _load_word2vec_format(
        p, False, False, md.FORMAT_WORD2VEC_TEXT, **kw
    ),
    md.FORMAT_FASTTEXT_VEC: lambda p, **kw: _load_word2vec_format(
        p, False, False, md.FORMAT_FASTTEXT_VEC, **kw
    ),
    md.FORMAT_GLOVE_TEXT: lambda p, **kw: _load_word2vec_format(p, False, True, md.FORMAT_GLOVE_TEXT, **kw),
    md.FORMAT_FASTTEXT_BIN: _load_fasttext_bin,
    md.FORMAT_PROJECTOR_TSV: lambda p, **kw: _load_projector(p, fmt=md.FORMAT_PROJECTOR_TSV, **kw),
    md.FORMAT_PROJECTOR_RAW: lambda p, **kw: _load_projector(p, fmt=md.FORMAT_PROJECTOR_RAW, **kw),
}
