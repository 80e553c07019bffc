"""Linear probes at every block of trained networks (the paper's Fig. 2, appendix A.3); code: `keras_tna.cli.probes`; console script `keras-tna-probes`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli import probes as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
