"""Issue 15, fault 2: a disk that is really full (a small tmpfs, mounted as root).

The cache folder full: conversions, private copies, vocabulary tries and search indexes that do
not fit fail cleanly, the model is served from its own file (``/models`` says why under
``degraded``), nothing partial is left, the user's file is never blamed, and the work is done once
there is room again. The logdir full during a Projector export: 507 with a JSON error, and the
logdir is left as it was.
"""

from __future__ import annotations

import os

import pytest
from faults_util import fill, temporaries_under, tmpfs, tree, wait_for
from fixtures import make_client, train_word2vec

from tensorboard_plugin_w2v.models import convert, faults, vocabulary

API = "/data/plugin/word2vec"


@pytest.fixture(scope="module")
def reference():
    return train_word2vec(vector_size=100, epochs=10).wv


@pytest.fixture
def full_cache(tmp_path):
    """A cache folder on an 8 MB tmpfs with about 64 KB left."""
    with tmpfs(str(tmp_path / "cache")) as cache:
        filler = fill(cache, leave=64 << 10)
        yield cache, filler


def _neighbours(client, model: str, word: str = "police", **extra):
    response = client.get(f"{API}/neighbors", query_string={"run": "run", "model": model, "word": word, **extra})
    return response.status_code, response.get_json()


def _row(client, model: str) -> dict:
    rows = client.get(f"{API}/models").get_json()["models"]
    return next(r for r in rows if r["model"] == model)


def _expected(kv, word: str = "police", k: int = 10) -> list[str]:
    return [w for w, _ in kv.most_similar(word, topn=k)]


def _entries(cache: str, kind: str) -> list[str]:
    folder = os.path.join(cache, kind)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_a_conversion_that_does_not_fit_serves_the_file_and_resumes_when_room_is_back(
    tmp_path, full_cache, reference, monkeypatch
):
    cache, filler = full_cache
    monkeypatch.setattr(convert, "CONVERT_MIN_BYTES", 0)  # this 0.4 MB file is converted too
    monkeypatch.setattr(faults, "RETRY_SECONDS", 0.5)
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    reference.save_word2vec_format(str(run / "big.bin"), binary=True)
    assert os.path.getsize(run / "big.bin") > 64 << 10
    client, plugin = make_client(str(tmp_path / "logs"), cache_dir=cache)

    status, body = _neighbours(client, "big.bin")
    # served from the file itself, with gensim's answer; the user's file is not blamed
    assert status == 200, body
    assert [n["word"] for n in body["neighbors"]] == _expected(reference)
    row = _row(client, "big.bin")
    assert row["status"] == "ok" and row["error"] is None
    assert "conversion not written: the cache folder is full" in row["degraded"]
    assert _entries(cache, "converted") == [] and temporaries_under(cache) == []
    assert plugin.store.stats()["failed_versions"] == 0  # nothing remembered against the file

    os.remove(filler)  # room is back: the next query starts the conversion again, in the background
    wait_for(lambda: _neighbours(client, "big.bin")[0] == 200 and _row(client, "big.bin")["degraded"] is None)
    assert len(_entries(cache, "converted")) == 1
    status, body = _neighbours(client, "big.bin")
    assert [n["word"] for n in body["neighbors"]] == _expected(reference)
    assert temporaries_under(cache) == []


def test_a_private_copy_that_does_not_fit_reads_the_file_into_memory_and_is_made_once_room_is_back(
    tmp_path, full_cache, reference, monkeypatch
):
    cache, filler = full_cache
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    monkeypatch.setattr(faults, "RETRY_SECONDS", 0.5)
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    reference.save(str(run / "vectors.kv"), sep_limit=0)  # fresh: under mmap auto, read and copied
    client, _plugin = make_client(str(tmp_path / "logs"), cache_dir=cache)
    status, body = _neighbours(client, "vectors.kv")
    assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(reference)
    assert convert.wait_for_copies(60)  # the copy is written after the load, in the background
    assert "private copy not written: the cache folder is full" in _row(client, "vectors.kv")["degraded"]
    assert _entries(cache, "copies") == [] and temporaries_under(cache) == []

    os.remove(filler)  # room is back: the next query makes the copy, in the background
    wait_for(lambda: _neighbours(client, "vectors.kv")[0] == 200 and _row(client, "vectors.kv")["degraded"] is None)
    assert len(_entries(cache, "copies")) == 1
    status, body = _neighbours(client, "vectors.kv")
    assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(reference)
    assert temporaries_under(cache) == []


def test_a_vocabulary_trie_that_does_not_fit_leaves_nothing_and_is_written_once_room_is_back(
    tmp_path, full_cache, reference, monkeypatch
):
    cache, filler = full_cache
    monkeypatch.setattr(vocabulary, "MIN_WORDS", 0)
    monkeypatch.setattr(faults, "RETRY_SECONDS", 0.5)
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    reference.save(str(run / "vectors.kv"), sep_limit=0)
    client, _plugin = make_client(str(tmp_path / "logs"), cache_dir=cache, mmap="always")
    status, body = _neighbours(client, "vectors.kv")
    assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(reference)
    assert vocabulary.wait_for_saves(60)
    assert "vocabulary not written: the cache folder is full" in _row(client, "vectors.kv")["degraded"]
    assert _entries(cache, "vocab") == [] and temporaries_under(cache) == []
    assert _neighbours(client, "vectors.kv")[0] == 200

    os.remove(filler)  # room is back: the next query writes the trie, in the background
    wait_for(lambda: _neighbours(client, "vectors.kv")[0] == 200 and _row(client, "vectors.kv")["degraded"] is None)
    assert vocabulary.wait_for_saves(60)
    assert len(_entries(cache, "vocab")) == 1 and temporaries_under(cache) == []
    response = client.get(f"{API}/vocab", query_string={"run": "run", "model": "vectors.kv", "prefix": "pol"})
    want = {w for w in reference.index_to_key if w.lower().startswith("pol")}
    assert response.status_code == 200 and {w["word"] for w in response.get_json()["words"]} == want


def test_an_index_that_does_not_fit_stays_in_memory_and_is_saved_once_room_is_back(
    tmp_path, full_cache, reference, monkeypatch
):
    pytest.importorskip("faiss")
    cache, filler = full_cache
    monkeypatch.setattr(faults, "RETRY_SECONDS", 0.5)
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    reference.save(str(run / "vectors.kv"))
    client, plugin = make_client(str(tmp_path / "logs"), cache_dir=cache)
    plugin.indexes.exact_max_cells = 0  # index every model
    assert _neighbours(client, "vectors.kv")[0] == 200
    version = plugin.catalog.runs()["run"]["vectors.kv"].version()
    handle = plugin.store.get(version).index
    assert handle.wait(120) and handle.state == "ready", handle.status()
    row = _row(client, "vectors.kv")
    assert "index not written: the cache folder is full" in row["degraded"]
    assert row["index"]["from_cache"] is False
    status, body = _neighbours(client, "vectors.kv", k=5)
    assert status == 200 and body["exact"] is False
    assert [n["word"] for n in body["neighbors"]] == _expected(reference, k=5)
    assert _entries(cache, "index") == [] and temporaries_under(cache) == []

    os.remove(filler)
    wait_for(lambda: _neighbours(client, "vectors.kv")[0] == 200 and _entries(cache, "index"), timeout=60)
    wait_for(lambda: _row(client, "vectors.kv")["degraded"] is None, timeout=60)
    assert sorted(n.rsplit(".", 1)[1] for n in _entries(cache, "index")) == ["faiss", "json"]


def test_a_full_logdir_answers_507_and_keeps_no_part_of_the_export(tmp_path, reference):
    cache = str(tmp_path / "cache")
    with tmpfs(str(tmp_path / "logs"), size="4m") as logdir:
        os.makedirs(os.path.join(logdir, "run"))
        reference.save_word2vec_format(os.path.join(logdir, "run", "vectors.bin"), binary=True)
        client, _plugin = make_client(logdir, cache_dir=cache)
        assert _neighbours(client, "vectors.bin")[0] == 200
        filler = fill(logdir, leave=16 << 10)
        before = tree(logdir)
        query = {"run": "run", "model": "vectors.bin", "word": "police", "n": 1000}
        response = client.post(f"{API}/export_projector", query_string=query, headers={"X-Requested-With": "t"})
        assert response.status_code == 507, response.get_data(as_text=True)
        body = response.get_json()
        assert "the logdir is full" in body["error"]
        assert set(body["tsv"]) == {"tensor", "metadata"}
        assert tree(logdir) == before  # nothing of the export is left, not even its folder
        assert client.get(f"{API}/{body['tsv']['metadata']}").status_code == 200
        os.remove(filler)
        response = client.post(f"{API}/export_projector", query_string=query, headers={"X-Requested-With": "t"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["points"] == 1001
