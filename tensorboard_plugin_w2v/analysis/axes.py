"""Concept axes (SemAxis, An et al. 2018, without its nearest-neighbour pole expansion).

An axis is written as an expression: ``woman - man``, ``good``, ``good + great - bad - awful``.
The axis vector is the mean of the unit vectors of the ``+`` words minus the mean of the unit
vectors of the ``-`` words (a single word: its unit vector), and a word's coordinate on the axis
is ``cos(v_w, axis)``.

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> kv = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> axis = parse_axis(kv, "human - computer")
    >>> axis.positive, axis.negative
    (['human'], ['computer'])
    >>> bool(coordinates(kv, axis, ["human"])[0] > coordinates(kv, axis, ["computer"])[0])
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.analysis.arithmetic import unit_vector
from tensorboard_plugin_w2v.errors import InvalidArgument

if TYPE_CHECKING:
    from gensim.models import KeyedVectors


@dataclass(frozen=True)
class Axis:
    """A parsed axis: its expression, its pole words and its (not normalised) vector."""

    expr: str
    positive: list[str]
    negative: list[str]
    vector: np.ndarray

    def to_json(self) -> dict:
        return {"expr": self.expr, "words": {"positive": self.positive, "negative": self.negative}}


def _units(kv: KeyedVectors, words: Sequence[str]) -> np.ndarray:
    return np.stack([np.asarray(unit_vector(kv, w), dtype=np.float64) for w in words])


def parse_axis(kv: KeyedVectors, expr: str, name: str = "axis") -> Axis:
    """The axis of ``expr``: 400 (:class:`InvalidArgument`) when malformed or when the poles cancel
    out, 404 (:class:`NotFound`, with suggestions) for a word not in the vocabulary."""
    try:
        positive, negative = queries.parse_expression(expr)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{name} {expr!r}: {exc.message.replace('expr ', '', 1)}") from None
    for word in positive + negative:
        queries.require_word(kv, word)
    vector = np.zeros(kv.vector_size, dtype=np.float64)
    if positive:
        vector += _units(kv, positive).mean(axis=0)
    if negative:
        vector -= _units(kv, negative).mean(axis=0)
    if not np.any(vector):
        raise InvalidArgument(f"{name} {expr!r} is the zero vector (its + and - words cancel out)")
    return Axis(expr, positive, negative, vector)


def coordinates(kv: KeyedVectors, axis: Axis, words: Sequence[str]) -> np.ndarray:
    """``cos(v_w, axis)`` of each word (float64; NaN for a zero word vector)."""
    if not words:
        return np.zeros(0)
    return _units(kv, words) @ (axis.vector / np.linalg.norm(axis.vector))
