"""tensorboard-plugin-w2v: explore word2vec models in TensorBoard.

The query functions work without TensorBoard::

    >>> from tensorboard_plugin_w2v import load_model, queries
    >>> model = load_model("logs/run1/w2v.model")          # doctest: +SKIP
    >>> queries.neighbors(model.kv, "king", k=5)            # doctest: +SKIP

Names are imported on first use (PEP 562), so ``import tensorboard_plugin_w2v.loader`` (what
TensorBoard does at every start) does not pull in gensim, scipy or the search libraries.
"""

from __future__ import annotations

import importlib

__all__ = ["LoadedModel", "load_model", "queries", "evaluation", "comparison", "push_model"]
__version__ = "0.1.0"

_LAZY = {
    "LoadedModel": ("tensorboard_plugin_w2v.models.loading", "LoadedModel"),
    "load_model": ("tensorboard_plugin_w2v.models.loading", "load_model"),
    "queries": ("tensorboard_plugin_w2v.analysis.queries", None),
    "evaluation": ("tensorboard_plugin_w2v.analysis.evaluation", None),
    "comparison": ("tensorboard_plugin_w2v.analysis.comparison", None),
    "push_model": ("tensorboard_plugin_w2v.engines.milvus_push", "push_model"),
}


def __getattr__(name: str):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
