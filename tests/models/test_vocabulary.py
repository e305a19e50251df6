"""The vocabulary cache: large models reopened from a memory-mapped trie answer as gensim does."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import threading
import time

import numpy as np
import pytest
from fixtures import longest_pause, make_client
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.io import fileio, prefetch
from tensorboard_plugin_w2v.models import convert, loading, vocabulary, vocabulary_writer


@pytest.fixture(autouse=True)
def small_vocabularies_are_cached(monkeypatch):
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 0)


def _wait_for_cache(cache_dir: str, path: str) -> str:
    assert vocabulary.wait_for_saves(timeout=60)
    info = os.path.join(vocabulary.cache_folder(cache_dir, fileio.stat(path)), vocabulary.INFO_NAME)
    assert os.path.exists(info), "the vocabulary cache was never written"
    return info


def _save(model, folder, kind: str) -> str:
    """The Lee model saved by gensim with its vectors in a ``.npy`` sidecar."""
    path = os.path.join(folder, f"lee.{kind}")
    (model if kind == "model" else model.wv).save(path, sep_limit=0)
    return path


def _load_twice(path: str, cache_dir: str, policy: str):
    first = loading.load_model(path, cache_dir=cache_dir, mmap_policy=policy)
    assert isinstance(first.kv.key_to_index, dict)  # unpickled, the cache is written meanwhile
    _wait_for_cache(cache_dir, path)
    return first, loading.load_model(path, cache_dir=cache_dir, mmap_policy=policy)


@pytest.mark.parametrize("kind", ["model", "kv"])
@pytest.mark.parametrize("policy", [loading.MMAP_ALWAYS, loading.MMAP_NEVER])
def test_reopened_model_answers_as_gensim(tmp_path, lee_model, kind, policy):
    path = _save(lee_model, str(tmp_path), kind)
    first, again = _load_twice(path, str(tmp_path / "cache"), policy)
    kv, reference = again.kv, lee_model.wv
    assert isinstance(kv.key_to_index, vocabulary.WordIndex)
    assert isinstance(kv.vectors, np.memmap) == (policy == loading.MMAP_ALWAYS)
    assert list(kv.index_to_key) == reference.index_to_key
    assert dict(kv.key_to_index.items()) == reference.key_to_index
    assert kv.index_to_key[3:7] == reference.index_to_key[3:7]
    assert kv.index_to_key[-1] == reference.index_to_key[-1]
    np.testing.assert_array_equal(kv.expandos["count"], reference.expandos["count"])
    reference.fill_norms(force=True)
    np.testing.assert_array_equal(kv.norms, reference.norms)
    assert (again.format, again.counts_known, again.training) == (first.format, True, first.training)
    if kind == "model":
        assert again.training["window"] == lee_model.window
    for word in reference.index_to_key[:40]:
        assert kv.most_similar(word, topn=10) == reference.most_similar(word, topn=10)
        assert queries.neighbors(kv, word, k=10) == queries.neighbors(reference, word, k=10)
    assert kv.most_similar(positive=["president", "government"], negative=["man"]) == reference.most_similar(
        positive=["president", "government"], negative=["man"]
    )
    assert kv.doesnt_match(["man", "president", "fire"]) == reference.doesnt_match(
        ["man", "president", "fire"]
    )
    assert kv.similarity("man", "police") == reference.similarity("man", "police")
    for prefix in ("", "gov", "GOV", "s", "zzz", "Ä"):
        assert queries.vocab(kv, prefix, 0, 2000) == queries.vocab(reference, prefix, 0, 2000)
    questions = datapath("questions-words.txt")
    assert kv.evaluate_word_analogies(questions)[0] == reference.evaluate_word_analogies(questions)[0]
    pairs = datapath("wordsim353.tsv")
    assert kv.evaluate_word_pairs(pairs) == reference.evaluate_word_pairs(pairs)


def test_lookups_of_words_the_vocabulary_does_not_have(tmp_path, lee_model):
    path = _save(lee_model, str(tmp_path), "kv")
    kv = _load_twice(path, str(tmp_path / "cache"), loading.MMAP_ALWAYS)[1].kv
    index = kv.key_to_index
    for missing in ("no-such-word", "\ud800", "", "a\0b", 3, None):
        assert missing not in index
        assert index.get(missing, -1) == -1
        assert kv.has_index_for(missing) == lee_model.wv.has_index_for(missing)
        with pytest.raises(KeyError):
            index[missing]
    assert len(index) == len(kv.index_to_key) == len(lee_model.wv)


def test_copies_and_pickles_are_plain_python(tmp_path, lee_model):
    path = _save(lee_model, str(tmp_path), "kv")
    kv = _load_twice(path, str(tmp_path / "cache"), loading.MMAP_ALWAYS)[1].kv
    words = copy.deepcopy(kv.index_to_key)
    assert type(words) is list and words == lee_model.wv.index_to_key
    table = pickle.loads(pickle.dumps(kv.key_to_index))
    assert type(table) is dict and table == lee_model.wv.key_to_index


@pytest.mark.parametrize(
    "odd_word,cached",
    [("Ä ü 中文 🙂", True), ("", True), ("a\0b", False), ("\udcff", False)],
)
def test_words_a_trie_cannot_hold_leave_the_model_working(tmp_path, odd_word, cached):
    kv = KeyedVectors(4, count=0)
    words = ["plain", "other", odd_word]
    kv.add_vectors(words, np.arange(12, dtype=np.float32).reshape(3, 4) + 1)
    path = str(tmp_path / "odd.kv")
    kv.save(path, sep_limit=0)
    cache = str(tmp_path / "cache")
    loading.load_model(path, cache_dir=cache, mmap_policy="always")
    info = _wait_for_cache(cache, path)
    again = loading.load_model(path, cache_dir=cache, mmap_policy="always").kv
    assert isinstance(again.key_to_index, vocabulary.WordIndex) == cached
    assert list(again.index_to_key) == words
    assert again.get_index(odd_word) == 2
    assert queries.vocab(again, odd_word[:1], 0, 10, False) == queries.vocab(kv, odd_word[:1], 0, 10, False)
    if not cached:
        assert "refused" in open(info).read()


def test_the_cache_serves_a_model_mapped_from_its_private_copy_or_from_the_logdir(
    tmp_path, lee_model, monkeypatch
):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    path = _save(lee_model, str(tmp_path), "kv")
    cache = str(tmp_path / "cache")
    first = loading.load_model(path, cache_dir=cache)  # fresh: read into memory, then copied
    assert not isinstance(first.kv.vectors, np.memmap)
    assert convert.wait_for_copies(60)
    _wait_for_cache(cache, path)
    copied = loading.load_model(path, cache_dir=cache)  # mapped from the private copy
    assert copied.kv.vectors.filename.startswith(os.path.join(cache, "copies"))
    settled = loading.load_model(path, cache_dir=cache, mmap_policy="always")  # mapped in place
    assert settled.kv.vectors.filename == os.path.realpath(path + ".vectors.npy")
    for model in (copied, settled):
        assert isinstance(model.kv.key_to_index, vocabulary.WordIndex)
        assert model.kv.most_similar("man", topn=5) == lee_model.wv.most_similar("man", topn=5)


def test_a_vocabulary_written_for_replaced_vectors_is_written_anew(tmp_path, lee_model, monkeypatch):
    monkeypatch.setattr(convert, "CONVERT_MIN_BYTES", 0)
    source = str(tmp_path / "lee.txt")
    lee_model.wv.save_word2vec_format(source)
    cache = str(tmp_path / "cache")
    _load_twice(source, cache, loading.MMAP_ALWAYS)
    for folder in os.listdir(os.path.join(cache, "converted")):  # converted again: new mtimes
        shutil.rmtree(os.path.join(cache, "converted", folder))
    assert isinstance(loading.load_model(source, cache_dir=cache).kv.key_to_index, dict)
    _wait_for_cache(cache, source)
    again = loading.load_model(source, cache_dir=cache)
    assert isinstance(again.kv.key_to_index, vocabulary.WordIndex)
    assert list(again.kv.index_to_key) == lee_model.wv.index_to_key


def test_a_rewritten_vectors_file_is_not_matched_with_the_old_vocabulary(tmp_path, lee_model):
    path = _save(lee_model, str(tmp_path), "kv")
    cache = str(tmp_path / "cache")
    _load_twice(path, cache, loading.MMAP_ALWAYS)
    sidecar = path + ".vectors.npy"
    vectors = np.load(sidecar)
    np.save(sidecar, vectors[::-1].copy())  # same size, new content and mtime
    model = loading.load_model(path, cache_dir=cache, mmap_policy="always")
    assert isinstance(model.kv.key_to_index, dict)  # unpickled again
    np.testing.assert_array_equal(model.kv.vectors, vectors[::-1])


@pytest.mark.parametrize("damaged", ["words.marisa", "prefix_keys.bin", "prefix_ranks.npy", "order.npy", "ids.npy", "info.json"])
def test_a_damaged_cache_is_ignored(tmp_path, lee_model, damaged):
    path = _save(lee_model, str(tmp_path), "kv")
    cache = str(tmp_path / "cache")
    _load_twice(path, cache, loading.MMAP_ALWAYS)
    target = os.path.join(vocabulary.cache_folder(cache, fileio.stat(path)), damaged)
    with open(target, "r+b") as f:
        f.truncate(os.path.getsize(target) // 2)
    model = loading.load_model(path, cache_dir=cache, mmap_policy="always")
    assert isinstance(model.kv.key_to_index, dict)  # unpickled as if nothing were cached
    assert model.kv.most_similar("man", topn=5) == lee_model.wv.most_similar("man", topn=5)
    _wait_for_cache(cache, path)  # ... and the cache is written anew
    again = loading.load_model(path, cache_dir=cache, mmap_policy="always")
    assert isinstance(again.kv.key_to_index, vocabulary.WordIndex)


def test_fasttext_models_are_never_served_from_the_cache(tmp_path, fasttext_model):
    path = str(tmp_path / "ft.model")
    fasttext_model.save(path, sep_limit=0)
    cache = str(tmp_path / "cache")
    for _ in range(2):
        model = loading.load_model(path, cache_dir=cache, mmap_policy="always")
        assert model.format == md.FORMAT_GENSIM_FASTTEXT
        assert model.kv.most_similar("nonexistentword", topn=3) == fasttext_model.wv.most_similar(
            "nonexistentword", topn=3
        )
    assert not os.path.exists(os.path.join(cache, "vocab"))


def test_a_restarted_server_answers_from_the_cache_as_before(tmp_path, lee_model):
    logdir = tmp_path / "logs"
    (logdir / "run").mkdir(parents=True)
    _save(lee_model, str(logdir / "run"), "model")
    cache = str(tmp_path / "cache")
    answers = []
    for start in range(2):
        client, plugin = make_client(str(logdir), cache_dir=cache, mmap="always")
        listing = client.get("/data/plugin/word2vec/models").get_json()["models"]
        neighbours = client.get(
            "/data/plugin/word2vec/neighbors",
            query_string={"run": "run", "model": "lee.model", "word": "man"},
        ).get_json()
        vocab = client.get(
            "/data/plugin/word2vec/vocab", query_string={"run": "run", "model": "lee.model", "prefix": "gov"}
        ).get_json()
        answers.append((listing, neighbours, vocab))
        if start == 0:
            _wait_for_cache(cache, str(logdir / "run" / "lee.model"))
    loaded = plugin.store.get(plugin.catalog.runs()["run"]["lee.model"].version())
    assert isinstance(loaded.kv.key_to_index, vocabulary.WordIndex)
    assert answers[0] == answers[1]
    assert [n["word"] for n in answers[1][1]["neighbors"]] == [
        w for w, _ in lee_model.wv.most_similar("man", topn=len(answers[1][1]["neighbors"]))
    ]
    assert answers[1][2]["words"] and all(w["word"].lower().startswith("gov") for w in answers[1][2]["words"])


def test_a_model_reopened_from_the_cache_has_its_mapped_pages_brought_in_in_the_background(tmp_path, lee_model):
    """Opening a model from the cache reads none of its matrix or of the cache's arrays: a
    thread at the lowest priority maps and touches every page of them before queries do."""
    path = _save(lee_model, str(tmp_path), "kv")
    cache = str(tmp_path / "cache")
    _load_twice(path, cache, loading.MMAP_ALWAYS)
    group = lifecycle.ThreadGroup("test")
    try:
        again = loading.load_model(path, cache_dir=cache, mmap_policy=loading.MMAP_ALWAYS, group=group)
        assert isinstance(again.kv.key_to_index, vocabulary.WordIndex) and isinstance(again.kv.vectors, np.memmap)
        (thread,) = [t for t in group.started if t.name == "w2v-model-prefetch"]
        thread.join(60)
        folder = vocabulary.cache_folder(cache, fileio.stat(path))
        for mapped in (path + ".vectors.npy", os.path.join(folder, "norms.npy"), os.path.join(folder, "rows.npy")):
            assert prefetch.resident_fraction(mapped) == 1.0, mapped
    finally:
        group.close()


def test_the_memory_budget_counts_a_python_vocabulary_and_not_a_mapped_one(tmp_path, lee_model):
    import tracemalloc

    path = _save(lee_model, str(tmp_path), "kv")
    first, again = _load_twice(path, str(tmp_path / "cache"), loading.MMAP_ALWAYS)
    tracemalloc.start()
    try:
        words = [w for w in lee_model.wv.index_to_key]  # a copy of gensim's list, strings and dict
        words = [(w + ".")[:-1] for w in words]
        table = {w: i for i, w in enumerate(words)}
        # Only what this file's lines allocated: other threads (a previous test's background
        # work) allocate meanwhile, and tracemalloc traces every thread.
        mine = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, __file__)])
        held = sum(stat.size for stat in mine.statistics("filename"))
    finally:
        tracemalloc.stop()
    assert len(table) == len(words)
    estimate = loading.vocabulary_bytes(first.kv)
    assert 0.8 * held < estimate < 1.25 * held
    assert first.nbytes == first.kv.vectors.nbytes + estimate
    assert loading.vocabulary_bytes(again.kv) == 0 and again.nbytes == again.kv.vectors.nbytes


def _million_words(tmp_path):
    kv = KeyedVectors(2)
    words = [f"{i * 2654435761 % 2**32:08x}{i}" for i in range(1_000_000)]  # scattered, as real words are
    kv.add_vectors(words, np.ones((1_000_000, 2), dtype=np.float32))
    path = str(tmp_path / "big.kv")
    with open(path, "wb") as f:
        f.write(b"stands for the model file")
    return kv, fileio.stat(path)


def test_a_million_words_are_cached_without_holding_this_process(tmp_path):
    """The tries are built by a child process: a thread of this one keeps running meanwhile
    (in-process, building the trie of a million words held the GIL for 2 s in one call)."""
    kv, identity = _million_words(tmp_path)
    saved, held = longest_pause(lambda: vocabulary.save(kv, str(tmp_path / "cache"), identity, {}))
    assert saved
    assert held < 0.5, f"this process was held for {held:.2f} s"
    folder = vocabulary.cache_folder(str(tmp_path / "cache"), identity)
    assert not os.path.exists(os.path.join(folder, "words.in"))
    words = vocabulary.WordList(*_trie_and_ids(folder))
    assert [words[i] for i in (0, 1, 999_999)] == [kv.index_to_key[i] for i in (0, 1, 999_999)]


def _trie_and_ids(folder):
    import marisa_trie

    trie = marisa_trie.Trie()
    trie.load(os.path.join(folder, "words.marisa"))
    return trie, np.load(os.path.join(folder, "ids.npy"))


def test_closing_stops_the_child_that_writes_the_vocabulary(tmp_path):
    kv, identity = _million_words(tmp_path)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()  # the server closes while the child builds
    began = time.monotonic()
    assert not vocabulary.save(kv, str(tmp_path / "cache"), identity, {}, stop=stop)
    assert time.monotonic() - began < 3 + vocabulary_writer.POLL_SECONDS
    cache = tmp_path / "cache" / "vocab"
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written is left
