"""Benchmarks of a ``KeyedVectors``: word analogies and word-pair similarity, with gensim's numbers.

The figures are those of gensim's ``evaluate_word_analogies`` and ``evaluate_word_pairs``
(same ``restrict_vocab``, same case-insensitive matching, same skipping of out-of-vocabulary
questions), computed with batched matrix products instead of one ``most_similar`` per question:

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> kv = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> result = evaluate_analogies(kv, builtin("analogies"))
    >>> result.total.correct + result.total.incorrect, result.oov == result.questions
    (0, True)

Analogies are solved with 3CosAdd (gensim's ``most_similar``) or 3CosMul. gensim's evaluation
only uses ``most_similar``; 3CosMul here is that same evaluation with ``most_similar_cosmul``
asked instead, on the model restricted to its first ``restrict_vocab`` words (gensim 4.4's
``most_similar_cosmul`` ignores its own ``restrict_vocab`` argument, so the restriction is
applied to the model itself).

Candidates are found with float32 matrix products over chunks of the vocabulary. When the
order that decides a question is closer than rounding error could explain (a near or exact
tie), that one question is solved again with gensim's own ``most_similar`` /
``most_similar_cosmul`` on the same arrays, so ties break exactly as gensim breaks them.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from gensim import matutils
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from scipy import sparse, stats

from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.errors import BadRequest, Busy, Conflict, NotFound, Word2VecError
from tensorboard_plugin_w2v.search.index import row_norms

logger = logging.getLogger(__name__)

KIND_ANALOGIES = "analogies"
KIND_PAIRS = "pairs"
METHOD_3COSADD = "3cosadd"
METHOD_3COSMUL = "3cosmul"
METHODS = (METHOD_3COSADD, METHOD_3COSMUL)
DEFAULT_RESTRICT_VOCAB = 300_000  # gensim's default
SOURCE_BUILTIN = "builtin"
SOURCE_FILE = "file"

# Built-in benchmarks: the files shipped inside the gensim wheel.
BUILTINS = {
    "analogies": (KIND_ANALOGIES, "questions-words.txt"),
    "wordsim353": (KIND_PAIRS, "wordsim353.tsv"),
    "simlex999": (KIND_PAIRS, "simlex999.txt"),
}

_TOPN = 5  # gensim's evaluate_word_analogies asks most_similar for 5 words
_CANDIDATES = 10  # kept per question: gensim's 5 + 3 inputs, plus the next ones to detect ties
# Largest difference between a float32 cosine from one matrix product and gensim's own float32
# cosine for the same pair is about 1e-6 (measured: 9e-7); gaps below twice this bound on
# each side are treated as possible ties.
_COSINE_ERROR = 2e-6
_COSMUL_EPSILON = 0.000001  # gensim's most_similar_cosmul denominator guard
_CHUNK_ELEMENTS = 1 << 23  # float32 scores held at once (32 MB)
_QUESTION_BLOCK = 8192  # questions sharing one pass over the vocabulary
_MISTAKES_KEPT = 5


class BenchmarkError(Word2VecError):
    """A benchmark file that cannot be read or parsed."""

    http_status = 422


# -- benchmark files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """A benchmark file: ``kind`` is ``"analogies"`` or ``"pairs"``."""

    name: str
    kind: str
    path: str
    source: str = SOURCE_BUILTIN

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source}


def builtin(name: str) -> Benchmark:
    """One of :data:`BUILTINS` (``analogies``, ``wordsim353``, ``simlex999``)."""
    if name not in BUILTINS:
        raise NotFound(f"unknown benchmark {name!r}", known_benchmarks=sorted(BUILTINS))
    kind, filename = BUILTINS[name]
    return Benchmark(name, kind, datapath(filename), SOURCE_BUILTIN)


def benchmark_file(path: str, name: str | None = None, source: str = SOURCE_FILE) -> Benchmark:
    """A user's benchmark file; its kind is read from its content.

    A file with ``: section`` lines holds analogies (``questions-words.txt`` format); any other
    file holds tab-separated word pairs with a score (``wordsim353.tsv`` format).
    """
    try:
        head = fileio.read_head(path, 1 << 16)
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None
    kind = KIND_PAIRS
    for line in head.split(b"\n"):
        if line.startswith(b": "):
            kind = KIND_ANALOGIES
            break
        if line.strip() and not line.startswith(b"#"):
            break
    return Benchmark(name or path.replace("\\", "/").rsplit("/", 1)[-1], kind, path, source)


def find_benchmarks(folders: Sequence[tuple[str, str]]) -> dict[str, Benchmark]:
    """Built-in benchmarks plus the files in ``folders`` (``(folder, source)`` pairs, later wins).

    File benchmarks are named by their file name, e.g. ``my_questions.txt``.
    """
    found = {name: builtin(name) for name in BUILTINS}
    for folder, source in folders:
        if not fileio.isdir(folder):
            continue
        for _dir, _subdirs, files in fileio.walk(folder):
            for name in sorted(files):
                if not name.startswith(".") and name not in BUILTINS:
                    try:
                        found[name] = benchmark_file(fileio.join(folder, name), name, source)
                    except BenchmarkError as exc:  # one unreadable file must not hide the others
                        logger.warning("skipping benchmark %s: %s", name, exc.message)
            break
    return found


def section_category(name: str) -> str:
    """``syntactic`` for the Google set's ``gram*`` sections, else ``semantic``."""
    return "syntactic" if name.lower().startswith("gram") else "semantic"


@dataclass(frozen=True)
class AnalogyFile:
    """A parsed analogy file: question ``q`` is ``words[ids[q]]`` in section ``sections[section_of[q]]``."""

    sections: tuple[str, ...]
    words: tuple[str, ...]
    ids: np.ndarray
    section_of: np.ndarray

    def question(self, q: int) -> tuple[str, str, str, str]:
        a, b, c, d = self.ids[q]
        return self.words[a], self.words[b], self.words[c], self.words[d]


@dataclass(frozen=True)
class PairSet:
    pairs: tuple[tuple[str, str, float], ...]


def _read_bytes(path: str) -> bytes:
    try:
        with fileio.open_binary(path) as f:
            return f.read()
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None


def _identity(path: str) -> fileio.FileIdentity:
    try:
        return fileio.stat(path)
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None


def read_analogies(path: str, case_insensitive: bool = True) -> AnalogyFile:
    """An analogy file parsed as gensim parses it (lines not of 4 words are skipped).

    >>> read_analogies(builtin("analogies").path).sections[:2]
    ('capital-common-countries', 'capital-world')
    """
    return _read_analogies_cached(_identity(path), case_insensitive)


@lru_cache(maxsize=32)
def _read_analogies_cached(identity: fileio.FileIdentity, case_insensitive: bool) -> AnalogyFile:
    data = _read_bytes(identity.path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise BenchmarkError(f"{identity.path}: line {line_no} is not valid UTF-8") from None
    return _parse_analogies(text, case_insensitive, identity.path)


def _parse_analogies(text: str, case_insensitive: bool, path: str) -> AnalogyFile:
    """gensim's reading of an analogy file, a whole file per call rather than a line per step.

    Lines are the pieces between ``\n`` (gensim reads the file in binary mode); a line starting
    with ``": "`` opens a section; any other line before the first section is an error (except
    the empty piece after a final newline); lines of other than 4 words are skipped.
    """
    starts = [0] if text.startswith(": ") else []
    at = text.find("\n: ")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n: ", at + 1)
    headers, sections, line_no = [], [], 0
    for before, at in itertools.pairwise([0, *starts]):
        line_no += text.count("\n", before, at)
        end = text.find("\n", at)
        headers.append(line_no)
        sections.append(text[at : end if end >= 0 else None].lstrip(": ").strip())
    # Upper-casing the whole text equals upper-casing each word: no character upper-cases to
    # white space or to a line break, so line numbers are those of the original text.
    folded = text.upper() if case_insensitive else text
    if folded.isascii():  # one split of the whole text; words per line counted in numpy
        words, per_line = folded.split(), _words_per_line(folded)
    else:
        parts = [line.split() for line in folded.split("\n")]
        words = list(itertools.chain.from_iterable(parts))
        per_line = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if not headers or headers[0] > 0:
        if not headers and len(per_line) == 1 and not per_line[0]:
            raise BenchmarkError(f"{path}: no ': section' lines; not an analogy file")
        raise BenchmarkError(f"{path}: missing ': section' header before line 1")
    question = per_line == 4  # gensim skips lines of other lengths
    question[headers] = False
    flat = itertools.compress(words, np.repeat(question, per_line).tolist())
    index: defaultdict[str, int] = defaultdict(itertools.count().__next__)  # word → first-seen number
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64).reshape(-1, 4)
    return AnalogyFile(
        tuple(sections),
        tuple(index),
        np.asfortranarray(ids),  # a column per word of the questions: cheap column lookups
        np.searchsorted(headers, np.flatnonzero(question)) - 1,
    )


def _words_per_line(ascii_text: str) -> np.ndarray:
    """How many words ``line.split()`` finds on each line of ``ascii_text.split("\\n")``."""
    chars = np.frombuffer(ascii_text.encode("ascii"), dtype=np.uint8)
    # str.split()'s white space in ASCII: 9-13 and 28-32 (uint8 arithmetic wraps below 0).
    space = ((chars - np.uint8(9)) <= 4) | ((chars - np.uint8(28)) <= 4)
    starts = np.flatnonzero(~space[1:] & space[:-1]) + 1  # where words begin
    if len(chars) and not space[0]:
        starts = np.concatenate(([0], starts))
    before_break = np.searchsorted(starts, np.flatnonzero(chars == 10))  # words before each "\\n"
    return np.diff(before_break, prepend=0, append=len(starts))


def read_pairs(path: str, case_insensitive: bool = True, delimiter: str = "\t") -> PairSet:
    """Word pairs with a human score, parsed as gensim parses them (``#`` lines are comments)."""
    return _read_pairs_cached(_identity(path), case_insensitive, delimiter)


@lru_cache(maxsize=32)
def _read_pairs_cached(identity: fileio.FileIdentity, case_insensitive: bool, delimiter: str) -> PairSet:
    try:
        text = _read_bytes(identity.path).decode("utf-8")
    except UnicodeDecodeError:
        raise BenchmarkError(f"{identity.path}: the file is not valid UTF-8") from None
    pairs = []
    for line in io.StringIO(text, newline=None):
        if not line or line.startswith("#"):
            continue
        parts = line.split(delimiter)
        if len(parts) != 3:
            continue
        a, b, score = (p.upper() for p in parts) if case_insensitive else parts
        try:
            value = float(score)
        except ValueError:
            continue
        pairs.append((a, b, value))
    return PairSet(tuple(pairs))


# -- shared numerics -----------------------------------------------------------------------


def model_norms(kv: KeyedVectors) -> np.ndarray:
    """``kv.norms`` if filled, else the same values computed in chunks (the model is left as it is)."""
    return kv.norms if kv.norms is not None else row_norms(kv.vectors)


_OK_VOCAB_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_OK_VOCAB_LOCK = threading.Lock()


def _per_model(kv: KeyedVectors, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()``, kept per model (loaded models are never modified) for as long as it lives."""
    with _OK_VOCAB_LOCK:
        cached = _OK_VOCAB_CACHE.get(kv)
        if cached is not None and key in cached:
            return cached[key]
    value = build()
    with _OK_VOCAB_LOCK:
        return _OK_VOCAB_CACHE.setdefault(kv, {}).setdefault(key, value)


def ok_vocab(kv: KeyedVectors, restrict_vocab: int | None, case_insensitive: bool = True) -> dict[str, int]:
    """gensim's lookup table: key (upper-cased) → index of its first, most frequent, variant.

    Kept per model for as long as the model lives, since every evaluation of it needs the same
    table; callers must not change it.
    """

    def build() -> dict[str, int]:
        table: dict[str, int] = {}
        for i, word in enumerate(kv.index_to_key[:restrict_vocab]):
            table.setdefault(word.upper() if case_insensitive else word, i)
        return table

    return _per_model(kv, ("table", restrict_vocab, case_insensitive, len(kv.index_to_key)), build)


def _folded_rows(kv: KeyedVectors, restrict_vocab: int | None, case_insensitive: bool = True) -> np.ndarray:
    """``[i]``: the row :func:`ok_vocab` gives word ``i``'s (upper-cased) key, for the first
    ``restrict_vocab`` words; equal rows mean equal keys. Kept per model like the table."""

    def build() -> np.ndarray:
        table = ok_vocab(kv, restrict_vocab, case_insensitive)
        keys = kv.index_to_key[:restrict_vocab]
        folded = map(str.upper, keys) if case_insensitive else keys
        return np.fromiter(map(table.__getitem__, folded), dtype=np.int64, count=len(keys))

    return _per_model(kv, ("rows", restrict_vocab, case_insensitive, len(kv.index_to_key)), build)


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
            self._merge_sparse(row, col + offset, scores.ravel()[flat])

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

    def _merge_sparse(self, row: np.ndarray, index: np.ndarray, score: np.ndarray) -> None:
        rows, counts = np.unique(row, return_counts=True)
        all_row = np.concatenate([np.repeat(rows, self.m), row])
        all_score = np.concatenate([self.score[rows].ravel(), score])
        all_index = np.concatenate([self.index[rows].ravel(), index])
        order = np.lexsort((-all_score, all_row))  # by row, best first within a row
        starts = np.repeat(np.cumsum(counts + self.m) - (counts + self.m), counts + self.m)
        keep = order[np.arange(len(order)) - starts < self.m]
        self.score[rows] = all_score[keep].reshape(-1, self.m)
        self.index[rows] = all_index[keep].reshape(-1, self.m)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each rows × m, best first; missing entries are -1 / -inf."""
        order = np.argsort(-self.score, axis=1, kind="stable")
        return np.take_along_axis(self.index, order, axis=1), np.take_along_axis(self.score, order, axis=1)


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


# -- analogies -----------------------------------------------------------------------------


@dataclass
class SectionResult:
    """One section's outcome; ``correct``/``incorrect`` hold the (upper-cased) questions as gensim does."""

    name: str
    category: str
    questions: int = 0  # well-formed questions of this section, out-of-vocabulary ones included
    oov: int = 0  # ... of which skipped for an out-of-vocabulary word
    correct: list[tuple[str, str, str, str]] = field(default_factory=list)
    incorrect: list[tuple[str, str, str, str]] = field(default_factory=list)
    mistakes: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        n = len(self.correct) + len(self.incorrect)
        return len(self.correct) / n if n else None

    def to_json(self) -> dict:
        return {
            "section": self.name,
            "category": self.category,
            "questions": self.questions,
            "oov": self.oov,
            "correct": len(self.correct),
            "incorrect": len(self.incorrect),
            "total": len(self.correct) + len(self.incorrect),
            "accuracy": self.accuracy,
            "mistakes": self.mistakes,
        }


@dataclass
class Tally:
    correct: int
    incorrect: int

    @property
    def accuracy(self) -> float | None:
        n = self.correct + self.incorrect
        return self.correct / n if n else None

    def to_json(self) -> dict:
        return {
            "correct": self.correct,
            "incorrect": self.incorrect,
            "total": self.correct + self.incorrect,
            "accuracy": self.accuracy,
        }


@dataclass
class AnalogyResult:
    """gensim's figures: ``total.accuracy`` is its score, ``sections`` its per-section lists."""

    benchmark: Benchmark
    method: str
    restrict_vocab: int | None
    sections: list[SectionResult]
    questions: int  # gensim's quadruplets_no: well-formed questions, OOV included
    oov: int
    seconds: float
    exact_rechecks: int = 0  # near-ties solved again with gensim itself

    def _tally(self, sections: list[SectionResult]) -> Tally:
        return Tally(sum(len(s.correct) for s in sections), sum(len(s.incorrect) for s in sections))

    @property
    def total(self) -> Tally:
        return self._tally(self.sections)

    @property
    def semantic(self) -> Tally:
        return self._tally([s for s in self.sections if s.category == "semantic"])

    @property
    def syntactic(self) -> Tally:
        return self._tally([s for s in self.sections if s.category == "syntactic"])

    @property
    def oov_ratio(self) -> float | None:
        """Percent of questions skipped for out-of-vocabulary words (gensim's figure)."""
        return 100.0 * self.oov / self.questions if self.questions else None

    def to_json(self) -> dict:
        return {
            "benchmark": self.benchmark.name,
            "kind": KIND_ANALOGIES,
            "source": self.benchmark.source,
            "method": self.method,
            "restrict_vocab": self.restrict_vocab,
            "questions": self.questions,
            "oov": self.oov,
            "oov_ratio": self.oov_ratio,
            "total": self.total.to_json(),
            "semantic": self.semantic.to_json(),
            "syntactic": self.syntactic.to_json(),
            "sections": [s.to_json() for s in self.sections],
            "seconds": round(self.seconds, 4),
            "exact_rechecks": self.exact_rechecks,
        }


def evaluate_analogies(
    kv: KeyedVectors,
    benchmark: Benchmark | str,
    method: str = METHOD_3COSADD,
    restrict_vocab: int | None = DEFAULT_RESTRICT_VOCAB,
    case_insensitive: bool = True,
    progress: Progress | None = None,
) -> AnalogyResult:
    """gensim's ``kv.evaluate_word_analogies(path, restrict_vocab, case_insensitive)``, batched.

    ``benchmark`` is a :class:`Benchmark` or a path. Out-of-vocabulary questions are skipped and
    counted; ``result.total.accuracy`` equals gensim's score (``None`` where gensim says 0.0
    for an empty evaluation). ``progress`` is told how many questions are answered, and a
    cancelled one stops the evaluation with :class:`Cancelled`.
    """
    started = time.perf_counter()
    if isinstance(benchmark, str):
        benchmark = benchmark_file(benchmark)
    if method not in METHODS:
        raise BadRequest(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if restrict_vocab is not None and restrict_vocab < 1:
        raise BadRequest("restrict_vocab must be at least 1")
    parsed = read_analogies(benchmark.path, case_insensitive)
    table = ok_vocab(kv, restrict_vocab, case_insensitive)
    limit = len(kv.index_to_key) if restrict_vocab is None else min(restrict_vocab, len(kv.index_to_key))
    questions = len(parsed.ids)
    if not questions:
        raise BenchmarkError(f"{benchmark.name}: no well-formed questions")
    known_words = np.fromiter(
        map(table.get, parsed.words, itertools.repeat(-1)), dtype=np.int64, count=len(parsed.words)
    )
    known = known_words >= 0
    ids = parsed.ids  # column-major from the parser: each word position is one contiguous lookup
    asked = np.flatnonzero(known[ids[:, 0]] & known[ids[:, 1]] & known[ids[:, 2]] & known[ids[:, 3]])
    oov = questions - len(asked)

    per_section = np.bincount(parsed.section_of, minlength=len(parsed.sections))
    asked_per_section = np.bincount(parsed.section_of[asked], minlength=len(parsed.sections))
    sections = [
        SectionResult(name, section_category(name), int(n), int(n - m))
        for name, n, m in zip(parsed.sections, per_section, asked_per_section, strict=True)
    ]
    folded = _folded_rows(kv, restrict_vocab, case_insensitive)
    solver = _Solver(kv, table, folded, limit, method, case_insensitive)
    progress = progress or Progress()
    progress.total = len(asked)
    for start in range(0, len(asked), _QUESTION_BLOCK):
        progress.check(start)
        block = asked[start : start + _QUESTION_BLOCK]
        words = parsed.words
        texts = [(words[a], words[b], words[c], words[d]) for a, b, c, d in ids[block].tolist()]
        predictions = solver.solve(known_words[ids[block, :3]], texts)
        for section_no, text, predicted in zip(
            parsed.section_of[block].tolist(), texts, predictions, strict=True
        ):
            section = sections[section_no]
            if predicted == text[3]:
                section.correct.append(text)
            else:
                section.incorrect.append(text)
                if len(section.mistakes) < _MISTAKES_KEPT:
                    section.mistakes.append({"question": list(text), "predicted": predicted})
    progress.check(len(asked))
    return AnalogyResult(
        benchmark,
        method,
        restrict_vocab,
        sections,
        questions,
        oov,
        time.perf_counter() - started,
        solver.rechecks,
    )


class _Solver:
    """Predicts analogy answers as gensim's evaluation does, many questions per matrix product."""

    def __init__(
        self,
        kv: KeyedVectors,
        table: dict[str, int],
        folded: np.ndarray,
        limit: int,
        method: str,
        case_insensitive: bool,
    ):
        self.kv, self.table, self.limit, self.method = kv, table, limit, method
        self.folded = folded
        self.case_insensitive = case_insensitive
        self.vectors = kv.vectors
        self.norms = model_norms(kv)
        self.rechecks = 0
        self._logs: tuple | None = None  # 3CosMul on one chunk: its log rows and word positions
        self._shell: KeyedVectors | None = None

    def solve(self, idx: np.ndarray, block: list[tuple[str, str, str, str]]) -> list[str | None]:
        """Predictions for questions ``block`` whose a, b, c words have model indices ``idx``."""
        cand_index, cand_score = self._candidates(idx)
        trusted_upto = self._trusted_prefix(idx, cand_index, cand_score)
        chosen, decisive = self._choose(idx, cand_index)
        trusted = trusted_upto[np.arange(len(idx)), decisive]
        # Fewer finite scores than gensim's window (tiny vocabularies, zero vectors, 3CosMul's
        # log 0): gensim's list then holds NaN or -inf words too, in an order only it knows.
        trusted &= np.isfinite(cand_score).sum(axis=1) >= _TOPN + idx.shape[1]
        trusted = trusted.tolist()
        keys = self.kv.index_to_key
        out = []
        for i, ok, q in zip(chosen.tolist(), trusted, block, strict=True):
            if not ok:
                self.rechecks += 1
                out.append(self._decide_exactly(q))
            elif i < 0:
                out.append(None)
            else:
                out.append(keys[i].upper() if self.case_insensitive else keys[i])
        return out

    def _choose(self, idx: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """gensim's answer among each question's candidates: ``(row or -1, its position)``.

        gensim takes the top (5 + inputs) words, drops the inputs, keeps the first 5, and
        answers with the first of those whose case-folded key is not a question word, else with
        the last one. Every candidate's key is in gensim's table (candidates are among its first
        ``limit`` words), and a key equals a question word exactly when its table rows are equal.
        """
        a, b, c = idx[:, 0:1], idx[:, 1:2], idx[:, 2:3]
        if self.method == METHOD_3COSMUL:  # most_similar_cosmul counts distinct inputs
            excluded = 1 + (b != a) + ((c != a) & (c != b))
        else:
            excluded = idx.shape[1]
        window = np.arange(cand.shape[1]) < _TOPN + excluded
        listed = window & (cand >= 0) & (cand != a) & (cand != b) & (cand != c)
        folded = self.folded[np.maximum(cand, 0)]
        fresh = (folded != a) & (folded != b) & (folded != c)
        answer = listed & (fresh | (np.cumsum(listed, axis=1) == _TOPN))
        last = cand.shape[1] - 1 - np.argmax(listed[:, ::-1], axis=1)
        decisive = np.where(answer.any(axis=1), np.argmax(answer, axis=1), last)
        some = listed.any(axis=1)
        decisive[~some] = 0
        chosen = np.where(some, cand[np.arange(len(cand)), decisive], -1)
        return chosen, decisive

    def _candidates(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top candidates of each question (a, b, c indices) over the first ``limit`` words.

        Per vocabulary chunk, one dense product gives the cosines of the chunk's words with
        each distinct question word, and three of those rows are combined per question:
        3CosAdd ``(cos_b + cos_c - cos_a) / |u_b + u_c - u_a|`` (the cosine with gensim's
        normalised mean); 3CosMul ``log p_b + log p_c - log(p_a + 1e-6)`` with
        ``p = (1 + cos) / 2``, the logarithm of gensim's score (same order), exponentiated at
        the end. A vocabulary that fits in one chunk is combined with three row gathers and
        its best columns picked at once; larger ones go through a sparse product per chunk
        and a running :class:`TopK`.
        """
        vectors, norms = self.vectors, self.norms
        self._logs = None
        words, where = np.unique(idx, return_inverse=True)
        wa, wb, wc = where.reshape(idx.shape).T
        n_q, n_w = len(idx), len(words)
        with np.errstate(divide="ignore", invalid="ignore"):
            units = (vectors[words] / norms[words][:, None]).astype(np.float32)
            length = np.linalg.norm(units[wb] + units[wc] - units[wa], axis=1)
            self._inverse_length = (1 / np.where(length > 0, length, 1)).astype(np.float32)
        m = min(_CANDIDATES, self.limit)
        step = chunk_rows(n_q)
        if self.limit <= step:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                cosines = self._chunk(units, 0, self.limit)
                scores = self._combine(cosines, wa, wb, wc)
            if self.method == METHOD_3COSMUL:
                self._logs = (cosines, wa, wb, wc)
            index, score = top_columns(scores, m)
            return index, (np.exp(score) if self.method == METHOD_3COSMUL else score)
        rows = np.tile(np.arange(n_q), 3)
        if self.method == METHOD_3COSADD:
            il = self._inverse_length
            weights, columns, width = np.concatenate([il, il, -il]), np.concatenate([wb, wc, wa]), n_w
        else:
            weights = np.repeat(np.float32([1, 1, -1]), n_q)
            columns, width = np.concatenate([wb, wc, n_w + wa]), 2 * n_w
        combine = sparse.csr_matrix((weights, (rows, columns)), shape=(n_q, width), dtype=np.float32)
        topk = TopK(n_q, m)
        first = min(step, 1024)  # a small first chunk sets each question's bar early
        starts = [0, *range(first, self.limit, step)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for start, stop in zip(starts, [*starts[1:], self.limit], strict=True):
                if start < stop:
                    cosines = self._chunk(units, start, stop)
                    topk.push(start, np.asarray(combine @ cosines, dtype=np.float32))
        index, score = topk.result()
        return index, (np.exp(score) if self.method == METHOD_3COSMUL else score)

    def _chunk(self, units: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Cosines of words ``start…stop`` with ``units``; for 3CosMul, the rows ``log p`` then
        the rows ``log(p + 1e-6)``."""
        cosines = dot_t(units, self.vectors[start:stop])
        cosines *= (1 / self.norms[start:stop]).astype(np.float32)
        if self.method == METHOD_3COSADD:
            return cosines
        n_w = len(units)
        shifted = np.empty((2 * n_w, stop - start), dtype=np.float32)
        np.add(cosines, 1, out=cosines)
        np.multiply(cosines, np.float32(0.5), out=cosines)
        np.log(cosines, out=shifted[:n_w])
        np.add(cosines, np.float32(_COSMUL_EPSILON), out=shifted[n_w:])
        np.log(shifted[n_w:], out=shifted[n_w:])
        return shifted

    def _combine(self, cosines: np.ndarray, wa: np.ndarray, wb: np.ndarray, wc: np.ndarray) -> np.ndarray:
        """Each question's scores from its three words' rows of :meth:`_chunk`'s cosines."""
        if self.method == METHOD_3COSADD:
            scores = cosines[wb]
            scores += cosines[wc]
            scores -= cosines[wa]
            scores *= self._inverse_length[:, None]
        else:
            scores = cosines[wb]
            scores += cosines[wc]
            scores -= cosines[len(cosines) // 2 + wa]
        return scores

    def _trusted_prefix(self, idx: np.ndarray, cand: np.ndarray, score: np.ndarray) -> np.ndarray:
        """``[q, j]``: the order of question ``q``'s candidates 0…j+1 is certain (no near tie)."""
        if self.method == METHOD_3COSADD:  # cosines combined, then divided by |u_b + u_c - u_a|
            error = np.repeat(
                _COSINE_ERROR * np.maximum(1, 2 * self._inverse_length)[:, None], score.shape[1], 1
            )
        else:  # 3CosMul multiplies and divides shifted cosines: each error counts relative to it
            safe = np.maximum(cand, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                if self._logs is not None:  # the whole vocabulary's log p rows are at hand
                    logs, wa, wb, wc = self._logs
                    n_w = len(logs) // 2
                    pick = [logs[n_w + wa[:, None], safe], logs[wb[:, None], safe], logs[wc[:, None], safe]]
                    shifted = np.exp(np.stack(pick, axis=2))  # questions × m × (a + 1e-6, b, c)
                else:
                    units = self.vectors[idx] / self.norms[idx][..., None]  # questions × 3 × dim
                    rows = self.vectors[safe] / self.norms[safe][..., None]  # questions × m × dim
                    shifted = (1 + np.einsum("qmd,qwd->qmw", rows, units, dtype=np.float64)) / 2
                    shifted[:, :, 0] += _COSMUL_EPSILON
                error = np.abs(score) * (_COSINE_ERROR / 2 / np.abs(shifted)).sum(axis=2) + _COSINE_ERROR
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(score)
            ok[:, :-1] &= (score[:, :-1] - score[:, 1:]) > error[:, :-1] + error[:, 1:]
        return np.logical_and.accumulate(ok, axis=1)

    def _key(self, index: int) -> str:
        key = self.kv.index_to_key[index]
        return key.upper() if self.case_insensitive else key

    def _decide_exactly(self, q: tuple[str, str, str, str]) -> str | None:
        """One question through gensim's own ``most_similar`` / ``most_similar_cosmul``."""
        shell = self._gensim_shell()
        a, b, c, _expected = q
        if self.method == METHOD_3COSADD:
            sims = shell.most_similar(positive=[b, c], negative=[a], topn=_TOPN, restrict_vocab=self.limit)
        else:
            sims = shell.most_similar_cosmul(positive=[b, c], negative=[a], topn=_TOPN)
        predicted = None
        for word, _sim in sims:
            predicted = word.upper() if self.case_insensitive else word
            if predicted in self.table and predicted not in {a, b, c}:
                break
        return predicted

    def _gensim_shell(self) -> KeyedVectors:
        """A private ``KeyedVectors`` over the same arrays, keyed like gensim's evaluation.

        gensim swaps ``key_to_index`` on the model itself while it evaluates; a shell keeps
        the shared model untouched for concurrent queries. 3CosMul's shell holds only the
        first ``limit`` words (views, not copies).
        """
        if self._shell is None:
            n = len(self.kv.index_to_key) if self.method == METHOD_3COSADD else self.limit
            shell = KeyedVectors(self.kv.vector_size, count=0, dtype=self.vectors.dtype)
            shell.vectors = self.vectors[:n]
            shell.norms = self.norms[:n]
            shell.index_to_key = self.kv.index_to_key[:n]
            shell.key_to_index = self.table
            self._shell = shell
        return self._shell


# -- word pairs ----------------------------------------------------------------------------


@dataclass
class PairsResult:
    """gensim's ``evaluate_word_pairs`` figures: Pearson and Spearman with p-values, OOV ratio."""

    benchmark: Benchmark
    restrict_vocab: int | None
    pairs: int  # well-formed pairs, OOV included
    oov: int
    pearson: float | None
    pearson_pvalue: float | None
    spearman: float | None
    spearman_pvalue: float | None
    seconds: float
    similarities: list[tuple[str, str, float, float]] = field(default_factory=list, repr=False)

    @property
    def oov_ratio(self) -> float | None:
        """Percent of pairs skipped for out-of-vocabulary words (gensim's figure)."""
        return 100.0 * self.oov / self.pairs if self.pairs else None

    def to_json(self) -> dict:
        return {
            "benchmark": self.benchmark.name,
            "kind": KIND_PAIRS,
            "source": self.benchmark.source,
            "restrict_vocab": self.restrict_vocab,
            "pairs": self.pairs,
            "used": self.pairs - self.oov,
            "oov": self.oov,
            "oov_ratio": self.oov_ratio,
            "pearson": {"r": self.pearson, "pvalue": self.pearson_pvalue},
            "spearman": {"rho": self.spearman, "pvalue": self.spearman_pvalue},
            "seconds": round(self.seconds, 4),
        }


def evaluate_pairs(
    kv: KeyedVectors,
    benchmark: Benchmark | str,
    restrict_vocab: int | None = DEFAULT_RESTRICT_VOCAB,
    case_insensitive: bool = True,
    delimiter: str = "\t",
) -> PairsResult:
    """gensim's ``kv.evaluate_word_pairs(path, delimiter, restrict_vocab=…)``, batched.

    Correlations are ``None`` when fewer than two pairs are in the vocabulary (gensim raises).
    """
    started = time.perf_counter()
    if isinstance(benchmark, str):
        benchmark = benchmark_file(benchmark)
    if restrict_vocab is not None and restrict_vocab < 1:
        raise BadRequest("restrict_vocab must be at least 1")
    pair_set = read_pairs(benchmark.path, case_insensitive, delimiter)
    if not pair_set.pairs:
        raise BenchmarkError(f"{benchmark.name}: no well-formed word pairs (word<TAB>word<TAB>score)")
    table = ok_vocab(kv, restrict_vocab, case_insensitive)
    known = [(a, b, s) for a, b, s in pair_set.pairs if a in table and b in table]
    pearson = pearson_p = spearman = spearman_p = None
    similarities: list[tuple[str, str, float, float]] = []
    if known:
        # gensim's similarity: dot(unitvec(a), unitvec(b)), each unit vector computed once.
        units = {i: matutils.unitvec(kv.vectors[i]) for i in {table[w] for a, b, _ in known for w in (a, b)}}
        model = np.array([np.dot(units[table[a]], units[table[b]]) for a, b, _ in known])
        gold = np.array([s for _, _, s in known])
        similarities = [(a, b, s, float(m)) for (a, b, s), m in zip(known, model, strict=True)]
        if len(known) >= 2 and np.all(np.isfinite(model)):
            p = stats.pearsonr(gold, model.astype(np.float64))
            r = stats.spearmanr(gold, model.astype(np.float64))
            pearson, pearson_p = _num(p.statistic), _num(p.pvalue)
            spearman, spearman_p = _num(r.statistic), _num(r.pvalue)
    return PairsResult(
        benchmark,
        restrict_vocab,
        len(pair_set.pairs),
        len(pair_set.pairs) - len(known),
        pearson,
        pearson_p,
        spearman,
        spearman_p,
        time.perf_counter() - started,
        similarities,
    )


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def evaluate(
    kv: KeyedVectors,
    benchmark: Benchmark,
    method: str = METHOD_3COSADD,
    restrict_vocab: int | None = DEFAULT_RESTRICT_VOCAB,
    progress: Progress | None = None,
) -> AnalogyResult | PairsResult:
    """Run ``benchmark`` on ``kv`` with the evaluation its kind calls for."""
    if benchmark.kind == KIND_ANALOGIES:
        return evaluate_analogies(
            kv, benchmark, method=method, restrict_vocab=restrict_vocab, progress=progress
        )
    return evaluate_pairs(kv, benchmark, restrict_vocab=restrict_vocab)


# -- background runs for the plugin ---------------------------------------------------------


class Cancelled(Exception):
    """An evaluation stopped because :meth:`Progress.cancel` was called."""


class Progress:
    """How far a running evaluation has got (questions answered of ``total``), and its stop switch."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self, done: int) -> None:
        """Record ``done`` questions answered; raise :class:`Cancelled` if asked to stop."""
        self.done = done
        if self._cancelled.is_set():
            raise Cancelled()

    def to_json(self) -> dict:
        fraction = self.done / self.total if self.total else None
        return {"done": self.done, "total": self.total, "fraction": fraction}


@dataclass
class _Job:
    future: Future
    progress: Progress
    started: threading.Event = field(default_factory=threading.Event)


class BackgroundJobs:
    """Runs keyed jobs on worker threads and remembers their results (least recently used go).

    A request asks with :meth:`run` and waits at most ``wait`` seconds; an evaluation that
    takes longer keeps running and a later request with the same key picks up its result.
    Failures of type :class:`Word2VecError` are remembered like results; other failures, and
    cancelled jobs (:meth:`cancel`), are forgotten so the next request starts again. At most
    ``max_pending`` jobs wait or run at once; more are refused with :class:`Busy`.

    >>> jobs = BackgroundJobs()
    >>> jobs.run("key", lambda progress: 42, wait=5)
    ('done', 42, False, None)
    >>> jobs.run("key", lambda progress: 0, wait=5)
    ('done', 42, True, None)
    """

    def __init__(self, workers: int = 2, keep: int = 256, max_pending: int = 16):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="w2v-eval")
        self._jobs: OrderedDict[Hashable, _Job] = OrderedDict()
        self._keep = keep
        self.max_pending = max_pending
        self._lock = threading.Lock()

    def run(
        self, key: Hashable, job: Callable[[Progress], Any], wait: float
    ) -> tuple[str, Any, bool, dict | None]:
        """``(status, result, cached, progress)``: ``("done", result, …, None)``, or after ``wait``
        seconds ``("queued" | "running", None, …, progress as JSON)``."""
        with self._lock:
            entry = self._jobs.get(key)
            cached = entry is not None
            if entry is None:
                pending = sum(not j.future.done() for j in self._jobs.values())
                if pending >= self.max_pending:
                    raise Busy(
                        f"{pending} evaluations are already waiting or running; try again when they finish",
                        retry_after=10,
                    )
                entry = self._jobs[key] = self._submit(job)
                self._forget_oldest()
            self._jobs.move_to_end(key)
        try:
            return "done", entry.future.result(timeout=wait), cached, None
        except FutureTimeout:
            status = "running" if entry.started.is_set() else "queued"
            return status, None, cached, entry.progress.to_json()
        except (Cancelled, FutureCancelled):
            self._forget(key, entry)
            raise Conflict("the evaluation was cancelled", status="cancelled") from None
        except Word2VecError:
            raise
        except Exception:
            self._forget(key, entry)
            raise

    def cancel(self, key: Hashable) -> bool:
        """Stop the job of ``key`` if it waits or runs (its result is not kept); whether it did."""
        with self._lock:
            entry = self._jobs.get(key)
            if entry is None or entry.future.done():
                return False
            del self._jobs[key]
        entry.progress.cancel()
        entry.future.cancel()  # a job still queued never starts
        return True

    def _submit(self, job: Callable[[Progress], Any]) -> _Job:
        progress = Progress()
        started = threading.Event()

        def run() -> Any:
            started.set()
            progress.check(0)
            return job(progress)

        return _Job(self._pool.submit(run), progress, started)

    def _forget_oldest(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.future.done()]
        while len(self._jobs) > self._keep and finished:
            del self._jobs[finished.pop(0)]

    def _forget(self, key: Hashable, entry: _Job) -> None:
        with self._lock:
            if self._jobs.get(key) is entry:
                del self._jobs[key]
