"""Compare two models (or two training steps of one) by how their words' neighbourhoods overlap.

For each compared word, the top-``k`` neighbours (gensim's ``most_similar``, the word itself
left out) are found in both models and their overlap is measured with Jaccard@k
(``|A ∩ B| / |A ∪ B|``). The models may differ in dimension and vocabulary: by default
(``scope="shared"``) both search only the words they share, so a neighbour missing from the
other model's vocabulary does not count as a change. Neighbours are found for all words at once
with matrix products over chunks of the vocabulary.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> a = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> b = Word2Vec(common_texts, vector_size=8, min_count=1, seed=2, workers=1).wv
    >>> result = compare(a, b, k=3)
    >>> result.shared_vocab, len(result.words), 0.0 <= result.mean_jaccard <= 1.0
    (12, 12, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.errors import InvalidArgument, NotFound
from tensorboard_plugin_w2v.models.norms import model_norms
from tensorboard_plugin_w2v.search.topk import TopK, chunk_rows, dot_t

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

SCOPE_SHARED = "shared"
SCOPE_ALL = "all"
SCOPES = (SCOPE_SHARED, SCOPE_ALL)
DEFAULT_WORDS = 1000
MAX_WORDS = 5000
DEFAULT_K = 10
MAX_K = 100
MOST_CHANGED = 20
_WORD_BLOCK = 1024


def neighbors_batch(
    kv: KeyedVectors, indices: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` neighbours of the words at ``indices``, as gensim's ``most_similar`` ranks them.

    Returns (neighbour indices, cosine similarities), each ``len(indices)`` × ``k``, best first;
    ``allowed`` (a boolean mask over the vocabulary) limits the candidates. Entries beyond the
    candidates available are -1 / -inf.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> kv = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> idx, _ = neighbors_batch(kv, np.array([kv.get_index("computer")]), 3)
    >>> [kv.index_to_key[i] for i in idx[0]] == [w for w, _ in kv.most_similar("computer", topn=3)]
    True
    """
    vectors, norms = kv.vectors, model_norms(kv)
    n = len(vectors)
    out_index = np.full((len(indices), k), -1, dtype=np.int64)
    out_score = np.full((len(indices), k), -np.inf, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_norms = 1 / norms
        for start in range(0, len(indices), _WORD_BLOCK):
            block = indices[start : start + _WORD_BLOCK]
            units = (vectors[block] * inverse_norms[block][:, None]).astype(np.float32)
            topk = TopK(len(block), k)
            step = chunk_rows(len(block))
            rows = np.arange(len(block))
            for lo in range(0, n, step):
                hi = min(lo + step, n)
                scores = dot_t(units, vectors[lo:hi]) * inverse_norms[lo:hi]
                if allowed is not None:
                    scores[:, ~allowed[lo:hi]] = -np.inf
                own = (block >= lo) & (block < hi)
                scores[rows[own], block[own] - lo] = -np.inf  # most_similar leaves the word out
                topk.push(lo, scores.astype(np.float32, copy=False))
            out_index[start : start + len(block)], out_score[start : start + len(block)] = topk.result()
    missing = ~np.isfinite(out_score)
    out_index[missing] = -1
    return out_index, out_score


@dataclass
class WordComparison:
    """One word's neighbours in both models, best first, and their Jaccard overlap."""

    word: str
    jaccard: float
    neighbors_a: list[tuple[str, float]]
    neighbors_b: list[tuple[str, float]]

    def to_json(self) -> dict:
        in_a = {w for w, _ in self.neighbors_a}
        in_b = {w for w, _ in self.neighbors_b}
        return {
            "word": self.word,
            "jaccard": self.jaccard,
            "a": [{"word": w, "similarity": s, "shared": w in in_b} for w, s in self.neighbors_a],
            "b": [{"word": w, "similarity": s, "shared": w in in_a} for w, s in self.neighbors_b],
        }


@dataclass
class Comparison:
    """The outcome of :func:`compare`; ``words`` keep the order they were asked in."""

    k: int
    scope: str
    shared_vocab: int
    requested: int
    missing: list[str]
    words: list[WordComparison]
    seconds: float

    @property
    def mean_jaccard(self) -> float | None:
        return float(np.mean([w.jaccard for w in self.words])) if self.words else None

    @property
    def median_jaccard(self) -> float | None:
        return float(np.median([w.jaccard for w in self.words])) if self.words else None

    def most_changed(self, n: int = MOST_CHANGED) -> list[WordComparison]:
        """The ``n`` words with the least overlap (ties keep the asked order)."""
        return sorted(self.words, key=lambda w: w.jaccard)[:n]

    def to_json(self, most_changed: int = MOST_CHANGED) -> dict:
        return {
            "k": self.k,
            "scope": self.scope,
            "shared_vocab": self.shared_vocab,
            "requested": self.requested,
            "compared": len(self.words),
            "missing": self.missing[:100],
            "mean_jaccard": self.mean_jaccard,
            "median_jaccard": self.median_jaccard,
            "most_changed": [{"word": w.word, "jaccard": w.jaccard} for w in self.most_changed(most_changed)],
            "words": [w.to_json() for w in self.words],
            "seconds": round(self.seconds, 4),
        }


def jaccard(a: set, b: set) -> float:
    """``|a ∩ b| / |a ∪ b|``; two empty sets are identical (1.0)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def shared_mask(kv: KeyedVectors, other: KeyedVectors) -> np.ndarray:
    """Which of ``kv``'s words ``other`` also has."""
    keys = other.key_to_index
    return np.fromiter((w in keys for w in kv.index_to_key), dtype=bool, count=len(kv.index_to_key))


def compare(
    kv_a: KeyedVectors,
    kv_b: KeyedVectors,
    words: list[str] | None = None,
    n: int = DEFAULT_WORDS,
    k: int = DEFAULT_K,
    scope: str = SCOPE_SHARED,
) -> Comparison:
    """Neighbourhood overlap of ``words`` (default: model A's ``n`` most frequent shared words).

    Model A's vocabulary order stands for frequency (gensim sorts by count when it trains).
    Words missing from either model are reported in ``missing``, not compared.
    """
    started = time.perf_counter()
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if k < 1:
        raise InvalidArgument("k must be at least 1")
    in_b = shared_mask(kv_a, kv_b)
    shared = int(in_b.sum())
    if words is None:
        chosen = [kv_a.index_to_key[i] for i in np.flatnonzero(in_b)[:n]]
        missing: list[str] = []
        requested = len(chosen)
    else:
        unique = list(dict.fromkeys(words))
        chosen = [w for w in unique if w in kv_a.key_to_index and w in kv_b.key_to_index]
        missing = [w for w in unique if w not in kv_a.key_to_index or w not in kv_b.key_to_index]
        requested = len(unique)
        if not chosen:
            raise NotFound(
                "none of the words is in both models' vocabularies",
                missing=missing[:100],
            )
    if not chosen:
        raise NotFound("the two models share no words")
    allowed_a = in_b if scope == SCOPE_SHARED else None
    allowed_b = shared_mask(kv_b, kv_a) if scope == SCOPE_SHARED else None
    idx_a = np.array([kv_a.key_to_index[w] for w in chosen], dtype=np.int64)
    idx_b = np.array([kv_b.key_to_index[w] for w in chosen], dtype=np.int64)
    na, sa = neighbors_batch(kv_a, idx_a, k, allowed_a)
    nb, sb = neighbors_batch(kv_b, idx_b, k, allowed_b)
    out = []
    for row, word in enumerate(chosen):
        list_a = _named(kv_a, na[row], sa[row])
        list_b = _named(kv_b, nb[row], sb[row])
        overlap = jaccard({w for w, _ in list_a}, {w for w, _ in list_b})
        out.append(WordComparison(word, overlap, list_a, list_b))
    return Comparison(k, scope, shared, requested, missing, out, time.perf_counter() - started)


def _named(kv: KeyedVectors, index: np.ndarray, score: np.ndarray) -> list[tuple[str, float]]:
    return [
        (kv.index_to_key[i], float(s)) for i, s in zip(index.tolist(), score.tolist(), strict=True) if i >= 0
    ]


def parse_words(text: str) -> list[str]:
    """``"king, queen  man"`` → ``["king", "queen", "man"]`` (commas or whitespace separate)."""
    return [w for w in text.replace(",", " ").split() if w]
