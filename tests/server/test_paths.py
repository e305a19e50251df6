"""The plugin exposes nothing beyond the models it lists.

Run, model and step parameters are keys of the scanned logdir, never filesystem paths; symbolic
links and manifest entries out of the logdir are not read (manifest entries only with
``--word2vec_allow_outside_logdir``); the static route serves its own folder only; and
``--word2vec_no_pickle`` keeps gensim's pickles from ever being unpickled.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys

import numpy as np
import pytest
from fixtures import REPO, make_client
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.server import plugin as plugin_module

PREFIX = "/data/plugin/word2vec"
SECRET = "outsidesecret"
SCRIPTS = os.path.join(REPO, "scripts")


def secret_kv() -> KeyedVectors:
    kv = KeyedVectors(4)
    kv.add_vectors([SECRET, "other", "third"], np.eye(3, 4, dtype=np.float32))
    return kv


@pytest.fixture(scope="module")
def tree(tmp_path_factory, lee_model):
    """``root/logdir`` with one real run, and ``root/outside`` holding models that must stay private."""
    root = tmp_path_factory.mktemp("paths")
    outside, logdir = root / "outside", root / "logdir"
    (outside / "folder").mkdir(parents=True)
    secret_kv().save_word2vec_format(str(outside / "secret.txt"))
    secret_kv().save_word2vec_format(str(outside / "folder" / "secret.txt"))
    secret_kv().save(str(outside / "secret.kv"))
    run = logdir / "run"
    run.mkdir(parents=True)
    lee_model.wv.save_word2vec_format(str(run / "vectors.txt"))
    # Symbolic links from inside the logdir to the outside.
    os.symlink(outside / "secret.txt", run / "linked.txt")
    os.symlink(outside / "folder", logdir / "linked_run")
    os.symlink(outside / "folder", run / "linked_folder")
    # A symbolic link that stays inside the logdir is fine.
    os.symlink(run / "vectors.txt", run / "alias.txt")
    # A manifest naming files outside the logdir, by relative and absolute path and through a link.
    manifested = logdir / "manifested"
    manifested.mkdir()
    lee_model.wv.save_word2vec_format(str(manifested / "inside.txt"))
    os.symlink(outside / "secret.txt", manifested / "via_link.txt")
    entries = [
        {"name": "inside", "path": "inside.txt"},
        {"name": "relative", "path": "../../outside/secret.txt"},
        {"name": "absolute", "path": str(outside / "secret.kv")},
        {"name": "via_link", "path": "via_link.txt"},
        {"name": "nowhere", "path": "../../outside/missing.txt"},
    ]
    path = manifested / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    import json

    path.write_text(json.dumps({"version": 1, "models": entries}))
    return str(logdir), str(outside)


@pytest.fixture(scope="module")
def client(tree, tmp_path_factory):
    return make_client(tree[0], cache_dir=str(tmp_path_factory.mktemp("cache")))[0]


def listing(client) -> dict[tuple[str, str], dict]:
    r = client.get(f"{PREFIX}/models")
    assert r.status_code == 200
    return {(m["run"], m["model"]): m for m in r.json["models"]}


def test_symlinks_out_of_the_logdir_are_not_listed_or_served(client, tree):
    models = listing(client)
    assert ("run", "vectors.txt") in models and ("run", "alias.txt") in models
    assert ("run", "linked.txt") not in models
    assert not any(run.startswith("linked_run") or "linked_folder" in run for run, _ in models)
    assert SECRET not in client.get(f"{PREFIX}/models").get_data(as_text=True)
    for run, model in (
        ("run", "linked.txt"),
        ("linked_run", "secret.txt"),
        ("run/linked_folder", "secret.txt"),
    ):
        r = client.get(f"{PREFIX}/vocab", query_string={"run": run, "model": model})
        assert r.status_code == 404, (run, model, r.json)
        assert SECRET not in r.get_data(as_text=True)
    # The link that stays inside answers like the file it points to.
    r = client.get(f"{PREFIX}/neighbors", query_string={"run": "run", "model": "alias.txt", "word": "the"})
    assert r.status_code == 200 and r.json["neighbors"]


@pytest.mark.parametrize(
    "run, model, step",
    [
        ("..", "secret.txt", None),
        ("../outside", "secret.txt", None),
        ("run/../../outside", "secret.txt", None),
        ("run", "../../outside/secret.txt", None),
        ("run", "linked.txt/..", None),
        ("{outside}", "secret.txt", None),
        ("run", "{outside}/secret.txt", None),
        ("run", "vectors.txt/../../../outside/secret.txt", None),
        ("./run", "vectors.txt", None),
        ("run/", "vectors.txt", None),
        ("run", "./vectors.txt", None),
        ("run", "vectors.txt", "../1"),
        ("run", "vectors.txt", "/etc"),
    ],
)
def test_run_model_and_step_are_names_not_paths(client, tree, run, model, step):
    outside = tree[1]
    query = {"run": run.format(outside=outside), "model": model.format(outside=outside), "prefix": ""}
    if step is not None:
        query["step"] = step
    r = client.get(f"{PREFIX}/vocab", query_string=query)
    assert r.status_code in (400, 404), r.json
    assert r.headers["Content-Type"] == "application/json"
    assert SECRET not in r.get_data(as_text=True)


def test_manifest_entries_outside_the_logdir_are_refused(client):
    models = listing(client)
    assert models[("manifested", "inside")]["error"] is None
    for name in ("relative", "absolute", "via_link"):
        row = models[("manifested", name)]
        assert "outside the logdir" in row["error"] and "--word2vec_allow_outside_logdir" in row["error"], row
        assert row["status"] == "error"
        r = client.get(f"{PREFIX}/vocab", query_string={"run": "manifested", "model": name})
        assert r.status_code == 422 and "outside the logdir" in r.json["error"]
        assert SECRET not in r.get_data(as_text=True)
    assert "outside the logdir" in models[("manifested", "nowhere")]["error"]
    r = client.get(f"{PREFIX}/vocab", query_string={"run": "manifested", "model": "inside"})
    assert r.status_code == 200 and r.json["total"] > 1000


def test_allow_outside_logdir_serves_manifest_entries_but_not_symlinks(tree, tmp_path):
    logdir, _ = tree
    client = make_client(logdir, "--word2vec_allow_outside_logdir", cache_dir=str(tmp_path))[0]
    models = listing(client)
    for name in ("relative", "absolute", "via_link"):
        assert models[("manifested", name)]["error"] is None, models[("manifested", name)]
        r = client.get(f"{PREFIX}/vocab", query_string={"run": "manifested", "model": name})
        assert r.status_code == 200 and SECRET in [w["word"] for w in r.json["words"]]
    assert models[("manifested", "nowhere")]["error"].startswith("file not found")
    # The flag is about manifests; a stray symbolic link is still not a model of the logdir.
    assert ("run", "linked.txt") not in models


@pytest.fixture
def static_dir(tmp_path, monkeypatch):
    """A built tab in a folder of its own, with a private file beside it."""
    static = tmp_path / "pkg" / "static"
    static.mkdir(parents=True)
    (static / "index.js").write_text("export function render() {}\n")
    (static / "style.css").write_text("body {}\n")
    (static / ".hidden.js").write_text("hiddencontent\n")
    (tmp_path / "pkg" / "secret.py").write_text(f"{SECRET} = 1\n")
    os.symlink(tmp_path / "pkg" / "secret.py", static / "link.js")
    monkeypatch.setattr(plugin_module, "STATIC_DIR", str(static))
    return static


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2fsecret.py",
        "/static/..%2f..%2fsecret.py",
        "/static/%2e%2e%2fsecret.py",
        "/static/..%5csecret.py",
        "/static/%2fetc%2fpasswd",
        "/static/..",
        "/static/.hidden.js",
        "/static/index.js%00.css",
        "/static/link.js",
        "/static/../secret.py",
        "/static/./../secret.py",
    ],
)
def test_static_route_serves_its_folder_only(static_dir, tree, tmp_path, path):
    client = make_client(tree[0], cache_dir=str(tmp_path / "cache"))[0]
    ok = client.get(f"{PREFIX}/static/style.css")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "body {}\n"
    assert ok.headers["Content-Type"].startswith("text/css")
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    js = client.get(f"{PREFIX}/index.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    r = client.get(PREFIX + path)
    assert r.status_code == 404, (path, r.status_code)
    assert SECRET not in r.get_data(as_text=True) and "hiddencontent" not in r.get_data(as_text=True)
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# -- trust: --word2vec_no_pickle -------------------------------------------------------------


class _Payload:
    """Unpickling this creates a file: what a hostile pickle in a logdir could do instead."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_hostile_pickle(path: str, marker: str) -> None:
    """A pickle that names gensim's Word2Vec first (so it is sniffed as a gensim model) and runs
    code when loaded."""
    from gensim.models import Word2Vec

    with open(path, "wb") as f:
        pickle.dump((Word2Vec, _Payload(marker)), f, protocol=4)


@pytest.fixture
def trust_logdir(tmp_path, lee_model):
    logdir = tmp_path / "logdir"
    run = logdir / "run"
    run.mkdir(parents=True)
    lee_model.save(str(run / "w2v.model"))
    lee_model.wv.save(str(run / "vectors.kv"))
    lee_model.wv.save_word2vec_format(str(run / "vectors.bin"), binary=True)
    lee_model.wv.save_word2vec_format(str(run / "vectors.txt"))
    marker = tmp_path / "pwned"
    write_hostile_pickle(str(run / "hostile.model"), str(marker))
    return str(logdir), marker


def test_no_pickle_refuses_gensim_native_files_and_never_unpickles(trust_logdir, tmp_path):
    logdir, marker = trust_logdir
    client = make_client(logdir, "--word2vec_no_pickle", cache_dir=str(tmp_path / "cache"))[0]
    rows = {m["model"]: m for m in client.get(f"{PREFIX}/models").json["models"]}
    assert rows["hostile.model"]["status"] == "error"  # said in the listing before any query
    assert "--word2vec_no_pickle" in rows["hostile.model"]["error"]
    for model in ("w2v.model", "vectors.kv", "hostile.model"):
        r = client.get(f"{PREFIX}/neighbors", query_string={"run": "run", "model": model, "word": "the"})
        assert r.status_code == 422, (model, r.json)
        assert "pickle" in r.json["error"] and "--word2vec_no_pickle" in r.json["error"]
    assert not marker.exists()
    for model in ("vectors.bin", "vectors.txt"):
        r = client.get(f"{PREFIX}/neighbors", query_string={"run": "run", "model": model, "word": "the"})
        assert r.status_code == 200 and r.json["neighbors"], model
    rows = {m["model"]: m for m in client.get(f"{PREFIX}/models").json["models"]}
    assert "pickle" in rows["w2v.model"]["error"] and rows["vectors.txt"]["error"] is None


def test_without_no_pickle_a_hostile_pickle_runs_code(trust_logdir, tmp_path):
    """Why the flag exists: the same file, served without it, executes its payload."""
    logdir, marker = trust_logdir
    client = make_client(logdir, cache_dir=str(tmp_path / "cache"))[0]
    r = client.get(
        f"{PREFIX}/neighbors", query_string={"run": "run", "model": "hostile.model", "word": "the"}
    )
    assert r.status_code == 422  # not a Word2Vec in the end, but too late:
    assert marker.exists()
    r = client.get(f"{PREFIX}/neighbors", query_string={"run": "run", "model": "w2v.model", "word": "the"})
    assert r.status_code == 200


@pytest.mark.slow
def test_no_pickle_through_the_real_tensorboard_command(trust_logdir, tmp_path):
    sys.path.insert(0, SCRIPTS)
    try:
        from load_test import TensorBoardProcess, get_json
    finally:
        sys.path.remove(SCRIPTS)
    if shutil.which("tensorboard") is None:
        pytest.fail("the tensorboard command is not installed")
    logdir, marker = trust_logdir
    with TensorBoardProcess(
        logdir, ["--word2vec_no_pickle", "--word2vec_cache_dir", str(tmp_path / "cache")]
    ) as tb:
        status, body = get_json(tb.url("neighbors", run="run", model="hostile.model", word="the"))
        assert status == 422 and "--word2vec_no_pickle" in body["error"]
        status, body = get_json(tb.url("neighbors", run="run", model="w2v.model", word="the"))
        assert status == 422 and "pickle" in body["error"]
        status, body = get_json(tb.url("neighbors", run="run", model="vectors.txt", word="the"))
        assert status == 200 and body["neighbors"]
    assert not marker.exists()


def test_benchmark_files_linked_out_of_the_logdir_are_not_offered(tree, tmp_path):
    logdir, outside = tree
    bench = os.path.join(logdir, "benchmarks")
    os.makedirs(bench, exist_ok=True)
    with open(os.path.join(outside, "pairs.tsv"), "w") as f:
        f.write(f"{SECRET}\tother\t5.0\n")
    with open(os.path.join(bench, "mine.tsv"), "w") as f:
        f.write("the\tof\t5.0\n")
    link = os.path.join(bench, "linked.tsv")
    os.symlink(os.path.join(outside, "pairs.tsv"), link)
    try:
        client = make_client(logdir, cache_dir=str(tmp_path))[0]
        r = client.get(f"{PREFIX}/evaluate", query_string={"run": "run", "model": "vectors.txt"})
        assert r.status_code == 200, r.json
        names = {b["name"] for b in r.json["benchmarks"]}
        assert "mine.tsv" in names and "linked.tsv" not in names
        r = client.get(
            f"{PREFIX}/evaluate",
            query_string={"run": "run", "model": "vectors.txt", "benchmark": "linked.tsv"},
        )
        assert r.status_code == 404 and SECRET not in r.get_data(as_text=True)
    finally:
        shutil.rmtree(bench)
