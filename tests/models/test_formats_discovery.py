"""Discovery reads only headers and manifests, and finds every supported format."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fixtures import write_manifest
from gensim.test.utils import datapath

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.io import formats
from tensorboard_plugin_w2v.models.discovery import Discovery, run_name


@pytest.mark.parametrize(
    "name, fmt, dim, vocab",
    [
        ("euclidean_vectors.bin", md.FORMAT_WORD2VEC_BINARY, 10, 2747),
        ("lee_fasttext.vec", md.FORMAT_FASTTEXT_VEC, 10, 1762),
        ("word2vec_pre_kv_c", md.FORMAT_WORD2VEC_TEXT, 10, 1750),
        ("high_precision.kv.bin", md.FORMAT_WORD2VEC_BINARY, 2, 2),
        ("test_glove.txt", md.FORMAT_GLOVE_TEXT, 50, None),
        ("crime-and-punishment.bin", md.FORMAT_FASTTEXT_BIN, 5, 291),
        ("model-from-gensim-3.8.0.w2v", md.FORMAT_GENSIM_WORD2VEC, None, None),
    ],
)
def test_sniff_bundled_files(name, fmt, dim, vocab):
    header = formats.sniff(datapath(name))
    assert header is not None and header.format == fmt
    assert header.dim == dim and header.vocab_size == vocab


@pytest.mark.parametrize(
    "name", ["questions-words.txt", "wordsim353.tsv", "lee_background.cor", "testcorpus.mm"]
)
def test_sniff_rejects_non_models(name):
    assert formats.sniff(datapath(name)) is None


def test_sniff_gensim_native(tmp_path, lee_model, fasttext_model):
    lee_model.save(str(tmp_path / "a.model"))
    lee_model.wv.save(str(tmp_path / "b.kv"))
    fasttext_model.save(str(tmp_path / "c.model"))
    assert formats.sniff(str(tmp_path / "a.model")).format == md.FORMAT_GENSIM_WORD2VEC
    assert formats.sniff(str(tmp_path / "b.kv")).format == md.FORMAT_GENSIM_KEYEDVECTORS
    assert formats.sniff(str(tmp_path / "c.model")).format == md.FORMAT_GENSIM_FASTTEXT
    header = formats.sniff(str(tmp_path / "a.model"))
    assert header.dim == lee_model.vector_size
    # Training parameters are read from the pickle's opcodes without unpickling anything.
    for key in ("sg", "window", "negative", "epochs", "min_count", "corpus_total_words"):
        assert header.training[key] == getattr(lee_model, key)


def test_sniff_ignores_extension(tmp_path):
    shutil.copy(datapath("euclidean_vectors.bin"), tmp_path / "vectors.txt")
    assert formats.sniff(str(tmp_path / "vectors.txt")).format == md.FORMAT_WORD2VEC_BINARY


@pytest.mark.parametrize(
    "folder, expected", [("/l", "."), ("/l/a", "a"), ("/l/a/b", "a/b"), ("s3://b/l/x", "x")]
)
def test_run_names(folder, expected):
    logdir = "s3://b/l" if folder.startswith("s3") else "/l"
    assert run_name(logdir, folder) == expected


def test_scan_finds_every_format(logdir):
    runs = Discovery(logdir).scan()
    found = {
        (run, name): entry.version().format for run, models in runs.items() for name, entry in models.items()
    }
    assert found == {
        ("lee", "w2v.model"): md.FORMAT_GENSIM_WORD2VEC,
        ("lee", "vectors.kv"): md.FORMAT_GENSIM_KEYEDVECTORS,
        ("lee", "vectors.bin"): md.FORMAT_WORD2VEC_BINARY,
        ("lee", "vectors.txt"): md.FORMAT_WORD2VEC_TEXT,
        ("lee", "fasttext.model"): md.FORMAT_GENSIM_FASTTEXT,
        ("pretrained", "euclidean_vectors.bin"): md.FORMAT_WORD2VEC_BINARY,
        ("pretrained", "lee_fasttext.vec"): md.FORMAT_FASTTEXT_VEC,
        ("pretrained", "test_glove.txt"): md.FORMAT_GLOVE_TEXT,
        ("pretrained", "crime-and-punishment.bin"): md.FORMAT_FASTTEXT_BIN,
        ("projector", "lee"): md.FORMAT_PROJECTOR_RAW,
        ("projector_tsv", "lee"): md.FORMAT_PROJECTOR_TSV,
        ("training", "lee"): md.FORMAT_GENSIM_WORD2VEC,
        ("broken", "good.kv"): md.FORMAT_GENSIM_KEYEDVECTORS,
        ("broken", "truncated.model"): md.FORMAT_GENSIM_WORD2VEC,
    }
    assert runs["training"]["lee"].steps == [1, 2, 3]
    assert runs["training"]["lee"].version().step == 3
    # The snapshots live under plugins/word2vec/ and are listed once, through the manifest.
    assert not any("plugins" in run for run in runs)


def test_manifest_errors_are_per_entry(tmp_path, lee_model):
    run = tmp_path / "run"
    run.mkdir()
    lee_model.wv.save(str(run / "ok.kv"))
    outside = tmp_path.parent / f"outside-{os.getpid()}.kv"
    lee_model.wv.save(str(outside))
    write_manifest(
        str(run),
        [
            {"name": "ok", "path": "ok.kv", "step": 1},
            {"name": "gone", "path": "missing.kv"},
            {"name": "far", "path": str(outside)},
            {"name": "notes", "path": "notes.txt"},
        ],
    )
    (run / "notes.txt").write_text("just some notes\n")
    logdir = str(tmp_path)
    models = Discovery(logdir).scan()["run"]
    assert models["ok"].version().error is None
    assert "file not found" in models["gone"].version().error
    assert "outside the logdir" in models["far"].version().error
    assert "not a word2vec model" in models["notes"].version().error
    allowed = Discovery(logdir, allow_outside_logdir=True).scan()["run"]
    assert allowed["far"].version().error is None
    outside.unlink()


def test_invalid_manifest_json(tmp_path, lee_model):
    run = tmp_path / "run"
    (run / md.PLUGIN_DIR).mkdir(parents=True)
    (run / md.MANIFEST_PATH).write_text("{not json")
    lee_model.wv.save(str(run / "ok.kv"))
    models = Discovery(str(tmp_path)).scan()["run"]
    assert "manifest" in models[md.MANIFEST_NAME].version().error
    assert models["ok.kv"].version().error is None


def test_rescan_notices_new_changed_and_removed_files(tmp_path, lee_model):
    discovery = Discovery(str(tmp_path))
    assert discovery.scan() == {}
    lee_model.wv.save_word2vec_format(str(tmp_path / "v.txt"))
    assert discovery.scan()["."]["v.txt"].version().format == md.FORMAT_WORD2VEC_TEXT
    lee_model.wv.save_word2vec_format(str(tmp_path / "v.txt"), binary=True)
    assert discovery.scan()["."]["v.txt"].version().format == md.FORMAT_WORD2VEC_BINARY
    os.unlink(tmp_path / "v.txt")
    assert discovery.scan() == {}


def test_listing_100_models_reads_headers_only(tmp_path, lee_model):
    """Listing fills vocabulary size and dimension from headers (the benchmark times it)."""
    for i in range(100):
        run = tmp_path / f"run{i:03d}"
        run.mkdir()
        lee_model.wv.save_word2vec_format(str(run / "vectors.bin"), binary=True)
    runs = Discovery(str(tmp_path)).scan()
    assert sum(len(m) for m in runs.values()) == 100
    assert all(m["vectors.bin"].version().header.vocab_size == len(lee_model.wv) for m in runs.values())


def test_a_newer_manifest_is_listed_with_its_reason_never_read(tmp_path, lee_model):
    run = tmp_path / "run"
    run.mkdir()
    lee_model.wv.save(str(run / "kept.kv"))
    path = run / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    # What a future version might write: other fields, paths that must not be followed.
    entries = [
        {"name": "w2v", "step": 1, "uri": "kept.kv"},
        {"name": "w2v", "step": 2, "uri": "kept.kv"},
        {"name": "glove", "path": "kept.kv"},
        {"no name": True},
    ]
    path.write_text(json.dumps({"version": "2.0", "models": entries}))
    models = Discovery(str(tmp_path)).scan()["run"]
    assert sorted(models) == ["glove", "kept.kv", "w2v"]
    assert models["w2v"].steps == [1, 2]
    for version in models["w2v"].versions + models["glove"].versions:
        assert version.error.startswith("written by a newer version of tensorboard-plugin-w2v")
        assert "manifest format 2.0; this version reads format 1" in version.error
        assert version.path == str(path) and version.format is None  # the entry's path is not used
    assert models["kept.kv"].version().error is None  # files beside it are found as ever


@pytest.mark.parametrize("version", [1, "1", "1.7", None])
def test_manifests_of_this_major_version_are_read(tmp_path, lee_model, version):
    run = tmp_path / "run"
    run.mkdir()
    lee_model.wv.save(str(run / "m.kv"))
    path = run / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    data = {"models": [{"name": "m", "path": "m.kv", "step": 3, "added_later": "ignored"}]}
    path.write_text(json.dumps(data if version is None else {"version": version, **data}))
    entry = Discovery(str(tmp_path)).scan()["run"]["m"]
    assert entry.steps == [3] and entry.version().error is None


@pytest.mark.parametrize("version", ["two", [2], True])
def test_a_manifest_with_a_bad_version_is_unreadable(tmp_path, version):
    path = tmp_path / "run" / md.MANIFEST_PATH
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": version, "models": []}))
    error = Discovery(str(tmp_path)).scan()["run"][md.MANIFEST_NAME].version().error
    assert "is unreadable" in error and "not a number" in error
