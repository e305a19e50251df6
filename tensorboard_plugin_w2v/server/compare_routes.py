"""``/compare``: how much two models (or two steps of one) agree on their words' neighbourhoods."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v.analysis import comparison
from tensorboard_plugin_w2v.engines.serving import ServedModel
from tensorboard_plugin_w2v.errors import InvalidArgument
from tensorboard_plugin_w2v.models.discovery import ModelVersion
from tensorboard_plugin_w2v.server import http, params
from tensorboard_plugin_w2v.server.catalog import Catalog, header

ROUTE_COMPARE = "/compare"


def compare_impl(
    a: tuple[ModelVersion, ServedModel],
    b: tuple[ModelVersion, ServedModel],
    words: list[str] | None,
    n: int,
    k: int,
    scope: str,
) -> dict:
    """Neighbourhood overlap of two loaded model versions on ``words`` (``None``: the ``n`` most
    frequent shared words). A pushed model's matrix is read from Milvus in batches (or its local
    file); ``vectors_from`` says which."""
    (version_a, model_a), (version_b, model_b) = a, b
    if scope not in comparison.SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(comparison.SCOPES)}, not {scope!r}")
    kv_a, from_a = model_a.whole()
    kv_b, from_b = model_b.whole()
    result = comparison.compare(kv_a, kv_b, words, n=n, k=k, scope=scope)
    return {
        "a": {**header(version_a, model_a), "vocab_size": model_a.vocab_size, "dim": model_a.dim},
        "b": {**header(version_b, model_b), "vocab_size": model_b.vocab_size, "dim": model_b.dim},
        **result.to_json(),
        "vectors_from": {"a": from_a, "b": from_b},
    }


def compared_models(args: MultiDict) -> tuple[params.ModelRef, params.ModelRef]:
    """``run``/``model``/``step`` and ``run2``/``model2``/``step2``; missing second ones are the
    first model's (at its latest step)."""
    run2 = params.string(args, "run2", required=False)
    model2 = params.string(args, "model2", required=False)
    step2 = params.integer(args, "step2", default=None, minimum=params.MIN_STEP)
    if run2 is None and model2 is None and step2 is None:
        raise InvalidArgument("name the second model with run2 and model2, or step2 for another step")
    first = params.model_ref(args)
    return first, params.ModelRef(run2 or first.run, model2 or first.model, step2)


def compared_words(args: MultiDict) -> list[str]:
    """``word`` parameters and the words of ``words`` (commas or white space between them)."""
    words = params.strings(args, "word", comparison.MAX_WORDS)
    text = params.string(args, "words", required=False)
    if text:
        words += comparison.parse_words(text)
    if len(words) > comparison.MAX_WORDS:
        raise InvalidArgument(f"at most {comparison.MAX_WORDS} words can be compared, got {len(words)}")
    return words


class CompareRoutes:
    """The comparison route over a :class:`Catalog`."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def apps(self) -> dict[str, Callable]:
        return {ROUTE_COMPARE: http.json_route(self.compare_route)}

    def compare_route(self, args: MultiDict) -> dict:
        """Two model versions (``run``/``model``/``step`` and ``run2``/``model2``/``step2``)."""
        first, second = compared_models(args)
        a = self.catalog.resolve(first)
        b = self.catalog.resolve(second)
        words = compared_words(args)
        n = params.integer(args, "n", comparison.DEFAULT_WORDS, minimum=1, maximum=comparison.MAX_WORDS)
        k = params.integer(args, "k", comparison.DEFAULT_K, minimum=1, maximum=comparison.MAX_K)
        scope = params.string(args, "scope", required=False, default=comparison.SCOPE_SHARED)
        return compare_impl(a, b, words or None, n, k, scope)
