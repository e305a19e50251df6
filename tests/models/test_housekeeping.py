"""The cache folder drops the copies, conversions, vocabularies and indexes of gone model versions."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from fixtures import make_client, ready_model, train_word2vec

from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import convert, housekeeping, loading, vocabulary

pytest.importorskip("faiss")


@pytest.fixture(autouse=True)
def everything_is_cached(monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    monkeypatch.setattr(convert, "CONVERT_MIN_BYTES", 0)
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 0)


def _entries(cache: str) -> dict[str, list[str]]:
    out = {}
    for kind in (*housekeeping.FOLDER_KINDS, housekeeping.INDEX_KIND):
        folder = os.path.join(cache, kind)
        out[kind] = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return out


def _fill_cache(folder: str, cache: str, seed: int):
    """One model version of each kind, loaded with every cache entry it gets."""
    model = train_word2vec(seed=seed)
    kv_path = os.path.join(folder, "vectors.kv")
    model.wv.save(kv_path, sep_limit=0)
    text_path = os.path.join(folder, "vectors.txt")
    model.wv.save_word2vec_format(text_path)
    loaded = ready_model(cache, kv_path)  # private copy, vocabulary, index
    converted = loading.load_model(text_path, cache_dir=cache)  # conversion, vocabulary
    assert vocabulary.wait_for_saves(60)
    assert convert.wait_for_copies(60)  # the private copy is written after the load
    return loaded, converted


def test_entries_of_replaced_and_removed_files_are_swept(tmp_path):
    folder, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(folder)
    old_model, _ = _fill_cache(folder, cache, seed=1)
    old = _entries(cache)
    assert all(old[kind] for kind in old), old  # one entry of every kind (the index: two files)
    assert housekeeping.stale_entries(cache) == []
    time.sleep(0.01)
    _fill_cache(folder, cache, seed=2)  # a training job saved new versions of both files
    both = _entries(cache)
    swept = housekeeping.sweep(cache)
    # the old copy, conversion, two vocabularies (native and converted), index and its metadata
    assert len(swept) == 6
    assert _entries(cache) == {k: sorted(set(both[k]) - set(old[k])) for k in both}
    # the old version, mapped from files that are now removed, still answers
    assert old_model.kv.most_similar("man", topn=3)
    os.remove(os.path.join(folder, "vectors.txt"))
    kinds = sorted(os.path.basename(os.path.dirname(p)) for p in housekeeping.sweep(cache))
    assert kinds == ["converted", "vocab"]


def test_entries_without_a_record_or_of_remote_files_are_kept(tmp_path):
    cache = tmp_path / "cache"
    unknown = cache / "copies" / "written-by-an-older-version"
    remote = cache / "vocab" / "remote-model"
    for entry in (unknown, remote):
        entry.mkdir(parents=True)
    (remote / "info.json").write_text(
        json.dumps({"source": {"path": "s3://b/m.kv", "size": 1, "mtime_ns": 1}})
    )
    fresh_tmp = cache / "index" / ".tmp-abc.faiss"
    old_tmp = cache / "converted" / ".tmp-killed"
    fresh_tmp.parent.mkdir(parents=True)
    fresh_tmp.write_bytes(b"")
    old_tmp.mkdir(parents=True)
    long_ago = time.time() - housekeeping.TEMPORARY_AGE_SECONDS - 60
    os.utime(old_tmp, (long_ago, long_ago))
    assert housekeeping.sweep(str(cache)) == [str(old_tmp)]
    assert unknown.exists() and remote.exists() and fresh_tmp.exists()


def test_indexes_of_an_earlier_format_are_swept_with_their_metadata(tmp_path):
    """A cache written before the inverted-file index (HNSW graphs, ``.usearch``) keeps
    nothing of those: their model may still exist, but no version of the plugin reads them."""
    folder, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(folder)
    _fill_cache(folder, cache, seed=1)
    index = os.path.join(cache, housekeeping.INDEX_KIND)
    (current_meta,) = [n for n in os.listdir(index) if n.endswith(".json")]
    retired = os.path.join(index, "0123abcd.usearch")
    with open(retired, "wb") as f:
        f.write(b"an HNSW graph")
    with open(os.path.join(index, current_meta), encoding="utf-8") as f:
        meta = json.load(f)  # a live model version's record: only the suffix makes it stale
    fileio.write_atomic(os.path.join(index, "0123abcd.json"), json.dumps({**meta, "library": "usearch"}).encode())
    assert sorted(housekeeping.sweep(cache)) == [os.path.join(index, "0123abcd.json"), retired]
    assert sorted(os.listdir(index)) == sorted([current_meta, current_meta[: -len(".json")] + housekeeping.INDEX_SUFFIX])


def test_a_starting_server_sweeps_its_cache(tmp_path):
    logdir, cache = tmp_path / "logs", str(tmp_path / "cache")
    (logdir / "run").mkdir(parents=True)
    path = str(logdir / "run" / "vectors.kv")
    reference = train_word2vec().wv
    reference.save(path, sep_limit=0)
    client, plugin = make_client(str(logdir), cache_dir=cache)
    query = {"run": "run", "model": "vectors.kv", "word": "man"}
    assert client.get("/data/plugin/word2vec/neighbors", query_string=query).status_code == 200
    assert vocabulary.wait_for_saves(60)
    assert convert.wait_for_copies(60)  # written after the first answer, in the background
    assert _entries(cache)["copies"] and _entries(cache)["vocab"]
    loaded = plugin.store.get(plugin.catalog.runs()["run"]["vectors.kv"].version())
    os.remove(path)
    _client, restarted = make_client(str(logdir), cache_dir=cache)
    thread = restarted.sweeper._thread
    assert thread is not None
    thread.join(60)
    assert _entries(cache)["copies"] == _entries(cache)["vocab"] == []
    # the first server's model (read into memory while fresh) is untouched by the sweep
    np.testing.assert_array_equal(loaded.kv.vectors, reference.vectors)


def test_entries_of_a_relative_logdir_survive_a_sweep_from_another_folder(tmp_path, monkeypatch):
    (tmp_path / "logs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    train_word2vec().wv.save_word2vec_format(str(tmp_path / "logs" / "v.txt"))
    monkeypatch.chdir(tmp_path)  # as `tensorboard --logdir logs` passes the logdir on
    cache = str(tmp_path / "cache")
    converted = convert.ensure_converted("logs/v.txt", fileio.stat("logs/v.txt"), cache, binary=False)
    monkeypatch.chdir(tmp_path / "elsewhere")  # another TensorBoard sharing the cache
    assert housekeeping.sweep(cache) == []
    assert os.path.exists(converted)
    os.remove(tmp_path / "logs" / "v.txt")
    assert housekeeping.sweep(cache) == [os.path.dirname(converted)]


def test_cache_entries_do_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    from tensorboard_plugin_w2v.search import index

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "v.txt").write_text("1 2\nw 0.5 0.25\n")
    monkeypatch.chdir(tmp_path)
    from_root = fileio.stat("logs/v.txt")
    monkeypatch.chdir(tmp_path / "logs")
    from_logs = fileio.stat("v.txt")
    assert from_root == from_logs and os.path.isabs(from_root.path)
    assert index.cache_key(from_root) == index.cache_key(from_logs)
    assert vocabulary.cache_folder("c", from_root) == vocabulary.cache_folder("c", from_logs)
    assert convert.converted_dir(from_root, "c", False, False) == convert.converted_dir(
        from_logs, "c", False, False
    )


def test_a_temporary_whose_writer_dies_after_the_sweep_is_removed_soon(tmp_path):
    """A writer process alive at the start's sweep (killed a moment later, as a restart races the
    old server's death) does not leave its temporary for the next ten-minute sweep."""
    import subprocess
    import sys

    from tensorboard_plugin_w2v import lifecycle
    from tensorboard_plugin_w2v.io import temporaries

    cache = str(tmp_path / "cache")
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from tensorboard_plugin_w2v.io import temporaries\n"
            f"with temporaries.claimed_folder({os.path.join(cache, 'converted')!r}) as tmp:\n"
            "    print(tmp, flush=True); time.sleep(600)"
        )],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        tmp = holder.stdout.readline().strip()
        time.sleep(temporaries.MIN_AGE_SECONDS + 0.2)
        group = lifecycle.ThreadGroup("test-sweeper")
        sweeper = housekeeping.Sweeper(cache, group=group)
        sweeper.request()
        time.sleep(0.5)
        assert os.path.isdir(tmp)  # its writer is alive: kept
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 20
        while os.path.exists(tmp) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(tmp)  # without another request: the sweep looked again
        group.close()
    finally:
        holder.kill()
