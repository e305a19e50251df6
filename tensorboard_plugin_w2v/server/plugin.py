"""The Word2Vec TensorBoard plugin: its parts, its routes, and their lifecycle.

The plugin owns the parts that serve requests (the :class:`Catalog` of the logdir, the model
store, search indexes, evaluation jobs, cache housekeeping) and every thread they start, in one
:class:`~tensorboard_plugin_w2v.lifecycle.ThreadGroup`: :meth:`Word2VecPlugin.close` stops and
joins them all. Routes live in modules by subject (``*_routes.py``): each parses its request into
typed arguments and calls a plain ``*_impl`` function that returns data; :mod:`.http` maps domain
errors to statuses in one place. Routes are documented with examples in ``docs/http_api.md``.

Importing this module stays light (no gensim, scipy, faiss or marisa-trie), so TensorBoard
starts without waiting for them. They are imported in a background thread
``WARM_UP_DELAY_SECONDS`` after the plugin is built (TensorBoard has started serving by then), or
as soon as the tab is opened if that comes first: never by the first query. The warm-up then
freezes the objects alive by then out of the cyclic garbage collector (``gc.freeze``), so a full
collection later does not walk TensorBoard's startup objects while every request waits.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable

from tensorboard.plugins import base_plugin
from werkzeug import wrappers
from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import lifecycle
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.engines.serving import Engines
from tensorboard_plugin_w2v.io import s3
from tensorboard_plugin_w2v.models import cache_budget, housekeeping
from tensorboard_plugin_w2v.models.discovery import Discovery
from tensorboard_plugin_w2v.models.store import ModelStore
from tensorboard_plugin_w2v.search.index import IndexManager
from tensorboard_plugin_w2v.server import http, inflight, info, params
from tensorboard_plugin_w2v.server.analysis_routes import AnalysisRoutes
from tensorboard_plugin_w2v.server.catalog import Catalog
from tensorboard_plugin_w2v.server.compare_routes import CompareRoutes
from tensorboard_plugin_w2v.server.evaluation_routes import EvaluationRoutes
from tensorboard_plugin_w2v.server.export_routes import ExportRoutes
from tensorboard_plugin_w2v.server.flags import Settings
from tensorboard_plugin_w2v.server.jobs import BackgroundJobs
from tensorboard_plugin_w2v.server.query_routes import QueryRoutes

logger = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")

ROUTE_INDEX_JS = "/index.js"
ROUTE_STATIC = "/static/*"
ROUTE_MODELS = "/models"

CLOSE_TIMEOUT_SECONDS = 5.0
WARM_UP_DELAY_SECONDS = 1.0
# Imported in the background once the plugin is built: what the first queries need.
HEAVY_MODULES = (
    "gensim.models",
    "scipy.stats",
    "tensorboard_plugin_w2v.models.loading",
    "tensorboard_plugin_w2v.models.vocabulary",
    "tensorboard_plugin_w2v.engines.local",
    "tensorboard_plugin_w2v.analysis.evaluation",
    "tensorboard_plugin_w2v.writers.projector",
    # Not faiss: only large models need it (imported by the index builder's thread, about
    # 0.15 s, after their first answer), and importing it here made a slow text-model load in a
    # test's plugin stall for 30 s (not understood yet; see the README).
)


class Word2VecPlugin(base_plugin.TBPlugin):
    """Serves word2vec models found in the logdir."""

    plugin_name = md.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext):
        self.settings = settings = Settings.from_flags(context.flags)
        self.logdir = context.logdir or ""
        self.cache_dir = settings.cache_dir
        self.group = lifecycle.ThreadGroup(f"{md.PLUGIN_NAME} plugin")  # every thread started for it
        self.store = ModelStore(
            settings.memory_budget_bytes,
            settings.cache_dir,
            allow_pickle=settings.allow_pickle,
            mmap_policy=settings.mmap_policy,
            group=self.group,
        )
        self.indexes = IndexManager(settings.cache_dir, group=self.group)  # ANN indexes of large models
        self.store.add_load_listener(self.indexes.attach)
        self.sweeper = housekeeping.Sweeper(settings.cache_dir, group=self.group)  # entries of gone versions
        self.store.add_load_listener(self.sweeper.request)
        s3.configure(settings.remote_timeout)  # --word2vec_remote_timeout
        self.cache_keeper = cache_budget.Keeper(  # --word2vec_cache_budget
            settings.cache_dir, settings.cache_budget_bytes, group=self.group
        )
        self.store.add_load_listener(self.cache_keeper.request)
        self.jobs = BackgroundJobs(group=self.group)  # evaluations
        discovery = Discovery(self.logdir, settings.allow_outside_logdir)
        # The one seam where a version becomes a model to query: local, or Milvus-backed (issue 16).
        self.engines = Engines.from_settings(self.store, settings)
        self.catalog = Catalog(
            self.logdir,
            discovery,
            self.store,
            settings.reload_interval,
            group=self.group,
            on_query=self.cache_keeper.request,
            engines=self.engines,
        )
        self._routes = (
            QueryRoutes(self.catalog),
            ExportRoutes(self.catalog),
            EvaluationRoutes(self.catalog, self.jobs),
            CompareRoutes(self.catalog),
            AnalysisRoutes(self.catalog, self.jobs),  # drift, concept axes, WEAT (issue 14)
        )
        self.sweeper.request()
        self.tab_opened = threading.Event()  # set by the tab's first request: warm up now
        self.group.spawn(self._warm_up, name="w2v-warm-up")
        lifecycle.close_at_exit(self)  # TensorBoard has no shutdown call for plugins

    # -- TensorBoard plugin interface -------------------------------------------------------

    def get_plugin_apps(self) -> dict[str, Callable]:
        apps = {
            ROUTE_INDEX_JS: self._serve_index_js,
            ROUTE_STATIC: self._serve_static,
            ROUTE_MODELS: http.json_route(self.models_route),
            info.ROUTE_INFO: http.json_route(info.info_route),
        }
        for routes in self._routes:
            apps.update(routes.apps())
        return apps

    def is_active(self) -> bool:
        # The tab also teaches how to add models to an empty logdir, so it is always shown.
        return True

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path=ROUTE_INDEX_JS, tab_name=md.TAB_NAME)

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> list[str]:
        """Stop every thread and pool the plugin started (evaluations, index builds, vocabulary
        saves, housekeeping, norms, file copies, prefix indexes) and wait up to ``timeout``
        seconds for them; the names of any still running. Safe to call more than once."""
        return self.group.close(timeout)

    # -- routes -----------------------------------------------------------------------------

    def models_route(self, args: MultiDict) -> dict:
        self.tab_opened.set()
        if "run" in args or "model" in args:  # one model's row, e.g. polled while it loads
            return self.model_impl(params.string(args, "run"), params.string(args, "model"))
        return self.models_impl()

    def model_impl(self, run: str, model: str) -> dict:
        """One model's row, from the last scan: following a model that loads rescans nothing."""
        return {"models": [self.catalog.row(run, model)], "logdir": self.logdir}

    def models_impl(self) -> dict:
        """Every model of the logdir (freshly scanned) with its versions and load status."""
        return {"models": self.catalog.listing(), "logdir": self.logdir, "store": self.store_status()}

    def store_status(self) -> dict:
        """What the server holds: models in memory, remembered failures, the cache folder."""
        return {
            **self.store.stats(),
            "memory_budget_bytes": self.store.memory_budget_bytes,
            "cache_bytes": cache_budget.folder_bytes(self.cache_dir) if self.cache_dir else 0,
            "cache_budget_bytes": self.cache_keeper.budget_bytes,
            "cache_evictions": self.cache_keeper.evictions,
        }

    @wrappers.Request.application
    def _serve_index_js(self, request):
        self.tab_opened.set()
        return http.static_file(request, STATIC_DIR, "index.js")

    def _warm_up(self) -> None:
        """Import what the first queries need, once the tab opens or TensorBoard has started."""
        deadline = time.monotonic() + WARM_UP_DELAY_SECONDS
        while not self.tab_opened.is_set() and time.monotonic() < deadline:
            if self.group.sleep(0.1):
                return
        _import_heavy_modules(self.group.stopping)
        inflight.REQUESTS.blas.refresh()  # scipy brings a BLAS library of its own
        _freeze_startup_objects()

    @wrappers.Request.application
    def _serve_static(self, request):
        return http.static_file(request, STATIC_DIR, request.path.rsplit("/static/", 1)[-1])


_frozen = threading.Lock()  # held for good by the first warm-up: once per process


def _freeze_startup_objects() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach (``gc.freeze``):
    TensorBoard's modules (with TensorFlow installed, about 370,000 objects) and the ones just
    imported live as long as the process. A full collection walked them all, holding the GIL:
    set off by any burst of new objects, such as faiss's import when the first index build
    starts, it stopped every request for 0.2-0.3 s (``scripts/load_test.py --during-build``).
    Afterwards it walks only the objects made since. Frozen objects are still freed when no
    reference to them is left; only a reference cycle among them would stay."""
    if _frozen.acquire(blocking=False):
        gc.freeze()


def _import_heavy_modules(stop) -> None:
    """Import what the first queries need, so that they do not wait for it."""
    for name in HEAVY_MODULES:
        if stop.is_set():
            return
        try:
            importlib.import_module(name)
        except ImportError as exc:  # e.g. faiss missing: search stays exact
            logger.info("not preloading %s: %s", name, exc)
