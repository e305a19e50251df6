"""Exact cosines of one query: over the first rows of a model, or over the candidate rows an
approximate index proposed (re-scoring). Both use gensim's arithmetic on the stored vectors,
``dot(vectors, unit_query) / norms``, so the similarities equal gensim's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.io import prefetch
from tensorboard_plugin_w2v.models.norms import ensure_norms, norms_of

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

BLOCK_ELEMENTS = 1 << 19  # a block of rows scanned by several queries in turn: 2 MB of float32
MIN_CANDIDATES = 64  # candidates re-scored exactly per query, at least
CANDIDATE_FACTOR = 3  # ... and at least this many per wanted answer


def cosines(
    kv: KeyedVectors,
    unit_query: np.ndarray,
    *,
    limit: int | None = None,
    rows: np.ndarray | slice | None = None,
) -> np.ndarray:
    """Cosine of ``unit_query`` with each of the first ``limit`` vectors, or with ``rows``
    (row numbers, or a slice: a view of the matrix).

    A scan is one BLAS call over all rows: splitting it into blocks was measured slower (each
    call wakes BLAS's threads again), 2.6× slower at 3M × 300 with 8192-row blocks.
    """
    if rows is not None:
        if not isinstance(rows, slice):
            prefetch.ask_for_rows(kv.vectors, rows)  # a mapped matrix's rows, all at once
        return np.dot(kv.vectors[rows], unit_query) / norms_of(kv, rows)
    norms = ensure_norms(kv)
    dists = np.dot(kv.vectors[:limit], unit_query)
    return np.divide(dists, norms[:limit], out=dists)


def row_blocks(limit: int, columns: int) -> tuple[int, int]:
    """``(blocks, rows)``: the first ``blocks * rows`` of ``limit`` rows, cut into blocks of
    about :data:`BLOCK_ELEMENTS` values (they stay in cache while each query scans them). The
    rows after them, none or at least 8, are scanned as one more block.

    A block starts at a multiple of 8. OpenBLAS's ``sgemv`` sums each group of four rows the
    same way wherever the group starts, and with two threads splits a call at half its rows (a
    multiple of 4 here), so each row's cosine has the bits of one single-thread call over all
    rows; the last ``limit % 4`` rows stay last, after full groups, as in that call. (gensim's
    own call, split over two threads at half of all rows, can differ from it in the last bit
    next to that split.)

    >>> row_blocks(20, 1 << 19), row_blocks(30, 1 << 19), row_blocks(5, 1)
    ((1, 8), (2, 8), (0, 524288))
    """
    rows = max(8, BLOCK_ELEMENTS // max(1, columns) // 8 * 8)
    blocks = limit // rows
    if 0 < limit - blocks * rows < 8 and blocks:
        blocks -= 1  # the short rest joins the last block
    return blocks, rows


def cosines_of_many(kv: KeyedVectors, unit_queries: Sequence[np.ndarray], limit: int) -> np.ndarray:
    """:func:`cosines` of each query (rows) with the first ``limit`` vectors, the same bits, in
    one walk over the matrix: each block of rows (:func:`row_blocks`) is multiplied by every
    query while it is in cache. 3CosMul's three scans take half the time at 400k × 50 (with
    one BLAS thread or two; 2 MB blocks were the fastest with both).

    It is one NumPy call (a stack of ``sgemv``), so the thread waits for the GIL once, not once
    per block and query, which under load would cost more than the scan.
    """
    norms = ensure_norms(kv)
    matrix, d = kv.vectors, kv.vector_size
    queries = np.stack(unit_queries)[None, :, :, None]  # 1 × m × d × 1: a column per query
    out = np.empty((len(unit_queries), limit), dtype=np.result_type(matrix.dtype, queries.dtype))
    blocks, rows = row_blocks(limit, d)
    body = blocks * rows
    for start, count, size in ((0, blocks, rows), (body, 1, limit - body)):
        if count and size:
            end = start + count * size
            stack = matrix[start:end].reshape(count, 1, size, d)
            products = np.matmul(stack, queries)  # count × m × size × 1: each block by every query in turn
            # (an ``out=`` laid out query by query makes NumPy loop over queries first: 1.3× slower)
            target = out[:, start:end].reshape(-1, count, size).transpose(1, 0, 2)
            np.divide(products[..., 0], norms[start:end].reshape(count, 1, size), out=target)
    return out


def candidate_count(wanted: int, factor: int = 1) -> int:
    """How many candidates the index proposes for ``wanted`` answers."""
    return max(MIN_CANDIDATES, CANDIDATE_FACTOR * wanted) * factor


def candidate_rows(
    index, unit_query: np.ndarray, wanted: int, limit: int, factor: int = 1
) -> np.ndarray | None:
    """Rows ``index`` proposes for ``unit_query`` within the first ``limit`` rows; ``None`` if
    fewer than ``wanted`` (then answer with an exact scan)."""
    count = max(candidate_count(wanted, factor), getattr(index, "min_candidates", 0))
    rows = index.candidates(unit_query[None, :], count)[0]
    rows = rows[(rows >= 0) & (rows < limit)]
    return rows if len(rows) >= wanted else None
