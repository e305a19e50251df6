"""``GET /info``: the limits, defaults, analogy methods and built-in benchmarks of the routes.

The tab reads it once at start, so none of these values is copied by hand into the frontend.
Every value is read from the module that enforces it.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from tensorboard_plugin_w2v import metadata as md

ROUTE_INFO = "/info"

# How the tab names the analogy methods (Levy & Goldberg 2014 call them 3CosAdd and 3CosMul).
METHOD_LABELS = {"3cosadd": "3CosAdd", "3cosmul": "3CosMul"}


def info_route(_args: MultiDict) -> dict:
    return info_impl()


def info_impl() -> dict:
    """The plugin's limits and defaults, e.g. ``info_impl()["limits"]["k"] == 1000``.

    The analysis modules are imported here, not at module level, so registering the route
    keeps TensorBoard's start light; they need numpy only (no gensim, scipy or faiss).
    """
    from tensorboard_plugin_w2v import __version__
    from tensorboard_plugin_w2v.analysis import alignment, arithmetic, benchmarks, comparison, weat_tests

    return {
        "plugin": md.PLUGIN_NAME,
        "version": __version__,
        "limits": {
            "k": md.MAX_K,
            "vocab_limit": md.MAX_VOCAB_LIMIT,
            "query_words": md.MAX_QUERY_WORDS,
            "project_words": md.MAX_PROJECT_WORDS,
            # The Projector shows at most PROJECTOR_POINT_LIMIT points: the word and its neighbours.
            "export_n": md.PROJECTOR_POINT_LIMIT - 1,
            "compare_words": comparison.MAX_WORDS,
            "compare_k": comparison.MAX_K,
            "drift_top": alignment.MAX_TOP,
            "axes_k": md.MAX_K,
        },
        "defaults": {
            "k": md.DEFAULT_K,
            "vocab_limit": md.DEFAULT_VOCAB_LIMIT,
            "method": arithmetic.METHOD_3COSADD,
            "compare_words": comparison.DEFAULT_WORDS,
            "compare_k": comparison.DEFAULT_K,
            "compare_scope": comparison.SCOPE_SHARED,
            "restrict_vocab": benchmarks.DEFAULT_RESTRICT_VOCAB,
            "export_n": md.DEFAULT_EXPORT_N,
            "drift_top": alignment.DEFAULT_TOP,
            "axes_k": md.DEFAULT_K,
            "weat_test": next(iter(weat_tests.BUILTIN_TESTS)),  # the Bias view's first test
        },
        # /analogy and /evaluate take the same methods.
        "methods": [{"name": m, "label": METHOD_LABELS.get(m, m)} for m in arithmetic.METHODS],
        "scopes": list(comparison.SCOPES),
        "benchmarks": [
            {"name": name, "kind": kind, "source": benchmarks.SOURCE_BUILTIN}
            for name, (kind, _file) in benchmarks.BUILTINS.items()
        ],
    }
