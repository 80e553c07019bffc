r"""The compute-matched table: TNA against one network given the same compute.

Collects every results.json under `--runs` (Single and TNA at the reference
epochs, Single trained longer, a wider Single, the ensemble of two singles),
forms one row per (method, network, network arguments, epochs) and writes
`<name>.md`, `<name>.csv` and `<name>_compute.png` (accuracy against training
compute): `keras_tna.reporting.compute`.

    python apps/compute_report.py \
        --runs=docs/results/table1_convnet_cifar10_20ep/runs,docs/results/compute_matched_convnet_cifar10/runs \
        --output_dir=docs/results/compute_matched_convnet_cifar10
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from keras_tna.cli import report_flags  # noqa: E402
from keras_tna.cli import run_program  # noqa: E402
from keras_tna import tf_logs  # noqa: E402
from keras_tna.formatting import csv_text  # noqa: E402
from keras_tna.reporting.grouping import collect  # noqa: E402
from keras_tna.runs.atomic import atomic_write  # noqa: E402

flags.DEFINE_list("input_shape", ["32", "32", "3"], "Image shape for counting MACs: height,width,channels.")
flags.DEFINE_integer("num_classes", 10, "Classes of the networks, for counting MACs.", lower_bound=2)
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"compute_report.py: error: unexpected arguments {argv[1:]}")
    try:
        shape = tuple(int(v) for v in FLAGS.input_shape)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        sys.exit("compute_report.py: error: --input_shape must be three positive integers, "
                 f"e.g. 32,32,3. Received: {','.join(FLAGS.input_shape)}")
    try:
        results = collect(FLAGS.runs, seeds=report_flags.seeds())
        tf_logs.quiet_tensorflow_start()  # TensorFlow's start-up notices dropped, then:
        from keras_tna.reporting import compute  # TensorFlow (MACs): after the checks (fast --help)

        made = compute.report(results, compute.macs_counter(FLAGS.num_classes, shape))
    except (ValueError, TypeError, FileNotFoundError) as error:
        sys.exit(f"compute_report.py: error: {error}")
    print(made.table.text(), "", *made.verdicts, "", made.runs.text(), sep="\n", flush=True)
    if FLAGS.output_dir is None:
        return
    out = pathlib.Path(FLAGS.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / f"{FLAGS.name}.md", made.markdown)
    atomic_write(out / f"{FLAGS.name}.csv", csv_text(made.table.records))
    compute.plot_compute(made.table, out / f"{FLAGS.name}_compute.png")
    print(f"Wrote {out}/{FLAGS.name}.md, .csv, _compute.png", flush=True)


def run():
    """Entry point of `apps/compute_report.py`."""
    run_program(main, sys.modules[__name__], report_flags)
