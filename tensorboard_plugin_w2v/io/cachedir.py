"""The default cache folder: ``$XDG_CACHE_HOME/tensorboard_plugin_w2v`` (``~/.cache/…`` without it).

Light on purpose: TensorBoard's flag definitions read it at every start.
"""

from __future__ import annotations

import os


def default_cache_dir() -> str:
    """Where converted models, search indexes, vocabularies and copies of remote files go."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tensorboard_plugin_w2v")
