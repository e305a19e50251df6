"""Keras 3 helpers: the embedding matrix and layer, a real classifier on top, and the Projector callback."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fixtures import (
    assert_neighbors_match,
    projector_client,
    projector_embedding,
    w2v_client,
    w2v_get,
)
from gensim.models import FastText, KeyedVectors
from gensim.models.word2vec import LineSentence
from gensim.test.utils import common_texts

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.writers import projector

keras = pytest.importorskip("keras")
w2v_keras = pytest.importorskip("tensorboard_plugin_w2v.writers.keras")

LEE = "lee_background.cor"


@pytest.fixture(scope="module")
def lee_docs() -> list[list[str]]:
    from gensim.test.utils import datapath

    return list(LineSentence(datapath(LEE)))


def check_matrix(kv: KeyedVectors, word2idx: dict, matrix: np.ndarray) -> None:
    assert word2idx["_PAD"] == 0 and matrix.dtype == np.float32
    assert matrix.shape == (len(kv.index_to_key) + 1, kv.vector_size)
    assert not matrix[0].any()
    for i, word in enumerate(kv.index_to_key):
        assert word2idx[word] == i + 1
    np.testing.assert_array_equal(matrix[1:], kv.vectors)


def test_embedding_matrix_from_models_and_paths(tmp_path, lee_model):
    check_matrix(lee_model.wv, *w2v_keras.embedding_matrix(lee_model))
    check_matrix(lee_model.wv, *w2v_keras.embedding_matrix(lee_model.wv))
    fasttext = FastText(common_texts, vector_size=8, min_count=1, bucket=500, seed=1, workers=1)
    check_matrix(fasttext.wv, *w2v_keras.embedding_matrix(fasttext))
    path = tmp_path / "vectors.bin"
    lee_model.wv.save_word2vec_format(str(path), binary=True)
    check_matrix(lee_model.wv, *w2v_keras.embedding_matrix(str(path)))
    lee_model.save(str(tmp_path / "w2v.model"))
    check_matrix(lee_model.wv, *w2v_keras.embedding_matrix(tmp_path / "w2v.model"))


def test_embedding_matrix_reports_unusable_input(tmp_path):
    from tensorboard_plugin_w2v.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="not a word2vec model"):
        (tmp_path / "notes.txt").write_text("just some notes\n")
        w2v_keras.embedding_matrix(str(tmp_path / "notes.txt"))
    with pytest.raises(ModelLoadError, match="file not found"):
        w2v_keras.embedding_matrix(str(tmp_path / "missing.bin"))
    kv = KeyedVectors(2, count=0)
    kv.add_vectors(["_PAD", "a"], np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="clash"):
        w2v_keras.embedding_matrix(kv)


WORD2IDX = {"_PAD": 0, "the": 1, "king": 2, "queen": 3}


@pytest.mark.parametrize(
    ("texts", "kwargs", "expected"),
    [
        (["the king", "queen"], {}, [[1, 2], [0, 3]]),
        (["the king", "queen"], {"padding": "post"}, [[1, 2], [3, 0]]),
        (["the king queen"], {"maxlen": 2}, [[2, 3]]),
        (["the king queen"], {"maxlen": 2, "truncating": "post"}, [[1, 2]]),
        (["the jester king"], {}, [[1, 0, 2]]),
        (["the jester king"], {"unknown_id": None}, [[1, 2]]),
        (["the jester king"], {"unknown_id": None, "maxlen": 3}, [[0, 1, 2]]),
        ([["the", "king"]], {"maxlen": 3}, [[0, 1, 2]]),
        (["The KING"], {"tokenize": lambda t: t.lower().split()}, [[1, 2]]),
        ([""], {"maxlen": 2}, [[0, 0]]),
    ],
)
def test_texts_to_ids(texts, kwargs, expected):
    ids = w2v_keras.texts_to_ids(texts, WORD2IDX, **kwargs)
    assert ids.dtype == np.int32 and ids.tolist() == expected


def test_write_metadata_is_the_projector_implementation(tmp_path, lee_model):
    assert w2v_keras.write_metadata is projector.write_metadata
    word2idx, matrix = w2v_keras.embedding_matrix(lee_model)
    path = tmp_path / "metadata.tsv"
    w2v_keras.write_metadata(word2idx, str(path))
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == len(matrix) and lines[0] == "_PAD" and lines[1:] == lee_model.wv.index_to_key


def test_embedding_layer_holds_the_matrix(lee_model):
    word2idx, matrix = w2v_keras.embedding_matrix(lee_model)
    layer = w2v_keras.embedding_layer(lee_model, mask_zero=True, name="w2v")
    assert isinstance(layer, keras.layers.Embedding) and not layer.trainable and layer.name == "w2v"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.embeddings), matrix)
    ids = w2v_keras.texts_to_ids(["the police said", "police"], word2idx)
    out = keras.ops.convert_to_numpy(layer(ids))
    np.testing.assert_array_equal(out[1, -1], lee_model.wv["police"])
    assert keras.ops.convert_to_numpy(layer.compute_mask(ids)).tolist() == (ids != 0).tolist()
    assert w2v_keras.embedding_layer(matrix, trainable=True).trainable


def _classifier(layer) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _task(lee_docs, kv, word2idx, seed: int, n: int = 300):
    """Real text (12-word windows of the Lee corpus) against 12 vocabulary words drawn at random."""
    rng = np.random.default_rng(seed)
    windows = [doc[i : i + 12] for doc in lee_docs for i in range(0, len(doc) - 12, 12)]
    real = [windows[i] for i in rng.choice(len(windows), n, replace=False)]
    fake = [list(rng.choice(kv.index_to_key, 12)) for _ in range(n)]
    x = w2v_keras.texts_to_ids(real + fake, word2idx, maxlen=12)
    y = np.array([1.0] * n + [0.0] * n, dtype=np.float32)
    order = rng.permutation(2 * n)
    return x[order], y[order]


def test_a_text_classifier_trains_on_frozen_word2vec_vectors(lee_model, lee_docs):
    keras.utils.set_random_seed(1)
    word2idx, matrix = w2v_keras.embedding_matrix(lee_model)
    layer = w2v_keras.embedding_layer(matrix, mask_zero=True)
    model = _classifier(layer)
    x, y = _task(lee_docs, lee_model.wv, word2idx, seed=1)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    x_test, y_test = _task(lee_docs, lee_model.wv, word2idx, seed=2, n=100)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.85
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.embeddings), matrix)  # frozen


def test_projector_callback_shows_fine_tuned_embeddings(tmp_path, lee_model, lee_docs):
    keras.utils.set_random_seed(2)
    run = str(tmp_path / "keras")
    word2idx, matrix = w2v_keras.embedding_matrix(lee_model)
    layer = w2v_keras.embedding_layer(matrix, trainable=True, name="w2v")
    model = _classifier(layer)
    x, y = _task(lee_docs, lee_model.wv, word2idx, seed=3)
    callback = w2v_keras.ProjectorCallback(run, word2idx, every=1)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[callback])
    tuned = keras.ops.convert_to_numpy(layer.embeddings)
    assert not np.array_equal(tuned, matrix)
    # The standard Projector shows each epoch, words as labels, values as trained.
    client = projector_client(str(tmp_path))
    assert "keras" in client.get("/data/plugin/projector/runs").get_json()
    values, labels = projector_embedding(client, "keras", "w2v (epoch 2)")
    np.testing.assert_array_equal(values, tuned)
    assert labels[0] == "_PAD" and labels[1:] == [projector.clean_label(w) for w in lee_model.wv.index_to_key]
    values, _ = projector_embedding(client, "keras", "w2v (epoch 1)")
    assert values.shape == tuned.shape
    # The Word2Vec tab lists each epoch as a step and answers as gensim would.
    wclient = w2v_client(str(tmp_path))
    (row,) = [r for r in w2v_get(wclient, "/models")["models"] if r["source"] == "manifest"]
    assert (row["model"], row["steps"], row["error"]) == ("w2v", [1, 2], None)
    kv = KeyedVectors(tuned.shape[1], count=0)
    kv.add_vectors(lee_model.wv.index_to_key, tuned[1:])
    assert_neighbors_match(wclient, "keras", "w2v", kv, "police", step=2)


def test_projector_callback_every_n_epochs_and_without_registering(tmp_path, lee_model):
    word2idx, matrix = w2v_keras.embedding_matrix(lee_model)
    model = _classifier(w2v_keras.embedding_layer(matrix, trainable=True, name="emb"))
    x = np.ones((8, 5), dtype=np.int32)
    y = np.ones(8, dtype=np.float32)
    callback = w2v_keras.ProjectorCallback(
        str(tmp_path), list(word2idx), every=2, register=False, name="tuned"
    )
    model.fit(x, y, epochs=4, verbose=0, callbacks=[callback])
    assert [e.tensor_name for e in callback.exports] == ["tuned (epoch 2)", "tuned (epoch 4)"]
    assert not os.path.exists(tmp_path / md.MANIFEST_PATH)


def test_projector_callback_checks_the_layer_before_training(tmp_path, lee_model):
    _, matrix = w2v_keras.embedding_matrix(lee_model)
    model = _classifier(w2v_keras.embedding_layer(matrix))
    x, y = np.ones((4, 3), dtype=np.int32), np.ones(4, dtype=np.float32)
    with pytest.raises(ValueError, match="rows but 3 words"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[w2v_keras.ProjectorCallback(str(tmp_path), ["a", "b", "c"])]
        )
    with pytest.raises(ValueError, match="not an Embedding"):
        callback = w2v_keras.ProjectorCallback(str(tmp_path), ["a"], layer=model.layers[-1].name)
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    with pytest.raises(ValueError, match="every"):
        w2v_keras.ProjectorCallback(str(tmp_path), ["a"], every=0)
