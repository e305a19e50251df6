"""Issue 15, fault 5: files that change under the real ``tensorboard`` (``--word2vec_mmap auto``
and ``never``).

A model rewritten in place by gensim while it is read, deleted between the listing and the load,
replaced by another format under the same name, a manifest naming a file that never appears:
each answer is the old model's, the new model's, or a clear JSON error, and the server lives on.
(``--word2vec_mmap always`` is for static model zoos: there an in-place rewrite of a mapped file
can kill the process, as the README says.)
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from faults_util import wait_for
from fixtures import LEE, write_manifest
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from load_test import TensorBoardProcess, get_json  # noqa: E402

sys.path.pop(0)

WORDS = ("police", "government", "said", "fire")


@pytest.fixture(scope="module")
def two_models():
    """Two models of different vocabularies (min_count 5 and 3), so a mix of the two is no model."""
    a = Word2Vec(LineSentence(LEE), vector_size=48, min_count=5, seed=1, workers=1, epochs=3).wv
    b = Word2Vec(LineSentence(LEE), vector_size=48, min_count=3, seed=2, workers=1, epochs=3).wv
    assert len(a) != len(b)
    return a, b


def _expected(kv, word: str) -> list[str]:
    return [w for w, _ in kv.most_similar(word, topn=10)]


def _server(logdir: str, cache: str, policy: str) -> TensorBoardProcess:
    args = ["--word2vec_cache_dir", cache, "--word2vec_mmap", policy, "--word2vec_reload_interval", "0.5"]
    return TensorBoardProcess(logdir, args, block_tensorflow=True)


@pytest.mark.parametrize("policy", ["auto", "never"])
def test_a_model_rewritten_in_place_while_it_is_read(tmp_path, two_models, policy):
    a, b = two_models
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    path = str(run / "model.kv")
    a.save(path, sep_limit=0)  # a pickle and a .npy sidecar, both rewritten in place by every save
    expected = {w: (_expected(a, w), _expected(b, w)) for w in WORDS}
    outcomes = {"old": 0, "new": 0, "error": 0}
    problems: list = []
    stop = threading.Event()

    with _server(str(tmp_path / "logs"), str(tmp_path / "cache"), policy) as tb:

        last = [a]

        def rewrite():
            i = 0
            while not stop.is_set():
                last[0] = b if i % 2 == 0 else a
                last[0].save(path, sep_limit=0)  # gensim's own save, in place
                i += 1
                time.sleep(0.05)

        def query(seed: int):
            i = seed
            while not stop.is_set():
                word = WORDS[i % len(WORDS)]
                i += 1
                status, body = get_json(tb.url("neighbors", run="run", model="model.kv", word=word), timeout=120)
                if status == 200:
                    got = [n["word"] for n in body["neighbors"]]
                    if got == expected[word][0]:
                        outcomes["old"] += 1
                    elif got == expected[word][1]:
                        outcomes["new"] += 1
                    else:
                        problems.append(("wrong answer", word, got))
                elif status in (404, 422, 503) and body and body.get("error"):
                    outcomes["error"] += 1  # a clear error (the word is not in a half-read model, say)
                else:
                    problems.append((status, body))

        threads = [threading.Thread(target=rewrite)] + [threading.Thread(target=query, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        time.sleep(12)
        stop.set()
        for t in threads:
            t.join(120)
        assert tb.alive(), tb.output()
        assert problems == [], (problems[:5], tb.output()[-3000:])
        assert outcomes["old"] + outcomes["new"] > 20, outcomes
        # once the writes stop, the file's last version answers
        final = last[0]
        wait_for(
            lambda: [n["word"] for n in get_json(tb.url("neighbors", run="run", model="model.kv", word="police"))[1]
                     .get("neighbors", [])] == _expected(final, "police"),
            timeout=60,
        )


@pytest.mark.parametrize("policy", ["auto", "never"])
def test_files_deleted_replaced_or_never_written(tmp_path, two_models, policy):
    a, b = two_models
    logdir = tmp_path / "logs"
    for run in ("gone", "swapped", "sidecar", "promised"):
        (logdir / run).mkdir(parents=True)
    a.save_word2vec_format(str(logdir / "gone" / "model.bin"), binary=True)
    a.save_word2vec_format(str(logdir / "swapped" / "model.bin"), binary=True)
    a.save(str(logdir / "sidecar" / "model.kv"), sep_limit=0)
    write_manifest(str(logdir / "promised"), [{"name": "late", "path": "late.kv", "step": 1}])

    with _server(str(logdir), str(tmp_path / "cache"), policy) as tb:
        status, listing = get_json(tb.url("models"))
        assert {(m["run"], m["model"]) for m in listing["models"]} >= {
            ("gone", "model.bin"), ("swapped", "model.bin"), ("sidecar", "model.kv"), ("promised", "late")}

        # deleted between the listing and the load
        os.remove(logdir / "gone" / "model.bin")
        status, body = get_json(tb.url("neighbors", run="gone", model="model.bin", word="police"))
        assert status in (404, 422) and body["error"], body
        os.remove(logdir / "sidecar" / "model.kv.vectors.npy")
        status, body = get_json(tb.url("neighbors", run="sidecar", model="model.kv", word="police"))
        assert status == 422 and "model.kv.vectors.npy" in body["error"], body

        # replaced by another format (word2vec text, then gensim's own) under the same name
        tmp = str(logdir / "swapped" / ".model.txt")
        b.save_word2vec_format(tmp, binary=False)
        os.replace(tmp, logdir / "swapped" / "model.bin")
        status, body = get_json(tb.url("neighbors", run="swapped", model="model.bin", word="police"))
        assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(b, "police"), body
        a.save(str(logdir / "swapped" / "model.bin"))  # pickle, vectors inside (small model)
        status, body = get_json(tb.url("neighbors", run="swapped", model="model.bin", word="police"))
        assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(a, "police"), body
        row = next(m for m in get_json(tb.url("models"))[1]["models"] if m["run"] == "swapped")
        assert row["format"] == "gensim-keyedvectors"

        # a manifest naming a file that never appears: a clear error, until it does appear
        for _ in range(3):
            status, body = get_json(tb.url("neighbors", run="promised", model="late", word="police"))
            assert status == 422 and "file not found" in body["error"], body
        b.save(str(logdir / "promised" / "late.kv"))  # noticed at the next rescan (0.5 s here)
        status, body = wait_for(
            lambda: (r := get_json(tb.url("neighbors", run="promised", model="late", word="police")))[0] == 200
            and r,
            timeout=30,
        )
        assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(b, "police"), body
        assert tb.alive(), tb.output()
