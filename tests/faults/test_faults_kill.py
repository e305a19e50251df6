"""Issue 15, fault 1: SIGKILL at seeded random moments of every kind of background write.

The real ``tensorboard`` (converting a word2vec file, making a private copy, writing a vocabulary
trie, building and saving a search index), ``w2v-visualizer`` (a Projector export) and a process
calling ``log_model`` (a manifest append) are killed with SIGKILL while they write, at offsets
drawn from a seeded RNG after the write has visibly started (its locked ``.tmp-`` temporary
appeared); TensorBoard is also killed while it writes a Projector export for the tab. After each
kill the next start answers exactly as gensim does, never trusts a half-written entry, does the
work again, and its housekeeping leaves no temporary behind; a manifest stays valid JSON with
every entry that was completely written.
"""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from faults_util import temporaries_under, wait_for
from fixtures import LEE
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from load_test import TensorBoardProcess, get_json  # noqa: E402

sys.path.pop(0)

SEED = 15
OFFSETS = 2  # kills per kind of write (the manifest appends: three times as many)
WORDS = ("police", "government", "fire")


@pytest.fixture(scope="module")
def lee450() -> KeyedVectors:
    """Word2Vec on gensim's Lee corpus, every word (10,781), 450 dimensions: 48 MB as text."""
    return Word2Vec(LineSentence(LEE), vector_size=450, min_count=1, epochs=1, seed=1, workers=1).wv


@pytest.fixture(scope="module")
def big_kv(lee450) -> KeyedVectors:
    """The same words with their vectors repeated 14 times (6,300 dimensions, same cosines): 271 MB,
    so TensorBoard reads it, makes it a private copy and builds it a search index."""
    kv = KeyedVectors(lee450.vector_size * 14, count=len(lee450), dtype=np.float32)
    kv.index_to_key = list(lee450.index_to_key)
    kv.key_to_index = dict(lee450.key_to_index)
    kv.vectors = np.tile(lee450.vectors, (1, 14))
    return kv


def _expected(kv: KeyedVectors, word: str, k: int = 10) -> list[str]:
    return [w for w, _ in kv.most_similar(word, topn=k)]


def _answers(tb: TensorBoardProcess, run: str, model: str, kv: KeyedVectors, exact: bool = True) -> None:
    for word in WORDS:
        params = {"run": run, "model": model, "word": word, "k": 10, **({"exact": 1} if exact else {})}
        status, body = get_json(tb.url("neighbors", **params), timeout=600)
        assert status == 200, body
        got = [n["word"] for n in body["neighbors"]]
        if exact:
            assert got == _expected(kv, word), (word, got)
        else:  # the index proposes, exact arithmetic re-scores: gensim's list, or all but one of it
            assert len(set(got) & set(_expected(kv, word))) >= 9, (word, got)


def _server(logdir: str, cache: str, *args: str) -> TensorBoardProcess:
    return TensorBoardProcess(logdir, ["--word2vec_cache_dir", cache, *args], block_tensorflow=True)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _query_in_background(tb: TensorBoardProcess, run: str, model: str) -> None:
    url = tb.url("neighbors", run=run, model=model, word="police")

    def ask():
        try:
            get_json(url, timeout=600)
        except OSError:
            pass  # the server was killed under it

    threading.Thread(target=ask, daemon=True).start()


def _appeared(pattern: str):
    return lambda: glob.glob(pattern)


def _kill_during(
    logdir: str, cache: str, run: str, model: str, pattern: str, offset: float, complete: str
) -> bool:
    """Start TensorBoard, ask for ``model``, SIGKILL it ``offset`` seconds after a temporary
    matching ``pattern`` appears; whether the entry was incomplete when it died."""
    with _server(logdir, cache) as tb:
        _query_in_background(tb, run, model)
        wait_for(_appeared(pattern), timeout=300, interval=0.02)
        time.sleep(offset)
        done = bool(glob.glob(complete))
        _kill(tb.proc)
    return not done


def _first_then_rest(n: int) -> list[bool]:
    """Kill rounds: the first kills as soon as the temporary appears (a fast machine may finish
    the write within any random offset), the others at seeded random offsets."""
    return [True] + [False] * (n - 1)


def _no_temporaries_after_restart(cache: str, settled) -> None:
    """The restarted server's housekeeping removed what the killed one left (once its own work,
    which writes temporaries of its own, has ended)."""
    wait_for(settled, timeout=600, interval=0.5)
    try:
        wait_for(lambda: temporaries_under(cache) == [], timeout=60, interval=0.5)
    except AssertionError:
        left = {p: sorted(os.listdir(p)) if os.path.isdir(p) else None for p in temporaries_under(cache)}
        raise AssertionError(f"temporaries left after 60 s (path: contents): {left}") from None


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "text"])
def test_killed_while_converting_a_word2vec_file(tmp_path, lee450, binary):
    rng = random.Random(SEED)
    logdir, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(os.path.join(logdir, "run"))
    name = "big.bin" if binary else "big.txt"  # 19 MB binary or 48 MB text: converted once
    lee450.save_word2vec_format(os.path.join(logdir, "run", name), binary=binary)
    spread = 0.5 if binary else 4.0  # seconds a conversion takes here, about
    midway = 0
    for first in _first_then_rest(OFFSETS):
        midway += _kill_during(
            logdir,
            cache,
            "run",
            name,
            os.path.join(cache, "converted", ".tmp-*"),
            0.0 if first else rng.uniform(0.0, spread),
            os.path.join(cache, "converted", "*", "vectors.kv"),
        )
        with _server(logdir, cache) as tb:
            _answers(tb, "run", name, lee450)
            converted = glob.glob(os.path.join(cache, "converted", "*", "vectors.kv"))
            assert len(converted) == 1
            _no_temporaries_after_restart(cache, lambda: True)
        shutil.rmtree(os.path.join(cache, "converted"))  # the next kill interrupts a conversion again
    assert midway >= 1  # at least one kill interrupted a conversion half-way


def test_killed_while_copying_a_model(tmp_path, big_kv):
    rng = random.Random(SEED + 1)
    logdir, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(os.path.join(logdir, "run"))
    big_kv.save(os.path.join(logdir, "run", "big.kv"))  # fresh, 271 MB: read, then copied under auto
    copies = os.path.join(cache, "copies")
    done = os.path.join(copies, "*", "big.kv.vectors.npy")
    midway = 0
    for first in _first_then_rest(OFFSETS):
        midway += _kill_during(
            logdir, cache, "run", "big.kv", os.path.join(copies, ".tmp-*"), 0.0 if first else rng.uniform(0, 0.8), done
        )
        with _server(logdir, cache) as tb:
            _answers(tb, "run", "big.kv", big_kv)
            wait_for(lambda: len(glob.glob(done)) == 1, timeout=120)  # written after the answers
            _no_temporaries_after_restart(copies, lambda: True)
        shutil.rmtree(cache)
    assert midway >= 1


def test_killed_while_building_and_saving_an_index(tmp_path, lee450):
    rng = random.Random(SEED + 2)
    kv = KeyedVectors(lee450.vector_size * 11, count=len(lee450), dtype=np.float32)
    kv.index_to_key, kv.key_to_index = list(lee450.index_to_key), dict(lee450.key_to_index)
    kv.vectors = np.tile(lee450.vectors, (1, 11))  # 53 million cells: indexed
    logdir, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(os.path.join(logdir, "run"))
    kv.save(os.path.join(logdir, "run", "big.kv"))
    index = os.path.join(cache, "index")
    args = ["--word2vec_mmap", "always"]  # mapped where it is: no private copy, only the index

    def state(tb) -> str | None:
        row = get_json(tb.url("models"))[1]["models"][0]
        return (row["index"] or {}).get("state")

    midway = []
    for at_save in (False, True):
        with _server(logdir, cache, *args) as tb:
            _query_in_background(tb, "run", "big.kv")
            if at_save:  # its temporary appeared: the save is under way
                wait_for(_appeared(os.path.join(index, ".tmp-*.faiss")), timeout=900, interval=0.02)
                time.sleep(rng.uniform(0, 0.2))
            else:
                wait_for(lambda tb=tb: state(tb) == "building", timeout=300, interval=0.1)
                time.sleep(rng.uniform(0.5, 5.0))
            midway.append(not glob.glob(os.path.join(index, "*.json")))
            _kill(tb.proc)
        with _server(logdir, cache, *args) as tb:
            _answers(tb, "run", "big.kv", kv)  # exact, while the index is built again
            _no_temporaries_after_restart(cache, lambda tb=tb: state(tb) == "ready")
            _answers(tb, "run", "big.kv", kv, exact=False)  # from the index
            assert len(glob.glob(os.path.join(index, "*.json"))) == 1
        shutil.rmtree(index)
    assert midway[0]  # the kill while building always came before the index was complete


def test_killed_while_writing_a_vocabulary_trie(tmp_path):
    from benchmarks import synth

    rng = random.Random(SEED + 3)
    kv = synth.keyed_vectors(300_000, 8, seed=3)
    logdir, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(os.path.join(logdir, "run"))
    kv.save(os.path.join(logdir, "run", "words.kv"), sep_limit=0)
    done = os.path.join(cache, "vocab", "*", "info.json")
    midway = 0
    for first in _first_then_rest(OFFSETS):
        midway += _kill_during(
            logdir, cache, "run", "words.kv", os.path.join(cache, "vocab", ".tmp-*"), 0.0 if first else rng.uniform(0, 1.5), done
        )
        with _server(logdir, cache) as tb:
            for word in ("w1", "w777", "w123456"):
                status, body = get_json(tb.url("neighbors", run="run", model="words.kv", word=word, k=10))
                assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(kv, word)
            _no_temporaries_after_restart(cache, lambda: glob.glob(done))
        with _server(logdir, cache) as tb:  # a start from the trie written after the kill
            status, body = get_json(tb.url("vocab", run="run", model="words.kv", prefix="w12345", limit=3))
            assert status == 200 and body["total"] == 11
            status, body = get_json(tb.url("neighbors", run="run", model="words.kv", word="w42", k=10))
            assert [n["word"] for n in body["neighbors"]] == _expected(kv, "w42")
        shutil.rmtree(os.path.join(cache, "vocab"))
    assert midway >= 1


def _run_cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )


def _projector_embeddings(run_dir: str) -> list:
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    path = os.path.join(run_dir, "projector_config.pbtxt")
    if not os.path.exists(path):
        return []
    config = text_format.Parse(open(path, encoding="utf-8").read(), ProjectorConfig())
    return list(config.embeddings)


def test_killed_while_writing_a_projector_export(tmp_path, big_kv):
    rng = random.Random(SEED + 4)
    model = str(tmp_path / "big.kv")
    big_kv.save(model)
    out = str(tmp_path / "projector")
    assets = os.path.join(out, "plugins", "word2vec", "projector")
    cli = ["-m", "tensorboard_plugin_w2v.cli.visualizer", model, out, "--no-progress"]
    midway = 0
    for _ in range(OFFSETS):
        proc = _run_cli(cli)
        wait_for(_appeared(os.path.join(assets, ".tmp-*")), timeout=300, interval=0.02)
        time.sleep(rng.uniform(0, 0.6))
        midway += proc.poll() is None
        _kill(proc)
        for emb in _projector_embeddings(out):  # what the config names is always complete
            tensor = os.path.join(out, *emb.tensor_path.split("/"))
            assert os.path.getsize(tensor) == big_kv.vectors.nbytes
        proc = _run_cli(cli)
        assert proc.wait(300) == 0
        assert temporaries_under(out) == []
        (emb,) = _projector_embeddings(out)
        raw = np.fromfile(os.path.join(out, *emb.tensor_path.split("/")), dtype="<f4")
        np.testing.assert_array_equal(raw.reshape(big_kv.vectors.shape), big_kv.vectors)
        words = open(os.path.join(out, *emb.metadata_path.split("/")), encoding="utf-8").read().split("\n")
        assert words[:-1] == big_kv.index_to_key
    assert midway >= 1


def _post(tb: TensorBoardProcess, route: str, **params) -> tuple[int, dict | None]:
    request = urllib.request.Request(tb.url(route, **params), method="POST", headers={"X-Requested-With": "test"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _complete_exports(folder: str) -> set[str]:
    """The export runs in ``folder`` whose record was written (the last file of an export)."""
    records = glob.glob(os.path.join(folder, "*", "plugins", "word2vec", "export.json"))
    return {os.path.relpath(p, folder).split(os.sep)[0] for p in records}


def test_killed_while_writing_a_projector_export_from_the_tab(tmp_path, lee450):
    """TensorBoard killed during *Send to Projector* (``POST /export_projector``): the next start's
    housekeeping removes the unfinished run, every export it lists is whole, and a new export of the
    same neighbourhood holds gensim's vectors."""
    rng = random.Random(SEED + 6)
    kv = KeyedVectors(lee450.vector_size * 4, count=len(lee450), dtype=np.float32)
    kv.index_to_key, kv.key_to_index = list(lee450.index_to_key), dict(lee450.key_to_index)
    kv.vectors = np.tile(lee450.vectors, (1, 4))  # an export of every word: 78 MB of raw float32
    logdir, cache = str(tmp_path / "logs"), str(tmp_path / "cache")
    os.makedirs(os.path.join(logdir, "run"))
    kv.save(os.path.join(logdir, "run", "big.kv"))
    exports_dir = os.path.join(logdir, "word2vec_exports")
    query = {"run": "run", "model": "big.kv", "word": "police", "n": len(kv) - 1}
    args = ["--word2vec_mmap", "always"]
    midway = 0
    for first in _first_then_rest(OFFSETS):
        with _server(logdir, cache, *args) as tb:
            before = _complete_exports(exports_dir)
            threading.Thread(target=lambda tb=tb: _post_quietly(tb, query), daemon=True).start()
            pattern = os.path.join(exports_dir, "*", "plugins", "word2vec", "projector", ".tmp-*")
            wait_for(_appeared(pattern), timeout=300, interval=0.02)
            time.sleep(0.0 if first else rng.uniform(0.0, 1.0))
            midway += _complete_exports(exports_dir) == before
            _kill(tb.proc)
        with _server(logdir, cache, *args) as tb:
            # the start's housekeeping: no unfinished run, no temporary, no writer's lock file left
            try:
                wait_for(lambda: sorted(os.listdir(exports_dir)) == sorted(_complete_exports(exports_dir)), timeout=60)
            except AssertionError:
                left = {root: sorted(dirs + files) for root, dirs, files in os.walk(exports_dir)}
                raise AssertionError(f"unfinished exports left: {left}\n{tb.output()}") from None
            assert temporaries_under(exports_dir) == [] and not glob.glob(os.path.join(exports_dir, "*", ".writer"))
            status, body = get_json(tb.url("exports"))
            assert status == 200 and {r["run"].split("/", 1)[1] for r in body["exports"]} == _complete_exports(exports_dir)
            for row in body["exports"]:  # every listed export is whole: its config names complete files
                (emb,) = _projector_embeddings(os.path.join(logdir, *row["run"].split("/")))
                tensor = os.path.join(logdir, *row["run"].split("/"), *emb.tensor_path.split("/"))
                assert os.path.getsize(tensor) == row["points"] * kv.vector_size * 4
            status, body = _post(tb, "export_projector", **query)  # the interrupted work, done again
            assert status == 200 and body["points"] == len(kv), body
            run_dir = os.path.join(logdir, *body["run"].split("/"))
            (emb,) = _projector_embeddings(run_dir)
            raw = np.fromfile(os.path.join(run_dir, *emb.tensor_path.split("/")), dtype="<f4")
            words = open(os.path.join(run_dir, *emb.metadata_path.split("/")), encoding="utf-8").read().split("\n")[:-1]
            assert words[0] == "police" and words[1:11] == _expected(kv, "police") and set(words) == set(kv.index_to_key)
            np.testing.assert_array_equal(raw.reshape(len(kv), kv.vector_size), kv[words])
            assert temporaries_under(exports_dir) == []
    assert midway >= 1  # at least one kill came before the export was complete


def _post_quietly(tb: TensorBoardProcess, query: dict) -> None:
    try:
        _post(tb, "export_projector", **query)
    except OSError:
        pass  # the server was killed under it


LOGGER = """
import sys
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
from tensorboard_plugin_w2v.summary import log_model
model = Word2Vec(LineSentence(sys.argv[1]), vector_size=32, min_count=5, seed=1, workers=1, epochs=2)
step = int(sys.argv[3])
while step < int(sys.argv[4]):
    log_model(sys.argv[2], model, name="lee", step=step)
    print(step, flush=True)
    step += 1
"""


def test_killed_while_logging_models(tmp_path):
    rng = random.Random(SEED + 5)
    run = str(tmp_path / "logs" / "run")
    reference = Word2Vec(LineSentence(LEE), vector_size=32, min_count=5, seed=1, workers=1, epochs=2).wv
    manifest = os.path.join(run, "plugins", "word2vec", "manifest.json")
    written: list[int] = []
    step = 0
    for _ in range(3 * OFFSETS):
        proc = _run_cli(["-c", LOGGER, LEE, run, str(step), "1000000"])
        first = proc.stdout.readline()  # it trained and logged one step: now kill it at random
        assert first.strip(), "the logging process did not start"
        written.append(int(first))
        time.sleep(rng.uniform(0, 1.5))
        _kill(proc)
        written += [int(line) for line in proc.stdout.read().split()]
        data = json.load(open(manifest))  # valid JSON, whenever the kill came
        steps = [e["step"] for e in data["models"]]
        assert set(written) <= set(steps), "an entry that was completely written is missing"
        # every listed version is whole (the newest ones, where a kill could have struck, and a sample)
        entries = data["models"][-3:] + rng.sample(data["models"], min(10, len(data["models"])))
        for entry in entries:
            kv = Word2Vec.load(os.path.join(run, *entry["path"].split("/"))).wv
            np.testing.assert_array_equal(kv.vectors, reference.vectors)
        step = max(steps) + 1
    proc = _run_cli(["-c", LOGGER, LEE, run, str(step), str(step + 1)])  # the next log_model cleans up
    assert proc.wait(120) == 0
    models = os.path.join(run, "plugins", "word2vec", "models")
    listed = {e["path"].split("/")[-2] for e in json.load(open(manifest))["models"]}
    assert temporaries_under(models) == [] and set(os.listdir(models)) == listed
    with _server(str(tmp_path / "logs"), str(tmp_path / "cache")) as tb:
        status, body = get_json(tb.url("models"))
        (row,) = body["models"]
        assert row["steps"] == sorted(_steps(manifest))
        for s in rng.sample(row["steps"], 3):
            status, body = get_json(tb.url("neighbors", run="run", model="lee", step=s, word="police"))
            assert status == 200 and [n["word"] for n in body["neighbors"]] == _expected(reference, "police")


def _steps(manifest: str) -> list[int]:
    return [e["step"] for e in json.load(open(manifest))["models"]]
