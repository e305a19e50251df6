"""word2vec binary/text and GloVe files converted once into a memory-mapped gensim cache."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest
from fixtures import memory_of
from gensim.models import FastText, KeyedVectors
from gensim.test.utils import common_texts, datapath

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.errors import ModelLoadError
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import convert, loading

CASES = [
    # (bundled file or fixture, format, binary, no_header)
    ("euclidean_vectors.bin", md.FORMAT_WORD2VEC_BINARY, True, False),
    ("lee_fasttext.vec", md.FORMAT_FASTTEXT_VEC, False, False),
    ("test_glove.txt", md.FORMAT_GLOVE_TEXT, False, True),
    ("lee.txt", md.FORMAT_WORD2VEC_TEXT, False, False),
]


@pytest.fixture(scope="session")
def sources(tmp_path_factory, lee_model) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("sources")
    out = {}
    for name, *_ in CASES:
        path = str(folder / name)
        if name == "lee.txt":
            lee_model.wv.save_word2vec_format(path, binary=False)
        else:
            with open(datapath(name), "rb") as fin, open(path, "wb") as fout:
                fout.write(fin.read())
        out[name] = path
    return out


@pytest.mark.parametrize("name,fmt,binary,no_header", CASES)
def test_converted_model_answers_as_the_original(tmp_path, sources, name, fmt, binary, no_header):
    source = sources[name]
    original = KeyedVectors.load_word2vec_format(source, binary=binary, no_header=no_header)
    path = convert.ensure_converted(
        source, fileio.stat(source), str(tmp_path), binary=binary, no_header=no_header
    )
    converted = KeyedVectors.load(path, mmap="r")
    assert isinstance(converted.vectors, np.memmap)
    assert converted.index_to_key == original.index_to_key
    np.testing.assert_array_equal(converted.vectors, original.vectors)
    for word in original.index_to_key[:20]:
        assert converted.most_similar(word, topn=5) == original.most_similar(word, topn=5)


def test_load_model_converts_once_then_memory_maps(tmp_path, sources, monkeypatch):
    monkeypatch.setattr(convert, "CONVERT_MIN_BYTES", 0)
    source = sources["euclidean_vectors.bin"]
    first = loading.load_model(source, cache_dir=str(tmp_path))
    assert first.format == md.FORMAT_WORD2VEC_BINARY
    assert first.counts_known is False
    assert isinstance(first.kv.vectors, np.memmap)

    def no_parse(*args, **kwargs):
        raise AssertionError("the converted copy should have been used")

    monkeypatch.setattr(KeyedVectors, "load_word2vec_format", no_parse)
    second = loading.load_model(source, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(first.kv.vectors, second.kv.vectors)
    assert len(os.listdir(tmp_path / "converted")) == 1


def _first_words(kv: KeyedVectors, n: int) -> KeyedVectors:
    out = KeyedVectors(kv.vector_size)
    out.add_vectors(kv.index_to_key[:n], kv.vectors[:n])
    return out


def test_changed_file_is_converted_again(tmp_path, lee_model):
    source = str(tmp_path / "model.txt")
    _first_words(lee_model.wv, 100).save_word2vec_format(source, binary=False)
    first = convert.ensure_converted(source, fileio.stat(source), str(tmp_path / "cache"), binary=False)
    _first_words(lee_model.wv, 50).save_word2vec_format(source, binary=False)
    os.utime(source, ns=(1, 1))
    second = convert.ensure_converted(source, fileio.stat(source), str(tmp_path / "cache"), binary=False)
    assert first != second
    assert len(KeyedVectors.load(second, mmap="r")) == 50


def test_crash_mid_conversion_leaves_nothing_trusted(tmp_path, sources, monkeypatch):
    source = sources["lee.txt"]
    identity = fileio.stat(source)

    def crash(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(KeyedVectors, "save", crash)
    with pytest.raises(OSError):
        convert.ensure_converted(source, identity, str(tmp_path), binary=False)
    assert convert.find_converted(identity, str(tmp_path), binary=False) is None
    assert os.listdir(tmp_path / "converted") == []  # the temporary folder is gone too


def test_small_files_and_no_cache_are_parsed_directly(tmp_path, sources):
    model = loading.load_model(sources["euclidean_vectors.bin"], cache_dir=str(tmp_path))
    assert not isinstance(model.kv.vectors, np.memmap)  # below CONVERT_MIN_BYTES
    assert not os.path.exists(tmp_path / "converted")


def test_progress_reads_the_open_file_position(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 10_000)
    progress = convert._ProgressLog(str(path), "data.bin")
    assert progress.position() is None
    with open(path, "rb", buffering=0) as f:
        f.read(1234)
        if os.path.isdir("/proc/self/fdinfo"):
            assert progress.position() == 1234


def test_a_large_fresh_gensim_file_is_read_into_memory_and_copied_for_the_next_load(tmp_path, lee_model, monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    logdir_file = str(tmp_path / "logdir" / "vectors.kv")
    os.makedirs(os.path.dirname(logdir_file))
    lee_model.wv.save(logdir_file, sep_limit=0)
    cache = tmp_path / "cache"
    model = loading.load_model(logdir_file, cache_dir=str(cache))
    assert not isinstance(model.kv.vectors, np.memmap)  # fresh: read, never mapped
    assert model.identity.path == logdir_file  # the index cache is keyed by the logdir file
    assert convert.wait_for_copies(60)  # written from the bytes read, in the background
    with open(logdir_file + ".vectors.npy", "r+b") as f:
        f.truncate(0)  # a training job rewriting the file in place reaches neither
    np.testing.assert_array_equal(model.kv.vectors, lee_model.wv.vectors)
    assert model.kv.most_similar("man", topn=5) == lee_model.wv.most_similar("man", topn=5)
    published = convert.private_copy_path(logdir_file, model.identity, str(cache))
    again = loading.load_model(logdir_file, cache_dir=str(cache))  # same version: the copy, mapped
    assert again.kv.vectors.filename == published + ".vectors.npy"
    np.testing.assert_array_equal(again.kv.vectors, lee_model.wv.vectors)
    assert len(os.listdir(cache / "copies")) == 1


def test_a_fresh_full_model_reads_the_word_vectors_and_leaves_the_training_arrays_out(tmp_path, lee_model, monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    path = str(tmp_path / "w2v.model")
    lee_model.save(path, sep_limit=0)
    assert os.path.exists(path + ".syn1neg.npy") and os.path.exists(path + ".wv.vectors.npy")
    model = loading.load_model(path, cache_dir=str(tmp_path / "cache"))
    assert not isinstance(model.kv.vectors, np.memmap)
    np.testing.assert_array_equal(model.kv.vectors, lee_model.wv.vectors)
    assert model.kv.most_similar("man", topn=5) == lee_model.wv.most_similar("man", topn=5)
    assert model.training["vector_size"] == lee_model.vector_size
    assert convert.wait_for_copies(60)
    copied = loading.load_model(path, cache_dir=str(tmp_path / "cache"))  # every sidecar was copied
    np.testing.assert_array_equal(copied.kv.vectors, lee_model.wv.vectors)


def test_a_fresh_fasttext_model_gets_gensims_own_fixups(tmp_path, monkeypatch):
    """Each gensim class's ``_load_specials`` still runs on the arrays read: fastText's word
    vectors are not saved, gensim rebuilds them from the n-grams."""
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    model = FastText(common_texts * 20, vector_size=16, min_count=1, epochs=2, bucket=1000, seed=1, workers=1)
    path = str(tmp_path / "ft.model")
    model.save(path, sep_limit=0)
    assert not os.path.exists(path + ".wv.vectors.npy")  # rebuilt at load time
    loaded = loading.load_model(path, cache_dir=str(tmp_path / "cache"))
    reference = FastText.load(path)
    assert not isinstance(loaded.kv.vectors_ngrams, np.memmap)
    np.testing.assert_array_equal(loaded.kv.vectors, reference.wv.vectors)
    np.testing.assert_array_equal(loaded.kv.get_vector("unseen"), reference.wv.get_vector("unseen"))
    assert loaded.kv.most_similar("human", topn=3) == reference.wv.most_similar("human", topn=3)
    assert convert.wait_for_copies(60)


def test_a_fresh_file_truncated_under_its_header_is_refused_with_a_message(tmp_path, lee_model, monkeypatch):
    monkeypatch.setattr(convert, "PRIVATE_COPY_MIN_BYTES", 0)
    path = str(tmp_path / "vectors.kv")
    lee_model.wv.save(path, sep_limit=0)
    with open(path + ".vectors.npy", "r+b") as f:
        f.truncate(os.path.getsize(path + ".vectors.npy") // 2)
    with pytest.raises(ModelLoadError, match="truncated"):
        loading.load_model(path, cache_dir=str(tmp_path / "cache"))
    assert not os.path.exists(tmp_path / "cache" / "copies") or os.listdir(tmp_path / "cache" / "copies") == []


def test_small_fresh_gensim_files_are_read_into_anonymous_memory_and_not_copied(tmp_path, lee_model):
    """Below the private-copy size a fresh file is read as a large one is (io.streamed, beside
    the unpickling), not by gensim's own ``np.load``, and nothing is written to the cache."""
    path = str(tmp_path / "vectors.kv")
    lee_model.wv.save(path, sep_limit=0)
    assert os.path.getsize(path + ".vectors.npy") < convert.PRIVATE_COPY_MIN_BYTES
    model = loading.load_model(path, cache_dir=str(tmp_path / "cache"))
    assert not isinstance(model.kv.vectors, np.memmap)
    assert isinstance(memory_of(model.kv.vectors), mmap.mmap)
    np.testing.assert_array_equal(model.kv.vectors, lee_model.wv.vectors)
    assert model.kv.most_similar("man", topn=5) == lee_model.wv.most_similar("man", topn=5)
    assert convert.wait_for_copies(60)
    assert not os.path.exists(tmp_path / "cache" / "copies")
