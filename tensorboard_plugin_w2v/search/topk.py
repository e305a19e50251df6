"""Exact top-k: the best columns of score rows, one convention for every caller.

Scores are cosines (or analogy scores) of queries (rows) with vocabulary entries (columns).
Every batch kernel here answers ``(indices, scores)``, best first, and pads what is missing
with index ``-1`` and score ``-inf``; NaN never qualifies. :func:`best_first` orders a single
query's scores exactly as gensim's ``matutils.argsort`` does (NaN last), for the answers that
must equal gensim's lists.
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK_ELEMENTS = 1 << 23  # float32 scores held at once (32 MB)


class TopK:
    """Running top-``m`` columns of each row of score matrices fed chunk by chunk.

    Each row is one query; columns are vocabulary entries. Rows whose new scores are all
    below their current ``m``-th best are skipped, so after the first chunks a chunk costs
    little more than one comparison pass.

    >>> top = TopK(rows=1, m=2)
    >>> top.push(0, np.array([[0.1, 0.9, 0.5]], dtype=np.float32))
    >>> top.push(3, np.array([[0.7]], dtype=np.float32))
    >>> top.result()[0].tolist()
    [[1, 3]]
    """

    def __init__(self, rows: int, m: int):
        self.m = m
        self.index = np.full((rows, m), -1, dtype=np.int64)
        self.score = np.full((rows, m), -np.inf, dtype=np.float32)

    def push(self, offset: int, scores: np.ndarray) -> None:
        """Offer ``scores`` (rows × chunk) for columns ``offset …``; NaN never qualifies."""
        hit = scores > self.score.min(axis=1)[:, None]
        hits = np.count_nonzero(hit)
        if not hits:
            return
        if hits * 8 > scores.size:
            self._merge_dense(offset, scores, np.flatnonzero(hit.any(axis=1)))
        else:
            flat = np.flatnonzero(hit)
            row, col = np.divmod(flat, scores.shape[1])
            merge_sparse(self.index, self.score, row, col + offset, scores.ravel()[flat])

    def _merge_dense(self, offset: int, scores: np.ndarray, rows: np.ndarray) -> None:
        sub = scores[rows]
        k = min(self.m, sub.shape[1])
        if sub.shape[1] > k:
            part = np.argpartition(-sub, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(k), (len(rows), k))
        both_score = np.hstack([self.score[rows], np.take_along_axis(sub, part, axis=1)])
        both_index = np.hstack([self.index[rows], part + offset])
        both_score[np.isnan(both_score)] = -np.inf
        keep = np.argpartition(-both_score, self.m - 1, axis=1)[:, : self.m]
        self.score[rows] = np.take_along_axis(both_score, keep, axis=1)
        self.index[rows] = np.take_along_axis(both_index, keep, axis=1)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each rows × m, best first; missing entries are -1 / -inf."""
        order = np.argsort(-self.score, axis=1, kind="stable")
        return np.take_along_axis(self.index, order, axis=1), np.take_along_axis(self.score, order, axis=1)


def merge_sparse(index: np.ndarray, score: np.ndarray, row: np.ndarray, column: np.ndarray, value: np.ndarray) -> None:
    """Merge candidates ``(row, column, value)`` into each row's best ``m`` (``index``/``score``,
    rows × m, updated in place); equal scores keep the earlier candidate first."""
    m = index.shape[1]
    # Only what beats a row's m-th best now can enter (a tie ranks after it); the bars the
    # candidates were chosen with may be older than the merges before this one.
    better = value > score[row, -1]
    row, column, value = row[better], column[better], value[better]
    if not len(row):
        return
    rows, counts = np.unique(row, return_counts=True)
    all_row = np.concatenate([np.repeat(rows, m), row])
    all_value = np.concatenate([score[rows].ravel(), value])
    all_column = np.concatenate([index[rows].ravel(), column])
    order = np.argsort(_row_then_best_first(all_row, all_value), kind="stable")
    sizes = counts + m
    rank = np.arange(len(order)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    keep = order[rank < m]
    score[rows] = all_value[keep].reshape(-1, m)
    index[rows] = all_column[keep].reshape(-1, m)


def _row_then_best_first(row: np.ndarray, value: np.ndarray) -> np.ndarray:
    """One int64 sort key per entry: by ``row`` (non-negative, below 2**31), then by float32
    ``value``, highest first (NaN last): half the time of ``np.lexsort((-value, row))``."""
    high_first = -np.nan_to_num(value, nan=-np.inf).astype(np.float32) + np.float32(0)  # -0.0 → 0.0: equal, as floats
    bits = high_first.view(np.int32).astype(np.int64)
    bits ^= (bits >> 31) & 0x7FFFFFFF  # IEEE order → integer order (negative floats reversed)
    return (row.astype(np.int64) << 32) + (bits + (1 << 31))


def top_columns(scores: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``m`` columns of each row, best first, as a :class:`TopK` fed ``scores`` at once
    gives them (up to the order of equal scores): NaN and -inf never qualify (index -1, score -inf).

    Each row's columns are dealt into strided groups; the ``m``-th highest group maximum is a
    floor under the row's ``m``-th best score, so one pass of maxima, one small partition and one
    comparison leave a few candidates per row, sorted together. (``np.argpartition`` and
    ``np.argsort`` along rows cost about a microsecond per row on top of their work.)

    >>> index, score = top_columns(np.array([[0.1, 0.9, np.nan, 0.5]], dtype=np.float32), 3)
    >>> index.tolist(), score.tolist()
    ([[1, 3, 0]], [[0.8999999761581421, 0.5, 0.10000000149011612]])
    """
    rows, n = scores.shape
    m = min(m, n)
    index = np.full((rows, m), -1, dtype=np.int64)
    best = np.full((rows, m), -np.inf, dtype=np.float32)
    if not m or not rows:
        return index, best
    depth = max(1, math.isqrt(n // m))  # columns per group: about sqrt(n / m)
    groups = n // depth
    body = groups * depth
    maxima = np.fmax.reduce(scores[:, :body].reshape(rows, depth, groups), axis=1)  # NaN loses
    if body < n:
        maxima = np.hstack([maxima, scores[:, body:]])
    maxima[np.isnan(maxima)] = -np.inf  # (np.partition ranks NaN above every number)
    floor = np.partition(maxima, maxima.shape[1] - m, axis=1)[:, maxima.shape[1] - m]
    # -inf never qualifies; NaN fails every comparison.
    np.maximum(floor, np.finfo(np.float32).min, out=floor)
    flat = np.flatnonzero(scores >= floor[:, None])
    row = flat // n
    value = scores.ravel()[flat]
    order = np.lexsort((-value, row))  # by row, then best first (equal scores by column)
    row, flat, value = row[order], flat[order], value[order]
    counts = np.bincount(row, minlength=rows)
    rank = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = rank < m
    row, rank = row[keep], rank[keep]
    index[row, rank] = flat[keep] - row * n
    best[row, rank] = value[keep]
    return index, best


# OpenBLAS computes a product of at most 65536·4 multiply-adds on the calling thread. Waking its
# worker threads costs milliseconds (tens on a busy machine), more than a small product itself,
# so products below _SMALL_PRODUCT are cut into single-thread pieces.
_ONE_THREAD_MACS = 1 << 18
_SMALL_PRODUCT = 1 << 26


def dot_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T``; small products are computed in pieces that BLAS keeps on one thread.

    >>> a, b = np.ones((3, 4), np.float32), np.ones((5, 4), np.float32)
    >>> dot_t(a, b).shape, float(dot_t(a, b)[0, 0])
    ((3, 5), 4.0)
    """
    (m, k), n = a.shape, len(b)
    if m * n * k > _SMALL_PRODUCT:
        return a @ b.T
    out = np.empty((m, n), dtype=np.result_type(a, b))
    m_step = max(1, min(m, _ONE_THREAD_MACS // max(1, k)))
    n_step = max(1, _ONE_THREAD_MACS // max(1, m_step * k))
    for i in range(0, m, m_step):
        for j in range(0, n, n_step):
            np.matmul(a[i : i + m_step], b[j : j + n_step].T, out=out[i : i + m_step, j : j + n_step])
    return out


def chunk_rows(columns: int) -> int:
    return max(256, _CHUNK_ELEMENTS // max(1, columns))


def best_first(dists: np.ndarray, topn: int) -> np.ndarray:
    """The ``topn`` best positions of ``dists``, best first, as gensim's
    ``matutils.argsort(dists, topn, reverse=True)`` orders them (NaN last), without its copies.

    The best scores usually all exceed a threshold read from a sample, so only those few are
    sorted; otherwise, or when two of the best scores are equal (only gensim's own partition and
    sort of the whole array give its order of equal scores), ``dists`` is negated in place,
    ranked as gensim ranks ``-dists``, and negated back.
    """
    topn = min(topn, dists.size)
    if dists.size > 64 * topn:
        sample = dists[:: dists.size // (32 * topn)]
        threshold = np.partition(sample, sample.size - 2)[sample.size - 2]  # NaN sorts last: skipped
        above = np.flatnonzero(dists > threshold)
        if above.size >= topn:
            order = above[np.argsort(-dists[above])]
            head = dists[order[: topn + 1]]  # the best, and the first one left out
            if not np.any(head[1:] == head[:-1]):
                return order[:topn]
    np.negative(dists, out=dists)
    try:
        if topn >= dists.size:
            return np.argsort(dists)
        best = np.argpartition(dists, topn)[:topn]
        return best[np.argsort(dists[best])]
    finally:
        np.negative(dists, out=dists)


def ranked(dists: np.ndarray) -> np.ndarray:
    """Every position of ``dists``, best first (equal scores keep their order)."""
    return np.argsort(-dists, kind="stable")
