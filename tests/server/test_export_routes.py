"""The tab's "send to Projector" routes: a neighbourhood written as a run the real Projector reads."""

from __future__ import annotations

import csv
import io

import numpy as np
from fixtures import make_client, projector_client, projector_embedding, projector_runs

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
    assert data["points"] == 26 and data["run"].startswith("word2vec_exports/")
    projector = projector_client(logdir)
    assert data["run"] in projector_runs(projector)
    values, labels = projector_embedding(projector, data["run"], data["tensor_name"])
    expected = ["police"] + [w for w, _ in lee_model.wv.most_similar("police", topn=25)]
    assert labels == expected
    np.testing.assert_array_equal(values, lee_model.wv[expected])


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
