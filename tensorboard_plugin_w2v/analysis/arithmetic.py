"""Analogy arithmetic and its constants: gensim's 3CosAdd and 3CosMul, written once.

3CosAdd ranks words by their cosine with gensim's normalised mean of the unit vectors
(``+1`` for positive words, ``-1`` for negative ones, :func:`mean_vector`). 3CosMul (Levy &
Goldberg 2014, gensim's ``most_similar_cosmul``) shifts each cosine into ``[0, 1]`` with
``p = (1 + cos) / 2`` and ranks by ``prod(p_positive) / (prod(p_negative) + 1e-6)``
(:func:`cosmul`); the evaluation solves the same formula in log space (:func:`log_shifted`).

    >>> import numpy as np
    >>> float(cosmul([np.float32(1.0)], [np.float32(-1.0)]))
    1000000.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.errors import InvalidArgument
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
    if kv.norms is not None or hasattr(kv, "vectors_ngrams"):
        ensure_norms(kv)
        return kv.get_vector(word, norm=True)
    i = kv.get_index(word)
    return kv.vectors[i] / norms_of(kv, np.array([i]))[0]


def mean_vector(kv: KeyedVectors, positive: list[str], negative: list[str]) -> np.ndarray:
    """gensim's ``get_mean_vector(pos + neg, [1…, -1…], pre_normalize=True, post_normalize=True)``."""
    from gensim import matutils

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


def shifted(cosines: np.ndarray) -> np.ndarray:
    """3CosMul's ``p = (1 + cos) / 2``: cosines moved into ``[0, 1]``."""
    return (1 + cosines) / 2


def cosmul(positive: Sequence[np.ndarray] | np.ndarray, negative: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """gensim's 3CosMul score from the cosines of each positive and each negative word (a
    sequence of arrays, or the rows of one array: fewer, larger NumPy calls)."""
    pos = np.prod(shifted(np.asarray(positive)), axis=0)
    # No negative word: gensim's product of nothing, a float64 1.0 (its scores are float64 then).
    neg = np.prod(shifted(np.asarray(negative)), axis=0) if len(negative) else np.prod([])
    return pos / (neg + COSMUL_EPSILON)


def log_shifted(cosines: np.ndarray, logs: np.ndarray, guarded_logs: np.ndarray) -> None:
    """3CosMul in log space: ``logs = log p`` and ``guarded_logs = log(p + 1e-6)`` of float32
    ``cosines`` (overwritten with ``p``), so ``log p_b + log p_c - log(p_a + 1e-6)`` is the
    logarithm of :func:`cosmul` for ``b + c - a`` (same order)."""
    np.add(cosines, 1, out=cosines)
    np.multiply(cosines, np.float32(0.5), out=cosines)
    np.log(cosines, out=logs)
    np.add(cosines, np.float32(COSMUL_EPSILON), out=guarded_logs)
    np.log(guarded_logs, out=guarded_logs)
