"""A logdir on S3: listed and queried through the real ``tensorboard`` command.

An S3-compatible server (moto, in server mode on 127.0.0.1) holds the logdir; TensorBoard reaches
it through ``S3_ENDPOINT`` with dummy credentials. The plugin's file layer reads remote paths
through TensorBoard's stub gfile whether or not TensorFlow is installed (TensorFlow's own gfile has
no ``s3://`` since 2.6), so the same checks run once with TensorFlow's import blocked and, where
TensorFlow is installed, once with it importable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import pytest
from fixtures import REPO, train_word2vec
from gensim.models import Word2Vec
from gensim.test.utils import datapath

from tensorboard_plugin_w2v import metadata as md

pytestmark = pytest.mark.slow

SCRIPTS = os.path.join(REPO, "scripts")
sys.path.insert(0, SCRIPTS)
from load_test import TensorBoardProcess, free_port, get_json  # noqa: E402

sys.path.remove(SCRIPTS)

BUCKET = "w2v-logs"
PREFIX = "team/logs"
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def start_s3(bucket: str, **extra_env):
    """A moto S3 server on 127.0.0.1 holding an empty ``bucket``: (server, boto3 client, env)."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {
        "S3_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra_env,
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    return server, client, env


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 and a boto3 client for it."""
    server, client, env = start_s3(BUCKET)
    yield client, env
    server.stop()


def upload_folder(client, folder: str, prefix: str) -> None:
    for dirpath, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(dirpath, name)
            key = prefix + "/" + os.path.relpath(full, folder).replace(os.sep, "/")
            client.upload_file(full, BUCKET, key)


@pytest.fixture(scope="module")
def remote_logdir(s3, lee_model, tmp_path_factory):
    """Runs of real models, uploaded under ``s3://w2v-logs/team/logs``."""
    client, _ = s3
    local = tmp_path_factory.mktemp("s3logdir")
    lee = local / "lee"
    lee.mkdir()
    lee_model.save(str(lee / "w2v.model"), sep_limit=0)  # pickle + .npy sidecar objects
    lee_model.wv.save_word2vec_format(str(lee / "vectors.txt"))
    lee_model.wv.save_word2vec_format(str(lee / "vectors.bin"), binary=True)
    pre = local / "pretrained"
    pre.mkdir()
    (pre / "test_glove.txt").write_bytes(open(datapath("test_glove.txt"), "rb").read())
    training = local / "training"
    rel = f"{md.PLUGIN_DIR}/snapshots/lee-1.model"
    (training / md.PLUGIN_DIR / "snapshots").mkdir(parents=True)
    lee_model.wv.save(str(training / rel))
    (training / md.MANIFEST_PATH).write_text(
        json.dumps({"version": 1, "models": [{"name": "lee", "path": rel, "step": 7}]})
    )
    broken = local / "broken"
    broken.mkdir()
    (broken / "truncated.model").write_bytes((lee / "w2v.model").read_bytes()[:400])
    upload_folder(client, str(local), PREFIX)
    return f"s3://{BUCKET}/{PREFIX}"


def expected_neighbors(model: Word2Vec, word: str, k: int = 5) -> list[str]:
    return [w for w, _ in model.wv.most_similar(word, topn=k)]


def check_remote_logdir(s3, remote_logdir, lee_model, block_tensorflow: bool) -> None:
    client, env = s3
    cache = tempfile.mkdtemp(prefix="w2v-s3-cache-")
    with TensorBoardProcess(
        remote_logdir, ["--word2vec_cache_dir", cache], env=env, block_tensorflow=block_tensorflow
    ) as tb:
        status, body = get_json(tb.url("models"))
        assert status == 200
        rows = {(m["run"], m["model"]): m for m in body["models"]}
        assert set(rows) == {
            ("lee", "w2v.model"),
            ("lee", "vectors.txt"),
            ("lee", "vectors.bin"),
            ("pretrained", "test_glove.txt"),
            ("training", "lee"),
            ("broken", "truncated.model"),
        }, sorted(rows)
        assert rows[("lee", "w2v.model")]["path"] == f"{remote_logdir}/lee/w2v.model"
        assert rows[("training", "lee")]["steps"] == [7]
        want = expected_neighbors(lee_model, "government")
        for run, model in (
            ("lee", "w2v.model"),
            ("lee", "vectors.txt"),
            ("lee", "vectors.bin"),
            ("training", "lee"),
        ):
            status, body = get_json(tb.url("neighbors", run=run, model=model, word="government", k=5))
            assert status == 200, body
            assert [n["word"] for n in body["neighbors"]] == want, (run, model)
        status, body = get_json(tb.url("vocab", run="pretrained", model="test_glove.txt", limit=3))
        assert status == 200 and body["total"] > 0
        status, body = get_json(tb.url("neighbors", run="broken", model="truncated.model", word="the"))
        assert status == 422 and "truncated" in body["error"]
        status, body = get_json(tb.url("models"))
        rows = {(m["run"], m["model"]): m for m in body["models"]}
        assert rows[("lee", "w2v.model")]["status"] == "ok"
        assert "truncated" in rows[("broken", "truncated.model")]["error"]

        # A retrained model uploaded over the old one, with exactly the same size (same vocabulary
        # and dimension in word2vec's binary format), is a new version and is served.
        key = f"{PREFIX}/lee/vectors.bin"
        retrained = train_word2vec(seed=7, epochs=2)
        new_bytes = _binary(retrained)
        assert len(new_bytes) == client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
        client.put_object(Bucket=BUCKET, Key=key, Body=new_bytes)
        status, body = get_json(tb.url("neighbors", run="lee", model="vectors.bin", word="government", k=5))
        assert status == 200
        assert [n["word"] for n in body["neighbors"]] == expected_neighbors(retrained, "government")
        client.put_object(Bucket=BUCKET, Key=key, Body=_binary(lee_model))  # as it was, for the next test
        assert tb.alive()
    leftovers = [
        f for _, _, files in os.walk(cache) for f in files if f.endswith(".part") or f.startswith(".tmp-")
    ]
    assert leftovers == []


def _binary(model: Word2Vec) -> bytes:
    path = os.path.join(tempfile.mkdtemp(), "vectors.bin")
    model.wv.save_word2vec_format(path, binary=True)
    with open(path, "rb") as f:
        return f.read()


def test_s3_logdir_without_tensorflow(s3, remote_logdir, lee_model):
    check_remote_logdir(s3, remote_logdir, lee_model, block_tensorflow=True)


# With TensorFlow installed, the ``tensorboard`` command itself refuses an s3:// logdir at startup
# unless tensorflow-io is installed (its data ingester checks TensorFlow's registered schemes), so
# here the plugin is served by TensorBoard's own WSGI app in a process that has imported TensorFlow.
WITH_TF_APP = """
import json, sys
import tensorflow as tf
import tensorboard.compat
from fixtures import make_client
from tensorboard_plugin_w2v.io import fileio

assert tensorboard.compat.tf.__version__ == tf.__version__  # TensorBoard's tf is TensorFlow here
assert tensorboard.compat.tf.io.gfile is tf.io.gfile and tf.io.gfile is not fileio._remote
assert fileio._remote.__name__ == "tensorboard.compat.tensorflow_stub.io.gfile"
logdir, cache = sys.argv[1], sys.argv[2]
client, _plugin = make_client(logdir, cache_dir=cache)
out = {"models": client.get("/data/plugin/word2vec/models").json["models"]}
for run, model in (("lee", "w2v.model"), ("lee", "vectors.bin"), ("training", "lee")):
    query = {"run": run, "model": model, "word": "government", "k": 5}
    r = client.get("/data/plugin/word2vec/neighbors", query_string=query)
    out[run + "/" + model] = [r.status_code, r.json]
print(json.dumps(out))
"""


@pytest.mark.skipif(
    not HAS_TENSORFLOW, reason="TensorFlow is not installed here (CI installs tensorflow-cpu)"
)
def test_s3_logdir_with_tensorflow(s3, remote_logdir, lee_model, tmp_path):
    _, env = s3
    path = os.pathsep.join([REPO, os.path.join(REPO, "tests")])  # the package, and the tests' fixtures
    full_env = {**os.environ, **env, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", WITH_TF_APP, remote_logdir, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {(m["run"], m["model"]) for m in result["models"]} >= {("lee", "w2v.model"), ("training", "lee")}
    want = expected_neighbors(lee_model, "government")
    for key in ("lee/w2v.model", "lee/vectors.bin", "training/lee"):
        status, body = result[key]
        assert status == 200, body
        assert [n["word"] for n in body["neighbors"]] == want, key


@pytest.mark.skipif(
    not HAS_TENSORFLOW, reason="TensorFlow is not installed here (CI installs tensorflow-cpu)"
)
def test_tensorflow_does_not_change_the_plugins_file_layer():
    """With TensorFlow importable, ``tensorboard.compat.tf`` is TensorFlow, yet the plugin's remote
    file layer stays TensorBoard's stub gfile (the one that reads ``s3://``)."""
    code = (
        "import tensorboard.compat as c, tensorflow as tf\n"
        "from tensorboard_plugin_w2v.io import fileio\n"
        "assert c.tf.__version__ == tf.__version__ and c.tf.io.gfile is tf.io.gfile\n"
        "assert fileio._remote.__name__ == 'tensorboard.compat.tensorflow_stub.io.gfile', fileio._remote\n"
        "assert c.tf.io.gfile is not fileio._remote\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_an_unreachable_store_keeps_loaded_models_answering(lee_model, tmp_path):
    """The S3 endpoint goes away while TensorBoard runs: the listing keeps its last scan, a model
    in memory keeps answering, and one never loaded says the store cannot be read (503: the store's
    fault, not the file's, so the next query tries again)."""
    server, client, env = start_s3("flaky", AWS_MAX_ATTEMPTS="1")
    client.put_object(Bucket="flaky", Key="logs/run/a.bin", Body=_binary(lee_model))
    client.put_object(Bucket="flaky", Key="logs/run/b.bin", Body=_binary(lee_model))
    stopped = False
    try:
        with TensorBoardProcess(
            "s3://flaky/logs", ["--word2vec_cache_dir", str(tmp_path)], env=env, block_tensorflow=True
        ) as tb:
            status, body = get_json(tb.url("neighbors", run="run", model="a.bin", word="government"))
            assert status == 200
            server.stop()
            stopped = True
            status, body = get_json(tb.url("models"))
            assert status == 200, body
            assert {(m["run"], m["model"]) for m in body["models"]} == {("run", "a.bin"), ("run", "b.bin")}
            status, body = get_json(tb.url("neighbors", run="run", model="a.bin", word="government"))
            assert status == 200 and body["neighbors"]
            status, body = get_json(tb.url("neighbors", run="run", model="b.bin", word="government"))
            assert status == 503 and "cannot be read" in body["error"], body
            assert tb.alive()
    finally:
        if not stopped:
            server.stop()
