"""Reusing a run directory: new, resume or done; the data after a resume.

Running the same configuration again resumes an interrupted run from its last
finished epoch and returns a finished run's results without retraining. A
directory holding a run with other settings is refused (`overwrite=True`
deletes it first).
"""

import csv
import pathlib
import shutil

from keras_tna.runs import layout
from keras_tna.runs.config import TrainConfig


def check_run_dir(config):
    """Says what `train` will do with `config.output_dir`.

    Returns:
        `"new"` (nothing there yet), `"resume"` (an unfinished run with the
        same settings), or `"done"` (a finished run with the same settings,
        completed or diverged).

    Raises:
        ValueError: the directory holds a run with other settings, or
            something that is not a run (and `overwrite` is off).
    """
    out = pathlib.Path(config.output_dir)
    flags_path = out / layout.FLAGS_FILE
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "new"
    if not out.is_dir():
        raise ValueError(
            f"--output_dir={str(out)!r} is a file, not a directory. Pass "
            "another --output_dir."
        )
    if not flags_path.is_file():
        raise ValueError(
            f"--output_dir={str(out)!r} is not empty and holds no keras_tna "
            "run (no flags.txt); refusing to write into it. Pass another "
            "--output_dir."
        )
    try:
        stored = TrainConfig.from_flag_strings(layout.read_flagfile(flags_path))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise layout.damaged_run_error(
            flags_path, f"cannot be read as a run's flags ({error})", out
        ) from None
    stored = stored.identity()
    current = config.identity()
    differing = sorted(
        name
        for name in set(stored) | set(current)
        if stored.get(name) != current.get(name)
    )
    if differing:
        details = ", ".join(
            f"{name} (there: {stored.get(name)}, here: {current.get(name)})"
            for name in differing
        )
        raise ValueError(
            f"--output_dir={str(out)!r} holds a run with different flags: "
            f"{details}. Pass another --output_dir, or --overwrite to delete "
            "that run and start again."
        )
    results_path = out / layout.RESULTS_FILE
    if results_path.is_file():
        layout.read_json(results_path, out, keys=("status",))
        return "done"
    layout.check_resumable(out)
    return "resume"


def run_dir_status(config):
    """`check_run_dir`, except that `overwrite` makes a previous run "new"."""
    out = pathlib.Path(config.output_dir)
    if config.overwrite and (out / layout.FLAGS_FILE).is_file():
        return "new"
    return check_run_dir(config)


def start_run_dir(config, status):
    """Deletes an overwritten run, creates the directory and its flags.txt.

    `train` calls it once the run is set up (data loaded, networks built), so
    that a run that fails to start leaves no flags.txt behind.

    Raises:
        ValueError: the directory cannot be created or written (names
            `--output_dir`).
    """
    out = pathlib.Path(config.output_dir)
    if status != "new":
        return
    if config.overwrite and (out / layout.FLAGS_FILE).is_file():
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / layout.FLAGS_FILE).write_text(config.to_flagfile())
    except OSError as error:
        raise ValueError(
            f"Cannot write the run to --output_dir={str(out)!r} "
            f"({error.strerror or error}); pass a writable directory. "
            f"Received: output_dir={str(out)!r}"
        ) from None


def abandon_run_dir(config):
    """Removes what a new run wrote when it failed before finishing an epoch.

    Then nothing was trained, and leaving flags.txt behind would make a
    corrected command a "run with different flags". A run with a finished
    epoch (`progress.json`) is never touched.

    Args:
        config: `TrainConfig`. The run, started in a new directory.
    """
    out = pathlib.Path(config.output_dir)
    progress = out / layout.CHECKPOINTS_DIR / layout.PROGRESS_FILE
    if progress.exists() or not (out / layout.FLAGS_FILE).is_file():
        return
    shutil.rmtree(out, ignore_errors=True)



def epoch_stream(dataset, completed_epochs):
    """The training data as one stream of epochs, positioned after a resume.

    The pipeline draws a new shuffle order and new augmentation seeds from
    its seeded generators each time an iterator over it is created. `fit`
    gets `dataset.repeat()` with exact `steps_per_epoch`, so epoch `e` is the
    `e`-th pass whatever keras does with iterators; creating (and dropping)
    one iterator per epoch finished by an interrupted session makes a resumed
    run see the same data as an uninterrupted one.

    Returns:
        `(dataset, steps_per_epoch)` for `fit`; the dataset unchanged and
        None when its number of batches is unknown (resumed runs then see
        other shuffle orders than uninterrupted ones).
    """
    steps = int(dataset.cardinality())
    if steps <= 0:
        return dataset, None
    for _ in range(completed_epochs):
        iter(dataset)
    return dataset.repeat(), steps



def dedupe_history(path):
    """Keeps the last row per epoch (a resumed run may repeat an epoch)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    by_epoch = {}
    for row in rows:
        by_epoch[int(row["epoch"])] = row
    fields = list(rows[0].keys())
    for row in rows:
        for key in row:
            if key not in fields:
                fields.append(key)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        for epoch in sorted(by_epoch):
            writer.writerow(by_epoch[epoch])
