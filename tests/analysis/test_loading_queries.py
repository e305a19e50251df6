"""Every format loads into KeyedVectors, and every query answers exactly as gensim does."""

from __future__ import annotations

import glob
import os
import shutil
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v import load_model
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.errors import BadRequest, ModelLoadError, NotFound
from tensorboard_plugin_w2v.models.loading import MMAP_NEVER, SETTLED_SECONDS

GOVERNMENT_WORDS = ["government", "Australia", "police", "Afghanistan", "world", "said", "two"]


def assert_same_neighbors(ours, theirs):
    assert [n.word for n in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([n.similarity for n in ours], [s for _, s in theirs], atol=1e-5)


@pytest.mark.parametrize("name", ["w2v.model", "vectors.kv", "vectors.bin", "vectors.txt"])
def test_every_lee_format_loads_identically(logdir, lee_model, name):
    model = load_model(os.path.join(logdir, "lee", name))
    assert model.kv.index_to_key == lee_model.wv.index_to_key
    np.testing.assert_allclose(model.kv.vectors, lee_model.wv.vectors, atol=1e-6)
    assert model.counts_known == (name in ("w2v.model", "vectors.kv"))


def test_settled_files_are_memory_mapped(tmp_path, lee_model):
    path = str(tmp_path / "big.kv")
    lee_model.wv.save(path, sep_limit=0)  # force the vectors into a .npy sidecar
    settled = time.time() - SETTLED_SECONDS - 60
    for p in (path, *glob.glob(path + ".*.npy")):
        os.utime(p, (settled, settled))
    assert isinstance(load_model(path).kv.vectors, np.memmap)
    assert not isinstance(load_model(path, mmap_policy=MMAP_NEVER).kv.vectors, np.memmap)


def test_fresh_files_are_read_not_mapped(tmp_path, lee_model):
    """gensim's save() truncates a model's .npy files in place; touching a memory-mapped page of
    a truncated file kills the server with SIGBUS, so a file a job just wrote is read, not mapped."""
    path = str(tmp_path / "big.kv")
    lee_model.wv.save(path, sep_limit=0)
    model = load_model(path)
    assert not isinstance(model.kv.vectors, np.memmap)
    open(path + ".vectors.npy", "wb").close()  # a writer starts saving over it
    np.testing.assert_allclose(model.kv.vectors, lee_model.wv.vectors, atol=1e-6)


def test_training_parameters_are_reported(logdir, lee_model):
    model = load_model(os.path.join(logdir, "lee", "w2v.model"))
    assert model.format == md.FORMAT_GENSIM_WORD2VEC
    for key in ("sg", "window", "negative", "epochs", "corpus_total_words"):
        assert model.training[key] == getattr(lee_model, key)


@pytest.mark.parametrize(
    "name, binary, no_header",
    [
        ("euclidean_vectors.bin", True, False),
        ("lee_fasttext.vec", False, False),
        ("test_glove.txt", False, True),
    ],
)
def test_bundled_vector_files_match_gensim(name, binary, no_header):
    ours = load_model(datapath(name)).kv
    theirs = KeyedVectors.load_word2vec_format(datapath(name), binary=binary, no_header=no_header)
    word = theirs.index_to_key[3]
    assert_same_neighbors(queries.neighbors(ours, word, k=10), theirs.most_similar(word, topn=10))


def test_fasttext_bin_and_oov_words(logdir):
    from gensim.models.fasttext import load_facebook_vectors

    path = os.path.join(logdir, "pretrained", "crime-and-punishment.bin")
    ours = load_model(path).kv
    theirs = load_facebook_vectors(path)
    oov = "raskolnikovish"  # not in the vocabulary: fastText answers from character n-grams
    assert oov not in theirs.key_to_index
    assert_same_neighbors(queries.neighbors(ours, oov, k=5), theirs.most_similar(oov, topn=5))


def test_projector_embedding_loads_words_from_metadata(logdir, lee_model):
    for run in ("projector", "projector_tsv"):
        from tensorboard_plugin_w2v.models.discovery import Discovery

        version = Discovery(logdir).scan()[run]["lee"].version()
        model = load_model(
            version.path,
            version.format,
            metadata_path=version.metadata_path,
            tensor_shape=version.tensor_shape,
        )
        assert model.kv.index_to_key == lee_model.wv.index_to_key
        assert_same_neighbors(
            queries.neighbors(model.kv, "police", k=10), lee_model.wv.most_similar("police", topn=10)
        )


@pytest.mark.parametrize("word", GOVERNMENT_WORDS)
@pytest.mark.parametrize("k", [1, 10, 50])
def test_neighbors_equal_most_similar(lee_model, word, k):
    assert_same_neighbors(queries.neighbors(lee_model.wv, word, k=k), lee_model.wv.most_similar(word, topn=k))


def test_neighbors_restrict_vocab(lee_model):
    ours = queries.neighbors(lee_model.wv, "police", k=10, restrict_vocab=200)
    assert_same_neighbors(ours, lee_model.wv.most_similar("police", topn=10, restrict_vocab=200))
    assert all(n.index < 200 for n in ours)


@pytest.mark.parametrize(
    "positive, negative",
    [(["Australia", "police"], ["government"]), (["world", "two"], []), (["said"], ["two", "police"])],
)
def test_analogy_3cosadd_and_3cosmul(lee_model, positive, negative):
    kv = lee_model.wv
    assert_same_neighbors(
        queries.analogy(kv, positive, negative, k=10),
        kv.most_similar(positive=positive, negative=negative, topn=10),
    )
    assert_same_neighbors(
        queries.analogy(kv, positive, negative, k=10, method="3cosmul"),
        kv.most_similar_cosmul(positive=positive, negative=negative, topn=10),
    )


@pytest.mark.parametrize("block_elements", [1 << 10, 1 << 13])
def test_3cosmul_scanned_in_blocks_equals_gensim(lee_model, monkeypatch, block_elements):
    from threadpoolctl import threadpool_limits

    from tensorboard_plugin_w2v.analysis.arithmetic import cosmul_rows
    from tensorboard_plugin_w2v.search import scoring

    kv = lee_model.wv
    monkeypatch.setattr(scoring, "BLOCK_ELEMENTS", block_elements)
    blocks, rows = scoring.row_blocks(len(kv), kv.vector_size)
    assert blocks > 3 and rows % 8 == 0 and len(kv) - blocks * rows >= 8  # and a block after them
    positive, negative = ["Australia", "police"], ["government"]
    assert_same_neighbors(
        queries.analogy(kv, positive, negative, k=10, method="3cosmul"),
        kv.most_similar_cosmul(positive=positive, negative=negative, topn=10),
    )
    units = [kv.get_vector(w, norm=True) for w in positive + negative]
    with threadpool_limits(1, user_api="blas"):  # gensim's two threads split its call at half the rows
        theirs = kv.most_similar_cosmul(positive=positive, negative=negative, topn=None)
        cos = scoring.cosines_of_many(kv, units, len(kv))
        ours = cosmul_rows(cos, 2)
    np.testing.assert_array_equal(ours, theirs)  # every word's score, to the last bit


@pytest.mark.parametrize(
    "positive, negative",
    [(["Australia", "police"], ["government"]), (["fire", "world"], ["government"]), (["said"], [])],
)
def test_3cosadd_scores_have_gensims_bits(lee_model, positive, negative):
    """The query is gensim's, bit for bit (its float64 weights included), so every score is, and
    words of equal score come in gensim's order."""
    from threadpoolctl import threadpool_limits

    from tensorboard_plugin_w2v.search.scoring import cosines

    kv = lee_model.wv
    with threadpool_limits(1, user_api="blas"):  # gensim's two threads split its pass at half the rows
        theirs = kv.most_similar(positive=positive, negative=negative, topn=None)
        ours = cosines(kv, queries.mean_vector(kv, positive, negative), limit=len(kv))
    np.testing.assert_array_equal(ours, theirs)


def test_similarity_and_doesnt_match(lee_model):
    kv = lee_model.wv
    assert queries.similarity(kv, "police", "government") == pytest.approx(
        float(kv.similarity("police", "government"))
    )
    words = ["police", "government", "Australia", "two"]
    assert queries.doesnt_match(kv, words) == kv.doesnt_match(words)


def test_unknown_word_suggests_close_entries(lee_model):
    with pytest.raises(NotFound) as info:
        queries.neighbors(lee_model.wv, "Goverment")
    assert "Goverment" in info.value.message
    assert "Government" in info.value.details["suggestions"]
    with pytest.raises(NotFound) as info:
        queries.neighbors(lee_model.wv, "POLICE")
    assert info.value.details["suggestions"][0] == "police"


@pytest.mark.parametrize(
    "expr, positive, negative",
    [
        ("king - man + woman", ["king", "woman"], ["man"]),
        ("  paris -france +  italy ", ["paris", "italy"], ["france"]),
        ("-man + king", ["king"], ["man"]),
        ("well-known + word", ["well-known", "word"], []),
    ],
)
def test_parse_expression(expr, positive, negative):
    assert queries.parse_expression(expr) == (positive, negative)


@pytest.mark.parametrize("expr", ["", "  ", "king -", "king man", "king + + man"])
def test_parse_expression_errors(expr):
    with pytest.raises(BadRequest):
        queries.parse_expression(expr)


def test_vocab_prefix_is_case_insensitive_and_by_frequency(lee_model):
    kv = lee_model.wv
    words, total = queries.vocab(kv, "gov", 0, 100, counts_known=True)
    expected = [w for w in kv.index_to_key if w.lower().startswith("gov")]
    assert total == len(expected) and {w.word for w in words} == set(expected)
    counts = [w.count for w in words]
    assert counts == sorted(counts, reverse=True)
    assert all(w.count == kv.get_vecattr(w.word, "count") for w in words)
    page, _ = queries.vocab(kv, "", 5, 3, counts_known=True)
    assert [w.index for w in page] == [5, 6, 7]


def test_vocab_orders_by_count_when_the_file_is_not_sorted(lee_model):
    kv = KeyedVectors(lee_model.wv.vector_size, count=0)
    kv.add_vectors(lee_model.wv.index_to_key, lee_model.wv.vectors)
    counts = np.random.default_rng(0).integers(1, 50, len(kv))  # unsorted, with many ties
    kv.expandos["count"] = counts
    expected = sorted(range(len(kv)), key=lambda i: (-counts[i], i))
    page, total = queries.vocab(kv, "", 0, len(kv), counts_known=True)
    assert [w.index for w in page] == expected and total == len(kv)
    page, total = queries.vocab(kv, "S", 0, len(kv), counts_known=True)
    assert [w.index for w in page] == [i for i in expected if kv.index_to_key[i].lower().startswith("s")]
    assert total == len(page) > 0


def test_projection_is_pca(lee_model):
    words = ["police", "government", "Australia", "two", "world"]
    coords, ratio = queries.project(lee_model.wv, words)
    assert coords.shape == (5, 2) and 0 < ratio.sum() <= 1 + 1e-9
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-6)


@pytest.mark.parametrize("content", [b"", b"3 2\nhello 1.0", b"\x80\x04\x95garbage"])
def test_corrupt_files_raise_readable_errors(tmp_path, content):
    path = tmp_path / "bad.model"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        load_model(str(path))
    assert "bad.model" in info.value.message and "Traceback" not in info.value.message


def test_missing_sidecar_is_named(tmp_path, lee_model):
    path = str(tmp_path / "big.kv")
    lee_model.wv.save(path, sep_limit=0)
    os.unlink(path + ".vectors.npy")
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    assert "big.kv.vectors.npy" in info.value.message


def test_pickles_refused_when_asked(logdir):
    with pytest.raises(ModelLoadError, match="pickle"):
        load_model(os.path.join(logdir, "lee", "vectors.kv"), allow_pickle=False)
    assert load_model(os.path.join(logdir, "lee", "vectors.bin"), allow_pickle=False).vocab_size > 0


def test_old_gensim_file_gets_a_clear_reason(tmp_path):
    shutil.copy(datapath("fasttext_old"), tmp_path / "old.model")
    with pytest.raises(ModelLoadError, match="gensim version"):
        load_model(str(tmp_path / "old.model"))
