"""The flags of `apps/train.py`: defined in `keras_tna.cli.train_flags`.

Kept so that `import flags` beside the apps (notebooks, older scripts) keeps
working.
"""

from keras_tna.cli.train_flags import FLAGS, config_from_flags, sweep_from_flags  # noqa: F401
