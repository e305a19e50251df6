"""Push models into Milvus (``w2v-milvus push``, :func:`push_model`), list and sweep them.

    >>> from tensorboard_plugin_w2v.engines.milvus_push import push_model
    >>> path = log_model("logs/run1", model, name="w2v", step=100)       # doctest: +SKIP
    >>> push_model(path, "http://milvus:19530").status                    # doctest: +SKIP
    'pushed'

A push writes the rows into ``<collection>_partial``, flushes them, builds the index, checks
the row count and renames the collection last (see :mod:`.milvus_schema`), so an interrupted
push is never served; it is dropped by the next push of the same file or by :func:`gc`.
Pushing the same file again skips it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.engines import milvus_schema as ms
from tensorboard_plugin_w2v.errors import ModelLoadError, Word2VecError
from tensorboard_plugin_w2v.io import fileio, formats
from tensorboard_plugin_w2v.models.discovery import Discovery, ModelVersion
from tensorboard_plugin_w2v.models.loading import load_model
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.models.norms import row_norms

logger = logging.getLogger(__name__)

PUSHED, SKIPPED, LOCAL, FAILED = "pushed", "skipped", "local", "failed"
# fastText answers out-of-vocabulary words from n-gram vectors, which a collection cannot hold.
UNPUSHABLE_FORMATS = {
    md.FORMAT_GENSIM_FASTTEXT: "fastText models answer unknown words from n-grams; they stay local",
    md.FORMAT_FASTTEXT_BIN: "fastText models answer unknown words from n-grams; they stay local",
}
BATCH_BYTES = 16 << 20  # payload of one insert call (Milvus accepts up to 64 MB)
INDEX_WAIT_SECONDS = 3600.0

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class PushResult:
    """What happened to one model version."""

    path: str
    status: str  # pushed, skipped (already there), local (a format Milvus cannot serve) or failed
    collection: str | None = None
    rows: int = 0
    dim: int = 0
    seconds: float = 0.0
    reason: str | None = None
    run: str | None = None
    model: str | None = None
    step: int | None = None

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.status == PUSHED and self.seconds > 0 else None


def push_model(
    path: str,
    uri: str,
    token: str | None = None,
    *,
    format: str | None = None,
    run: str | None = None,
    name: str | None = None,
    step: int | None = None,
    index_type: str = "HNSW",
    timeout: float = 60.0,
    allow_pickle: bool = True,
    cache_dir: str | None = None,
    progress: Progress | None = None,
    client=None,
    version: ModelVersion | None = None,
) -> PushResult:
    """Push the model file at ``path`` (any format the plugin reads) into Milvus at ``uri``.

    Returns a :class:`PushResult`: ``pushed``, ``skipped`` (this version is already there),
    ``local`` (fastText: served locally) or ``failed`` (with the ``reason``: a file that cannot
    be read, Milvus unreachable). ``token`` defaults to the ``W2V_MILVUS_TOKEN`` environment variable.
    """
    started = time.monotonic()
    result = PushResult(path=path, status=FAILED, run=run, model=name, step=step)
    try:
        identity = fileio.stat(path)
    except OSError as exc:
        result.reason = f"cannot read {path}: {exc.strerror or exc}"
        return result
    result.collection = collection = ms.collection_name(identity)
    if index_type not in ms.INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(ms.INDEX_TYPES)}")
    token = token if token is not None else os.environ.get(ms.TOKEN_ENV)
    try:
        client = client or ms.connect(uri, token, timeout)
        if client.has_collection(collection, timeout=timeout):
            result.status = SKIPPED
            return result
        format = format or (version.format if version else None) or _sniff(path)
        if format in UNPUSHABLE_FORMATS:
            result.status, result.reason = LOCAL, UNPUSHABLE_FORMATS[format]
            return result
        model = load_model(
            path,
            format,
            metadata_path=version.metadata_path if version else None,
            tensor_shape=version.tensor_shape if version else None,
            allow_pickle=allow_pickle,
            cache_dir=cache_dir,
        )
        if fileio.stat(path) != identity:
            result.reason = f"{path} changed while it was read; push it again once it is written"
            return result
        record = ms.PushedVersion(
            path=identity.path,
            size=identity.size,
            mtime_ns=identity.mtime_ns,
            version=identity.version,
            format=model.format,
            rows=model.vocab_size,
            dim=model.dim,
            counts_known=bool(model.counts_known),
            training=model.training,
            run=run,
            model=name,
            step=step,
            pushed_at=time.time(),
            index=_index_params(index_type),
        )
        _write_collection(client, collection, model, record, index_type, timeout, progress)
    except (Word2VecError, ModelLoadError) as exc:
        result.reason = exc.message
        return result
    except OSError as exc:
        result.reason = f"cannot read {path}: {exc.strerror or exc}"
        return result
    except Exception as exc:  # pymilvus raises many kinds; each means the push did not finish
        result.reason = f"Milvus refused the push: {ms.describe(exc)}"
        return result
    result.status, result.rows, result.dim = PUSHED, record.rows, record.dim
    result.seconds = time.monotonic() - started
    return result


def _sniff(path: str) -> str:
    header = formats.sniff(path)
    if header is None:
        raise ModelLoadError(f"{path} is not a word2vec model in any format this plugin reads")
    return header.format


def _index_params(index_type: str) -> dict:
    if index_type == "AUTOINDEX":
        return {"index_type": "AUTOINDEX", "metric_type": "COSINE", "params": {}}
    return {
        "index_type": "HNSW",
        "metric_type": "COSINE",
        "params": {"M": ms.HNSW_M, "efConstruction": ms.HNSW_EF_CONSTRUCTION},
    }


def _word_bytes(words: list[str]) -> int:
    """Longest word in UTF-8 bytes; words Milvus cannot store raise :class:`ModelLoadError`."""
    longest = 1
    for w in words:
        try:
            size = len(w.encode("utf-8"))
        except UnicodeEncodeError:
            raise ModelLoadError(f"the word {w!r} is not valid Unicode text; Milvus cannot store it") from None
        if size > ms.MAX_WORD_BYTES:
            raise ModelLoadError(f"a word of {size} bytes is longer than Milvus's limit ({ms.MAX_WORD_BYTES})")
        longest = max(longest, size)
    return longest


def _write_collection(client, collection, model: LoadedModel, record, index_type, timeout, progress) -> None:
    from pymilvus import DataType, MilvusClient

    kv = model.kv
    words = list(kv.index_to_key)
    n, dim = len(words), model.dim
    longest = _word_bytes(words)
    partial = ms.partial_name(collection)
    if client.has_collection(partial, timeout=timeout):
        client.drop_collection(partial, timeout=timeout)  # an interrupted push of this file
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=record.to_description())
    schema.add_field(ms.ID, DataType.INT64, is_primary=True)
    schema.add_field(ms.RANK, DataType.INT64)
    schema.add_field(ms.WORD, DataType.VARCHAR, max_length=min(ms.MAX_WORD_BYTES, longest))
    schema.add_field(ms.LOWER, DataType.VARCHAR, max_length=ms.MAX_WORD_BYTES)
    schema.add_field(ms.COUNT, DataType.INT64)
    schema.add_field(ms.NORM, DataType.FLOAT)
    schema.add_field(ms.VECTOR, DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(partial, schema=schema, timeout=timeout)
    try:
        ranks = np.empty(n, dtype=np.int64)
        ranks[queries.frequency_order(kv, model.counts_known)] = np.arange(n)
        counts = (
            np.asarray(kv.expandos["count"], dtype=np.int64) if model.counts_known else np.full(n, -1, np.int64)
        )
        norms = row_norms(kv.vectors)
        batch = max(1, min(50_000, BATCH_BYTES // (4 * dim + 2 * longest + 64)))
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            vectors = np.asarray(kv.vectors[start:stop], dtype=np.float32)
            rows = [
                {
                    ms.ID: i,
                    ms.RANK: int(ranks[i]),
                    ms.WORD: words[i],
                    ms.LOWER: words[i].lower(),
                    ms.COUNT: int(counts[i]),
                    ms.NORM: float(norms[i]),
                    ms.VECTOR: vectors[i - start],
                }
                for i in range(start, stop)
            ]
            client.insert(partial, rows, timeout=timeout)
            if progress:
                progress("insert", stop, n)
        client.flush(partial, timeout=timeout)
        index = client.prepare_index_params()
        params = _index_params(index_type)
        index.add_index(field_name=ms.VECTOR, index_name=ms.VECTOR, **params)
        client.create_index(partial, index, timeout=timeout)
        _wait_for_index(client, partial, n, timeout, progress)
        stored = int(client.get_collection_stats(partial, timeout=timeout).get("row_count", -1))
        if stored != n:
            raise ModelLoadError(f"Milvus holds {stored} rows of {n} after the push")
        client.rename_collection(partial, collection, timeout=timeout)  # the "complete" marker
    except BaseException:
        try:  # best effort: an interrupted push leaves a partial collection, never served
            client.drop_collection(partial, timeout=timeout)
        except Exception:
            pass
        raise


def _wait_for_index(client, name: str, rows: int, timeout: float, progress: Progress | None) -> None:
    deadline = time.monotonic() + INDEX_WAIT_SECONDS
    while True:
        info = client.describe_index(name, ms.VECTOR, timeout=timeout) or {}
        done = int(info.get("indexed_rows", 0) or 0)
        if progress:
            progress("index", min(done, rows), rows)
        state = str(info.get("state", ""))
        if done >= rows or "Finished" in state:
            return
        if "Failed" in state:
            raise ModelLoadError(f"Milvus could not build the index: {info.get('index_state_fail_reason', state)}")
        if time.monotonic() > deadline:
            raise ModelLoadError("Milvus did not finish the index within an hour")
        time.sleep(0.5)


def push_logdir(
    logdir: str,
    uri: str,
    token: str | None = None,
    runs: list[str] | None = None,
    *,
    allow_outside_logdir: bool = False,
    on_start: Callable[[ModelVersion], Progress | None] | None = None,
    **options,
) -> list[PushResult]:
    """Push every model version of ``logdir`` (or of the named ``runs``); one result each.

    ``on_start(version)`` may return a progress callback for that version's push.
    """
    found = Discovery(logdir, allow_outside_logdir).scan()
    if runs:
        unknown = [r for r in runs if r not in found]
        if unknown:
            raise ValueError(f"no models in run(s) {', '.join(unknown)} of {logdir} (runs: {', '.join(sorted(found))})")
    token = token if token is not None else os.environ.get(ms.TOKEN_ENV)
    client = ms.connect(uri, token, options.get("timeout", 60.0))
    results = []
    for run in sorted(found):
        if runs and run not in runs:
            continue
        for name in sorted(found[run]):
            for version in found[run][name].versions:
                if version.error:
                    results.append(PushResult(version.path, FAILED, reason=version.error, run=run, model=name, step=version.step))
                    continue
                progress = on_start(version) if on_start else None
                results.append(
                    push_model(
                        version.path,
                        uri,
                        token,
                        run=run,
                        name=name,
                        step=version.step,
                        progress=progress,
                        client=client,
                        version=version,
                        **options,
                    )
                )
    return results


@dataclass
class Listed:
    """One collection this package wrote, complete or partial."""

    collection: str
    complete: bool
    record: ms.PushedVersion | None


def list_pushed(client, timeout: float = 60.0) -> list[Listed]:
    """Every collection named like this package's, with its description record."""
    out = []
    for name in sorted(client.list_collections(timeout=timeout)):
        if not name.startswith(ms.PREFIX):
            continue
        description = client.describe_collection(name, timeout=timeout).get("description", "")
        out.append(Listed(name, ms.is_complete_name(name), ms.PushedVersion.from_description(description)))
    return out


def _in_logdir(path: str, logdir: str) -> bool:
    base = logdir if fileio.is_remote(logdir) else os.path.abspath(logdir)
    return fileio.is_within(path, base)


def _version_exists(record: ms.PushedVersion) -> bool:
    try:
        return ms.collection_name(fileio.stat(record.path)) == ms.collection_name(record.identity)
    except FileNotFoundError:
        return False


def gc(
    logdir: str,
    uri: str,
    token: str | None = None,
    *,
    dry_run: bool = False,
    partial_age: float = 3600.0,
    timeout: float = 60.0,
) -> list[Listed]:
    """Drop the collections of ``logdir``'s model versions that no longer exist (file removed or
    replaced), and partial pushes older than ``partial_age`` seconds. Collections of files
    outside ``logdir`` are left alone. Returns what was (or, with ``dry_run``, would be) dropped.
    """
    token = token if token is not None else os.environ.get(ms.TOKEN_ENV)
    client = ms.connect(uri, token, timeout)
    dropped = []
    for item in list_pushed(client, timeout):
        record = item.record
        if record is None or not _in_logdir(record.path, logdir):
            continue
        if item.complete:
            try:
                gone = not _version_exists(record)
            except OSError as exc:  # storage unreachable: keep what cannot be checked
                logger.warning("cannot check %s, keeping %s: %s", record.path, item.collection, exc)
                continue
        else:
            gone = time.time() - record.pushed_at > partial_age
        if gone:
            dropped.append(item)
            if not dry_run:
                client.drop_collection(item.collection, timeout=timeout)
    return dropped
