"""TensorBoard's entry point for the plugin: its ``--word2vec_*`` flags and construction.

Kept free of heavy imports so TensorBoard can list flags without loading gensim.
"""

from __future__ import annotations

import os
import re

from tensorboard.plugins import base_plugin

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``"8G"`` → bytes; a plain number means bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 512M or 8G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tensorboard_plugin_w2v")


class Word2VecLoader(base_plugin.TBLoader):
    """Defines the plugin's flags and builds :class:`Word2VecPlugin`."""

    def define_flags(self, parser):
        group = parser.add_argument_group("word2vec")
        group.add_argument(
            "--word2vec_memory_budget",
            metavar="SIZE",
            default="8G",
            help="Memory for loaded word2vec models; least recently used models "
            "are dropped beyond it (e.g. 512M, 8G). Default: %(default)s.",
        )
        group.add_argument(
            "--word2vec_cache_dir",
            metavar="DIR",
            default=default_cache_dir(),
            help="Local folder for converted models, search indexes and copies of "
            "remote files. Default: %(default)s.",
        )
        group.add_argument(
            "--word2vec_no_pickle",
            action="store_true",
            help="Refuse gensim's native (pickle-based) files, for logdirs whose "
            "writers are not trusted. Other formats keep working.",
        )
        group.add_argument(
            "--word2vec_mmap",
            choices=("auto", "always", "never"),
            default="auto",
            help="Which gensim files in the logdir are memory-mapped instead of read into memory: "
            "'always' (fastest start, least memory; a file rewritten in place while served can crash "
            "TensorBoard), 'never' (safe where jobs rewrite files in place), or 'auto': files unchanged "
            "for 5 minutes are mapped, fresher ones read (large ones from a mapped private copy in the "
            "cache folder). Default: %(default)s.",
        )
        group.add_argument(
            "--word2vec_allow_outside_logdir",
            action="store_true",
            help="Let manifests name model files outside the logdir.",
        )
        group.add_argument(
            "--word2vec_reload_interval",
            metavar="SECONDS",
            type=float,
            default=5.0,
            help="How often queries rescan the logdir for new or removed models. Default: %(default)s.",
        )

    def fix_flags(self, flags):
        try:
            flags.word2vec_memory_budget_bytes = parse_size(flags.word2vec_memory_budget)
        except ValueError as exc:
            raise base_plugin.FlagsError(f"--word2vec_memory_budget: {exc}") from None
        if flags.word2vec_reload_interval < 0:
            raise base_plugin.FlagsError("--word2vec_reload_interval must not be negative")

    def load(self, context):
        from tensorboard_plugin_w2v.server.plugin import Word2VecPlugin

        return Word2VecPlugin(context)
