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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.analysis.arithmetic import (
    METHOD_3COSADD,
    METHOD_3COSMUL,
    METHODS,
    check_method,
    cosmul_rows,
    mean_vector,
    unit_vector,
)
from tensorboard_plugin_w2v.errors import InvalidArgument, NotFound
from tensorboard_plugin_w2v.models.norms import ensure_norms
from tensorboard_plugin_w2v.models.prefix import for_model as prefix_index
from tensorboard_plugin_w2v.models.prefix import frequency_order as prefix_frequency_order
from tensorboard_plugin_w2v.search.scoring import candidate_rows, cosines, cosines_of_many
from tensorboard_plugin_w2v.search.topk import best_first, ranked

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from tensorboard_plugin_w2v import lifecycle

__all__ = [
    "METHOD_3COSADD",
    "METHOD_3COSMUL",
    "METHODS",
    "Neighbor",
    "VocabEntry",
    "analogy",
    "doesnt_match",
    "frequency_order",
    "mean_vector",
    "neighbors",
    "parse_expression",
    "project",
    "require_word",
    "similarity",
    "suggest",
    "unit_vector",
    "vector",
    "vocab",
    "word_count",
]
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


def _limit(kv: KeyedVectors, restrict_vocab: int | None) -> int:
    n = len(kv.index_to_key)
    return min(restrict_vocab, n) if restrict_vocab else n


def _input_indices(kv: KeyedVectors, words: list[str]) -> set[int]:
    return {kv.get_index(w) for w in words if kv.has_index_for(w)}


def neighbors(
    kv: KeyedVectors, word: str, k: int = 10, restrict_vocab: int | None = None, index=None
) -> list[Neighbor]:
    """Top-``k`` words by cosine similarity to ``word``, excluding it (gensim ``most_similar``).

    With ``index`` (an :class:`~tensorboard_plugin_w2v.search.ann.AnnIndex`) candidates come from it
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
        raise InvalidArgument("an analogy needs at least one positive word")
    check_method(method)
    for w in positive + negative:
        require_word(kv, w)
    limit = _limit(kv, restrict_vocab)
    exclude = _input_indices(kv, positive + negative)
    query = mean_vector(kv, positive, negative) if index is not None or method == METHOD_3COSADD else None
    rows = None
    if index is not None:
        factor = 1 if method == METHOD_3COSADD else 4
        rows = candidate_rows(index, query, k + len(exclude), limit, factor)
    scope = {"rows": rows} if rows is not None else {"limit": limit}
    if method == METHOD_3COSADD:
        dists = cosines(kv, query, **scope)
    else:
        units = [unit_vector(kv, w) for w in positive + negative]
        if rows is not None:
            cos = np.array([cosines(kv, u, rows=rows) for u in units])
        else:
            cos = cosines_of_many(kv, units, limit)
        dists = cosmul_rows(cos, len(positive))
    if rows is not None:
        order = ranked(dists)
        found = zip(rows[order].tolist(), dists[order].tolist(), strict=True)
    else:
        best = best_first(dists, k + len(exclude))
        found = zip(best.tolist(), dists[best].tolist(), strict=True)
    kept = [(r, s) for r, s in found if r not in exclude][:k]  # words looked up for these only
    return [Neighbor(kv.index_to_key[r], s, r) for r, s in kept]


_EXPR_TOKEN = re.compile(r"(?:^|(?<=\s))-|\+|[^\s+]+")


def parse_expression(expr: str) -> tuple[list[str], list[str]]:
    """``"king - man + woman"`` → ``(["king", "woman"], ["man"])``.

    ``+`` always separates terms; ``-`` does so at the start or after a space, so words with
    a hyphen (``"well-known"``) stay whole while ``"paris -france"`` still subtracts.
    """
    tokens = _EXPR_TOKEN.findall(expr)
    if not tokens:
        raise InvalidArgument("expr is empty; write it like 'king - man + woman'")
    positive: list[str] = []
    negative: list[str] = []
    sign, expect_word = "+", True
    for token in tokens:
        if token in ("+", "-"):
            if expect_word and (positive or negative or sign == "-"):
                raise InvalidArgument(f"expr has two operators in a row near {token!r}")
            sign, expect_word = token, True
        elif not expect_word:
            raise InvalidArgument(f"expr needs + or - between words, before {token!r}")
        else:
            (positive if sign == "+" else negative).append(token)
            expect_word = False
    if expect_word:
        raise InvalidArgument("expr ends with an operator")
    return positive, negative


def similarity(kv: KeyedVectors, a: str, b: str) -> float:
    """Cosine similarity of two words (gensim ``similarity``)."""
    require_word(kv, a)
    require_word(kv, b)
    return float(kv.similarity(a, b))


def doesnt_match(kv: KeyedVectors, words: list[str]) -> str:
    """The word furthest from the mean of the others (gensim ``doesnt_match``)."""
    if len(words) < 2:
        raise InvalidArgument("doesnt_match needs at least two words")
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
    kv: KeyedVectors,
    prefix: str = "",
    offset: int = 0,
    limit: int = 50,
    counts_known: bool = True,
    group: lifecycle.ThreadGroup | None = None,
) -> tuple[list[VocabEntry], int]:
    """Words whose lower-cased form starts with ``prefix`` lower-cased, most frequent first, and
    their total. A large vocabulary's prefix index is built in a thread of ``group`` (see
    :func:`~tensorboard_plugin_w2v.models.prefix.for_model`); a scan answers meanwhile."""
    index = prefix_index(kv, counts_known, group)  # sorted lower-cased words: µs at millions of words
    if index is not None:
        rows, total = index.page(prefix.lower(), offset, limit)
        page = rows.tolist()
    else:
        if prefix:
            matches = _by_frequency(kv, _rows_with_prefix(kv, prefix.lower()), counts_known)
        else:
            matches = frequency_order(kv, counts_known)
        page, total = matches[offset : offset + limit], len(matches)
    return [VocabEntry(kv.index_to_key[i], word_count(kv, i, counts_known), int(i)) for i in page], total


def _rows_with_prefix(kv: KeyedVectors, lowered_prefix: str) -> np.ndarray:
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


def frequency_order(kv: KeyedVectors, counts_known: bool) -> np.ndarray:
    """Word indices, most frequent first (the file's order where counts are unknown or tie)."""
    counts = kv.expandos["count"] if counts_known else None
    return prefix_frequency_order(counts, len(kv.index_to_key))


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
