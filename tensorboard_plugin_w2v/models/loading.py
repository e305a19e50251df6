"""One entry point that turns any supported file into a gensim ``KeyedVectors``.

gensim's own files are memory-mapped (``mmap='r'``) where that is safe (see
:func:`may_memory_map`): a file rewritten in place while mapped (gensim's ``save`` truncates its
``.npy`` files) would kill the whole process with SIGBUS on the next read. Every failure becomes a
:class:`~tensorboard_plugin_w2v.errors.ModelLoadError` whose message a person understands.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gensim.models import FastText, KeyedVectors, Word2Vec

from tensorboard_plugin_w2v.models import convert
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.io import formats
from tensorboard_plugin_w2v.models import vocabulary
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError

logger = logging.getLogger(__name__)

EMPTY_LABEL = "<Empty Line>"
PICKLE_REFUSED = (
    "gensim's native format is a Python pickle, and this server refuses pickles "
    "(--word2vec_no_pickle); save the model with save_word2vec_format instead"
)


@dataclass
class LoadedModel:
    """A model ready for queries: its vectors, and what is known about how it was made."""

    kv: KeyedVectors
    format: str
    counts_known: bool = False
    training: dict | None = None
    extra_bytes: int = field(default=0, repr=False)
    identity: fileio.FileIdentity | None = field(default=None, repr=False)
    index: Any = field(default=None, repr=False)  # an index.IndexHandle, set by the IndexManager

    def searcher(self, exact: bool = False):
        """The ready ANN index to answer with, or ``None`` for an exact scan."""
        return None if exact or self.index is None else self.index.ready()

    @property
    def vocab_size(self) -> int:
        return len(self.kv.index_to_key)

    @property
    def dim(self) -> int:
        return int(self.kv.vector_size)

    @property
    def nbytes(self) -> int:
        """Bytes this model holds (memory-mapped pages and its search index included)."""
        index_bytes = self.index.nbytes if self.index is not None else 0
        return int(self.kv.vectors.nbytes) + self.extra_bytes + index_bytes


MMAP_AUTO = "auto"
MMAP_ALWAYS = "always"
MMAP_NEVER = "never"
MMAP_POLICIES = (MMAP_AUTO, MMAP_ALWAYS, MMAP_NEVER)
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
) -> LoadedModel:
    """Load ``path`` in any supported format (sniffed from its header when not given).

    ``mmap_policy`` says which logdir files may be memory-mapped (see :func:`may_memory_map`);
    private copies in ``cache_dir`` (remote files, converted word2vec files) always are.
    """
    try:
        identity = fileio.stat(path)
    except FileNotFoundError:
        raise ModelLoadError(f"file not found: {_label(path)}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read {_label(path)}: {exc.strerror or exc}") from None
    if format is None:
        try:
            header = formats.sniff(path)
        except OSError as exc:
            raise ModelLoadError(f"cannot read {_label(path)}: {exc.strerror or exc}") from None
        if header is None:
            raise ModelLoadError(f"{_label(path)} is not a word2vec model in any format this plugin reads")
        format = header.format
    if format in md.PICKLE_FORMATS and not allow_pickle:
        raise ModelLoadError(PICKLE_REFUSED)
    local = path
    map_logdir_file = not fileio.is_remote(path) and may_memory_map(path, mmap_policy)
    if fileio.is_remote(path):
        cache = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "tensorboard_plugin_w2v")
        extra = fileio.sidecars(path) if format in md.GENSIM_NATIVE_FORMATS else ()
        local = fileio.local_copy(identity, cache, extra)
        if metadata_path:
            metadata_path = fileio.local_copy(fileio.stat(metadata_path), cache)
    elif format in md.GENSIM_NATIVE_FORMATS and cache_dir and not map_logdir_file:
        # A large file that may still be rewritten in place: map a private copy instead.
        local = _private_copy_if_large(path, identity, cache_dir)
    mmap = "r" if local != path or map_logdir_file else None
    _check_size(local, format)
    try:
        model = _LOADERS[format](
            local,
            metadata_path=metadata_path,
            tensor_shape=tensor_shape,
            mmap=mmap,
            cache_dir=cache_dir,
            identity=identity,
        )
        model.identity = identity
        model.extra_bytes += vocabulary_bytes(model.kv)
        return model
    except ModelLoadError:
        raise
    except KeyError as exc:
        if format not in _LOADERS:
            raise ModelLoadError(f"unknown model format {format!r}") from None
        raise ModelLoadError(f"{_label(path)}: the file is malformed (missing {exc})") from None
    except FileNotFoundError as exc:
        missing = os.path.basename(exc.filename or str(exc))
        if missing == os.path.basename(local):
            raise ModelLoadError(f"file not found: {_label(path)} (removed while loading)") from None
        raise ModelLoadError(
            f"{_label(path)}: a file it needs is missing: {missing} (gensim saves large arrays in "
            "'.npy' files beside the model; copy them along with it)"
        ) from None
    except MemoryError:
        raise ModelLoadError(f"{_label(path)}: not enough memory to load this model") from None
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{_label(path)}: the file is truncated or corrupt ({_describe(exc)})") from None
    except (ModuleNotFoundError, AttributeError) as exc:
        if format in md.GENSIM_NATIVE_FORMATS:
            import gensim

            raise ModelLoadError(
                f"{_label(path)}: saved by a gensim version that gensim {gensim.__version__} cannot read "
                f"({_describe(exc)})"
            ) from None
        raise ModelLoadError(f"{_label(path)}: the file is malformed ({_describe(exc)})") from None
    except UnicodeDecodeError as exc:
        if format in md.GENSIM_NATIVE_FORMATS or format == md.FORMAT_FASTTEXT_BIN:
            raise ModelLoadError(
                f"{_label(path)}: the file is truncated or corrupt ({_describe(exc)})"
            ) from None
        raise ModelLoadError(
            f"{_label(path)}: the file is not valid UTF-8 text where words should be"
        ) from None
    except Exception as exc:  # gensim and numpy raise many kinds; all mean an unusable file
        raise ModelLoadError(
            f"{_label(path)}: the file is truncated or malformed ({_describe(exc)})"
        ) from None


def _check_size(path: str, format: str) -> None:
    """Refuse a file too short for what its header announces, before gensim acts on the header.

    gensim allocates arrays of the announced size up front (a 2 KB word2vec file whose header
    claims a billion words took 8 GB of memory before failing), and its fastText reader loops
    forever at the end of a file truncated inside the vocabulary.
    """
    if format not in _SIZED_FORMATS:
        return
    size = os.path.getsize(path)
    header = formats.sniff(path)
    if header is None or header.format != format or not header.dim or header.vocab_size is None:
        return
    if format == md.FORMAT_FASTTEXT_BIN:
        with open(path, "rb") as f:
            head = f.read(72)
        bucket = int.from_bytes(head[40:44], "little", signed=True)
        needed = 76 + (header.vocab_size + max(bucket, 0)) * header.dim * 4
    elif format == md.FORMAT_WORD2VEC_BINARY:
        needed = header.vocab_size * (header.dim * 4 + 2)
    else:  # text: each row holds a word and ``dim`` numbers, each with a separator
        needed = header.vocab_size * (header.dim * 2 + 2)
    if size < needed:
        raise ModelLoadError(
            f"{_label(path)}: the file is truncated or corrupt (its header announces "
            f"{header.vocab_size} words of {header.dim} dimensions, more than {size} bytes can hold)"
        )
    if format == md.FORMAT_FASTTEXT_BIN:
        _walk_fasttext_vocabulary(path)


def _walk_fasttext_vocabulary(path: str) -> None:
    """Walk a fastText ``.bin`` vocabulary as gensim will, but stop at the end of the file.

    gensim reads each word a byte at a time until a NUL, and ``read(1)`` returns ``b""`` forever
    at the end of a file: a vocabulary that announces more words than the file holds (truncated,
    or crafted) would pin a core and the model's load lock for good.
    """
    with open(path, "rb") as f:
        head = f.read(92)  # magic, version, 12 ints and a double, then size, nwords, nlabels,
        # ntokens and the pruned-index size
        if len(head) < 92:
            raise ModelLoadError(f"{_label(path)}: the file is truncated or corrupt (its header is cut)")
        words = int.from_bytes(head[64:68], "little", signed=True)
        buf, start, eof = b"", 0, False
        for _ in range(max(words, 0)):
            while True:
                nul = buf.find(b"\0", start)
                if nul >= 0 and len(buf) >= nul + 10:  # the word, its NUL, a count and a type byte
                    break
                if eof:
                    raise ModelLoadError(
                        f"{_label(path)}: the file is truncated or corrupt (it ends inside the "
                        f"vocabulary of {words} words its header announces)"
                    )
                chunk = f.read(1 << 20)
                eof = not chunk
                buf, start = buf[start:] + chunk, 0
            start = nul + 10


def may_memory_map(path: str, policy: str = MMAP_AUTO) -> bool:
    """Whether a logdir file may be memory-mapped rather than read into memory.

    ``always`` maps every gensim file (fastest cold start, least memory: for logdirs of
    finished models); ``never`` maps no logdir file (for logdirs where jobs rewrite files in
    place); ``auto`` maps files that have settled (unchanged for ``SETTLED_SECONDS``, so not a
    training job's latest save). A large file that is not mapped is served from a memory-mapped
    private copy in the cache folder; a small one is read into memory.
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


def _private_copy_if_large(path: str, identity: fileio.FileIdentity, cache_dir: str) -> str:
    """A large local gensim file is served from a private copy that can be memory-mapped."""
    try:
        if sum(os.path.getsize(p) for p in (path, *fileio.sidecars(path))) < convert.PRIVATE_COPY_MIN_BYTES:
            return path
        return convert.private_copy(path, identity, cache_dir)
    except OSError as exc:  # e.g. a full or read-only cache: read the logdir file into memory
        logger.warning("serving %s without a private copy (%s)", path, exc)
        return path


def _label(path: str) -> str:
    """How messages name a file: its base name (the listing shows where it is)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


PREFETCH_MIN_BYTES = 256 << 20  # vectors from this size get their norms computed while loading


def _early_norms(path: str, sidecar: str):
    """Start computing the norms of a large model's vectors from their ``.npy`` sidecar, if any."""
    from tensorboard_plugin_w2v.search.index import start_norms

    npy = f"{path}.{sidecar}.npy"
    try:
        if os.path.getsize(npy) < PREFETCH_MIN_BYTES:
            return None
        vectors = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return start_norms(vectors) if vectors.ndim == 2 else None


def _adopt_early_norms(kv: KeyedVectors, pending) -> None:
    if pending is not None:
        from tensorboard_plugin_w2v.search.index import adopt_norms

        adopt_norms(kv, pending)


def _load_gensim_model(
    path: str, cls, mmap: str | None = "r", cache_dir: str | None = None, identity=None, **_
) -> LoadedModel:
    fmt = md.FORMAT_GENSIM_FASTTEXT if cls is FastText else md.FORMAT_GENSIM_WORD2VEC
    if cls is Word2Vec:  # fastText models need their n-grams: never from the vocabulary cache
        cached = _cached_vocabulary(path, "wv.vectors", mmap, cache_dir, identity)
        if cached is not None:
            kv, info = cached
            return LoadedModel(kv, fmt, counts_known=info["counts"], training=info.get("training"))
    model, stamp, early = _unpickle(path, cls, "wv.vectors", mmap)
    if not isinstance(model, (Word2Vec, FastText)):
        raise ModelLoadError(
            f"{_label(path)}: expected a gensim {cls.__name__}, found {type(model).__name__}"
        )
    training = {a: _plain(getattr(model, a)) for a in md.TRAINING_ATTRIBUTES if hasattr(model, a)}
    kv = model.wv
    _check_vectors(path, kv)
    _adopt_early_norms(kv, early)
    if cls is Word2Vec:
        _cache_vocabulary_later(kv, stamp, cache_dir, identity, {"training": training})
    return LoadedModel(
        kv, fmt, counts_known="count" in kv.expandos, training=training, extra_bytes=_ngram_bytes(kv)
    )


def _load_keyedvectors(path: str, **kw) -> LoadedModel:
    kv, counts_known = _open_keyedvectors(path, **kw)
    return LoadedModel(
        kv, md.FORMAT_GENSIM_KEYEDVECTORS, counts_known=counts_known, extra_bytes=_ngram_bytes(kv)
    )


def _open_keyedvectors(
    path: str, mmap: str | None = "r", cache_dir: str | None = None, identity=None, **_
) -> tuple[KeyedVectors, bool]:
    """A saved ``KeyedVectors`` (from the vocabulary cache when it is there) and whether it has counts."""
    cached = _cached_vocabulary(path, "vectors", mmap, cache_dir, identity)
    if cached is not None:
        return cached[0], cached[1]["counts"]
    kv, stamp, early = _unpickle(path, KeyedVectors, "vectors", mmap)
    if not isinstance(kv, KeyedVectors):
        raise ModelLoadError(f"{_label(path)}: expected gensim KeyedVectors, found {type(kv).__name__}")
    _check_vectors(path, kv)
    _adopt_early_norms(kv, early)
    _cache_vocabulary_later(kv, stamp, cache_dir, identity, {})
    return kv, "count" in kv.expandos


def _unpickle(path: str, cls, suffix: str, mmap: str | None):
    """``(cls.load(path), stamp, early norms)``: the norms of the vectors' ``.npy`` sidecar are
    started while gensim unpickles; ``stamp`` is the sidecar's :func:`vocabulary.stamp`. Both are
    ``None`` when there is no sidecar, or when it changed while it was read (then neither the
    early norms nor a vocabulary cache may be trusted with it)."""
    before = _vectors_stamp(path, suffix)
    early = _early_norms(path, suffix) if mmap and before is not None else None
    loaded = cls.load(path, mmap=mmap)
    if before is None or _vectors_stamp(path, suffix) != before:
        return loaded, None, None
    return loaded, before, early


def _cached_vocabulary(path: str, suffix: str, mmap: str | None, cache_dir: str | None, identity):
    """``(kv, info)`` rebuilt from the vocabulary cache without unpickling, or ``None``."""
    if not cache_dir or identity is None:
        return None
    return vocabulary.open_cached(cache_dir, identity, f"{path}.{suffix}.npy", mmap=bool(mmap))


def _vectors_stamp(path: str, suffix: str) -> list[int] | None:
    try:
        return vocabulary.stamp(f"{path}.{suffix}.npy")
    except OSError:  # the vectors are inside the pickle: nothing the cache could map
        return None


def _cache_vocabulary_later(kv: KeyedVectors, stamp, cache_dir: str | None, identity, info: dict) -> None:
    """Write the vocabulary cache of a large model in the background, so the next start is fast."""
    if not cache_dir or identity is None or stamp is None or not vocabulary.worth_caching(kv):
        return
    vocabulary.save_in_background(kv, cache_dir, identity, {**info, "vectors": stamp})


def _load_word2vec_format(
    path: str, binary: bool, no_header: bool, fmt: str, cache_dir: str | None = None, identity=None, **_
) -> LoadedModel:
    if cache_dir and identity is not None and identity.size >= convert.CONVERT_MIN_BYTES:
        converted = convert.ensure_converted(path, identity, cache_dir, binary=binary, no_header=no_header)
        kv, _counts = _open_keyedvectors(converted, mmap="r", cache_dir=cache_dir, identity=identity)
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


def vocabulary_bytes(kv: KeyedVectors, sample: int = 1000) -> int:
    """About how much memory a Python vocabulary holds (gensim's dict, its list, their strings
    and ints), so the memory budget counts it; 0 for a cached, memory-mapped one."""
    words = kv.index_to_key
    if not isinstance(words, list) or not words:
        return 0
    picked = words[:: max(1, len(words) // sample)]
    per_word = sum(map(sys.getsizeof, picked)) / len(picked) + sys.getsizeof(len(words))  # str + int
    return sys.getsizeof(kv.key_to_index) + sys.getsizeof(words) + int(per_word * len(words))


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


_SIZED_FORMATS = frozenset(
    {md.FORMAT_FASTTEXT_BIN, md.FORMAT_WORD2VEC_BINARY, md.FORMAT_WORD2VEC_TEXT, md.FORMAT_FASTTEXT_VEC}
)

_LOADERS = {
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
