"""Projector export, read back through TensorBoard's real Projector plugin and the Word2Vec plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from fixtures import (
    REPO,
    assert_neighbors_match,
    projector_client,
    projector_embedding,
    projector_runs,
    w2v_client,
    w2v_get,
)
from gensim.models import KeyedVectors, Word2Vec
from gensim.test.utils import common_texts

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import NotFound
from tensorboard_plugin_w2v.writers import projector

ODD_WORDS = ["", "tab\tword", "new\nline", "carriage\rreturn", "   ", "\ufeff"]


def _visible(folder: str) -> list[str]:
    return sorted(f for f in os.listdir(folder) if not f.startswith("."))


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_model() -> Word2Vec:
    """A real model whose vocabulary holds an empty word, a word with a tab, and other odd words."""
    sentences = [s + ODD_WORDS for s in common_texts] * 3
    return Word2Vec(sentences, vector_size=12, min_count=1, seed=3, workers=1, epochs=5)


# -- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "label"),
    [
        ("king", "king"),
        ("", "<Empty Line>"),
        (" \t ", "<Empty Line>"),
        ("\ufeff", "<Empty Line>"),
        ("new\tyork", "new\u2409york"),
        ("a\nb", "a\u2424b"),
        ("a\r\nb", "a\u240d\u2424b"),
        (" spaced ", " spaced "),
        (42, "42"),
    ],
)
def test_clean_label(word, label):
    assert projector.clean_label(word) == label


def test_write_metadata_rows_follow_indices(tmp_path):
    path = tmp_path / "meta.tsv"
    projector.write_metadata({"b": 2, "_PAD": 0, "": 1, "c\td": 3}, str(path))
    assert path.read_text(encoding="utf-8") == "_PAD\n<Empty Line>\nb\nc\u2409d\n"
    projector.write_metadata(["x", "y"], str(path))
    assert path.read_text(encoding="utf-8") == "x\ny\n"
    projector.write_metadata({"one": 1, "three": 3}, str(path))
    assert path.read_text(encoding="utf-8").split("\n") == ["<unused>", "one", "<unused>", "three", ""]


@pytest.mark.parametrize("mapping", [{"a": 0, "b": 0}, {"a": -1}, {"a": "1"}])
def test_write_metadata_refuses_bad_indices(tmp_path, mapping):
    with pytest.raises(ValueError):
        projector.write_metadata(mapping, str(tmp_path / "meta.tsv"))


# -- export read back by TensorBoard's Projector ------------------------------------------------


def test_export_model_is_read_by_the_projector_row_by_row(tmp_path, odd_model):
    logdir = str(tmp_path)
    export = projector.export_model(odd_model, os.path.join(logdir, "odd"), name="odd words")
    assert export.raw and export.shape == (len(odd_model.wv), 12)
    client = projector_client(logdir)
    assert projector_runs(client) == ["odd"]
    values, labels = projector_embedding(client, "odd", "odd words")
    kv = odd_model.wv
    for row, word in enumerate(kv.index_to_key):
        assert labels[row] == projector.clean_label(word)
        np.testing.assert_array_equal(values[row], kv.vectors[row])
    assert "<Empty Line>" in labels and "tab\u2409word" in labels


def test_asset_paths_stay_inside_the_config_directory(tmp_path, lee_model):
    export = projector.export_model(lee_model, str(tmp_path / "run"))
    text = open(export.config_path, encoding="utf-8").read()
    for path in (export.tensor_path, export.metadata_path):
        rel = os.path.relpath(path, tmp_path / "run").replace(os.sep, "/")
        assert f'"{rel}"' in text and not rel.startswith("..")
        assert rel.startswith(f"{md.PLUGIN_DIR}/")


@pytest.mark.parametrize(
    "vectors",
    [
        pytest.param(np.zeros((5, 4), dtype=np.float32), id="all-zero"),
        pytest.param(np.frombuffer(b"word" * 24, dtype="<f4").reshape(6, 4), id="bytes-are-ascii"),
        pytest.param(np.full((3, 4), np.float32(2.0)), id="twos"),
    ],
)
def test_tensors_whose_bytes_are_utf8_are_written_as_tsv(tmp_path, vectors):
    assert bytes(vectors.astype("<f4").tobytes()).decode("utf-8")  # the Projector would read these as text
    labels = [f"w{i}" for i in range(len(vectors))]
    export = projector.export_embedding(vectors, labels, str(tmp_path / "run"), "t")
    assert not export.raw and export.tensor_path.endswith(".tsv")
    values, served = projector_embedding(projector_client(str(tmp_path)), "run", "t")
    np.testing.assert_array_equal(values, vectors)
    assert served == labels


def test_random_vectors_are_written_raw(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    export = projector.export_embedding(vectors, [str(i) for i in range(50)], str(tmp_path / "r"), "t")
    assert export.raw and os.path.getsize(export.tensor_path) == vectors.nbytes


def test_second_export_replaces_the_first_cleanly(tmp_path, lee_model):
    run = str(tmp_path / "run")
    first = projector.export_model(lee_model, run, name="first")
    projector.export_subset(lee_model.wv, ["the", "of"], run, "subset")
    second = projector.export_model(lee_model, run, name="second", limit=100)
    assert not os.path.exists(os.path.dirname(first.tensor_path))
    assets = os.path.join(run, *projector.ASSETS_DIR.split("/"))
    assert _visible(assets) == [os.path.basename(os.path.dirname(second.tensor_path))]
    assert sorted(os.listdir(os.path.dirname(second.tensor_path))) == ["metadata.tsv", "tensor.bytes"]
    client = projector_client(str(tmp_path))
    info = client.get("/data/plugin/projector/info", query_string={"run": "run"}).get_json()
    assert [e["tensorName"] for e in info["embeddings"]] == ["second"]
    values, labels = projector_embedding(client, "run", "second")
    assert labels == lee_model.wv.index_to_key[:100]
    np.testing.assert_array_equal(values, lee_model.wv.vectors[:100])
    assert len([f for f in os.listdir(run) if "tfevents" in f]) == 1


def test_export_keeps_embeddings_of_other_tools(tmp_path, lee_model):
    run = tmp_path / "run"
    run.mkdir()
    (run / "other.tsv").write_text("1\t2\n3\t4\n")
    (run / md.PROJECTOR_CONFIG_NAME).write_text(
        'embeddings {\n tensor_name: "other"\n tensor_path: "other.tsv"\n}\n'
    )
    projector.export_model(lee_model, str(run), name="lee")
    client = projector_client(str(tmp_path))
    info = client.get("/data/plugin/projector/info", query_string={"run": "run"}).get_json()
    assert sorted(e["tensorName"] for e in info["embeddings"]) == ["lee", "other"]


def test_export_subset_adds_and_replaces_one_embedding(tmp_path, lee_model):
    kv = lee_model.wv
    run = str(tmp_path / "run")
    projector.export_model(lee_model, run, name="lee")
    words = [w for w, _ in kv.most_similar("government", topn=20)]
    projector.export_subset(kv, ["government", *words], run, "near government")
    projector.export_subset(kv, ["police", "police", "man"], run, "police")
    replaced = projector.export_subset(kv, ["police", "man", "people"], run, "police")
    client = projector_client(str(tmp_path))
    info = client.get("/data/plugin/projector/info", query_string={"run": "run"}).get_json()
    assert sorted(e["tensorName"] for e in info["embeddings"]) == ["lee", "near government", "police"]
    values, labels = projector_embedding(client, "run", "near government")
    assert labels == ["government", *words]
    np.testing.assert_array_equal(values, np.stack([kv[w] for w in labels]))
    values, labels = projector_embedding(client, "run", "police")
    assert labels == ["police", "man", "people"] and replaced.shape == (3, 32)
    assets = os.path.join(run, *projector.ASSETS_DIR.split("/"))
    assert len(_visible(assets)) == 3  # the replaced "police" folder is gone


def test_export_subset_refuses_unknown_words_and_broken_configs(tmp_path, lee_model):
    run = tmp_path / "run"
    with pytest.raises(NotFound) as err:
        projector.export_subset(lee_model.wv, ["the", "govermnent"], str(run), "x")
    assert err.value.details["word"] == "govermnent" and err.value.details["suggestions"]
    run.mkdir(exist_ok=True)
    (run / md.PROJECTOR_CONFIG_NAME).write_text("embeddings { nonsense")
    with pytest.raises(ValueError, match="projector_config.pbtxt is unreadable"):
        projector.export_subset(lee_model.wv, ["the"], str(run), "x")
    projector.export_model(lee_model, str(run))  # a whole export replaces the broken config
    assert projector_runs(projector_client(str(tmp_path))) == ["run"]


def test_projector_tsvs_for_the_load_dialog(lee_model):
    kv = lee_model.wv
    tensor, meta = projector.projector_tsvs(kv, ["the", "of", "and"])
    assert meta == "the\nof\nand\n"
    rows = [[np.float32(x) for x in line.split("\t")] for line in tensor.splitlines()]
    np.testing.assert_array_equal(
        np.array(rows, dtype=np.float32), np.stack([kv[w] for w in ("the", "of", "and")])
    )
    tensor, meta = projector.projector_tsvs(lee_model, limit=10)
    assert len(tensor.splitlines()) == 10 and meta.splitlines() == kv.index_to_key[:10]


def test_limit_keeps_the_most_frequent_words(tmp_path):
    kv = KeyedVectors(3, count=0)
    kv.add_vectors(["rare", "common", "medium"], np.eye(3, dtype=np.float32))
    for word, count in (("rare", 1), ("common", 50), ("medium", 5)):
        kv.set_vecattr(word, "count", count)
    export = projector.export_model(kv, str(tmp_path / "r"), limit=2)
    assert open(export.metadata_path, encoding="utf-8").read() == "common\nmedium\n"


@pytest.mark.parametrize(
    ("vectors", "labels", "message"),
    [
        (np.zeros((0, 3)), [], "non-empty"),
        (np.zeros(3), ["a"], "2-D"),
        (np.ones((2, 3)), ["a"], "1 labels for 2 rows"),
    ],
)
def test_export_embedding_refuses_bad_input(tmp_path, vectors, labels, message):
    with pytest.raises(ValueError, match=message):
        projector.export_embedding(vectors, labels, str(tmp_path / "r"), "t")


def test_word2vec_plugin_lists_and_queries_the_export(tmp_path, lee_model):
    projector.export_model(lee_model, str(tmp_path / "exported"), name="lee")
    client = w2v_client(str(tmp_path))
    rows = w2v_get(client, "/models")["models"]
    assert [(r["run"], r["model"], r["format"], r["error"]) for r in rows] == [
        ("exported", "lee", md.FORMAT_PROJECTOR_RAW, None)
    ]
    for word in ("government", "police"):
        assert_neighbors_match(client, "exported", "lee", lee_model.wv, word)


def test_writers_work_without_tensorflow(tmp_path):
    """projector, summary and the CLI never import TensorFlow, even where it is installed."""
    script = textwrap.dedent(
        f"""
        import sys

        class NoTensorFlow:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ImportError("TensorFlow is blocked in this test")

        sys.meta_path.insert(0, NoTensorFlow())
        from gensim.models import Word2Vec
        from gensim.test.utils import common_texts
        from tensorboard_plugin_w2v.writers import projector
        from tensorboard_plugin_w2v.writers import summary
        from tensorboard_plugin_w2v.cli import visualizer
        from tensorboard_plugin_w2v.server import plugin
        model = Word2Vec(common_texts, vector_size=8, min_count=1, workers=1, compute_loss=True,
                         callbacks=[summary.TrainingLogger({str(tmp_path)!r}, snapshot_every=2)])
        projector.export_model(model, {str(tmp_path)!r})
        summary.log_model({str(tmp_path)!r}, model, name="final")
        assert "tensorflow" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    entries = json.load(open(tmp_path / md.MANIFEST_PATH))["models"]
    assert [(e["name"], e["step"]) for e in entries] == [
        ("word2vec", 2),
        ("word2vec", 4),
        ("word2vec", 5),
        ("final", None),
    ]


def test_concurrent_subset_exports_keep_every_embedding(tmp_path, lee_model):
    run = str(tmp_path / "run")
    words = lee_model.wv.index_to_key
    threads = [
        threading.Thread(target=projector.export_subset, args=(lee_model.wv, words[i : i + 5], run, f"s{i}"))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = projector_client(str(tmp_path))
    info = client.get("/data/plugin/projector/info", query_string={"run": "run"}).get_json()
    assert sorted(e["tensorName"] for e in info["embeddings"]) == [f"s{i}" for i in range(6)]
    for i in range(6):
        assert projector_embedding(client, "run", f"s{i}")[1] == words[i : i + 5]


def test_leftovers_of_an_interrupted_export_are_removed(tmp_path, lee_model):
    run = tmp_path / "run"
    leftover = run / projector.ASSETS_DIR / ".tmp-lee-deadbeef"
    leftover.mkdir(parents=True)
    (leftover / "tensor.bytes").write_bytes(b"\0" * 10)
    projector.export_model(lee_model, str(run))
    assert not leftover.exists()
