"""Issue 15, fault 3: ``--word2vec_cache_budget`` keeps the cache folder under its size.

Entries of every kind (private copies, conversions, vocabulary tries, search indexes) are evicted,
least valuable first (recorded build time against time since last use), never one in use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from fixtures import make_client, ready_model, train_word2vec
from tensorboard.plugins import base_plugin

from tensorboard_plugin_w2v.models import cache_budget, convert, loading, vocabulary

pytest.importorskip("faiss")

API = "/data/plugin/word2vec"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def everything_is_cached(monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    monkeypatch.setattr(convert, "CONVERT_MIN_BYTES", 0)
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 0)


def _by_kind(items):
    out = {}
    for e in items:
        out.setdefault(e.kind, []).append(e)
    return out


def _fill(folder: str, cache: str, seed: int = 1):
    """Cache entries of every kind for real model files: a copy, a conversion, vocabularies, an index."""
    model = train_word2vec(seed=seed)
    kv_path = os.path.join(folder, f"vectors{seed}.kv")
    model.wv.save(kv_path, sep_limit=0)
    text_path = os.path.join(folder, f"vectors{seed}.txt")
    model.wv.save_word2vec_format(text_path)
    loaded = ready_model(cache, kv_path)
    converted = loading.load_model(text_path, cache_dir=cache)
    assert vocabulary.wait_for_saves(60)
    assert convert.wait_for_copies(60)  # the private copy is written after the load
    return model.wv, loaded, converted


def _fill_in_child(folder: str, cache: str) -> None:
    """:func:`_fill` in a process of its own, with what the fixtures set in the tests' process."""
    from tensorboard_plugin_w2v.search import index

    convert.PRIVATE_COPY_MIN_BYTES = convert.CONVERT_MIN_BYTES = vocabulary.MIN_WORDS = 0
    index.BUILD_START_DELAY = vocabulary.SAVE_DELAY_SECONDS = 0.0
    _fill(folder, cache)


def _set_cost(entry: cache_budget.Entry, seconds: float, last_used: float) -> None:
    """Record a build time in the entry's own metadata, and its last use as its mtime."""
    if entry.kind == "index":
        meta = entry.paths[1]
        data = json.load(open(meta))
        data["build_seconds"] = seconds
        json.dump(data, open(meta, "w"))
    else:
        name = "info.json" if entry.kind == "vocab" else "source.json"
        path = os.path.join(entry.paths[0], name)
        data = json.load(open(path))
        data["build_seconds" if entry.kind == "vocab" else "seconds"] = seconds
        json.dump(data, open(path, "w"))
    os.utime(entry.paths[-1], (last_used, last_used))


def test_entries_of_every_kind_are_found_with_their_cost(tmp_path):
    cache = str(tmp_path / "cache")
    _kv, loaded, converted = _fill(str(tmp_path), cache)
    kinds = _by_kind(cache_budget.entries(cache))
    assert sorted(kinds) == ["converted", "copies", "index", "vocab"]
    assert len(kinds["vocab"]) == 2  # the native model's and the converted one's
    for entry in cache_budget.entries(cache):
        assert entry.bytes > 0 and entry.build_seconds > 0
    # the index and the conversion recorded how long they took
    index_meta = json.load(open(kinds["index"][0].paths[1]))
    assert kinds["index"][0].build_seconds == index_meta["build_seconds"]
    source = json.load(open(os.path.join(kinds["converted"][0].paths[0], "source.json")))
    assert kinds["converted"][0].build_seconds == source["seconds"]


def test_a_long_index_build_outlives_a_quick_conversion_and_entries_in_use_stay(tmp_path):
    cache = str(tmp_path / "cache")
    # written by another process that has ended: nothing maps the cache now
    code = f"from test_cache_budget import _fill_in_child; _fill_in_child({str(tmp_path)!r}, {cache!r})"
    paths = [REPO, os.path.join(REPO, "tests"), os.path.dirname(os.path.abspath(__file__))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env, timeout=300)
    reference = train_word2vec(seed=1).wv
    now = time.time()
    kinds = _by_kind(cache_budget.entries(cache))
    for entry in cache_budget.entries(cache):
        _set_cost(entry, 100.0, now - 600)
    _set_cost(kinds["index"][0], 1200.0, now - 600)  # twenty minutes to build
    _set_cost(kinds["converted"][0], 10.0, now - 600)  # ten seconds to convert
    total = sum(e.bytes for e in cache_budget.entries(cache))
    removed = cache_budget.enforce(cache, total - 1, now=now)
    assert removed == [kinds["converted"][0].paths[0]]  # one eviction was enough: the cheapest
    # a very old index loses to a conversion used a moment ago
    _set_cost(kinds["index"][0], 1200.0, now - 30 * 86400)
    for entry in cache_budget.entries(cache):
        if entry.kind != "index":
            _set_cost(entry, 10.0, now - 1)
    total = sum(e.bytes for e in cache_budget.entries(cache))
    removed = cache_budget.enforce(cache, total - 1, now=now)
    assert removed == list(kinds["index"][0].paths)

    # a model mapped from the cache keeps its entries, whatever the budget
    text_path = str(tmp_path / "vectors1.txt")
    mapped = loading.load_model(text_path, cache_dir=cache)
    assert vocabulary.wait_for_saves(60)
    in_use = {e.paths[0] for e in cache_budget.entries(cache) if e.kind in ("converted", "vocab")}
    cache_budget.enforce(cache, 0)
    left = {p for e in cache_budget.entries(cache) for p in e.paths}
    assert any(p in left for p in in_use)
    assert [w for w, _ in mapped.kv.most_similar("police", topn=5)] == [
        w for w, _ in reference.most_similar("police", topn=5)
    ]
    assert "copies" not in _by_kind(cache_budget.entries(cache))  # not in use: evicted


def test_a_server_keeps_its_cache_under_the_budget_and_answers_as_gensim(tmp_path):
    logdir = tmp_path / "logs"
    references = {}
    for seed in (1, 2, 3):
        run = logdir / f"run{seed}"
        run.mkdir(parents=True)
        model = train_word2vec(seed=seed, vector_size=64)
        model.wv.save_word2vec_format(str(run / "vectors.txt"))
        references[f"run{seed}"] = model.wv
    cache = str(tmp_path / "cache")
    budget = 600_000  # room for about one model's entries
    client, plugin = make_client(str(logdir), cache_dir=cache, cache_budget=str(budget))
    for _round in range(2):
        for run, kv in references.items():
            query = {"run": run, "model": "vectors.txt", "word": "police", "k": 5}
            body = client.get(f"{API}/neighbors", query_string=query).get_json()
            assert [n["word"] for n in body["neighbors"]] == [w for w, _ in kv.most_similar("police", topn=5)]
            assert vocabulary.wait_for_saves(60)
            plugin.cache_keeper.check()
            in_use = sum(e.bytes for e in cache_budget.entries(cache) if _mapped(e, cache))
            assert sum(e.bytes for e in cache_budget.entries(cache)) <= max(budget, in_use)
    assert plugin.cache_keeper.evictions > 0
    status = client.get(f"{API}/models").get_json()["store"]
    assert status["cache_budget_bytes"] == budget and status["cache_evictions"] > 0


def _mapped(entry, cache) -> bool:
    used = cache_budget.paths_in_use(cache)
    real = [os.path.realpath(p) for p in entry.paths]
    return any(u.startswith(r) for u in used for r in real)


@pytest.mark.parametrize("flag, message", [("cache_budget=lots", "cache_budget"), ("remote_timeout=0", "remote_timeout")])
def test_bad_flags_are_refused(tmp_path, flag, message):
    key, value = flag.split("=")
    with pytest.raises(base_plugin.FlagsError, match=message):
        make_client(str(tmp_path), **{key: value})
