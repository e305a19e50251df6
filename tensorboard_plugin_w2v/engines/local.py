"""The query interface on a model held in this process (the embedded default).

:class:`LocalModel` and :class:`~tensorboard_plugin_w2v.engines.milvus.MilvusModel` answer the
same methods, so the routes do not care which engine serves a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.engines import ENGINE_LOCAL, VECTORS_LOCAL, VECTORS_LOCAL_FILE
from tensorboard_plugin_w2v.models.model import LoadedModel


class LocalModel:
    """A loaded model and the queries on it."""

    engine = ENGINE_LOCAL

    def __init__(self, loaded: LoadedModel, fallback_reason: str | None = None):
        self.loaded = loaded
        self.fallback_reason = fallback_reason  # why a pushed model is answered from its file

    kv = property(lambda self: self.loaded.kv)
    format = property(lambda self: self.loaded.format)
    counts_known = property(lambda self: self.loaded.counts_known)
    training = property(lambda self: self.loaded.training)
    identity = property(lambda self: self.loaded.identity)
    vocab_size = property(lambda self: self.loaded.vocab_size)
    dim = property(lambda self: self.loaded.dim)

    def neighbors(
        self, word: str, k: int, restrict_vocab: int | None = None, exact: bool = False
    ) -> tuple[list[queries.Neighbor], bool]:
        """The ``k`` nearest words and whether the answer was exact."""
        index = self.loaded.searcher(exact=exact)
        found = queries.neighbors(self.kv, word, k=k, restrict_vocab=restrict_vocab, index=index)
        return found, index is None

    def analogy(
        self,
        positive: list[str],
        negative: list[str],
        k: int,
        method: str = queries.METHOD_3COSADD,
        restrict_vocab: int | None = None,
        exact: bool = False,
    ) -> tuple[list[queries.Neighbor], bool]:
        index = self.loaded.searcher(exact=exact)
        found = queries.analogy(
            self.kv, positive, negative, k=k, method=method, restrict_vocab=restrict_vocab, index=index
        )
        return found, index is None

    def similarity(self, a: str, b: str) -> float:
        return queries.similarity(self.kv, a, b)

    def doesnt_match(self, words: list[str]) -> str:
        return queries.doesnt_match(self.kv, words)

    def vocab(self, prefix: str, offset: int, limit: int) -> tuple[list[queries.VocabEntry], int]:
        return queries.vocab(self.kv, prefix, offset, limit, self.counts_known, self.loaded.group)

    def vector(self, word: str) -> np.ndarray:
        return queries.vector(self.kv, word)

    def project(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return queries.project(self.kv, words)

    def counts(self, indices: Sequence[int]) -> list[int | None]:
        """Corpus counts of rows (``None`` where the file has none)."""
        return [queries.word_count(self.kv, i, self.counts_known) for i in indices]

    def vectors_of(self, words: list[str]) -> KeyedVectors:
        """A ``KeyedVectors`` holding at least ``words`` (for exports)."""
        return self.kv

    def loaded_matrix(self, rows: int | None = None) -> tuple[LoadedModel, str]:
        """The model as a :class:`LoadedModel` for whole-matrix analyses, and where it came from."""
        return self.loaded, self.whole(rows)[1]

    def whole(self, rows: int | None = None) -> tuple[KeyedVectors, str]:
        """The model's vectors for whole-matrix routes, and where they came from."""
        return self.kv, VECTORS_LOCAL_FILE if self.fallback_reason else VECTORS_LOCAL
