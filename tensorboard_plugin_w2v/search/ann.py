"""The approximate index itself: a `usearch <https://github.com/unum-cloud/usearch>`_ HNSW graph
over a model's unit vectors, centred and stored as int8 (a quarter of the float32 matrix; see
:class:`Quantizer`), searched by Euclidean distance, which ranks unit vectors as cosine does. It
only proposes candidates: :mod:`~tensorboard_plugin_w2v.search.scoring` re-scores them with
gensim's exact arithmetic on the stored float32 vectors, so every similarity shown equals
gensim's and int8 rounding costs no recall. Building, saving and reusing indexes is
:mod:`~tensorboard_plugin_w2v.search.index`'s job.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models.norms import unit_rows

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

LIBRARY = "usearch"
FORMAT_VERSION = 3  # 3: the metadata carries the calibrated ``ef`` (see calibration)
CONNECTIVITY = 16  # HNSW "M"
EXPANSION_ADD = 128  # HNSW "efConstruction": at 64 a 3M × 300 graph missed recall 0.95 even at ef 4096
EXPANSION_SEARCH = 192  # HNSW "ef" of an index saved without a calibrated one (see calibration)


def available() -> bool:
    """True when the ANN library (usearch) can be imported."""
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def cache_key(identity: fileio.FileIdentity) -> str:
    """Name of a model version's index in the cache: its identity and the index parameters."""
    text = (
        f"{identity.path}|{identity.size}|{identity.mtime_ns}|"
        f"{LIBRARY}-v{FORMAT_VERSION}-M{CONNECTIVITY}-efc{EXPANSION_ADD}-i8"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def new_index(dim: int):
    """An empty usearch index with this package's parameters."""
    from usearch.index import Index

    return Index(ndim=dim, metric="l2sq", dtype="i8", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD)


class Quantizer:
    """Maps unit vectors into int8's range without changing their cosine ranking.

    For unit vectors ``|u - q|² = 2 - 2 u·q``, and Euclidean distance ignores a common shift,
    so the index stores ``scale · (u - centre)`` and is queried with ``scale · (q - centre)``
    under the L2 metric. Subtracting the mean direction (which dominates many trained models)
    and scaling the remainder to ``[-1, 1]`` spends int8's 8 bits on what tells words apart.
    """

    def __init__(self, centre: np.ndarray, scale: float):
        self.centre = np.asarray(centre, dtype=np.float32)
        self.scale = float(scale)

    def __call__(self, unit: np.ndarray) -> np.ndarray:
        out = (np.asarray(unit, dtype=np.float32) - self.centre) * np.float32(self.scale)
        return np.clip(out, -1.0, 1.0, out=out)  # int8 holds [-1, 1] × 127

    @classmethod
    def fit(cls, kv: KeyedVectors, chunk_rows: int = 8_192, sample_rows: int = 65_536) -> Quantizer:
        """Centre = mean unit vector; scale = 1 / (largest centred component of a sample, plus margin).

        Both passes go ``chunk_rows`` at a time: no float copy of the matrix is made.
        """
        total = np.zeros(kv.vector_size, dtype=np.float64)
        for start in range(0, len(kv.vectors), chunk_rows):
            total += unit_rows(kv, start, start + chunk_rows).sum(axis=0, dtype=np.float64)
        centre = (total / max(1, len(kv.vectors))).astype(np.float32)
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(len(kv.vectors), min(sample_rows, len(kv.vectors)), replace=False))
        biggest = 0.0
        for start in range(0, len(rows), chunk_rows):
            part = rows[start : start + chunk_rows]
            norms = np.where(kv.norms[part] > 0, kv.norms[part], 1)
            unit = np.asarray(kv.vectors[part]) / norms[:, None]
            biggest = max(biggest, float(np.max(np.abs(unit - centre))))
        return cls(centre, 1.0 / max(biggest * 1.25, 1e-9))

    def to_json(self) -> dict:
        return {"centre": self.centre.tolist(), "scale": self.scale}

    @classmethod
    def from_json(cls, data: dict) -> Quantizer:
        return cls(np.array(data["centre"], dtype=np.float32), data["scale"])


class AnnIndex:
    """A built index: ``candidates(unit_queries, count)`` proposes row numbers per query."""

    def __init__(self, index, quantizer: Quantizer, path: str | None = None, min_candidates: int = 0):
        self._index = index
        self.quantizer = quantizer
        self.path = path
        # Candidates re-scored per query, at least: int8 rounding can put the true neighbours
        # of data with many near-equal distances a little further down (see calibration).
        self.min_candidates = min_candidates

    @property
    def ef(self) -> int:
        """The search breadth (HNSW ``ef``; at least the number of candidates asked)."""
        return int(self._index.expansion_search)

    @ef.setter
    def ef(self, value: int) -> None:
        self._index.expansion_search = int(value)

    @property
    def nbytes(self) -> int:
        if self.path is not None:
            return os.path.getsize(self.path)
        return int(self._index.memory_usage)

    def candidates(self, unit_queries: np.ndarray, count: int, threads: int = 1) -> np.ndarray:
        """``len(unit_queries) × count`` row numbers, best first; ``-1`` pads missing ones."""
        q = self.quantizer(np.atleast_2d(unit_queries))
        found = self._index.search(q, count, threads=threads)
        keys = np.full((len(q), count), -1, dtype=np.int64)
        if not hasattr(found, "counts"):  # usearch answers one query with a plain Matches
            got = np.asarray(found.keys, dtype=np.int64)[:count]
            keys[0, : len(got)] = got
            return keys
        got = np.asarray(found.keys, dtype=np.int64).reshape(len(q), -1)
        for i, c in enumerate(np.asarray(found.counts).reshape(-1)):
            keys[i, :c] = got[i, :c]
        return keys

    @classmethod
    def open(cls, path: str, quantizer: Quantizer, ef: int = EXPANSION_SEARCH, min_candidates: int = 0) -> AnnIndex:
        """Memory-map a saved index (read-only), to search with breadth ``ef``."""
        from usearch.index import Index

        index = Index.restore(path, view=True)
        if index is None:
            raise ValueError(f"{path} is not a usearch index")
        index.expansion_search = int(ef)
        return cls(index, quantizer, path, min_candidates)
