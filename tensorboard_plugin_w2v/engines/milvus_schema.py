"""What a pushed model looks like in Milvus, shared by ``w2v-milvus`` and the plugin.

One collection per model version, named from the file's identity (path, size, modification
time, ETag), so a replaced file gets a new collection. A push writes into ``<name>_partial``
and renames it to ``<name>`` last: the plugin only serves names without the suffix, so a push
interrupted half-way leaves nothing it would serve as complete. Each row holds a word of the
model:

========  ============  ==========================================================
field     type          meaning
========  ============  ==========================================================
id        INT64 (key)   the word's row in the model file (the API's ``index``)
rank      INT64         its place in frequency order (vocabulary paging)
word      VARCHAR       the word
lower     VARCHAR       ``word.lower()``, for case-insensitive prefix search
count     INT64         corpus count, -1 where the file has none
norm      FLOAT         the vector's norm (gensim's ``norms``)
vector    FLOAT_VECTOR  the stored vector, as in the file (``/vector`` answers it)
========  ============  ==========================================================

The collection's description holds a JSON record of the version (path, size, format, counts,
training parameters). pymilvus is imported only by :func:`connect`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tensorboard_plugin_w2v.errors import Unavailable
from tensorboard_plugin_w2v.io import fileio

SCHEMA_VERSION = 1
PREFIX = "w2v_"
PARTIAL_SUFFIX = "_partial"
TOKEN_ENV = "W2V_MILVUS_TOKEN"  # as server.flags.MILVUS_TOKEN_ENV

ID, RANK, WORD, LOWER, COUNT, NORM, VECTOR = "id", "rank", "word", "lower", "count", "norm", "vector"
ROW_FIELDS = [ID, WORD, COUNT, VECTOR]

# Milvus caps a search's top-k and a query's offset + limit at this many rows.
MAX_RESULT_WINDOW = 16_384
# HNSW with the local index's M and efConstruction (search/ann.py); Milvus builds the graph
# on its own nodes and has no recall calibration after the build; ``ef`` grows with the
# candidates asked.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 192
INDEX_TYPES = ("HNSW", "AUTOINDEX")  # AUTOINDEX: the cluster's best (managed Milvus)
MAX_WORD_BYTES = 65_535  # Milvus's longest VARCHAR


class MilvusFault(Unavailable):
    """Milvus cannot answer: unreachable, timed out, or the collection is missing or unusable."""


def collection_name(identity: fileio.FileIdentity) -> str:
    """The collection of one model version (a new size, mtime or ETag gives a new name)."""
    text = f"{identity.path}|{identity.size}|{identity.mtime_ns}|{identity.version}|schema{SCHEMA_VERSION}"
    return PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def partial_name(name: str) -> str:
    return name + PARTIAL_SUFFIX


def is_complete_name(name: str) -> bool:
    return name.startswith(PREFIX) and not name.endswith(PARTIAL_SUFFIX)


@dataclass
class PushedVersion:
    """The description record of a pushed collection."""

    path: str
    size: int
    mtime_ns: int
    version: str
    format: str
    rows: int
    dim: int
    counts_known: bool
    training: dict | None = None
    run: str | None = None
    model: str | None = None
    step: int | None = None
    pushed_at: float = 0.0
    index: dict = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def identity(self) -> fileio.FileIdentity:
        return fileio.FileIdentity(self.path, self.size, self.mtime_ns, self.version)

    def to_description(self) -> str:
        return json.dumps({"w2v": asdict(self)}, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_description(cls, text: str) -> PushedVersion | None:
        """The record, or None for a collection this package did not write."""
        try:
            data = json.loads(text)["w2v"]
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None


def redact(uri: str) -> str:
    """``uri`` without user name or password, for messages and logs."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def describe(exc: BaseException) -> str:
    """A short reason from a pymilvus or gRPC error (never the token)."""
    message = getattr(exc, "message", None) or str(exc)
    details = getattr(exc, "details", None)
    if callable(details):  # grpc.RpcError
        try:
            message = details() or message
        except Exception:
            pass
    message = " ".join(str(message).split())
    return message[:300]


def is_connection_error(exc: BaseException) -> bool:
    """True when the server did not answer at all (down, unreachable, timed out)."""
    code = getattr(exc, "code", None)
    status = code() if callable(code) else None  # a grpc.RpcError's StatusCode
    if status is not None and getattr(status, "name", "") in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
        return True
    if type(exc).__name__ in ("MilvusUnavailableException", "ConnectionNotExistException"):
        return True
    text = describe(exc).lower()
    return any(s in text for s in _CONNECTION_FAILURES)


_CONNECTION_FAILURES = (
    "fail connecting",
    "failed to connect",
    "connection refused",
    "connection reset",
    "server unavailable",
    "statuscode.unavailable",
    "deadline exceeded",
    "deadline_exceeded",
    "timed out",
    "timeout",
    "socket closed",
)


def is_not_loaded_error(exc: BaseException) -> bool:
    return "not loaded" in describe(exc).lower()


def is_missing_collection_error(exc: BaseException) -> bool:
    text = describe(exc).lower()
    return ("collection" in text and ("not exist" in text or "not found" in text)) or "can't find" in text


def connect(uri: str, token: str | None = None, timeout: float = 10.0):
    """A ``pymilvus.MilvusClient`` for ``uri``; :class:`MilvusFault` if it cannot be reached."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusFault(
            "serving from Milvus needs pymilvus: pip install 'tensorboard-plugin-w2v[milvus]'"
        ) from None
    # pymilvus logs every failed call with a traceback; this package reports the reasons itself.
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.decorators"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=uri, token=token or "", timeout=timeout)
    except Exception as exc:
        raise MilvusFault(f"cannot reach Milvus at {redact(uri)}: {describe(exc)}") from None


def literal(text: str) -> str:
    """``text`` as a string literal of Milvus's filter language: JSON's escapes for quotes,
    backslashes and control characters, other characters as they are (Milvus's parser does not
    join ``\\u`` surrogate pairs, so characters beyond the BMP must not be escaped)."""
    return json.dumps(text, ensure_ascii=False)


def _successor(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (code point order,
    which is UTF-8's byte order, Milvus's order for VARCHAR); None if there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000  # no surrogates in UTF-8
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def prefix_filter(field_name: str, prefix: str) -> str:
    """A filter for ``field_name`` starting with ``prefix``, as a range (no wildcard escaping)."""
    if not prefix:
        return ""
    upper = _successor(prefix)
    clause = f"{field_name} >= {literal(prefix)}"
    return clause if upper is None else f"{clause} and {field_name} < {literal(upper)}"


def words_filter(words: list[str]) -> str:
    return f"{WORD} in [{', '.join(literal(w) for w in words)}]"


def both(*filters: str) -> str:
    return " and ".join(f"({f})" for f in filters if f)


def columns(result: Any, names: list[str]) -> dict[str, Any]:
    """The columns of a query/get answer: numpy arrays for numbers and vectors, lists of str.

    pymilvus materialises answers row by row (about 40 µs a row for a 300-d vector); when the
    answer keeps its protobuf columns (pymilvus 2.5–3.x) they are read directly, else row by row.
    """
    n = len(result)
    out: dict[str, Any] = {}
    lazy = {getattr(fd, "field_name", None): fd for fd in getattr(result, "_lazy_field_data", None) or []}
    try:
        for name in names:
            fd = lazy.get(name)
            if fd is not None and getattr(fd, "valid_data", None):
                raise LookupError(name)  # nullable columns: take the public path
            if fd is not None and fd.HasField("vectors"):
                dim = fd.vectors.dim
                out[name] = np.array(fd.vectors.float_vector.data, dtype=np.float32).reshape(-1, dim)
            elif fd is not None:
                out[name] = list(fd.scalars.string_data.data)
            else:
                out[name] = [list.__getitem__(result, i)[name] for i in range(n)]
            if len(out[name]) != n:
                raise LookupError(name)
    except (LookupError, AttributeError, TypeError, ValueError):
        rows = [result[i] for i in range(n)]
        out = {name: [row[name] for row in rows] for name in names}
        if VECTOR in out:
            out[VECTOR] = np.asarray(out[VECTOR], dtype=np.float32).reshape(n, -1)
    for name in (ID, RANK, COUNT):
        if name in out:
            out[name] = np.asarray(out[name], dtype=np.int64)
    if NORM in out:
        out[NORM] = np.asarray(out[NORM], dtype=np.float32)
    return out
