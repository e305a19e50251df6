"""``/evaluate`` and ``/evaluate/cancel`` through TensorBoard's WSGI app: figures equal gensim's,
202 while running, cancellation, the queue bound, JSON errors."""

from __future__ import annotations

import os
import threading

import pytest
from fixtures import QUESTIONS, cosmul_reference, make_client, train_word2vec
from gensim.test.utils import datapath

# -- the /evaluate route ---------------------------------------------------------------------

BASE = "/data/plugin/word2vec"


@pytest.fixture(scope="module")
def eval_site(tmp_path_factory, lee_model):
    """A logdir with one model, a logdir-wide benchmark and a run's own benchmark; a client."""
    root = tmp_path_factory.mktemp("evallogdir")
    run = root / "lee"
    (run / "plugins" / "word2vec" / "benchmarks").mkdir(parents=True)
    lee_model.wv.save_word2vec_format(str(run / "vectors.bin"), binary=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "family.txt").write_text(": family\nman woman he she\nhe she his her\n")
    (run / "plugins" / "word2vec" / "benchmarks" / "pairs.tsv").write_text(
        "man\twoman\t8\nhe\tshe\t9\nman\tyear\t1\n"
    )
    (root / "benchmarks" / "broken.txt").write_bytes(b": s\n\xff\xfe\n")
    client, plugin = make_client(str(root))
    return client, plugin, root


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.get_json()


def test_route_lists_benchmarks(eval_site):
    client, _, _ = eval_site
    status, data = get(client, "evaluate", run="lee", model="vectors.bin")
    assert status == 200
    assert {(b["name"], b["kind"], b["source"]) for b in data["benchmarks"]} == {
        ("analogies", "analogies", "builtin"),
        ("wordsim353", "pairs", "builtin"),
        ("simlex999", "pairs", "builtin"),
        ("family.txt", "analogies", "logdir"),
        ("broken.txt", "analogies", "logdir"),
        ("pairs.tsv", "pairs", "run"),
    }


@pytest.mark.parametrize("method", ["3cosadd", "3CosMul"])
def test_route_analogies_equal_gensim(eval_site, lee_model, method):
    client, _, _ = eval_site
    status, data = get(
        client, "evaluate", run="lee", model="vectors.bin", benchmark="analogies", method=method, wait=60
    )
    assert status == 200 and data["status"] == "done" and data["method"] == method.lower()
    if method == "3cosadd":
        score, sections = lee_model.wv.evaluate_word_analogies(QUESTIONS)
    else:
        score, sections = cosmul_reference(lee_model.wv, QUESTIONS, 300_000)
    assert [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]] == [
        (s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]
    ]
    assert data["total"]["correct"] == len(sections[-1]["correct"])
    assert round(data["total"]["accuracy"], 4) == round(score, 4)
    assert data["questions"] == 19544 and data["restrict_vocab"] == 300_000
    total = data["semantic"]["total"] + data["syntactic"]["total"]
    assert total == data["total"]["total"] == data["questions"] - data["oov"]


def test_route_pairs_equal_gensim_and_are_cached(eval_site, lee_model):
    client, _, _ = eval_site
    pearson, spearman, oov = lee_model.wv.evaluate_word_pairs(datapath("simlex999.txt"), restrict_vocab=1000)
    query = dict(run="lee", model="vectors.bin", benchmark="simlex999", restrict_vocab=1000, wait=60)
    status, first = get(client, "evaluate", **query)
    assert status == 200 and first["cached"] is False
    assert first["pearson"]["r"] == pytest.approx(pearson.statistic, abs=1e-9)
    assert first["spearman"]["rho"] == pytest.approx(spearman.statistic, abs=1e-9)
    assert first["oov_ratio"] == pytest.approx(oov)
    assert first["pairs"] == first["used"] + first["oov"]
    status, again = get(client, "evaluate", **query)
    assert again["cached"] is True and again["pearson"] == first["pearson"]


def test_route_user_benchmarks(eval_site, lee_model):
    client, _, root = eval_site
    status, data = get(client, "evaluate", run="lee", model="vectors.bin", benchmark="family.txt", wait=60)
    score, sections = lee_model.wv.evaluate_word_analogies(str(root / "benchmarks" / "family.txt"))
    assert status == 200 and data["source"] == "logdir"
    assert data["total"]["correct"] == len(sections[-1]["correct"])
    status, data = get(client, "evaluate", run="lee", model="vectors.bin", benchmark="pairs.tsv", wait=60)
    assert status == 200 and data["source"] == "run" and data["kind"] == "pairs"


def test_route_result_follows_a_replaced_model(tmp_path, lee_model):
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "v.bin"
    lee_model.wv.save_word2vec_format(str(path), binary=True)
    client = make_client(str(tmp_path))[0]
    query = dict(run="run", model="v.bin", benchmark="wordsim353", wait=60)
    _, before = get(client, "evaluate", **query)
    other = train_word2vec(seed=5, vector_size=16).wv
    other.save_word2vec_format(str(path), binary=True)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    _, after = get(client, "evaluate", **query)
    assert after["cached"] is False
    assert after["pearson"]["r"] == pytest.approx(other.evaluate_word_pairs(datapath("wordsim353.tsv"))[0][0])
    assert after["pearson"]["r"] != before["pearson"]["r"]


def occupy_workers(plugin) -> threading.Event:
    """Keep every evaluation worker of ``plugin`` busy until the returned event is set."""
    gate = threading.Event()
    for n in range(2):  # the plugin's two workers
        assert plugin.jobs.run(("gate", id(gate), n), lambda progress: gate.wait(30), wait=0)[0] in (
            "queued",
            "running",
        )
    return gate


def test_route_answers_202_while_running_and_others_keep_answering(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    try:
        query = dict(run="lee", model="vectors.bin", benchmark="wordsim353", restrict_vocab=1234)
        status, data = get(client, "evaluate", **query, wait=0)
        assert status == 202 and data["status"] == "queued" and data["benchmark"] == "wordsim353"
        assert data["progress"] == {"done": 0, "total": None, "fraction": None}
        status, data = get(client, "neighbors", run="lee", model="vectors.bin", word="police")
        assert status == 200 and data["neighbors"]
    finally:
        gate.set()
    status, data = get(client, "evaluate", **query, wait=30)
    assert status == 200 and data["status"] == "done" and data["pearson"]["r"] is not None


def test_route_cancels_an_evaluation_it_started(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    query = dict(run="lee", model="vectors.bin", benchmark="analogies", restrict_vocab=777)
    cancel_url = "/data/plugin/word2vec/evaluate/cancel"
    try:
        assert get(client, "evaluate", **query, wait=0)[1]["status"] == "queued"
        assert client.post(cancel_url, query_string=query).status_code == 403  # no X-Requested-With
        answer = client.post(cancel_url, query_string=query, headers={"X-Requested-With": "test"})
        assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
        again = client.post(cancel_url, query_string=query, headers={"X-Requested-With": "test"})
        assert again.get_json()["status"] == "not_running"
        status, data = get(client, "evaluate", **query, wait=0)  # asked again: a new evaluation
        assert status == 202 and data["cached"] is False
    finally:
        gate.set()
    status, data = get(client, "evaluate", **query, wait=30)
    assert status == 200 and data["total"]["correct"] + data["total"]["incorrect"] > 0


def test_route_refuses_evaluations_beyond_the_queue_bound(eval_site):
    client, plugin, _ = eval_site
    gate = occupy_workers(plugin)
    original, plugin.jobs.max_pending = plugin.jobs.max_pending, 3  # the two gates and one more
    try:
        assert (
            get(
                client,
                "evaluate",
                run="lee",
                model="vectors.bin",
                benchmark="analogies",
                restrict_vocab=4321,
                wait=0,
            )[0]
            == 202
        )
        response = client.get(
            "/data/plugin/word2vec/evaluate",
            query_string=dict(run="lee", model="vectors.bin", benchmark="simlex999", wait=0),
        )
        assert response.status_code == 429 and response.headers["Retry-After"]
        assert "try again" in response.get_json()["error"]
    finally:
        gate.set()
        plugin.jobs.max_pending = original


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (dict(benchmark="toefl"), 404, "unknown benchmark"),
        (dict(benchmark="analogies", method="3cosfoo"), 400, "method must be one of"),
        (dict(benchmark="analogies", restrict_vocab="0"), 400, "restrict_vocab"),
        (dict(benchmark="analogies", restrict_vocab="many"), 400, "restrict_vocab"),
        (dict(benchmark="analogies", wait="-1"), 400, "wait"),
        (dict(benchmark="broken.txt"), 422, "UTF-8"),
        (dict(run="nope"), 404, "unknown run"),
    ],
)
def test_route_errors_are_json(eval_site, params, status, needle):
    client, _, _ = eval_site
    query = {"run": "lee", "model": "vectors.bin", "wait": 30, **params}
    code, data = get(client, "evaluate", **query)
    assert code == status and needle in data["error"]


def test_a_result_is_filed_under_the_version_that_was_evaluated(tmp_path):
    """While a new version of a file loads, the store answers with the previous one: its figures
    must not be remembered as the new version's."""
    (tmp_path / "run").mkdir()
    path = str(tmp_path / "run" / "v.bin")
    train_word2vec(seed=1, vector_size=16).wv.save_word2vec_format(path, binary=True)
    client, plugin = make_client(str(tmp_path))
    query = dict(run="run", model="v.bin", benchmark="wordsim353", wait=60)
    first = get(client, "evaluate", **query)[1]["pearson"]["r"]
    second = train_word2vec(seed=5, vector_size=24).wv
    second.save_word2vec_format(path, binary=True)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
    loading = plugin.store._path_locks[path]
    loading.acquire()  # the new version is "loading": the old model answers meanwhile
    try:
        assert get(client, "evaluate", **query)[1]["pearson"]["r"] == first
    finally:
        loading.release()
    status, after = get(client, "evaluate", **query)
    assert status == 200 and after["cached"] is False
    assert after["pearson"]["r"] == pytest.approx(
        second.evaluate_word_pairs(datapath("wordsim353.tsv"))[0][0]
    )
