"""Bad files: each breaks its own model only, with an error a person understands.

Truncated and corrupt files of every supported format, a missing ``.npy`` sidecar, broken
manifests, files deleted or replaced while served, and files being written while they are read
(a training job saving over its model): the broken model answers 4xx JSON and shows an ``error``
in the listing, every other model keeps answering, and the plugin leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fixtures import REPO, make_client
from gensim.models import FastText
from gensim.test.utils import common_texts, datapath
from werkzeug.test import Client

from tensorboard_plugin_w2v import metadata as md

PREFIX = "/data/plugin/word2vec"
LOAD_SECONDS = 30  # a bad file must fail well within this; a hang fails the test instead


def get(client: Client, route: str, timeout: float = LOAD_SECONDS, **params):
    """One request, failing the test (not hanging the suite) if no answer comes within ``timeout``."""
    result: list = []
    thread = threading.Thread(
        target=lambda: result.append(client.get(f"{PREFIX}/{route}", query_string=params)), daemon=True
    )
    thread.start()
    thread.join(timeout)
    assert result, f"/{route} {params} gave no answer within {timeout}s"
    r = result[0]
    assert r.status_code < 500, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/json"
    return r


def cut(src: str, dst: str, fraction: float) -> None:
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * fraction)])


def scramble(src: str, dst: str, keep: int) -> None:
    """Keep the first ``keep`` bytes (so the header still says what the file is), then noise."""
    with open(src, "rb") as f:
        data = f.read()
    noise = np.random.default_rng(0).integers(0, 256, len(data) - keep, dtype=np.uint8).tobytes()
    with open(dst, "wb") as f:
        f.write(data[:keep] + noise)


def edit_text(src: str, dst: str, line: int, new: str) -> None:
    with open(src, encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines[line] = new
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


@pytest.fixture(scope="module")
def sources(tmp_path_factory, lee_model):
    """Good files of every format, to break."""
    src = tmp_path_factory.mktemp("sources")
    ft = FastText(common_texts, vector_size=8, min_count=1, seed=1, workers=1, epochs=2)
    lee_model.save(str(src / "w2v.model"))
    lee_model.wv.save(str(src / "vectors.kv"))
    ft.save(str(src / "fasttext.model"))
    lee_model.wv.save_word2vec_format(str(src / "vectors.bin"), binary=True)
    lee_model.wv.save_word2vec_format(str(src / "vectors.txt"))
    shutil.copy(datapath("lee_fasttext.vec"), src / "lee.vec")
    shutil.copy(datapath("test_glove.txt"), src / "glove.txt")
    shutil.copy(datapath("crime-and-punishment.bin"), src / "cp.bin")
    return src


def _projector(run, kv, tensor: bytes | str, metadata_rows: list[str], shape: tuple | None) -> None:
    run.mkdir(parents=True, exist_ok=True)
    name = "tensor.bytes" if isinstance(tensor, bytes) else "tensor.tsv"
    (run / name).write_bytes(tensor if isinstance(tensor, bytes) else tensor.encode())
    (run / "metadata.tsv").write_text("\n".join(metadata_rows) + "\n", encoding="utf-8")
    dims = "".join(f" tensor_shape: {n}\n" for n in shape) if shape else ""
    (run / md.PROJECTOR_CONFIG_NAME).write_text(
        f'embeddings {{\n tensor_name: "emb"\n tensor_path: "{name}"\n metadata_path: "metadata.tsv"\n{dims}}}\n'
    )


# (run, model, words the error must contain)
BAD = [
    ("bad", "w2v-truncated.model", ["truncated"]),
    ("bad", "w2v-corrupt.model", ["corrupt"]),
    ("bad", "kv-truncated.kv", ["truncated"]),
    ("bad", "kv-corrupt.kv", ["corrupt"]),
    ("bad", "fasttext-truncated.model", ["truncated"]),
    ("bad", "fasttext-corrupt.model", ["corrupt"]),
    ("bad", "vectors-truncated.bin", ["truncated"]),
    ("bad", "vectors-overclaiming.bin", ["truncated or corrupt", "announces"]),
    ("bad", "vectors-truncated.txt", ["truncated"]),
    ("bad", "vectors-corrupt.txt", ["malformed"]),
    ("bad", "lee-truncated.vec", ["truncated"]),
    ("bad", "glove-truncated.txt", ["truncated"]),
    ("bad", "glove-corrupt.txt", ["malformed"]),
    ("bad", "cp-truncated-matrix.bin", ["truncated"]),
    ("bad", "cp-truncated-vocab.bin", ["truncated"]),  # gensim itself loops forever on this one
    ("bad", "cp-corrupt.bin", ["truncated or corrupt"]),
    ("bad", "cp-overcounted.bin", ["ends inside the vocabulary"]),  # a hang in gensim too
    ("sidecar", "w2v.model", ["missing", ".npy"]),
    ("projector_raw_short", "emb", ["float32", "truncated"]),
    ("projector_tsv_corrupt", "emb", ["malformed"]),
    ("projector_rows", "emb", ["rows"]),
    ("manifest_json", md.MANIFEST_NAME, ["manifest", "unreadable"]),
    ("manifest_dangling", "gone", ["not found", "gone.model"]),
    ("manifest_dangling", f"{md.MANIFEST_NAME}#1", ["no path"]),
]


@pytest.fixture(scope="module")
def bad_logdir(tmp_path_factory, sources, lee_model):
    root = tmp_path_factory.mktemp("badlogdir")
    good = root / "good"
    good.mkdir()
    lee_model.wv.save_word2vec_format(str(good / "vectors.txt"))
    lee_model.wv.save(str(good / "vectors.kv"))
    bad = root / "bad"
    bad.mkdir()
    s = lambda name: str(sources / name)  # noqa: E731
    b = lambda name: str(bad / name)  # noqa: E731
    cut(s("w2v.model"), b("w2v-truncated.model"), 0.4)
    scramble(s("w2v.model"), b("w2v-corrupt.model"), 200)
    cut(s("vectors.kv"), b("kv-truncated.kv"), 0.4)
    scramble(s("vectors.kv"), b("kv-corrupt.kv"), 200)
    cut(s("fasttext.model"), b("fasttext-truncated.model"), 0.4)
    scramble(s("fasttext.model"), b("fasttext-corrupt.model"), 200)
    cut(s("vectors.bin"), b("vectors-truncated.bin"), 0.6)
    with open(s("vectors.bin"), "rb") as f:
        data = f.read()
    header, rest = data.split(b"\n", 1)
    n, dim = header.split()
    with open(b("vectors-overclaiming.bin"), "wb") as f:  # a header claiming a billion words
        f.write(b"1000000000 " + dim + b"\n" + rest)
    cut(s("vectors.txt"), b("vectors-truncated.txt"), 0.5)
    edit_text(s("vectors.txt"), b("vectors-corrupt.txt"), 5, "word 1.0 not-a-number")
    cut(s("lee.vec"), b("lee-truncated.vec"), 0.5)
    cut(s("glove.txt"), b("glove-truncated.txt"), 0.5)
    edit_text(s("glove.txt"), b("glove-corrupt.txt"), 40, "word 0.5 0.5")  # past the sniffed head
    cut(s("cp.bin"), b("cp-truncated-matrix.bin"), 0.6)
    cut(s("cp.bin"), b("cp-truncated-vocab.bin"), 0.05)
    with open(s("cp.bin"), "rb") as f:
        data = bytearray(f.read())
    data[68:72] = (2**30).to_bytes(4, "little")  # nwords: a billion
    with open(b("cp-corrupt.bin"), "wb") as f:
        f.write(data)
    data[68:72] = data[64:68]  # nwords as it was; the vocabulary size a billion instead
    data[64:68] = (2**30).to_bytes(4, "little")
    with open(b("cp-overcounted.bin"), "wb") as f:
        f.write(data)
    # A native model whose vectors were saved beside it, copied without them.
    sidecar = root / "sidecar"
    sidecar.mkdir()
    lee_model.save(str(sidecar / "w2v.model"), sep_limit=0)
    os.unlink(sidecar / "w2v.model.wv.vectors.npy")
    # Projector embeddings: a raw tensor shorter than its shape, a TSV with a word in it, row mismatch.
    kv = lee_model.wv
    words = list(kv.index_to_key[:50])
    raw = np.asarray(kv.vectors[:50], dtype="<f4").tobytes()
    _projector(root / "projector_raw_short", kv, raw[: len(raw) // 2], words, (50, kv.vector_size))
    rows = ["\t".join(f"{x:.5g}" for x in v) for v in kv.vectors[:50]]
    rows[7] = "1.0\tnot-a-number"
    _projector(root / "projector_tsv_corrupt", kv, "\n".join(rows) + "\n", words, None)
    rows = "\n".join("\t".join(f"{x:.5g}" for x in v) for v in kv.vectors[:50]) + "\n"
    _projector(root / "projector_rows", kv, rows, words[:40], None)
    # Manifests: invalid JSON; entries pointing nowhere or without a path.
    mj = root / "manifest_json" / md.PLUGIN_DIR
    mj.mkdir(parents=True)
    (mj / md.MANIFEST_NAME).write_text('{"version": 1, "models": [{"name": "x", "path": ')
    md_dir = root / "manifest_dangling" / md.PLUGIN_DIR
    md_dir.mkdir(parents=True)
    (md_dir / md.MANIFEST_NAME).write_text(
        json.dumps(
            {"version": 1, "models": [{"name": "gone", "path": "gone.model", "step": 1}, {"name": "x"}]}
        )
    )
    return str(root)


def snapshot(folder: str) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), folder)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def bad_app(bad_logdir, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    before = snapshot(bad_logdir)
    client = make_client(bad_logdir, cache_dir=cache)[0]
    yield client, cache
    # Nothing of the plugin's is left in the logdir, and nothing half-written in its cache.
    assert snapshot(bad_logdir) == before
    leftovers = [
        n for _, _, files in os.walk(cache) for n in files if n.endswith(".part") or n.startswith(".tmp")
    ]
    assert leftovers == []


def listing(client) -> dict[tuple[str, str], dict]:
    r = get(client, "models")
    assert r.status_code == 200
    return {(m["run"], m["model"]): m for m in r.json["models"]}


def test_every_bad_file_is_listed(bad_app):
    rows = listing(bad_app[0])
    missing = [(run, model) for run, model, _ in BAD if (run, model) not in rows]
    assert missing == [], sorted(rows)


@pytest.mark.parametrize("run, model, needles", BAD, ids=[f"{r}/{m}" for r, m, _ in BAD])
def test_bad_file_breaks_its_own_model_only(bad_app, run, model, needles):
    client, _ = bad_app
    started = time.monotonic()
    r = get(client, "neighbors", run=run, model=model, word="the")
    assert r.status_code == 422, r.json
    message = r.json["error"]
    for needle in needles:
        assert needle in message, message
    assert time.monotonic() - started < LOAD_SECONDS
    # Asked again, the remembered failure answers at once, the same way.
    again = get(client, "vocab", run=run, model=model, timeout=5)
    assert again.status_code == 422 and again.json["error"] == message
    row = listing(client)[(run, model)]
    assert row["status"] == "error" and row["error"] == message
    # Every other model answers as before.
    for good in ("vectors.txt", "vectors.kv"):
        ok = get(client, "neighbors", run="good", model=good, word="the", k=3)
        assert ok.status_code == 200 and len(ok.json["neighbors"]) == 3
        assert listing(client)[("good", good)]["error"] is None


def test_a_missing_file_names_itself_not_a_sidecar(tmp_path, lee_model):
    """Listed, then deleted before its first query (the listing is not rescanned yet)."""
    run = tmp_path / "logdir" / "run"
    run.mkdir(parents=True)
    lee_model.wv.save_word2vec_format(str(run / "a.txt"))
    lee_model.wv.save(str(run / "b.kv"))
    client = make_client(str(tmp_path / "logdir"), cache_dir=str(tmp_path / "c"))[0]
    assert set(listing(client)) == {("run", "a.txt"), ("run", "b.kv")}
    os.unlink(run / "b.kv")
    r = get(client, "neighbors", run="run", model="b.kv", word="the")
    assert r.status_code in (404, 422)
    assert "not found" in r.json["error"] or "unknown model" in r.json["error"], r.json
    assert ".npy" not in r.json["error"]
    assert ("run", "b.kv") not in listing(client)  # the listing rescans
    r = get(client, "neighbors", run="run", model="b.kv", word="the")
    assert r.status_code == 404 and "unknown model" in r.json["error"]
    assert get(client, "neighbors", run="run", model="a.txt", word="the").status_code == 200


def test_replaced_files_are_served_when_whole_and_ignored_when_broken(tmp_path, lee_model):
    from fixtures import train_word2vec

    run = tmp_path / "logdir" / "run"
    run.mkdir(parents=True)
    path = run / "vectors.bin"
    lee_model.wv.save_word2vec_format(str(path), binary=True)
    client = make_client(str(tmp_path / "logdir"), cache_dir=str(tmp_path / "c"))[0]

    def top(word="government"):
        r = get(client, "neighbors", run="run", model="vectors.bin", word=word, k=5)
        assert r.status_code == 200, r.json
        return [n["word"] for n in r.json["neighbors"]]

    assert top() == [w for w, _ in lee_model.wv.most_similar("government", topn=5)]
    # Replaced atomically by a retrained model: the next query answers from the new one.
    retrained = train_word2vec(seed=5, epochs=2)
    retrained.wv.save_word2vec_format(str(run / ".next"), binary=True)
    os.replace(run / ".next", path)
    assert top() == [w for w, _ in retrained.wv.most_similar("government", topn=5)]
    # Replaced by a broken file: the last good version keeps answering.
    cut(str(path), str(run / ".broken"), 0.3)
    os.replace(run / ".broken", path)
    assert top() == [w for w, _ in retrained.wv.most_similar("government", topn=5)]
    # And a good file again is picked up.
    lee_model.wv.save_word2vec_format(str(run / ".next"), binary=True)
    os.replace(run / ".next", path)
    assert top() == [w for w, _ in lee_model.wv.most_similar("government", topn=5)]


def test_a_file_being_written_fails_cleanly_then_loads_when_complete(tmp_path, lee_model):
    """A writer has produced the header and half of the rows; queries say so, then answer."""
    logdir = tmp_path / "logdir"
    (logdir / "run").mkdir(parents=True)
    lee_model.wv.save_word2vec_format(str(logdir / "run" / "other.txt"))
    full = tmp_path / "full.txt"
    lee_model.wv.save_word2vec_format(str(full))
    data = full.read_bytes()
    target = logdir / "run" / "growing.txt"
    with open(target, "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        client = make_client(str(logdir), cache_dir=str(tmp_path / "c"))[0]
        r = get(client, "neighbors", run="run", model="growing.txt", word="the")
        assert r.status_code == 422 and "growing.txt" in r.json["error"], r.json
        assert get(client, "neighbors", run="run", model="other.txt", word="the").status_code == 200
        time.sleep(0.01)  # a new modification time for the rest of the file
        f.write(data[len(data) // 2 :])
    r = get(client, "neighbors", run="run", model="growing.txt", word="the")
    assert r.status_code == 200 and r.json["neighbors"]
    assert listing(client)[("run", "growing.txt")]["error"] is None


# A training job saving over its model in place (gensim's save truncates and rewrites the
# pickle and its .npy files) while clients query it. Run in a child process: with the model
# memory-mapped, a query touching a truncated page kills the whole process with SIGBUS.
TRAINING_IN_PROGRESS = r"""
import collections, json, os, sys, threading, time
from fixtures import make_client
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath
from werkzeug.test import Client

logdir, cache, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
path = os.path.join(logdir, "run", "w2v.model")
corpus = LineSentence(datapath("lee_background.cor"))
model = Word2Vec(corpus, vector_size=48, min_count=2, seed=1, workers=1, epochs=1)
model.save(path, sep_limit=0)
# Rescans every 0.1 s, so that some happen while the files are half-written.
client, _plugin = make_client(logdir, cache_dir=cache, reload_interval=0.1)
query = {"run": "run", "model": "w2v.model", "word": "government", "k": 10}
assert client.get("/data/plugin/word2vec/neighbors", query_string=query).status_code == 200
statuses = collections.Counter()
stop = time.monotonic() + seconds

def reader():
    c = Client(client.application)
    while time.monotonic() < stop:
        r = c.get("/data/plugin/word2vec/neighbors", query_string=query)
        statuses[r.status_code] += 1
        if r.status_code != 200:
            statuses[f"error:{r.status_code}:" + r.json["error"][:80]] += 1

threads = [threading.Thread(target=reader) for _ in range(3)]
for t in threads:
    t.start()
saves = 0
while time.monotonic() < stop:  # the training job: another epoch, saved over the same files
    model.train(corpus, total_examples=model.corpus_count, epochs=1)
    model.save(path, sep_limit=0)
    saves += 1
for t in threads:
    t.join()
time.sleep(0.05)
final = client.get("/data/plugin/word2vec/neighbors", query_string=query)
want = [w for w, _ in model.wv.most_similar("government", topn=10)]
print(json.dumps({"saves": saves, "statuses": {str(k): v for k, v in statuses.items()},
                  "final": final.status_code, "final_matches": [n["word"] for n in final.json["neighbors"]] == want}))
"""


@pytest.mark.slow
def test_training_in_progress_saving_over_the_model_never_kills_the_server(tmp_path):
    (tmp_path / "logdir" / "run").mkdir(parents=True)
    path = os.pathsep.join([REPO, os.path.join(REPO, "tests"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}  # the package, and the tests' fixtures
    out = subprocess.run(
        [sys.executable, "-c", TRAINING_IN_PROGRESS, str(tmp_path / "logdir"), str(tmp_path / "cache"), "6"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    died = signal.Signals(-out.returncode).name if out.returncode < 0 else out.returncode
    assert out.returncode == 0, f"the server process died ({died}): {out.stderr[-2000:]}"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    statuses = result["statuses"]
    assert result["saves"] >= 3, result
    assert set(k for k in statuses if not k.startswith("error:")) <= {"200", "422", "503"}, statuses
    # A 503 only says "try again" while the job rewrites the mapped files under every read
    # (nothing intact is left to answer from); never another server error.
    unavailable = [k for k in statuses if k.startswith("error:503:")]
    assert all("kept changing while it was read" in k for k in unavailable), statuses
    assert statuses.get("200", 0) > 10, statuses
    assert result["final"] == 200 and result["final_matches"], result


def test_file_names_that_are_not_utf8_do_not_break_the_listing(tmp_path, lee_model):
    """One run folder or file whose name is not UTF-8 (os gives lone surrogates, which JSON cannot
    encode) once made every listing a 500; they are listed with ``%XX`` for the odd bytes, the
    name a browser sends back, and answer queries under it."""
    root = os.fsencode(str(tmp_path / "logdir"))
    os.makedirs(root + b"/run\xff")
    os.makedirs(root + b"/plain")
    lee_model.wv.save_word2vec_format(os.fsdecode(root + b"/run\xff/vectors\xfe.txt"))
    lee_model.wv.save_word2vec_format(os.fsdecode(root + b"/plain/vectors.txt"))
    client = make_client(os.fsdecode(root), cache_dir=str(tmp_path / "c"))[0]
    assert set(listing(client)) == {("run%FF", "vectors%FE.txt"), ("plain", "vectors.txt")}
    # What a browser sends for the listed name: encodeURIComponent("run%FF") is "run%25FF".
    r = client.get(f"{PREFIX}/neighbors", query_string="run=run%25FF&model=vectors%25FE.txt&word=the")
    assert r.status_code == 200 and r.json["run"] == "run%FF" and r.json["neighbors"]
    assert get(client, "neighbors", run="plain", model="vectors.txt", word="the").status_code == 200


def test_words_with_lone_surrogates_are_escaped_not_a_500(tmp_path):
    """A pickled model can hold any Python string; JSON escapes what UTF-8 cannot carry."""
    from gensim.models import KeyedVectors

    run = tmp_path / "logdir" / "run"
    run.mkdir(parents=True)
    kv = KeyedVectors(4)
    kv.add_vectors(["a", "b\udcff", "c\ud800"], np.eye(3, 4, dtype=np.float32))
    kv.save(str(run / "odd.kv"))
    client = make_client(str(tmp_path / "logdir"), cache_dir=str(tmp_path / "c"))[0]
    r = get(client, "vocab", run="run", model="odd.kv")
    assert r.status_code == 200
    assert [w["word"] for w in json.loads(r.get_data())["words"]] == ["a", "b\udcff", "c\ud800"]
    r = client.get(
        f"{PREFIX}/export_tsv",
        query_string={"run": "run", "model": "odd.kv", "word": "a", "n": 2, "part": "metadata"},
    )
    assert r.status_code == 200 and r.get_data() == b"a\nb\\udcff\nc\\ud800\n"


def test_a_fifo_in_the_logdir_does_not_hang_the_listing(tmp_path, lee_model):
    """Opening a named pipe for reading blocks until someone writes: the scan must not open it."""
    run = tmp_path / "logdir" / "run"
    run.mkdir(parents=True)
    os.mkfifo(run / "model.bin")
    lee_model.wv.save_word2vec_format(str(run / "vectors.txt"))
    (run / md.PLUGIN_DIR).mkdir(parents=True)
    (run / md.MANIFEST_PATH).write_text(
        json.dumps({"version": 1, "models": [{"name": "p", "path": "model.bin"}]})
    )
    client = make_client(str(tmp_path / "logdir"), cache_dir=str(tmp_path / "c"))[0]
    rows = listing(client)  # get() fails the test, rather than hanging, if this blocks
    assert ("run", "model.bin") not in rows and rows[("run", "vectors.txt")]["error"] is None
    assert "not a word2vec model" in rows[("run", "p")]["error"]
    r = get(client, "neighbors", run="run", model="p", word="the", timeout=10)
    assert r.status_code == 422
    assert get(client, "neighbors", run="run", model="vectors.txt", word="the", timeout=10).status_code == 200


def test_a_fifo_among_benchmark_files_does_not_hang_evaluation(tmp_path, lee_model):
    logdir = tmp_path / "logdir"
    (logdir / "run").mkdir(parents=True)
    (logdir / "benchmarks").mkdir()
    os.mkfifo(logdir / "benchmarks" / "pipe.tsv")
    (logdir / "benchmarks" / "pairs.tsv").write_text("the\tof\t5.0\n")
    lee_model.wv.save_word2vec_format(str(logdir / "run" / "vectors.txt"))
    client = make_client(str(logdir), cache_dir=str(tmp_path / "c"))[0]
    r = get(client, "evaluate", run="run", model="vectors.txt", timeout=20)
    assert r.status_code == 200 and "pairs.tsv" in {b["name"] for b in r.json["benchmarks"]}
