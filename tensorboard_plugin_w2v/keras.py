"""Public import path kept for compatibility: the code lives in :mod:`tensorboard_plugin_w2v.writers.keras`."""

import sys

from tensorboard_plugin_w2v.writers import keras as _module

sys.modules[__name__] = _module
