"""A large vocabulary decoded without its ``key_to_index``: the same answers as gensim's before
and after the dict is built, and the dict gensim would have decoded."""

from __future__ import annotations

import copy
import os
import pickle
import sys
import threading
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors, Word2Vec

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.models import deferred_index, loading, readers
from tensorboard_plugin_w2v.models.deferred_index import DeferredIndex

WORDS = ["government", "president", "man", "fire", "police"]


@pytest.fixture
def deferred(monkeypatch):
    """Every vocabulary with a sidecar is decoded without its dict (the Lee model has 1,700 words)."""
    monkeypatch.setattr(readers, "DEFER_MIN_WORDS", 2)


@pytest.fixture
def group():
    group = lifecycle.ThreadGroup("test-deferred")
    yield group
    assert group.close() == []


def _save(model: Word2Vec, folder, kind: str) -> str:
    path = os.path.join(folder, f"lee.{kind}")
    (model if kind == "model" else model.wv).save(path, sep_limit=0)
    return path


def _built(kv, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while type(kv.key_to_index) is not dict:
        assert time.monotonic() < deadline, "the dict was never built"
        time.sleep(0.01)
    return kv.key_to_index


@pytest.mark.parametrize("kind", ["model", "kv"])
@pytest.mark.parametrize("policy", [loading.MMAP_ALWAYS, loading.MMAP_NEVER])
def test_a_model_decoded_without_its_dict_answers_as_gensim(tmp_path, lee_model, deferred, group, kind, policy):
    path = _save(lee_model, str(tmp_path), kind)
    reference = Word2Vec.load(path).wv if kind == "model" else KeyedVectors.load(path)
    kv = loading.load_model(path, mmap_policy=policy, group=group).kv
    assert "w2v-key-index" in [t.name for t in group.started]  # decoded without the dict
    for word in WORDS:
        assert queries.neighbors(kv, word, k=10) == queries.neighbors(reference, word, k=10)
    table = _built(kv)
    assert table == reference.key_to_index and list(table) == list(reference.key_to_index)
    assert kv.index_to_key == reference.index_to_key
    np.testing.assert_array_equal(kv.expandos["count"], reference.expandos["count"])
    assert kv.most_similar(positive=["president", "government"], negative=["man"]) == reference.most_similar(
        positive=["president", "government"], negative=["man"]
    )


def test_the_first_answers_do_not_wait_for_the_dict(tmp_path, lee_model, deferred, group, monkeypatch):
    """While the dict is being built (held here), lookups scan the list and answer as gensim does."""
    release, original = threading.Event(), DeferredIndex.build

    def held(self, stop=None, share=None):
        release.wait(30)
        return original(self, stop, share)

    monkeypatch.setattr(DeferredIndex, "build", held)
    path = _save(lee_model, str(tmp_path), "kv")
    kv = loading.load_model(path, group=group).kv
    try:
        assert isinstance(kv.key_to_index, DeferredIndex)
        for word in WORDS:
            assert queries.neighbors(kv, word, k=10) == queries.neighbors(lee_model.wv, word, k=10)
        assert "no-such-word" not in kv.key_to_index and kv.get_index("man") == lee_model.wv.get_index("man")
        assert isinstance(kv.key_to_index, DeferredIndex)
    finally:
        release.set()
    assert _built(kv) == lee_model.wv.key_to_index


def test_lookups_scan_a_while_then_wait_for_the_dict(monkeypatch):
    words = [f"w{i}" for i in range(50_000)]
    index = DeferredIndex(words)
    assert index["w49999"] == 49_999 and index.get("x", -1) == -1 and "w3" in index and 3 not in index
    assert index._table is None  # answered by scanning
    monkeypatch.setattr(deferred_index, "SCAN_SECONDS", 0.0)
    assert index["w7"] == 7 and index._table == {w: i for i, w in enumerate(words)}
    assert "x" not in index and index.get("x") is None
    with pytest.raises(KeyError):
        index["x"]


def test_a_stopped_build_keeps_nothing_and_a_later_lookup_builds_the_dict(monkeypatch):
    index = DeferredIndex([f"w{i}" for i in range(40_000)])
    stop = threading.Event()
    stop.set()
    with pytest.raises(lifecycle.Stopped):
        index.build(stop)
    assert index._table is None
    monkeypatch.setattr(deferred_index, "SCAN_SECONDS", 0.0)
    assert index["w39999"] == 39_999 and len(index._table) == 40_000


def test_copies_and_pickles_get_the_plain_dict_and_memory_is_counted_from_the_start():
    words = [f"word{i}" for i in range(150_000)]
    kv = KeyedVectors(2)
    kv.index_to_key = words
    index = DeferredIndex(words)
    kv.key_to_index = index
    real = {w: i for i, w in enumerate(words)}
    estimate = sys.getsizeof(index)
    assert real.__sizeof__() / 2 < estimate < 2 * real.__sizeof__()
    assert 0.5 < loading.vocabulary_bytes(kv) / (sys.getsizeof(real) + sys.getsizeof(words) + sum(map(sys.getsizeof, words)) + 28 * len(words)) < 2
    assert type(pickle.loads(pickle.dumps(index))) is dict and copy.deepcopy(kv).key_to_index == real


def test_a_closing_group_leaves_lookups_to_build_the_dict(tmp_path, lee_model, deferred, monkeypatch):
    closed = lifecycle.ThreadGroup("closed")
    closed.close()
    path = _save(lee_model, str(tmp_path), "kv")
    kv = loading.load_model(path, group=closed).kv
    assert isinstance(kv.key_to_index, DeferredIndex)
    monkeypatch.setattr(deferred_index, "SCAN_SECONDS", 0.0)
    assert kv.get_index("man") == lee_model.wv.get_index("man")
    assert kv.key_to_index.table() == lee_model.wv.key_to_index
