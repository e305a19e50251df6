"""How far words moved between two models: orthogonal Procrustes alignment and semantic drift.

To compare model B with model A (two runs, two models, two training steps of one model):

- the *shared vocabulary* is the words both have, in A's frequency order;
- the *anchors* are its first ``anchors`` words (default: all shared words, at most 50,000);
- with A_S and B_S the anchors' unit rows, ``R = argmin_{Q orthogonal} ‖B_S Q − A_S‖_F``, the SVD
  solution (what ``scipy.linalg.orthogonal_procrustes(B_S, A_S)`` returns);
- the *drift* of a shared word w is ``1 − cos(a_w, b_w R)``.

The *trajectory* of a word over a model's training steps aligns every step onto the last one and
gives, per step, the word's drift from the last step and its neighbours at that step
(HistWords, Hamilton et al. 2016).

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> a = Word2Vec(common_texts, vector_size=8, min_count=1, seed=1, workers=1).wv
    >>> b = Word2Vec(common_texts, vector_size=8, min_count=1, seed=2, workers=1).wv
    >>> report = drift(a, b, top=3)
    >>> report.shared, report.anchors, len(report.most_changed)
    (12, 12, 3)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.errors import InvalidArgument, NotFound
from tensorboard_plugin_w2v.models.norms import ensure_norms

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

MAX_ANCHORS = 50_000  # the default number of anchors: every shared word, at most this many
DEFAULT_TOP = 20
MAX_TOP = 1000
MAX_TRAJECTORY_STEPS = 200
_CHUNK_ROWS = 16_384  # rows rotated at once (20 MB of float32 at 300 dimensions)
_RANKINGS_KEPT = 4  # orders by drift kept per alignment (one per restrict_vocab asked)


@dataclass(frozen=True)
class SharedVocabulary:
    """Rows of the words both models have, in A's frequency order (``rows_a[i]`` and
    ``rows_b[i]`` hold the same word)."""

    rows_a: np.ndarray
    rows_b: np.ndarray

    def __len__(self) -> int:
        return len(self.rows_a)


def shared_vocabulary(
    kv_a: KeyedVectors, kv_b: KeyedVectors, counts_known_a: bool = True
) -> SharedVocabulary:
    """The words of ``kv_a`` that ``kv_b`` also has, most frequent in A first."""
    get = kv_b.key_to_index.get
    n = len(kv_a.index_to_key)
    b_of_a = np.fromiter((get(w, -1) for w in kv_a.index_to_key), dtype=np.int64, count=n)
    order = queries.frequency_order(kv_a, counts_known_a)
    rows_a = order[b_of_a[order] >= 0]
    return SharedVocabulary(rows_a, b_of_a[rows_a])


def _unit(kv: KeyedVectors, rows: np.ndarray) -> np.ndarray:
    """Unit rows of ``kv`` in float64 (zero vectors stay zero), with the model's norms."""
    norms = np.asarray(ensure_norms(kv)[rows], dtype=np.float64)
    return np.asarray(kv.vectors[rows], dtype=np.float64) / np.where(norms > 0, norms, 1)[:, None]


def anchor_rotation(
    kv_a: KeyedVectors, kv_b: KeyedVectors, rows_a: np.ndarray, rows_b: np.ndarray
) -> np.ndarray:
    """``argmin_{Q orthogonal} ‖B_S Q − A_S‖_F`` for the anchors' unit rows ``B_S``, ``A_S``: the SVD
    solution ``U Vᵀ`` of ``B_Sᵀ A_S = U Σ Vᵀ``, as ``scipy.linalg.orthogonal_procrustes(B_S, A_S)``
    computes it, with the cross product summed in float64 over chunks of rows: word vectors often
    share a dominant direction, so the cross product's singular values span five orders of
    magnitude (Lee corpus models: 1,000 to 0.001) and a float32 sum would move the rotation by 4e-4."""
    cross = np.zeros((kv_b.vector_size, kv_a.vector_size), dtype=np.float64)
    for start in range(0, len(rows_a), _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        cross += _unit(kv_b, rows_b[start:stop]).T @ _unit(kv_a, rows_a[start:stop])
    u, _w, vt = np.linalg.svd(cross)
    return u @ vt


@dataclass(frozen=True)
class Ranking:
    """The first ``considered`` shared words ordered by drift (words whose drift is not a number,
    zero vectors, left out): positions most changed first and least changed first, ties in
    frequency order, and their drifts ascending, for ranks."""

    considered: int
    descending: np.ndarray
    ascending: np.ndarray
    sorted_drifts: np.ndarray

    @classmethod
    def of(cls, drifts: np.ndarray, considered: int) -> Ranking:
        values = drifts[:considered]
        finite = np.flatnonzero(np.isfinite(values))
        ascending = finite[np.argsort(values[finite], kind="stable")]
        descending = finite[np.argsort(-values[finite], kind="stable")]
        return cls(considered, descending, ascending, values[ascending])

    def rank(self, drift: float) -> int | None:
        """1 + how many of the considered words moved more than ``drift`` (1 = moved most)."""
        if not np.isfinite(drift):
            return None
        return len(self.sorted_drifts) - int(np.searchsorted(self.sorted_drifts, drift, side="right")) + 1

    @property
    def nbytes(self) -> int:
        return self.descending.nbytes + self.ascending.nbytes + self.sorted_drifts.nbytes


@dataclass
class Alignment:
    """Model B rotated onto model A: the rotation, the shared vocabulary and the anchors.

    Holds no reference to the models, so a cache of alignments never keeps a model in memory.
    """

    rotation: np.ndarray
    shared: SharedVocabulary
    anchors: int
    _drift: np.ndarray | None = field(default=None, repr=False)
    _position: np.ndarray | None = field(default=None, repr=False)
    _rankings: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def nbytes(self) -> int:
        arrays = (self.rotation, self.shared.rows_a, self.shared.rows_b, self._drift, self._position)
        return sum(a.nbytes for a in arrays if a is not None) + sum(r.nbytes for r in self._rankings.values())

    def drift_of_rows(self, kv_a: KeyedVectors, kv_b: KeyedVectors, rows_a, rows_b) -> np.ndarray:
        """``1 − cos(a_w, b_w R)`` of word rows given in each model (float32; NaN for a zero vector)."""
        rows_a, rows_b = np.asarray(rows_a, np.int64), np.asarray(rows_b, np.int64)
        norms_a, norms_b = ensure_norms(kv_a), ensure_norms(kv_b)
        rotation = self.rotation.astype(np.float32)
        out = np.empty(len(rows_a), dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            for start in range(0, len(rows_a), _CHUNK_ROWS):
                ra, rb = rows_a[start : start + _CHUNK_ROWS], rows_b[start : start + _CHUNK_ROWS]
                rotated = np.asarray(kv_b.vectors[rb], np.float32) @ rotation
                dots = np.einsum("ij,ij->i", np.asarray(kv_a.vectors[ra], np.float32), rotated)
                out[start : start + len(ra)] = 1 - dots / (norms_a[ra] * norms_b[rb])
        return out

    def drift(self, kv_a: KeyedVectors, kv_b: KeyedVectors) -> np.ndarray:
        """The drift of every shared word, in the shared vocabulary's order (computed once)."""
        with self._lock:
            if self._drift is None:
                self._drift = self.drift_of_rows(kv_a, kv_b, self.shared.rows_a, self.shared.rows_b)
            return self._drift

    def ranking(self, kv_a: KeyedVectors, kv_b: KeyedVectors, restrict_vocab: int | None = None) -> Ranking:
        """The first ``restrict_vocab`` shared words (default all) ordered by drift; the last
        :data:`_RANKINGS_KEPT` orders asked are kept."""
        drifts = self.drift(kv_a, kv_b)
        considered = min(restrict_vocab or len(drifts), len(drifts))
        with self._lock:
            found = self._rankings.get(considered)
            if found is None:
                found = self._rankings[considered] = Ranking.of(drifts, considered)
                while len(self._rankings) > _RANKINGS_KEPT:
                    self._rankings.popitem(last=False)
            self._rankings.move_to_end(considered)
            return found

    def position(self, kv_a: KeyedVectors) -> np.ndarray:
        """``[row of A]`` → index in the shared vocabulary, ``-1`` for words B lacks."""
        with self._lock:
            if self._position is None:
                position = np.full(len(kv_a.index_to_key), -1, dtype=np.int64)
                position[self.shared.rows_a] = np.arange(len(self.shared))
                self._position = position
            return self._position


def check_dimensions(kv_a: KeyedVectors, kv_b: KeyedVectors) -> None:
    if kv_a.vector_size != kv_b.vector_size:
        raise InvalidArgument(
            f"the two models have different dimensions ({kv_a.vector_size} and {kv_b.vector_size}); "
            "alignment needs the same dimension",
            dims=[int(kv_a.vector_size), int(kv_b.vector_size)],
        )


def align(
    kv_a: KeyedVectors, kv_b: KeyedVectors, anchors: int | None = None, counts_known_a: bool = True
) -> Alignment:
    """Rotate ``kv_b`` onto ``kv_a`` with the ``anchors`` most frequent shared words (A's order;
    default all shared words, at most :data:`MAX_ANCHORS`)."""
    check_dimensions(kv_a, kv_b)
    if anchors is not None and anchors < 1:
        raise InvalidArgument(f"anchors must be at least 1, got {anchors}")
    shared = shared_vocabulary(kv_a, kv_b, counts_known_a)
    if not len(shared):
        raise NotFound("the two models share no words")
    n = min(len(shared), anchors if anchors is not None else MAX_ANCHORS)
    rotation = anchor_rotation(kv_a, kv_b, shared.rows_a[:n], shared.rows_b[:n])
    return Alignment(rotation, shared, n)


class AlignmentCache:
    """Alignments (and the drift they computed) kept by a caller's key, least recently used
    dropped beyond ``max_bytes``; concurrent requests for one key compute it once.

    The key must name both model versions and the anchors, e.g.
    ``(identity_a, identity_b, anchors)``.
    """

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Alignment] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(
        self,
        key: Hashable,
        kv_a: KeyedVectors,
        kv_b: KeyedVectors,
        anchors: int | None = None,
        counts_known_a: bool = True,
    ) -> tuple[Alignment, bool]:
        """``(alignment, cached)``."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key], True
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key], True
            try:
                alignment = align(kv_a, kv_b, anchors, counts_known_a)
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                self._entries[key] = alignment
                self._trim()
            return alignment, False

    def _trim(self) -> None:
        total = sum(a.nbytes for a in self._entries.values())
        while total > self.max_bytes and len(self._entries) > 1:
            _key, dropped = self._entries.popitem(last=False)
            total -= dropped.nbytes

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class DriftReport:
    """What :func:`report` found; ``words`` keep the order they were asked in."""

    anchors: int
    shared: int
    considered: int
    most_changed: list[tuple[str, float]]
    least_changed: list[tuple[str, float]]
    words: list[tuple[str, float | None, int | None]]

    def to_json(self) -> dict:
        def number(value):
            return None if value is None or not np.isfinite(value) else float(value)

        return {
            "anchors": self.anchors,
            "shared": self.shared,
            "considered": self.considered,
            "most_changed": [{"word": w, "drift": number(d)} for w, d in self.most_changed],
            "least_changed": [{"word": w, "drift": number(d)} for w, d in self.least_changed],
            "words": [{"word": w, "drift": number(d), "rank": r} for w, d, r in self.words],
        }


def report(
    alignment: Alignment,
    kv_a: KeyedVectors,
    kv_b: KeyedVectors,
    top: int = DEFAULT_TOP,
    restrict_vocab: int | None = None,
    words: Sequence[str] = (),
) -> DriftReport:
    """The ``top`` words of largest and smallest drift among the ``restrict_vocab`` most frequent
    shared words (default all), and each of ``words`` with its drift and rank there (1 = most
    changed; a word outside those ranks among them by its drift). :class:`NotFound` names a
    word that is not in both models."""
    if top < 0:
        raise InvalidArgument(f"top must be at least 0, got {top}")
    values = alignment.drift(kv_a, kv_b)
    ranking = alignment.ranking(kv_a, kv_b, restrict_vocab)

    def named(positions) -> list[tuple[str, float]]:
        return [(kv_a.index_to_key[alignment.shared.rows_a[p]], float(values[p])) for p in positions]

    asked = []
    position = alignment.position(kv_a) if words else None
    for word in words:
        for kv, which in ((kv_a, "A"), (kv_b, "B")):
            if word not in kv.key_to_index:
                raise NotFound(
                    f"word {word!r} is not in model {which}'s vocabulary",
                    word=word,
                    suggestions=queries.suggest(kv, word),
                )
        value = float(values[position[kv_a.key_to_index[word]]])
        asked.append((word, value, ranking.rank(value)))
    return DriftReport(
        alignment.anchors,
        len(alignment.shared),
        ranking.considered,
        named(ranking.descending[:top]),
        named(ranking.ascending[:top]),
        asked,
    )


def drift(
    kv_a: KeyedVectors,
    kv_b: KeyedVectors,
    anchors: int | None = None,
    top: int = DEFAULT_TOP,
    restrict_vocab: int | None = None,
    words: Sequence[str] = (),
    counts_known_a: bool = True,
) -> DriftReport:
    """Align ``kv_b`` onto ``kv_a`` and report the words that moved most and least."""
    alignment = align(kv_a, kv_b, anchors, counts_known_a)
    return report(alignment, kv_a, kv_b, top=top, restrict_vocab=restrict_vocab, words=words)


def sample_steps(steps: Sequence[int], limit: int = MAX_TRAJECTORY_STEPS) -> list[int]:
    """At most ``limit`` of ``steps``, evenly spread, always with the first and the last.

    >>> sample_steps(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    if len(steps) <= limit:
        return list(steps)
    picks = np.unique(np.round(np.linspace(0, len(steps) - 1, limit)).astype(int))
    return [steps[i] for i in picks]


@dataclass
class TrajectoryStep:
    step: int
    drift: float | None
    neighbors: list[queries.Neighbor]
    in_vocabulary: bool = True

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "drift": self.drift,
            "in_vocabulary": self.in_vocabulary,
            "neighbors": [{"word": n.word, "similarity": n.similarity} for n in self.neighbors],
        }


def trajectory_step(
    step: int,
    alignment: Alignment | None,
    kv_last: KeyedVectors,
    kv: KeyedVectors,
    word: str,
    k: int,
    index=None,
) -> TrajectoryStep:
    """One step of a word's trajectory: its drift from the last step (``alignment`` rotates this
    step onto the last one) and its ``k`` nearest neighbours at this step (through ``index``, a
    search index of ``kv``, when given)."""
    if word not in kv.key_to_index:
        return TrajectoryStep(step, None, [], in_vocabulary=False)
    value = None
    if alignment is not None and word in kv_last.key_to_index:
        d = alignment.drift_of_rows(kv_last, kv, [kv_last.key_to_index[word]], [kv.key_to_index[word]])[0]
        value = float(d) if np.isfinite(d) else None
    return TrajectoryStep(step, value, queries.neighbors(kv, word, k=k, index=index))


def trajectory(
    models: Sequence[tuple[int, KeyedVectors]],
    word: str,
    k: int = 10,
    anchors: int | None = None,
    counts_known: bool = True,
) -> list[TrajectoryStep]:
    """``word`` over training steps ``models`` (``(step, kv)``, oldest first): every step aligned
    onto the last, at most :data:`MAX_TRAJECTORY_STEPS` steps (evenly sampled)."""
    if len(models) < 2:
        raise InvalidArgument(f"a trajectory needs at least two steps, the model has {len(models)}")
    by_step = dict(models)
    steps = sample_steps([s for s, _ in models])
    kv_last = by_step[steps[-1]]
    if not any(word in by_step[s].key_to_index for s in steps):
        raise NotFound(
            f"word {word!r} is in none of the steps' vocabularies",
            word=word,
            suggestions=queries.suggest(kv_last, word),
        )
    out = []
    for step in steps:
        kv = by_step[step]
        both = word in kv.key_to_index and word in kv_last.key_to_index
        alignment = align(kv_last, kv, anchors, counts_known) if both else None
        out.append(trajectory_step(step, alignment, kv_last, kv, word, k))
    return out
