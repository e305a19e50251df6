"""TensorBoard's entry point for the plugin (``tensorboard_plugins`` → :class:`Word2VecLoader`).

TensorBoard imports this module at every start, even when nobody opens the tab, so it imports
nothing heavy: the flags are defined by :mod:`.flags`, and the plugin module is imported only
when TensorBoard asks for the plugin.
"""

from __future__ import annotations

from tensorboard.plugins import base_plugin

from tensorboard_plugin_w2v.io.cachedir import default_cache_dir
from tensorboard_plugin_w2v.server import flags as _flags
from tensorboard_plugin_w2v.server.flags import parse_size

__all__ = ["Word2VecLoader", "default_cache_dir", "parse_size"]


class Word2VecLoader(base_plugin.TBLoader):
    """Defines the plugin's flags and builds :class:`~tensorboard_plugin_w2v.server.plugin.Word2VecPlugin`."""

    def define_flags(self, parser):
        _flags.define_flags(parser)

    def fix_flags(self, flags):
        _flags.fix_flags(flags)

    def load(self, context):
        from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

        return Word2VecPlugin(context)
