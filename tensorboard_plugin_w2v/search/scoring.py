"""Exact cosines of one query: over the first rows of a model, or over the candidate rows an
approximate index proposed (re-scoring). Both use gensim's arithmetic on the stored vectors,
``dot(vectors, unit_query) / norms``, so the similarities equal gensim's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.models.norms import ensure_norms, norms_of

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

MIN_CANDIDATES = 64  # candidates re-scored exactly per query, at least
CANDIDATE_FACTOR = 3  # ... and at least this many per wanted answer


def cosines(
    kv: KeyedVectors, unit_query: np.ndarray, *, limit: int | None = None, rows: np.ndarray | None = None
) -> np.ndarray:
    """Cosine of ``unit_query`` with each of the first ``limit`` vectors, or with ``rows``.

    A scan is one BLAS call over all rows: splitting it into blocks was measured slower (each
    call wakes BLAS's threads again), 2.6× slower at 3M × 300 with 8192-row blocks.
    """
    if rows is not None:
        return np.dot(kv.vectors[rows], unit_query) / norms_of(kv, rows)
    norms = ensure_norms(kv)
    dists = np.dot(kv.vectors[:limit], unit_query)
    return np.divide(dists, norms[:limit], out=dists)


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
