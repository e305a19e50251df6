"""The seam where a request's model version becomes a model to query: local or Milvus-backed.

Light to import (the plugin module is imported at every TensorBoard start): the engines, gensim
and pymilvus are imported when the first model is handed out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tensorboard_plugin_w2v.engines import ENGINE_LOCAL, ENGINE_MILVUS
from tensorboard_plugin_w2v.errors import ModelLoadError, Unavailable

if TYPE_CHECKING:
    from tensorboard_plugin_w2v.engines.local import LocalModel
    from tensorboard_plugin_w2v.models.discovery import ModelVersion
    from tensorboard_plugin_w2v.models.store import ModelStore

logger = logging.getLogger(__name__)


class ServedModel(Protocol):
    """What the routes ask of a model, whichever engine serves it (``LocalModel``, ``MilvusModel``)."""

    engine: str
    format: str
    counts_known: bool
    training: dict | None
    identity: Any
    vocab_size: int
    dim: int

    def neighbors(self, word: str, k: int, restrict_vocab: int | None = None, exact: bool = False) -> tuple: ...

    def analogy(self, positive: list[str], negative: list[str], k: int, method: str = ...,
                restrict_vocab: int | None = None, exact: bool = False) -> tuple: ...

    def similarity(self, a: str, b: str) -> float: ...

    def doesnt_match(self, words: list[str]) -> str: ...

    def vocab(self, prefix: str, offset: int, limit: int) -> tuple: ...

    def vector(self, word: str) -> Any: ...

    def project(self, words: list[str]) -> tuple: ...

    def counts(self, indices: Sequence[int]) -> list[int | None]: ...

    def vectors_of(self, words: list[str]) -> Any: ...

    def whole(self, rows: int | None = None) -> tuple: ...

    def loaded_matrix(self, rows: int | None = None) -> tuple: ...


class Engines:
    """Hands out the model a request names: from Milvus when it was pushed there (and
    ``milvus`` is given), else loaded from its file by the store, as without Milvus."""

    def __init__(self, store: ModelStore, milvus=None):
        self.store = store
        self.milvus = milvus  # a milvus_client.MilvusEngine, or None (pymilvus is then never imported)

    @classmethod
    def from_settings(cls, store: ModelStore, settings) -> Engines:
        """Milvus-backed when ``--word2vec_milvus_uri`` is set (``settings`` are the plugin's
        :class:`~tensorboard_plugin_w2v.server.flags.Settings`), else local only."""
        if not settings.milvus_uri:
            return cls(store)
        from tensorboard_plugin_w2v.engines.milvus_client import MilvusEngine
        from tensorboard_plugin_w2v.engines.milvus_schema import redact

        engine = MilvusEngine(
            settings.milvus_uri,
            settings.milvus_token,
            timeout=settings.milvus_timeout,
            budget_bytes=settings.milvus_budget_bytes,
            refresh_seconds=settings.reload_interval,
        )
        logger.info("serving pushed models from Milvus at %s", redact(settings.milvus_uri))
        return cls(store, engine)

    def model(self, version: ModelVersion) -> ServedModel:
        """A :class:`LocalModel` or a ``MilvusModel`` for ``version``."""
        from tensorboard_plugin_w2v.engines.local import LocalModel

        if self.milvus is not None:
            name, record = self.milvus.pushed(version)
            if record is not None:
                from tensorboard_plugin_w2v.engines.milvus import MilvusModel

                return MilvusModel(
                    self.milvus, name, record, lambda reason: self.fallback(version, reason),
                    self.store.memory_budget_bytes,
                )
        return LocalModel(self.store.get(version))

    def fallback(self, version: ModelVersion, reason: str) -> LocalModel:
        """The local file of a pushed version Milvus cannot answer for; 503 if it is unreadable."""
        from tensorboard_plugin_w2v.engines.local import LocalModel
        try:
            return LocalModel(self.store.get(version), fallback_reason=reason)
        except ModelLoadError as exc:
            raise Unavailable(
                f"{reason}; the model's local file cannot be used either: {exc.message}", reason=reason
            ) from None

    def refresh(self) -> None:
        """List Milvus's collections again (``/models`` does, as it rescans the logdir)."""
        if self.milvus is not None:
            self.milvus.catalog(max_age=0)

    def describe(self, version: ModelVersion) -> dict:
        """``/models`` fields: which engine serves ``version`` and, if pushed, its collection."""
        if self.milvus is None:
            return {"engine": ENGINE_LOCAL}
        name, record = self.milvus.pushed(version, max_age=float("inf"))
        if record is None:
            return {"engine": ENGINE_LOCAL, "milvus": None}
        status = self.milvus.status(name)
        if status["state"] != "ok":  # answered from the file meanwhile
            return {"engine": ENGINE_LOCAL, "milvus": status}
        return {
            "engine": ENGINE_MILVUS,
            "milvus": status,
            "status": "ok",
            "error": None,
            "format": record.format,
            "vocab_size": record.rows,
            "dim": record.dim,
            "counts_known": record.counts_known,
            "training": record.training,
        }
