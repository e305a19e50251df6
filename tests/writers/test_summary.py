"""log_model and the gensim training callback, read back by TensorBoard and by the Word2Vec plugin."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from fixtures import assert_neighbors_match, train_word2vec, w2v_client, w2v_get
from gensim.models import FastText, Word2Vec
from gensim.test.utils import common_texts
from tensorboard.backend.event_processing import event_accumulator

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import fileio, manifest
from tensorboard_plugin_w2v.writers import summary


def manifest_entries(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, md.MANIFEST_PATH), encoding="utf-8") as f:
        data = json.load(f)
    assert data["version"] == md.MANIFEST_VERSION
    return data["models"]


def scalars(run_dir, tag: str) -> list[tuple[int, float]]:
    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={event_accumulator.TENSORS: 0})
    acc.Reload()
    return [(e.step, float(np.asarray(e.tensor_proto.float_val[0]))) for e in acc.Tensors(tag)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A Word2Vec model trained on the Lee corpus with the callback: loss every epoch, snapshots every 2."""
    run = tmp_path_factory.mktemp("logs") / "lee"
    callback = summary.TrainingLogger(str(run), name="lee", snapshot_every=2)
    model = train_word2vec(epochs=5, compute_loss=True, callbacks=[callback])
    return run, model, callback


def test_log_model_saves_inside_the_plugin_folder_and_lists_it(tmp_path, lee_model):
    run = tmp_path / "run1"
    path = summary.log_model(str(run), lee_model)
    assert path.startswith(str(run / md.PLUGIN_DIR) + os.sep) and os.path.isfile(path)
    assert [f for f in os.listdir(run) if f != "plugins"] == []  # nothing for the file sniffer to list twice
    (entry,) = manifest_entries(run)
    assert entry["name"] == "word2vec" and entry["step"] is None
    assert entry["format"] == md.FORMAT_GENSIM_WORD2VEC and isinstance(entry["wall_time"], float)
    assert os.path.join(run, *entry["path"].split("/")) == path
    client = w2v_client(str(tmp_path))
    rows = w2v_get(client, "/models")["models"]
    assert [(r["run"], r["model"], r["source"], r["error"]) for r in rows] == [
        ("run1", "word2vec", "manifest", None)
    ]
    assert_neighbors_match(client, "run1", "word2vec", lee_model.wv, "government")
    (row,) = w2v_get(client, "/models")["models"]
    assert row["training"]["vector_size"] == 32  # the whole model was saved, training parameters too


def test_a_logged_model_gets_the_modes_of_every_atomic_write(tmp_path, lee_model):
    """Flushed, and readable as the umask allows (others' TensorBoards share the logdir), not
    with the 0700 of the temporary folder it was written in."""
    path = summary.log_model(str(tmp_path / "run"), lee_model.wv, name="shared", step=1)
    folder = os.path.dirname(path)
    assert oct(os.stat(folder).st_mode & 0o777) == oct(fileio.FOLDER_MODE) != oct(0o700)
    files = os.listdir(folder)
    assert files == [os.path.basename(path)]
    assert oct(os.stat(path).st_mode & 0o777) == oct(fileio.FILE_MODE)


def test_each_step_is_a_version_and_appears_without_a_restart(tmp_path):
    run = str(tmp_path / "run")
    client = w2v_client(str(tmp_path))
    models = {}
    for step in (1, 2, 3):
        models[step] = train_word2vec(epochs=step)
        summary.log_model(run, models[step], name="lee", step=step)
        (row,) = w2v_get(client, "/models")["models"]
        assert row["steps"] == list(range(1, step + 1))
    for step, model in models.items():
        assert_neighbors_match(client, "run", "lee", model.wv, "police", step=step)


def test_logging_a_step_again_replaces_it_and_its_files(tmp_path, lee_model):
    run = str(tmp_path / "run")
    first = summary.log_model(run, lee_model.wv, name="v", step=7)
    second = summary.log_model(run, lee_model.wv, name="v", step=7)
    summary.log_model(run, lee_model.wv, name="v", step=8)
    assert not os.path.exists(os.path.dirname(first)) and os.path.exists(second)
    assert [(e["name"], e["step"]) for e in manifest_entries(run)] == [("v", 7), ("v", 8)]
    models = os.path.join(run, *summary.MODELS_DIR.split("/"))
    assert len(os.listdir(models)) == 2  # no temporary folders left behind


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: train_word2vec(epochs=1), md.FORMAT_GENSIM_WORD2VEC),
        (lambda: train_word2vec(epochs=1).wv, md.FORMAT_GENSIM_KEYEDVECTORS),
        (
            lambda: FastText(common_texts, vector_size=8, min_count=1, bucket=500, seed=1, workers=1),
            md.FORMAT_GENSIM_FASTTEXT,
        ),
    ],
)
def test_log_model_formats_are_read_by_the_plugin(tmp_path, make, fmt):
    model = make()
    summary.log_model(str(tmp_path / "run"), model, name="m", step=1)
    (row,) = w2v_get(w2v_client(str(tmp_path)), "/models")["models"]
    assert (row["format"], row["error"]) == (fmt, None)
    kv = model if fmt == md.FORMAT_GENSIM_KEYEDVECTORS else model.wv
    word = kv.index_to_key[0]
    assert_neighbors_match(w2v_client(str(tmp_path)), "run", "m", kv, word)


def test_concurrent_writers_keep_every_entry(tmp_path, lee_model):
    run = str(tmp_path / "run")
    threads = [
        threading.Thread(
            target=summary.log_model, args=(run, lee_model.wv), kwargs={"name": f"m{i}", "step": i}
        )
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e["step"] for e in manifest_entries(run)) == list(range(6))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "not a model"}, TypeError, "expected a gensim"),
        ({"model": Word2Vec(vector_size=4)}, ValueError, "no vocabulary"),
        ({"step": 1.5}, TypeError, "step must be an int"),
        ({"name": "  "}, ValueError, "name must not be empty"),
        ({"logdir": "s3://bucket/run"}, ValueError, "local directories only"),
    ],
)
def test_log_model_refuses_bad_input(tmp_path, lee_model, kwargs, error, match):
    args = {"logdir": str(tmp_path / "run"), "model": lee_model.wv, **kwargs}
    with pytest.raises(error, match=match):
        summary.log_model(**args)


def test_a_corrupt_manifest_is_reported_not_overwritten(tmp_path, lee_model):
    path = tmp_path / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(manifest.ManifestError, match="manifest.json: the manifest is unreadable"):
        summary.log_model(str(tmp_path), lee_model.wv)
    assert path.read_text() == "{not json"


def test_callback_logs_the_loss_of_each_epoch(trained_run):
    run, _model, callback = trained_run
    logged = scalars(run, "lee/loss")
    assert [step for step, _ in logged] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([loss for _, loss in logged], callback.losses, rtol=1e-6)
    assert all(loss > 0 for loss in callback.losses)
    # gensim's own loss is cumulative: the logged values add up to it.
    cumulative = train_word2vec(epochs=5, compute_loss=True).get_latest_training_loss()
    assert sum(callback.losses) == pytest.approx(cumulative, rel=1e-6)


def test_callback_snapshots_every_n_epochs_and_the_last(trained_run):
    run, model, _ = trained_run
    assert [(e["name"], e["step"]) for e in manifest_entries(run)] == [("lee", 2), ("lee", 4), ("lee", 5)]
    client = w2v_client(str(run.parent))
    (row,) = w2v_get(client, "/models")["models"]
    assert row["steps"] == [2, 4, 5] and row["step"] == 5
    assert_neighbors_match(client, "lee", "lee", model.wv, "government", step=5)
    early = Word2Vec.load(os.path.join(run, *manifest_entries(run)[0]["path"].split("/")))
    assert_neighbors_match(client, "lee", "lee", early.wv, "government", step=2)
    assert early.wv.most_similar("government") != model.wv.most_similar("government")


def test_callback_steps_continue_across_train_calls(tmp_path):
    callback = summary.TrainingLogger(str(tmp_path), name="m", snapshot_every=None)
    model = Word2Vec(
        common_texts, vector_size=8, min_count=1, workers=1, epochs=2, compute_loss=True, callbacks=[callback]
    )
    model.train(
        common_texts, total_examples=model.corpus_count, epochs=2, compute_loss=True, callbacks=[callback]
    )
    assert [step for step, _ in scalars(tmp_path, "m/loss")] == [1, 2, 3, 4]
    assert [e["step"] for e in manifest_entries(tmp_path)] == [2, 4]  # snapshot_at_end only


def test_callback_warns_without_compute_loss(tmp_path):
    callback = summary.TrainingLogger(str(tmp_path), snapshot_every=None, snapshot_at_end=False)
    with pytest.warns(UserWarning, match="compute_loss=True"):
        Word2Vec(common_texts, vector_size=8, min_count=1, workers=1, epochs=1, callbacks=[callback])
    assert callback.losses == [] and not os.path.exists(tmp_path / md.MANIFEST_PATH)


def test_callback_refuses_a_bad_interval(tmp_path):
    with pytest.raises(ValueError, match="snapshot_every"):
        summary.TrainingLogger(str(tmp_path), snapshot_every=0)


def test_log_model_refuses_a_manifest_of_a_newer_version(tmp_path, lee_model):
    path = tmp_path / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    newer = json.dumps({"version": 2, "models": [{"name": "future", "step": 1}]})
    path.write_text(newer)
    with pytest.raises(manifest.ManifestTooNew, match="written by a newer version of tensorboard-plugin-w2v"):
        summary.log_model(str(tmp_path), lee_model.wv, name="w2v", step=1)
    assert path.read_text() == newer
    assert not (tmp_path / summary.MODELS_DIR).exists()  # nothing was saved for it either
    with pytest.raises(manifest.ManifestTooNew):
        manifest.add_entry(str(tmp_path), name="w2v", path="x.kv", step=1)
    assert path.read_text() == newer
