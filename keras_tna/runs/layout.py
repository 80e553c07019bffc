"""The run directory contract: which files a run writes, and results.json's keys.

`keras_tna.training.train` writes a run directory `D`; `keras_tna.runs.store`
(used by `keras_tna.reporting` and `keras_tna.analysis`) reads it. Both name
its files through the constants here:

    D/flags.txt                  the resolved flags, a flagfile for apps/train.py
    D/results.json               accuracies, losses, parameters, wall time, versions, status
    D/history.csv                per-epoch metrics (train and validation)
    D/tensorboard/               TensorBoard logs
    D/checkpoints/               resume state: weights, both optimizers, epoch counter
    D/checkpoints/progress.json  finished epochs and accumulated wall time
    D/base.keras                 the trained base network (D/twin.keras: the twin)
"""

import json
import pathlib

FLAGS_FILE = "flags.txt"
RESULTS_FILE = "results.json"
HISTORY_FILE = "history.csv"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINTS_DIR = "checkpoints"
PROGRESS_FILE = "progress.json"
BASE_FILE = "base.keras"
# The files of keras' `BackupAndRestore` in CHECKPOINTS_DIR.
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
TWIN_FILE = "twin.keras"

# The keys of results.json (docs/DESIGN.md). Known before training:
DESCRIPTION_KEYS = (
    "method", "model", "twin_model", "twin_checkpoint", "twin_reinit", "dataset", "seed",
    "alpha", "matching_start_epoch", "learning_rate", "batch_size", "epochs",
    "steps_per_epoch", "num_train", "num_test", "num_classes", "smoke",
    "params_base", "params_twin",
)  # fmt: skip
# After training ("message" and "last_good_epoch" only when diverged; the
# accuracies and losses are None then):
OUTCOME_KEYS = (
    "status", "base_accuracy", "twin_accuracy", "ensemble_accuracy",
    "base_loss", "twin_loss", "matching_loss", "wall_time_s", "versions", "flags",
)  # fmt: skip
DIVERGED_KEYS = ("message", "last_good_epoch")
STATUSES = ("completed", "diverged")


def read_flagfile(path):
    """Reads the `--name=value` lines of a flagfile into a dict of strings.

    Args:
        path: str or path-like. A flagfile (e.g. a run's `flags.txt`).

    Returns:
        dict of str to str; comments and other lines are skipped.

    Examples:

    ```python
    flags = read_flagfile("runs/quickstart/tna/seed_0/flags.txt")
    ```
    """
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("--") or "=" not in line:
                continue
            name, value = line[2:].split("=", 1)
            values[name] = value
    return values


def damaged_run_error(path, problem, run_dir):
    """The one-line error for a damaged file of the run in `run_dir`.

    Args:
        path: path-like. The damaged file.
        problem: str. What is wrong with it, e.g. "is not valid JSON (...)".
        run_dir: path-like. The run directory (`--output_dir`).

    Returns:
        A `ValueError` to raise; it names the file and the ways out.
    """
    return ValueError(
        f"{path} {problem}, so the run in this --output_dir cannot be resumed "
        "or reused. Pass --overwrite to delete that run and train it again "
        "(its files are lost), or pass another --output_dir. "
        f"Received: output_dir={str(run_dir)!r}"
    )


def read_json(path, run_dir, keys=()):
    """Reads a JSON object of a run (results, progress) with one-line errors.

    Args:
        path: path-like. The file.
        run_dir: path-like. The run directory (for the message).
        keys: tuple of str. Keys the object must hold.

    Returns:
        dict.

    Raises:
        ValueError: the file is not a JSON object with `keys` (see
            `damaged_run_error`).
    """
    path = pathlib.Path(path)
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise damaged_run_error(path, f"cannot be read ({error})", run_dir) from None
    except json.JSONDecodeError as error:
        problem = "is empty" if not error.doc.strip() else (
            f"is not valid JSON ({error.msg} at character {error.pos})"
        )
        raise damaged_run_error(path, problem, run_dir) from None
    missing = [k for k in keys if not isinstance(value, dict) or k not in value]
    if missing:
        raise damaged_run_error(path, f"lacks the keys {missing}", run_dir)
    return value


def read_progress(run_dir):
    """The progress of an interrupted run: finished epochs and wall time.

    Args:
        run_dir: str or path-like. The run directory.

    Returns:
        dict with `epoch` (int) and `wall_time_s` (float), or None when no
        epoch has finished.

    Raises:
        ValueError: `progress.json` is damaged (names it and `--overwrite`).
    """
    path = pathlib.Path(run_dir) / CHECKPOINTS_DIR / PROGRESS_FILE
    if not path.is_file():
        return None
    progress = read_json(path, run_dir, keys=("epoch", "wall_time_s"))
    epoch, wall = progress["epoch"], progress["wall_time_s"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or (
        isinstance(wall, bool) or not isinstance(wall, (int, float))
    ):
        raise damaged_run_error(
            path, f"holds epoch={epoch!r}, wall_time_s={wall!r}", run_dir
        )
    return progress


def completed_epochs(run_dir):
    """Epochs finished by an earlier, interrupted session of the run in `run_dir`.

    Args:
        run_dir: str or path-like. The run directory.

    Returns:
        int, 0 when no checkpoint was written.

    Raises:
        ValueError: `progress.json` is damaged.
    """
    progress = read_progress(run_dir)
    return 0 if progress is None else progress["epoch"]


def check_resumable(run_dir):
    """Raises a one-line ValueError unless an interrupted run can resume.

    Reads `progress.json` and opens the checkpoint weights (keras'
    `BackupAndRestore` files, `WEIGHTS_FILE`) with h5py, without TensorFlow,
    so that a truncated file is named before training instead of failing
    inside h5py. Nothing is deleted.

    Args:
        run_dir: str or path-like. The run directory.
    """
    checkpoints = pathlib.Path(run_dir) / CHECKPOINTS_DIR
    progress = read_progress(run_dir)
    weights = checkpoints / WEIGHTS_FILE
    if progress is not None and progress["epoch"] > 0 and not weights.is_file():
        raise damaged_run_error(
            checkpoints / PROGRESS_FILE,
            f"says {progress['epoch']} epoch(s) finished but {weights} is missing",
            run_dir,
        )
    if weights.is_file():
        import h5py  # here: only resuming a run needs it

        try:
            with h5py.File(weights, "r"):
                pass
        except OSError as error:
            first = (str(error).splitlines() or [""])[0]
            raise damaged_run_error(
                weights, f"is not a readable weights file ({first})", run_dir
            ) from None
    metadata = checkpoints / METADATA_FILE
    if metadata.is_file():
        read_json(metadata, run_dir, keys=("epoch",))


def write_results(run_dir, results):
    """Writes `results` as `run_dir/results.json`.

    Args:
        run_dir: str or path-like. The run directory.
        results: dict. The keys of `DESCRIPTION_KEYS` and `OUTCOME_KEYS`.
    """
    path = pathlib.Path(run_dir) / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2) + "\n")
