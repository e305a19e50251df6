"""``/drift``, ``/trajectory``, ``/axes`` and ``/weat``: semantic drift, concept axes and bias tests.

Each route parses its request into typed arguments and calls a plain ``*_impl`` function of the
analysis modules (:mod:`~tensorboard_plugin_w2v.analysis.alignment`,
:mod:`~tensorboard_plugin_w2v.analysis.axes`, :mod:`~tensorboard_plugin_w2v.analysis.weat`).
Alignments (with the drift of every shared word they computed) are cached per pair of model
versions; WEAT runs on the evaluation workers, answered 202 while running and cached per model
version. Documented with examples in ``docs/http_api.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import alignment, axes, queries, weat
from tensorboard_plugin_w2v.errors import InvalidArgument, NotFound
from tensorboard_plugin_w2v.models.discovery import ModelEntry, ModelVersion
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.server import http, params
from tensorboard_plugin_w2v.server.catalog import Catalog, header
from tensorboard_plugin_w2v.server.compare_routes import compared_models
from tensorboard_plugin_w2v.server.jobs import STATUS_DONE, BackgroundJobs

ROUTE_DRIFT = "/drift"
ROUTE_TRAJECTORY = "/trajectory"
ROUTE_AXES = "/axes"
ROUTE_WEAT = "/weat"

MAX_TRAJECTORY_K = 100
MAX_WEAT_WORDS = 100  # words per WEAT list
ALL_TESTS = "all"
DEFAULT_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 60


def model_key(model: LoadedModel) -> Hashable:
    """What names a loaded model version in caches: its file identity (else the object)."""
    return model.identity or id(model.kv)


def matrix_of(catalog: Catalog, version: ModelVersion) -> tuple[LoadedModel, str]:
    """A version's whole matrix for an analysis: loaded here, or a pushed version's rows read from
    Milvus in batches (within the memory budget, else its file); the second item says which."""
    return catalog.engines.model(version).loaded_matrix()


def described(version: ModelVersion, model: LoadedModel) -> dict:
    return {**header(version), "vocab_size": model.vocab_size, "dim": model.dim}


class AnalysisRoutes:
    """The analysis routes over a :class:`Catalog`; WEAT jobs run on ``jobs``' workers."""

    def __init__(self, catalog: Catalog, jobs: BackgroundJobs):
        self.catalog = catalog
        self.jobs = jobs
        self.alignments = alignment.AlignmentCache()

    def apps(self) -> dict[str, Callable]:
        return {
            ROUTE_DRIFT: http.json_route(self.drift_route),
            ROUTE_TRAJECTORY: http.json_route(self.trajectory_route),
            ROUTE_AXES: http.json_route(self.axes_route),
            ROUTE_WEAT: http.json_route(self.weat_route),
        }

    def aligned(
        self, a: LoadedModel, b: LoadedModel, anchors: int | None
    ) -> tuple[alignment.Alignment, bool]:
        """Model ``b`` aligned onto model ``a`` (cached by both versions and ``anchors``)."""
        alignment.check_dimensions(a.kv, b.kv)
        key = (model_key(a), model_key(b), anchors)
        return self.alignments.get(key, a.kv, b.kv, anchors, a.counts_known)

    # -- drift ------------------------------------------------------------------------------

    def drift_route(self, args: MultiDict) -> dict:
        first, second = compared_models(args)
        version_a, version_b = self.catalog.version(first), self.catalog.version(second)
        (model_a, from_a), (model_b, from_b) = matrix_of(self.catalog, version_a), matrix_of(self.catalog, version_b)
        a, b = (version_a, model_a), (version_b, model_b)
        anchors = params.integer(args, "anchors", None, minimum=1)
        restrict = params.integer(args, "restrict_vocab", None, minimum=1)
        top = params.integer(args, "top", alignment.DEFAULT_TOP, minimum=0, maximum=alignment.MAX_TOP)
        words = params.strings(args, "word", md.MAX_QUERY_WORDS)
        return {**self.drift_impl(a, b, anchors, restrict, top, words), "vectors_from": {"a": from_a, "b": from_b}}

    def drift_impl(
        self,
        a: tuple[ModelVersion, LoadedModel],
        b: tuple[ModelVersion, LoadedModel],
        anchors: int | None,
        restrict_vocab: int | None,
        top: int,
        words: list[str],
    ) -> dict:
        """Model B aligned onto model A: the words that moved most and least, and ``words``."""
        started = time.perf_counter()
        (version_a, model_a), (version_b, model_b) = a, b
        aligned, cached = self.aligned(model_a, model_b, anchors)
        found = alignment.report(
            aligned, model_a.kv, model_b.kv, top=top, restrict_vocab=restrict_vocab, words=words
        )
        return {
            "a": described(version_a, model_a),
            "b": described(version_b, model_b),
            **found.to_json(),
            "cached": cached,
            "seconds": round(time.perf_counter() - started, 4),
        }

    # -- trajectory -------------------------------------------------------------------------

    def trajectory_route(self, args: MultiDict) -> dict:
        ref = params.model_ref(args)
        version = self.catalog.version(ref)
        entry = self.catalog.runs()[version.run][version.name]
        word = params.string(args, "word")
        k = params.integer(args, "k", md.DEFAULT_K, minimum=1, maximum=MAX_TRAJECTORY_K)
        anchors = params.integer(args, "anchors", None, minimum=1)
        return self.trajectory_impl(entry, word, k, anchors)

    def trajectory_impl(self, entry: ModelEntry, word: str, k: int, anchors: int | None) -> dict:
        """``word`` over the logged steps of ``entry``, every step aligned onto the last one."""
        steps = entry.steps
        if len(steps) < 2:
            raise InvalidArgument(
                f"model {entry.name!r} of run {entry.run!r} has {len(steps)} logged step(s); "
                "a trajectory needs at least two",
                steps=steps,
            )
        sampled = alignment.sample_steps(steps)
        last = matrix_of(self.catalog, entry.version(sampled[-1]))[0]
        out = [self._trajectory_step(entry, step, last, word, k, anchors) for step in sampled]
        if not any(s["in_vocabulary"] for s in out):
            raise NotFound(
                f"word {word!r} is in none of the steps' vocabularies",
                word=word,
                suggestions=queries.suggest(last.kv, word),
            )
        return {
            "run": entry.run,
            "model": entry.name,
            "word": word,
            "k": k,
            "logged_steps": len(steps),
            "steps": out,
        }

    def _trajectory_step(
        self, entry: ModelEntry, step: int, last: LoadedModel, word: str, k: int, anchors: int | None
    ) -> dict:
        model = matrix_of(self.catalog, entry.version(step))[0]
        aligned = None
        if word in model.kv.key_to_index and word in last.kv.key_to_index:
            aligned, _cached = self.aligned(last, model, anchors)
        return alignment.trajectory_step(
            step, aligned, last.kv, model.kv, word, k, index=model.searcher()
        ).to_json()

    # -- concept axes -----------------------------------------------------------------------

    def axes_route(self, args: MultiDict) -> dict:
        version = self.catalog.version(params.model_ref(args))
        model, vectors_from = matrix_of(self.catalog, version)
        x_expr = params.string(args, "x")
        y_expr = params.string(args, "y", required=False) or None
        words = list(dict.fromkeys(params.strings(args, "word", md.MAX_PROJECT_WORDS)))
        center = params.string(args, "neighbors_of", required=False) or None
        k = params.integer(args, "k", md.DEFAULT_K, minimum=1, maximum=md.MAX_K)
        if not words and center is None:
            raise InvalidArgument("give the words to place: repeat 'word', or name one with 'neighbors_of'")
        return {**axes_impl((version, model), x_expr, y_expr, words, center, k), "vectors_from": vectors_from}

    # -- WEAT -------------------------------------------------------------------------------

    def weat_route(self, args: MultiDict) -> dict | http.Reply:
        version = self.catalog.version(params.model_ref(args))
        test = params.string(args, "test", required=False) or None
        lists = {key: params.strings(args, key, MAX_WEAT_WORDS) for key in weat.SETS}
        given = [key for key in weat.SETS if lists[key]]
        if test is None and not given:  # the listing needs no model
            return {
                **header(version),
                "status": STATUS_DONE,
                "tests": [t.to_json() for t in weat.BUILTIN_TESTS.values()],
            }
        if test is not None and given:
            raise InvalidArgument("give either test or the four word lists x, y, a, b, not both")
        if test is None and len(given) < len(weat.SETS):
            absent = next(key for key in weat.SETS if not lists[key])
            raise InvalidArgument(f"missing list {absent!r} (repeat the parameter once for each word)")
        if test is not None and test != ALL_TESTS:
            weat.builtin_test(test)  # NotFound with the known names
        wait = params.integer(args, "wait", DEFAULT_WAIT_SECONDS, minimum=0, maximum=MAX_WAIT_SECONDS)
        return self.weat_impl(version, matrix_of(self.catalog, version)[0], test, lists, wait)

    def weat_impl(
        self,
        version: ModelVersion,
        model: LoadedModel,
        test: str | None,
        lists: dict[str, list[str]],
        wait: float,
    ) -> http.Reply:
        """A built-in test (``all``: every one) or four word lists, on a worker: the result when it
        is ready within ``wait`` seconds (200), else the job's state (202)."""
        what = test if test is not None else tuple(tuple(lists[key]) for key in weat.SETS)
        key = (model_key(model), "weat", what, weat.DEFAULT_SEED)
        status, result, cached, progress = self.jobs.run(
            key, lambda _progress: run_weat(model, test, lists), wait
        )
        data = {**header(version), "status": status, "cached": cached}
        if progress is not None:
            data["progress"] = progress
        data = {**data, **(result or {}), "status": status}
        return http.Reply(data, 200 if status == STATUS_DONE else 202)


def run_weat(model: LoadedModel, test: str | None, lists: dict[str, list[str]]) -> dict:
    """The test itself (on a worker thread), as JSON."""
    if test == ALL_TESTS:
        return {"tests": weat.run_all(model.kv)}
    if test is not None:
        return weat.run_builtin(model.kv, test).to_json()
    return weat.weat(model.kv, *(lists[key] for key in weat.SETS)).to_json()


def axes_impl(
    resolved: tuple[ModelVersion, LoadedModel],
    x_expr: str,
    y_expr: str | None,
    words: list[str],
    center: str | None,
    k: int,
) -> dict:
    """``words`` and/or ``center`` with its ``k`` nearest neighbours on the axes ``x_expr`` (and
    ``y_expr``); asked words missing from the vocabulary are listed, not placed."""
    version, model = resolved
    kv = model.kv
    axis_x = axes.parse_axis(kv, x_expr, "x")
    axis_y = axes.parse_axis(kv, y_expr, "y") if y_expr else None
    kinds = {w: "word" for w in words if w in kv}
    missing = [w for w in words if w not in kv]
    if center is not None:
        found = queries.neighbors(kv, center, k=k, index=model.searcher())  # NotFound if unknown
        kinds[center] = "query"  # also when it was asked as a word
        for n in found:
            kinds.setdefault(n.word, "neighbor")
    if not kinds:
        raise NotFound("none of the words is in the model's vocabulary", missing=missing[:100])
    placed = list(kinds)
    xs = axes.coordinates(kv, axis_x, placed)
    ys = axes.coordinates(kv, axis_y, placed) if axis_y else [None] * len(placed)
    return {
        **header(version),
        "x": axis_x.to_json(),
        "y": axis_y.to_json() if axis_y else None,
        "points": [
            {"word": w, "x": float(x), "y": None if y is None else float(y), "kind": kinds[w]}
            for w, x, y in zip(placed, xs, ys, strict=True)
        ],
        "missing": missing[:100],
    }
