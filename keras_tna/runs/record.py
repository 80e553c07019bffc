"""`RunRecord`: the one owner of a run directory; every write atomic.

Training (`keras_tna.training`), resuming, reporting and analysis read and
write a run directory only through a `RunRecord` (file names:
`keras_tna.runs.layout`). Every file is written to a temporary file in the
same directory, flushed and fsynced, then renamed over the old one, so a kill
at any moment leaves either the old or the new file, never a torn one.

A checkpoint is one unit: `checkpoints/epoch_NNNN/` holds the weights (both
optimizers' states included), `progress.json` and the history rows up to
that epoch. It is built in a staging directory and renamed into place once
complete; the previous unit is deleted only after that, and
`latest_checkpoint` takes the newest complete unit (or the one before it when
the newest is damaged), never a mix of two epochs. Run directories of the
older format (`checkpoints/latest.weights.h5`, `progress.json`) are still
read. The collapse rule is `keras_tna.runs.collapse`. No TensorFlow is
imported here.
"""

import csv
import io
import json
import os
import pathlib
import shutil

from keras_tna.formatting import csv_text
from keras_tna.runs import layout
from keras_tna.runs.atomic import RunWriteError, atomic_write, fault_step, fsync_dir
from keras_tna.runs.lock import RunLock

class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT; its message says where it resumes from."""


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


def history_row(epoch, logs):
    """One row of history.csv: the epoch and its logs, numbers as `repr`."""
    row = {"epoch": str(int(epoch))}
    for key, value in (logs or {}).items():
        try:
            row[key] = repr(float(value))
        except (TypeError, ValueError):
            row[key] = str(value)
    return row


def history_text(rows):
    """history.csv's text: `epoch`, then the sorted union of the rows' keys."""
    keys = sorted({k for row in rows for k in row if k != "epoch"})
    return csv_text(sorted(rows, key=lambda r: int(r["epoch"])), ["epoch"] + keys,
                    lineterminator="\n")


def _parse_history(text):
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


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


class RunRecord:
    """The files of one run directory: the only code that reads or writes them.

    Args:
        run_dir: str or path-like. The run directory (`--output_dir`).

    Examples:

    ```python
    record = RunRecord("runs/quickstart/digits/tna/seed_0")
    record.read_results()["base_accuracy"]
    checkpoint = record.latest_checkpoint()  # None before the first epoch
    ```
    """

    def __init__(self, run_dir):
        self.path = pathlib.Path(os.fspath(run_dir))
        self.checkpoints_dir = self.path / layout.CHECKPOINTS_DIR

    # ------------------------------------------------------------ paths
    def file(self, name):
        """The path of one of the run's files (a `layout` constant)."""
        return self.path / name

    def lock(self):
        """The run's `RunLock` (a context manager; one live writer)."""
        return RunLock(self.path / layout.LOCK_FILE)

    def is_empty(self):
        """True when the directory is absent or holds nothing but a lock."""
        if not self.path.is_dir():
            return not self.path.exists()
        return all(p.name == layout.LOCK_FILE for p in self.path.iterdir())

    # ------------------------------------------------------------ small files
    def _write(self, name, content):
        self.guarded_write(self.path / name, content)

    def guarded_write(self, path, write):
        """`atomic_write`, an OSError becoming `RunWriteError` (one line)."""
        try:
            atomic_write(path, write)
        except OSError as error:
            raise self.write_error(path, error) from None

    def write_flags(self, text):
        """Writes `flags.txt`."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._write(layout.FLAGS_FILE, text)

    def read_flags(self):
        """`flags.txt` as a dict of strings (`layout.read_flagfile`)."""
        return layout.read_flagfile(self.path / layout.FLAGS_FILE)

    def has_flags(self):
        return (self.path / layout.FLAGS_FILE).is_file()

    def has_results(self):
        return (self.path / layout.RESULTS_FILE).is_file()

    def write_results(self, results):
        """Writes `results.json` (the keys of `layout.DESCRIPTION_KEYS`, ...)."""
        self._write(layout.RESULTS_FILE, json.dumps(results, indent=2) + "\n")

    def read_results(self, keys=("status",)):
        """`results.json`; a damaged one raises a `ValueError` naming it."""
        return self.read_json(self.path / layout.RESULTS_FILE, keys)

    def read_json(self, path, keys=()):
        """A JSON object of the run with one-line errors naming the file."""
        value, problem = self.try_read_json(path, keys)
        if problem is not None:
            raise damaged_run_error(path, problem, self.path)
        return value

    def try_read_json(self, path, keys=()):
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

    def write_history(self, rows):
        """Writes `history.csv` (the rows of `history_row`)."""
        self._write(layout.HISTORY_FILE, history_text(rows))

    def save_network(self, name, model):
        """Saves a keras model as `name` (`layout.BASE_FILE`, `TWIN_FILE`)."""
        self.guarded_write(self.path / name, model.save)

    # ------------------------------------------------------------ checkpoints
    def _units(self):
        """Complete checkpoint units, newest first: list of (epoch, path)."""
        if not self.checkpoints_dir.is_dir():
            return []
        units = []
        for path in self.checkpoints_dir.iterdir():
            suffix = path.name[len(layout.CHECKPOINT_PREFIX):]
            if path.name.startswith(layout.CHECKPOINT_PREFIX) and suffix.isdigit():
                units.append((int(suffix), path))
        return sorted(units, reverse=True)

    def _read_unit(self, epoch, path):
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
            if [int(r["epoch"]) for r in rows] != list(range(epoch)):
                return f"its history.csv holds {len(rows)} rows, not {epoch}"
        except (KeyError, TypeError, ValueError):
            return "its history.csv has no epoch column"
        problem = _check_h5(weights)
        if problem is not None:
            return f"{weights.name} is not readable ({problem})"
        notes = []
        progress_path = path / layout.PROGRESS_FILE
        progress, problem = self.try_read_json(progress_path, keys=("epoch", "wall_time_s"))
        if problem is None and progress["epoch"] != epoch:
            problem = f"says epoch {progress['epoch']}"
        if problem is None:
            try:
                wall = float(progress["wall_time_s"])
            except (TypeError, ValueError):
                problem = f"holds wall_time_s={progress['wall_time_s']!r}"
        if problem is not None:
            wall = sum(_number(r.get("epoch_time_s")) for r in rows)
            notes.append(
                f"Rebuilt {progress_path} ({problem}) from its checkpoint: epoch "
                f"{epoch}, wall time {wall:.0f} s from history.csv."
            )
        return Checkpoint(epoch, wall, rows, weights, notes)

    def latest_checkpoint(self):
        """The newest complete checkpoint, or None when no epoch has finished.

        A damaged newest unit (it cannot be, short of a failing disk) is
        skipped for the one before it, with a note. An old-format directory
        gives its `latest.weights.h5`; an empty or garbled `progress.json`
        beside intact weights is rebuilt from `training_metadata.json` and
        `history.csv`.

        Returns:
            `Checkpoint` or None.

        Raises:
            ValueError: checkpoints exist but none can be used; the message
                names the file and the exact repair.
        """
        notes = []
        units = self._units()
        for epoch, path in units:
            found = self._read_unit(epoch, path)
            if isinstance(found, Checkpoint):
                found.notes = notes + found.notes
                return found
            notes.append(f"Skipped the damaged checkpoint {path} ({found}).")
        if units:
            raise damaged_run_error(
                units[0][1], f"and every older checkpoint are damaged ({notes[0]})",
                self.path, repair=self._restart_repair(),
            )
        return self._legacy_checkpoint()

    def _restart_repair(self):
        return (
            f"Delete {self.checkpoints_dir} to train this run again from epoch 0 "
            "(flags.txt is kept)"
        )

    def _legacy_checkpoint(self):
        """The checkpoint of an old-format run directory (or None)."""
        checkpoints = self.checkpoints_dir
        weights = checkpoints / layout.WEIGHTS_FILE
        progress_path = checkpoints / layout.PROGRESS_FILE
        metadata_path = checkpoints / layout.METADATA_FILE
        if not weights.is_file():
            if progress_path.is_file():
                raise damaged_run_error(
                    progress_path, f"is there but {weights} is missing", self.path,
                    repair=self._restart_repair(),
                )
            return None
        problem = _check_h5(weights)
        if problem is not None:
            raise damaged_run_error(
                weights, f"is not a readable weights file ({problem})", self.path,
                repair=self._restart_repair(),
            )
        rows = self.read_history_rows()
        notes = []
        progress, problem = self.try_read_json(progress_path, keys=("epoch", "wall_time_s"))
        if problem is None:
            epoch, wall = progress["epoch"], progress["wall_time_s"]
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or (
                isinstance(wall, bool) or not isinstance(wall, (int, float))
            ):
                problem = f"holds epoch={epoch!r}, wall_time_s={wall!r}"
        if problem is not None:
            metadata, unknown = self.try_read_json(metadata_path, keys=("epoch",))
            epoch = None if unknown else metadata["epoch"]
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise damaged_run_error(
                    progress_path, problem, self.path,
                    repair=f"{metadata_path} cannot tell the epoch of the weights "
                    f"either. {self._restart_repair()}",
                )
            wall = sum(
                _number(r.get("epoch_time_s")) for r in rows if int(r["epoch"]) < epoch
            )
            notes.append(
                f"Rebuilt {progress_path} ({problem}) from {metadata_path} "
                f"(epoch {epoch}) and history.csv (wall time {wall:.0f} s)."
            )
        rows = [r for r in rows if int(r["epoch"]) < epoch]
        if len(rows) < epoch:
            notes.append(
                f"history.csv lacks {epoch - len(rows)} row(s) before epoch {epoch} "
                "(lost by the old checkpoint format)."
            )
        return Checkpoint(epoch, float(wall), rows, weights, notes)

    def read_history_rows(self):
        """`history.csv` as a list of dicts of strings ([] when absent)."""
        path = self.path / layout.HISTORY_FILE
        try:
            return _parse_history(path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise damaged_run_error(path, f"cannot be read ({error})", self.path) from None

    def completed_epochs(self):
        """Epochs finished by the newest complete checkpoint (0 without one)."""
        checkpoint = self.latest_checkpoint()
        return 0 if checkpoint is None else checkpoint.epoch

    def save_checkpoint(self, epoch, wall_time_s, rows, save_weights):
        """Writes the checkpoint after `epoch` epochs as one unit.

        Args:
            epoch: int. Epochs finished.
            wall_time_s: float. Training time so far.
            rows: list of dict. History rows of epochs `0 .. epoch - 1`.
            save_weights: callable taking a `.weights.h5` path (e.g.
                `model.save_weights`).

        Raises:
            RunWriteError: a write failed; the previous checkpoint is kept.
        """
        name = f"{layout.CHECKPOINT_PREFIX}{epoch:04d}"
        final = self.checkpoints_dir / name
        staging = self.checkpoints_dir / f"{layout.STAGING_PREFIX}{name}"
        try:
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
        except OSError as error:
            raise self.write_error(staging, error) from None
        self.guarded_write(staging / layout.CHECKPOINT_WEIGHTS_FILE, save_weights)
        self.guarded_write(staging / layout.HISTORY_FILE, history_text(rows))
        progress = {"epoch": epoch, "wall_time_s": wall_time_s}
        self.guarded_write(staging / layout.PROGRESS_FILE, json.dumps(progress))
        try:
            fsync_dir(staging)
            if final.exists():  # a unit of an epoch trained again
                self._discard(final)
            fault_step("unit", final)
            os.replace(staging, final)
            fsync_dir(self.checkpoints_dir)
        except OSError as error:
            raise self.write_error(final, error) from None
        self.write_history(rows)
        self._prune(keep=epoch)

    def finish_history(self, rows):
        """Rewrites `history.csv` from `rows` and prunes old checkpoints.

        At the end of a session: a kill after a checkpoint became complete but
        before `history.csv` (or the pruning) followed leaves them behind.
        """
        self.write_history(rows)
        units = self._units()
        if units:
            self._prune(keep=units[0][0])

    def _discard(self, path):
        """Removes a unit or file: renamed out of sight first, then deleted."""
        trash = path.with_name(f"{layout.STAGING_PREFIX}discard-{path.name}")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(path, trash)
        fault_step("prune", path)
        if trash.is_dir():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink()

    def _prune(self, keep):
        """Deletes all but the newest `KEPT_CHECKPOINTS` units, old-format files."""
        newer = [(e, p) for e, p in self._units() if e <= keep]
        doomed = [p for _, p in newer[layout.KEPT_CHECKPOINTS:]]
        doomed += [
            self.checkpoints_dir / name
            for name in (layout.WEIGHTS_FILE, layout.METADATA_FILE, layout.PROGRESS_FILE,
                         layout.WEIGHTS_FILE + ".bkp", layout.METADATA_FILE + ".bkp")
        ]
        for path in doomed:
            if path.exists():
                try:
                    self._discard(path)
                except OSError:
                    pass  # an old unit left over is harmless
        for path in self.checkpoints_dir.glob(f"{layout.STAGING_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)

    def clean_leftovers(self):
        """Removes temporary files and staging units a killed writer left."""
        for folder in (self.path, self.checkpoints_dir):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name.startswith((".tmp-", layout.STAGING_PREFIX)):
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)

    # ------------------------------------------------------------ whole run
    def clear(self):
        """Deletes the run's files (for `--overwrite`), keeping the lock."""
        if not self.path.is_dir():
            return
        for path in self.path.iterdir():
            if path.name == layout.LOCK_FILE:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    def write_error(self, path, error):
        """The one-line `RunWriteError` for a failed write of `path`."""
        try:
            usage = shutil.disk_usage(self.path if self.path.exists() else self.path.parent)
            free = f"{usage.free / 2**20:.0f} MiB free now"
        except OSError:
            free = "free space unknown"
        size = _checkpoint_size(self)
        try:
            checkpoint = self.latest_checkpoint()
        except ValueError:
            checkpoint = None
        kept = (
            f"the checkpoint after epoch {checkpoint.epoch} is kept, and the same "
            "command resumes from it"
            if checkpoint is not None
            else "no epoch had finished, so the same command starts the run again"
        )
        # h5py's OSError carries errno but a multi-line text: name the errno.
        reason = os.strerror(error.errno) if error.errno else (
            (str(error).strip().splitlines() or [type(error).__name__])[0]
        )
        return RunWriteError(
            f"Cannot write {path} ({reason}). Free at least "
            f"{max(2 * size, 2**20) / 2**20:.0f} MiB on the disk of {self.path} "
            f"({free}; a checkpoint takes about {size / 2**20:.1f} MiB) or make it "
            f"writable; {kept}.",
            error.errno, str(path),
        )

    def interrupted_error(self):
        """The one-line `RunInterrupted` for a run stopped by SIGINT."""
        try:
            checkpoint = self.latest_checkpoint()
        except ValueError:
            checkpoint = None
        if checkpoint is None:
            where = "no epoch had finished; the same command starts the run again"
        else:
            where = (
                f"the same command resumes it from the checkpoint after epoch "
                f"{checkpoint.epoch} in {self.checkpoints_dir}"
            )
        return RunInterrupted(f"Interrupted (SIGINT): {self.path}: {where}.")

    def abandon(self):
        """Removes what a new run wrote when no epoch finished (keeps the lock)."""
        try:
            if self.latest_checkpoint() is not None or self.has_results():
                return
        except ValueError:
            return
        if self.has_flags():
            self.clear()


def _checkpoint_size(record):
    """Bytes of the newest checkpoint (0 without one)."""
    units = record._units()
    path = units[0][1] if units else record.checkpoints_dir / layout.WEIGHTS_FILE
    files = path.rglob("*") if path.is_dir() else [path]
    return sum(p.stat().st_size for p in files if p.is_file())
