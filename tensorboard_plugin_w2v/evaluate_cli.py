"""``python -m tensorboard_plugin_w2v.evaluate_cli``: the code lives in :mod:`tensorboard_plugin_w2v.cli.evaluate_cli`."""

import sys

from tensorboard_plugin_w2v.cli import evaluate_cli as _module

if __name__ == "__main__":
    raise SystemExit(_module.main())
sys.modules[__name__] = _module
