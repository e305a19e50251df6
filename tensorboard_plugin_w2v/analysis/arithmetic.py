"""Analogy arithmetic and its constants: gensim's 3CosAdd and 3CosMul, written once.

3CosAdd ranks words by their cosine with gensim's normalised mean of the unit vectors
(``+1`` for positive words, ``-1`` for negative ones, :func:`mean_vector`). 3CosMul (Levy &
Goldberg 2014, gensim's ``most_similar_cosmul``) shifts each cosine into ``[0, 1]`` with
``p = (1 + cos) / 2`` and ranks by ``prod(p_positive) / (prod(p_negative) + 1e-6)``
(:func:`cosmul_rows`); the evaluation solves the same formula in log space (:func:`log_shifted`).

    >>> import numpy as np
    >>> cosmul_rows(np.array([[0.5], [0.0]], np.float32), positives=1).round(4)  # 0.75 / 0.5
    array([1.5], dtype=float32)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.errors import InvalidArgument
from tensorboard_plugin_w2v.io import prefetch
from tensorboard_plugin_w2v.models.norms import ensure_norms, norms_of

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

METHOD_3COSADD = "3cosadd"
METHOD_3COSMUL = "3cosmul"
METHODS = (METHOD_3COSADD, METHOD_3COSMUL)
COSMUL_EPSILON = 0.000001  # gensim's most_similar_cosmul denominator guard


def check_method(method: str) -> str:
    """``method`` if it names one of :data:`METHODS`, else :class:`InvalidArgument`."""
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return method


def unit_vector(kv: KeyedVectors, word: str) -> np.ndarray:
    """``kv.get_vector(word, norm=True)``, without making gensim fill every norm first."""
    if not hasattr(kv, "vectors_ngrams") and word in kv.key_to_index:  # its row only, no read-around
        prefetch.ask_for_rows(kv.vectors, np.array([kv.get_index(word)]))
    if kv.norms is not None or hasattr(kv, "vectors_ngrams"):
        ensure_norms(kv)
        return kv.get_vector(word, norm=True)
    i = kv.get_index(word)
    return kv.vectors[i] / norms_of(kv, np.array([i]))[0]


def mean_vector(kv: KeyedVectors, positive: list[str], negative: list[str]) -> np.ndarray:
    """The query of gensim's ``most_similar(positive, negative)``: its ``get_mean_vector`` with
    the float64 weights ``most_similar`` passes, step for step. (The weights' type matters:
    with NumPy 2 the sum divided by their float64 total is float64, and float32 weights gave a
    query one bit off, which reordered two words of equal score in a soak run.)"""
    from gensim import matutils

    words = positive + negative
    weights = np.concatenate((np.ones(len(positive)), -1.0 * np.ones(len(negative))))
    mean = np.zeros(kv.vector_size, kv.vectors.dtype)
    total_weight = 0
    for idx, word in enumerate(words):
        mean += weights[idx] * unit_vector(kv, word)
        total_weight += abs(weights[idx])
    if total_weight > 0:
        mean = mean / total_weight
    return matutils.unitvec(mean).astype(np.float32)


def shifted(cosines: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """3CosMul's ``p = (1 + cos) / 2``: cosines moved into ``[0, 1]`` (into ``out`` if given)."""
    return np.divide(np.add(cosines, 1, out=out), 2, out=out)


def cosmul_rows(cosines: np.ndarray, positives: int) -> np.ndarray:
    """gensim's 3CosMul score from the rows of ``cosines`` (the first ``positives`` rows for
    positive words, the rest for negative ones), computed in ``cosines``, which it overwrites: no new arrays (on a
    busy server, fresh memory for a 400k-word model's arrays cost more than the arithmetic).

    The float32 operations are gensim's, in its order: ``p = (1 + cos) / 2``, the product of
    the positive ``p`` over the product of the negative ones plus ``1e-6``.
    """
    shifted(cosines, out=cosines)
    score = cosines[0]
    for row in cosines[1:positives]:
        np.multiply(score, row, out=score)
    if positives == len(cosines):
        return score / (np.prod([]) + COSMUL_EPSILON)  # gensim's empty product, a float64 1.0
    under = cosines[positives]
    for row in cosines[positives + 1 :]:
        np.multiply(under, row, out=under)
    np.add(under, COSMUL_EPSILON, out=under)
    return np.divide(score, under, out=score)


def log_shifted(cosines: np.ndarray, logs: np.ndarray, guarded_logs: np.ndarray) -> None:
    """3CosMul in log space: ``logs = log p`` and ``guarded_logs = log(p + 1e-6)`` of float32
    ``cosines`` (overwritten with ``p``), so ``log p_b + log p_c - log(p_a + 1e-6)`` is the
    logarithm of :func:`cosmul_rows` for ``b + c - a`` (same order)."""
    np.add(cosines, 1, out=cosines)
    np.multiply(cosines, np.float32(0.5), out=cosines)
    np.log(cosines, out=logs)
    np.add(cosines, np.float32(COSMUL_EPSILON), out=guarded_logs)
    np.log(guarded_logs, out=guarded_logs)
