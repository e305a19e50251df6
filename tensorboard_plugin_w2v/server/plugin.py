"""The Word2Vec TensorBoard plugin: thin HTTP routes over discovery, the store and queries.

Each handler parses its request with :mod:`params`, calls a plain ``*_impl`` method that
returns JSON-ready data, and every error becomes a JSON 4xx response in :meth:`_respond`.
Routes are documented with examples in ``docs/http_api.md``.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import os
import threading
import time
import urllib.parse

import werkzeug
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models import housekeeping
from tensorboard_plugin_w2v.server import params
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.models.discovery import Discovery, ModelEntry, ModelVersion
from tensorboard_plugin_w2v.errors import BadRequest, Conflict, NotFound, Word2VecError
from tensorboard_plugin_w2v.search.index import IndexManager
from tensorboard_plugin_w2v.server.loader import default_cache_dir, parse_size
from tensorboard_plugin_w2v.models.loading import LoadedModel
from tensorboard_plugin_w2v.io.manifest import safe_name
from tensorboard_plugin_w2v.writers.projector import PROJECTOR_POINT_LIMIT, export_subset, projector_tsvs
from tensorboard_plugin_w2v.models.store import ModelStore

logger = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")

ROUTE_INDEX_JS = "/index.js"
ROUTE_STATIC = "/static/*"
ROUTE_MODELS = "/models"
ROUTE_NEIGHBORS = "/neighbors"
ROUTE_ANALOGY = "/analogy"
ROUTE_SIMILARITY = "/similarity"
ROUTE_DOESNT_MATCH = "/doesnt_match"
ROUTE_VOCAB = "/vocab"
ROUTE_VECTOR = "/vector"
ROUTE_PROJECT = "/project"
ROUTE_EXPORT_PROJECTOR = "/export_projector"
ROUTE_EXPORT_TSV = "/export_tsv"
ROUTE_EVALUATE = "/evaluate"
ROUTE_EVALUATE_CANCEL = "/evaluate/cancel"
ROUTE_COMPARE = "/compare"

# Exports for the Projector tab go into new runs under this folder of the logdir.
EXPORTS_FOLDER = "word2vec_exports"

_RESCAN_ON_MISS_SECONDS = 1.0


class Word2VecPlugin(base_plugin.TBPlugin):
    """Serves word2vec models found in the logdir."""

    plugin_name = md.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext):
        flags = context.flags
        self.logdir = context.logdir or ""
        budget = getattr(flags, "word2vec_memory_budget_bytes", None) or parse_size(
            getattr(flags, "word2vec_memory_budget", "8G")
        )
        self.cache_dir = getattr(flags, "word2vec_cache_dir", None) or default_cache_dir()
        self.reload_interval = float(getattr(flags, "word2vec_reload_interval", 5.0))
        self.discovery = Discovery(self.logdir, bool(getattr(flags, "word2vec_allow_outside_logdir", False)))
        self.store = ModelStore(
            budget,
            self.cache_dir,
            allow_pickle=not getattr(flags, "word2vec_no_pickle", False),
            mmap_policy=getattr(flags, "word2vec_mmap", None) or "auto",
        )
        self.indexes = IndexManager(self.cache_dir)  # ANN indexes of large models, built in the background
        self.store.add_load_listener(self.indexes.attach)
        self.sweeper = housekeeping.Sweeper(self.cache_dir)  # drops cache entries of gone versions
        self.store.add_load_listener(self.sweeper.request)
        self.sweeper.request()
        self._runs: dict[str, dict[str, ModelEntry]] = {}
        self._scanned_at = -math.inf
        self._scan_lock = threading.Lock()

    # -- TensorBoard plugin interface -------------------------------------------------------

    def get_plugin_apps(self):
        return {
            ROUTE_INDEX_JS: self._serve_index_js,
            ROUTE_STATIC: self._serve_static,
            ROUTE_MODELS: self._handler(self.models_impl),
            ROUTE_NEIGHBORS: self._handler(self.neighbors_impl),
            ROUTE_ANALOGY: self._handler(self.analogy_impl),
            ROUTE_SIMILARITY: self._handler(self.similarity_impl),
            ROUTE_DOESNT_MATCH: self._handler(self.doesnt_match_impl),
            ROUTE_VOCAB: self._handler(self.vocab_impl),
            ROUTE_VECTOR: self._handler(self.vector_impl),
            ROUTE_PROJECT: self._handler(self.project_impl),
            ROUTE_EXPORT_PROJECTOR: self._handler(self.export_projector_impl, method="POST"),
            ROUTE_EXPORT_TSV: self._serve_export_tsv,
            ROUTE_EVALUATE: self._handler(self.evaluate_impl),
            ROUTE_EVALUATE_CANCEL: self._handler(self.evaluate_cancel_impl, method="POST"),
            ROUTE_COMPARE: self._handler(self.compare_impl),
        }

    def is_active(self) -> bool:
        # The tab also teaches how to add models to an empty logdir, so it is always shown.
        return True

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path=ROUTE_INDEX_JS, tab_name=md.TAB_NAME)

    # -- discovery ------------------------------------------------------------------------

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
            try:
                if time.monotonic() - self._scanned_at > max_age:
                    try:
                        self._runs = self.discovery.scan()
                    except OSError as exc:  # storage unreachable: keep serving the last scan
                        logger.warning("cannot scan %s, keeping the last listing: %s", self.logdir, exc)
                    self._scanned_at = time.monotonic()
            finally:
                self._scan_lock.release()
        return self._runs

    def resolve(self, args) -> tuple[ModelVersion, LoadedModel]:
        """The model version a request names (``run``, ``model``, ``step``), loaded."""
        version = self.version_of(args)
        return version, self.store.get(version)

    def version_of(self, args) -> ModelVersion:
        """The model version a request names (``run``, ``model``, ``step``), not loaded."""
        run = params.string(args, "run")
        name = params.string(args, "model")
        step = params.integer(args, "step", default=None, minimum=-(2**63))
        runs = self.runs()
        if run not in runs or name not in runs[run]:
            runs = self.runs(max_age=_RESCAN_ON_MISS_SECONDS)
        if run not in runs:
            raise NotFound(f"unknown run {run!r}", known_runs=sorted(runs)[:100])
        if name not in runs[run]:
            raise NotFound(f"unknown model {name!r} in run {run!r}", known_models=sorted(runs[run]))
        entry = runs[run][name]
        try:
            version = entry.version(step)
        except KeyError:
            raise NotFound(
                f"model {name!r} of run {run!r} has no step {step}", known_steps=entry.steps
            ) from None
        return version

    # -- route implementations (plain data in, plain data out) ----------------------------

    def models_impl(self, args) -> dict:
        runs = self.runs(max_age=0)
        rows = [self._model_row(runs[run][name]) for run in sorted(runs) for name in sorted(runs[run])]
        return {"models": rows, "logdir": self.logdir}

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
            "path": self._display_path(version.path),
            "vocab_size": loaded.vocab_size if loaded else (header.vocab_size if header else None),
            "dim": loaded.dim if loaded else (header.dim if header else None),
            "counts_known": loaded.counts_known if loaded else None,
            "training": (loaded.training if loaded else None) or (header.training if header else None),
            "status": status,
            "error": error,
            "index": loaded.index.status() if loaded is not None and loaded.index is not None else None,
        }

    def _display_path(self, path: str) -> str:
        if fileio.is_remote(path) or not self.logdir or not fileio.is_within(path, self.logdir):
            return path
        return os.path.relpath(path, self.logdir).replace(os.sep, "/")

    def _header(self, version: ModelVersion) -> dict:
        return {"run": version.run, "model": version.name, "step": version.step}

    def neighbors_impl(self, args) -> dict:
        version, model = self.resolve(args)
        word = params.string(args, "word")
        k = params.integer(args, "k", md.DEFAULT_K, minimum=1, maximum=md.MAX_K)
        restrict = params.integer(args, "restrict_vocab", None, minimum=1)
        index = model.searcher(exact=params.boolean(args, "exact"))
        found = queries.neighbors(model.kv, word, k=k, restrict_vocab=restrict, index=index)
        return {
            **self._header(version),
            "word": word,
            "exact": index is None,
            "neighbors": self._neighbor_rows(model, found),
        }

    def analogy_impl(self, args) -> dict:
        version, model = self.resolve(args)
        expr = params.string(args, "expr", required=False)
        positive = params.strings(args, "positive", md.MAX_QUERY_WORDS)
        negative = params.strings(args, "negative", md.MAX_QUERY_WORDS)
        if expr is not None:
            if positive or negative:
                raise BadRequest("give either expr or positive/negative words, not both")
            positive, negative = queries.parse_expression(expr)
        elif not positive:
            raise BadRequest("missing parameter 'positive' (or 'expr', e.g. 'king - man + woman')")
        k = params.integer(args, "k", md.DEFAULT_K, minimum=1, maximum=md.MAX_K)
        method = (params.string(args, "method", required=False) or queries.METHOD_3COSADD).lower()
        restrict = params.integer(args, "restrict_vocab", None, minimum=1)
        index = model.searcher(exact=params.boolean(args, "exact"))
        found = queries.analogy(
            model.kv, positive, negative, k=k, method=method, restrict_vocab=restrict, index=index
        )
        return {
            **self._header(version),
            "positive": positive,
            "negative": negative,
            "method": method,
            "exact": index is None,
            "neighbors": self._neighbor_rows(model, found),
        }

    def similarity_impl(self, args) -> dict:
        version, model = self.resolve(args)
        a, b = params.string(args, "a"), params.string(args, "b")
        return {**self._header(version), "a": a, "b": b, "similarity": queries.similarity(model.kv, a, b)}

    def doesnt_match_impl(self, args) -> dict:
        version, model = self.resolve(args)
        words = params.strings(args, "word", md.MAX_QUERY_WORDS)
        return {**self._header(version), "words": words, "word": queries.doesnt_match(model.kv, words)}

    def vocab_impl(self, args) -> dict:
        version, model = self.resolve(args)
        prefix = params.string(args, "prefix", required=False, default="")
        offset = params.integer(args, "offset", 0, minimum=0)
        limit = params.integer(args, "limit", md.DEFAULT_VOCAB_LIMIT, minimum=0, maximum=md.MAX_VOCAB_LIMIT)
        words, total = queries.vocab(model.kv, prefix, offset, limit, model.counts_known)
        return {
            **self._header(version),
            "prefix": prefix,
            "total": total,
            "words": [{"word": w.word, "count": w.count, "index": w.index} for w in words],
        }

    def vector_impl(self, args) -> dict:
        version, model = self.resolve(args)
        word = params.string(args, "word")
        return {**self._header(version), "word": word, "vector": queries.vector(model.kv, word).tolist()}

    def project_impl(self, args) -> dict:
        version, model = self.resolve(args)
        words = params.strings(args, "word", md.MAX_PROJECT_WORDS)
        if not words:
            raise BadRequest("missing parameter 'word' (repeat it for each word to project)")
        coords, ratio = queries.project(model.kv, words)
        return {
            **self._header(version),
            "explained_variance": ratio.tolist(),
            "points": [
                {"word": w, "x": float(x), "y": float(y)} for w, (x, y) in zip(words, coords, strict=True)
            ],
        }

    def _neighbourhood(self, args) -> tuple[ModelVersion, LoadedModel, str, int, list[str]]:
        """The query word and its ``n`` nearest neighbours, for export to the Projector."""
        version, model = self.resolve(args)
        word = params.string(args, "word")
        n = params.integer(args, "n", 1000, minimum=1, maximum=PROJECTOR_POINT_LIMIT - 1)
        found = queries.neighbors(model.kv, word, k=n)
        return version, model, word, n, [word] + [f.word for f in found]

    def export_projector_impl(self, args) -> dict:
        """Write a neighbourhood as a new run the Projector lists, or 409 with TSV links."""
        version, model, word, n, words = self._neighbourhood(args)
        slug = safe_name(f"{version.run}-{version.name}-{word}-{n}")[:80]
        run_rel = f"{EXPORTS_FOLDER}/{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 1000:03d}"
        tensor_name = f"{word} + {len(words) - 1} neighbours ({version.run}/{version.name})"
        try:
            if fileio.is_remote(self.logdir):
                raise PermissionError("remote logdirs are not written by the plugin")
            export_subset(model.kv, words, os.path.join(self.logdir, *run_rel.split("/")), tensor_name)
        except OSError as exc:
            query = urllib.parse.urlencode(
                {
                    "run": version.run,
                    "model": version.name,
                    "word": word,
                    "n": n,
                    **({"step": version.step} if version.step is not None else {}),
                }
            )
            raise Conflict(
                f"the logdir cannot be written ({exc.strerror or exc}); download the two TSV files "
                "and load them with the Projector's Load button",
                tsv={part: f"export_tsv?{query}&part={part}" for part in ("tensor", "metadata")},
            ) from None
        return {"run": run_rel, "tensor_name": tensor_name, "points": len(words)}

    @wrappers.Request.application
    def _serve_export_tsv(self, request):
        try:
            part = params.string(request.args, "part")
            if part not in ("tensor", "metadata"):
                raise BadRequest("part must be 'tensor' or 'metadata'")
            _version, model, word, n, words = self._neighbourhood(request.args)
        except Word2VecError as exc:
            return _json_response(request, exc.to_json(), exc.http_status)
        tensor, metadata = projector_tsvs(model.kv, words)
        body = (tensor if part == "tensor" else metadata).encode("utf-8", "backslashreplace")
        filename = f"{safe_name(word)[:40]}-{n}-{part}.tsv"
        return http_util.Respond(
            request,
            body,
            "text/tab-separated-values",
            headers=[("Content-Disposition", f'attachment; filename="{filename}"')],
        )

    def _neighbor_rows(self, model: LoadedModel, found: list[queries.Neighbor]) -> list[dict]:
        return [
            {
                "word": n.word,
                "similarity": n.similarity,
                "index": n.index,
                "count": queries.word_count(model.kv, n.index, model.counts_known),
            }
            for n in found
        ]

    # -- evaluation and comparison (issue #5) ------------------------------------------------
    # Benchmarks: gensim's bundled files, plus files in <logdir>/benchmarks/ and in a run's
    # plugins/word2vec/benchmarks/ (the run's file wins on a name clash).

    _jobs_lock = threading.Lock()

    def _evaluation_jobs(self):
        from tensorboard_plugin_w2v.analysis.evaluation import BackgroundJobs

        with self._jobs_lock:
            if getattr(self, "_eval_jobs", None) is None:
                self._eval_jobs = BackgroundJobs()
            return self._eval_jobs

    def benchmarks_for(self, version: ModelVersion) -> dict:
        from tensorboard_plugin_w2v.analysis import evaluation

        folders = []
        if self.logdir:
            folders.append((fileio.join(self.logdir, "benchmarks"), "logdir"))
            run_dir = self.logdir if version.run == "." else fileio.join(self.logdir, version.run)
            folders.append((fileio.join(run_dir, md.PLUGIN_DIR, "benchmarks"), "run"))
        found = evaluation.find_benchmarks(folders)
        # A benchmark file that is a symbolic link out of the logdir is not the logdir's to serve.
        return {
            name: b
            for name, b in found.items()
            if b.source == evaluation.SOURCE_BUILTIN or fileio.is_within(b.path, self.logdir)
        }

    def evaluate_impl(self, args) -> dict:
        """One benchmark on one model version; without ``benchmark``, the benchmarks available."""
        from tensorboard_plugin_w2v.analysis import evaluation

        version = self.version_of(args)
        if not params.string(args, "benchmark", required=False):  # listing needs no model
            return {
                **self._header(version),
                "status": "done",
                "benchmarks": [b.to_json() for b in self.benchmarks_for(version).values()],
            }
        model = self.store.get(version)
        key, benchmark, method, restrict = self._evaluation_key(version, args, model)
        wait = params.integer(args, "wait", 5, minimum=0, maximum=60)
        status, result, cached, progress = self._evaluation_jobs().run(
            key,
            lambda progress: evaluation.evaluate(
                model.kv, benchmark, method or "3cosadd", restrict, progress=progress
            ).to_json(),
            wait,
        )
        header = {**self._header(version), "benchmark": benchmark.name, "status": status, "cached": cached}
        if progress is not None:
            header["progress"] = progress
        return {**header, **(result or {}), "status": status}

    def evaluate_cancel_impl(self, args) -> dict:
        """Stop the evaluation that ``/evaluate`` with the same parameters started."""
        version = self.version_of(args)
        loaded = self.store.status(version)[1]  # the model in memory, if any: nothing is loaded
        key, benchmark, _method, _restrict = self._evaluation_key(version, args, loaded)
        cancelled = key is not None and self._evaluation_jobs().cancel(key)
        return {
            **self._header(version),
            "benchmark": benchmark.name,
            "status": "cancelled" if cancelled else "not_running",
        }

    def _evaluation_key(self, version: ModelVersion, args, model: LoadedModel | None = None):
        """``(job key, benchmark, method, restrict_vocab)`` of an evaluation request.

        The key names the version of ``model`` (the one evaluated: while a new version of the
        file loads, or fails to, the store answers with the previous one), else the file's
        current version; ``None`` when neither is known.
        """
        from tensorboard_plugin_w2v.analysis import evaluation

        found = self.benchmarks_for(version)
        name = params.string(args, "benchmark")
        if name not in found:
            raise NotFound(f"unknown benchmark {name!r}", known_benchmarks=sorted(found))
        benchmark = found[name]
        method = (params.string(args, "method", required=False) or evaluation.METHOD_3COSADD).lower()
        if method not in evaluation.METHODS:
            raise BadRequest(f"method must be one of {', '.join(evaluation.METHODS)}, not {method!r}")
        restrict = params.integer(args, "restrict_vocab", evaluation.DEFAULT_RESTRICT_VOCAB, minimum=1)
        if benchmark.kind != evaluation.KIND_ANALOGIES:
            method = None
        try:
            bench_identity = fileio.stat(benchmark.path)
        except OSError:
            raise NotFound(f"benchmark file {name!r} disappeared") from None
        model_key = None
        if model is not None:
            model_key = model.identity or id(model.kv)
        else:
            try:
                model_key = fileio.stat(version.path)
            except OSError:
                pass
        key = None if model_key is None else (model_key, bench_identity, method, restrict)
        return key, benchmark, method, restrict

    def compare_impl(self, args) -> dict:
        """Neighbourhood overlap of two models (``run2``/``model2``/``step2``; missing ones default
        to the first model's), on ``words`` or the ``n`` most frequent shared words."""
        from werkzeug.datastructures import MultiDict

        from tensorboard_plugin_w2v.analysis import comparison

        run2 = params.string(args, "run2", required=False)
        model2 = params.string(args, "model2", required=False)
        step2 = params.integer(args, "step2", default=None, minimum=-(2**63))
        if run2 is None and model2 is None and step2 is None:
            raise BadRequest("name the second model with run2 and model2, or step2 for another step")
        version_a, model_a = self.resolve(args)
        second = MultiDict(
            [("run", run2 or version_a.run), ("model", model2 or version_a.name)]
            + ([("step", str(step2))] if step2 is not None else [])
        )
        version_b, model_b = self.resolve(second)
        words = params.strings(args, "word", comparison.MAX_WORDS)
        text = params.string(args, "words", required=False)
        if text:
            words += comparison.parse_words(text)
        if len(words) > comparison.MAX_WORDS:
            raise BadRequest(f"at most {comparison.MAX_WORDS} words can be compared, got {len(words)}")
        n = params.integer(args, "n", comparison.DEFAULT_WORDS, minimum=1, maximum=comparison.MAX_WORDS)
        k = params.integer(args, "k", comparison.DEFAULT_K, minimum=1, maximum=comparison.MAX_K)
        scope = params.string(args, "scope", required=False, default=comparison.SCOPE_SHARED)
        result = comparison.compare(model_a.kv, model_b.kv, words or None, n=n, k=k, scope=scope)
        return {
            "a": {**self._header(version_a), "vocab_size": model_a.vocab_size, "dim": model_a.dim},
            "b": {**self._header(version_b), "vocab_size": model_b.vocab_size, "dim": model_b.dim},
            **result.to_json(),
        }

    # -- HTTP plumbing --------------------------------------------------------------------

    def _handler(self, impl, method: str = "GET"):
        allowed = ("GET", "HEAD") if method == "GET" else (method,)

        @wrappers.Request.application
        def handle(request: wrappers.Request) -> wrappers.Response:
            if request.method not in allowed:
                message = f"method {request.method} is not allowed; use {method}"
                return _json_response(request, {"error": message}, 405)
            if method == "POST" and not request.headers.get("X-Requested-With"):
                # A custom header forces a CORS preflight, so other sites cannot post here.
                message = "POST requests need an X-Requested-With header"
                return _json_response(request, {"error": message}, 403)
            try:
                data = impl(request.args)
            except Word2VecError as exc:
                response = _json_response(request, exc.to_json(), exc.http_status)
                if "retry_after" in exc.details:
                    response.headers["Retry-After"] = str(exc.details["retry_after"])
                return response
            except Exception:
                logger.exception("unexpected error in %s", request.path)
                return _json_response(request, {"error": "internal error; see the TensorBoard log"}, 500)
            # Results still being computed in the background (an evaluation) answer 202.
            running = data.get("status") in ("queued", "running")
            return _json_response(request, data, 202 if running else 200)

        return handle

    @wrappers.Request.application
    def _serve_index_js(self, request):
        return self._static_file(request, "index.js")

    @wrappers.Request.application
    def _serve_static(self, request):
        name = request.path.rsplit("/static/", 1)[-1]
        return self._static_file(request, name)

    def _static_file(self, request, name: str):
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return _json_response(request, {"error": f"no such file: {name!r}"}, 404)
        path = os.path.join(STATIC_DIR, name)
        if not os.path.isfile(path) or not fileio.is_within(path, STATIC_DIR):
            message = f"no such file: {name!r}"
            if name == "index.js":
                message = "the Word2Vec tab was not built; reinstall with Node.js available (pip install .)"
            return _json_response(request, {"error": message}, 404)
        with open(path, "rb") as f:
            content = f.read()
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith((".js", ".mjs")):
            mimetype = "text/javascript"
        return http_util.Respond(request, content, mimetype)


def _finite(value):
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_response(request, data: dict, status: int = 200) -> werkzeug.Response:
    data = _finite(data)
    try:
        body = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a word pickled that way): escape it in JSON
        body = json.dumps(data, ensure_ascii=True, allow_nan=False).encode("ascii")
    return http_util.Respond(request, body, "application/json", code=status)
