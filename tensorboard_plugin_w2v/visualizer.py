"""``python -m tensorboard_plugin_w2v.visualizer``: the code lives in :mod:`tensorboard_plugin_w2v.cli.visualizer`."""

import sys

from tensorboard_plugin_w2v.cli import visualizer as _module

if __name__ == "__main__":
    raise SystemExit(_module.main())
sys.modules[__name__] = _module
