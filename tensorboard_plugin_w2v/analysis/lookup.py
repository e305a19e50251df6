"""gensim's vocabulary lookup for evaluations, built once per model and kept while it lives."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

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
        keys = _folded_keys(kv, restrict_vocab, case_insensitive)
        # Later entries overwrite earlier ones: built from the end, the first variant wins.
        return dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))

    return _per_model(kv, ("table", restrict_vocab, case_insensitive, len(kv.index_to_key)), build)


def folded_rows(kv: KeyedVectors, restrict_vocab: int | None, case_insensitive: bool = True) -> np.ndarray:
    """``[i]``: the row :func:`ok_vocab` gives word ``i``'s (upper-cased) key, for the first
    ``restrict_vocab`` words; equal rows mean equal keys. Kept per model like the table."""

    def build() -> np.ndarray:
        table = ok_vocab(kv, restrict_vocab, case_insensitive)
        keys = _folded_keys(kv, restrict_vocab, case_insensitive)
        return np.fromiter(map(table.__getitem__, keys), dtype=np.int64, count=len(keys))

    return _per_model(kv, ("rows", restrict_vocab, case_insensitive, len(kv.index_to_key)), build)


def _folded_keys(kv: KeyedVectors, restrict_vocab: int | None, case_insensitive: bool) -> list[str]:
    """The first ``restrict_vocab`` keys, upper-cased when matching ignores case."""
    keys = kv.index_to_key[:restrict_vocab]
    return list(map(str.upper, keys)) if case_insensitive else list(keys)
