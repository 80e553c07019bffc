r"""Linear probes at every block of trained networks (the paper's Fig. 2, appendix A.3).

For each run's base network: freeze it, average-pool each block output per
channel, train a linear classifier on those features (SGD, lr 0.01, 10 epochs,
the full training set, features computed once and cached) and report its
test accuracy. Prints accuracy per block for each training method (mean +-
std over seeds) and writes probes.md, probes.json and probes.png (blocks on
x, accuracy on y, one line per method).

    python apps/probes.py --runs=runs/table1/convnet_cifar10 --output_dir=docs/analysis/probes
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli.probes import main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
