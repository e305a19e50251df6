"""The ANN index against gensim's exact answers, its cache, its background build, and eviction."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from fixtures import REPO, train_word2vec
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.models import norms, readers
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.models.store import ModelStore
from tensorboard_plugin_w2v.search import ann as ann_core
from tensorboard_plugin_w2v.search import index as ann
from tensorboard_plugin_w2v.search import scoring, topk

pytest.importorskip("faiss")


@pytest.fixture(scope="session")
def lee_kv_path(tmp_path_factory) -> str:
    """A Lee-corpus model trained long enough that its neighbours mean something, saved by gensim."""
    path = str(tmp_path_factory.mktemp("lee20") / "lee20.kv")
    train_word2vec(epochs=20).wv.save(path)
    return path


def hold_builds(monkeypatch) -> threading.Event:
    """Index builds wait (up to 30 s) until the returned event is set."""
    release = threading.Event()
    original = ann.IndexManager._build

    def held_build(self, handle):
        release.wait(30)
        return original(self, handle)

    monkeypatch.setattr(ann.IndexManager, "_build", held_build)
    return release


def version_of(path: str) -> ModelVersion:
    return ModelVersion(
        run="r", name=os.path.basename(path), step=None, path=path, format=None, source="file"
    )


def store_with_index(
    cache_dir: str, budget: int = 1 << 30, **manager_options
) -> tuple[ModelStore, ann.IndexManager]:
    store = ModelStore(budget, cache_dir)
    manager = ann.IndexManager(cache_dir, **{"exact_max_cells": 0, "batch_rows": 500, **manager_options})
    store.add_load_listener(manager.attach)
    return store, manager


def ready_model(cache_dir: str, path: str):
    store, _ = store_with_index(cache_dir)
    model = store.get(version_of(path))
    assert model.index.wait(60)
    assert model.index.state == ann.STATE_READY, model.index.status()
    return model


def test_recall_against_gensim_and_exact_similarities(tmp_path, lee_kv_path):
    model = ready_model(str(tmp_path), lee_kv_path)
    kv, index = model.kv, model.searcher()
    assert index is not None
    recalls = []
    for word in kv.index_to_key:
        found = queries.neighbors(kv, word, k=10, index=index)
        expected = kv.most_similar(word, topn=10)
        recalls.append(len({n.word for n in found} & {w for w, _ in expected}) / 10)
        for n in found:  # candidates are re-scored with gensim's arithmetic
            assert n.similarity == pytest.approx(float(kv.similarity(word, n.word)), abs=1e-5)
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("method", [queries.METHOD_3COSADD, queries.METHOD_3COSMUL])
def test_analogy_with_index_matches_gensim(tmp_path, lee_kv_path, method):
    model = ready_model(str(tmp_path), lee_kv_path)
    kv = model.kv
    gensim_call = kv.most_similar if method == queries.METHOD_3COSADD else kv.most_similar_cosmul
    recalls = []
    for a, b, c in zip(kv.index_to_key[:60:3], kv.index_to_key[1:60:3], kv.index_to_key[2:60:3], strict=True):
        found = queries.analogy(kv, [a, b], [c], k=10, method=method, index=model.searcher())
        expected = gensim_call(positive=[a, b], negative=[c], topn=10)
        recalls.append(len({n.word for n in found} & {w for w, _ in expected}) / 10)
    assert np.mean(recalls) >= 0.9


def test_index_candidates_rescored_exactly_match_gensim(tmp_path, lee_kv_path):
    """A batch of queries through the index, each re-scored with gensim's arithmetic."""
    model = ready_model(str(tmp_path), lee_kv_path)
    kv = model.kv
    units = kv.vectors[:50] / np.linalg.norm(kv.vectors[:50], axis=1)[:, None]
    candidates = model.searcher().candidates(units, 64, threads=0)
    assert candidates.shape == (50, 64)
    own_first, recalls = 0, []
    for row in range(50):
        rows = candidates[row][candidates[row] >= 0]
        sims = scoring.cosines(kv, units[row].astype(np.float32), rows=rows)
        order = topk.ranked(sims)
        own_first += rows[order][0] == row  # each vector is its own nearest
        expected = dict(kv.most_similar(kv.index_to_key[row], topn=4))
        found = {kv.index_to_key[r]: s for r, s in zip(rows[order][1:5], sims[order][1:5], strict=True)}
        recalls.append(len(found.keys() & expected.keys()) / 4)
        for word in found.keys() & expected.keys():
            assert found[word] == pytest.approx(expected[word], rel=1e-5)
    # The index is approximate (and its parallel build is not deterministic): nearly every
    # query, not all, must find its exact answers among the candidates.
    assert own_first >= 48 and np.mean(recalls) >= 0.95


def test_saved_index_is_reused_by_a_new_store(tmp_path, lee_kv_path, monkeypatch):
    first = ready_model(str(tmp_path), lee_kv_path)
    assert first.index.status()["from_cache"] is False
    files = sorted(os.listdir(tmp_path / "index"))
    assert [f.rsplit(".", 1)[1] for f in files] == ["faiss", "json"]  # no temporary file left

    def no_rebuild(*_):
        raise AssertionError("the saved index should have been reused")

    monkeypatch.setattr(ann.IndexManager, "_build", no_rebuild)
    second = ready_model(str(tmp_path), lee_kv_path)
    assert second.index.status()["from_cache"] is True
    word = second.kv.index_to_key[7]
    assert queries.neighbors(second.kv, word, index=second.searcher()) == queries.neighbors(
        first.kv, word, index=first.searcher()
    )


def _tasks_started_on_this_machine() -> int:
    """Processes and threads the kernel has started since boot (``/proc/stat``)."""
    with open("/proc/stat") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("processes "))


def test_searches_of_a_saved_index_start_no_threads(tmp_path, lee_kv_path):
    """faiss starts a thread per visited list on each search of a memory-mapped index unless
    told not to (its on-disk lists' prefetch); queries must not pay for that."""
    model = ready_model(str(tmp_path), lee_kv_path)
    index = model.searcher()
    assert index.path is not None  # answered from the saved, mapped file
    index.probes = 4
    units = model.kv.vectors[:20] / np.linalg.norm(model.kv.vectors[:20], axis=1)[:, None]
    before = _tasks_started_on_this_machine()
    for _ in range(25):
        for unit in units:
            index.candidates(unit[None, :], 16)
    started = _tasks_started_on_this_machine() - before
    assert started < 250, f"{started} threads or processes started during 500 searches (4 lists each)"


def test_half_written_index_is_not_trusted(tmp_path, lee_kv_path):
    model = ready_model(str(tmp_path), lee_kv_path)
    key = model.index.key
    index_file = tmp_path / "index" / f"{key}.faiss"
    index_file.write_bytes(index_file.read_bytes()[:1000])  # as if a crash cut it short
    rebuilt = ready_model(str(tmp_path), lee_kv_path)
    assert rebuilt.index.status()["from_cache"] is False
    meta = json.loads((tmp_path / "index" / f"{key}.json").read_text())
    assert meta["bytes"] == index_file.stat().st_size


def test_exact_answers_while_the_index_builds(tmp_path, lee_kv_path, monkeypatch):
    release = hold_builds(monkeypatch)
    store, _ = store_with_index(str(tmp_path))
    model = store.get(version_of(lee_kv_path))
    status = model.index.status()
    assert status["state"] in (ann.STATE_QUEUED, ann.STATE_BUILDING)
    assert status["progress"] == 0.0
    assert model.searcher() is None
    word = model.kv.index_to_key[3]
    found = queries.neighbors(model.kv, word, k=10, index=model.searcher())
    assert [(n.word, pytest.approx(n.similarity, abs=1e-6)) for n in found] == model.kv.most_similar(
        word, topn=10
    )
    release.set()
    assert model.index.wait(60)
    assert model.index.status()["state"] == ann.STATE_READY
    assert model.index.status()["progress"] == 1.0


def test_small_models_answer_exactly_by_default(tmp_path, lee_kv_path):
    store = ModelStore(1 << 30, str(tmp_path))
    store.add_load_listener(ann.IndexManager(str(tmp_path)).attach)
    model = store.get(version_of(lee_kv_path))
    assert model.index.status()["state"] == ann.STATE_EXACT
    assert model.searcher() is None
    assert not os.path.exists(tmp_path / "index")


def test_eviction_under_a_tiny_budget_drops_models_and_their_indexes(tmp_path, lee_kv_path, lee_model):
    other = str(tmp_path / "other.kv")
    lee_model.wv.save(other)
    store, _ = store_with_index(str(tmp_path / "cache"), budget=1)
    first = store.get(version_of(lee_kv_path))
    assert first.index.wait(60)
    store.get(version_of(other))
    assert store.status(version_of(lee_kv_path))[0] == "not loaded"
    assert store.status(version_of(other))[0] == "ok"
    assert store.loaded_bytes() == store.get(version_of(other)).nbytes
    del first
    gc.collect()
    again = store.get(version_of(lee_kv_path))  # loads again, reusing its saved index
    assert again.index.status()["from_cache"] is True


def test_ensure_norms_equals_gensim(lee_model):
    kv = lee_model.wv
    kv.norms = None
    mine = norms.ensure_norms(kv, chunk_rows=100).copy()
    kv.norms = None
    kv.fill_norms()
    np.testing.assert_array_equal(mine, kv.norms)


@pytest.mark.parametrize("scratch_bytes", [1, 4096, 1 << 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_norms_through_a_small_scratch_buffer_have_gensims_bits(lee_model, monkeypatch, scratch_bytes, dtype):
    """Squared a few rows at a time into one buffer (smaller than a row, a few rows, every row),
    each row's norm has the bits of gensim's ``fill_norms`` over the whole matrix."""
    monkeypatch.setattr(norms, "SCRATCH_BYTES", scratch_bytes)
    kv = KeyedVectors(lee_model.wv.vector_size, dtype=dtype)
    kv.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors.astype(dtype))
    mine = norms.row_norms(kv.vectors, chunk_rows=333, threads=2)
    kv.fill_norms()
    assert mine.dtype == kv.norms.dtype == dtype
    np.testing.assert_array_equal(mine, kv.norms)
    fortran = np.asfortranarray(kv.vectors)  # not C-contiguous: NumPy's own norm, summed as it sums them
    np.testing.assert_array_equal(norms.row_norms(fortran), np.linalg.norm(fortran, axis=1))


def test_eight_bit_codes_keep_the_cosine_ranking(lee_model):
    """Every list visited, the index's candidates hold each word's exact top 10 by cosine:
    8-bit residual codes of padded unit vectors rank as the float vectors do."""
    kv = lee_model.wv
    unit = kv.vectors / norms.ensure_norms(kv)[:, None]
    built = ann_core.train(unit, kv.vector_size, len(unit))
    ann_core.add(built, 0, unit)
    index = ann_core.AnnIndex(built)
    index.probes = index.lists
    assert index.probes == built.nlist > 1 and built.d % ann_core.DIM_ALIGN == 0
    rows = np.arange(0, len(unit), len(unit) // 50)
    found = index.candidates(unit[rows], scoring.candidate_count(11))
    for row, got in zip(rows, found, strict=True):
        exact = np.argsort(-(unit @ unit[row]))[:10]
        assert set(exact.tolist()) <= set(got.tolist())


def test_norms_computed_while_loading_equal_gensim(tmp_path, lee_model, monkeypatch):

    monkeypatch.setattr(readers, "PREFETCH_MIN_BYTES", 0)
    path = str(tmp_path / "sep.kv")
    fresh = KeyedVectors(lee_model.wv.vector_size)
    fresh.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors)
    fresh.save(path, sep_limit=0)  # vectors in a .npy sidecar, as large models have them
    model = readers._load_keyedvectors(path, mmap="r")  # as a private (cached) copy is loaded
    assert model.kv.norms is None  # gensim's own norms are never filled
    assert norms._pending_norms.get(model.kv) is not None
    mine = norms.ensure_norms(model.kv)
    expected = lee_model.wv
    expected.fill_norms(force=True)
    np.testing.assert_array_equal(mine, expected.norms)
    word = expected.index_to_key[5]
    assert [(n.word, n.similarity) for n in queries.neighbors(model.kv, word)] == [
        (w, pytest.approx(s, abs=1e-6)) for w, s in expected.most_similar(word)
    ]


def test_build_stops_when_its_model_is_evicted_and_resumes_if_reloaded(
    tmp_path, lee_kv_path, lee_model, monkeypatch
):
    release = hold_builds(monkeypatch)
    other = str(tmp_path / "other.kv")
    lee_model.wv.save(other)
    store, _ = store_with_index(str(tmp_path / "cache"), budget=1)
    handle = store.get(version_of(lee_kv_path)).index
    store.get(version_of(other))  # evicts the first model while its build waits
    gc.collect()
    reloaded = store.get(version_of(lee_kv_path))
    assert reloaded.index is handle  # the pending build now reads the reloaded model
    release.set()
    assert handle.wait(60) and handle.state == ann.STATE_READY
    del reloaded
    store.get(version_of(other))
    evicted_handle = store.get(version_of(lee_kv_path)).index
    assert evicted_handle is handle  # nothing to rebuild: ready handles are shared


def test_build_of_an_evicted_model_is_cancelled(tmp_path, lee_kv_path, lee_model, monkeypatch):
    release = hold_builds(monkeypatch)
    other = str(tmp_path / "other.kv")
    lee_model.wv.save(other)
    store, _ = store_with_index(str(tmp_path / "cache"), budget=1)
    handle = store.get(version_of(lee_kv_path)).index
    store.get(version_of(other))
    gc.collect()
    release.set()
    assert handle.wait(60)
    assert handle.state == ann.STATE_CANCELLED
    assert not os.path.exists(tmp_path / "cache" / "index" / f"{handle.key}.faiss")


def test_a_build_says_which_stage_it_is_in(tmp_path, lee_kv_path, monkeypatch):
    seen = []
    for name in ("_calibrate", "_save"):
        original = getattr(ann.IndexManager, name)

        def spy(self, handle, *args, original=original):
            seen.append(handle.status()["stage"])
            return original(self, handle, *args)

        monkeypatch.setattr(ann.IndexManager, name, spy)
    original_find = ann_core.list_finder

    def finder(built):
        find = original_find(built)
        return lambda block: (seen.append(handle.status()["stage"]), find(block))[1]

    monkeypatch.setattr(ann_core, "list_finder", finder)
    store, _ = store_with_index(str(tmp_path))
    handle = store.get(version_of(lee_kv_path)).index
    assert handle.wait(60) and handle.state == ann.STATE_READY
    assert seen[0] == "assigning" and seen[-2:] == ["calibrating", "saving"], seen
    assert "stage" not in handle.status()


_IDLE_CPU = """
import json, time
import numpy as np
from tensorboard_plugin_w2v.search import ann
import faiss
ann.set_threads(2)
x = np.random.default_rng(0).standard_normal((20000, 64)).astype(np.float32)
flat = faiss.IndexFlatIP(64)
flat.add(x)
idle = 0.0
for _ in range(20):
    flat.search(x[:2000], 5)  # a parallel step of a build, then nothing to do for 50 ms
    before = time.process_time()
    time.sleep(0.05)
    idle += time.process_time() - before
print(json.dumps(idle))
"""


def _fresh_python(code: str, *argv: str, env: dict, timeout: float):
    """The last line printed by ``code`` run in a new interpreter (this checkout first on its
    path), decoded as JSON."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _idle_cpu(policy: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    return _fresh_python(_IDLE_CPU, env=env, timeout=120)


def test_faiss_threads_sleep_between_parallel_steps():
    """faiss's OpenMP threads sleep once a parallel step ends instead of spinning (they held
    cores queries woke up for); a policy the user set is kept."""
    assert _idle_cpu(None) < 0.05  # seconds of CPU over 20 idle gaps of 50 ms
    assert _idle_cpu("ACTIVE") > 0.5  # the user's choice: they spin through the gaps


@pytest.mark.parametrize("n, nans", [(50, 0), (5000, 0), (5000, 3), (100_000, 0), (100_000, 5000)])
def test_exact_ranking_equals_gensim_argsort(n, nans):
    from gensim import matutils

    rng = np.random.default_rng(n + nans)
    dists = rng.standard_normal(n).astype(np.float32)
    dists[rng.choice(n, nans, replace=False)] = np.nan

    exclude = int(np.nanargmax(dists))
    expected = [int(i) for i in matutils.argsort(dists, topn=11, reverse=True) if i != exclude][:10]
    copy = dists.copy()
    found = [int(i) for i in topk.best_first(copy, 11) if i != exclude][:10]
    assert found == expected
    np.testing.assert_array_equal(copy, dists)  # left as it was


def test_exact_ranking_orders_equal_scores_as_gensim():
    """Equal float32 scores among the best (a soak run met one on a Lee model): the order is
    gensim's, whose partition and sort of the whole array decide it."""
    from gensim import matutils

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(500, 5000))
        dists = rng.random(n).astype(np.float32)
        best = np.argsort(-dists)[:8]
        i, j = rng.choice(best, 2, replace=False)
        dists[j] = dists[i]
        topn = int(rng.integers(3, 12))
        copy = dists.copy()
        assert topk.best_first(copy, topn).tolist() == matutils.argsort(dists, topn, reverse=True).tolist()
        np.testing.assert_array_equal(copy, dists)


_FIRST_ANSWER_IMPORTS = r"""
import json, os, sys
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.models.store import ModelStore
from tensorboard_plugin_w2v.search import index as ann
path, cache = sys.argv[1:3]
store = ModelStore(1 << 30, cache)
store.add_load_listener(ann.IndexManager(cache, exact_max_cells=0, batch_rows=500).attach)
version = ModelVersion(run="r", name=os.path.basename(path), step=None, path=path, format=None, source="file")
model = store.get(version)
word = model.kv.index_to_key[3]
first = [n.word for n in queries.neighbors(model.kv, word, k=10, index=model.searcher())]
at_first_answer = {"faiss": "faiss" in sys.modules, "state": model.index.state}
model.index.wait(120)
print(json.dumps({"first": first, "gensim": [w for w, _ in model.kv.most_similar(word, topn=10)],
                  "at_first_answer": at_first_answer, "state": model.index.state, "faiss": "faiss" in sys.modules}))
"""


def test_a_large_models_first_answer_does_not_wait_for_faiss_to_be_imported(tmp_path, lee_kv_path):
    """The index builder's thread imports faiss (about 0.15 s), not the load listener on the
    first query's path: a fresh process answers exactly, as gensim does, before faiss is
    imported, and the index is built afterwards."""
    result = _fresh_python(_FIRST_ANSWER_IMPORTS, lee_kv_path, str(tmp_path), env=dict(os.environ), timeout=300)
    assert result["at_first_answer"] == {"faiss": False, "state": ann.STATE_QUEUED}
    assert result["first"] == result["gensim"]
    assert result["state"] == ann.STATE_READY and result["faiss"]


def test_until_a_saved_index_is_brought_in_its_searches_ask_for_the_visited_lists_and_answer_the_same(
    tmp_path, lee_kv_path
):
    """The two-step search (centres, the kernel asked for the visited lists' pages, then the
    lists) proposes exactly the candidates of faiss's own one-step search."""
    from tensorboard_plugin_w2v.io import prefetch
    from tensorboard_plugin_w2v.search.ann import pad

    model = ready_model(str(tmp_path), lee_kv_path)
    index = model.searcher()
    assert index.path is not None and index._mapped_lists is not None
    index.probes = 4
    units = model.kv.vectors[:200] / np.linalg.norm(model.kv.vectors[:200], axis=1)[:, None]
    queries = pad(units, index._index.d)
    np.testing.assert_array_equal(index._search_asking(queries, 16), index._index.search(queries, 16)[1])
    prefetch._track(index.path)  # as if its prefetch were just starting, nothing looked at yet
    try:
        assert prefetch.reaching(index.path)
        np.testing.assert_array_equal(index.candidates(units, 16), index._index.search(queries, 16)[1])
    finally:
        prefetch._track(index.path).advance(os.path.getsize(index.path), done=True)
