"""Serve pushed models from Milvus without loading their matrix into this process.

:class:`MilvusModel` answers the query interface of
:class:`~tensorboard_plugin_w2v.engines.local.LocalModel` by fetching only the rows a query
needs (the query words, Milvus's candidates) into a small ``KeyedVectors`` and running the
project's own query functions on it, so similarities and the re-scored ranking are exactly the
local ones. When Milvus cannot answer, each method answers from the local file through the
``fallback`` it was given, or raises :class:`~tensorboard_plugin_w2v.errors.Unavailable` (503).
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.engines import ENGINE_MILVUS, VECTORS_MILVUS
from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.engines.local import LocalModel
from tensorboard_plugin_w2v.engines.milvus_client import MilvusEngine
from tensorboard_plugin_w2v.errors import InvalidArgument, NotFound
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.search.scoring import CANDIDATE_FACTOR, MIN_CANDIDATES

logger = logging.getLogger(__name__)

SUGGESTION_WORDS = 50_000  # most frequent words searched for spelling suggestions (as queries does)
_WORD_CHUNK = 1000  # words per "word in [...]" filter
BATCH_BYTES = 32 << 20  # rows per batch when a route reads many rows


def _or_local(method):
    """Answer from Milvus; on a fault, from the local file (or 503 if that cannot be read)."""

    @functools.wraps(method)
    def wrapper(self: MilvusModel, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ms.MilvusFault as fault:
            local = self.fallback(fault.message)
            return getattr(local, method.__name__)(*args, **kwargs)

    return wrapper


class _SuggestView:
    """What :func:`queries.suggest` reads of a model: membership and the most frequent words."""

    def __init__(self, known: set[str], first_words: list[str]):
        self.key_to_index = known | set(first_words)
        self.index_to_key = first_words


class _Rows:
    """Rows fetched from a collection: ids, words, counts and vectors, in matching order."""

    def __init__(self, cols: dict):
        self.ids = cols[ms.ID]
        self.words = cols[ms.WORD]
        self.counts = cols[ms.COUNT]
        self.vectors = cols[ms.VECTOR]

    @classmethod
    def from_hits(cls, hits, dim: int) -> _Rows:
        """The rows of a search answer's hits (asked with the row fields as output fields)."""
        entities = [h["entity"] for h in hits]
        return cls({
            ms.ID: np.array([int(h["id"]) for h in hits], dtype=np.int64),
            ms.WORD: [e[ms.WORD] for e in entities],
            ms.COUNT: np.array([e[ms.COUNT] for e in entities], dtype=np.int64),
            ms.VECTOR: np.array([e[ms.VECTOR] for e in entities], dtype=np.float32).reshape(len(hits), dim),
        })

    @classmethod
    def join(cls, parts: Sequence[_Rows], dim: int) -> _Rows:
        """Rows of ``parts``, each id once, in id order (the file's order, so ties rank alike)."""
        ids = np.concatenate([p.ids for p in parts]) if parts else np.empty(0, np.int64)
        _, first = np.unique(ids, return_index=True)
        words = [w for p in parts for w in p.words]
        counts = np.concatenate([p.counts for p in parts]) if parts else np.empty(0, np.int64)
        vectors = np.concatenate([p.vectors for p in parts]) if parts else np.empty((0, dim), np.float32)
        return cls({ms.ID: ids[first], ms.WORD: [words[i] for i in first], ms.COUNT: counts[first],
                    ms.VECTOR: vectors[first]})

    def keyed_vectors(self, dim: int, counts_known: bool) -> KeyedVectors:
        kv = KeyedVectors(vector_size=dim, count=0, dtype=np.float32)
        kv.index_to_key = list(self.words)
        kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
        kv.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32).reshape(len(self.words), dim)
        kv.norms = None
        if counts_known:
            kv.expandos["count"] = np.asarray(self.counts, dtype=np.int64)
        return kv


class MilvusModel:
    """A pushed model version, answered by Milvus (the interface of :class:`LocalModel`)."""

    engine = ENGINE_MILVUS

    def __init__(
        self,
        engine: MilvusEngine,
        name: str,
        record: ms.PushedVersion,
        fallback: Callable[[str], LocalModel],
        memory_budget: int,
    ):
        self.milvus = engine
        self.name = name
        self.record = record
        self.fallback = fallback
        self.memory_budget = memory_budget
        self._counts: OrderedDict[int, int] = OrderedDict()

    format = property(lambda self: self.record.format)
    counts_known = property(lambda self: self.record.counts_known)
    training = property(lambda self: self.record.training)
    identity = property(lambda self: self.record.identity)
    vocab_size = property(lambda self: self.record.rows)
    dim = property(lambda self: self.record.dim)

    # -- Milvus calls -------------------------------------------------------------------

    def _query(self, filter: str, fields: list[str], limit: int | None = None) -> dict:
        kwargs = {"limit": limit} if limit is not None else {}
        result = self.milvus.run(self.name, self.record, "query", filter=filter, output_fields=fields, **kwargs)
        return ms.columns(result, fields)

    def _count(self, filter: str) -> int:
        result = self.milvus.run(self.name, self.record, "query", filter=filter, output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def _remember(self, rows: _Rows) -> _Rows:
        for i, c in zip(rows.ids.tolist(), rows.counts.tolist(), strict=True):
            self._counts[i] = c
        while len(self._counts) > 100_000:
            self._counts.popitem(last=False)
        return rows

    def _rows_by_id(self, ids: Sequence[int]) -> _Rows:
        parts = []
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), self._batch_rows()):
            chunk = ids[start : start + self._batch_rows()]
            result = self.milvus.run(self.name, self.record, "get", ids=chunk, output_fields=ms.ROW_FIELDS)
            parts.append(_Rows(ms.columns(result, ms.ROW_FIELDS)))
        return self._remember(_Rows.join(parts, self.dim))

    def _rows_by_word(self, words: Sequence[str]) -> _Rows:
        unique = list(dict.fromkeys(words))
        parts = []
        for start in range(0, len(unique), _WORD_CHUNK):
            chunk = unique[start : start + _WORD_CHUNK]
            parts.append(_Rows(self._query(ms.words_filter(chunk), ms.ROW_FIELDS, len(chunk))))
        return self._remember(_Rows.join(parts, self.dim))

    def _rows_in(self, lo: int, hi: int) -> _Rows:
        return _Rows(self._query(f"{ms.ID} >= {lo} and {ms.ID} < {hi}", ms.ROW_FIELDS, hi - lo))

    def _batch_rows(self) -> int:
        return max(1, min(ms.MAX_RESULT_WINDOW, BATCH_BYTES // (4 * self.dim + 64)))

    def _require(self, words: Sequence[str]) -> _Rows:
        """The rows of ``words``; :class:`NotFound` with suggestions for the first unknown one."""
        rows = self._rows_by_word(words)
        known = set(rows.words)
        for w in words:
            if w not in known:
                raise NotFound(f"word {w!r} is not in the model's vocabulary", word=w, suggestions=self._suggest(w))
        return rows

    def _suggest(self, word: str) -> list[str]:
        casings = {word.lower(), word.capitalize(), word.upper(), word.title(), word.strip()} - {word}
        found = set(self._rows_by_word(sorted(casings)).words) if casings else set()
        return queries.suggest(_SuggestView(found, self.milvus.first_words(self.name, self._first_words)), word)

    def _first_words(self) -> list[str]:
        """The first words in file order (gensim's frequency order), as queries.suggest scans."""
        stop = min(SUGGESTION_WORDS, self.vocab_size)
        words: list[str] = []
        for lo in range(0, stop, ms.MAX_RESULT_WINDOW):
            hi = min(stop, lo + ms.MAX_RESULT_WINDOW)
            cols = self._query(f"{ms.ID} >= {lo} and {ms.ID} < {hi}", [ms.ID, ms.WORD], hi - lo)
            words.extend(cols[ms.WORD][i] for i in np.argsort(cols[ms.ID]))
        return words

    def _kv(self, rows: _Rows) -> KeyedVectors:
        return rows.keyed_vectors(self.dim, self.counts_known)

    # -- the query interface ------------------------------------------------------------

    @_or_local
    def neighbors(
        self, word: str, k: int, restrict_vocab: int | None = None, exact: bool = False
    ) -> tuple[list[queries.Neighbor], bool]:
        return self.analogy([word], [], k, queries.METHOD_3COSADD, restrict_vocab, exact)

    @_or_local
    def analogy(
        self,
        positive: list[str],
        negative: list[str],
        k: int,
        method: str = queries.METHOD_3COSADD,
        restrict_vocab: int | None = None,
        exact: bool = False,
    ) -> tuple[list[queries.Neighbor], bool]:
        """Milvus proposes candidates for the query vector (computed as locally); they are
        re-scored with :func:`queries.analogy` on their exact vectors. ``exact`` scans every row
        in batches instead."""
        if not positive:
            raise InvalidArgument("an analogy needs at least one positive word")
        if method not in queries.METHODS:
            raise InvalidArgument(f"method must be one of {', '.join(queries.METHODS)}, not {method!r}")
        inputs = self._require(positive + negative)
        limit = min(restrict_vocab, self.vocab_size) if restrict_vocab else self.vocab_size
        wanted = k + len(inputs.ids)
        if exact or wanted > ms.MAX_RESULT_WINDOW:
            return self._scan(inputs, positive, negative, k, method, limit), True
        query = queries.mean_vector(self._kv(inputs), positive, negative)
        factor = 1 if method == queries.METHOD_3COSADD else 4
        count = min(ms.MAX_RESULT_WINDOW, max(MIN_CANDIDATES, CANDIDATE_FACTOR * wanted) * factor)
        hits = self.milvus.run(
            self.name,
            self.record,
            "search",
            data=[query.tolist()],
            limit=count,
            filter=f"{ms.ID} < {limit}" if limit < self.vocab_size else "",
            search_params={"metric_type": "COSINE", "params": {"ef": max(ms.HNSW_EF_SEARCH, count)}},
            output_fields=[ms.WORD, ms.COUNT, ms.VECTOR],  # the candidates' rows come with them
        )
        rows = _Rows.join([inputs, self._remember(_Rows.from_hits(hits[0], self.dim))], self.dim)
        return self._rank(rows, positive, negative, k, method, limit), False

    def _rank(self, rows: _Rows, positive, negative, k: int, method: str, limit: int) -> list[queries.Neighbor]:
        """:func:`queries.analogy` over ``rows`` (inputs beyond ``limit`` take part in the query
        only, as locally); indices mapped back to the model's rows."""
        found = queries.analogy(self._kv(rows), positive, negative, k=k + len(rows.ids), method=method)
        out = [queries.Neighbor(n.word, n.similarity, int(rows.ids[n.index])) for n in found]
        return [n for n in out if n.index < limit][:k]

    def _scan(self, inputs: _Rows, positive, negative, k: int, method: str, limit: int) -> list[queries.Neighbor]:
        """Exact top-``k``: every row below ``limit`` read in batches, the best ``k`` kept."""
        need = (k + self._batch_rows()) * (4 * self.dim + 64)
        if need > self.memory_budget:
            raise InvalidArgument(
                f"{k} neighbours: beyond Milvus's limit of {ms.MAX_RESULT_WINDOW} results a search, the "
                f"model is scanned in batches, which needs about {need >> 20} MiB, more than the memory "
                f"budget ({self.memory_budget >> 20} MiB); ask for fewer"
            )
        best: list[queries.Neighbor] = []
        kept = inputs
        for lo in range(0, limit, self._batch_rows()):
            batch = self._rows_in(lo, min(limit, lo + self._batch_rows()))
            rows = _Rows.join([inputs, kept, batch], self.dim)
            best = self._rank(rows, positive, negative, k, method, limit)
            kept = _Rows.join([inputs, self._subset(rows, [n.index for n in best])], self.dim)
        return best

    @staticmethod
    def _subset(rows: _Rows, ids: list[int]) -> _Rows:
        where = np.flatnonzero(np.isin(rows.ids, np.asarray(ids, dtype=np.int64)))
        return _Rows({ms.ID: rows.ids[where], ms.WORD: [rows.words[i] for i in where],
                      ms.COUNT: rows.counts[where], ms.VECTOR: rows.vectors[where]})

    @_or_local
    def similarity(self, a: str, b: str) -> float:
        return queries.similarity(self._kv(self._require([a, b])), a, b)

    @_or_local
    def doesnt_match(self, words: list[str]) -> str:
        if len(words) < 2:
            raise InvalidArgument("doesnt_match needs at least two words")
        return queries.doesnt_match(self._kv(self._require(words)), words)

    @_or_local
    def vector(self, word: str) -> np.ndarray:
        return queries.vector(self._kv(self._require([word])), word)

    @_or_local
    def project(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return queries.project(self._kv(self._require(words)), words)

    @_or_local
    def vocab(self, prefix: str, offset: int, limit: int) -> tuple[list[queries.VocabEntry], int]:
        """Words whose lower-cased form starts with ``prefix`` lower-cased, most frequent first:
        the matches are read in windows of frequency rank small enough that no query is capped."""
        match = ms.prefix_filter(ms.LOWER, prefix.lower())
        total = self.vocab_size if not match else self._count(match)
        entries: list[queries.VocabEntry] = []
        lo, width, seen = 0, ms.MAX_RESULT_WINDOW, 0
        while len(entries) < limit and seen < min(total, offset + limit) and lo < self.vocab_size:
            hi = min(self.vocab_size, lo + width)
            window = ms.both(match, f"{ms.RANK} >= {lo} and {ms.RANK} < {hi}")
            found = (hi - lo) if not match else self._count(window)
            if found > ms.MAX_RESULT_WINDOW:
                width //= 2
                continue
            if found and seen + found > offset:
                cols = self._query(window, [ms.ID, ms.RANK, ms.WORD, ms.COUNT], found)
                for i in np.argsort(cols[ms.RANK])[max(0, offset - seen) :]:
                    if len(entries) == limit:
                        break
                    count = int(cols[ms.COUNT][i]) if self.counts_known else None
                    entries.append(queries.VocabEntry(cols[ms.WORD][i], count, int(cols[ms.ID][i])))
            seen += found
            lo = hi
            width = width * 2 if found < ms.MAX_RESULT_WINDOW // 4 else width
        return entries, total

    @_or_local
    def counts(self, indices: Sequence[int]) -> list[int | None]:
        if not self.counts_known:
            return [None] * len(indices)
        missing = [i for i in indices if i not in self._counts]
        if missing:
            self._rows_by_id(missing)
        return [self._counts.get(i) for i in indices]

    @_or_local
    def vectors_of(self, words: list[str]) -> KeyedVectors:
        return self._kv(self._require(words))

    def loaded_matrix(self, rows: int | None = None) -> tuple[LoadedModel, str]:
        """The rows of :meth:`whole` as a :class:`LoadedModel` (drift, trajectories, axes, WEAT)."""
        kv, vectors_from = self.whole(rows)
        model = LoadedModel(kv=kv, format=self.format, counts_known=self.counts_known, training=self.training)
        model.identity = self.identity
        return model, vectors_from

    @_or_local
    def whole(self, rows: int | None = None) -> tuple[KeyedVectors, str]:
        """The first ``rows`` rows (all by default) read in batches into one buffer, if it fits
        the memory budget; else the local file."""
        n = self.vocab_size if rows is None else min(rows, self.vocab_size)
        need = n * (4 * self.dim + 64)
        if need > self.memory_budget:
            raise ms.MilvusFault(
                f"reading {n} × {self.dim} vectors from Milvus needs about {need >> 20} MiB, "
                f"more than the memory budget ({self.memory_budget >> 20} MiB)"
            )
        vectors = np.empty((n, self.dim), dtype=np.float32)
        counts = np.full(n, -1, dtype=np.int64)
        words: list[str] = [""] * n
        for lo in range(0, n, self._batch_rows()):
            batch = self._rows_in(lo, min(n, lo + self._batch_rows()))
            at = batch.ids
            vectors[at] = batch.vectors
            counts[at] = batch.counts
            for i, w in zip(at.tolist(), batch.words, strict=True):
                words[i] = w
        rows_read = _Rows({ms.ID: np.arange(n), ms.WORD: words, ms.COUNT: counts, ms.VECTOR: vectors})
        return self._kv(rows_read), VECTORS_MILVUS
