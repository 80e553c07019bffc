"""Linear CKA between the networks of training runs (the paper's Table 5); code: `keras_tna.cli.cka`; console script `keras-tna-cka`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli import cka as program  # noqa: E402

__doc__ = program.__doc__  # absl prints the usage of __main__

if __name__ == "__main__":
    program.run()
