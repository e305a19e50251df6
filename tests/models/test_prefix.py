"""Prefix search over sorted lower-cased words answers exactly as a scan of the vocabulary does."""

from __future__ import annotations

import mmap
import time

import numpy as np
import pytest
from fixtures import memory_of
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.models import prefix


def _corpus_words() -> list[str]:
    """The distinct tokens of gensim's Lee corpus as written, plus capitalised and accented
    variants, so that many words share a lower-cased form and prefixes reach non-ASCII."""
    seen: dict[str, None] = {}
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        for token in f.read().split():
            seen.setdefault(token)
    words = list(seen)
    extra = [w.capitalize() for w in words[::3]] + [w.upper() for w in words[::7]]
    extra += [
        "Äpfel",
        "äpfel",
        "ÄRGER",
        "éclair",
        "Éclair",
        "İstanbul",
        "straße",
        "STRASSE",
        "日本",
        "日本語",
    ]
    extra += [
        "internationalisation-of-b",
        "Internationalisation-of-a",
        "internationalisation-of",
        "nul\0b",
        "nul",
    ]
    return list(dict.fromkeys(words + extra))


def _expected(words: list[str], counts: np.ndarray | None, lowered_prefix: str) -> list[int]:
    rows = [i for i, w in enumerate(words) if w.lower().startswith(lowered_prefix)]
    return sorted(rows, key=lambda i: (-counts[i], i)) if counts is not None else rows


@pytest.fixture(scope="module")
def words() -> list[str]:
    return _corpus_words()


@pytest.mark.parametrize(
    "block, square_max",
    [(prefix.BLOCK, prefix.SQUARE_MAX), (16, prefix.SQUARE_MAX), (16, 64)],
    ids=["default", "many blocks", "deep pages walk"],
)
@pytest.mark.parametrize("counts_kind", ["sorted", "unsorted with ties", "none"])
def test_pages_equal_a_scan_of_the_words(words, monkeypatch, block, square_max, counts_kind):
    monkeypatch.setattr(prefix, "BLOCK", block)  # 16: most ranges span many blocks
    monkeypatch.setattr(prefix, "SQUARE_MAX", square_max)  # 64: pages past 4 words walk the ranks
    n = len(words)
    counts = {
        "sorted": np.arange(n, 0, -1),
        "unsorted with ties": np.random.default_rng(1).integers(1, 30, n),
        "none": None,
    }[counts_kind]
    index = prefix.PrefixIndex.build(words, counts)
    starts = {w[:1].lower() for w in words} | {w[:2].lower() for w in words[::5]}
    probes = sorted(starts) + [
        "",
        "the",
        "zzzz",
        "ä",
        "é",
        "i̇",
        "日本",
        "\U0010ffff",
        "\ud800",
        "straß",
        "internationalisation-of-",
        "nul\0",
    ]
    for lowered in probes:
        expected = _expected(words, counts, lowered)
        for offset, limit in [(0, 5), (0, 50), (3, 7), (40, 1000), (0, n), (len(expected), 5)]:
            rows, total = index.page(lowered, offset, limit)
            assert total == len(expected), lowered
            assert rows.tolist() == expected[offset : offset + limit], (lowered, offset, limit)


@pytest.mark.parametrize("mapped", [True, False], ids=["mapped", "read"])
def test_a_saved_index_reopens_and_answers_the_same(tmp_path, words, monkeypatch, mapped):
    monkeypatch.setattr(prefix, "BLOCK", 64)
    counts = np.random.default_rng(2).integers(1, 1000, len(words))
    built = prefix.PrefixIndex.build(words, counts)
    built.save(str(tmp_path))
    opened = prefix.PrefixIndex.open(str(tmp_path), mapped=mapped)
    if not mapped:  # read into anonymous memory (io.streamed), never by np.load or f.read
        assert all(isinstance(memory_of(a), mmap.mmap) for a in (opened._ends, opened.order))
        assert isinstance(opened._keys, mmap.mmap)
    for lowered in ["", "a", "co", "gov", "ä", "none-such"]:
        for offset, limit in [(0, 5), (10, 100)]:
            got, want = opened.page(lowered, offset, limit), built.page(lowered, offset, limit)
            assert got[0].tolist() == want[0].tolist() and got[1] == want[1]
    with open(tmp_path / "prefix_keys.bin", "r+b") as f:
        f.truncate(10)
    with pytest.raises(ValueError):
        prefix.PrefixIndex.open(str(tmp_path), mapped=mapped)


def test_vocab_builds_the_index_once_and_follows_a_grown_vocabulary(words):
    kv = KeyedVectors(4, count=0)
    kv.add_vectors(words[:500], np.ones((500, 4), dtype=np.float32))
    page, _ = queries.vocab(kv, "the", 0, 3, counts_known=False)
    assert [e.word for e in page] == [w for w in words[:500] if w.lower().startswith("the")][:3]
    first = prefix.for_model(kv, counts_known=False)
    assert first is not None and prefix.for_model(kv, counts_known=False) is first
    kv.add_vectors(["Thexyz"], np.ones((1, 4), dtype=np.float32))
    page, total = queries.vocab(kv, "thexyz", 0, 5, counts_known=False)
    assert [e.word for e in page] == ["Thexyz"] and total == 1


def test_file_order_is_kept_when_counts_are_not_trusted(words):
    kv = KeyedVectors(4, count=0)
    kv.add_vectors(words[:300], np.ones((300, 4), dtype=np.float32))
    kv.expandos["count"] = np.random.default_rng(3).integers(1, 9, 300)
    page, total = queries.vocab(kv, "a", 0, 300, counts_known=False)
    assert [e.index for e in page] == [i for i, w in enumerate(words[:300]) if w.lower().startswith("a")]
    assert total == len(page) > 0


def test_larger_vocabularies_are_indexed_in_the_background_and_scanned_meanwhile(words, monkeypatch):
    monkeypatch.setattr(prefix, "SYNC_BUILD_MAX_WORDS", 100)
    kv = KeyedVectors(4, count=0)
    kv.add_vectors(words[:2000], np.ones((2000, 4), dtype=np.float32))
    scanned = queries.vocab(kv, "co", 0, 50, counts_known=False)  # no request waits for the build
    deadline = time.monotonic() + 60
    while prefix.for_model(kv, counts_known=False) is None:
        assert time.monotonic() < deadline, "the background build never finished"
        time.sleep(0.05)
    assert queries.vocab(kv, "co", 0, 50, counts_known=False) == scanned
    assert scanned[1] == sum(w.lower().startswith("co") for w in words[:2000]) > 0
