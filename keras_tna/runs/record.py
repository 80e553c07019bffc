"""`RunRecord`: the one owner of a run directory; every write atomic.

Training (`keras_tna.training`), resuming, reporting and analysis read and
write a run directory only through a `RunRecord` (file names and results.json
keys: `keras_tna.runs.layout`). Every file is written to a temporary file in
the same directory, flushed and fsynced, then renamed over the old one, so a
kill at any moment leaves either the old or the new file, never a torn one.

A checkpoint is one unit: `checkpoints/epoch_NNNN/` holds the weights (both
optimizers' states included), `progress.json` and the history rows up to
that epoch. It is built in a staging directory and renamed into place once
complete; the previous unit is deleted only after that. Reading back (the
newest complete unit, the older format, damaged files) is
`keras_tna.runs.reading`'s; `RunRecord` answers its reads through it. The
collapse rule is `keras_tna.runs.collapse`. No TensorFlow is imported here.
"""

import json
import os
import pathlib
import shutil

from keras_tna.formatting import csv_text
from keras_tna.runs import layout, reading
from keras_tna.runs.atomic import (
    TMP_PREFIX,
    RunWriteError,
    atomic_write,
    fault_step,
    fsync_dir,
)
from keras_tna.runs.lock import RunLock


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT; its message says where it resumes from."""


def history_row(epoch, logs):
    """One row of history.csv: the epoch and its logs, numbers as `repr`."""
    row = {layout.EPOCH_COLUMN: str(int(epoch))}
    for key, value in (logs or {}).items():
        try:
            row[key] = repr(float(value))
        except (TypeError, ValueError):
            row[key] = str(value)
    return row


def history_text(rows):
    """history.csv's text: `epoch`, then the sorted union of the rows' keys."""
    epoch = layout.EPOCH_COLUMN
    keys = sorted({k for row in rows for k in row if k != epoch})
    return csv_text(sorted(rows, key=lambda r: int(r[epoch])), [epoch] + keys,
                    lineterminator="\n")


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
        """True when the directory is absent or holds nothing but a lock and
        what a killed writer left (a run that never wrote its first file)."""
        if not self.path.is_dir():
            return not self.path.exists()
        return all(p.name == layout.LOCK_FILE or _is_leftover(p) for p in self.path.iterdir())

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
        """Writes `results.json`; its keys are `layout.RESULTS_KEYS` (`check_results`)."""
        layout.check_results(results)
        self._write(layout.RESULTS_FILE, json.dumps(results, indent=2) + "\n")

    def read_results(self, keys=("status",)):
        """`results.json`; a damaged one raises a `ValueError` naming it."""
        return self.read_json(self.path / layout.RESULTS_FILE, keys)

    def read_json(self, path, keys=()):
        """A JSON object of the run with one-line errors naming the file."""
        value, problem = self.try_read_json(path, keys)
        if problem is not None:
            raise reading.damaged_run_error(path, problem, self.path)
        return value

    def try_read_json(self, path, keys=()):
        """(value, None), or (None, what is wrong with the file)."""
        return reading.try_read_json(path, keys)

    def write_history(self, rows):
        """Writes `history.csv` (the rows of `history_row`)."""
        self._write(layout.HISTORY_FILE, history_text(rows))

    def save_network(self, name, model):
        """Saves a keras model as `name` (`layout.BASE_FILE`, `TWIN_FILE`)."""
        self.guarded_write(self.path / name, model.save)

    # ------------------------------------------------------------ checkpoints
    def _units(self):
        """Complete checkpoint units, newest first: list of (epoch, path)."""
        return reading.units(self.checkpoints_dir)

    def latest_checkpoint(self):
        """The newest complete checkpoint (`reading.latest_checkpoint`), or None."""
        return reading.latest_checkpoint(self.path)

    def read_history_rows(self):
        """`history.csv` as a list of dicts of strings ([] when absent)."""
        return reading.read_history_rows(self.path)

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
        progress = dict(zip(layout.PROGRESS_KEYS, (epoch, wall_time_s)))
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
                if _is_leftover(path):
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


def _is_leftover(path):
    """A temporary file (`atomic_write`'s `.tmp-<pid>-<name>`) or a staging
    checkpoint unit that a killed writer left."""
    return path.name.startswith((TMP_PREFIX, layout.STAGING_PREFIX))
