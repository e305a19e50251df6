"""``Word2VecPlugin.close()``: every thread the plugin started stops within a few seconds.

Queries start each kind of background work for real (an evaluation, a long evaluation job, an
index build, a vocabulary cache written after a delay, norms computed while a model loads,
a prefix index built for /vocab, a private copy of a model file, the cache sweep, the warm-up
imports), the plugin is closed while some of it still runs, and no thread it started (in its
group or not) may be alive afterwards.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

import pytest
from fixtures import make_client, w2v_get
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.errors import StoreUnavailable
from tensorboard_plugin_w2v.io import fileio, remote
from tensorboard_plugin_w2v.models import convert, norms, prefix, readers, vocabulary
from tensorboard_plugin_w2v.search import index

pytest.importorskip("faiss")

KINDS = (
    "w2v-eval",
    "w2v-index-builder",
    "w2v-vocabulary",
    "w2v-norms",
    "w2v-prefix-index",
    "w2v-cache-sweep",
    "w2v-warm-up",
)


def new_threads(before: set[int]) -> list[str]:
    """The package's threads alive now that were not before (whoever started them)."""
    return [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("w2v-")]


def lee_logdir(tmp_path, lee_model) -> str:
    (tmp_path / "logs" / "run").mkdir(parents=True)
    kv = KeyedVectors(lee_model.wv.vector_size)
    kv.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors)
    kv.save(str(tmp_path / "logs" / "run" / "lee.kv"), sep_limit=0)  # vectors in a .npy sidecar
    return str(tmp_path / "logs")


@pytest.fixture
def busy_plugin(tmp_path, lee_model, monkeypatch):
    """A plugin with background work of every kind started, some of it still running."""
    monkeypatch.setattr(readers, "PREFETCH_MIN_BYTES", 0)  # norms computed while loading
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 1)  # the Lee model's vocabulary gets cached...
    monkeypatch.setattr(vocabulary, "SAVE_DELAY_SECONDS", 60)  # ...a minute after its load
    monkeypatch.setattr(index, "BUILD_START_DELAY", 60)  # builds wait too: close() must cut it short
    monkeypatch.setattr(prefix, "SYNC_BUILD_MAX_WORDS", 0)  # /vocab builds its prefix index in a thread
    before = {t.ident for t in threading.enumerate()}
    client, plugin = make_client(
        lee_logdir(tmp_path, lee_model), cache_dir=str(tmp_path / "cache"), mmap="always"
    )
    plugin.before = before
    plugin.indexes.exact_max_cells = 0  # even the Lee model gets an index
    query = {"run": "run", "model": "lee.kv"}
    assert w2v_get(client, "/neighbors", **query, word="police")["neighbors"]
    assert w2v_get(client, "/vocab", **query, prefix="pol")["words"]
    data = w2v_get(client, "/evaluate", **query, benchmark="wordsim353", wait=30)
    assert data["status"] == "done"
    stop = threading.Event()

    def endless(progress):  # an evaluation that only cancellation ends
        for i in itertools.count():
            progress.check(i)
            stop.wait(0.01)

    assert plugin.jobs.run("endless", endless, wait=0.2)[0] == "running"
    yield plugin
    stop.set()


def test_close_stops_every_thread_the_plugin_started(busy_plugin):
    plugin = busy_plugin
    started = {t.name for t in plugin.group.started}
    assert {name for name in started if name.startswith(KINDS)} >= {k for k in KINDS if k != "w2v-eval"}
    assert any(name.startswith("w2v-eval") for name in started)
    running = {t.name for t in plugin.group.threads()}
    assert {"w2v-vocabulary", "w2v-index-builder"} <= running  # still waiting to start their work
    assert any(name.startswith("w2v-eval") for name in running)  # the endless evaluation
    began = time.monotonic()
    assert plugin.close() == []
    assert time.monotonic() - began < 5
    assert plugin.group.threads() == []
    still_alive = [t.name for t in plugin.group.started if t.is_alive()]
    assert still_alive == []
    assert new_threads(plugin.before) == []
    assert plugin.close() == []  # a second close is harmless


def test_close_stops_a_private_copy_of_a_model_file(tmp_path, lee_model, monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)  # the Lee model counts as large
    before = {t.ident for t in threading.enumerate()}
    client, plugin = make_client(
        lee_logdir(tmp_path, lee_model), cache_dir=str(tmp_path / "cache"), mmap="never"
    )
    assert w2v_get(client, "/neighbors", run="run", model="lee.kv", word="police")["neighbors"]
    assert "w2v-private-copy" in {t.name for t in plugin.group.started}
    assert plugin.close() == []
    assert new_threads(before) == []
    path = str(tmp_path / "logs" / "run" / "lee.kv")
    late = convert.PendingCopy(path, fileio.stat(path), str(tmp_path / "cache2"), plugin.group)
    assert late.join() and isinstance(late.error, lifecycle.Stopped)  # a closed group copies nothing
    assert not (tmp_path / "cache2").exists()


def test_a_closed_plugin_starts_nothing_new(busy_plugin):
    plugin = busy_plugin
    plugin.close()
    before = len(plugin.group.started)
    plugin.sweeper.request()
    assert plugin.group.spawn(lambda: None, name="w2v-late") is None
    assert len(plugin.group.started) == before


def test_a_thread_group_joins_what_it_started():
    group = lifecycle.ThreadGroup("test")
    waited = []
    group.spawn(lambda: waited.append(group.sleep(60)), name="w2v-sleeper")
    began = time.monotonic()
    assert group.close(timeout=5) == []
    assert waited == [True] and time.monotonic() - began < 5
    assert group.closed and group.close() == []


def test_closing_a_group_stops_its_copies(tmp_path, lee_model, monkeypatch):
    path = lee_logdir(tmp_path, lee_model) + "/run/lee.kv.vectors.npy"
    assert os.path.getsize(path) > 1000 * 64
    monkeypatch.setattr(convert, "COPY_STEP_BYTES", 64)  # over a thousand steps: closed while it copies
    group = lifecycle.ThreadGroup("copies")
    copy = convert.PendingCopy(path, fileio.stat(path), str(tmp_path / "cache"), group)
    assert group.close() == []
    assert copy.join() and isinstance(copy.error, lifecycle.Stopped)
    assert not os.path.exists(copy.target) and os.listdir(tmp_path / "cache" / "copies") == []

    # A remote copy checks the same switch between chunks, and a closed group starts none.
    stop = threading.Event()
    stop.set()
    with pytest.raises(lifecycle.Stopped):
        remote._copy_one(path, fileio.stat(path), str(tmp_path / "copied"), stop)
    with pytest.raises(StoreUnavailable, match="closing"):
        remote.local_copy(fileio.stat(path), str(tmp_path / "cache"), group=group)


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_run_lowered_runs_at_the_given_priority_and_hands_back_the_outcome():
    group = lifecycle.ThreadGroup("test")
    mine = _nice()
    assert lifecycle.run_lowered(group, _nice, name="w2v-test") == lifecycle.LOADING
    assert _nice() == mine  # the caller's priority is as it was

    def started_from_the_lowest():  # a thread started from one at the lowest stays there
        return lifecycle.run_lowered(group, _nice, name="w2v-test", nice=lifecycle.LOADING)

    assert lifecycle.run_lowered(group, started_from_the_lowest, name="w2v-test", nice=lifecycle.LOWEST) == 19

    def fails():
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        lifecycle.run_lowered(group, fails, name="w2v-test")
    group.close()
    with pytest.raises(lifecycle.Stopped):
        lifecycle.run_lowered(group, _nice, name="w2v-test")


def test_a_model_is_read_below_the_priority_of_requests(tmp_path, lee_model, monkeypatch):
    """A new model's file is read, and its norms computed ahead, at a lower CPU priority than
    the requests to the models already loaded. The request's thread waits meanwhile, its own
    priority unchanged."""
    monkeypatch.setattr(readers, "PREFETCH_MIN_BYTES", 0)  # norms computed while loading
    seen = {}
    check, background = readers._check_vectors, norms.MappedNormsJob.background  # the file is mapped

    def checked(path, kv):  # runs in the thread that reads the file
        seen["load"] = (threading.current_thread().name, _nice())
        return check(path, kv)

    def computing(job, stop=None):
        seen["norms"] = (threading.current_thread().name, _nice())
        return background(job, stop)

    monkeypatch.setattr(readers, "_check_vectors", checked)
    monkeypatch.setattr(norms.MappedNormsJob, "background", computing)
    client, plugin = make_client(lee_logdir(tmp_path, lee_model), cache_dir=str(tmp_path / "cache"), mmap="always")
    mine = _nice()
    assert w2v_get(client, "/neighbors", run="run", model="lee.kv", word="police")["neighbors"]
    assert seen == {"load": ("w2v-load", lifecycle.LOADING), "norms": ("w2v-norms", lifecycle.LOADING)}
    assert _nice() == mine
    assert plugin.close() == []
