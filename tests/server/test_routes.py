"""The HTTP routes through TensorBoard's WSGI app, compared with gensim's own answers."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from fixtures import make_client, train_word2vec
from gensim.models import KeyedVectors, Word2Vec

from tensorboard_plugin_w2v import metadata as md

BASE = "/data/plugin/word2vec"


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.status_code, response.get_json()


def test_models_listing(client, lee_model):
    status, data = get(client, "models")
    assert status == 200
    rows = {(m["run"], m["model"]): m for m in data["models"]}
    row = rows[("lee", "vectors.bin")]
    assert row["format"] == md.FORMAT_WORD2VEC_BINARY
    assert row["vocab_size"] == len(lee_model.wv) and row["dim"] == lee_model.vector_size
    assert row["path"] == "lee/vectors.bin"
    training = rows[("training", "lee")]
    assert training["steps"] == [1, 2, 3] and training["step"] == 3
    assert [v["step"] for v in training["versions"]] == [1, 2, 3]
    assert [v["training"]["epochs"] for v in training["versions"]] == [1, 2, 3]
    assert training["path"] == training["versions"][-1]["path"] != training["versions"][0]["path"]
    for key in ("run", "model", "step", "steps", "format", "path", "vocab_size", "dim", "error", "status"):
        assert all(key in m for m in data["models"])


@pytest.mark.parametrize(
    "run, model",
    [
        ("lee", "w2v.model"),
        ("lee", "vectors.bin"),
        ("lee", "vectors.txt"),
        ("lee", "vectors.kv"),
        ("projector", "lee"),
        ("projector_tsv", "lee"),
    ],
)
@pytest.mark.parametrize("word", ["police", "Australia", "said"])
def test_neighbors_equal_gensim(client, lee_model, run, model, word):
    status, data = get(client, "neighbors", run=run, model=model, word=word, k=10)
    assert status == 200
    expected = lee_model.wv.most_similar(word, topn=10)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected]
    np.testing.assert_allclose(
        [n["similarity"] for n in data["neighbors"]], [s for _, s in expected], atol=1e-5
    )


def test_neighbors_report_counts_where_known(client, lee_model):
    _, data = get(client, "neighbors", run="lee", model="w2v.model", word="police", k=3)
    assert all(n["count"] == lee_model.wv.get_vecattr(n["word"], "count") for n in data["neighbors"])
    _, data = get(client, "neighbors", run="lee", model="vectors.bin", word="police", k=3)
    assert all(n["count"] is None for n in data["neighbors"])


def test_steps_select_snapshots(client, logdir):
    for step in (1, 2, 3):
        path = os.path.join(logdir, "training", md.PLUGIN_DIR, "snapshots", f"lee-{step}.model")
        kv = Word2Vec.load(path).wv
        _, data = get(client, "neighbors", run="training", model="lee", word="police", k=5, step=step)
        assert [n["word"] for n in data["neighbors"]] == [w for w, _ in kv.most_similar("police", topn=5)]
        assert data["step"] == step
    _, latest = get(client, "neighbors", run="training", model="lee", word="police", k=5)
    assert latest["step"] == 3
    status, data = get(client, "neighbors", run="training", model="lee", word="police", step=7)
    assert status == 404 and data["known_steps"] == [1, 2, 3]


def test_analogy_routes(client, lee_model):
    kv = lee_model.wv
    expected = kv.most_similar(positive=["Australia", "police"], negative=["government"], topn=5)
    response = client.get(
        f"{BASE}/analogy?run=lee&model=w2v.model&positive=Australia&positive=police&negative=government&k=5"
    )
    assert response.status_code == 200
    assert [n["word"] for n in response.get_json()["neighbors"]] == [w for w, _ in expected]
    _, data = get(
        client, "analogy", run="lee", model="w2v.model", expr="Australia - government + police", k=5
    )
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected]
    assert data["positive"] == ["Australia", "police"] and data["negative"] == ["government"]
    _, data = get(
        client,
        "analogy",
        run="lee",
        model="w2v.model",
        expr="Australia - government + police",
        k=5,
        method="3cosmul",
    )
    cosmul = kv.most_similar_cosmul(positive=["Australia", "police"], negative=["government"], topn=5)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in cosmul]


def test_similarity_doesnt_match_vocab_vector(client, lee_model):
    kv = lee_model.wv
    _, data = get(client, "similarity", run="lee", model="w2v.model", a="police", b="government")
    assert data["similarity"] == pytest.approx(float(kv.similarity("police", "government")), abs=1e-6)
    response = client.get(f"{BASE}/doesnt_match?run=lee&model=w2v.model&word=police&word=government&word=two")
    assert response.get_json()["word"] == kv.doesnt_match(["police", "government", "two"])
    _, data = get(client, "vocab", run="lee", model="w2v.model", prefix="AUS", limit=5)
    matching = [w for w in kv.index_to_key if w.lower().startswith("aus")]
    most_frequent = max(matching, key=lambda w: kv.get_vecattr(w, "count"))
    assert data["words"][0]["word"] == most_frequent and data["total"] == len(matching)
    _, data = get(client, "vector", run="lee", model="w2v.model", word="police")
    np.testing.assert_allclose(data["vector"], kv["police"], rtol=1e-6)


@pytest.mark.parametrize(
    "route, params, status, needle",
    [
        ("neighbors", {"run": "nope", "model": "w2v.model", "word": "police"}, 404, "unknown run 'nope'"),
        ("neighbors", {"run": "lee", "model": "nope", "word": "police"}, 404, "unknown model 'nope'"),
        ("neighbors", {"run": "lee", "model": "w2v.model", "word": "Polise"}, 404, "'Polise'"),
        ("neighbors", {"run": "lee", "model": "w2v.model"}, 400, "missing parameter 'word'"),
        ("neighbors", {"run": "lee", "model": "w2v.model", "word": "police", "k": "ten"}, 400, "integer"),
        ("neighbors", {"run": "lee", "model": "w2v.model", "word": "police", "k": "-1"}, 400, "at least 1"),
        ("analogy", {"run": "lee", "model": "w2v.model", "expr": "a -"}, 400, "operator"),
        ("analogy", {"run": "lee", "model": "w2v.model", "positive": "police", "method": "x"}, 400, "method"),
        ("similarity", {"run": "lee", "model": "w2v.model", "a": "police"}, 400, "'b'"),
        ("doesnt_match", {"run": "lee", "model": "w2v.model", "word": "police"}, 400, "two words"),
        ("vocab", {"run": "lee", "model": "w2v.model", "offset": "x"}, 400, "offset"),
        ("neighbors", {"run": "broken", "model": "truncated.model", "word": "police"}, 422, "truncated"),
    ],
)
def test_errors_are_json(client, route, params, status, needle):
    code, data = get(client, route, **params)
    assert code == status and needle in data["error"]


def test_unknown_word_suggestions(client):
    _, data = get(client, "neighbors", run="lee", model="w2v.model", word="Goverment")
    assert "Government" in data["suggestions"]


def test_k_and_limit_are_capped(client):
    _, data = get(client, "neighbors", run="lee", model="w2v.model", word="police", k=10**9)
    assert len(data["neighbors"]) == md.MAX_K
    _, data = get(client, "vocab", run="lee", model="w2v.model", limit=10**9)
    assert len(data["words"]) == md.MAX_VOCAB_LIMIT


def test_corrupt_model_does_not_affect_others(client):
    code, _ = get(client, "neighbors", run="broken", model="truncated.model", word="police")
    assert code == 422
    code, data = get(client, "neighbors", run="broken", model="good.kv", word="police")
    assert code == 200 and len(data["neighbors"]) == 10
    _, listing = get(client, "models")
    rows = {(m["run"], m["model"]): m for m in listing["models"]}
    assert rows[("broken", "truncated.model")]["status"] == "error"
    assert "truncated" in rows[("broken", "truncated.model")]["error"]
    assert rows[("broken", "good.kv")]["status"] == "ok"


def test_replaced_file_is_reloaded(tmp_path):
    client, _ = make_client(str(tmp_path), reload_interval=0)
    first, second = train_word2vec(seed=1, epochs=1), train_word2vec(seed=2, epochs=3)
    path = tmp_path / "run" / "w2v.model"
    path.parent.mkdir()
    first.save(str(path))
    _, data = get(client, "neighbors", run="run", model="w2v.model", word="police", k=5)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in first.wv.most_similar("police", topn=5)]
    time.sleep(0.01)
    tmp = tmp_path / "run" / ".tmp-w2v"
    second.save(str(tmp))
    os.replace(tmp, path)
    _, data = get(client, "neighbors", run="run", model="w2v.model", word="police", k=5)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in second.wv.most_similar("police", topn=5)]


def test_new_model_appears_without_restart(tmp_path, lee_model):
    client, _ = make_client(str(tmp_path))
    assert get(client, "models")[1]["models"] == []
    (tmp_path / "late").mkdir()
    lee_model.wv.save_word2vec_format(str(tmp_path / "late" / "v.bin"), binary=True)
    assert [m["model"] for m in get(client, "models")[1]["models"]] == ["v.bin"]
    code, data = get(client, "neighbors", run="late", model="v.bin", word="police", k=3)
    assert code == 200 and len(data["neighbors"]) == 3


def test_tab_module_and_static_files(client):
    response = client.get(f"{BASE}/static/..%2f..%2fplugin.py")
    assert response.status_code == 404
    response = client.get(f"{BASE}/index.js")
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert b"export" in response.data


def test_sidecar_rewritten_in_place_is_never_read_again(tmp_path, lee_model):
    """gensim's save() rewrites memory-mapped .npy files in place; the old mapping must not answer."""
    client, _ = make_client(str(tmp_path), reload_interval=0)
    path = tmp_path / "run" / "big.kv"
    path.parent.mkdir()
    kv = KeyedVectors(lee_model.wv.vector_size)  # a fresh copy: no cached norms to save
    kv.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors)
    kv.save(str(path), sep_limit=0)  # vectors go to big.kv.vectors.npy, which is memory-mapped
    _, data = get(client, "neighbors", run="run", model="big.kv", word="police", k=5)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in kv.most_similar("police", topn=5)]
    rewritten = np.ascontiguousarray(kv.vectors[::-1])  # same shape, other rows
    with open(f"{path}.vectors.npy", "r+b") as f:  # in place, as np.save over an existing file
        np.save(f, rewritten)
    time.sleep(0.01)
    os.utime(f"{path}.vectors.npy")
    expected = KeyedVectors(kv.vector_size)
    expected.add_vectors(kv.index_to_key, rewritten)
    _, data = get(client, "neighbors", run="run", model="big.kv", word="police", k=5)
    assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected.most_similar("police", topn=5)]
    np.testing.assert_allclose(
        [n["similarity"] for n in data["neighbors"]],
        [s for _, s in expected.most_similar("police", topn=5)],
        atol=1e-5,
    )


def test_benchmark_list_needs_no_model(client):
    """Listing benchmarks loads nothing, so it works even for a model that cannot load."""
    code, data = get(client, "evaluate", run="broken", model="truncated.model")
    assert code == 200 and {"analogies", "wordsim353", "simlex999"} <= {b["name"] for b in data["benchmarks"]}
    code, data = get(client, "evaluate", run="broken", model="truncated.model", benchmark="wordsim353")
    assert code == 422 and "truncated" in data["error"]
