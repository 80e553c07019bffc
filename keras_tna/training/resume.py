"""Reusing a run directory: new, resume or done; the data after a resume.

Running the same configuration again resumes an interrupted run from its last
complete checkpoint and returns a finished run's results without retraining.
A directory holding a run with other settings is refused (`overwrite=True`
deletes it first), and so is one that another live process is writing. The
files are read and written by `keras_tna.runs.record.RunRecord`.
"""

from keras_tna.runs import layout
from keras_tna.runs.config import TrainConfig
from keras_tna.runs.reading import damaged_run_error
from keras_tna.runs.record import RunRecord


def check_run_dir(config, held=False):
    """Says what `train` will do with `config.output_dir`.

    Args:
        config: `TrainConfig`. The run.
        held: bool. Whether this process holds the directory's lock already.

    Returns:
        `"new"` (nothing there yet), `"resume"` (an unfinished run with the
        same settings), or `"done"` (a finished run with the same settings,
        completed, diverged or collapsed).

    Raises:
        ValueError: the directory holds a run with other settings, something
            that is not a run (and `overwrite` is off), a damaged run, or a
            run that another live process is writing (`RunLockedError`).
    """
    record = RunRecord(config.output_dir)
    out = record.path
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--output_dir={str(out)!r} is a file, not a directory. Pass "
            "another --output_dir."
        )
    if not held and config.strategy != "multi_worker":
        record.lock().check()  # the chief checks when it takes the lock
    if record.is_empty():
        return "new"
    flags_path = record.file(layout.FLAGS_FILE)
    if not record.has_flags():
        raise ValueError(
            f"--output_dir={str(out)!r} is not empty and holds no keras_tna "
            "run (no flags.txt); refusing to write into it. Pass another "
            "--output_dir."
        )
    try:
        stored = TrainConfig.from_flag_strings(record.read_flags())
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise damaged_run_error(
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
    if record.has_results():
        record.read_results()
        return "done"
    record.latest_checkpoint()  # raises, naming the repair, if unusable
    return "resume"


def run_dir_status(config, held=False):
    """`check_run_dir`, except that `overwrite` makes a previous run "new"."""
    record = RunRecord(config.output_dir)
    if config.overwrite and record.has_flags():
        if not held and config.strategy != "multi_worker":
            record.lock().check()
        return "new"
    return check_run_dir(config, held)


def start_run_dir(config, status):
    """Deletes an overwritten run, creates the directory and its flags.txt.

    `train` calls it once the run is set up (data loaded, networks built)
    and its lock taken, so that a run that fails to start leaves no
    flags.txt behind.

    Raises:
        ValueError: the directory cannot be created or written (names
            `--output_dir`).
    """
    record = RunRecord(config.output_dir)
    if status != "new":
        return
    try:
        if config.overwrite and record.has_flags():
            record.clear()
        record.write_flags(config.to_flagfile())
    except OSError as error:
        raise ValueError(
            f"Cannot write the run to --output_dir={str(record.path)!r} "
            f"({error.strerror or error}); pass a writable directory. "
            f"Received: output_dir={str(record.path)!r}"
        ) from None


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
