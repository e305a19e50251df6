"""The Milvus connection of a plugin: catalogue, loaded collections, and a breaker for faults.

:class:`MilvusEngine` holds the connection, the catalogue of complete collections (re-listed
every ``refresh_seconds``, and at most once a second for a version not found), the collections
this process loaded (loaded on first use, released least recently used first beyond a budget)
and a breaker: after Milvus failed to answer, requests skip it for ``retry_seconds`` instead of
each waiting for the timeout.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models.discovery import ModelVersion

logger = logging.getLogger(__name__)

LOAD_TIMEOUT = 120.0  # seconds the first query of a collection waits for Milvus to load it
RETRY_SECONDS = 10.0  # after a failure, requests go to the fallback this long before trying again
MISS_REFRESH_SECONDS = 1.0  # a version not in the catalogue re-lists collections at most this often
WORDS_CACHED = 4  # collections whose first words are kept for suggestions


def collection_bytes(record: ms.PushedVersion) -> int:
    """Estimated memory of a loaded collection in Milvus: vectors, HNSW links, scalar fields."""
    return record.rows * (4 * record.dim + 8 * ms.HNSW_M + 64)


class MilvusEngine:
    """The Milvus connection of one plugin, shared by every request."""

    def __init__(
        self,
        uri: str,
        token: str | None = None,
        timeout: float = 10.0,
        budget_bytes: int = 16 << 30,
        refresh_seconds: float = 5.0,
        retry_seconds: float = RETRY_SECONDS,
    ):
        self.uri = uri
        self._token = token  # never logged
        self.timeout = timeout
        self.budget_bytes = budget_bytes
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self._client = None
        self._lock = threading.Lock()
        self._catalog: dict[str, ms.PushedVersion] = {}
        self._described: dict[str, ms.PushedVersion | None] = {}
        self._catalog_at = -math.inf
        self._catalog_lock = threading.Lock()
        self._loaded: OrderedDict[str, int] = OrderedDict()  # collections loaded by this process, LRU
        self._load_locks: dict[str, threading.Lock] = {}
        self._down_until = 0.0
        self._down_reason: str | None = None
        self._identities: dict[str, fileio.FileIdentity] = {}  # last identity seen per path
        self._first_words: OrderedDict[str, list[str]] = OrderedDict()

    # -- connection and faults ----------------------------------------------------------

    @property
    def where(self) -> str:
        return f"Milvus at {ms.redact(self.uri)}"

    def down_reason(self) -> str | None:
        """Why Milvus is being skipped right now, or None."""
        with self._lock:
            return self._down_reason if time.monotonic() < self._down_until else None

    def _trip(self, reason: str) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_seconds
            self._down_reason = reason
            self._client = None  # connect afresh next time
            self._loaded.clear()  # a restarted server has nothing loaded
        logger.warning("%s cannot answer (%s); pushed models fall back to their files for %.0f s",
                       self.where, reason, self.retry_seconds)

    def _connection(self):
        reason = self.down_reason()
        if reason is not None:
            raise ms.MilvusFault(f"{self.where} is unavailable: {reason}")
        with self._lock:
            client = self._client
        if client is None:
            try:
                client = ms.connect(self.uri, self._token, self.timeout)
            except ms.MilvusFault as fault:
                self._trip(fault.message)
                raise
            with self._lock:
                self._client = client
        return client

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        """``client.<method>(*args, **kwargs)``; failures become :class:`MilvusFault`."""
        client = self._connection()
        try:
            return getattr(client, method)(*args, timeout=timeout or self.timeout, **kwargs)
        except Exception as exc:
            reason = ms.describe(exc)
            if ms.is_connection_error(exc):
                self._trip(reason)
                raise ms.MilvusFault(f"{self.where} is unavailable: {reason}") from None
            fault = ms.MilvusFault(f"{self.where} refused {method}: {reason}")
            fault.cause = exc
            raise fault from None

    # -- which versions are pushed ------------------------------------------------------

    def catalog(self, max_age: float | None = None) -> dict[str, ms.PushedVersion]:
        """Complete collections by name, re-listed when older than ``max_age`` seconds; while
        Milvus cannot answer, the last listing."""
        max_age = self.refresh_seconds if max_age is None else max_age
        if time.monotonic() - self._catalog_at <= max_age or self.down_reason() is not None:
            return self._catalog
        with self._catalog_lock:
            if time.monotonic() - self._catalog_at <= max_age:
                return self._catalog
            try:
                names = self.call("list_collections")
                found = {}
                for name in names:
                    if not ms.is_complete_name(name):
                        continue
                    if name not in self._described:
                        info = self.call("describe_collection", name)
                        self._described[name] = ms.PushedVersion.from_description(info.get("description", ""))
                    if self._described[name] is not None:
                        found[name] = self._described[name]
                self._catalog = found
            except ms.MilvusFault as fault:
                logger.warning("cannot list Milvus collections, keeping the last listing: %s", fault.message)
            self._catalog_at = time.monotonic()
        return self._catalog

    def pushed(self, version: ModelVersion, max_age: float | None = None) -> tuple[str, ms.PushedVersion | None]:
        """The collection name of ``version``'s current file, and its record if it was pushed."""
        try:
            identity = fileio.stat(version.path)
            self._identities[version.path] = identity
        except OSError:
            identity = self._identities.get(version.path)  # gone since: Milvus may still answer
            if identity is None:
                return "", None
        name = ms.collection_name(identity)
        record = self.catalog(max_age).get(name)
        if record is None and max_age is None:
            record = self.catalog(MISS_REFRESH_SECONDS).get(name)
        return name, record

    def forget(self, name: str) -> None:
        """``name`` turned out missing: drop it from the catalogue until it is listed again."""
        with self._catalog_lock:
            self._catalog.pop(name, None)
        with self._lock:
            self._loaded.pop(name, None)

    # -- loading, with a budget ----------------------------------------------------------

    def loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._loaded

    def use(self, name: str, record: ms.PushedVersion) -> None:
        """Load ``name`` if this process has not yet; release the least recently used beyond budget."""
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return
            lock = self._load_locks.setdefault(name, threading.Lock())
        with lock:
            if self.loaded(name):
                return
            self.call("load_collection", name, timeout=max(LOAD_TIMEOUT, self.timeout))
            with self._lock:
                self._loaded[name] = collection_bytes(record)
                evict = []
                total = sum(self._loaded.values())
                for other in list(self._loaded):
                    if total <= self.budget_bytes:
                        break
                    if other != name:
                        total -= self._loaded.pop(other)
                        evict.append(other)
        for other in evict:
            try:
                self.call("release_collection", other)
                logger.info("released %s to stay within the Milvus budget", other)
            except ms.MilvusFault as fault:
                logger.warning("could not release %s: %s", other, fault.message)

    def run(self, name: str, record: ms.PushedVersion, method: str, *args, **kwargs):
        """``client.<method>(name, ...)`` on a loaded collection; loads it again if another
        process released it, and turns a dropped collection into a fault."""
        for attempt in (1, 2):
            self.use(name, record)
            try:
                return self.call(method, name, *args, **kwargs)
            except ms.MilvusFault as fault:
                cause = getattr(fault, "cause", None)
                if cause is not None and ms.is_not_loaded_error(cause) and attempt == 1:
                    with self._lock:
                        self._loaded.pop(name, None)
                    continue
                if cause is not None and ms.is_missing_collection_error(cause):
                    self.forget(name)
                    raise ms.MilvusFault(f"the collection {name} is missing from {self.where}") from None
                raise
        raise AssertionError("unreachable")

    def first_words(self, name: str, read: Callable[[], list[str]]) -> list[str]:
        """A collection's most frequent words (for spelling suggestions), read once by ``read``."""
        with self._lock:
            words = self._first_words.get(name)
            if words is not None:
                self._first_words.move_to_end(name)
                return words
        words = read()
        with self._lock:
            self._first_words[name] = words
            while len(self._first_words) > WORDS_CACHED:
                self._first_words.popitem(last=False)
        return words

    def status(self, name: str) -> dict:
        """What ``/models`` says about a pushed version's collection."""
        reason = self.down_reason()
        return {
            "collection": name,
            "state": "unavailable" if reason else "ok",
            "loaded": self.loaded(name),
            "reason": reason,
        }
