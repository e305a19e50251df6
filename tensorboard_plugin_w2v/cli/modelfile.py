"""The model file a command line names: opened, or one message that starts with its path.

``w2v-eval`` and ``w2v-visualizer`` both report a bad model file as
``PROG: error: PATH: problem`` (exit status 2).
"""

from __future__ import annotations

import os

from tensorboard_plugin_w2v.errors import ModelLoadError, Word2VecError
from tensorboard_plugin_w2v.models.loading import LoadedModel, load_model


def unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read as a model file, or None."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "is a directory, not a model file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def open_model(path: str) -> LoadedModel:
    """Load ``path`` in any format the plugin reads; a ``ModelLoadError`` reads ``PATH: problem``."""
    problem = unreadable(path)
    if problem:
        raise ModelLoadError(f"{path}: {problem}")
    try:
        return load_model(path)
    except Word2VecError as exc:
        raise ModelLoadError(f"{path}: {_without_name(exc.message, path)}") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _without_name(message: str, path: str) -> str:
    """A loader message without the file name it starts with (the path is put in front)."""
    base = os.path.basename(path)
    for prefix in (f"{base}: ", f"{base} "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
