"""The README's main job builds a logdir the plugin and the Projector both read."""

from __future__ import annotations

from fixtures import make_client, projector_client, projector_runs

from tensorboard_plugin_w2v.cli.demo import build_demo_logdir


def test_demo_logdir(tmp_path):
    logdir = str(tmp_path / "logs")
    build_demo_logdir(logdir, epochs=2)
    client, _ = make_client(logdir)
    models = {
        (m["run"], m["model"]): m for m in client.get("/data/plugin/word2vec/models").get_json()["models"]
    }
    assert models[("lee_skipgram", "lee")]["steps"] == [1, 2]
    assert models[("lee_cbow", "lee")]["training"]["sg"] == 0
    assert {
        ("pretrained", "lee_fasttext.vec"),
        ("pretrained", "test_glove.txt"),
        ("projector", "lee skip-gram"),
        ("wikipedia", "wiki.model"),
    } <= set(models)
    assert all(m["error"] is None for m in models.values())
    response = client.get(
        "/data/plugin/word2vec/neighbors",
        query_string={"run": "lee_skipgram", "model": "lee", "word": "police", "k": 5},
    )
    assert response.status_code == 200 and len(response.get_json()["neighbors"]) == 5
    assert "projector" in projector_runs(projector_client(logdir))
    # The Wikipedia model knows enough words for built-in bias tests.
    response = client.get(
        "/data/plugin/word2vec/weat",
        query_string={"run": "wikipedia", "model": "wiki.model", "test": "weat8", "wait": 30},
    )
    assert response.status_code == 200 and response.get_json()["splits"] >= 1000
