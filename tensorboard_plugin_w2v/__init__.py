"""tensorboard-plugin-w2v: explore word2vec models in TensorBoard.

The query functions work without TensorBoard::

    >>> from tensorboard_plugin_w2v import load_model, queries
    >>> model = load_model("logs/run1/w2v.model")          # doctest: +SKIP
    >>> queries.neighbors(model.kv, "king", k=5)            # doctest: +SKIP
"""

from tensorboard_plugin_w2v.loading import LoadedModel, load_model

__all__ = ["LoadedModel", "load_model"]
__version__ = "0.1.0"
