"""WEAT, the Word Embedding Association Test (Caliskan et al. 2017), as May et al. (2019)'s
reference code computes it.

With target sets X, Y and attribute sets A, B (unit vectors, ``cos`` the cosine):

- ``s(w) = mean_{a∈A} cos(w, a) − mean_{b∈B} cos(w, b)``;
- effect size ``(mean_{x∈X} s(x) − mean_{y∈Y} s(y)) / std_{w∈X∪Y} s(w)`` (``ddof=1``);
- statistic ``S(X, Y) = Σ_{x∈X} s(x) − Σ_{y∈Y} s(y)``;
- one-sided p-value: the fraction of the splits of X∪Y into sets of sizes |X|, |Y| (the observed
  one included) whose statistic is greater than or equal to the observed one. Every split is
  enumerated when there are at most 100,000; otherwise the observed split and 99,999 random
  ones drawn from a fixed seed are counted.

Since ``S = 2 Σ_{x∈X'} s(x) − Σ_{w∈X∪Y} s(w)`` for any split (X', Y'), splits are compared by
their X-side sums. Statistics equal to the observed one up to float64 rounding count as equal
(splits of duplicated words tie exactly in exact arithmetic).

    >>> from gensim.models import Word2Vec
    >>> from gensim.test.utils import common_texts
    >>> kv = Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv
    >>> r = weat(kv, ["computer", "system"], ["trees", "graph"], ["user", "human"], ["minors", "eps"])
    >>> r.exact, r.splits, 1 / 6 <= r.p_value <= 1
    (True, 6, True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tensorboard_plugin_w2v.analysis.weat_tests import BUILTIN_TESTS, WeatTest
from tensorboard_plugin_w2v.errors import NotFound
from tensorboard_plugin_w2v.models.norms import row_norms

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

MAX_EXACT_SPLITS = 100_000
SAMPLED_SPLITS = 100_000  # the observed split and 99,999 random ones
DEFAULT_SEED = 14
SETS = ("x", "y", "a", "b")


@dataclass(frozen=True)
class WordSet:
    """The words of one set found in the vocabulary (as keys of the model), and those missing."""

    found: list[str]
    rows: np.ndarray
    missing: list[str]


def lookup(kv: KeyedVectors, words: Sequence[str]) -> WordSet:
    """Each word as given, else lower-cased (as gensim's evaluation folds case); repeated words
    (after folding) count once, and words in neither form are ``missing``."""
    keys = kv.key_to_index
    found: list[str] = []
    rows: list[int] = []
    missing: list[str] = []
    for word in words:
        key = word if word in keys else word.lower()
        if key not in keys:
            if word not in missing:
                missing.append(word)
        elif key not in found:
            found.append(key)
            rows.append(int(keys[key]))
    return WordSet(found, np.asarray(rows, dtype=np.int64), missing)


def unit_rows(kv: KeyedVectors, rows: np.ndarray) -> np.ndarray:
    """The unit vectors of ``rows``, normalised in float64 (a zero vector stays zero)."""
    vectors = np.asarray(kv.vectors[rows], dtype=np.float64)
    norms = row_norms(vectors)
    return vectors / np.where(norms > 0, norms, 1.0)[:, None]


def associations(targets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``s(w)`` of each row of ``targets`` (unit vectors) for attribute unit vectors ``a``, ``b``."""
    return (targets @ a.T).mean(axis=1) - (targets @ b.T).mean(axis=1)


def effect_size(s_x: np.ndarray, s_y: np.ndarray) -> float:
    """``(mean s(X) − mean s(Y)) / std s(X ∪ Y)`` with ``ddof=1``; NaN when the deviation is 0."""
    spread = float(np.std(np.concatenate([s_x, s_y]), ddof=1))
    if spread == 0.0 or not math.isfinite(spread):
        return math.nan
    return (float(np.mean(s_x)) - float(np.mean(s_y))) / spread


def split_count(nx: int, ny: int) -> int:
    return math.comb(nx + ny, nx)


def _all_splits(n: int, nx: int) -> np.ndarray:
    """Every ``nx``-subset of ``range(n)``, one a row, the observed ``0 … nx-1`` first."""
    count = math.comb(n, nx)
    flat = itertools.chain.from_iterable(itertools.combinations(range(n), nx))
    return np.fromiter(flat, dtype=np.int16, count=count * nx).reshape(count, nx)


def _random_splits(n: int, nx: int, count: int, seed: int) -> np.ndarray:
    """The observed split ``0 … nx-1`` and ``count - 1`` uniformly random ``nx``-subsets: a
    partial Fisher–Yates shuffle of every row at once, on one flat array (4× faster than 2-D
    fancy indexing, 5× faster than sorting random keys)."""
    rng = np.random.default_rng(seed)
    rows = count - 1
    dtype = np.int8 if n <= np.iinfo(np.int8).max else np.int16
    perm = np.tile(np.arange(n, dtype=dtype), rows)
    starts = np.arange(rows, dtype=np.intp) * n
    # Position j swaps with a uniform position of j … n-1.
    picks = (rng.random((nx, rows)) * (n - np.arange(nx))[:, None]).astype(np.intp) + np.arange(nx)[:, None]
    for j in range(nx):
        src, dst = starts + picks[j], starts + j
        held = perm[dst]
        perm[dst] = perm[src]
        perm[src] = held
    observed = np.arange(nx, dtype=dtype)[None, :]
    return np.vstack([observed, perm.reshape(rows, n)[:, :nx]])


def p_value(
    s_x: np.ndarray,
    s_y: np.ndarray,
    max_exact: int = MAX_EXACT_SPLITS,
    samples: int = SAMPLED_SPLITS,
    seed: int = DEFAULT_SEED,
) -> tuple[float, bool, int]:
    """``(p, exact, splits)``: the one-sided permutation p-value of the observed split.

    >>> p_value(np.array([3.0, 2.0]), np.array([1.0, 0.0]))  # 1 of the 6 splits is as extreme
    (0.16666666666666666, True, 6)
    """
    s = np.concatenate([np.asarray(s_x, dtype=np.float64), np.asarray(s_y, dtype=np.float64)])
    nx, n = len(s_x), len(s)
    total = split_count(nx, n - nx)
    exact = total <= max_exact
    subsets = _all_splits(n, nx) if exact else _random_splits(n, nx, samples, seed)
    sums = s[subsets].sum(axis=1)
    tolerance = 4 * n * np.finfo(np.float64).eps * float(np.abs(s).sum())
    count = int(np.count_nonzero(sums >= sums[0] - tolerance))
    return count / len(sums), exact, len(sums)


@dataclass
class WeatResult:
    """The outcome of :func:`weat`; ``s_x``/``s_y`` follow ``x``/``y`` (the words found)."""

    effect_size: float
    p_value: float
    exact: bool
    splits: int
    statistic: float
    sets: dict[str, WordSet]
    s_x: np.ndarray
    s_y: np.ndarray
    seed: int
    test: WeatTest | None = None

    @property
    def missing(self) -> list[str]:
        return [w for key in SETS for w in self.sets[key].missing]

    def to_json(self) -> dict:
        def number(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        names = {key: getattr(self.test, f"{key}_name") for key in SETS} if self.test else dict.fromkeys(SETS)
        return {
            "test": self.test.name if self.test else None,
            "title": self.test.title if self.test else None,
            "source": self.test.source if self.test else None,
            "effect_size": number(self.effect_size),
            "p_value": self.p_value,
            "exact": self.exact,
            "splits": self.splits,
            "seed": None if self.exact else self.seed,
            "statistic": number(self.statistic),
            "targets": {
                "x": [
                    {"word": w, "s": float(v)} for w, v in zip(self.sets["x"].found, self.s_x, strict=True)
                ],
                "y": [
                    {"word": w, "s": float(v)} for w, v in zip(self.sets["y"].found, self.s_y, strict=True)
                ],
            },
            "sets": {
                key: {
                    "name": names[key],
                    "used": len(self.sets[key].found),
                    "missing": self.sets[key].missing,
                }
                for key in SETS
            },
            "missing": self.missing,
        }


_SET_NAMES = {"x": "target set X", "y": "target set Y", "a": "attribute set A", "b": "attribute set B"}


def weat(
    kv: KeyedVectors,
    x: Sequence[str],
    y: Sequence[str],
    a: Sequence[str],
    b: Sequence[str],
    seed: int = DEFAULT_SEED,
    max_exact: int = MAX_EXACT_SPLITS,
    samples: int = SAMPLED_SPLITS,
    test: WeatTest | None = None,
) -> WeatResult:
    """WEAT of targets ``x``, ``y`` and attributes ``a``, ``b`` on ``kv`` (see the module).

    Words missing from the vocabulary are dropped and listed; :class:`NotFound` names the set
    when fewer than two of its words are left.
    """
    sets = {key: lookup(kv, words) for key, words in zip(SETS, (x, y, a, b), strict=True)}
    for key in SETS:
        if len(sets[key].found) < 2:
            label = _SET_NAMES[key]
            if test is not None:
                label += f" ({getattr(test, f'{key}_name')})"
            raise NotFound(
                f"{label} has {len(sets[key].found)} word(s) in the model's vocabulary; at least 2 are needed",
                set=key,
                missing=sets[key].missing[:100],
            )
    targets = unit_rows(kv, np.concatenate([sets["x"].rows, sets["y"].rows]))
    s = associations(targets, unit_rows(kv, sets["a"].rows), unit_rows(kv, sets["b"].rows))
    nx = len(sets["x"].rows)
    s_x, s_y = s[:nx], s[nx:]
    p, exact, splits = p_value(s_x, s_y, max_exact=max_exact, samples=samples, seed=seed)
    statistic = float(s_x.sum() - s_y.sum())
    return WeatResult(effect_size(s_x, s_y), p, exact, splits, statistic, sets, s_x, s_y, seed, test)


def builtin_test(name: str) -> WeatTest:
    """One of ``weat1`` … ``weat10``; :class:`NotFound` lists the names otherwise."""
    if name not in BUILTIN_TESTS:
        raise NotFound(f"unknown WEAT test {name!r}", known_tests=list(BUILTIN_TESTS))
    return BUILTIN_TESTS[name]


def run_builtin(kv: KeyedVectors, name: str, seed: int = DEFAULT_SEED) -> WeatResult:
    """A built-in test on ``kv``."""
    t = builtin_test(name)
    return weat(kv, t.x, t.y, t.a, t.b, seed=seed, test=t)


def run_all(kv: KeyedVectors, seed: int = DEFAULT_SEED) -> list[dict]:
    """Every built-in test on ``kv`` as JSON; a test with too few known words gives its error."""
    out = []
    for name, t in BUILTIN_TESTS.items():
        try:
            out.append(run_builtin(kv, name, seed).to_json())
        except NotFound as exc:
            out.append({"test": name, "title": t.title, "source": t.source, **exc.to_json()})
    return out
