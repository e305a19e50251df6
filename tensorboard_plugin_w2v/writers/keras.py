"""word2vec vectors in Keras 3, and fine-tuned embeddings back in TensorBoard.

Needs Keras 3 and a backend (``pip install "tensorboard-plugin-w2v[keras]"``). Row 0 of the
matrix is the padding row ``_PAD`` (all zeros); the model's words follow in the model's order.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> w2v = Word2Vec(common_texts, vector_size=8, min_count=1, seed=1, workers=1)
    >>> word2idx, matrix = embedding_matrix(w2v)
    >>> word2idx["_PAD"], matrix.shape
    (0, (13, 8))
    >>> texts_to_ids(["human computer interface", "unknown words"], word2idx, maxlen=4).tolist()
    [[0, 12, 10, 11], [0, 0, 0, 0]]
    >>> layer = embedding_layer(matrix, mask_zero=True)   # a keras.layers.Embedding, frozen
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from gensim.models import KeyedVectors

try:
    import keras
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'tensorboard_plugin_w2v.writers.keras needs Keras 3: pip install "tensorboard-plugin-w2v[keras]"'
    ) from exc
if not keras.__version__.startswith("3."):  # pragma: no cover
    raise ImportError(f"tensorboard_plugin_w2v.writers.keras needs Keras 3, found Keras {keras.__version__}")

from tensorboard_plugin_w2v.writers.projector import (  # noqa: E402
    UNUSED_LABEL,
    export_embedding,
    keyed_vectors,
    labels_from,
    write_metadata,
)
from tensorboard_plugin_w2v.writers.summary import log_model  # noqa: E402

PAD = "_PAD"
PAD_ID = 0

__all__ = [
    "PAD",
    "PAD_ID",
    "ProjectorCallback",
    "embedding_layer",
    "embedding_matrix",
    "texts_to_ids",
    "write_metadata",
]


def embedding_matrix(model: Any) -> tuple[dict[str, int], np.ndarray]:
    """``(word2idx, matrix)`` for a Keras ``Embedding``: ``_PAD`` at 0 (zeros), word ``i`` at ``i+1``.

    ``model`` is a gensim ``Word2Vec``, ``FastText`` or ``KeyedVectors``, or a path to any
    format the plugin loads. ``matrix`` is float32 of shape ``(len(vocab) + 1, dim)``.
    """
    kv = keyed_vectors(model)
    if PAD in kv.key_to_index:
        raise ValueError(f"the model has a word {PAD!r}, which would clash with the padding row")
    word2idx = {PAD: PAD_ID}
    for i, word in enumerate(kv.index_to_key):
        word2idx[word] = i + 1
    matrix = np.zeros((len(kv.index_to_key) + 1, kv.vector_size), dtype=np.float32)
    matrix[1:] = kv.vectors
    return word2idx, matrix


def embedding_layer(
    model: Any,
    trainable: bool = False,
    mask_zero: bool = False,
    name: str | None = None,
    **kwargs: Any,
) -> keras.layers.Embedding:
    """A Keras 3 ``Embedding`` holding the model's vectors (frozen unless ``trainable``).

    ``model`` is anything :func:`embedding_matrix` takes, or the matrix it returned. With
    ``mask_zero`` the padding id 0 (also used for unknown words by :func:`texts_to_ids`) is
    masked. Other keyword arguments go to ``keras.layers.Embedding``.

    >>> layer = embedding_layer("vectors.bin", trainable=True, name="w2v")  # doctest: +SKIP
    """
    matrix = model if isinstance(model, np.ndarray) else embedding_matrix(model)[1]
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D embedding matrix, got shape {matrix.shape}")
    return keras.layers.Embedding(
        input_dim=matrix.shape[0],
        output_dim=matrix.shape[1],
        weights=[np.asarray(matrix, dtype=np.float32)],
        trainable=trainable,
        mask_zero=mask_zero,
        name=name,
        **kwargs,
    )


def texts_to_ids(
    texts: Iterable[str | Sequence[str]],
    word2idx: Mapping[str, int],
    maxlen: int | None = None,
    *,
    unknown_id: int | None = PAD_ID,
    tokenize: Callable[[str], Sequence[str]] = str.split,
    padding: str = "pre",
    truncating: str = "pre",
) -> np.ndarray:
    """Texts as a padded ``int32`` array of word ids, shape ``(len(texts), maxlen)``.

    A text is a string (split by ``tokenize``, whitespace by default; use the tokenisation the
    model was trained with) or a list of tokens. Unknown words get ``unknown_id``: by default
    0, the padding id, so ``mask_zero=True`` ignores them; ``None`` drops them. Padding and
    truncation work as ``keras.utils.pad_sequences`` (``"pre"`` by default); ``maxlen``
    defaults to the longest text.
    """
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError('padding and truncating must be "pre" or "post"')
    rows = []
    for text in texts:
        tokens = tokenize(text) if isinstance(text, str) else text
        ids = [word2idx.get(t, unknown_id) for t in tokens]
        rows.append([i for i in ids if i is not None])
    width = maxlen if maxlen is not None else max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), PAD_ID, dtype=np.int32)
    for n, ids in enumerate(rows):
        if len(ids) > width:
            ids = ids[-width:] if truncating == "pre" else ids[:width]
        if not ids:
            continue
        if padding == "pre":
            out[n, width - len(ids) :] = ids
        else:
            out[n, : len(ids)] = ids
    return out


class ProjectorCallback(keras.callbacks.Callback):
    """Every ``every`` epochs, show an ``Embedding`` layer's weights in TensorBoard.

    Writes the weights into the run directory ``log_dir`` as the Projector embedding
    ``"<name> (epoch N)"`` (raw float32, word labels, config, event file), and with
    ``register`` also logs them with :func:`~tensorboard_plugin_w2v.writers.summary.log_model` as model
    ``name`` at step N, so the Word2Vec tab can query the fine-tuned vectors. N counts
    completed epochs (1, 2, ...). ``words`` labels the rows: the ``word2idx`` of
    :func:`embedding_matrix` or words in row order. ``layer`` is a layer name or object
    (default: the model's first ``Embedding``); ``name`` defaults to the layer's name.
    The Word2Vec tab picks up each new epoch while TensorBoard runs; the Projector reads a
    run's config when the run first appears, so it shows later epochs after a restart.

    >>> model.fit(x, y, epochs=5,
    ...           callbacks=[ProjectorCallback("logs/run1", word2idx, every=1)])  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: str,
        words: Mapping[str, int] | Sequence[str],
        every: int = 1,
        layer: str | keras.layers.Layer | None = None,
        name: str | None = None,
        register: bool = True,
    ):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.log_dir = log_dir
        self.labels = labels_from(words)
        self.every = every
        self.layer = layer
        self.name = name
        self.register = register
        self.exports: list = []

    def on_train_begin(self, logs=None) -> None:
        self._embedding()  # fail before the first epoch, not after it

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        step = epoch + 1
        if step % self.every:
            return
        layer = self._embedding()
        weights = np.asarray(keras.ops.convert_to_numpy(layer.embeddings), dtype=np.float32)
        name = self.name or layer.name
        self.exports.append(export_embedding(weights, self.labels, self.log_dir, f"{name} (epoch {step})"))
        if self.register:
            log_model(self.log_dir, self._keyed_vectors(weights), name=name, step=step)

    def _embedding(self) -> keras.layers.Embedding:
        if isinstance(self.layer, keras.layers.Layer):
            layer = self.layer
        elif isinstance(self.layer, str):
            layer = self.model.get_layer(self.layer)
        else:
            layer = next((x for x in _all_layers(self.model) if isinstance(x, keras.layers.Embedding)), None)
            if layer is None:
                raise ValueError("the model has no Embedding layer; pass layer= to ProjectorCallback")
        if not isinstance(layer, keras.layers.Embedding):
            raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__}, not an Embedding")
        if layer.input_dim != len(self.labels):
            raise ValueError(
                f"layer {layer.name!r} has {layer.input_dim} rows but {len(self.labels)} words were given"
            )
        return layer

    def _keyed_vectors(self, weights: np.ndarray) -> KeyedVectors:
        """The labelled rows as ``KeyedVectors`` (padding and unused rows left out)."""
        keys, rows, seen = [], [], set()
        for i, word in enumerate(self.labels):
            if (i == PAD_ID and word == PAD) or word == UNUSED_LABEL or word in seen:
                continue
            seen.add(word)
            keys.append(word)
            rows.append(i)
        kv = KeyedVectors(weights.shape[1], count=0, dtype=np.float32)
        kv.add_vectors(keys, weights[rows])
        return kv


def _all_layers(layer) -> Iterable:
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from _all_layers(sub)
