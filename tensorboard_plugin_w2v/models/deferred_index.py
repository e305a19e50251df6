"""A large vocabulary's ``key_to_index`` built after its first answers instead of decoded before them.

Decoding gensim's ``key_to_index`` of 3M words is 1.3 s of a pickle that takes 1.8 s; the
list it is made from (``index_to_key``) takes 0.4 s of it. So the reader decodes the pickle
without that dict (:func:`~tensorboard_plugin_w2v.io.unpickling.without_dict`) and gives the
model a :class:`DeferredIndex`: a few lookups scan the list (:data:`SCAN_SECONDS` in all, about
30 ms for an absent word at 3M words), while a thread of the model's group builds the same dict
``{word: row}`` in chunks, making way for requests (:class:`lifecycle.GilShare`), and then puts
it in the model's place. A caller that needs more lookups before then waits for the dict.

    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(2)
    >>> kv.index_to_key = ["king", "queen"]
    >>> index = defer(kv, group=None)
    >>> index["queen"], "pawn" in index, kv.key_to_index
    (1, False, {'king': 0, 'queen': 1})
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from tensorboard_plugin_w2v import lifecycle

CHUNK = 4_096  # words added to the dict between two chances for requests (about 2 ms)
SCAN_SECONDS = 0.1  # lookups by scanning the list, in all; later ones wait for the dict
AFTER_SECONDS = 30.0  # the longest the build waits for what it was told to wait for
POLL_SECONDS = 0.1  # ... noticing its group closing this soon
_MISSING = object()


class DeferredIndex(Mapping):
    """``key_to_index`` of ``words`` (unique, as in every gensim vocabulary) while its dict is built."""

    def __init__(self, words: list[str]):
        self._words = words
        self._table: dict[str, int] | None = None
        self._lock = threading.Lock()  # held while the dict is built
        self._scanned = 0.0  # seconds spent scanning

    def table(self) -> dict[str, int]:
        """The dict, built here if no thread is building it (waiting for the one that is)."""
        table = self._table
        return table if table is not None else self.build()

    def build(self, stop: threading.Event | None = None, share: lifecycle.GilShare | None = None) -> dict[str, int]:
        """Build the dict in chunks (``share`` paces them); :class:`lifecycle.Stopped` if ``stop``
        is set first (nothing is kept; a later lookup builds it again)."""
        with self._lock:
            if self._table is not None:
                return self._table
            words, table = self._words, {}
            for start in range(0, len(words), CHUNK):
                if stop is not None and stop.is_set():
                    raise lifecycle.Stopped()
                table.update(zip(words[start : start + CHUNK], range(start, start + CHUNK), strict=False))
                if share is not None:
                    share.step()
            self._table = table
            return table

    def _row(self, key, default=_MISSING):
        table = self._table
        if table is None and self._scanned >= SCAN_SECONDS:
            table = self.table()
        if table is not None:
            return table[key] if default is _MISSING else table.get(key, default)
        started = time.perf_counter()
        try:
            return self._words.index(key)
        except ValueError:
            if default is _MISSING:
                raise KeyError(key) from None
            return default
        finally:
            self._scanned += time.perf_counter() - started

    def __getitem__(self, key) -> int:
        return self._row(key)

    def get(self, key, default=None):
        return self._row(key, default)

    def __contains__(self, key) -> bool:
        return self._row(key, None) is not None

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __sizeof__(self) -> int:
        """About the size of the dict it becomes (the memory budget counts it from the start)."""
        table = self._table
        return sys.getsizeof(table) if table is not None else 48 * len(self._words)

    def __reduce__(self):  # copies and pickles of a model get the plain dict
        return (dict, (self.table(),))


def defer(kv, group: lifecycle.ThreadGroup | None, after: Callable[[float], bool] | None = None) -> DeferredIndex:
    """Give ``kv`` (whose ``index_to_key`` is a list) a :class:`DeferredIndex` and build its
    dict in a thread of ``group`` (here and now if ``group`` is ``None``), which then replaces it
    as ``kv.key_to_index``. The thread first waits up to :data:`AFTER_SECONDS` for ``after``
    (e.g. the model's norms, :meth:`NormsJob.wait`): the first answer needs those, and the
    cores, more than the dict."""
    index = DeferredIndex(kv.index_to_key)
    kv.key_to_index = index

    def run(stop: threading.Event | None = None) -> None:
        deadline = time.monotonic() + AFTER_SECONDS
        while after is not None and not after(POLL_SECONDS) and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                return
        try:
            table = index.build(stop, lifecycle.GilShare())
        except lifecycle.Stopped:
            return
        if kv.key_to_index is index:
            kv.key_to_index = table

    if group is None:
        run()
    else:  # a closing group starts nothing: lookups build the dict when they need it
        group.spawn(run, name="w2v-key-index", args=(group.stopping,), nice=lifecycle.LOADING)
    return index
