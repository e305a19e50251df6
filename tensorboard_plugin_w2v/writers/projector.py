"""Write embeddings that TensorBoard's standard Projector shows, with words as labels, no TensorFlow.

A run directory gets ``projector_config.pbtxt`` naming each embedding's tensor (raw little-endian
float32 with ``tensor_shape``, or TSV where those bytes would decode as UTF-8 text, which the
Projector would try to parse as TSV), its metadata TSV, and an event file so TensorBoard lists
the run. Assets live under ``<run>/plugins/word2vec/projector/`` (inside the config's directory,
as TensorBoard 2.21 requires). Every write is atomic: the config is replaced in one step, and
files no longer named by it are removed afterwards.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> model = Word2Vec(common_texts, vector_size=8, min_count=1, seed=1, workers=1)
    >>> export_model(model, "logs/projector", name="common").shape   # doctest: +SKIP
    (12, 8)
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.errors import ModelLoadError
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.io.manifest import locked, safe_name
from tensorboard_plugin_w2v.models.loading import LoadedModel, load_model
from tensorboard_plugin_w2v.models.readers import EMPTY_LABEL
from tensorboard_plugin_w2v.writers.summary import ensure_event_file

logger = logging.getLogger(__name__)

# The Projector's browser code loads the first 100,000 points only.
PROJECTOR_POINT_LIMIT = md.PROJECTOR_POINT_LIMIT
ASSETS_DIR = f"{md.PLUGIN_DIR}/projector"
UNUSED_LABEL = "<unused>"
RAW_TENSOR_NAME = "tensor.bytes"
TSV_TENSOR_NAME = "tensor.tsv"
METADATA_NAME = "metadata.tsv"
# Characters that would split a label over two TSV cells or lines, and what shows them instead.
_VISIBLE = str.maketrans({"\t": "\u2409", "\n": "\u2424", "\r": "\u240d"})
# Python's whitespace plus the BOM, which the browser's String.trim() also strips.
_BLANK = re.compile(r"[\s\ufeff]*")
_CHUNK_ROWS = 10_000
# The Projector puts tensor names into its URLs unencoded: a "+" arrives as a space and "&",
# "#", "%" cut or garble the name. Each is written as its full-width look-alike instead.
_URL_UNSAFE = str.maketrans({"+": "\uff0b", "&": "\uff06", "#": "\uff03", "%": "\uff05"})
_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Export:
    """What one export wrote: absolute paths, and the tensor's shape."""

    run_dir: str
    tensor_name: str
    config_path: str
    tensor_path: str
    metadata_path: str
    shape: tuple[int, int]
    raw: bool


def keyed_vectors(model: Any) -> KeyedVectors:
    """The ``KeyedVectors`` of a gensim model, ``KeyedVectors``, ``LoadedModel`` or model path.

    A path is loaded with :func:`~tensorboard_plugin_w2v.models.loading.load_model` (any format the
    plugin reads); a failure raises :class:`~tensorboard_plugin_w2v.errors.ModelLoadError`.
    """
    if isinstance(model, KeyedVectors):
        return model
    if isinstance(model, LoadedModel):
        return model.kv
    if isinstance(getattr(model, "wv", None), KeyedVectors):
        return model.wv
    if isinstance(model, (str, os.PathLike)):
        return load(os.fspath(model)).kv
    raise TypeError(
        f"expected a gensim Word2Vec, FastText or KeyedVectors, or a model path; got {type(model).__name__}"
    )


def load(path: str) -> LoadedModel:
    """:func:`load_model`, with every unreadable path reported as a ``ModelLoadError``."""
    if os.path.isdir(path):
        raise ModelLoadError(f"{path} is a directory, not a model file")
    try:
        return load_model(path)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def clean_label(word: Any) -> str:
    """A word as one Projector metadata cell: never blank, never more than one cell or line.

    >>> [clean_label(w) for w in ["king", "", "  ", "new\\tyork", "a\\nb"]]
    ['king', '<Empty Line>', '<Empty Line>', 'new␉york', 'a␤b']
    """
    text = str(word)
    if _BLANK.fullmatch(text):
        return EMPTY_LABEL
    return text.translate(_VISIBLE)


def projector_safe_name(name: str) -> str:
    """``name`` with the characters the Projector's URLs cannot carry (``+ & # %``) replaced
    by their full-width look-alikes, and tabs and line breaks shown as symbols.

    >>> projector_safe_name("c++ & c# (100%)")
    'c＋＋ ＆ c＃ (100％)'
    """
    return str(name).translate(_URL_UNSAFE).translate(_VISIBLE)


def labels_from(word2idx_or_words: Mapping[str, int] | Iterable[Any]) -> list[str]:
    """Row labels, row ``i`` first: from a ``{word: index}`` mapping or from words in row order.

    Indices a mapping leaves out (row 0 of a 1-based Keras tokenizer index, say) are labelled
    ``<unused>``, so labels stay aligned with the matrix rows.
    """
    if isinstance(word2idx_or_words, Mapping):
        for word, index in word2idx_or_words.items():
            if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0:
                raise ValueError(f"index of {word!r} must be a non-negative int, got {index!r}")
        size = max(word2idx_or_words.values(), default=-1) + 1
        labels: list[str | None] = [None] * size
        for word, index in word2idx_or_words.items():
            if labels[index] is not None:
                raise ValueError(f"words {labels[index]!r} and {word!r} share index {index}")
            labels[index] = str(word)
        return [UNUSED_LABEL if w is None else w for w in labels]
    return [str(w) for w in word2idx_or_words]


def metadata_tsv(labels: Iterable[Any]) -> str:
    """A one-column metadata TSV (no header, as the Projector expects), one cleaned label a row."""
    return "".join(clean_label(w) + "\n" for w in labels)


def write_metadata(word2idx_or_words: Mapping[str, int] | Iterable[Any], path: str) -> None:
    """Write a Projector metadata TSV whose rows match the matrix rows, atomically.

    >>> write_metadata({"_PAD": 0, "king": 1, "": 2}, "logs/run/metadata.tsv")  # doctest: +SKIP
    """
    text = metadata_tsv(labels_from(word2idx_or_words))
    fileio.write_atomic(path, text.encode("utf-8", "backslashreplace"))


def tensor_tsv(vectors: np.ndarray) -> str:
    """Vectors as the Projector's tensor TSV: one row a line, tab-separated, float32 round-trip exact."""
    out = io.StringIO()
    _write_tsv_rows(out, np.asarray(vectors, dtype=np.float32))
    return out.getvalue()


def projector_tsvs(
    model: Any, words: Sequence[str] | None = None, limit: int | None = None
) -> tuple[str, str]:
    """``(tensor_tsv, metadata_tsv)`` for the Projector's "Load" dialog.

    ``words`` picks rows (unknown words raise :class:`~tensorboard_plugin_w2v.errors.NotFound`);
    otherwise the ``limit`` most frequent words, or all.

    >>> tensor, meta = projector_tsvs(model, ["computer", "system"])   # doctest: +SKIP
    """
    kv = keyed_vectors(model)
    vectors, labels = _rows(kv, words, limit)
    return tensor_tsv(vectors), metadata_tsv(labels)


def export_model(
    model: Any,
    run_dir: str,
    name: str | None = None,
    limit: int | None = None,
    progress: bool | None = None,
) -> Export:
    """Export a model into ``run_dir`` for the Projector, replacing this package's earlier exports there.

    ``limit`` keeps the most frequent words (the Projector loads 100,000 points at most);
    ``progress`` shows a progress bar (default: on a terminal, for large models). Embeddings
    that other tools put in the run's config are kept.

    >>> export_model("vectors.bin", "logs/projector", limit=50_000)   # doctest: +SKIP
    """
    if name is None:
        name = default_name(model)
    kv = keyed_vectors(model)
    vectors, labels = _rows(kv, None, limit)
    if len(labels) > PROJECTOR_POINT_LIMIT:
        logger.warning(
            "%d words exported; the Projector shows the first %d only", len(labels), PROJECTOR_POINT_LIMIT
        )
    return export_embedding(vectors, labels, run_dir, name, replace_exports=True, progress=progress)


def export_subset(kv: Any, words: Sequence[str], run_dir: str, tensor_name: str) -> Export:
    """Add or replace one embedding of ``words`` in ``run_dir``'s Projector config, keeping the others.

    Unknown words raise :class:`~tensorboard_plugin_w2v.errors.NotFound` (with suggestions).
    A running TensorBoard's Projector reads a run's config once, when the run appears (and
    caches tensors by run and name): to show a new subset without a restart, write it into a
    new ``run_dir`` (it gets its own event file) under a new ``tensor_name``.

    >>> export_subset(model.wv, ["king", "queen", "prince"], "logs/run1", "king neighbours")  # doctest: +SKIP
    """
    vectors, labels = _rows(keyed_vectors(kv), words, None)
    return export_embedding(vectors, labels, run_dir, tensor_name)


def export_embedding(
    vectors: np.ndarray,
    labels: Sequence[Any],
    run_dir: str,
    tensor_name: str,
    *,
    replace_exports: bool = False,
    progress: bool | None = None,
) -> Export:
    """Write ``vectors`` (row ``i`` labelled ``labels[i]``) as the embedding ``tensor_name`` of ``run_dir``.

    ``tensor_name`` is written as :func:`projector_safe_name` gives it (the returned
    :class:`Export` holds that name). The embedding of the same name is replaced; with ``replace_exports`` every embedding this
    package wrote before is dropped too. Files no longer named by the config are deleted.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"expected a non-empty 2-D matrix of vectors, got shape {vectors.shape}")
    if len(labels) != vectors.shape[0]:
        raise ValueError(f"{len(labels)} labels for {vectors.shape[0]} rows; give one label per row")
    if not str(tensor_name).strip():
        raise ValueError("tensor_name must not be empty")
    if fileio.is_remote(run_dir):
        raise ValueError(f"{run_dir}: the Projector reads local directories only")
    tensor_name = projector_safe_name(tensor_name)
    run_dir = os.path.abspath(run_dir)
    assets = os.path.join(run_dir, *ASSETS_DIR.split("/"))
    config_path = os.path.join(run_dir, md.PROJECTOR_CONFIG_NAME)
    os.makedirs(assets, exist_ok=True)
    with locked(os.path.join(assets, ".lock")):
        config = _read_config(config_path, strict=not replace_exports)
        folder = f"{safe_name(tensor_name)}-{uuid.uuid4().hex[:8]}"
        final = os.path.join(assets, folder)
        with fileio.published_folder(final, os.path.join(final, METADATA_NAME)) as tmp:
            raw = _write_tensor(vectors, tmp, progress)
            _write_labels(labels, os.path.join(tmp, METADATA_NAME))
        rel = f"{ASSETS_DIR}/{folder}"
        kept = [
            e
            for e in config.embeddings
            if e.tensor_name != tensor_name and not (replace_exports and _is_ours(e.tensor_path))
        ]
        del config.embeddings[:]
        config.embeddings.extend(kept)
        emb = config.embeddings.add()
        emb.tensor_name = tensor_name
        emb.tensor_path = f"{rel}/{RAW_TENSOR_NAME if raw else TSV_TENSOR_NAME}"
        emb.metadata_path = f"{rel}/{METADATA_NAME}"
        emb.tensor_shape.extend(int(n) for n in vectors.shape)
        _write_config(config_path, config)
        _remove_unreferenced(assets, config)
    ensure_event_file(run_dir)
    return Export(
        run_dir,
        tensor_name,
        config_path,
        os.path.join(run_dir, *emb.tensor_path.split("/")),
        os.path.join(run_dir, *emb.metadata_path.split("/")),
        (int(vectors.shape[0]), int(vectors.shape[1])),
        raw,
    )


def default_name(model: Any) -> str:
    """An export's default name: the model file's name without extension, else ``word2vec``."""
    if isinstance(model, (str, os.PathLike)):
        base = os.path.basename(os.fspath(model).rstrip("/\\"))
        return os.path.splitext(base)[0] or base or "word2vec"
    return "word2vec"


# -- helpers -------------------------------------------------------------------------------


def _rows(kv: KeyedVectors, words: Sequence[str] | None, limit: int | None) -> tuple[np.ndarray, list[str]]:
    """The chosen rows' vectors (float32) and their words."""
    if words is not None:
        unique = list(dict.fromkeys(str(w) for w in words))
        if not unique:
            raise ValueError("no words given")
        for word in unique:
            queries.require_word(kv, word)
        return np.stack([kv.get_vector(w) for w in unique]).astype(np.float32), unique
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    total = len(kv.index_to_key)
    if total == 0:
        raise ValueError("the model has no words")
    if limit is None or limit >= total:
        return kv.vectors, [str(w) for w in kv.index_to_key]
    order = _most_frequent(kv, limit)
    return kv.vectors[order], [str(kv.index_to_key[i]) for i in order]


def _most_frequent(kv: KeyedVectors, limit: int) -> np.ndarray:
    """Row numbers of the ``limit`` most frequent words (model order where counts are unknown)."""
    counts = kv.expandos.get("count") if hasattr(kv, "expandos") else None
    if counts is not None and len(counts) == len(kv.index_to_key) and np.any(np.diff(counts) > 0):
        return np.sort(np.argsort(-np.asarray(counts), kind="stable")[:limit])
    return np.arange(limit)


def _is_utf8(data: memoryview) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _progress(total: int, progress: bool | None, what: str):
    from tqdm.auto import tqdm

    disable = (not progress) if progress is not None else (total < 50_000 or None)
    return tqdm(total=total, unit=" words", desc=what, disable=disable, leave=False)


def _write_tensor(vectors: np.ndarray, folder: str, progress: bool | None) -> bool:
    """Raw float32 where the Projector will read it as binary, else TSV; True if raw."""
    data = np.ascontiguousarray(vectors, dtype="<f4")
    raw = not _is_utf8(memoryview(data).cast("B"))
    path = os.path.join(folder, RAW_TENSOR_NAME if raw else TSV_TENSOR_NAME)
    with open(path, "wb") as f, _progress(len(data), progress, "tensor") as bar:
        if raw:
            for start in range(0, len(data), _CHUNK_ROWS):
                f.write(data[start : start + _CHUNK_ROWS].tobytes())
                bar.update(min(_CHUNK_ROWS, len(data) - start))
        else:
            text = io.TextIOWrapper(f, encoding="ascii", newline="\n")
            _write_tsv_rows(text, data, bar)
            text.flush()
            text.detach()
            if f.tell() == data.size * 4:
                # The plugin's discovery tells raw from TSV by size; keep a TSV from looking raw.
                f.write(b"\n")
    return raw


def _write_tsv_rows(out, data: np.ndarray, bar=None) -> None:
    for start in range(0, len(data), _CHUNK_ROWS):
        chunk = data[start : start + _CHUNK_ROWS]
        np.savetxt(out, chunk, fmt="%.9g", delimiter="\t", newline="\n")
        if bar is not None:
            bar.update(len(chunk))


def _write_labels(labels: Iterable[Any], path: str) -> None:
    with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as f:
        for label in labels:
            f.write(clean_label(label) + "\n")


def _read_config(path: str, strict: bool):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    if not os.path.exists(path):
        return config
    try:
        with open(path, encoding="utf-8") as f:
            text_format.Parse(f.read(), config)
    except Exception as exc:  # protobuf's ParseError, or bad UTF-8
        if strict:
            raise ValueError(
                f"{path} is unreadable ({exc}); fix or delete it, or export the whole model to replace it"
            ) from None
        return ProjectorConfig()
    return config


def _write_config(path: str, config) -> None:
    from google.protobuf import text_format

    fileio.write_atomic(path, text_format.MessageToString(config, as_utf8=True).encode("utf-8"))


def _is_ours(tensor_path: str) -> bool:
    return tensor_path.replace("\\", "/").startswith(ASSETS_DIR + "/")


def _remove_unreferenced(assets: str, config) -> None:
    """Delete asset folders (and leftovers of interrupted exports) the config no longer names."""
    named = {
        p.replace("\\", "/")[len(ASSETS_DIR) + 1 :].split("/", 1)[0]
        for e in config.embeddings
        for p in (e.tensor_path, e.metadata_path)
        if _is_ours(p)
    }
    for entry in os.listdir(assets):
        if entry not in named and entry != ".lock" and os.path.isdir(os.path.join(assets, entry)):
            shutil.rmtree(os.path.join(assets, entry), ignore_errors=True)
