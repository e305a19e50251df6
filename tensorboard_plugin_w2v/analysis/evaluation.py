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

The questions are answered many at a time by :class:`~tensorboard_plugin_w2v.analysis.solver.Solver`;
benchmark files are found and parsed by :mod:`~tensorboard_plugin_w2v.analysis.benchmarks`.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
from gensim import matutils
from gensim.models import KeyedVectors
from scipy import stats

from tensorboard_plugin_w2v.analysis.arithmetic import METHOD_3COSADD, METHOD_3COSMUL, METHODS, check_method
from tensorboard_plugin_w2v.analysis.benchmarks import (
    BUILTINS,
    DEFAULT_RESTRICT_VOCAB,
    KIND_ANALOGIES,
    KIND_PAIRS,
    SOURCE_BUILTIN,
    SOURCE_FILE,
    AnalogyFile,
    Benchmark,
    PairSet,
    benchmark_file,
    builtin,
    find_benchmarks,
    read_analogies,
    read_pairs,
    section_category,
)
from tensorboard_plugin_w2v.analysis.lookup import folded_rows, ok_vocab
from tensorboard_plugin_w2v.analysis.progress import Cancelled, Progress
from tensorboard_plugin_w2v.analysis.solver import Solver
from tensorboard_plugin_w2v.errors import BenchmarkError, InvalidArgument

__all__ = [  # the benchmark names are re-exported: evaluation.builtin("analogies") reads as it did
    "BUILTINS",
    "DEFAULT_RESTRICT_VOCAB",
    "KIND_ANALOGIES",
    "KIND_PAIRS",
    "METHODS",
    "METHOD_3COSADD",
    "METHOD_3COSMUL",
    "SOURCE_BUILTIN",
    "SOURCE_FILE",
    "AnalogyFile",
    "AnalogyResult",
    "Benchmark",
    "BenchmarkError",
    "Cancelled",
    "PairSet",
    "PairsResult",
    "Progress",
    "SectionResult",
    "Tally",
    "benchmark_file",
    "builtin",
    "evaluate",
    "evaluate_analogies",
    "evaluate_pairs",
    "find_benchmarks",
    "ok_vocab",
    "read_analogies",
    "read_pairs",
    "section_category",
]

_QUESTION_BLOCK = 1 << 16  # questions sharing one pass over the vocabulary (the Google set: all)
_MISTAKES_KEPT = 5


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
    check_method(method)
    if restrict_vocab is not None and restrict_vocab < 1:
        raise InvalidArgument("restrict_vocab must be at least 1")
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
    folded = folded_rows(kv, restrict_vocab, case_insensitive)
    solver = Solver(kv, table, folded, limit, method, case_insensitive)
    progress = progress or Progress()
    progress.total = len(asked)
    for start in range(0, len(asked), _QUESTION_BLOCK):
        progress.check(start)
        block = asked[start : start + _QUESTION_BLOCK]
        words = parsed.words
        texts = [(words[a], words[b], words[c], words[d]) for a, b, c, d in ids[block].tolist()]

        def report(fraction: float, start: int = start, size: int = len(block)) -> None:
            progress.check(start + int(size * fraction))

        predictions = solver.solve(known_words[ids[block, :3]], texts, parsed.section_of[block], report)
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
        raise InvalidArgument("restrict_vocab must be at least 1")
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
