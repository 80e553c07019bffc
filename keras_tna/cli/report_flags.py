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
flags.mark_flag_as_required("runs")
