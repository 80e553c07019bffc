"""Reading a run directory back: its JSON files, history.csv, the newest checkpoint.

`keras_tna.runs.record.RunRecord` writes a run directory and answers its
reads by calling the functions here (file names: `keras_tna.runs.layout`).
Every damaged file gives one error, `damaged_run_error`, that names the file
and the way out.

`latest_checkpoint` takes the newest complete checkpoint unit
(`checkpoints/epoch_NNNN/`), or the one before it when the newest is damaged,
never a mix of two epochs; a damaged `progress.json` is rebuilt from the
unit's name and history. Run directories of the older format
(`checkpoints/latest.weights.h5`, `progress.json`) are still read. No
TensorFlow is imported here.
"""

import csv
import io
import json
import pathlib

from keras_tna.runs import layout


def damaged_run_error(path, problem, run_dir, repair=None):
    """The one-line error for a damaged file of the run in `run_dir`.

    Args:
        path: path-like. The damaged file.
        problem: str. What is wrong with it, e.g. "is not valid JSON (...)".
        run_dir: path-like. The run directory (`--output_dir`).
        repair: str or None. The exact repair, when there is one besides
            `--overwrite`.

    Returns:
        A `ValueError` to raise; it names the file and the ways out.
    """
    repair = f"{repair}; or pass" if repair else "Pass"
    return ValueError(
        f"{path} {problem}, so the run in this --output_dir cannot be resumed "
        f"or reused. {repair} --overwrite to delete that run and train it again "
        "(its files are lost), or pass another --output_dir. "
        f"Received: output_dir={str(run_dir)!r}"
    )


def try_read_json(path, keys=()):
    """(value, None), or (None, what is wrong with the file)."""
    path = pathlib.Path(path)
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot be read ({error})"
    except json.JSONDecodeError as error:
        return None, "is empty" if not error.doc.strip() else (
            f"is not valid JSON ({error.msg} at character {error.pos})"
        )
    missing = [k for k in keys if not isinstance(value, dict) or k not in value]
    if missing:
        return None, f"lacks the keys {missing}"
    return value, None


def _parse_history(text):
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def read_history_rows(run_dir):
    """`run_dir/history.csv` as a list of dicts of strings ([] when absent)."""
    path = pathlib.Path(run_dir) / layout.HISTORY_FILE
    try:
        return _parse_history(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise damaged_run_error(path, f"cannot be read ({error})", run_dir) from None


class Checkpoint:
    """A complete checkpoint: weights after `epoch` epochs, progress, history.

    Attributes:
        epoch: int. Epochs finished.
        wall_time_s: float. Training time accumulated up to then.
        rows: list of dict. The history rows of epochs `0 .. epoch - 1`.
        weights_path: pathlib.Path. The weights file (`model.load_weights`).
        notes: list of str. What was skipped or rebuilt to get here.
    """

    def __init__(self, epoch, wall_time_s, rows, weights_path, notes=()):
        self.epoch = epoch
        self.wall_time_s = wall_time_s
        self.rows = rows
        self.weights_path = pathlib.Path(weights_path)
        self.notes = list(notes)

    def __repr__(self):
        return f"Checkpoint(epoch={self.epoch}, {str(self.weights_path)!r})"


def _number(text):
    """float(text), 0.0 when it is no finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


def _check_h5(path):
    """The first line of h5py's error when `path` is not a readable HDF5 file."""
    import h5py  # here: only resuming needs it

    try:
        with h5py.File(path, "r"):
            return None
    except OSError as error:
        return (str(error).splitlines() or [""])[0]


def units(checkpoints_dir):
    """Complete checkpoint units, newest first: list of (epoch, path)."""
    if not checkpoints_dir.is_dir():
        return []
    found = []
    for path in checkpoints_dir.iterdir():
        suffix = path.name[len(layout.CHECKPOINT_PREFIX):]
        if path.name.startswith(layout.CHECKPOINT_PREFIX) and suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found, reverse=True)


def _read_unit(epoch, path):
    """A `Checkpoint` from a unit, or a str saying what is wrong with it.

    The unit's name gives its epoch, so a damaged `progress.json` is
    rebuilt (wall time: the rows' `epoch_time_s`), with a note.
    """
    weights = path / layout.CHECKPOINT_WEIGHTS_FILE
    try:
        rows = _parse_history((path / layout.HISTORY_FILE).read_text())
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        return f"its history.csv cannot be read ({error})"
    try:
        if [int(r[layout.EPOCH_COLUMN]) for r in rows] != list(range(epoch)):
            return f"its history.csv holds {len(rows)} rows, not {epoch}"
    except (KeyError, TypeError, ValueError):
        return "its history.csv has no epoch column"
    problem = _check_h5(weights)
    if problem is not None:
        return f"{weights.name} is not readable ({problem})"
    notes = []
    progress_path = path / layout.PROGRESS_FILE
    progress, problem = try_read_json(progress_path, keys=layout.PROGRESS_KEYS)
    if problem is None and progress["epoch"] != epoch:
        problem = f"says epoch {progress['epoch']}"
    if problem is None:
        try:
            wall = float(progress["wall_time_s"])
        except (TypeError, ValueError):
            problem = f"holds wall_time_s={progress['wall_time_s']!r}"
    if problem is not None:
        wall = sum(_number(r.get(layout.EPOCH_TIME_COLUMN)) for r in rows)
        notes.append(
            f"Rebuilt {progress_path} ({problem}) from its checkpoint: epoch "
            f"{epoch}, wall time {wall:.0f} s from history.csv."
        )
    return Checkpoint(epoch, wall, rows, weights, notes)


def latest_checkpoint(run_dir):
    """The newest complete checkpoint of `run_dir`, or None before the first epoch.

    A damaged newest unit (it cannot be, short of a failing disk) is
    skipped for the one before it, with a note. An old-format directory
    gives its `latest.weights.h5`; an empty or garbled `progress.json`
    beside intact weights is rebuilt from `training_metadata.json` and
    `history.csv`.

    Args:
        run_dir: pathlib.Path. The run directory.

    Returns:
        `Checkpoint` or None.

    Raises:
        ValueError: checkpoints exist but none can be used; the message
            names the file and the exact repair.
    """
    notes = []
    found_units = units(run_dir / layout.CHECKPOINTS_DIR)
    for epoch, path in found_units:
        found = _read_unit(epoch, path)
        if isinstance(found, Checkpoint):
            found.notes = notes + found.notes
            return found
        notes.append(f"Skipped the damaged checkpoint {path} ({found}).")
    if found_units:
        raise damaged_run_error(
            found_units[0][1], f"and every older checkpoint are damaged ({notes[0]})",
            run_dir, repair=_restart_repair(run_dir),
        )
    return _legacy_checkpoint(run_dir)


def _restart_repair(run_dir):
    return (
        f"Delete {run_dir / layout.CHECKPOINTS_DIR} to train this run again from "
        "epoch 0 (flags.txt is kept)"
    )


def _legacy_checkpoint(run_dir):
    """The checkpoint of an old-format run directory (or None)."""
    checkpoints = run_dir / layout.CHECKPOINTS_DIR
    weights = checkpoints / layout.WEIGHTS_FILE
    progress_path = checkpoints / layout.PROGRESS_FILE
    metadata_path = checkpoints / layout.METADATA_FILE
    if not weights.is_file():
        if progress_path.is_file():
            raise damaged_run_error(
                progress_path, f"is there but {weights} is missing", run_dir,
                repair=_restart_repair(run_dir),
            )
        return None
    problem = _check_h5(weights)
    if problem is not None:
        raise damaged_run_error(
            weights, f"is not a readable weights file ({problem})", run_dir,
            repair=_restart_repair(run_dir),
        )
    rows = read_history_rows(run_dir)
    notes = []
    progress, problem = try_read_json(progress_path, keys=layout.PROGRESS_KEYS)
    if problem is None:
        epoch, wall = progress["epoch"], progress["wall_time_s"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or (
            isinstance(wall, bool) or not isinstance(wall, (int, float))
        ):
            problem = f"holds epoch={epoch!r}, wall_time_s={wall!r}"
    if problem is not None:
        metadata, unknown = try_read_json(metadata_path, keys=("epoch",))
        epoch = None if unknown else metadata["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise damaged_run_error(
                progress_path, problem, run_dir,
                repair=f"{metadata_path} cannot tell the epoch of the weights "
                f"either. {_restart_repair(run_dir)}",
            )
        wall = sum(
            _number(r.get(layout.EPOCH_TIME_COLUMN))
            for r in rows if int(r[layout.EPOCH_COLUMN]) < epoch
        )
        notes.append(
            f"Rebuilt {progress_path} ({problem}) from {metadata_path} "
            f"(epoch {epoch}) and history.csv (wall time {wall:.0f} s)."
        )
    rows = [r for r in rows if int(r[layout.EPOCH_COLUMN]) < epoch]
    if len(rows) < epoch:
        notes.append(
            f"history.csv lacks {epoch - len(rows)} row(s) before epoch {epoch} "
            "(lost by the old checkpoint format)."
        )
    return Checkpoint(epoch, float(wall), rows, weights, notes)
