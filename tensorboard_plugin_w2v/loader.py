"""Public import path kept for compatibility: the code lives in :mod:`tensorboard_plugin_w2v.server.loader`."""

import sys

from tensorboard_plugin_w2v.server import loader as _module

sys.modules[__name__] = _module
