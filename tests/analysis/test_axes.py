"""Concept axes on a real model, checked against the SemAxis definition computed here directly."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from tensorboard_plugin_w2v.analysis import axes
from tensorboard_plugin_w2v.errors import BadRequest, NotFound


def unit(kv, word) -> np.ndarray:
    v = np.asarray(kv[word], dtype=np.float64)
    return v / np.linalg.norm(v)


def expected_axis(kv, positive, negative) -> np.ndarray:
    vec = np.zeros(kv.vector_size)
    if positive:
        vec += np.mean([unit(kv, w) for w in positive], axis=0)
    if negative:
        vec -= np.mean([unit(kv, w) for w in negative], axis=0)
    return vec


@pytest.mark.parametrize(
    "expr, positive, negative",
    [
        ("police", ["police"], []),
        ("Australia - government", ["Australia"], ["government"]),
        ("police + fire - government - minister", ["police", "fire"], ["government", "minister"]),
        ("- Sydney", [], ["Sydney"]),
    ],
)
def test_axis_and_coordinates_are_the_definition(lee_model, expr, positive, negative):
    kv = lee_model.wv
    axis = axes.parse_axis(kv, expr)
    assert (axis.positive, axis.negative) == (positive, negative)
    vec = expected_axis(kv, positive, negative)
    np.testing.assert_allclose(axis.vector, vec, atol=1e-7)
    words = ["police", "officers", "cricket", "Sydney", "the"]
    want = [float(unit(kv, w) @ vec / np.linalg.norm(vec)) for w in words]
    np.testing.assert_allclose(axes.coordinates(kv, axis, words), want, atol=1e-6)
    assert axis.to_json() == {"expr": expr, "words": {"positive": positive, "negative": negative}}


def test_single_word_axis_ranks_like_similarity(lee_model):
    kv = lee_model.wv
    axis = axes.parse_axis(kv, "police")
    words = kv.index_to_key[:50]
    coords = axes.coordinates(kv, axis, words)
    np.testing.assert_allclose(coords, [kv.similarity("police", w) for w in words], atol=1e-6)


def test_errors(lee_model):
    kv = lee_model.wv
    with pytest.raises(BadRequest, match="x 'police -': ends with an operator"):
        axes.parse_axis(kv, "police -", name="x")
    with pytest.raises(BadRequest, match="empty"):
        axes.parse_axis(kv, "  ")
    with pytest.raises(BadRequest, match="zero vector"):
        axes.parse_axis(kv, "police - police")
    with pytest.raises(NotFound) as err:
        axes.parse_axis(kv, "Polise - fire")
    assert err.value.details["word"] == "Polise" and "police" in err.value.details["suggestions"]
    assert axes.coordinates(kv, axes.parse_axis(kv, "fire"), []).shape == (0,)


def test_doctests():
    assert doctest.testmod(axes).failed == 0
