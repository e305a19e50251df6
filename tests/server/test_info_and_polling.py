"""``/info`` states the limits the routes enforce; polling one model's row does not rescan the logdir."""

from __future__ import annotations

import time

import pytest
from fixtures import make_client

from tensorboard_plugin_w2v.models.discovery import Discovery

PREFIX = "/data/plugin/word2vec"
LEE = {"run": "lee", "model": "w2v.model"}


@pytest.fixture(scope="module")
def app(logdir, tmp_path_factory):
    # A long reload interval: only the listing itself and misses may walk the logdir.
    return make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")), reload_interval=3600)


def get(client, route: str, status: int = 200, **params) -> dict:
    r = client.get(PREFIX + route, query_string=params)
    assert r.status_code == status, (route, r.status_code, r.get_data(as_text=True))
    return r.json


@pytest.fixture
def scans(monkeypatch) -> list[str]:
    """Every walk of the logdir, by the real ``Discovery.scan``."""
    seen: list[str] = []
    real = Discovery.scan

    def counted(self, *args, **kwargs):
        seen.append("scan")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Discovery, "scan", counted)
    return seen


def test_info_limits_are_the_ones_the_routes_enforce(app):
    client, _plugin = app
    info = get(client, "/info")
    limits, defaults = info["limits"], info["defaults"]
    # k above the cap is lowered to it (the Lee model has more words than the cap).
    rows = get(client, "/neighbors", **LEE, word="the", k=limits["k"] + 7)["neighbors"]
    assert len(rows) == limits["k"]
    assert len(get(client, "/neighbors", **LEE, word="the")["neighbors"]) == defaults["k"]
    words = get(client, "/vocab", **LEE, limit=limits["vocab_limit"] + 1)["words"]
    assert len(words) == limits["vocab_limit"]
    assert len(get(client, "/vocab", **LEE)["words"]) == defaults["vocab_limit"]
    # Word lists one longer than the cap are refused.
    vocab = [w["word"] for w in get(client, "/vocab", **LEE, limit=limits["vocab_limit"])["words"]]
    ok = get(client, "/doesnt_match", **LEE, word=vocab[: limits["query_words"]])
    assert ok["word"] in vocab
    get(client, "/doesnt_match", 400, **LEE, word=vocab[: limits["query_words"] + 1])
    # Compare: k is capped, the default scope and word count are the ones stated.
    cmp = get(client, "/compare", **LEE, model2="vectors.kv", k=limits["compare_k"] + 1, n=3)
    assert cmp["k"] == limits["compare_k"]
    cmp = get(client, "/compare", **LEE, model2="vectors.kv")
    assert cmp["scope"] == defaults["compare_scope"] and cmp["requested"] == defaults["compare_words"]
    assert info["scopes"] == ["shared", "all"]
    for scope in info["scopes"]:
        get(client, "/compare", **LEE, model2="vectors.kv", n=3, scope=scope)
    get(client, "/compare", 400, **LEE, model2="vectors.kv", n=3, scope="everything")


def test_info_methods_and_benchmarks_are_the_ones_accepted(app):
    client, _plugin = app
    info = get(client, "/info")
    names = [m["name"] for m in info["methods"]]
    assert names == ["3cosadd", "3cosmul"] and info["defaults"]["method"] == "3cosadd"
    assert [m["label"] for m in info["methods"]] == ["3CosAdd", "3CosMul"]
    for method in names:
        answer = get(client, "/analogy", **LEE, positive=["police", "government"], negative="said", method=method)
        assert answer["method"] == method
    get(client, "/analogy", 400, **LEE, positive=["police", "government"], negative="said", method="3cosdiv")
    listed = get(client, "/evaluate", **LEE)["benchmarks"]
    assert info["benchmarks"] == [b for b in listed if b["source"] == "builtin"]
    assert [b["name"] for b in info["benchmarks"]] == ["analogies", "wordsim353", "simlex999"]
    pairs = get(client, "/evaluate", **LEE, benchmark="wordsim353", wait=30)
    assert pairs["status"] == "done" and pairs["restrict_vocab"] == info["defaults"]["restrict_vocab"]


def test_polling_one_model_does_not_rescan(logdir, tmp_path_factory, scans, lee_model):
    client, _plugin = make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")), reload_interval=3600)
    listing = get(client, "/models")
    assert len(scans) == 1
    (full_row,) = [r for r in listing["models"] if r["run"] == "lee" and r["model"] == "w2v.model"]
    assert full_row["status"] == "not loaded"

    # What the tab asks every 2 s while a model loads: that model's row, from the last listing.
    for _ in range(25):
        polled = get(client, "/models", **LEE)
        assert polled["logdir"] == listing["logdir"]
        assert [r["model"] for r in polled["models"]] == ["w2v.model"]
    assert polled["models"][0] == full_row
    assert len(scans) == 1

    # A query loads the model; the next poll reports it loaded, still without a rescan.
    get(client, "/neighbors", **LEE, word="police")
    (row,) = get(client, "/models", **LEE)["models"]
    assert row["status"] == "ok" and row["vocab_size"] == len(lee_model.wv)
    assert row["training"]["sg"] in (0, 1)
    assert len(scans) == 1

    # A name not in the listing is looked for again (at most once a second), then refused
    # like any query's.
    time.sleep(1.1)
    gone = get(client, "/models", 404, run="lee", model="nope.model")
    assert "w2v.model" in gone["known_models"]
    assert len(scans) == 2
    get(client, "/models", 404, run="lee", model="nope.model")
    assert len(scans) == 2
    get(client, "/models", 400, run="lee")  # a row needs both names
    get(client, "/models", 400, run="lee", model=["w2v.model", "vectors.kv"])

    # The full listing keeps walking the logdir on every call (the tab's Refresh).
    get(client, "/models")
    get(client, "/models")
    assert len(scans) == 4


def test_a_poll_before_any_listing_scans_once(logdir, tmp_path_factory, scans):
    client, _plugin = make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")), reload_interval=3600)
    (row,) = get(client, "/models", **LEE)["models"]
    assert row["run"] == "lee" and row["status"] == "not loaded"
    for _ in range(5):
        get(client, "/models", **LEE)
    assert len(scans) == 1
