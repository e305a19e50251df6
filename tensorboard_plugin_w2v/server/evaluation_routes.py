"""``/evaluate`` and ``/evaluate/cancel``: benchmarks run as background jobs, answered 202 while running.

Benchmarks are gensim's bundled files, plus files in ``<logdir>/benchmarks/`` and in a run's
``plugins/word2vec/benchmarks/`` (the run's file wins on a name clash).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import NamedTuple

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import arithmetic, benchmarks
from tensorboard_plugin_w2v.errors import NotFound
from tensorboard_plugin_w2v.io import fileio
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.server import http, params
from tensorboard_plugin_w2v.server.catalog import Catalog, header
from tensorboard_plugin_w2v.server.jobs import STATUS_DONE, BackgroundJobs

ROUTE_EVALUATE = "/evaluate"
ROUTE_EVALUATE_CANCEL = "/evaluate/cancel"
DEFAULT_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 60


class EvaluationRequest(NamedTuple):
    """What ``/evaluate`` was asked: one benchmark, with a method for analogies."""

    benchmark: benchmarks.Benchmark
    method: str | None  # None for word pairs
    restrict_vocab: int


def benchmarks_for(logdir: str, version: ModelVersion) -> dict[str, benchmarks.Benchmark]:
    """The benchmarks a model version can be evaluated on, by name."""
    folders = []
    if logdir:
        folders.append((fileio.join(logdir, "benchmarks"), "logdir"))
        run_dir = logdir if version.run == "." else fileio.join(logdir, version.run)
        folders.append((fileio.join(run_dir, md.PLUGIN_DIR, "benchmarks"), "run"))
    found = benchmarks.find_benchmarks(folders)
    # A benchmark file that is a symbolic link out of the logdir is not the logdir's to serve.
    return {
        name: b
        for name, b in found.items()
        if b.source == benchmarks.SOURCE_BUILTIN or fileio.is_within(b.path, logdir)
    }


def job_key(version: ModelVersion, model: LoadedModel | None, request: EvaluationRequest) -> Hashable | None:
    """The job of an evaluation: the version of ``model`` (the one evaluated: while a new version
    of the file loads, or fails to, the store answers with the previous one), else the file's
    current version, with the benchmark file's version and the options; ``None`` when neither
    model version is known."""
    try:
        bench_identity = fileio.stat(request.benchmark.path)
    except OSError:
        raise NotFound(f"benchmark file {request.benchmark.name!r} disappeared") from None
    if model is not None:
        model_key = model.identity or id(model.kv)
    else:
        try:
            model_key = fileio.stat(version.path)
        except OSError:
            return None
    return (model_key, bench_identity, request.method, request.restrict_vocab)


def run_evaluation(model: LoadedModel, request: EvaluationRequest, progress) -> dict:
    """The evaluation itself (on a worker thread), as JSON."""
    from tensorboard_plugin_w2v.analysis import evaluation

    method = request.method or arithmetic.METHOD_3COSADD
    return evaluation.evaluate(
        model.kv, request.benchmark, method, request.restrict_vocab, progress=progress
    ).to_json()


class EvaluationRoutes:
    """Evaluation routes over a :class:`Catalog`; jobs run on ``jobs``' workers."""

    def __init__(self, catalog: Catalog, jobs: BackgroundJobs):
        self.catalog = catalog
        self.jobs = jobs

    def apps(self) -> dict[str, Callable]:
        return {
            ROUTE_EVALUATE: http.json_route(self.evaluate_route),
            ROUTE_EVALUATE_CANCEL: http.json_route(self.evaluate_cancel_route, method="POST"),
        }

    def evaluate_route(self, args: MultiDict) -> dict | http.Reply:
        """One benchmark on one model version; without ``benchmark``, the benchmarks available."""
        version = self.catalog.version(params.model_ref(args))
        if not params.string(args, "benchmark", required=False):  # the listing needs no model
            return self.benchmarks_impl(version)
        model = self.catalog.store.get(version)
        request = self._request(version, args)
        wait = params.integer(args, "wait", DEFAULT_WAIT_SECONDS, minimum=0, maximum=MAX_WAIT_SECONDS)
        return self.evaluate_impl(version, model, request, wait)

    def benchmarks_impl(self, version: ModelVersion) -> dict:
        found = benchmarks_for(self.catalog.logdir, version)
        return {**header(version), "status": STATUS_DONE, "benchmarks": [b.to_json() for b in found.values()]}

    def evaluate_impl(
        self, version: ModelVersion, model: LoadedModel, request: EvaluationRequest, wait: float
    ) -> http.Reply:
        """The result when it is ready within ``wait`` seconds (200), else the job's state (202)."""
        key = job_key(version, model, request)
        status, result, cached, progress = self.jobs.run(
            key, lambda progress: run_evaluation(model, request, progress), wait
        )
        data = {**header(version, model), "benchmark": request.benchmark.name, "status": status, "cached": cached}
        if progress is not None:
            data["progress"] = progress
        data = {**data, **(result or {}), "status": status}
        return http.Reply(data, 200 if status == STATUS_DONE else 202)

    def evaluate_cancel_route(self, args: MultiDict) -> dict:
        """Stop the evaluation that ``/evaluate`` with the same parameters started."""
        version = self.catalog.version(params.model_ref(args))
        request = self._request(version, args)
        return self.evaluate_cancel_impl(version, request)

    def evaluate_cancel_impl(self, version: ModelVersion, request: EvaluationRequest) -> dict:
        loaded = self.catalog.store.status(version)[1]  # the model in memory, if any: nothing is loaded
        key = job_key(version, loaded, request)
        cancelled = key is not None and self.jobs.cancel(key)
        return {
            **header(version),
            "benchmark": request.benchmark.name,
            "status": "cancelled" if cancelled else "not_running",
        }

    def _request(self, version: ModelVersion, args: MultiDict) -> EvaluationRequest:
        found = benchmarks_for(self.catalog.logdir, version)
        name = params.string(args, "benchmark")
        if name not in found:
            raise NotFound(f"unknown benchmark {name!r}", known_benchmarks=sorted(found))
        benchmark = found[name]
        method = arithmetic.check_method(
            (params.string(args, "method", required=False) or arithmetic.METHOD_3COSADD).lower()
        )
        restrict = params.integer(args, "restrict_vocab", benchmarks.DEFAULT_RESTRICT_VOCAB, minimum=1)
        return EvaluationRequest(
            benchmark, method if benchmark.kind == benchmarks.KIND_ANALOGIES else None, restrict
        )
