"""Flags shared by apps/report.py and apps/compute_report.py, defined once.

Library code never reads these flags; the apps pass plain values to
`keras_tna.reporting`.
"""

from absl import flags

flags.DEFINE_list(
    "runs",
    None,
    "Run directories, or directories holding runs (searched recursively for "
    "results.json), comma-separated.",
)
flags.DEFINE_string(
    "output_dir",
    None,
    "Where to write the report: <name>.md, <name>.csv and the PNG plots; "
    "default: only print.",
)
flags.DEFINE_string("name", "report", "File name stem of the written files.")
flags.DEFINE_list(
    "seeds",
    None,
    "Report only the runs of these seeds, comma-separated (a table over a seed "
    "list fixed in advance, e.g. 0,1,2); default: every run found.",
)
flags.mark_flag_as_required("runs")
FLAGS = flags.FLAGS


def seeds():
    """`--seeds` as a list of int, or None; a ValueError names the flag."""
    if FLAGS.seeds is None:
        return None
    try:
        return [int(seed) for seed in FLAGS.seeds]
    except ValueError:
        raise ValueError(
            "--seeds must be integers, comma-separated, e.g. 0,1,2. "
            f"Received: --seeds={','.join(FLAGS.seeds)}"
        ) from None
