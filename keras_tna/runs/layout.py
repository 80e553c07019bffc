"""The run directory's schema: its files, results.json's keys, history.csv's columns.

`keras_tna.runs.record.RunRecord` is the one owner of a run directory `D`: it
alone writes and reads the files below (training, resuming, reporting and
analysis ask it). The names are the constants here:

    D/flags.txt                  the resolved flags, a flagfile for apps/train.py
    D/results.json               accuracies, losses, parameters, wall time, versions,
                                 status: the keys of RESULTS_KEYS (`check_results`)
    D/history.csv                per-epoch metrics (train and validation): HISTORY_COLUMNS
    D/run.lock                   the live writer (pid, host, since); gone after the run
    D/tensorboard/               TensorBoard logs (written by keras' callback)
    D/checkpoints/epoch_NNNN/    one complete checkpoint after epoch N: the weights
                                 with both optimizers' states, progress.json
                                 (epoch, wall time) and history.csv (rows 0..N-1);
                                 the newest two are kept
    D/base.keras                 the trained base network (D/twin.keras: the twin)

Run directories of keras_tna before the checkpoint units (issue 21) hold
`D/checkpoints/latest.weights.h5`, `training_metadata.json` and
`progress.json` instead; they are still resumed and reported.
"""

FLAGS_FILE = "flags.txt"
RESULTS_FILE = "results.json"
HISTORY_FILE = "history.csv"
LOCK_FILE = "run.lock"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINTS_DIR = "checkpoints"
PROGRESS_FILE = "progress.json"
BASE_FILE = "base.keras"
TWIN_FILE = "twin.keras"
# A checkpoint unit: CHECKPOINTS_DIR/<CHECKPOINT_PREFIX><epoch, 4 digits>/ with
# CHECKPOINT_WEIGHTS_FILE, PROGRESS_FILE and HISTORY_FILE inside. It is built
# under STAGING_PREFIX + its name and renamed into place once complete.
CHECKPOINT_PREFIX = "epoch_"
CHECKPOINT_WEIGHTS_FILE = "state.weights.h5"
STAGING_PREFIX = ".staging-"
KEPT_CHECKPOINTS = 2
# The old format's files in CHECKPOINTS_DIR (keras' `BackupAndRestore`).
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"

# results.json: the one declaration of its keys. `RunRecord.write_results`
# refuses any other key; docs/DESIGN.md "## The run directory" lists exactly
# these (tests/test_design.py). Known before training, in the file's order:
DESCRIPTION_KEYS = (
    "method", "model", "twin_model", "twin_checkpoint", "twin_reinit", "dataset", "seed",
    "alpha", "matching_start_epoch", "learning_rate", "batch_size", "epochs",
    "steps_per_epoch", "num_train", "num_test", "num_classes", "smoke",
    "params_base", "params_twin",
)  # fmt: skip
# After training (accuracies and losses null where there is no twin, and
# when diverged; a diverged run has no twin_loss and matching_loss):
OUTCOME_KEYS = (
    "status", "base_accuracy", "twin_accuracy", "ensemble_accuracy",
    "base_loss", "twin_loss", "matching_loss", "wall_time_s", "versions", "flags",
)  # fmt: skip
# "message" when diverged or collapsed; "last_good_epoch" only when diverged.
STATUS_KEYS = ("message", "last_good_epoch")
RESULTS_KEYS = DESCRIPTION_KEYS + OUTCOME_KEYS + STATUS_KEYS
# The keys of results.json's "versions" (`keras_tna.training.versions`).
VERSION_KEYS = ("python", "tensorflow", "keras", "numpy", "keras_tna")
STATUSES = ("completed", "diverged", "collapsed")
# Statuses of a run that failed: a sweep with one exits non-zero.
FAILED_STATUSES = ("diverged", "collapsed")

# history.csv: EPOCH_COLUMN, then the sorted union of the epochs' logs: Keras'
# (the model's metrics, `val_` + each) and the two training adds.
EPOCH_COLUMN = "epoch"
LEARNING_RATE_COLUMN = "learning_rate"
EPOCH_TIME_COLUMN = "epoch_time_s"  # seconds; a rebuilt progress.json sums them
HISTORY_COLUMNS = (EPOCH_COLUMN, LEARNING_RATE_COLUMN, EPOCH_TIME_COLUMN)
# progress.json of a checkpoint: epochs finished, training time so far.
PROGRESS_KEYS = ("epoch", "wall_time_s")


def check_results(results):
    """Raises ValueError unless `results` keeps to results.json's declared keys.

    Args:
        results: dict. What a run is about to write as `results.json`.

    Raises:
        ValueError: a key not in `RESULTS_KEYS`, a key of `DESCRIPTION_KEYS`
            missing, a status not in `STATUSES`, or `versions` keys other
            than `VERSION_KEYS`.
    """
    unknown = [key for key in results if key not in RESULTS_KEYS]
    missing = [key for key in DESCRIPTION_KEYS if key not in results]
    versions = results.get("versions")
    if unknown or missing or results.get("status") not in STATUSES or (
        versions is not None and sorted(versions) != sorted(VERSION_KEYS)
    ):
        raise ValueError(
            "results.json must keep to keras_tna.runs.layout's keys (RESULTS_KEYS, "
            f"STATUSES, VERSION_KEYS). Received: unknown keys {unknown}, missing "
            f"keys {missing}, status={results.get('status')!r}, versions keys "
            f"{None if versions is None else sorted(versions)}"
        )


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
