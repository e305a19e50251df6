"""The seam where a request's model version becomes a model to query: local or Milvus-backed."""

from __future__ import annotations

import logging

from tensorboard_plugin_w2v.engines.local import ENGINE_LOCAL, LocalModel
from tensorboard_plugin_w2v.errors import ModelLoadError, Unavailable
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.models.store import ModelStore

logger = logging.getLogger(__name__)


class Engines:
    """Hands out the model a request names: from Milvus when it was pushed there (and
    ``milvus`` is given), else loaded from its file by the store, as without Milvus."""

    def __init__(self, store: ModelStore, milvus=None):
        self.store = store
        self.milvus = milvus  # a milvus.MilvusEngine, or None (pymilvus is then never imported)

    @classmethod
    def from_flags(cls, store: ModelStore, flags, refresh_seconds: float = 5.0) -> Engines:
        """Milvus-backed when ``--word2vec_milvus_uri`` is set (the token comes from
        ``--word2vec_milvus_token`` or ``W2V_MILVUS_TOKEN``), else local only."""
        uri = getattr(flags, "word2vec_milvus_uri", None)
        if not uri:
            return cls(store)
        import os

        from tensorboard_plugin_w2v.engines.milvus import MilvusEngine
        from tensorboard_plugin_w2v.engines.milvus_schema import TOKEN_ENV, redact

        token = getattr(flags, "word2vec_milvus_token", None) or os.environ.get(TOKEN_ENV)
        engine = MilvusEngine(
            uri,
            token,
            timeout=float(getattr(flags, "word2vec_milvus_timeout", 10.0)),
            budget_bytes=getattr(flags, "word2vec_milvus_budget_bytes", None) or 16 << 30,
            refresh_seconds=refresh_seconds,
        )
        logger.info("serving pushed models from Milvus at %s", redact(uri))
        return cls(store, engine)

    def model(self, version: ModelVersion):
        """A :class:`LocalModel` or a ``MilvusModel`` for ``version``."""
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
            "engine": "milvus",
            "milvus": status,
            "status": "ok",
            "error": None,
            "format": record.format,
            "vocab_size": record.rows,
            "dim": record.dim,
            "counts_known": record.counts_known,
            "training": record.training,
        }
