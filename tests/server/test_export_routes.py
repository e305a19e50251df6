"""The tab's "send to Projector" routes: a neighbourhood written as a run the real Projector reads."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from urllib.parse import quote

import numpy as np
import pytest
from fixtures import make_client, projector_client, projector_embedding, projector_runs
from gensim.models import KeyedVectors

BASE = "/data/plugin/word2vec"
POST_HEADERS = {"X-Requested-With": "XMLHttpRequest"}


def _logdir_with_model(tmp_path, lee_model) -> str:
    (tmp_path / "run").mkdir()
    lee_model.save(str(tmp_path / "run" / "w2v.model"))
    return str(tmp_path)


def test_export_writes_a_run_the_projector_shows(tmp_path, lee_model):
    logdir = _logdir_with_model(tmp_path, lee_model)
    client, _ = make_client(logdir)
    response = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "police", "n": 25},
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["points"] == 26 and data["run"].startswith("word2vec_exports/police-25-w2v-")
    assert data["tensor_name"] == "police and 25 neighbours (run/w2v.model)"
    assert data["source"] == {"run": "run", "model": "w2v.model", "step": None}
    projector = projector_client(logdir)
    assert data["run"] in projector_runs(projector)
    values, labels = projector_embedding(projector, data["run"], data["tensor_name"])
    expected = ["police"] + [w for w, _ in lee_model.wv.most_similar("police", topn=25)]
    assert labels == expected
    np.testing.assert_array_equal(values, lee_model.wv[expected])


def test_an_export_without_n_sends_the_default_info_states(tmp_path, lee_model):
    client, _ = make_client(_logdir_with_model(tmp_path, lee_model))
    default = client.get(f"{BASE}/info").get_json()["defaults"]["export_n"]
    assert len(lee_model.wv) > default + 1
    response = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "police"},
    )
    assert response.status_code == 200 and response.get_json()["points"] == default + 1


def test_export_needs_post_with_a_custom_header(tmp_path, lee_model):
    client, _ = make_client(_logdir_with_model(tmp_path, lee_model))
    query = {"run": "run", "model": "w2v.model", "word": "police"}
    assert client.get(f"{BASE}/export_projector", query_string=query).status_code == 405
    response = client.post(f"{BASE}/export_projector", query_string=query)
    assert response.status_code == 403 and "X-Requested-With" in response.get_json()["error"]
    assert not (tmp_path / "word2vec_exports").exists()


def test_unwritable_logdir_offers_the_two_tsv_files(tmp_path, lee_model):
    logdir = _logdir_with_model(tmp_path, lee_model)
    (tmp_path / "word2vec_exports").write_text("a file where the exports folder should be")
    client, _ = make_client(logdir)
    response = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "police", "n": 10},
    )
    assert response.status_code == 409
    links = response.get_json()["tsv"]
    tensor = client.get(f"{BASE}/{links['tensor']}")
    metadata = client.get(f"{BASE}/{links['metadata']}")
    assert tensor.headers["Content-Type"].startswith("text/tab-separated-values")
    assert "attachment" in tensor.headers["Content-Disposition"]
    words = metadata.get_data(as_text=True).splitlines()
    assert words == ["police"] + [w for w, _ in lee_model.wv.most_similar("police", topn=10)]
    rows = [
        [float(x) for x in row]
        for row in csv.reader(io.StringIO(tensor.get_data(as_text=True)), delimiter="\t")
    ]
    np.testing.assert_allclose(rows, lee_model.wv[words], rtol=1e-6)


def test_export_of_an_unknown_word_is_a_404(tmp_path, lee_model):
    client, _ = make_client(_logdir_with_model(tmp_path, lee_model))
    response = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "Polise"},
    )
    assert response.status_code == 404 and "police" in response.get_json()["suggestions"]


def browser_url(path: str, **params: str) -> str:
    """A query string built as the Projector page builds it: values pasted into the URL, which
    the browser then percent-encodes only where the URL standard says (spaces, quotes, ``<>``,
    non-ASCII), leaving ``+ & # %`` as they are."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return path + "?" + quote(query, safe="!$&'()*+,-./:;=?@_~%#[]{}|^`\\")


def projector_get(client, route: str, run: str, name: str):
    """A Projector route requested with the URL the Projector page sends (fragment dropped)."""
    url = browser_url(f"/data/plugin/projector/{route}", run=run, name=name).split("#", 1)[0]
    return client.get(url)


def test_browser_url_building_breaks_on_plus(tmp_path, lee_model):
    """The trap the export names avoid: a "+" sent unencoded arrives as a space."""
    logdir = _logdir_with_model(tmp_path, lee_model)
    from tensorboard_plugin_w2v.writers.projector import export_embedding

    run_dir = os.path.join(logdir, "plain")
    # export_embedding writes the name Projector-safe; a config written by hand keeps the "+".
    export_embedding(lee_model.wv.vectors[:3], ["a", "b", "c"], run_dir, "x")
    config = os.path.join(run_dir, "projector_config.pbtxt")
    with open(config, encoding="utf-8") as f:
        text = f.read()
    with open(config, "w", encoding="utf-8") as f:
        f.write(text.replace('tensor_name: "x"', 'tensor_name: "a + b"'))
    projector = projector_client(logdir)
    assert projector_get(projector, "tensor", "plain", "a + b").status_code == 400
    assert (
        projector.get(
            "/data/plugin/projector/tensor", query_string={"run": "plain", "name": "a + b"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("word", ["c++", "AT&T", "c#", "100%", "a+b&c#d%e", "café + crème"])
def test_export_names_survive_the_projector_url_building(tmp_path, word):
    """Words with ``+ & # %`` export under names the Projector page can request as it builds URLs."""
    rng = np.random.default_rng(0)
    words = [word, "plain", "other", "more", "words", "here"]
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(words, rng.normal(size=(len(words), 8)).astype(np.float32))
    run = tmp_path / "logs" / "odd+run&#%"
    run.mkdir(parents=True)
    kv.save(str(run / "odd+model.kv"))
    logdir = str(tmp_path / "logs")
    client, _ = make_client(logdir)
    response = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "odd+run&#%", "model": "odd+model.kv", "word": word, "n": 3},
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert not set("+&#%") & set(data["run"] + data["tensor_name"]), data
    assert data["word"] == word
    projector = projector_client(logdir)
    assert data["run"] in projector_runs(projector)
    tensor = projector_get(projector, "tensor", data["run"], data["tensor_name"])
    assert tensor.status_code == 200, tensor.get_data(as_text=True)
    metadata = projector_get(projector, "metadata", data["run"], data["tensor_name"])
    assert metadata.status_code == 200, metadata.get_data(as_text=True)
    labels = metadata.get_data(as_text=True).splitlines()
    expected = [word] + [w for w, _ in kv.most_similar(word, topn=3)]
    assert labels == expected
    values = np.frombuffer(tensor.get_data(), dtype="<f4").reshape(4, 8)
    np.testing.assert_array_equal(values, kv[expected])


def test_exports_are_listed_apart_from_models_and_can_be_removed(tmp_path, lee_model):
    logdir = _logdir_with_model(tmp_path, lee_model)
    client, _ = make_client(logdir, reload_interval=0)
    made = []
    for word, n in (("police", 5), ("police", 5), ("government", 3)):
        response = client.post(
            f"{BASE}/export_projector",
            headers=POST_HEADERS,
            query_string={"run": "run", "model": "w2v.model", "word": word, "n": n},
        )
        assert response.status_code == 200, response.get_json()
        made.append(response.get_json())
    assert len({m["run"] for m in made}) == 3, "every send makes its own run"
    listing = client.get(f"{BASE}/exports").get_json()
    assert listing["folder"] == "word2vec_exports"
    assert [e["run"] for e in listing["exports"]] == [m["run"] for m in reversed(made)]
    assert listing["exports"][0] == made[-1]
    # Exports are not offered as models of the tab, though the Projector lists them.
    runs = {m["run"] for m in client.get(f"{BASE}/models").get_json()["models"]}
    assert runs == {"run"}
    assert {m["run"] for m in made} <= set(projector_runs(projector_client(logdir)))

    response = client.post(
        f"{BASE}/exports/remove", headers=POST_HEADERS, query_string={"run": made[0]["run"]}
    )
    assert response.status_code == 200 and response.get_json() == {"removed": [made[0]["run"]]}
    assert not os.path.exists(os.path.join(logdir, *made[0]["run"].split("/")))
    assert [e["run"] for e in client.get(f"{BASE}/exports").get_json()["exports"]] == [
        made[2]["run"],
        made[1]["run"],
    ]
    assert made[0]["run"] not in projector_runs(projector_client(logdir))
    # Several at once.
    response = client.post(
        f"{BASE}/exports/remove",
        headers=POST_HEADERS,
        query_string=[("run", made[1]["run"]), ("run", made[2]["run"])],
    )
    assert response.get_json()["removed"] == [made[1]["run"], made[2]["run"]]
    assert client.get(f"{BASE}/exports").get_json()["exports"] == []
    assert os.path.isfile(os.path.join(logdir, "run", "w2v.model"))


@pytest.mark.parametrize(
    "run",
    [
        "run",
        "word2vec_exports",
        "word2vec_exports/..",
        "word2vec_exports/../run",
        "word2vec_exports/nope",
        "",
    ],
)
def test_remove_takes_listed_export_names_only(tmp_path, lee_model, run):
    logdir = _logdir_with_model(tmp_path, lee_model)
    client, _ = make_client(logdir)
    made = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "police", "n": 2},
    ).get_json()
    response = client.post(f"{BASE}/exports/remove", headers=POST_HEADERS, query_string={"run": run})
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["known_exports"] == [made["run"]]
    assert os.path.isfile(os.path.join(logdir, "run", "w2v.model"))
    assert len(client.get(f"{BASE}/exports").get_json()["exports"]) == 1


def test_remove_needs_post_with_a_custom_header_and_a_run(tmp_path, lee_model):
    client, _ = make_client(_logdir_with_model(tmp_path, lee_model))
    assert client.get(f"{BASE}/exports/remove", query_string={"run": "x"}).status_code == 405
    assert client.post(f"{BASE}/exports/remove", query_string={"run": "x"}).status_code == 403
    response = client.post(f"{BASE}/exports/remove", headers=POST_HEADERS)
    assert response.status_code == 400 and "run" in response.get_json()["error"]
    assert client.get(f"{BASE}/exports").get_json()["exports"] == []


def test_a_run_that_cannot_be_deleted_is_a_409(tmp_path, lee_model):
    """An export whose files cannot be deleted (immutable here) answers 409, not a stack trace."""
    logdir = _logdir_with_model(tmp_path, lee_model)
    client, _ = make_client(logdir)
    made = client.post(
        f"{BASE}/export_projector",
        headers=POST_HEADERS,
        query_string={"run": "run", "model": "w2v.model", "word": "police", "n": 2},
    ).get_json()
    locked = os.path.join(logdir, *made["run"].split("/"), "projector_config.pbtxt")
    if subprocess.run(["chattr", "+i", locked], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        response = client.post(
            f"{BASE}/exports/remove", headers=POST_HEADERS, query_string={"run": made["run"]}
        )
    finally:
        subprocess.run(["chattr", "-i", locked], check=True)
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert made["run"] in body["error"] and body["removed"] == []


def test_only_exports_whose_writer_died_are_swept(tmp_path, lee_model):
    """An export killed mid-write (its lock file free) goes at the next listing; one still being
    written (its lock held), a complete one and a folder this package did not start stay."""
    import fcntl
    import shutil
    import time

    from tensorboard_plugin_w2v.io import temporaries
    from tensorboard_plugin_w2v.writers import exports

    logdir = _logdir_with_model(tmp_path, lee_model)
    client, _ = make_client(logdir)
    query = {"run": "run", "model": "w2v.model", "word": "police", "n": 5}
    done = client.post(f"{BASE}/export_projector", headers=POST_HEADERS, query_string=query).get_json()
    folder = os.path.join(logdir, exports.EXPORTS_FOLDER)
    complete = os.path.join(logdir, *done["run"].split("/"))
    killed, live, foreign = (os.path.join(folder, name) for name in ("killed", "live", "foreign"))
    for run_dir in (killed, live):  # what a process killed before its record leaves
        shutil.copytree(complete, run_dir)
        os.remove(os.path.join(run_dir, *exports.RECORD_PATH.split("/")))
        open(os.path.join(run_dir, temporaries.WRITER_NAME), "w").close()
    shutil.copytree(complete, foreign)  # no record, no lock file: not ours to judge
    os.remove(os.path.join(foreign, *exports.RECORD_PATH.split("/")))
    old = time.time() - 60
    for run_dir in (killed, live):
        os.utime(os.path.join(run_dir, temporaries.WRITER_NAME), (old, old))
    holder = os.open(os.path.join(live, temporaries.WRITER_NAME), os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a writer still at work
    try:
        listing = client.get(f"{BASE}/exports").get_json()["exports"]
        assert not os.path.exists(killed)
        assert os.path.isdir(live) and os.path.isdir(foreign) and os.path.isdir(complete)
        # the one being written is not listed yet
        assert sorted(e["run"] for e in listing) == sorted([f"{exports.EXPORTS_FOLDER}/foreign", done["run"]])
    finally:
        os.close(holder)
    assert exports.sweep_unfinished(logdir) == [f"{exports.EXPORTS_FOLDER}/live"]  # its writer is gone now
    assert os.path.isdir(foreign) and os.path.isdir(complete)
