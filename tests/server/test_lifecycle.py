"""``Word2VecPlugin.close()``: every thread the plugin started stops within a few seconds.

Queries start each kind of background work for real (an evaluation, a long evaluation job, an
index build, a vocabulary cache written after a delay, norms computed while a model loads,
the cache sweep, the warm-up imports), the plugin is closed while some of it still runs, and no
thread it started may be alive afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from fixtures import make_client, w2v_get
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.models import readers, vocabulary
from tensorboard_plugin_w2v.search import index

pytest.importorskip("usearch")

KINDS = ("w2v-eval", "w2v-index-builder", "w2v-vocabulary", "w2v-norms", "w2v-cache-sweep", "w2v-warm-up")


@pytest.fixture
def busy_plugin(tmp_path, lee_model, monkeypatch):
    """A plugin with background work of every kind started, some of it still running."""
    monkeypatch.setattr(readers, "PREFETCH_MIN_BYTES", 0)  # norms computed while loading
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 1)  # the Lee model's vocabulary gets cached...
    monkeypatch.setattr(vocabulary, "SAVE_DELAY_SECONDS", 60)  # ...a minute after its load
    monkeypatch.setattr(index, "BUILD_START_DELAY", 60)  # builds wait too: close() must cut it short
    (tmp_path / "logs" / "run").mkdir(parents=True)
    kv = KeyedVectors(lee_model.wv.vector_size)
    kv.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors)
    kv.save(str(tmp_path / "logs" / "run" / "lee.kv"), sep_limit=0)  # vectors in a .npy sidecar
    client, plugin = make_client(str(tmp_path / "logs"), cache_dir=str(tmp_path / "cache"), mmap="always")
    plugin.indexes.exact_max_cells = 0  # even the Lee model gets an index
    query = {"run": "run", "model": "lee.kv"}
    assert w2v_get(client, "/neighbors", **query, word="police")["neighbors"]
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
    assert plugin.close() == []  # a second close is harmless


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
