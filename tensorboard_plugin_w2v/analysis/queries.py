"""Queries on a gensim ``KeyedVectors``: plain functions, usable without TensorBoard.

Answers equal gensim's own methods (same words, same order, similarities within float32
rounding): the query vector is gensim's ``get_mean_vector`` and the ranking is gensim's
``most_similar`` arithmetic on the stored vectors, so no normalised copy of the matrix is made.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> kv = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> [n.word for n in neighbors(kv, "computer", k=3)] == [w for w, _ in kv.most_similar("computer", topn=3)]
    True
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from gensim import matutils
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.errors import BadRequest, NotFound

METHOD_3COSADD = "3cosadd"
METHOD_3COSMUL = "3cosmul"
METHODS = (METHOD_3COSADD, METHOD_3COSMUL)
_SUGGESTION_SCAN = 50_000  # most frequent words searched for spelling suggestions


@dataclass(frozen=True)
class Neighbor:
    word: str
    similarity: float
    index: int


def require_word(kv: KeyedVectors, word: str) -> None:
    """Raise :class:`NotFound` naming ``word`` and suggesting close vocabulary entries."""
    if word in kv:  # FastText models also answer for out-of-vocabulary words via n-grams
        return
    raise NotFound(
        f"word {word!r} is not in the model's vocabulary", word=word, suggestions=suggest(kv, word)
    )


def suggest(kv: KeyedVectors, word: str, n: int = 5) -> list[str]:
    """Vocabulary entries close to ``word``: other casings first, then close spellings in every
    casing the vocabulary has, so ``governmentt`` finds ``government``."""
    out = [
        v
        for v in dict.fromkeys((word.lower(), word.capitalize(), word.upper(), word.title(), word.strip()))
        if v != word and v in kv.key_to_index
    ]
    by_lower: dict[str, list[str]] = {}
    for candidate in kv.index_to_key[:_SUGGESTION_SCAN]:
        by_lower.setdefault(candidate.lower(), []).append(candidate)
    for close in difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=0.75):
        # The spelling cased like the query first (``Goverment`` → ``Government``).
        spellings = sorted(by_lower[close], key=lambda w: (w[:1].isupper() != word[:1].isupper(), w != close))
        out.extend(w for w in spellings if w not in out)
    return out[:n]


def _rank(kv: KeyedVectors, dists: np.ndarray, k: int, exclude: set[int]) -> list[Neighbor]:
    """gensim's ranking (``matutils.argsort(dists, topn, reverse=True)``) without its copies.

    The best scores usually all exceed a threshold read from a sample, so only those few are
    sorted; otherwise ``dists`` is negated in place and used as gensim's ``-dists`` (NaN last).
    """
    topn = min(k + len(exclude), dists.size)
    if dists.size > 64 * topn:
        sample = dists[:: dists.size // (32 * topn)]
        threshold = np.partition(sample, sample.size - 2)[sample.size - 2]  # NaN sorts last: skipped
        above = np.flatnonzero(dists > threshold)
        if above.size >= topn:
            best = above[np.argsort(-dists[above])][:topn]
            out = [Neighbor(kv.index_to_key[i], float(dists[i]), int(i)) for i in best if i not in exclude]
            return out[:k]
    np.negative(dists, out=dists)
    if topn >= dists.size:
        best = np.argsort(dists)
    else:
        best = np.argpartition(dists, topn)[:topn]
        best = best[np.argsort(dists[best])]
    out = [Neighbor(kv.index_to_key[i], -float(dists[i]), int(i)) for i in best if i not in exclude]
    return out[:k]


def _rank_rows(
    kv: KeyedVectors, rows: np.ndarray, dists: np.ndarray, k: int, exclude: set[int]
) -> list[Neighbor]:
    """Rank candidate ``rows`` (re-scored as ``dists``) like :func:`_rank`."""
    order = np.argsort(-dists, kind="stable")
    kept = [(j, r) for j, r in zip(order.tolist(), rows[order].tolist(), strict=True) if r not in exclude]
    return [Neighbor(kv.index_to_key[r], float(dists[j]), r) for j, r in kept[:k]]


def _limit(kv: KeyedVectors, restrict_vocab: int | None) -> int:
    n = len(kv.index_to_key)
    return min(restrict_vocab, n) if restrict_vocab else n


def _input_indices(kv: KeyedVectors, words: list[str]) -> set[int]:
    return {kv.get_index(w) for w in words if kv.has_index_for(w)}


def ensure_norms(kv: KeyedVectors) -> np.ndarray:
    """``kv.norms`` filled as gensim's ``fill_norms`` does, without its whole-matrix temporary."""
    from tensorboard_plugin_w2v.search.index import ensure_norms as _ensure

    return _ensure(kv)


def _row_norms(kv: KeyedVectors, rows: np.ndarray) -> np.ndarray:
    """Norms of some rows, equal to gensim's (computed here when the full array is not yet)."""
    if kv.norms is not None:
        return kv.norms[rows]
    return np.linalg.norm(kv.vectors[rows], axis=1)


def cosine_scores(kv: KeyedVectors, unit_query: np.ndarray, limit: int) -> np.ndarray:
    """Cosine of ``unit_query`` with each of the first ``limit`` vectors, as gensim computes it
    (``dot(vectors, query) / norms``), divided in place.

    One BLAS call over all rows: splitting the scan into blocks was measured slower (each call
    wakes BLAS's threads again), 2.6× slower at 3M × 300 with 8192-row blocks.
    """
    norms = ensure_norms(kv)
    dists = np.dot(kv.vectors[:limit], unit_query)
    return np.divide(dists, norms[:limit], out=dists)


def unit_vector(kv: KeyedVectors, word: str) -> np.ndarray:
    """``kv.get_vector(word, norm=True)``, without making gensim fill every norm first."""
    if kv.norms is not None or hasattr(kv, "vectors_ngrams"):
        ensure_norms(kv)
        return kv.get_vector(word, norm=True)
    i = kv.get_index(word)
    return kv.vectors[i] / np.linalg.norm(kv.vectors[i : i + 1], axis=1)[0]


def mean_vector(kv: KeyedVectors, positive: list[str], negative: list[str]) -> np.ndarray:
    """gensim's ``get_mean_vector(pos + neg, [1…, -1…], pre_normalize=True, post_normalize=True)``."""
    words = positive + negative
    weights = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=kv.vectors.dtype)
    mean = np.zeros(kv.vector_size, kv.vectors.dtype)
    total_weight = 0
    for idx, word in enumerate(words):
        mean += weights[idx] * unit_vector(kv, word)
        total_weight += abs(weights[idx])
    if total_weight > 0:
        mean = mean / total_weight
    return matutils.unitvec(mean).astype(np.float32)


def _candidates(index, query: np.ndarray, wanted: int, limit: int, factor: int = 1) -> np.ndarray | None:
    """Rows the index proposes for ``query`` within ``limit``; None if too few (answer exactly)."""
    from tensorboard_plugin_w2v.search.index import CANDIDATE_FACTOR, MIN_CANDIDATES

    count = max(MIN_CANDIDATES, CANDIDATE_FACTOR * wanted) * factor
    rows = index.candidates(query[None, :], count)[0]
    rows = rows[(rows >= 0) & (rows < limit)]
    return rows if len(rows) >= wanted else None


def neighbors(
    kv: KeyedVectors, word: str, k: int = 10, restrict_vocab: int | None = None, index=None
) -> list[Neighbor]:
    """Top-``k`` words by cosine similarity to ``word``, excluding it (gensim ``most_similar``).

    With ``index`` (an :class:`~tensorboard_plugin_w2v.search.index.AnnIndex`) candidates come from it
    and are re-scored exactly; without, every vector is scanned.
    """
    return analogy(kv, [word], [], k=k, restrict_vocab=restrict_vocab, index=index)


def analogy(
    kv: KeyedVectors,
    positive: list[str],
    negative: list[str],
    k: int = 10,
    method: str = METHOD_3COSADD,
    restrict_vocab: int | None = None,
    index=None,
) -> list[Neighbor]:
    """``positive[0] - negative[0] + positive[1] ...``: gensim ``most_similar`` (3CosAdd) or
    ``most_similar_cosmul`` (3CosMul, Levy & Goldberg 2014).

    With ``index``, 3CosMul re-scores the 3CosAdd query's (more numerous) candidates.
    """
    if not positive:
        raise BadRequest("an analogy needs at least one positive word")
    if method not in METHODS:
        raise BadRequest(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    for w in positive + negative:
        require_word(kv, w)
    limit = _limit(kv, restrict_vocab)
    exclude = _input_indices(kv, positive + negative)
    rows = None
    if index is not None:
        query = mean_vector(kv, positive, negative)
        factor = 1 if method == METHOD_3COSADD else 4
        rows = _candidates(index, query, k + len(exclude), limit, factor)
    if rows is not None:
        vectors, norms = kv.vectors[rows], _row_norms(kv, rows)
        if method == METHOD_3COSADD:
            dists = np.dot(vectors, query) / norms
        else:
            dists = _cosmul(kv, vectors, norms, positive, negative)
        return _rank_rows(kv, rows, dists, k, exclude)
    if method == METHOD_3COSADD:
        dists = cosine_scores(kv, mean_vector(kv, positive, negative), limit)
    else:
        norms = ensure_norms(kv)
        dists = _cosmul(kv, kv.vectors[:limit], norms[:limit], positive, negative)
    return _rank(kv, dists, k, exclude)


def _cosmul(kv: KeyedVectors, vectors: np.ndarray, norms: np.ndarray, positive, negative) -> np.ndarray:
    pos = [(1 + np.dot(vectors, unit_vector(kv, w)) / norms) / 2 for w in positive]
    neg = [(1 + np.dot(vectors, unit_vector(kv, w)) / norms) / 2 for w in negative]
    return np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 0.000001)


def rescore_batch(
    kv: KeyedVectors, unit_queries: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosines of each query's candidate rows, top ``k`` kept (``-1``/NaN pad)."""
    ids = np.full((len(unit_queries), k), -1, dtype=np.int64)
    sims = np.full((len(unit_queries), k), np.nan, dtype=np.float32)
    for i, (q, rows) in enumerate(zip(unit_queries, candidates, strict=True)):
        rows = rows[rows >= 0]
        dists = np.dot(kv.vectors[rows], q) / _row_norms(kv, rows)
        order = np.argsort(-dists, kind="stable")[:k]
        ids[i, : len(order)], sims[i, : len(order)] = rows[order], dists[order]
    return ids, sims


def exact_batch(
    kv: KeyedVectors, unit_queries: np.ndarray, k: int, chunk_rows: int = 65_536
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows by exact cosine for a batch of unit queries, one pass over the matrix."""
    norms = ensure_norms(kv)
    nq = len(unit_queries)
    best_ids = np.empty((nq, 0), dtype=np.int64)
    best_sims = np.empty((nq, 0), dtype=np.float32)
    qt = np.ascontiguousarray(np.asarray(unit_queries, dtype=np.float32).T)
    for start in range(0, len(kv.vectors), chunk_rows):
        block = np.dot(kv.vectors[start : start + chunk_rows], qt).T  # queries × rows
        block /= norms[start : start + chunk_rows]
        take = min(k, block.shape[1])
        top = np.argpartition(-block, take - 1, axis=1)[:, :take]
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        best_sims = np.concatenate([best_sims, np.take_along_axis(block, top, axis=1)], axis=1)
        if best_ids.shape[1] > k:
            keep = np.argpartition(-best_sims, k - 1, axis=1)[:, :k]
            best_ids = np.take_along_axis(best_ids, keep, axis=1)
            best_sims = np.take_along_axis(best_sims, keep, axis=1)
    order = np.argsort(-best_sims, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, axis=1), np.take_along_axis(best_sims, order, axis=1)


_EXPR_TOKEN = re.compile(r"(?:^|(?<=\s))-|\+|[^\s+]+")


def parse_expression(expr: str) -> tuple[list[str], list[str]]:
    """``"king - man + woman"`` → ``(["king", "woman"], ["man"])``.

    ``+`` always separates terms; ``-`` does so at the start or after a space, so words with
    a hyphen (``"well-known"``) stay whole while ``"paris -france"`` still subtracts.
    """
    tokens = _EXPR_TOKEN.findall(expr)
    if not tokens:
        raise BadRequest("expr is empty; write it like 'king - man + woman'")
    positive: list[str] = []
    negative: list[str] = []
    sign, expect_word = "+", True
    for token in tokens:
        if token in ("+", "-"):
            if expect_word and (positive or negative or sign == "-"):
                raise BadRequest(f"expr has two operators in a row near {token!r}")
            sign, expect_word = token, True
        elif not expect_word:
            raise BadRequest(f"expr needs + or - between words, before {token!r}")
        else:
            (positive if sign == "+" else negative).append(token)
            expect_word = False
    if expect_word:
        raise BadRequest("expr ends with an operator")
    return positive, negative


def similarity(kv: KeyedVectors, a: str, b: str) -> float:
    """Cosine similarity of two words (gensim ``similarity``)."""
    require_word(kv, a)
    require_word(kv, b)
    return float(kv.similarity(a, b))


def doesnt_match(kv: KeyedVectors, words: list[str]) -> str:
    """The word furthest from the mean of the others (gensim ``doesnt_match``)."""
    if len(words) < 2:
        raise BadRequest("doesnt_match needs at least two words")
    for w in words:
        require_word(kv, w)
    ensure_norms(kv)  # else gensim's fill_norms squares the whole matrix into a temporary copy
    return kv.doesnt_match(words)


@dataclass(frozen=True)
class VocabEntry:
    word: str
    count: int | None
    index: int


def vocab(
    kv: KeyedVectors, prefix: str = "", offset: int = 0, limit: int = 50, counts_known: bool = True
) -> tuple[list[VocabEntry], int]:
    """Words whose lower-cased form starts with ``prefix`` lower-cased, most frequent first, and
    their total."""
    if prefix:
        matches = _by_frequency(kv, _rows_with_prefix(kv, prefix.lower()), counts_known)
    else:
        matches = frequency_order(kv, counts_known)
    page = matches[offset : offset + limit]
    return [VocabEntry(kv.index_to_key[i], word_count(kv, i, counts_known), int(i)) for i in page], len(
        matches
    )


def _rows_with_prefix(kv: KeyedVectors, lowered_prefix: str) -> np.ndarray:
    find = getattr(kv.key_to_index, "rows_with_lower_prefix", None)  # a cached vocabulary's trie
    if find is not None:
        return find(lowered_prefix)
    return np.fromiter(
        (i for i, w in enumerate(kv.index_to_key) if w.lower().startswith(lowered_prefix)), dtype=np.int64
    )


def _by_frequency(kv: KeyedVectors, rows: np.ndarray, counts_known: bool) -> list[int]:
    """``rows`` in :func:`frequency_order`."""
    rows = np.sort(rows)
    if counts_known:
        counts = np.asarray(kv.expandos["count"], dtype=np.int64)[rows]
        rows = rows[np.argsort(-counts, kind="stable")]
    return rows.tolist()


def frequency_order(kv: KeyedVectors, counts_known: bool) -> Sequence[int]:
    """Word indices, most frequent first (the file's order where counts are unknown or tie)."""
    n = len(kv.index_to_key)
    if not counts_known:
        return range(n)
    counts = np.asarray(kv.expandos["count"], dtype=np.int64)
    if np.all(counts[1:] <= counts[:-1]):  # gensim sorts its vocabularies by frequency
        return range(n)
    return np.argsort(-counts, kind="stable").tolist()


def word_count(kv: KeyedVectors, index: int, counts_known: bool) -> int | None:
    return int(kv.expandos["count"][index]) if counts_known else None


def vector(kv: KeyedVectors, word: str) -> np.ndarray:
    """The stored (unnormalised) vector of ``word``."""
    require_word(kv, word)
    return kv.get_vector(word)


def project(kv: KeyedVectors, words: list[str], dims: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the words' unit vectors: (``len(words)`` × ``dims`` coordinates, explained variance ratio)."""
    for w in words:
        require_word(kv, w)
    x = np.stack([unit_vector(kv, w) for w in words]).astype(np.float64)
    x -= x.mean(axis=0)
    if len(words) < 2:
        return np.zeros((len(words), dims)), np.zeros(dims)
    u, s, _vt = np.linalg.svd(x, full_matrices=False)
    coords = u[:, :dims] * s[:dims]
    var = s**2
    ratio = var[:dims] / var.sum() if var.sum() > 0 else np.zeros(min(dims, len(s)))
    if coords.shape[1] < dims:
        coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
        ratio = np.pad(ratio, (0, dims - len(ratio)))
    return coords, ratio
