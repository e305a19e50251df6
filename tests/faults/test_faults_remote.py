"""Issue 15, fault 4: a remote store that fails under the real ``tensorboard``.

The logdir is on an S3 server (moto, on 127.0.0.1) reached through a proxy that misbehaves on
demand (:mod:`fault_proxy`): errors, a store that hangs, the server stopped in the middle of a
copy, an object re-uploaded while it is copied. Each gives a 503 JSON error within
``--word2vec_remote_timeout`` (or the right answer), the next query tries again, and the cache
never holds a corrupt copy.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
import time

import pytest
from fault_proxy import FaultProxy
from faults_util import temporaries_under, wait_for
from fixtures import LEE
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from load_test import TensorBoardProcess, free_port, get_json  # noqa: E402

sys.path.pop(0)

BUCKET = "faulty"
TIMEOUT = 4.0  # --word2vec_remote_timeout in these tests


def _binary(kv, path: str) -> bytes:
    kv.save_word2vec_format(path, binary=True)
    return open(path, "rb").read()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two versions of a model (different seeds) as word2vec binaries, and their vectors."""
    folder = tmp_path_factory.mktemp("remote-models")
    out = {}
    for seed in (1, 2):
        kv = Word2Vec(LineSentence(LEE), vector_size=300, min_count=2, seed=seed, workers=1, epochs=2).wv
        out[seed] = (kv, _binary(kv, str(folder / f"v{seed}.bin")))
    return out


@pytest.fixture
def store(tmp_path):
    """A moto S3 server behind a fault proxy: (server, boto3 client, proxy, env for TensorBoard)."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    proxy = FaultProxy(port)
    env = {
        "S3_ENDPOINT": proxy.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    state = {"server": server, "port": port}
    yield state, client, proxy, env
    proxy.stop()
    state["server"].stop()


def _tensorboard(env: dict, cache: str) -> TensorBoardProcess:
    args = ["--word2vec_cache_dir", cache, "--word2vec_remote_timeout", str(TIMEOUT)]
    return TensorBoardProcess(f"s3://{BUCKET}/logs", args, env=env, block_tensorflow=True)


def _ask(tb, word: str = "police", model: str = "v.bin"):
    started = time.monotonic()
    status, body = get_json(tb.url("neighbors", run="run", model=model, word=word, k=10), timeout=120)
    return status, body, time.monotonic() - started


def _expected(kv, word: str = "police") -> list[str]:
    return [w for w, _ in kv.most_similar(word, topn=10)]


def _copies_are_whole(cache: str, *objects: bytes) -> None:
    """Every copy in the cache is byte for byte one of the uploaded versions; no temporaries left
    once the copies under way (a job goes on after its request timed out) have ended."""
    wait_for(lambda: temporaries_under(os.path.join(cache, "remote")) == [], timeout=60)
    digests = {hashlib.sha256(o).hexdigest() for o in objects}
    for path in glob.glob(os.path.join(cache, "remote", "*", "?.bin")):
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() in digests, path


def test_errors_and_a_hanging_store_answer_503_in_time_and_the_next_query_retries(tmp_path, store, models):
    _state, client, proxy, env = store
    kv, data = models[1]
    for name in ("v.bin", "w.bin"):
        client.put_object(Bucket=BUCKET, Key=f"logs/run/{name}", Body=data)
    cache = str(tmp_path / "cache")
    with _tensorboard(env, cache) as tb:
        for fault, model in (("error", "v.bin"), ("hang", "w.bin")):  # each on a model not loaded yet
            proxy.set(fault)
            status, body, seconds = _ask(tb, model=model)
            assert status == 503, body
            assert body["error"] and seconds < TIMEOUT + 3, (seconds, body)
            status, listing = get_json(tb.url("models"), timeout=60)  # the last listing, in time
            assert status == 200 and [m["model"] for m in listing["models"]] == ["v.bin", "w.bin"]
            row = next(m for m in listing["models"] if m["model"] == model)
            assert row["status"] != "error"  # nothing is held against the file
            proxy.set("pass")
            status, body, _ = wait_for(lambda m=model: (r := _ask(tb, model=m))[0] == 200 and r, timeout=60)
            assert [n["word"] for n in body["neighbors"]] == _expected(kv)
            _copies_are_whole(cache, data)
        # a model in memory keeps answering while the store hangs
        proxy.set("hang")
        status, body, seconds = _ask(tb, model="v.bin")
        assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(kv)
        proxy.set("pass")
        assert tb.alive()


def test_the_server_stopped_in_the_middle_of_a_copy(tmp_path, store, models):
    state, client, proxy, env = store
    kv, data = models[1]
    client.put_object(Bucket=BUCKET, Key="logs/run/v.bin", Body=data)
    cache = str(tmp_path / "cache")
    with _tensorboard(env, cache) as tb:
        proxy.rate = len(data) / 8  # the copy takes about 8 s: longer than the timeout
        status, body, seconds = _ask(tb)
        assert status == 503 and "try again" in body["error"] and seconds < TIMEOUT + 3, (seconds, body)
        wait_for(lambda: temporaries_under(os.path.join(cache, "remote")), timeout=30)  # copying now
        state["server"].stop()  # the S3 server goes away mid-copy
        proxy.cut_all()
        wait_for(lambda: temporaries_under(os.path.join(cache, "remote")) == [], timeout=30)  # the copy failed
        status, body, seconds = _ask(tb)
        assert status == 503 and "cannot be read" in body["error"] and seconds < TIMEOUT + 3, (seconds, body)
        assert glob.glob(os.path.join(cache, "remote", "*", "v.bin")) == []  # nothing half-copied kept
        wait_for(lambda: temporaries_under(os.path.join(cache, "remote")) == [], timeout=30)
        from moto.server import ThreadedMotoServer

        state["server"] = ThreadedMotoServer(ip_address="127.0.0.1", port=state["port"])
        state["server"].start()  # back (moto keeps its objects in this process)
        proxy.rate = None
        status, body, _ = wait_for(lambda: (r := _ask(tb))[0] == 200 and r, timeout=60)
        assert [n["word"] for n in body["neighbors"]] == _expected(kv)
        _copies_are_whole(cache, data)
        assert tb.alive()


def test_an_object_changed_while_it_is_copied(tmp_path, store, models):
    _state, client, proxy, env = store
    (kv1, data1), (kv2, data2) = models[1], models[2]
    assert len(data1) == len(data2)  # same size: only the ETag tells the versions apart
    client.put_object(Bucket=BUCKET, Key="logs/run/v.bin", Body=data1)
    cache = str(tmp_path / "cache")
    with _tensorboard(env, cache) as tb:
        # 1. re-uploaded in the middle of the transfer: the copy holds the version it started with
        proxy.rate = len(data1) / 6
        status, body, _ = _ask(tb)
        assert status == 503
        wait_for(lambda: temporaries_under(os.path.join(cache, "remote")), timeout=30)
        client.put_object(Bucket=BUCKET, Key="logs/run/v.bin", Body=data2)
        proxy.rate = None
        answers = set()
        for _ in range(60):
            status, body, _ = _ask(tb)
            if status == 200:
                got = [n["word"] for n in body["neighbors"]]
                assert got in (_expected(kv1), _expected(kv2)), got
                answers.add(tuple(got))
                if got == _expected(kv2):
                    break
            else:
                assert status == 503, body
            time.sleep(0.5)
        assert tuple(_expected(kv2)) in answers  # the new version answers in the end
        _copies_are_whole(cache, data1, data2)

        # 2. re-uploaded after it was listed, before its bytes were asked for: refused, then the new one
        import shutil

        shutil.rmtree(os.path.join(cache, "remote"))
        client.put_object(Bucket=BUCKET, Key="logs/run/v.bin", Body=data1)
        proxy.delay_get = 2.0
        gets = proxy.gets
        status, body, _ = _ask(tb)  # the store sees version 1; its GET waits in the proxy
        wait_for(lambda: proxy.gets > gets, timeout=30)
        client.put_object(Bucket=BUCKET, Key="logs/run/v.bin", Body=data2)
        proxy.delay_get = 0.0
        status, body, _ = wait_for(lambda: (r := _ask(tb))[0] == 200 and r, timeout=60)
        assert [n["word"] for n in body["neighbors"]] in (_expected(kv1), _expected(kv2))
        status, body, _ = wait_for(
            lambda: (r := _ask(tb))[0] == 200 and r[1]["neighbors"][0]["word"] == _expected(kv2)[0] and r,
            timeout=60,
        )
        assert [n["word"] for n in body["neighbors"]] == _expected(kv2)
        _copies_are_whole(cache, data1, data2)
        assert tb.alive()
