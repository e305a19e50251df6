"""/drift, /trajectory, /axes and /weat through TensorBoard's WSGI app, on real models in a
logdir, compared with scipy and with the library's functions (themselves tested against the
definitions in test_alignment, test_axes and test_weat)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from analysis_fixtures import rotated, wiki_word2vec
from fixtures import make_client, train_word2vec
from scipy.linalg import orthogonal_procrustes

from tensorboard_plugin_w2v.analysis import alignment, axes, weat
from tensorboard_plugin_w2v.writers import summary

BASE = "/data/plugin/word2vec"
MOVED = ["government", "police", "Sydney"]


def get(client, route, params):
    """``params``: a list of (name, value) pairs, so that names may repeat."""
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.status_code, response.get_json()


@pytest.fixture(scope="module")
def models():
    a = train_word2vec(seed=1, epochs=10)
    b = train_word2vec(seed=2, epochs=10, min_count=8)
    moved, _rotation = rotated(a.wv, MOVED)
    return {"a": a, "b": b, "moved": moved, "small": train_word2vec(seed=1, epochs=2, vector_size=16)}


@pytest.fixture(scope="module")
def analysis_logdir(tmp_path_factory, models):
    root = tmp_path_factory.mktemp("analysis_logdir")
    seeds = root / "seeds"
    seeds.mkdir()
    models["a"].save(str(seeds / "a.model"))
    models["b"].save(str(seeds / "b.model"))
    models["moved"].save(str(seeds / "moved.kv"))
    models["small"].save(str(seeds / "small.model"))
    logger = summary.TrainingLogger(str(root / "training"), name="lee", snapshot_every=1, log_loss=False)
    train_word2vec(seed=5, epochs=4, callbacks=[logger])
    wiki_word2vec().save(str(root / "wiki.model"))
    return str(root)


@pytest.fixture(scope="module")
def client(analysis_logdir, tmp_path_factory):
    return make_client(analysis_logdir, cache_dir=str(tmp_path_factory.mktemp("cache")))[0]


SEEDS = [("run", "seeds"), ("model", "a.model")]


def test_drift_is_scipys_alignment_and_is_cached(client, models):
    a, b = models["a"].wv, models["b"].wv
    params = SEEDS + [("model2", "b.model"), ("top", "5"), ("word", "police"), ("word", "the")]
    status, first = get(client, "drift", params)
    assert status == 200 and first["cached"] is False
    shared = [w for w in a.index_to_key if w in b.key_to_index]
    assert first["shared"] == first["anchors"] == first["considered"] == len(shared)

    def unit(kv):
        m = np.array([kv[w] for w in shared], dtype=np.float64)
        return m / np.linalg.norm(m, axis=1)[:, None]

    r, _ = orthogonal_procrustes(unit(b), unit(a))
    drift = 1 - np.einsum("ij,ij->i", unit(a), unit(b) @ r)
    by_word = dict(zip(shared, drift, strict=True))
    for row in first["most_changed"] + first["least_changed"] + first["words"]:
        assert row["drift"] == pytest.approx(by_word[row["word"]], abs=2e-6)
    np.testing.assert_allclose(
        [r["drift"] for r in first["most_changed"]], np.sort(drift)[::-1][:5], atol=2e-6
    )
    np.testing.assert_allclose([r["drift"] for r in first["least_changed"]], np.sort(drift)[:5], atol=2e-6)
    police = first["words"][0]
    assert police["word"] == "police" and police["rank"] == 1 + int(np.sum(drift > by_word["police"] + 1e-6))
    assert first["a"] == {"run": "seeds", "model": "a.model", "step": None, "vocab_size": len(a), "dim": 32}
    status, again = get(client, "drift", params)
    assert status == 200 and again["cached"] is True
    assert again["most_changed"] == first["most_changed"]
    status, fewer = get(
        client, "drift", SEEDS + [("model2", "b.model"), ("anchors", "100"), ("restrict_vocab", "50")]
    )
    assert fewer["cached"] is False and fewer["anchors"] == 100 and fewer["considered"] == 50
    assert len(fewer["most_changed"]) == 20


def test_drift_finds_exactly_the_moved_words(client):
    status, data = get(client, "drift", SEEDS + [("model2", "moved.kv"), ("top", "4")])
    assert status == 200
    assert {r["word"] for r in data["most_changed"][:3]} == set(MOVED)
    assert data["most_changed"][3]["drift"] < 0.01 < data["most_changed"][2]["drift"]


def test_drift_between_two_steps(client, analysis_logdir):
    status, data = get(
        client, "drift", [("run", "training"), ("model", "lee"), ("step", "1"), ("step2", "4")]
    )
    assert status == 200 and data["a"]["step"] == 1 and data["b"]["step"] == 4
    status, same = get(
        client, "drift", [("run", "training"), ("model", "lee"), ("step", "4"), ("step2", "4")]
    )
    assert status == 200 and max(r["drift"] for r in same["most_changed"]) < 1e-5


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (SEEDS, 400, "name the second model"),
        (SEEDS + [("model2", "small.model")], 400, "different dimensions (32 and 16)"),
        (SEEDS + [("model2", "nope.model")], 404, "unknown model 'nope.model'"),
        (SEEDS + [("model2", "b.model"), ("word", "Polise")], 404, "not in model A's vocabulary"),
        (SEEDS + [("model2", "b.model"), ("anchors", "0")], 400, "'anchors' must be at least 1"),
        (SEEDS + [("model2", "b.model"), ("top", "x")], 400, "'top' must be an integer"),
    ],
)
def test_drift_errors(client, params, status, needle):
    got, data = get(client, "drift", params)
    assert got == status and needle in data["error"], data
    if "dimensions" in needle:
        assert data["dims"] == [32, 16]


def test_trajectory_over_logged_steps(client, analysis_logdir):
    status, data = get(
        client, "trajectory", [("run", "training"), ("model", "lee"), ("word", "police"), ("k", "5")]
    )
    assert status == 200 and [s["step"] for s in data["steps"]] == [1, 2, 3, 4]
    from tensorboard_plugin_w2v.models.discovery import Discovery
    from tensorboard_plugin_w2v.models.loading import load_model

    entry = Discovery(analysis_logdir).scan()["training"]["lee"]
    expected = alignment.trajectory([(v.step, load_model(v.path).kv) for v in entry.versions], "police", k=5)
    for got, want in zip(data["steps"], expected, strict=True):
        assert got["drift"] == pytest.approx(want.drift, abs=1e-7)
        assert [n["word"] for n in got["neighbors"]] == [n.word for n in want.neighbors]
    assert data["steps"][-1]["drift"] == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (
            [("run", "seeds"), ("model", "a.model"), ("word", "police")],
            400,
            "a trajectory needs at least two",
        ),
        ([("run", "training"), ("model", "lee"), ("word", "Polise")], 404, "none of the steps"),
        ([("run", "training"), ("model", "lee")], 400, "missing parameter 'word'"),
    ],
)
def test_trajectory_errors(client, params, status, needle):
    got, data = get(client, "trajectory", params)
    assert got == status and needle in data["error"]


def test_axes_place_words_and_neighbours(client, models):
    kv = models["a"].wv
    params = SEEDS + [
        ("x", "police + fire - government"),
        ("y", "Sydney - Australia"),
        ("word", "officers"),
        ("word", "cricket"),
        ("word", "Qwxzzy"),
        ("neighbors_of", "minister"),
        ("k", "4"),
    ]
    status, data = get(client, "axes", params)
    assert status == 200
    assert data["x"] == {
        "expr": "police + fire - government",
        "words": {"positive": ["police", "fire"], "negative": ["government"]},
    }
    words = [p["word"] for p in data["points"]]
    assert words == ["officers", "cricket", "minister"] + [w for w, _ in kv.most_similar("minister", topn=4)]
    assert [p["kind"] for p in data["points"]] == ["word", "word", "query"] + ["neighbor"] * 4
    x_axis, y_axis = (
        axes.parse_axis(kv, "police + fire - government"),
        axes.parse_axis(kv, "Sydney - Australia"),
    )
    np.testing.assert_allclose(
        [p["x"] for p in data["points"]], axes.coordinates(kv, x_axis, words), atol=1e-12
    )
    np.testing.assert_allclose(
        [p["y"] for p in data["points"]], axes.coordinates(kv, y_axis, words), atol=1e-12
    )
    assert data["missing"] == ["Qwxzzy"]
    status, one = get(client, "axes", SEEDS + [("x", "police"), ("word", "officers")])
    assert one["y"] is None and one["points"][0]["y"] is None
    assert one["points"][0]["x"] == pytest.approx(float(kv.similarity("police", "officers")), abs=1e-6)


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (SEEDS + [("x", "police -"), ("word", "fire")], 400, "x 'police -': ends with an operator"),
        (SEEDS + [("x", "police"), ("y", "+ +"), ("word", "fire")], 400, "y '+ +'"),
        (SEEDS + [("x", "police - police"), ("word", "fire")], 400, "zero vector"),
        (SEEDS + [("x", "Polise"), ("word", "fire")], 404, "'Polise' is not in the model's vocabulary"),
        (SEEDS + [("x", "police")], 400, "give the words to place"),
        (SEEDS + [("word", "fire")], 400, "missing parameter 'x'"),
        (SEEDS + [("x", "police"), ("word", "Qwxzzy")], 404, "none of the words"),
        (SEEDS + [("x", "police"), ("neighbors_of", "Qwxzzy")], 404, "'Qwxzzy' is not in"),
    ],
)
def test_axes_errors(client, params, status, needle):
    got, data = get(client, "axes", params)
    assert got == status and needle in data["error"], data


def test_the_analysis_defaults_info_states_are_the_routes(client):
    """What the tab shows before anyone changes a field: the routes' own defaults, from /info."""
    defaults = client.get(f"{BASE}/info").get_json()["defaults"]
    status, drift = get(client, "drift", SEEDS + [("model2", "b.model")])
    assert (
        status == 200 and len(drift["most_changed"]) == len(drift["least_changed"]) == defaults["drift_top"]
    )
    status, placed = get(client, "axes", SEEDS + [("x", "police"), ("neighbors_of", "minister")])
    assert status == 200 and [p["kind"] for p in placed["points"]].count("neighbor") == defaults["axes_k"]
    status, listing = get(client, "weat", [("run", "seeds"), ("model", "a.model")])
    assert status == 200 and listing["tests"][0]["name"] == defaults["weat_test"]


WIKI = [("run", "."), ("model", "wiki.model")]


def poll(client, params, timeout=60.0):
    """Ask until the answer is no longer 202; every 202 says queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        status, data = get(client, "weat", params)
        if status != 202:
            return status, data
        assert data["status"] in ("queued", "running")
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_weat_listing_needs_no_model(client):
    status, data = get(client, "weat", WIKI)
    assert status == 200 and [t["name"] for t in data["tests"]] == [f"weat{i}" for i in range(1, 11)]
    assert (
        data["tests"][0]["sets"]["x"]["name"] == "Flowers"
        and len(data["tests"][0]["sets"]["x"]["words"]) == 25
    )


def test_weat_builtin_test_is_the_librarys_and_cached(client):
    kv = wiki_word2vec().wv
    status, data = poll(client, WIKI + [("test", "weat8"), ("wait", "0")])
    assert status == 200 and data["status"] == "done"
    expected = weat.run_builtin(kv, "weat8").to_json()
    for field in ("effect_size", "p_value", "exact", "splits", "targets", "missing", "sets", "source"):
        assert data[field] == expected[field], field
    assert data["splits"] == 12_870 and data["exact"] is True
    status, again = get(client, "weat", WIKI + [("test", "weat8")])
    assert status == 200 and again["cached"] is True and again["p_value"] == data["p_value"]


def test_weat_answers_202_while_running(client):
    """wait=0 on sampled work (25-word sets) never asked before answers 202 at once, then 200."""
    kv = wiki_word2vec().wv
    words = kv.index_to_key[100:200]
    sets = {"x": words[0:25], "y": words[25:50], "a": words[50:75], "b": words[75:100]}
    lists = [(key, w) for key, ws in sets.items() for w in ws]
    status, data = get(client, "weat", WIKI + lists + [("wait", "0")])
    assert status == 202 and data["status"] in ("queued", "running") and "progress" in data
    status, data = poll(client, WIKI + lists)
    expected = weat.weat(kv, sets["x"], sets["y"], sets["a"], sets["b"])
    assert status == 200 and data["test"] is None and data["exact"] is False
    assert data["splits"] == 100_000 and data["seed"] == weat.DEFAULT_SEED
    assert data["effect_size"] == pytest.approx(expected.effect_size) and data["p_value"] == expected.p_value


def test_weat_all_builtin_tests(client):
    status, data = poll(client, WIKI + [("test", "all")])
    assert status == 200 and [t["test"] for t in data["tests"]] == [f"weat{i}" for i in range(1, 11)]
    kv = wiki_word2vec().wv
    for row in data["tests"]:
        if "error" in row:
            assert row["set"] in ("x", "y", "a", "b")
        else:
            assert row["effect_size"] == pytest.approx(weat.run_builtin(kv, row["test"]).effect_size)


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (WIKI + [("test", "weat11")], 404, "unknown WEAT test 'weat11'"),
        (WIKI + [("test", "weat1"), ("x", "rose")], 400, "either test or the four word lists"),
        (WIKI + [("x", "rose"), ("y", "ant"), ("a", "love")], 400, "missing list 'b'"),
        (WIKI + [("test", "weat9")], 404, "target set X (Mental disease) has"),
        ([("run", "."), ("model", "nope")], 404, "unknown model"),
    ],
)
def test_weat_errors(client, params, status, needle):
    got, data = poll(client, params)
    assert got == status and needle in data["error"], data
    if "unknown WEAT" in needle:
        assert data["known_tests"][0] == "weat1"


def test_drift_cache_follows_the_file_version(tmp_path):
    """A model file replaced on disk is a new version: its drift is computed afresh."""
    run = tmp_path / "r"
    run.mkdir()
    train_word2vec(seed=1, epochs=3).save(str(run / "a.model"))
    train_word2vec(seed=2, epochs=3).save(str(run / "b.model"))
    client, _plugin = make_client(str(tmp_path), cache_dir=str(tmp_path / "cache"), reload_interval=0)
    params = [("run", "r"), ("model", "a.model"), ("model2", "b.model"), ("word", "police")]
    _, first = get(client, "drift", params)
    _, second = get(client, "drift", params)
    assert (first["cached"], second["cached"]) == (False, True)
    time.sleep(0.01)
    train_word2vec(seed=9, epochs=3).save(str(run / "b.tmp"))
    os.replace(run / "b.tmp", run / "b.model")
    _, third = get(client, "drift", params)
    assert third["cached"] is False and third["words"][0]["drift"] != first["words"][0]["drift"]
