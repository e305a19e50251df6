"""Case-insensitive prefix search over a vocabulary, most frequent words first, in a few µs.

The lower-cased words are kept sorted (by code point, as their UTF-8 bytes sort), so the words
starting with a prefix are one contiguous range found by two binary searches, and its length is
the total. Each entry carries its word's *rank* (its place in frequency order), so a page of
the range is its ``offset + limit`` smallest ranks. A range of millions of words is not sorted
for that: the entries are also cut into blocks of ``BLOCK`` whose ranks are stored sorted, and
only the blocks whose smallest rank is among the ``k`` smallest can hold one of the ``k`` best
words, so a page costs about ``2 × BLOCK + k²`` element reads whatever the range's size.

Large vocabularies keep these arrays in the vocabulary cache (memory-mapped, see
:mod:`~tensorboard_plugin_w2v.models.vocabulary`); smaller ones build them in memory once.

    >>> index = PrefixIndex.build(["the", "The", "then", "a"], np.array([9, 5, 3, 7]))
    >>> rows, total = index.page("th", 0, 2)
    >>> rows.tolist(), total
    ([0, 1], 3)
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections.abc import Sequence

import numpy as np

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.io import streamed

BLOCK = 1024
SQUARE_MAX = 1 << 16  # pages deeper than about 256 words walk the rank order instead of the blocks
WALK_FACTOR = 4  # ... for at most 4 × the range's size, else a partition of the range answers
# In-memory indexes are built for vocabularies up to this size (about a second at 400k words,
# against tens of ms for every scan); larger ones wait for the vocabulary cache.
BUILD_MAX_WORDS = 500_000
SYNC_BUILD_MAX_WORDS = 20_000  # built within the first request (a few ms); larger ones in a thread
FILES = (
    "prefix_keys.bin",
    "prefix_ends.npy",
    "prefix_ranks.npy",
    "prefix_blocks.npy",
    "prefix_positions.npy",
    "order.npy",
)


def frequency_order(counts: np.ndarray | None, n: int) -> np.ndarray:
    """Rows most frequent first, ties (and unknown counts) in the file's order."""
    if counts is None:
        return np.arange(n, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if np.all(counts[1:] <= counts[:-1]):  # gensim sorts its vocabularies by frequency
        return np.arange(n, dtype=np.int64)
    return np.argsort(-counts, kind="stable")


class PrefixIndex:
    """Sorted lower-cased words with their ranks: :meth:`page` answers a prefix query."""

    def __init__(
        self,
        keys,
        ends: np.ndarray,
        ranks: np.ndarray,
        blocks: np.ndarray,
        positions: np.ndarray,
        order: np.ndarray,
    ):
        self._keys = keys  # the UTF-8 of the sorted lower-cased words, concatenated (bytes or mmap)
        self._ends = ends  # where each one ends in ``keys``
        self._ranks = ranks  # the rank of each sorted entry
        self._blocks = blocks  # (len // BLOCK, BLOCK): the ranks of each full block, sorted
        self._positions = positions  # rank → sorted position
        self.order = order  # rank → row
        self.by_counts = not _is_identity(order)

    def __len__(self) -> int:
        return len(self._ranks)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(cls, words: Sequence[str], counts: np.ndarray | None = None) -> PrefixIndex:
        """The index of ``words`` (rows in this order), ranked by ``counts`` when given.

        Raises ``UnicodeEncodeError`` for words with lone surrogates and ``AttributeError`` for
        keys that are not strings."""
        n = len(words)
        order = frequency_order(counts, n)
        encoded = [w.lower().encode("utf-8") for w in words]
        by_key = _sorted_by_key(encoded, order).tolist()  # ties stay in rank order
        rank_of = np.empty(n, dtype=np.int64)
        rank_of[order] = np.arange(n)
        keys = b"".join([encoded[r] for r in by_key])
        lengths = np.fromiter((len(encoded[r]) for r in by_key), dtype=np.int64, count=n)
        dtype = np.int32 if n < 2**31 else np.int64
        ranks = rank_of[np.asarray(by_key, dtype=np.int64)].astype(dtype) if n else np.zeros(0, dtype)
        full = n // BLOCK
        blocks = np.sort(ranks[: full * BLOCK].reshape(full, BLOCK), axis=1)
        positions = np.empty(n, dtype=dtype)
        positions[ranks] = np.arange(n)
        return cls(keys, np.cumsum(lengths), ranks, blocks, positions, order.astype(dtype))

    def save(self, folder: str) -> None:
        """Write the index into ``folder`` as the files of :data:`FILES`."""
        keys, *arrays = (os.path.join(folder, name) for name in FILES)
        with open(keys, "wb") as f:
            f.write(self._keys)
        for path, array in zip(
            arrays, (self._ends, self._ranks, self._blocks, self._positions, self.order), strict=True
        ):
            np.save(path, array)

    @classmethod
    def open(cls, folder: str, mapped: bool = True) -> PrefixIndex:
        """The index saved in ``folder``, memory-mapped, or read into memory if not ``mapped``
        (a mapped folder is in use: the cache budget cannot evict it); ``OSError`` /
        ``ValueError`` if damaged."""
        keys_path, *arrays = (os.path.join(folder, name) for name in FILES)
        if mapped:
            ends, ranks, blocks, positions, order = (np.load(p, mmap_mode="r").view(np.ndarray) for p in arrays)
            with open(keys_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                keys = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        else:  # into anonymous memory, as io.streamed reads (never np.load's fresh numpy memory)
            ends, ranks, blocks, positions, order = (streamed.read_npy(p) for p in arrays)
            keys = streamed.read_file(keys_path)
        if not (len(ends) == len(ranks) == len(positions) == len(order)) or (
            len(ends) and int(ends[-1]) != len(keys)
        ):
            raise ValueError("the prefix index's parts disagree")
        if blocks.ndim != 2 or blocks.shape != (len(ranks) // BLOCK, BLOCK):
            raise ValueError("the prefix index's blocks have the wrong shape")
        return cls(keys, ends, ranks, blocks, positions, order)

    # -- queries ----------------------------------------------------------------------------

    def page(self, lowered_prefix: str, offset: int, limit: int) -> tuple[np.ndarray, int]:
        """Rows of the words whose lower-cased form starts with ``lowered_prefix``, most frequent
        first, from ``offset`` on (at most ``limit``), and how many words match in all."""
        try:
            prefix = lowered_prefix.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: no word starts with them
            return np.zeros(0, dtype=np.int64), 0
        lo, hi = self.range(prefix)
        total = hi - lo
        if offset >= total or limit <= 0:
            return np.zeros(0, dtype=np.int64), total
        if lo == 0 and hi == len(self):  # every word: the frequency order itself
            return np.asarray(self.order[offset : offset + limit], dtype=np.int64), total
        best = self._smallest_ranks(lo, hi, min(offset + limit, total))
        return np.asarray(self.order[best[offset:]], dtype=np.int64), total

    def range(self, prefix: bytes) -> tuple[int, int]:
        """``(lo, hi)``: the sorted entries that start with the UTF-8 ``prefix``."""
        if not prefix:
            return 0, len(self)
        lo = self._first(prefix, after=False)
        return lo, self._first(prefix, after=True, lo=lo)

    def _first(self, prefix: bytes, after: bool, lo: int = 0) -> int:
        """The first entry whose first ``len(prefix)`` bytes are ≥ ``prefix`` (> if ``after``)."""
        keys, ends, width = self._keys, self._ends, len(prefix)
        hi = len(ends)
        while lo < hi:
            mid = (lo + hi) // 2
            start = int(ends[mid - 1]) if mid else 0
            head = keys[start : min(int(ends[mid]), start + width)]
            if head < prefix or (after and head == prefix):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _smallest_ranks(self, lo: int, hi: int, k: int) -> np.ndarray:
        """The ``k`` smallest ranks of the entries ``lo:hi``, ascending.

        Only the ``k`` full blocks with the smallest minima can hold one of them (any other
        block's minimum is beaten by ``k`` smaller ones), each with at most its ``k`` first;
        the partial blocks at both ends are read whole. Deep pages (large ``k``) walk the
        words in rank order instead, until ``k`` of them fall in the range."""
        first, stop = -(-lo // BLOCK), hi // BLOCK  # the full blocks inside the range
        full = stop - first
        square = min(k, full) * min(k, BLOCK)
        if square > SQUARE_MAX:
            walked = self._walk(lo, hi, k, budget=WALK_FACTOR * (hi - lo))
            if walked is not None:
                return walked
        if full <= 0 or square > SQUARE_MAX or hi - lo <= 2 * BLOCK + full + square:
            found = self._ranks[lo:hi]
        else:
            edges = (self._ranks[lo : first * BLOCK], self._ranks[stop * BLOCK : hi])
            mins = self._blocks[first:stop, 0]
            picked = np.argpartition(mins, k - 1)[:k] + first if k < full else np.arange(first, stop)
            found = np.concatenate([*edges, self._blocks[picked, : min(k, BLOCK)].ravel()])
        if k < len(found):
            found = np.partition(found, k - 1)[:k]
        return np.sort(found)

    def _walk(self, lo: int, hi: int, k: int, budget: int) -> np.ndarray | None:
        """The first ``k`` ranks whose entries lie in ``lo:hi``, looking at ``budget`` ranks at
        most (``None`` when they are not all found by then)."""
        positions, n = self._positions, len(self)
        step = max(4096, 2 * k * n // max(1, hi - lo))  # where k hits are expected, twice over
        found: list[np.ndarray] = []
        count = start = 0
        while start < min(n, budget):
            window = positions[start : start + step]
            hits = np.flatnonzero((window >= lo) & (window < hi)) + start
            found.append(hits)
            count += len(hits)
            if count >= k:
                return np.concatenate(found)[:k]
            start += step
            step *= 2
        return None


_FILL_STEP = 65_536


def _sorted_by_key(encoded: list[bytes], order: np.ndarray) -> np.ndarray:
    """``order`` stably sorted by ``encoded[row]``: NumPy sorts the first 24 bytes as three
    integers (seconds at millions of words, against a minute for Python's sort of a random
    order), Python sorts the rare runs that tie there but differ further on."""
    n = len(order)
    if n == 0:
        return order
    width = 8 * min(3, max(1, -(-max(map(len, encoded)) // 8)))
    padded = np.empty(n, dtype=f"S{width}")  # cut to ``width`` bytes, zero-padded
    for start in range(0, n, _FILL_STEP):  # in steps: one C call over millions would hold the GIL
        padded[start : start + _FILL_STEP] = encoded[start : start + _FILL_STEP]
    padded = padded[order]
    columns = padded.view(">u8").reshape(n, width // 8)
    perm = np.lexsort(columns.T[::-1])  # stable: ties keep the rank order
    rows = order[perm]
    special = np.fromiter((len(e) > width or b"\0" in e for e in encoded), dtype=bool, count=n)[rows]
    if special.any():
        cut = padded[perm]
        starts = np.flatnonzero(np.r_[True, cut[1:] != cut[:-1]])
        stops = np.r_[starts[1:], n]
        fix = (stops - starts > 1) & (np.add.reduceat(special, starts) > 0)
        for a, b in zip(starts[fix].tolist(), stops[fix].tolist(), strict=True):
            rows[a:b] = sorted(rows[a:b].tolist(), key=encoded.__getitem__)
    return rows


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.all(np.asarray(order) == np.arange(len(order))))


_built: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # kv → (fingerprint, index)
_built_lock = threading.Lock()


def attach(kv, index: PrefixIndex) -> None:
    """Answer ``kv``'s prefix queries with ``index`` (e.g. once its vocabulary cache is written)."""
    with _built_lock:
        _built[kv] = (_fingerprint(kv), index)


def for_model(kv, counts_known: bool, group: lifecycle.ThreadGroup | None = None) -> PrefixIndex | None:
    """The prefix index of ``kv``, ranked by counts if ``counts_known`` (else in file order):
    its cached vocabulary's, or one built in memory for a vocabulary of at most
    :data:`BUILD_MAX_WORDS` words (at once when small, else in a thread of ``group``,
    :data:`~tensorboard_plugin_w2v.lifecycle.LIBRARY` by default); ``None`` where a scan must
    answer."""
    index = getattr(kv.key_to_index, "prefix_index", None)
    if index is None:
        with _built_lock:
            fingerprint, index = _built.get(kv, (None, None))
        if index is None or fingerprint != _fingerprint(kv):
            index = _build_for(kv, group or lifecycle.LIBRARY)
    if index is None or (index.by_counts and not counts_known):
        return None
    return index


def _fingerprint(kv) -> tuple:
    """What changes when a vocabulary is replaced or grown (gensim's ``add_vectors``)."""
    counts = kv.expandos.get("count")
    return id(kv.index_to_key), len(kv.index_to_key), id(counts)


_building: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # kv → fingerprint being built


def _build_for(kv, group: lifecycle.ThreadGroup) -> PrefixIndex | None:
    """Build ``kv``'s index now if it is small, else in a background thread (``None`` meanwhile:
    a scan answers, so no request waits for the build)."""
    words = kv.index_to_key
    if not isinstance(words, list) or len(words) > BUILD_MAX_WORDS:
        return None
    if len(words) <= SYNC_BUILD_MAX_WORDS:
        return _build_and_attach(kv)
    fingerprint = _fingerprint(kv)
    with _built_lock:
        if _building.get(kv) == fingerprint:
            return None
        _building[kv] = fingerprint
    if group.spawn(_build_in_background, name="w2v-prefix-index", args=(weakref.ref(kv),)) is None:
        with _built_lock:
            _building.pop(kv, None)
    return None


def _build_in_background(ref) -> None:
    kv = ref()
    if kv is not None:
        try:
            _build_and_attach(kv)
        finally:
            with _built_lock:
                _building.pop(kv, None)


def _build_and_attach(kv) -> PrefixIndex | None:
    fingerprint = _fingerprint(kv)
    try:
        index = PrefixIndex.build(kv.index_to_key, kv.expandos.get("count"))
    except (AttributeError, UnicodeEncodeError):  # keys that are not str, lone surrogates
        return None
    with _built_lock:
        _built[kv] = (fingerprint, index)
    return index
