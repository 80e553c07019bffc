"""Corruption robustness of trained networks (the paper's Table 6); code: `keras_tna.cli.robustness`; console script `keras-tna-robustness`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli import robustness as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
