r"""Trains a network with Twin Network Augmentation (or a baseline); resumable.

One run:

    python apps/train.py --flagfile=configs/table1/convnet_cifar10.flags \
        --methods=tna --seeds=0 --output_dir=runs/convnet_tna

A sweep (methods x seeds [x alphas] [x late-matching starts]) trains every run
into `<output_dir>/<method>/seed_<seed>` and prints the report table:

    python apps/train.py --flagfile=configs/quickstart/digits.flags

Any flag after the flagfile overrides it. Running a finished command again
prints its results without retraining; an interrupted one resumes from its
last finished epoch. `--smoke` shrinks any config to a few steps (tests).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads

from keras_tna.cli.train import main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
