r"""Tables and plots of finished runs, in the paper's formats.

Collects every results.json under the given directories, groups runs by
setting (network, dataset, learning rate, epochs) and variant (method, alpha,
late-matching start), and prints mean +- std over seeds, after the last and at
the best epoch, with the gain over the single baseline (Welch's t and its
p-value beside it) and every run's own values; writes the tables as markdown and CSV,
and PNG plots: validation accuracy per epoch (single vs TNA, late matching
with its matching loss) and accuracy against alpha.

    python apps/report.py --runs=runs/table1/convnet_cifar10 \
        --output_dir=docs/results --name=table1_convnet_cifar10
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before TensorFlow loads

from keras_tna.cli.report import main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
