"""Serving pushed models from the REAL Milvus standalone server (issue 16), never a mock.

A session fixture starts ``milvus-server`` on free ports in a temp folder (tests/milvus_server.py);
the models are gensim's (trained on its bundled Lee corpus) and synthetic clustered vectors,
pushed with ``w2v-milvus``; answers are compared with the local path and with gensim.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import numpy as np
import pytest
from fixtures import REPO, make_client
from gensim.models import KeyedVectors
from milvus_server import MilvusServer, missing
from tb_process import get_json, listener_pid, tensorboard

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.io import fileio

REASON = missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

BASE = "/data/plugin/word2vec/"
BIG_ROWS, BIG_DIM = 60_000, 64
# Fields that say how an answer was made, not what it is.
HOW = ("exact", "seconds", "cached", "vectors_from")


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.milvus", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def odd_words_model() -> KeyedVectors:
    """Words that stress filter escaping and prefix ranges, counts not in file order."""
    rng = np.random.default_rng(3)
    odd = ['say "hi"', "back\\slash", "it's", "100%", "under_score", "naïve", "Naïve", "NAÏVE", "日本語",
           "日本", "tab\there", "emoji😀", "z" * 300, "Zürich", "zurich", "über", "Über"]
    words = odd + [f"word{i}" for i in range(400)]
    kv = KeyedVectors(12, count=len(words), dtype=np.float32)
    kv.index_to_key = words
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.vectors = rng.standard_normal((len(words), 12)).astype(np.float32)
    kv.expandos["count"] = rng.integers(1, 50, len(words)).astype(np.int64)  # ties, and not sorted
    return kv


@pytest.fixture(scope="session")
def zoo(tmp_path_factory, lee_model, fasttext_model, milvus):
    """A logdir pushed once with ``w2v-milvus push`` (the fastText model stays local)."""
    from benchmarks.synth import write_model

    root = str(tmp_path_factory.mktemp("zoo"))
    lee = os.path.join(root, "lee")
    os.makedirs(lee)
    lee_model.save(os.path.join(lee, "w2v.model"))
    lee_model.wv.save_word2vec_format(os.path.join(lee, "vectors.bin"), binary=True)
    fasttext_model.save(os.path.join(lee, "fasttext.model"))
    os.makedirs(os.path.join(root, "odd"))
    odd_words_model().save(os.path.join(root, "odd", "odd.kv"))
    big = write_model(os.path.join(root, "big"), BIG_ROWS, BIG_DIM, seed=5)
    first = cli("push", root, "--uri", milvus.uri)
    return {"root": root, "big": big, "first_push": first}


def one_model_logdir(tmp_path, lee_model, name: str = "vectors.bin") -> tuple[str, str]:
    """``(logdir, model path)``: a logdir whose run ``run`` holds the Lee model as word2vec binary."""
    root = tmp_path / "logs"
    (root / "run").mkdir(parents=True)
    path = str(root / "run" / name)
    lee_model.wv.save_word2vec_format(path, binary=True)
    return str(root), path


def clients(root: str, milvus_uri: str, tmp_path, **flags):
    local = make_client(root, cache_dir=str(tmp_path / "cache-local"))[0]
    remote, plugin = make_client(root, cache_dir=str(tmp_path / "cache-milvus"), milvus_uri=milvus_uri, **flags)
    return local, remote, plugin


def answer(client, query: str) -> tuple[int, dict]:
    r = client.get(BASE + query)
    return r.status_code, json.loads(r.data)


def what(data):
    """An answer without the fields that say how it was made."""
    if isinstance(data, dict):
        return {k: what(v) for k, v in data.items() if k not in HOW}
    if isinstance(data, list):
        return [what(v) for v in data]
    return data


def q(route: str, **params) -> str:
    return f"{route}?{urllib.parse.urlencode(params, doseq=True)}"


# -- pushing -----------------------------------------------------------------------------------


def test_push_reports_each_model_and_a_rerun_skips_them(zoo, milvus):
    first = zoo["first_push"]
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    for name in ("lee/w2v.model", "lee/vectors.bin", "odd/odd.kv", "big/"):
        assert any(line.startswith("pushed") and name in line for line in lines), first.stdout
    assert any(line.startswith("local") and "lee/fasttext.model" in line and "n-grams" in line for line in lines)
    again = cli("push", zoo["root"], "--uri", milvus.uri, "--run", "lee")
    assert again.returncode == 0, again.stderr
    assert sum(line.startswith("skipped") for line in again.stdout.splitlines()) == 2, again.stdout
    assert not any(line.startswith("pushed") for line in again.stdout.splitlines())
    listed = json.loads(cli("ls", "--uri", milvus.uri, "--json").stdout)
    mine = [e for e in listed if e["path"].startswith(zoo["root"])]
    assert len(mine) == 4 and all(e["complete"] for e in mine)
    big = next(e for e in mine if e["path"] == zoo["big"])
    assert (big["rows"], big["dim"], big["counts_known"]) == (BIG_ROWS, BIG_DIM, True)


def test_push_names_a_missing_run_and_an_unreachable_milvus(zoo, milvus):
    bad_run = cli("push", zoo["root"], "--uri", milvus.uri, "--run", "nope")
    assert bad_run.returncode == 2 and "nope" in bad_run.stderr and "Traceback" not in bad_run.stderr
    down = cli("push", zoo["root"], "--uri", "http://127.0.0.1:9", "--timeout", "3")
    assert down.returncode == 2 and "127.0.0.1:9" in down.stderr and "Traceback" not in down.stderr


# -- every route against the local path ---------------------------------------------------------

LEE_QUERIES = [
    q("neighbors", word="police", k=10),
    q("neighbors", word="police", k=25, restrict_vocab=300),
    q("neighbors", word="Polise"),  # 404 with suggestions
    q("analogy", positive=["police", "fire"], negative=["man"], k=10),
    q("analogy", positive=["police", "fire"], negative=["man"], k=10, method="3cosmul"),
    q("analogy", expr="Sydney - Australia + America", k=5),
    q("analogy", positive=["police"], negative=["nosuchword"]),
    q("similarity", a="police", b="officers"),
    q("similarity", a="police", b="police"),
    q("doesnt_match", word=["police", "officers", "cricket"]),
    q("vocab", prefix="po", limit=20),
    q("vocab", prefix="", offset=100, limit=7),
    q("vocab", prefix="Th", offset=2, limit=3),
    q("vocab", prefix="qqqq"),
    q("vector", word="police"),
    q("project", word=["police", "officers", "cricket", "fire"]),
    q("evaluate", benchmark="wordsim353", wait=60),
    q("evaluate", benchmark="analogies", method="3cosmul", wait=60),
]
ODD_QUERIES = [
    q("vocab", prefix=p, limit=50)
    for p in ("", "naï", "NAÏ", "日本", 'say "', "back\\", "100%", "under_", "z", "ü", "emoji", "tab\t")
] + [
    q("neighbors", word=w, k=5) for w in ('say "hi"', "back\\slash", "it's", "日本", "tab\there", "emoji😀")
] + [q("vector", word="z" * 300), q("neighbors", word="nai")]


@pytest.mark.parametrize(
    "model,queries_",
    [("lee/w2v.model", LEE_QUERIES), ("lee/vectors.bin", LEE_QUERIES), ("odd/odd.kv", ODD_QUERIES)],
)
def test_every_route_answers_as_the_local_path(zoo, milvus, tmp_path, model, queries_):
    local, remote, _ = clients(zoo["root"], milvus.uri, tmp_path)
    run, name = model.split("/")
    for query in queries_:
        query = f"{query}&{urllib.parse.urlencode({'run': run, 'model': name})}"
        expected, got = answer(local, query), answer(remote, query)
        assert got[0] == expected[0], (query, got)
        assert what(got[1]) == what(expected[1]), query
        if query.startswith("evaluate") and got[0] == 200:
            assert got[1]["vectors_from"] == "milvus"
    rows = {(m["run"], m["model"]): m for m in answer(remote, "models")[1]["models"]}
    assert rows[(run, name)]["engine"] == "milvus"
    assert rows[(run, name)]["milvus"]["collection"].startswith(ms.PREFIX)
    assert rows[("lee", "fasttext.model")]["engine"] == "local"


def test_compare_reads_pushed_matrices_in_batches(zoo, milvus, tmp_path):
    local, remote, _ = clients(zoo["root"], milvus.uri, tmp_path)
    for scope in ("shared", "all"):
        query = q("compare", run="lee", model="w2v.model", model2="vectors.bin", n=200, k=5, scope=scope)
        expected, got = answer(local, query), answer(remote, query)
        assert got[0] == expected[0] == 200
        assert what(got[1]) == what(expected[1])
        assert got[1]["vectors_from"] == {"a": "milvus", "b": "milvus"}
    # The analyses that need whole matrices (issue 14's drift and axes) read them the same way.
    for query in (q("drift", run="lee", model="w2v.model", model2="vectors.bin", top=20),
                  q("axes", run="lee", model="w2v.model", x="police - fire", word=["police", "officers"])):
        expected, got = answer(local, query), answer(remote, query)
        assert got[0] == expected[0] == 200, got
        assert what(got[1]) == what(expected[1])
        assert "milvus" in json.dumps(got[1]["vectors_from"])


def test_similarity_is_gensims_and_the_top_k_is_gensims_rescoring_of_milvus_candidates(zoo, milvus, tmp_path):
    """On 60k × 64: similarities equal gensim's arithmetic exactly, the answer is the exact top-k
    of the candidates Milvus returns (asked here directly), and recall@10 against gensim ≥ 0.95."""
    from pymilvus import MilvusClient

    _, remote, _ = clients(zoo["root"], milvus.uri, tmp_path)
    kv = KeyedVectors.load(zoo["big"])
    norms = np.linalg.norm(kv.vectors, axis=1)
    name = ms.collection_name(fileio.stat(zoo["big"]))
    direct = MilvusClient(uri=milvus.uri)
    rng = np.random.default_rng(0)
    hits = total = 0
    for i in rng.choice(BIG_ROWS, 40, replace=False):
        word = kv.index_to_key[i]
        status, data = answer(remote, q("neighbors", run="big", model=os.path.basename(zoo["big"]), word=word, k=10))
        assert status == 200 and data["exact"] is False
        got = [(n["word"], n["similarity"], n["index"]) for n in data["neighbors"]]
        unit = queries.mean_vector(kv, [word], [])
        exact_scores = (kv.vectors @ unit) / norms  # gensim's most_similar arithmetic
        for _w, sim, index in got:
            assert sim == float(np.float32(exact_scores[index]))
        candidates = direct.search(
            name, [unit.tolist()], limit=64, search_params={"metric_type": "COSINE", "params": {"ef": 192}}
        )[0]
        ids = np.array([h["id"] for h in candidates if h["id"] != i])
        best = ids[np.argsort(-exact_scores[ids], kind="stable")][:10]
        assert [g[2] for g in got] == best.tolist()
        truth = {w for w, _ in kv.most_similar(word, topn=10)}
        hits += len(truth & {g[0] for g in got})
        total += 10
    assert hits / total >= 0.95


def test_paging_and_exports_beyond_milvus_16384_cap(zoo, milvus, tmp_path):
    local, remote, _ = clients(zoo["root"], milvus.uri, tmp_path)
    model = {"run": "big", "model": os.path.basename(zoo["big"])}
    for params in ({"prefix": "", "offset": 40_000, "limit": 20}, {"prefix": "w1", "offset": 5000, "limit": 50},
                   {"prefix": "w5", "offset": 0, "limit": 1000}, {"prefix": "W59", "offset": 1000, "limit": 10}):
        query = q("vocab", **model, **params)
        assert answer(remote, query) == answer(local, query)
    tsv = q("export_tsv", **model, word="w123", n=17_000, part="metadata")
    expected, got = local.get(BASE + tsv), remote.get(BASE + tsv)
    assert got.status_code == expected.status_code == 200
    words, local_words = got.data.decode().splitlines(), expected.data.decode().splitlines()
    assert len(words) == 17_001 and words[0] == "w123" and sorted(words) == sorted(local_words)
    # Exactly the local ranking, up to the order of equal float32 similarities (17,000 of them tie here
    # and there, and neither path promises an order among ties).
    kv = KeyedVectors.load(zoo["big"])
    scores = (kv.vectors @ queries.mean_vector(kv, ["w123"], [])) / np.linalg.norm(kv.vectors, axis=1)
    ranked = scores[[kv.key_to_index[w] for w in words[1:]]]
    assert np.all(np.diff(ranked) <= 0)
    status, exact = answer(remote, q("neighbors", **model, word="w7", k=50, exact=1))
    assert status == 200 and exact["exact"] is True
    assert what(exact) == what(answer(local, q("neighbors", **model, word="w7", k=50, exact=1))[1])


def test_collections_load_on_first_use_and_are_released_beyond_the_budget(zoo, milvus, tmp_path):
    from pymilvus import MilvusClient

    _, remote, plugin = clients(zoo["root"], milvus.uri, tmp_path, milvus_budget="200K")
    direct = MilvusClient(uri=milvus.uri)
    lee, odd = (ms.collection_name(fileio.stat(os.path.join(zoo["root"], p))) for p in ("lee/w2v.model", "odd/odd.kv"))
    for name in (lee, odd):
        direct.release_collection(name)
    assert answer(remote, q("similarity", run="lee", model="w2v.model", a="police", b="fire"))[0] == 200
    assert "Loaded" in str(direct.get_load_state(lee)["state"])
    assert answer(remote, q("vector", run="odd", model="odd.kv", word="it's"))[0] == 200
    assert "NotLoad" in str(direct.get_load_state(lee)["state"])  # lee (1,762 × 32) + odd > 200K
    assert plugin.engines.milvus.loaded(odd) and not plugin.engines.milvus.loaded(lee)
    # Released by another process: loaded again on the next query.
    direct.release_collection(odd)
    assert answer(remote, q("vector", run="odd", model="odd.kv", word="it's"))[0] == 200


# -- what an interrupted push and a replaced file leave --------------------------------------------


PUSH_AND_DIE = """
import os, sys
from tensorboard_plugin_w2v.engines.milvus_push import push_model
def die(stage, done, total):
    if stage == "insert":
        os.kill(os.getpid(), 9)
push_model(sys.argv[1], sys.argv[2], progress=die)
"""


def test_an_interrupted_push_is_never_served_and_gc_sweeps_it(milvus, lee_model, tmp_path):
    root, path = one_model_logdir(tmp_path, lee_model)
    died = subprocess.run([sys.executable, "-c", PUSH_AND_DIE, path, milvus.uri], capture_output=True, timeout=300)
    assert died.returncode == -signal.SIGKILL
    name = ms.collection_name(fileio.stat(path))
    listed = json.loads(cli("ls", "--uri", milvus.uri, "--json").stdout)
    assert {"collection": ms.partial_name(name), "complete": False} in [
        {"collection": e["collection"], "complete": e["complete"]} for e in listed
    ]
    local, remote, _ = clients(root, milvus.uri, tmp_path)
    row = answer(remote, "models")[1]["models"][0]
    assert row["engine"] == "local" and row["milvus"] is None
    query = q("neighbors", run="run", model="vectors.bin", word="police")
    assert answer(remote, query) == answer(local, query)
    kept = cli("gc", root, "--uri", milvus.uri)  # a fresh partial may be a push still running
    assert "dropped 0 collection(s)" in kept.stdout
    swept = cli("gc", root, "--uri", milvus.uri, "--partial-age", "0")
    assert ms.partial_name(name) in swept.stdout and "dropped 1 collection(s)" in swept.stdout
    assert cli("push", root, "--uri", milvus.uri).stdout.startswith("pushed")


def test_gc_drops_the_collection_of_a_replaced_file(milvus, lee_model, tmp_path):
    root, path = one_model_logdir(tmp_path, lee_model)
    assert cli("push", root, "--uri", milvus.uri).returncode == 0
    old = ms.collection_name(fileio.stat(path))
    lee_model.wv.save_word2vec_format(path, binary=False)  # replaced: a new version, a new name
    new = ms.collection_name(fileio.stat(path))
    assert new != old
    dry = cli("gc", root, "--uri", milvus.uri, "--dry-run")
    assert f"would drop {old}" in dry.stdout
    assert old in cli("ls", "--uri", milvus.uri).stdout
    cli("gc", root, "--uri", milvus.uri)
    assert old not in cli("ls", "--uri", milvus.uri).stdout


# -- the real tensorboard command ------------------------------------------------------------------


def _proc_io(pid: int) -> int:
    with open(f"/proc/{pid}/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def _settled_io(pid: int, quiet_seconds: float = 1.5, timeout: float = 120.0) -> int:
    """``rchar`` once the process has read nothing for ``quiet_seconds`` (its start-up work, such
    as warming the heavy imports in the background, is over)."""
    deadline = time.monotonic() + timeout
    last = _proc_io(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_seconds)
        now = _proc_io(pid)
        if now == last:
            return now
        last = now
    return last


def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def test_tensorboard_serves_pushed_models_without_mapping_or_reading_them(zoo, milvus):
    """Two real TensorBoard processes on one Milvus answer alike; neither maps or reads the pushed
    60k × 64 model's vectors, while a third one without the flag does read them."""
    big = os.path.basename(zoo["big"])
    vectors_file = zoo["big"] + ".vectors.npy"
    size = os.path.getsize(vectors_file)
    token = "s3cret-token-value"
    queries_ = [q("neighbors", run="big", model=big, word=f"w{i}", k=10) for i in range(0, 60_000, 3_000)]
    queries_ += [q("vocab", run="big", model=big, prefix="w12", limit=30), q("vector", run="big", model=big, word="w1")]
    queries_ += [q("similarity", run="lee", model="w2v.model", a="police", b="fire")]
    flags = ("--word2vec_milvus_uri", milvus.uri, "--word2vec_mmap", "never")
    with (
        tensorboard(zoo["root"], *flags, "--word2vec_milvus_token", token) as one,
        tensorboard(zoo["root"], *flags) as two,
        tensorboard(zoo["root"], "--word2vec_mmap", "never") as plain,
    ):
        pid = listener_pid(one)
        get_json(f"{one}{BASE}models")
        # Another pushed model first: the Milvus client's own imports are not the model's bytes.
        assert get_json(f"{one}{BASE}{q('neighbors', run='lee', model='w2v.model', word='police', k=5)}")[0] == 200
        before = _settled_io(pid)
        answers_one = [get_json(f"{one}{BASE}{x}") for x in queries_]
        read = _proc_io(pid) - before
        answers_two = [get_json(f"{two}{BASE}{x}") for x in queries_]
        assert answers_one == answers_two
        assert all(status == 200 for status, _ in answers_one)
        rows = {(m["run"], m["model"]): m for m in get_json(f"{one}{BASE}models")[1]["models"]}
        assert rows[("big", big)]["engine"] == "milvus" and rows[("lee", "fasttext.model")]["engine"] == "local"
        for base in (one, two):
            maps = _maps(listener_pid(base))
            assert zoo["big"] not in maps and "synth-" not in maps
        assert read < size / 10, f"read {read} bytes, the vectors file has {size}"
        # The same queries without Milvus read the file: the measurement can tell.
        plain_pid = listener_pid(plain)
        before = _proc_io(plain_pid)
        answers_plain = [get_json(f"{plain}{BASE}{x}") for x in queries_]
        assert _proc_io(plain_pid) - before >= size
        overlap = []
        for (_, mine), (_, theirs) in zip(answers_one, answers_plain, strict=True):
            if "neighbors" in mine:  # Milvus's candidates re-scored vs the exact local scan
                words = {n["word"] for n in theirs["neighbors"]}
                overlap.append(len(words & {n["word"] for n in mine["neighbors"]}) / len(words))
            else:
                assert what(mine) == what(theirs)
        assert np.mean(overlap) >= 0.95
    logs = [p for p in os.listdir(os.path.dirname(zoo["root"])) if p.startswith("tensorboard-")]
    for name in logs:
        with open(os.path.join(os.path.dirname(zoo["root"]), name)) as f:
            assert token not in f.read()


def test_milvus_killed_mid_session_503_and_the_local_fallback(lee_model, tmp_path):
    """A second server, killed while TensorBoard runs: a pushed model whose file is readable is
    answered from it; one whose file is corrupt gets a 503 naming Milvus, within the timeout."""
    server = MilvusServer(str(tmp_path / "milvus2"))
    try:
        root = tmp_path / "logs"
        (root / "run").mkdir(parents=True)
        good = str(root / "run" / "good.bin")
        doomed = str(root / "run" / "doomed.bin")
        lee_model.wv.save_word2vec_format(good, binary=True)
        lee_model.wv.save_word2vec_format(doomed, binary=True)
        assert cli("push", str(root), "--uri", server.uri).returncode == 0
        flags = ("--word2vec_milvus_uri", server.uri, "--word2vec_milvus_timeout", "3",
                 "--word2vec_reload_interval", "3600")
        with tensorboard(str(root), *flags) as base, tensorboard(str(root)) as plain:
            ask = {m: q("neighbors", run="run", model=m, word="police", k=10) for m in ("good.bin", "doomed.bin")}
            before = {m: get_json(f"{base}{BASE}{x}") for m, x in ask.items()}
            assert all(s == 200 and not d["exact"] for s, d in before.values())
            # A Milvus that hangs (stopped, not dead): the answer comes from the file after the 3 s timeout.
            os.killpg(server.proc.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                status, data = get_json(f"{base}{BASE}{ask['good.bin']}")
                assert status == 200 and data["exact"] is True and time.monotonic() - started < 10
            finally:
                os.killpg(server.proc.pid, signal.SIGCONT)
            time.sleep(11)  # the breaker's 10 s: then Milvus is asked again, and answers
            assert get_json(f"{base}{BASE}{ask['good.bin']}") == before["good.bin"]
            # Corrupt the doomed file in place, keeping its size and time: still "the pushed version".
            st = os.stat(doomed)
            with open(doomed, "r+b") as f:
                f.write(b"\0" * 64)
            os.utime(doomed, ns=(st.st_atime_ns, st.st_mtime_ns))
            server.kill()
            started = time.monotonic()
            status, data = get_json(f"{base}{BASE}{ask['doomed.bin']}")
            assert status == 503 and "Milvus" in data["error"] and "local file" in data["error"]
            assert time.monotonic() - started < 10
            status, data = get_json(f"{base}{BASE}{ask['good.bin']}")
            assert status == 200 and data["exact"] is True  # the local file, scanned exactly
            assert what(data) == what(get_json(f"{plain}{BASE}{ask['good.bin']}")[1])
            assert what(data) == what(before["good.bin"][1])
            rows = {m["model"]: m for m in get_json(f"{base}{BASE}models")[1]["models"]}
            assert rows["good.bin"]["engine"] == "local"
            assert rows["good.bin"]["milvus"]["state"] == "unavailable" and rows["good.bin"]["milvus"]["reason"]
    finally:
        server.stop()


def test_a_training_job_pushes_what_it_logged(milvus, lee_model, tmp_path):
    from tensorboard_plugin_w2v import push_model
    from tensorboard_plugin_w2v.summary import log_model

    run = tmp_path / "logs" / "train"
    paths = [log_model(str(run), lee_model, name="lee", step=step) for step in (1, 2)]
    results = [push_model(p, milvus.uri, run="train", name="lee", step=s) for p, s in zip(paths, (1, 2), strict=True)]
    assert [r.status for r in results] == ["pushed", "pushed"] and results[0].collection != results[1].collection
    assert results[0].rows == len(lee_model.wv) and results[0].rows_per_second > 0
    assert push_model(paths[0], milvus.uri).status == "skipped"
    local, remote, _ = clients(str(tmp_path / "logs"), milvus.uri, tmp_path)
    row = answer(remote, "models")[1]["models"][0]
    assert row["engine"] == "milvus" and [v["engine"] for v in row["versions"]] == ["milvus", "milvus"]
    assert row["counts_known"] is True and row["training"]["vector_size"] == lee_model.vector_size
    for step in (1, 2):
        query = q("neighbors", run="train", model="lee", step=step, word="police")
        assert what(answer(remote, query)[1]) == what(answer(local, query)[1])


def test_a_collection_dropped_while_served_falls_back_to_the_file(milvus, lee_model, tmp_path):
    from pymilvus import MilvusClient

    root, path = one_model_logdir(tmp_path, lee_model)
    assert cli("push", root, "--uri", milvus.uri).returncode == 0
    local, remote, _ = clients(root, milvus.uri, tmp_path)
    query = q("analogy", run="run", model="vectors.bin", positive=["police", "fire"], negative=["man"])
    assert answer(remote, query)[1]["exact"] is False
    MilvusClient(uri=milvus.uri).drop_collection(ms.collection_name(fileio.stat(path)))
    status, data = answer(remote, query)
    assert status == 200 and data["exact"] is True and data == answer(local, query)[1]
    row = answer(remote, "models")[1]["models"][0]
    assert row["engine"] == "local" and row["milvus"] is None


def test_quick_benchmark_runs_against_the_session_server(milvus, tmp_path):
    """``benchmarks/bench_milvus.py --quick`` (on the running server): its table, recall@10 ≥ 0.95."""
    out = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "bench_milvus.py"),
         "--quick", "--queries", "40", "--uri", milvus.uri, "--work-dir", str(tmp_path), "--json",
         str(tmp_path / "bench.json")],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    print(out.stdout)  # the table, in the test log
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["push"]["status"] == "pushed" and result["push"]["rows_per_second"] > 0
    assert result["milvus"]["recall_at_10"] >= 0.95 and result["milvus"]["engine_in_models"] == "milvus"
    assert "| /neighbors via Milvus |" in out.stdout
