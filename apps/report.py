"""Tables and plots of finished runs, in the paper's formats; code: `keras_tna.cli.report`; console script `keras-tna-report`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads

from keras_tna.cli import report as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
