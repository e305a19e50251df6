"""Alignment and drift on real models, checked against scipy's orthogonal_procrustes and the
issue's definitions computed here the straightforward way (float64, one word at a time)."""

from __future__ import annotations

import doctest
import threading

import numpy as np
import pytest
from analysis_fixtures import rotated
from fixtures import train_word2vec
from gensim.models import KeyedVectors
from scipy.linalg import orthogonal_procrustes

from tensorboard_plugin_w2v.analysis import alignment as al
from tensorboard_plugin_w2v.errors import BadRequest, NotFound
from tensorboard_plugin_w2v.models.loading import load_model
from tensorboard_plugin_w2v.writers import summary

MOVED = ["government", "police", "Australia", "Sydney", "fire"]


@pytest.fixture(scope="module")
def model_a() -> KeyedVectors:
    return train_word2vec(seed=1, epochs=10).wv


@pytest.fixture(scope="module")
def model_b() -> KeyedVectors:
    """Another seed and a smaller vocabulary (so the shared words are a subset of A's)."""
    return train_word2vec(seed=2, epochs=10, min_count=8).wv


def reference_alignment(kv_a: KeyedVectors, kv_b: KeyedVectors, anchors: int | None = None):
    """Shared words in A's order, the anchors' unit rows and scipy's rotation, all float64."""
    shared = [w for w in kv_a.index_to_key if w in kv_b.key_to_index]
    n = min(len(shared), anchors or al.MAX_ANCHORS)

    def unit(kv, words):
        m = np.array([kv[w] for w in words], dtype=np.float64)
        return m / np.linalg.norm(m, axis=1)[:, None]

    r, _scale = orthogonal_procrustes(unit(kv_b, shared[:n]), unit(kv_a, shared[:n]))
    return shared, r


def reference_drift(kv_a, kv_b, r, word) -> float:
    a = np.asarray(kv_a[word], np.float64)
    b = np.asarray(kv_b[word], np.float64) @ r
    return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


@pytest.mark.parametrize("anchors", [None, 300, 40])
def test_rotation_is_scipys_orthogonal_procrustes(model_a, model_b, anchors):
    result = al.align(model_a, model_b, anchors=anchors)
    shared, r = reference_alignment(model_a, model_b, anchors)
    assert len(shared) < len(model_a)
    assert [model_a.index_to_key[i] for i in result.shared.rows_a] == shared
    assert [model_b.index_to_key[i] for i in result.shared.rows_b] == shared
    assert result.anchors == min(len(shared), anchors or len(shared))
    np.testing.assert_allclose(result.rotation, r, atol=1e-6)
    np.testing.assert_allclose(result.rotation @ result.rotation.T, np.eye(32), atol=1e-10)


def test_drift_of_every_shared_word_is_the_definition(model_a, model_b):
    result = al.align(model_a, model_b)
    shared, r = reference_alignment(model_a, model_b)
    values = result.drift(model_a, model_b)
    expected = np.array([reference_drift(model_a, model_b, r, w) for w in shared])
    np.testing.assert_allclose(values, expected, atol=2e-6)
    assert 0 < float(np.median(values)) < 0.5  # two seeds: words moved, but not at random


def test_two_seeds_differ_far_less_after_alignment(model_a):
    """Seeds differ by a rotation mostly: unaligned cosines are near 0, aligned ones are not."""
    other = train_word2vec(seed=3, epochs=10).wv
    values = al.align(model_a, other).drift(model_a, other)
    unaligned = [
        1 - float(np.dot(model_a[w], other[w]) / np.linalg.norm(model_a[w]) / np.linalg.norm(other[w]))
        for w in model_a.index_to_key[:300]
    ]
    assert np.median(values[:300]) < 0.5 * np.median(unaligned)


def test_pure_rotation_gives_no_drift(model_a):
    turned, rotation = rotated(model_a)
    result = al.align(model_a, turned)
    assert np.abs(result.drift(model_a, turned)).max() < 1e-5
    np.testing.assert_allclose(result.rotation, rotation.T, atol=1e-5)  # B = A Q, so R = Qᵀ


def test_moved_words_are_exactly_the_most_changed(model_a):
    moved, _rotation = rotated(model_a, MOVED, seed=0)
    report = al.drift(model_a, moved, top=len(MOVED) + 1)
    assert {w for w, _ in report.most_changed[: len(MOVED)]} == set(MOVED)
    assert min(d for _, d in report.most_changed[: len(MOVED)]) > 0.3
    assert report.most_changed[len(MOVED)][1] < 0.01  # every other word stayed put
    assert all(d < 0.01 for _, d in report.least_changed)


def test_report_ranks_and_restrict_vocab(model_a, model_b):
    result = al.align(model_a, model_b)
    shared, r = reference_alignment(model_a, model_b)
    expected = {w: reference_drift(model_a, model_b, r, w) for w in shared}
    report = al.report(
        result, model_a, model_b, top=10, restrict_vocab=200, words=["police", "the", shared[-1]]
    )
    considered = shared[:200]
    assert report.shared == len(shared) and report.considered == 200 and report.anchors == len(shared)
    top = sorted((expected[w] for w in considered), reverse=True)
    # The listed words hold the 10 largest (smallest) drifts of the first 200 shared words.
    np.testing.assert_allclose([expected[w] for w, _ in report.most_changed], top[:10], atol=2e-6)
    np.testing.assert_allclose([expected[w] for w, _ in report.least_changed], top[::-1][:10], atol=2e-6)
    assert all(w in considered for w, _ in report.most_changed + report.least_changed)
    for word, value, rank in report.words:
        assert value == pytest.approx(expected[word], abs=2e-6)
        ties = sum(abs(expected[w] - expected[word]) < 1e-5 for w in considered)
        assert abs(rank - (1 + sum(expected[w] > expected[word] for w in considered))) <= ties
    assert report.to_json()["words"][0]["word"] == "police"


def test_errors(model_a):
    small = train_word2vec(seed=1, epochs=1, vector_size=16).wv
    with pytest.raises(BadRequest, match="32 and 16"):
        al.align(model_a, small)
    strangers = KeyedVectors(32, count=0)
    strangers.add_vectors(["zzz-not-a-word", "yyy-not-either"], np.ones((2, 32), np.float32))
    with pytest.raises(NotFound, match="share no words"):
        al.align(model_a, strangers)
    with pytest.raises(NotFound, match="model B"):
        al.drift(model_a, train_word2vec(seed=2, epochs=1, min_count=50).wv, words=["Sydney"])
    with pytest.raises(BadRequest, match="anchors"):
        al.align(model_a, model_a, anchors=0)


def test_cache_computes_each_alignment_once(model_a, model_b):
    cache = al.AlignmentCache()
    results = []

    def ask():
        results.append(cache.get(("a", "b", None), model_a, model_b))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(a) for a, _ in results}) == 1
    assert sorted(cached for _, cached in results) == [False, True, True, True]
    other, cached = cache.get(("a", "b", 100), model_a, model_b, anchors=100)
    assert not cached and other.anchors == 100 and len(cache) == 2
    tiny = al.AlignmentCache(max_bytes=1)
    tiny.get(1, model_a, model_b)
    tiny.get(2, model_a, model_b)
    assert len(tiny) == 1  # the least recently used went


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """A training run logged with a snapshot every epoch (the plugin's own callback)."""
    run = tmp_path_factory.mktemp("trajectory") / "lee"
    callback = summary.TrainingLogger(str(run), name="lee", snapshot_every=1, log_loss=False)
    train_word2vec(epochs=4, seed=4, callbacks=[callback])
    from tensorboard_plugin_w2v.models.discovery import Discovery

    entry = Discovery(str(run.parent)).scan()["lee"]["lee"]
    return [(v.step, load_model(v.path).kv) for v in entry.versions]


def test_trajectory_over_logged_snapshots(logged_run):
    assert [s for s, _ in logged_run] == [1, 2, 3, 4]
    steps = al.trajectory(logged_run, "police", k=5)
    last = logged_run[-1][1]
    assert [s.step for s in steps] == [1, 2, 3, 4]
    for (_step, kv), found in zip(logged_run, steps, strict=True):
        _shared, r = reference_alignment(last, kv)
        assert found.drift == pytest.approx(reference_drift(last, kv, r, "police"), abs=2e-6)
        assert [n.word for n in found.neighbors] == [w for w, _ in kv.most_similar("police", topn=5)]
    assert abs(steps[-1].drift) < 1e-6
    assert steps[0].drift > steps[-2].drift  # the first epoch is furthest from the end


def test_trajectory_errors_and_sampling(logged_run):
    with pytest.raises(BadRequest, match="two steps"):
        al.trajectory(logged_run[:1], "police")
    with pytest.raises(NotFound, match="none of the steps"):
        al.trajectory(logged_run, "Polise")
    picked = al.sample_steps(list(range(0, 1000, 2)))
    assert len(picked) == al.MAX_TRAJECTORY_STEPS and picked[0] == 0 and picked[-1] == 998
    gaps = np.diff(picked)
    assert gaps.min() >= 4 and gaps.max() <= 6


def test_doctests():
    assert doctest.testmod(al).failed == 0
