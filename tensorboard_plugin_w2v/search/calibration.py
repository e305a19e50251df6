"""How wide an approximate index must search on this model: recall measured after each build.

An HNSW graph's recall depends on the data (tight clusters are easy; wide isotropic clusters,
where many words are almost equally near, are hard), so no fixed search breadth ``ef`` suits
every model. After a build, :func:`calibrate` takes a sample of the model's own words as
queries, finds their exact top-10 as gensim's ``most_similar`` does (every row scanned, the
word itself left out), and raises ``ef`` until the route's answers (the index's candidates,
re-scored exactly: :mod:`~tensorboard_plugin_w2v.search.scoring`) reach :data:`TARGET_RECALL`
plus :data:`MARGIN` on the sample. The candidates re-scored grow with ``ef``
(:data:`EF_PER_CANDIDATE`): where many words are almost equally near, int8 rounding moves the
true neighbours a little down the index's list, and a wider search alone cannot bring them back.
The chosen ``ef`` and candidate count are saved with the index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from tensorboard_plugin_w2v.models.norms import ensure_norms
from tensorboard_plugin_w2v.search.scoring import candidate_count, cosines
from tensorboard_plugin_w2v.search.topk import TopK, dot_t, ranked

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from tensorboard_plugin_w2v.search.ann import AnnIndex

TARGET_RECALL = 0.95  # recall@10 every build must reach
MARGIN = 0.02  # measured on a sample: about four standard errors of a 400-query estimate
SAMPLE = 400  # query words
K = 10
EF_START = 64
EF_MAX = 4096
EF_GROWTH = 1.5
SCAN_ELEMENTS = 1 << 20  # scores per chunk of the exact scan (4 MB; ranking them takes a few times that)
EF_PER_CANDIDATE = 4  # candidates re-scored, at least: ef / 4 (64 at ef = 256, 1,024 at 4,096)


class Stop(Protocol):
    """A ``threading.Event`` or anything else with ``is_set()``."""

    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The calibration was asked to stop (the model was evicted or the server closes)."""


@dataclass
class Calibration:
    """The chosen ``ef``, the recall it reached on the sample, and every ``ef`` tried."""

    ef: int
    candidates: int
    recall: float
    sample: int
    seconds: float
    tried: dict[int, float] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.recall >= TARGET_RECALL + MARGIN

    def to_json(self) -> dict:
        return {
            "ef": self.ef,
            "candidates": self.candidates,
            "recall_at_10": round(self.recall, 4),
            "sample": self.sample,
            "seconds": round(self.seconds, 2),
            "tried": {str(ef): round(r, 4) for ef, r in self.tried.items()},
        }


def sample_rows(kv: KeyedVectors, size: int = SAMPLE, seed: int = 0) -> np.ndarray:
    """``size`` distinct rows with a non-zero vector, drawn uniformly, in increasing order."""
    norms = ensure_norms(kv)
    rng = np.random.default_rng(seed)
    n = len(norms)
    rows = np.unique(rng.choice(n, min(n, 2 * size), replace=False))
    rows = rows[norms[rows] > 0]
    return np.sort(rng.permutation(rows)[:size])


def exact_neighbours(kv: KeyedVectors, rows: np.ndarray, k: int = K, stop: Stop | None = None) -> np.ndarray:
    """``len(rows) × k``: each row's ``k`` nearest rows by cosine, itself left out (gensim's
    ``most_similar`` over the whole vocabulary), from one pass over the matrix in chunks."""
    norms = ensure_norms(kv)
    units = np.asarray(kv.vectors[rows], dtype=np.float32) / norms[rows, None]
    top = TopK(len(rows), k + 1)
    step = max(1024, SCAN_ELEMENTS // max(1, len(rows)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, len(norms), step):
            if stop is not None and stop.is_set():
                raise Cancelled
            block = np.asarray(kv.vectors[start : start + step])
            scores = dot_t(units, block)
            scores /= norms[start : start + step]
            top.push(start, scores)
    found, _ = top.result()
    out = np.empty((len(rows), k), dtype=np.int64)
    for i, row in enumerate(rows):
        others = found[i][found[i] != row]
        out[i] = others[:k]
    return out


def route_recall(
    kv: KeyedVectors, index: AnnIndex, rows: np.ndarray, truth: np.ndarray, threads: int = 0
) -> float:
    """Mean recall@k of the neighbours the route would answer for ``rows`` (the index's
    candidates re-scored exactly, the word left out) against ``truth``."""
    k = truth.shape[1]
    norms = ensure_norms(kv)
    units = np.asarray(kv.vectors[rows], dtype=np.float32) / norms[rows, None]
    count = max(candidate_count(k + 1), index.min_candidates)
    proposed = index.candidates(units, count, threads=threads)
    hits = 0
    for i, row in enumerate(rows):
        cand = proposed[i][proposed[i] >= 0]
        if len(cand) < k + 1:  # the route scans exactly then
            hits += k
            continue
        order = ranked(cosines(kv, units[i], rows=cand))
        answer = cand[order]
        answer = answer[answer != row][:k]
        hits += len(np.intersect1d(answer, truth[i]))
    return hits / (len(rows) * k)


def calibrate(
    kv: KeyedVectors,
    index: AnnIndex,
    sample: int = SAMPLE,
    seed: int = 0,
    threads: int = 0,
    ef_start: int = EF_START,
    ef_max: int = EF_MAX,
    stop: Stop | None = None,
) -> Calibration:
    """Set ``index.ef`` to the smallest ``ef`` (growing by :data:`EF_GROWTH` from ``ef_start``)
    whose recall on a sample of ``kv``'s words reaches the target plus margin, or ``ef_max``;
    ``index.min_candidates`` grows with it."""
    started = time.monotonic()
    rows = sample_rows(kv, sample, seed)
    truth = exact_neighbours(kv, rows, stop=stop)
    tried: dict[int, float] = {}
    ef = max(1, ef_start)
    while True:
        if stop is not None and stop.is_set():
            raise Cancelled
        index.ef, index.min_candidates = ef, ef // EF_PER_CANDIDATE
        tried[ef] = route_recall(kv, index, rows, truth, threads)
        if tried[ef] >= TARGET_RECALL + MARGIN or ef >= ef_max:
            break
        ef = min(ef_max, int(ef * EF_GROWTH))
    return Calibration(ef, index.min_candidates, tried[ef], len(rows), time.monotonic() - started, tried)
