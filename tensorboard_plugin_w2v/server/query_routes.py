"""Routes that ask one model a question: neighbours, analogy, similarity, odd one out, vocabulary,
vector, projection.

Each ``*_route`` parses its request into typed arguments and calls the ``*_impl`` function of
the same name, which takes a loaded model and those arguments and returns plain data.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import metadata as md
from tensorboard_plugin_w2v.analysis import queries
from tensorboard_plugin_w2v.errors import InvalidArgument
from tensorboard_plugin_w2v.models.model import LoadedModel
from tensorboard_plugin_w2v.server import http, params
from tensorboard_plugin_w2v.server.catalog import Catalog, header

ROUTE_NEIGHBORS = "/neighbors"
ROUTE_ANALOGY = "/analogy"
ROUTE_SIMILARITY = "/similarity"
ROUTE_DOESNT_MATCH = "/doesnt_match"
ROUTE_VOCAB = "/vocab"
ROUTE_VECTOR = "/vector"
ROUTE_PROJECT = "/project"


def neighbors_impl(
    model: LoadedModel, word: str, k: int, restrict_vocab: int | None = None, exact: bool = False
) -> dict:
    index = model.searcher(exact=exact)
    found = queries.neighbors(model.kv, word, k=k, restrict_vocab=restrict_vocab, index=index)
    return {"word": word, "exact": index is None, "neighbors": neighbor_rows(model, found)}


def analogy_impl(
    model: LoadedModel,
    positive: list[str],
    negative: list[str],
    k: int,
    method: str,
    restrict_vocab: int | None = None,
    exact: bool = False,
) -> dict:
    index = model.searcher(exact=exact)
    found = queries.analogy(
        model.kv, positive, negative, k=k, method=method, restrict_vocab=restrict_vocab, index=index
    )
    return {
        "positive": positive,
        "negative": negative,
        "method": method,
        "exact": index is None,
        "neighbors": neighbor_rows(model, found),
    }


def similarity_impl(model: LoadedModel, a: str, b: str) -> dict:
    return {"a": a, "b": b, "similarity": queries.similarity(model.kv, a, b)}


def doesnt_match_impl(model: LoadedModel, words: list[str]) -> dict:
    return {"words": words, "word": queries.doesnt_match(model.kv, words)}


def vocab_impl(model: LoadedModel, prefix: str, offset: int, limit: int) -> dict:
    words, total = queries.vocab(model.kv, prefix, offset, limit, model.counts_known)
    return {
        "prefix": prefix,
        "total": total,
        "words": [{"word": w.word, "count": w.count, "index": w.index} for w in words],
    }


def vector_impl(model: LoadedModel, word: str) -> dict:
    return {"word": word, "vector": queries.vector(model.kv, word).tolist()}


def project_impl(model: LoadedModel, words: list[str]) -> dict:
    coords, ratio = queries.project(model.kv, words)
    return {
        "explained_variance": ratio.tolist(),
        "points": [
            {"word": w, "x": float(x), "y": float(y)} for w, (x, y) in zip(words, coords, strict=True)
        ],
    }


def neighbor_rows(model: LoadedModel, found: list[queries.Neighbor]) -> list[dict]:
    return [
        {
            "word": n.word,
            "similarity": n.similarity,
            "index": n.index,
            "count": queries.word_count(model.kv, n.index, model.counts_known),
        }
        for n in found
    ]


def _k(args: MultiDict) -> int:
    return params.integer(args, "k", md.DEFAULT_K, minimum=1, maximum=md.MAX_K)


def _restrict(args: MultiDict) -> int | None:
    return params.integer(args, "restrict_vocab", None, minimum=1)


def _analogy_words(args: MultiDict) -> tuple[list[str], list[str]]:
    """``expr`` (``king - man + woman``) or ``positive``/``negative`` words, not both."""
    expr = params.string(args, "expr", required=False)
    positive = params.strings(args, "positive", md.MAX_QUERY_WORDS)
    negative = params.strings(args, "negative", md.MAX_QUERY_WORDS)
    if expr is not None:
        if positive or negative:
            raise InvalidArgument("give either expr or positive/negative words, not both")
        return queries.parse_expression(expr)
    if not positive:
        raise InvalidArgument("missing parameter 'positive' (or 'expr', e.g. 'king - man + woman')")
    return positive, negative


class QueryRoutes:
    """The query routes over a :class:`Catalog`."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def apps(self) -> dict[str, Callable]:
        return {
            ROUTE_NEIGHBORS: http.json_route(self.neighbors_route),
            ROUTE_ANALOGY: http.json_route(self.analogy_route),
            ROUTE_SIMILARITY: http.json_route(self.similarity_route),
            ROUTE_DOESNT_MATCH: http.json_route(self.doesnt_match_route),
            ROUTE_VOCAB: http.json_route(self.vocab_route),
            ROUTE_VECTOR: http.json_route(self.vector_route),
            ROUTE_PROJECT: http.json_route(self.project_route),
        }

    def neighbors_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        word = params.string(args, "word")
        data = neighbors_impl(model, word, _k(args), _restrict(args), params.boolean(args, "exact"))
        return {**header(version, model), **data}

    def analogy_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        positive, negative = _analogy_words(args)
        k = _k(args)
        method = (params.string(args, "method", required=False) or queries.METHOD_3COSADD).lower()
        restrict, exact = _restrict(args), params.boolean(args, "exact")
        return {**header(version, model), **analogy_impl(model, positive, negative, k, method, restrict, exact)}

    def similarity_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        a, b = params.string(args, "a"), params.string(args, "b")
        return {**header(version, model), **similarity_impl(model, a, b)}

    def doesnt_match_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        words = params.strings(args, "word", md.MAX_QUERY_WORDS)
        return {**header(version, model), **doesnt_match_impl(model, words)}

    def vocab_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        prefix = params.string(args, "prefix", required=False, default="")
        offset = params.integer(args, "offset", 0, minimum=0)
        limit = params.integer(args, "limit", md.DEFAULT_VOCAB_LIMIT, minimum=0, maximum=md.MAX_VOCAB_LIMIT)
        return {**header(version, model), **vocab_impl(model, prefix, offset, limit)}

    def vector_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        return {**header(version, model), **vector_impl(model, params.string(args, "word"))}

    def project_route(self, args: MultiDict) -> dict:
        version, model = self.catalog.resolve(params.model_ref(args))
        words = params.strings(args, "word", md.MAX_PROJECT_WORDS)
        if not words:
            raise InvalidArgument("missing parameter 'word' (repeat it for each word to project)")
        return {**header(version, model), **project_impl(model, words)}
