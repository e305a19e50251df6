"""The server's view of the logdir: the last scan, refreshed when stale, and names resolved to models.

Requests name models by run, model and step (:class:`~tensorboard_plugin_w2v.server.params.ModelRef`),
never by path; the catalog turns a name into a :class:`ModelVersion` of its own scan (or
:class:`NotFound` listing the names it knows) and the store loads it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v.engines.serving import Engines, ServedModel
from tensorboard_plugin_w2v.errors import NotFound
from tensorboard_plugin_w2v.io import fileio, remote
from tensorboard_plugin_w2v.models import faults
from tensorboard_plugin_w2v.models.discovery import Discovery, ModelEntry, ModelVersion
from tensorboard_plugin_w2v.models.store import ModelStore
from tensorboard_plugin_w2v.server.params import ModelRef
from tensorboard_plugin_w2v.writers.exports import is_export_run

logger = logging.getLogger(__name__)

_RESCAN_ON_MISS_SECONDS = 1.0


class Catalog:
    """The logdir's runs and models (rescanned every ``reload_interval`` seconds at most)."""

    def __init__(
        self,
        logdir: str,
        discovery: Discovery,
        store: ModelStore,
        reload_interval: float,
        group: lifecycle.ThreadGroup | None = None,
        on_query=None,
        engines: Engines | None = None,
    ):
        self.logdir = logdir
        self.discovery = discovery
        self.store = store
        self.reload_interval = reload_interval
        self.group = group  # remote rescans run in its threads
        self.on_query = on_query  # called at every lookup (the cache budget's rate-limited check)
        self.engines = engines or Engines(store)
        self._runs: dict[str, dict[str, ModelEntry]] = {}
        self._scanned_at = -math.inf
        self._scan_lock = threading.Lock()

    def runs(self, max_age: float | None = None) -> dict[str, dict[str, ModelEntry]]:
        """The logdir's models, rescanned when the last scan is older than ``max_age`` seconds."""
        fresh = max_age is not None or self._scanned_at == -math.inf
        max_age = self.reload_interval if max_age is None else max_age
        if time.monotonic() - self._scanned_at > max_age:
            # A periodic refresh never waits behind a scan already running (a slow remote walk
            # would hold up every query): the last listing answers meanwhile. Callers that need
            # a fresh listing (the listing itself, a name not found) wait for it.
            if not self._scan_lock.acquire(blocking=fresh):
                return self._runs
            if not fresh and fileio.is_remote(self.logdir) and self.group is not None:
                # a remote walk may hang until --word2vec_remote_timeout: never in a query's way
                if self.group.spawn(self._rescan_released, name="w2v-rescan", args=(max_age,)) is None:
                    self._scan_lock.release()
                return self._runs
            self._rescan_released(max_age)
        if self.on_query is not None:
            self.on_query()
        return self._runs

    def entry(self, run: str, model: str, max_age: float | None = None) -> ModelEntry:
        """The listed model ``model`` of ``run``, from a scan at most ``max_age`` seconds old
        (default: the reload interval), looked for in a new scan (at most once a second) if
        not in it."""
        runs = self.runs(max_age)
        if run not in runs or model not in runs[run]:
            runs = self.runs(max_age=_RESCAN_ON_MISS_SECONDS)
        if run not in runs:
            raise NotFound(f"unknown run {run!r}", known_runs=sorted(runs)[:100])
        if model not in runs[run]:
            raise NotFound(f"unknown model {model!r} in run {run!r}", known_models=sorted(runs[run]))
        return runs[run][model]

    def _rescan_released(self, max_age: float) -> None:
        """Rescan if still due, then release ``_scan_lock`` (taken by the caller)."""
        try:
            if time.monotonic() - self._scanned_at > max_age:
                try:
                    self._runs = self._scan()
                    self.store.forget_missing(
                        v.path for models in self._runs.values() for e in models.values() for v in e.versions
                    )
                except (OSError, TimeoutError) as exc:  # storage unreachable: keep serving the last scan
                    logger.warning("cannot scan %s, keeping the last listing: %s", self.logdir, exc)
                self._scanned_at = time.monotonic()
        finally:
            self._scan_lock.release()

    def _scan(self) -> dict[str, dict[str, ModelEntry]]:
        """The discovery scan; a remote one gives up after --word2vec_remote_timeout (it goes on in
        the background, and the last listing answers meanwhile)."""
        if not fileio.is_remote(self.logdir):
            return self.discovery.scan()
        return remote.with_deadline(self.discovery.scan, None, "remote-scan")

    def version(self, ref: ModelRef) -> ModelVersion:
        """The model version ``ref`` names, not loaded."""
        entry = self.entry(ref.run, ref.model)
        try:
            return entry.version(ref.step)
        except KeyError:
            raise NotFound(
                f"model {ref.model!r} of run {ref.run!r} has no step {ref.step}", known_steps=entry.steps
            ) from None

    def resolve(self, ref: ModelRef) -> tuple[ModelVersion, ServedModel]:
        """The model version ``ref`` names, ready to query: loaded here, or served by Milvus."""
        version = self.version(ref)
        return version, self.engines.model(version)

    # -- the listing ------------------------------------------------------------------------

    def listing(self) -> list[dict]:
        """Every model of a fresh scan: the latest version's details, and each version's. The tab's
        Projector exports are left out (``/exports`` lists them)."""
        runs = self.runs(max_age=0)
        self.engines.refresh()
        shown = sorted(run for run in runs if not is_export_run(run))
        return [self._model_row(runs[run][name]) for run in shown for name in sorted(runs[run])]

    def row(self, run: str, model: str) -> dict:
        """One model's row of the last scan (no rescan unless the name is not in it), e.g. to
        follow a model while it loads."""
        return self._model_row(self.entry(run, model, max_age=math.inf))

    def _model_row(self, entry: ModelEntry) -> dict:
        """The latest version's details, and each version's under ``versions`` (oldest first)."""
        versions = [self._version_details(v) for v in entry.versions]
        latest = self._version_details(entry.version())
        return {"run": entry.run, "model": entry.name, "steps": entry.steps, **latest, "versions": versions}

    def _version_details(self, version: ModelVersion) -> dict:
        status, loaded, error = self.store.status(version)
        header = version.header
        return {
            "step": version.step,
            "format": loaded.format if loaded else version.format,
            "source": version.source,
            "path": self.display_path(version.path),
            "vocab_size": loaded.vocab_size if loaded else (header.vocab_size if header else None),
            "dim": loaded.dim if loaded else (header.dim if header else None),
            "counts_known": loaded.counts_known if loaded else None,
            "training": (loaded.training if loaded else None) or (header.training if header else None),
            "status": status,
            "error": error,
            "index": loaded.index.status() if loaded is not None and loaded.index is not None else None,
            "version": loaded.identity.tag if loaded is not None and loaded.identity else None,
            # why a loaded model is served slower than it could be (a cache entry did not fit)
            "degraded": ("; ".join(faults.notes_for(loaded.identity)) or None)
            if loaded is not None
            else None,
            **self.engines.describe(version),  # which engine serves it (and a pushed version's record)
        }

    def display_path(self, path: str) -> str:
        """A path as the listing shows it: relative to the logdir when inside it."""
        if fileio.is_remote(path) or not self.logdir or not fileio.is_within(path, self.logdir):
            return path
        return os.path.relpath(path, self.logdir).replace(os.sep, "/")


def header(version: ModelVersion, model: ServedModel | None = None) -> dict:
    """The fields every answer about one model version starts with; with the model that answered,
    ``version`` names the file version it was loaded from (the previous one answers while a new
    one loads)."""
    out = {"run": version.run, "model": version.name, "step": version.step}
    if model is not None:
        out["version"] = model.identity.tag if model.identity is not None else None
    return out
