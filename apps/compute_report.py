"""The compute-matched table (TNA vs Single longer / wider / ensemble); code: `keras_tna.cli.compute_report`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli import compute_report as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
