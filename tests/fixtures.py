"""Builders shared by the tests: real models, logdirs, plugins and clients, built as TensorBoard builds them.

Test files import what they need from here (``from fixtures import make_client, train_word2vec``);
``conftest.py`` turns the expensive ones into session fixtures. Every plugin built here is closed
at the end of the session (:func:`close_plugins`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
from werkzeug.test import Client

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.server.loader import Word2VecLoader
from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEE = datapath("lee_background.cor")
BASE = f"/data/plugin/{md.PLUGIN_NAME}"

_plugins: list[Word2VecPlugin] = []


# -- models and logdirs -----------------------------------------------------------------------


def train_word2vec(seed: int = 1, epochs: int = 5, **kwargs) -> Word2Vec:
    """A deterministic Word2Vec model on gensim's Lee corpus (about 1,700 words)."""
    options = dict(vector_size=32, window=5, min_count=5, seed=seed, workers=1, epochs=epochs)
    options.update(kwargs)
    return Word2Vec(LineSentence(LEE), **options)


def longest_pause(work):
    """``(work(), seconds)``: the longest a thread of this process waited to run while ``work``
    ran (it asks to run every millisecond), i.e. how long ``work`` held the GIL in one go."""
    longest, stop = [0.0], threading.Event()

    def tick():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        result = work()
    finally:
        stop.set()
        ticker.join()
    return result, longest[0]


def memory_of(array: np.ndarray):
    """The object that owns an array's memory: an ``mmap.mmap`` for an array read by
    :mod:`tensorboard_plugin_w2v.io.streamed`, ``None``-based (numpy's own) for ``np.load``'s."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def write_manifest(run_dir: str, entries: list[dict]) -> None:
    path = os.path.join(run_dir, md.MANIFEST_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"version": md.MANIFEST_VERSION, "models": entries}, f)


def write_projector_run(run_dir: str, kv: KeyedVectors, raw: bool = True) -> None:
    """An embedding the standard Projector reads: raw float32 (or TSV) tensor + metadata + config."""
    os.makedirs(run_dir, exist_ok=True)
    vectors = np.asarray(kv.vectors, dtype="<f4")
    if raw:
        vectors.tofile(os.path.join(run_dir, "tensor.bytes"))
        tensor = "tensor.bytes"
    else:
        np.savetxt(os.path.join(run_dir, "tensor.tsv"), vectors, delimiter="\t", fmt="%.8g")
        tensor = "tensor.tsv"
    with open(os.path.join(run_dir, "metadata.tsv"), "w", encoding="utf-8") as f:
        f.write("word\tcount\n")
        for w in kv.index_to_key:
            f.write(f"{w}\t1\n")
    shape = f"tensor_shape: {vectors.shape[0]}\ntensor_shape: {vectors.shape[1]}\n" if raw else ""
    with open(os.path.join(run_dir, md.PROJECTOR_CONFIG_NAME), "w") as f:
        f.write(
            f'embeddings {{\n tensor_name: "lee"\n tensor_path: "{tensor}"\n'
            f' metadata_path: "metadata.tsv"\n {shape}}}\n'
        )


QUESTIONS = datapath("questions-words.txt")


def cosmul_reference(kv: KeyedVectors, path: str, restrict_vocab: int):
    """gensim's evaluate_word_analogies asking most_similar_cosmul instead of most_similar, on the
    model restricted to its first restrict_vocab words (gensim's own functions throughout)."""
    n = min(restrict_vocab, len(kv))
    restricted = KeyedVectors(kv.vector_size, count=0, dtype=kv.vectors.dtype)
    restricted.add_vectors(kv.index_to_key[:n], kv.vectors[:n])

    def cosmul(positive, negative, topn, restrict_vocab):
        return KeyedVectors.most_similar_cosmul(restricted, positive=positive, negative=negative, topn=topn)

    restricted.most_similar = cosmul
    return restricted.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)


# -- plugins and clients ----------------------------------------------------------------------


def make_plugin(logdir: str, *argv: str, **flags) -> Word2VecPlugin:
    """The plugin as TensorBoard builds it: ``--word2vec_*`` flags parsed and fixed, then ``load``.

    ``argv`` are raw flags (``"--word2vec_no_pickle"``); ``flags`` name them without the prefix
    (``cache_dir="/tmp/c"``, ``no_pickle=True``). Without a cache folder, a new temporary one
    is used (never the user's own).
    """
    if "cache_dir" not in flags and not any(a.startswith("--word2vec_cache_dir") for a in argv):
        flags["cache_dir"] = tempfile.mkdtemp(prefix="w2v-test-cache-")
    loader = Word2VecLoader()
    parser = argparse.ArgumentParser()
    loader.define_flags(parser)
    named = [f"--word2vec_{k}" if v is True else f"--word2vec_{k}={v}" for k, v in flags.items()]
    parsed = parser.parse_args([*named, *argv])
    loader.fix_flags(parsed)
    plugin = loader.load(base_plugin.TBContext(logdir=logdir, flags=parsed))
    _plugins.append(plugin)
    return plugin


def app_of(*plugins) -> application.TensorBoardWSGI:
    """TensorBoard's WSGI app serving only ``plugins``."""
    return application.TensorBoardWSGI(list(plugins))


def make_client(logdir: str, *argv: str, **flags) -> tuple[Client, Word2VecPlugin]:
    """A werkzeug client over TensorBoard's WSGI app serving only the Word2Vec plugin."""
    plugin = make_plugin(logdir, *argv, **flags)
    return Client(app_of(plugin)), plugin


def w2v_client(logdir: str) -> Client:
    return make_client(logdir)[0]


def w2v_get(client: Client, route: str, **params) -> dict:
    """A Word2Vec route's JSON answer, which must be a 200 (``route`` starts with ``/``)."""
    response = client.get(f"{BASE}{route}", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def assert_neighbors_match(client: Client, run: str, model: str, kv: KeyedVectors, word: str, **params):
    """The Word2Vec tab's neighbours equal gensim's ``most_similar`` on ``kv``."""
    answer = w2v_get(client, "/neighbors", run=run, model=model, word=word, k=8, **params)
    expected = kv.most_similar(word, topn=8)
    assert [n["word"] for n in answer["neighbors"]] == [w for w, _ in expected]
    np.testing.assert_allclose(
        [n["similarity"] for n in answer["neighbors"]], [s for _, s in expected], atol=1e-5
    )


def close_plugins() -> list[str]:
    """Close every plugin built here; the names of threads that outlived their plugin."""
    alive = []
    while _plugins:
        alive += _plugins.pop().close()
    return alive


# -- TensorBoard's own Projector --------------------------------------------------------------


def projector_client(logdir: str) -> Client:
    """TensorBoard's Projector plugin over ``logdir``, runs found from event files as TensorBoard does."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=logdir,
        multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir),
    )
    return Client(application.TensorBoardWSGI([ProjectorPlugin(context)]))


def projector_runs(client: Client) -> list[str]:
    response = client.get("/data/plugin/projector/runs")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def projector_embedding(client: Client, run: str, name: str) -> tuple[np.ndarray, list[str]]:
    """The tensor and the row labels the Projector serves for one embedding, checked for consistency."""
    info = client.get("/data/plugin/projector/info", query_string={"run": run})
    assert info.status_code == 200, info.get_data(as_text=True)
    embedding = next(e for e in info.get_json()["embeddings"] if e["tensorName"] == name)
    rows, dim = (int(n) for n in embedding["tensorShape"])
    tensor = client.get("/data/plugin/projector/tensor", query_string={"run": run, "name": name})
    assert tensor.status_code == 200, tensor.get_data(as_text=True)
    values = np.frombuffer(tensor.get_data(), dtype="<f4").reshape(rows, dim)
    meta = client.get("/data/plugin/projector/metadata", query_string={"run": run, "name": name})
    assert meta.status_code == 200, meta.get_data(as_text=True)
    lines = meta.get_data(as_text=True).split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    # The browser drops blank lines and reads a header when the first line has a tab.
    assert all(line.strip().strip("\ufeff") for line in lines), "a blank label would shift the others"
    assert all("\t" not in line for line in lines), "a tab would split a label into columns"
    assert len(lines) == rows
    return values, lines


# -- search indexes ---------------------------------------------------------------------------


def store_with_index(cache_dir: str, budget: int = 1 << 30, **manager_options):
    """A model store whose every model gets an ANN index (built in small batches)."""
    from tensorboard_plugin_w2v.models.store import ModelStore
    from tensorboard_plugin_w2v.search.index import IndexManager

    store = ModelStore(budget, cache_dir)
    manager = IndexManager(cache_dir, **{"exact_max_cells": 0, "batch_rows": 500, **manager_options})
    store.add_load_listener(manager.attach)
    return store, manager


def version_of(path: str):
    """A model version of a file, as discovery would list it in run ``r``."""
    from tensorboard_plugin_w2v.models.discovery import ModelVersion

    return ModelVersion(
        run="r", name=os.path.basename(path), step=None, path=path, format=None, source="file"
    )


def ready_model(cache_dir: str, path: str):
    """The model at ``path`` loaded with its index built (or the test fails)."""
    store, _ = store_with_index(cache_dir)
    model = store.get(version_of(path))
    assert model.index.wait(60), "index build did not finish"
    assert model.index.state == "ready", model.index.status()
    return model


def run_benchmark(capsys, script: str, *args: str, timeout: float = 900.0, show: int = 3000) -> str:
    """Run ``benchmarks/<script>`` with ``args`` from the repository in a fresh interpreter (fails
    if it exits non-zero); the end of its printout goes to the test log. Its standard output."""
    done = subprocess.run(
        [sys.executable, os.path.join("benchmarks", script), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        check=True,
        timeout=timeout,
        stdout=subprocess.PIPE,
        text=True,
    )
    with capsys.disabled():
        print(f"\nbenchmarks/{script} {' '.join(args)}:\n" + done.stdout[-show:])
    return done.stdout
