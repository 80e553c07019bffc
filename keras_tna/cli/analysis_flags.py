"""Flags and output helpers shared by apps/cka.py, apps/probes.py, apps/robustness.py.

Library code never reads these flags; the apps pass plain values to
`keras_tna.analysis`.
"""

import json
import os
import pathlib
import shlex
import sys

from absl import flags

from keras_tna.cli import run_program
from keras_tna.runs.atomic import atomic_write

FLAGS = flags.FLAGS

flags.DEFINE_list(
    "runs",
    None,
    "Training output dirs of apps/train.py (each with results.json and "
    "base.keras), or dirs holding them (a sweep's --output_dir), comma-separated.",
)
flags.DEFINE_string(
    "output_dir", None, "Where to write the markdown table, JSON and PNG plots."
)
flags.DEFINE_list(
    "layers",
    None,
    "Layers to analyse; default: the network's blocks (keras_tna.models."
    "block_names). Needed for networks without block_1, block_2, ... layers.",
)
flags.DEFINE_integer("batch_size", 256, "Evaluation batch size.", lower_bound=4)
flags.DEFINE_integer(
    "max_examples",
    None,
    "Use a seeded random subset of this many test images (quick looks); "
    "default: the whole test set.",
    lower_bound=4,
)
flags.DEFINE_string(
    "data_dir", None, "TFDS data dir; default: the one each run was trained with."
)
flags.mark_flags_as_required(["runs", "output_dir"])


def command_line():
    """The command that is running, for the reports."""
    script = os.path.relpath(sys.argv[0]) if os.path.exists(sys.argv[0]) else sys.argv[0]
    return "python " + " ".join(shlex.quote(a) for a in [script] + sys.argv[1:])


def write_outputs(output_dir, name, markdown, data):
    """Writes `<name>.md` and `<name>.json` into `output_dir`; returns the paths."""
    out = pathlib.Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{name}.md"
    atomic_write(md, markdown + "\n")
    js = out / f"{name}.json"
    atomic_write(js, json.dumps(data, indent=2, default=str) + "\n")
    return md, js


def shown(path):
    """A path relative to the working dir when inside it (for the reports)."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def runs_note(runs, skipped):
    """The "Runs: ..." (and "Left out (diverged): ...") lines of a report."""
    note = "Runs: " + ", ".join(shown(r.path) for r in runs) + "\n\n"
    if skipped:
        note += "Left out (diverged): " + ", ".join(shown(r.path) for r in skipped) + "\n\n"
    return note


def report_head(title, runs, skipped):
    """A report's title, the command that made it and its "Runs:" lines."""
    return f"# {title}\n\nCommand:\n\n    {command_line()}\n\n" + runs_note(runs, skipped)


def program(name, analysis):
    """The absl `main` and the entry point of an analysis program.

    `main(argv)` takes no positional arguments and turns the analysis'
    ValueError/TypeError/FileNotFoundError into a one-line error; `run()`
    parses the flags and calls `main` (the console script).

    Args:
        name: str. The program's name in messages (e.g. `"cka.py"`).
        analysis: callable. Runs the analysis from the parsed flags.

    Returns:
        tuple of two functions `(main, run)`.

    Examples:

    ```python
    main, run = program("cka.py", run_cka)
    ```
    """

    def main(argv):
        if len(argv) > 1:
            sys.exit(f"{name}: error: unexpected arguments {argv[1:]}; use --flags.")
        try:
            analysis()
        except (ValueError, TypeError, FileNotFoundError) as error:
            sys.exit(f"{name}: error: {error}")

    def run():
        run_program(main, sys.modules[analysis.__module__], sys.modules[__name__])

    return main, run
