"""Routes with the ANN index: ``exact=1``, index status in the listing, many models listed lazily."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fixtures import REPO, make_client, train_word2vec

from tensorboard_plugin_w2v.search import index as ann

BASE = "/data/plugin/word2vec"

pytest.importorskip("faiss")


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows_by_name(client) -> dict:
    return {(m["run"], m["model"]): m for m in get(client, "models")["models"]}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A plugin whose threshold puts even the small Lee model behind an index, built and ready."""
    root = tmp_path_factory.mktemp("indexed")
    logdir = root / "logs"
    (logdir / "run").mkdir(parents=True)
    model = train_word2vec(epochs=20)
    model.wv.save(str(logdir / "run" / "lee.kv"))
    client, plugin = make_client(str(logdir), cache_dir=str(root / "cache"))
    plugin.indexes.exact_max_cells = 0
    get(client, "neighbors", run="run", model="lee.kv", word="police")  # loads it, starts the build
    version = plugin.catalog.runs()["run"]["lee.kv"].version()
    assert plugin.store.get(version).index.wait(60)
    return client, plugin, model.wv


def test_listing_shows_the_index_once_built(indexed):
    client, _, kv = indexed
    row = rows_by_name(client)[("run", "lee.kv")]
    assert row["index"]["state"] == ann.STATE_READY
    assert row["index"]["progress"] == 1.0
    assert row["index"]["library"] == "faiss"
    assert row["index"]["bytes"] > 0


@pytest.mark.parametrize("word", ["police", "Australia", "said"])
def test_exact_parameter_gives_gensim_answers(indexed, word):
    client, _, kv = indexed
    data = get(client, "neighbors", run="run", model="lee.kv", word=word, k=10, exact=1)
    assert data["exact"] is True
    expected = kv.most_similar(word, topn=10)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected]
    np.testing.assert_allclose(
        [n["similarity"] for n in data["neighbors"]], [s for _, s in expected], atol=1e-6
    )


def test_default_uses_the_index_with_exact_similarities(indexed):
    client, _, kv = indexed
    recalls = []
    for word in kv.index_to_key[:200]:
        data = get(client, "neighbors", run="run", model="lee.kv", word=word, k=10)
        assert data["exact"] is False
        expected = {w for w, _ in kv.most_similar(word, topn=10)}
        recalls.append(len({n["word"] for n in data["neighbors"]} & expected) / 10)
        for n in data["neighbors"]:
            assert n["similarity"] == pytest.approx(float(kv.similarity(word, n["word"])), abs=1e-5)
    assert np.mean(recalls) >= 0.95


def test_analogy_exact_and_indexed(indexed):
    client, _, kv = indexed
    expected = [w for w, _ in kv.most_similar(positive=["police", "government"], negative=["said"], topn=5)]
    exact = get(client, "analogy", run="run", model="lee.kv", expr="police - said + government", k=5, exact=1)
    assert exact["exact"] is True and [n["word"] for n in exact["neighbors"]] == expected
    approx = get(client, "analogy", run="run", model="lee.kv", expr="police - said + government", k=5)
    assert approx["exact"] is False
    assert len({n["word"] for n in approx["neighbors"]} & set(expected)) >= 4


def test_small_models_are_exact_by_default(client):
    data = get(client, "neighbors", run="lee", model="vectors.kv", word="police")
    assert data["exact"] is True
    row = rows_by_name(client)[("lee", "vectors.kv")]
    assert row["index"] == {"state": ann.STATE_EXACT, "library": "faiss"}


def test_listing_a_hundred_models_loads_none(tmp_path, lee_model):
    for i in range(100):
        run = tmp_path / f"run{i:03d}"
        run.mkdir()
        lee_model.wv.save(str(run / "vectors.kv"))
    client, plugin = make_client(str(tmp_path), cache_dir=str(tmp_path / ".cache"))
    rows = get(client, "models")["models"]
    assert len(rows) == 100
    assert all(r["status"] == "not loaded" and r["index"] is None for r in rows)
    assert plugin.store.loaded_bytes() == 0
    assert not os.path.exists(tmp_path / ".cache" / "index")


@pytest.mark.slow
def test_quick_benchmark_runs(tmp_path, capsys):
    """``benchmarks/run.py --quick`` (CI's benchmark) completes and its answers are right.

    Only correctness is asserted here; the speed figures live in the JSON it writes, and its
    table is printed into the test log.
    """
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    root = REPO
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--work-dir", str(tmp_path), "--json", str(out)],
        cwd=root,
        check=True,
        timeout=600,
        stdout=subprocess.PIPE,
        text=True,
    )
    with capsys.disabled():
        print("\nbenchmarks/run.py --quick (ratios against gensim in the same run):" + done.stdout)
    report = json.loads(out.read_text())
    indexed, exact = report["results"]
    assert indexed["route_default"]["exact"] is False and indexed["index"]["reused_on_restart"] is True
    assert indexed["route_default"]["recall_at_10"] >= 0.95
    assert exact["route_default"]["exact"] is True and exact["route_default"]["recall_at_10"] >= 0.99
    assert report["listing"]["models"] == 100
    # 3CosMul through the route (one walk over the matrix) names gensim's most_similar_cosmul words
    for result in (indexed, exact):
        assert result["route_3cosmul_exact"]["queries"] == 10
        assert result["route_3cosmul_exact"]["same_words_as_gensim"] == 1.0
    # both restarts opened the vocabulary cache their first start wrote, without unpickling
    assert all(r["cold"]["restart_vocabulary_from_cache"] for r in (indexed, exact))
