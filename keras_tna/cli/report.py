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
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import flags  # noqa: E402

from keras_tna import reporting  # noqa: E402
from keras_tna.cli import report_flags  # noqa: E402
from keras_tna.cli import run_program  # noqa: E402

flags.DEFINE_boolean("plots", True, "Draw the PNG plots.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"report.py: error: unexpected arguments {argv[1:]}")
    try:
        reporting.report(
            FLAGS.runs, output_dir=FLAGS.output_dir, name=FLAGS.name, plots=FLAGS.plots,
            seeds=report_flags.seeds(),
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        sys.exit(f"report.py: error: {error}")


def run():
    """Entry point of the `keras-tna-report` console script."""
    run_program(main, sys.modules[__name__], report_flags)

