"""Public import path kept for compatibility: the code lives in :mod:`tensorboard_plugin_w2v.writers.summary`."""

import sys

from tensorboard_plugin_w2v.writers import summary as _module

sys.modules[__name__] = _module
