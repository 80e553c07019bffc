"""Trains a network with Twin Network Augmentation (or a baseline); resumable; code: `keras_tna.cli.train`; console script `keras-tna-train`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads

from keras_tna.cli import train as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
