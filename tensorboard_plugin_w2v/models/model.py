"""A loaded model: its vectors and what is known about how it was made.

Light on purpose (no gensim import): the server's listing, the store and the writers name this
type without loading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tensorboard_plugin_w2v.io import fileio

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

PICKLE_REFUSED = (
    "gensim's native format is a Python pickle, and this server refuses pickles "
    "(--word2vec_no_pickle); save the model with save_word2vec_format instead"
)


@dataclass
class LoadedModel:
    """A model ready for queries: its vectors, and what is known about how it was made."""

    kv: KeyedVectors
    format: str
    counts_known: bool = False
    training: dict | None = None
    extra_bytes: int = field(default=0, repr=False)
    identity: fileio.FileIdentity | None = field(default=None, repr=False)
    index: Any = field(default=None, repr=False)  # a search.index.IndexHandle, set by the IndexManager
    group: Any = field(default=None, repr=False)  # the lifecycle.ThreadGroup its load's work ran in

    def searcher(self, exact: bool = False):
        """The ready ANN index to answer with, or ``None`` for an exact scan."""
        return None if exact or self.index is None else self.index.ready()

    @property
    def vocab_size(self) -> int:
        return len(self.kv.index_to_key)

    @property
    def dim(self) -> int:
        return int(self.kv.vector_size)

    @property
    def nbytes(self) -> int:
        """Bytes this model holds (memory-mapped pages and its search index included)."""
        index_bytes = self.index.nbytes if self.index is not None else 0
        return int(self.kv.vectors.nbytes) + self.extra_bytes + index_bytes


def file_label(path: str) -> str:
    """How messages name a file: its base name (the listing shows where it is)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def describe(exc: BaseException) -> str:
    """An exception in a few words, for a message meant for people."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"
