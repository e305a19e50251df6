"""Model comparison: Jaccard@k of neighbour sets, checked against gensim's most_similar."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from fixtures import make_client, train_word2vec
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v.analysis import comparison as cmp
from tensorboard_plugin_w2v.errors import BadRequest, NotFound

BASE = "/data/plugin/word2vec"
TIE = 4e-6  # gensim's k-th and (k+1)-th neighbours closer than this may come in either order


@pytest.fixture(scope="session")
def model_a() -> KeyedVectors:
    return train_word2vec(vector_size=32, epochs=30, seed=1).wv


@pytest.fixture(scope="session")
def model_b() -> KeyedVectors:
    """Another dimension, another seed, a smaller vocabulary."""
    return train_word2vec(vector_size=24, epochs=30, seed=7, min_count=8).wv


def restricted(kv: KeyedVectors, words: set[str]) -> KeyedVectors:
    """``kv`` holding only ``words``, in its own order: what the shared scope searches."""
    keys = [w for w in kv.index_to_key if w in words]
    out = KeyedVectors(kv.vector_size, count=0)
    out.add_vectors(keys, kv[keys])
    return out


def gensim_set(kv: KeyedVectors, word: str, k: int) -> tuple[set[str], bool]:
    """most_similar's top-k set, and whether a near tie at the k-th place makes it ambiguous."""
    found = kv.most_similar(word, topn=k + 1)
    near_tie = len(found) > k and found[k - 1][1] - found[k][1] < TIE
    return {w for w, _ in found[:k]}, near_tie


def check_against_gensim(result: cmp.Comparison, kv_a: KeyedVectors, kv_b: KeyedVectors) -> None:
    checked = 0
    for row in result.words:
        set_a, tie_a = gensim_set(kv_a, row.word, result.k)
        set_b, tie_b = gensim_set(kv_b, row.word, result.k)
        if tie_a or tie_b:
            continue
        assert {w for w, _ in row.neighbors_a} == set_a, row.word
        assert {w for w, _ in row.neighbors_b} == set_b, row.word
        assert row.jaccard == cmp.jaccard(set_a, set_b)
        checked += 1
    assert checked >= 0.9 * len(result.words)


def test_full_scope_matches_most_similar(model_a, model_b):
    result = cmp.compare(model_a, model_b, n=300, k=10, scope=cmp.SCOPE_ALL)
    assert len(result.words) == 300
    check_against_gensim(result, model_a, model_b)
    assert result.mean_jaccard == pytest.approx(np.mean([w.jaccard for w in result.words]))


def test_shared_scope_searches_the_shared_vocabulary(model_a, model_b):
    shared = set(model_a.key_to_index) & set(model_b.key_to_index)
    assert len(shared) < len(model_a)  # the vocabularies differ
    result = cmp.compare(model_a, model_b, n=2000, k=5)
    assert result.shared_vocab == len(shared) and len(result.words) == len(shared)
    assert [w.word for w in result.words] == [w for w in model_a.index_to_key if w in shared]
    for row in result.words:
        assert all(w in shared for w, _ in row.neighbors_a + row.neighbors_b)
    check_against_gensim(result, restricted(model_a, shared), restricted(model_b, shared))


def test_neighbour_order_and_similarities_equal_most_similar(model_a):
    words = model_a.index_to_key[:200]
    idx, scores = cmp.neighbors_batch(model_a, np.array([model_a.key_to_index[w] for w in words]), 10)
    for word, row, sims in zip(words, idx, scores, strict=True):
        expected = model_a.most_similar(word, topn=10)
        np.testing.assert_allclose(sims, [s for _, s in expected], atol=2e-6)
        ours = [model_a.index_to_key[i] for i in row]
        for j, (w, _) in enumerate(expected):  # the same word at each place, save near ties
            if ours[j] != w:
                assert abs(expected[j][1] - sims[j]) < TIE


def test_same_model_is_identical(model_a):
    result = cmp.compare(model_a, model_a, n=100)
    assert result.mean_jaccard == 1.0 and result.most_changed(3)[0].jaccard == 1.0


def test_given_words_and_missing_ones(model_a, model_b):
    rare = next(w for w in model_a.index_to_key if w not in model_b.key_to_index)
    result = cmp.compare(model_a, model_b, words=["police", rare, "nonexistentword", "police"], k=3)
    assert [w.word for w in result.words] == ["police"]
    assert result.missing == [rare, "nonexistentword"] and result.requested == 3
    data = result.to_json()
    assert data["compared"] == 1 and data["words"][0]["word"] == "police"
    assert len(data["words"][0]["a"]) == 3
    shared_flags = {n["word"]: n["shared"] for n in data["words"][0]["a"]}
    others = {n["word"] for n in data["words"][0]["b"]}
    assert all(flag == (w in others) for w, flag in shared_flags.items())


def test_most_changed_are_the_lowest_overlaps(model_a, model_b):
    result = cmp.compare(model_a, model_b, n=200, k=10)
    changed = result.most_changed(20)
    assert [w.jaccard for w in changed] == sorted(w.jaccard for w in result.words)[:20]


def test_errors(model_a):
    other = KeyedVectors(4, count=0)
    other.add_vectors(["zzz", "yyy"], np.ones((2, 4), dtype=np.float32))
    with pytest.raises(NotFound):
        cmp.compare(model_a, other)
    with pytest.raises(NotFound, match="none of the words"):
        cmp.compare(model_a, model_a, words=["qqqq"])
    with pytest.raises(BadRequest):
        cmp.compare(model_a, model_a, scope="everything")


def test_parse_words():
    assert cmp.parse_words(" king, queen  man,,woman ") == ["king", "queen", "man", "woman"]


def test_doctests():
    assert doctest.testmod(cmp).failed == 0


# -- the /compare route ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(logdir):
    return make_client(logdir)[0]


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.get_json()


def test_route_compares_two_steps(client):
    status, data = get(client, "compare", run="training", model="lee", step=1, step2=3, n=50, k=5)
    assert status == 200
    assert len(data["a"].pop("version")) == 12  # the file version that answered
    assert data["a"] == {"run": "training", "model": "lee", "step": 1, "vocab_size": 1762, "dim": 32}
    assert data["b"]["step"] == 3 and data["k"] == 5 and data["scope"] == "shared"
    assert data["shared_vocab"] == 1762 and data["compared"] == 50 and len(data["words"]) == 50
    step1, step3 = train_word2vec(epochs=1).wv, train_word2vec(epochs=3).wv
    expected = cmp.compare(step1, step3, n=50, k=5)
    assert [w["jaccard"] for w in data["words"]] == [w.jaccard for w in expected.words]
    assert data["mean_jaccard"] == pytest.approx(expected.mean_jaccard)
    assert [m["word"] for m in data["most_changed"]] == [w.word for w in expected.most_changed()]
    row = data["words"][0]
    assert set(row) == {"word", "jaccard", "a", "b"} and set(row["a"][0]) == {"word", "similarity", "shared"}


def test_route_compares_models_of_other_runs_and_dimensions(client, lee_model):
    query = dict(run="lee", model="vectors.bin", run2="pretrained", model2="euclidean_vectors.bin", k=3)
    status, data = get(client, "compare", **query, words="police, said,nonexistentword", word="fire")
    assert status == 200 and data["a"]["dim"] == 32 and data["b"]["dim"] == 10
    euclidean = KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"), binary=True)
    assert data["shared_vocab"] == len(set(lee_model.wv.key_to_index) & set(euclidean.key_to_index))
    compared = [w["word"] for w in data["words"]]
    assert compared == [w for w in ["fire", "police", "said"] if w in euclidean.key_to_index]
    assert "nonexistentword" in data["missing"] and data["requested"] == 4


@pytest.mark.parametrize(
    "params, status, needle",
    [
        (dict(), 400, "second model"),
        (dict(step2=3, k=0), 400, "'k'"),
        (dict(step2=3, scope="everything"), 400, "scope"),
        (dict(step2=99), 404, "no step 99"),
        (dict(model2="missing"), 404, "unknown model"),
        (dict(step2=3, words="qqqq zzzz"), 404, "none of the words"),
        (dict(step2=3, n="lots"), 400, "'n'"),
    ],
)
def test_route_errors_are_json(client, params, status, needle):
    code, data = get(client, "compare", run="training", model="lee", step=1, **params)
    assert code == status and needle in data["error"]
