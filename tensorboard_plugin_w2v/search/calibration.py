"""How wide an approximate index must search on this model: recall measured after each build.

An inverted file's recall depends on the data (tight clusters are easy; wide isotropic
clusters, where many words are almost equally near, are hard), so no fixed number of lists to
visit (``probes``) suits every model. After a build, :func:`calibrate` takes a sample of the
model's own words as queries, finds their exact top-10 as gensim's ``most_similar`` does (every
row scanned, the word itself left out), and raises ``probes`` until the route's answers (the
index's candidates, re-scored exactly: :mod:`~tensorboard_plugin_w2v.search.scoring`) reach
:data:`TARGET_RECALL` plus :data:`MARGIN` on the sample. The candidates re-scored grow with
``probes`` (:data:`CANDIDATES_PER_PROBE`): where many words are almost equally near, 8-bit
rounding moves the true neighbours a little down the index's list, and a wider search alone
cannot bring them back. The chosen ``probes`` and candidate count are saved with the index.
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
HEAD_FRACTION = 0.05  # half of them from this most frequent part of the vocabulary
K = 10
PROBES_START = 4
PROBES_GROWTH = 1.5
SCAN_ELEMENTS = 1 << 20  # scores per chunk of the exact scan (4 MB; ranking them takes a few times that)
CANDIDATES_PER_PROBE = 4  # candidates re-scored, at least: 4 per list visited (64 at 16, 1,024 at 256)


class Stop(Protocol):
    """A ``threading.Event`` or anything else with ``is_set()``."""

    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """The calibration was asked to stop (the model was evicted or the server closes)."""


@dataclass
class Calibration:
    """The chosen ``probes``, the recall it reached on the sample, and every ``probes`` tried."""

    probes: int
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
            "probes": self.probes,
            "candidates": self.candidates,
            "recall_at_10": round(self.recall, 4),
            "sample": self.sample,
            "seconds": round(self.seconds, 2),
            "tried": {str(p): round(r, 4) for p, r in self.tried.items()},
        }


def head_size(rows: int) -> int:
    """How many of a vocabulary's first (most frequent) words the calibration counts as its head."""
    return max(1, int(rows * HEAD_FRACTION))


def sample_rows(kv: KeyedVectors, size: int = SAMPLE, seed: int = 0) -> np.ndarray:
    """``size`` distinct rows with a non-zero vector, in increasing order: half drawn uniformly,
    half from the most frequent :data:`HEAD_FRACTION` of the vocabulary (word2vec models list
    words by frequency). People ask about frequent words most, and those are the hard queries
    of an inverted file: they sit near many others, across the borders of its lists."""
    norms = ensure_norms(kv)
    rng = np.random.default_rng(seed)
    n = len(norms)
    head = head_size(n)
    drawn = np.concatenate([rng.choice(head, min(head, size), replace=False), rng.choice(n, min(n, 2 * size), replace=False)])
    drawn = drawn[norms[drawn] > 0]
    from_head, anywhere = drawn[drawn < head][: size // 2], drawn[drawn >= head]
    rows = np.unique(np.concatenate([from_head, rng.permutation(anywhere)[: size - len(from_head)]]))
    return np.sort(rows)


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
    probes_start: int = PROBES_START,
    stop: Stop | None = None,
) -> Calibration:
    """Set ``index.probes`` to the smallest count (growing by :data:`PROBES_GROWTH` from
    ``probes_start``) whose recall reaches the target plus margin on both halves of a sample of
    ``kv``'s words (the frequent head and the rest: :func:`sample_rows`), or every list;
    ``index.min_candidates`` grows with it."""
    started = time.monotonic()
    rows = sample_rows(kv, sample, seed)
    truth = exact_neighbours(kv, rows, stop=stop)
    head = head_size(len(kv))
    halves = [m for m in (rows < head, rows >= head) if m.any()]
    tried: dict[int, float] = {}
    probes = max(1, min(probes_start, index.lists))
    while True:
        if stop is not None and stop.is_set():
            raise Cancelled
        index.probes, index.min_candidates = probes, probes * CANDIDATES_PER_PROBE
        tried[probes] = min(route_recall(kv, index, rows[m], truth[m], threads) for m in halves)
        if tried[probes] >= TARGET_RECALL + MARGIN or probes >= index.lists:
            break
        probes = min(index.lists, max(probes + 1, int(probes * PROBES_GROWTH)))
    return Calibration(probes, index.min_candidates, tried[probes], len(rows), time.monotonic() - started, tried)
