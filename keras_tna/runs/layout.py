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


def completed_epochs(run_dir):
    """Epochs finished by an earlier, interrupted session of the run in `run_dir`.

    Args:
        run_dir: str or path-like. The run directory.

    Returns:
        int, 0 when no checkpoint was written.
    """
    path = pathlib.Path(run_dir) / CHECKPOINTS_DIR / PROGRESS_FILE
    if not path.is_file():
        return 0
    return int(json.loads(path.read_text())["epoch"])


def write_results(run_dir, results):
    """Writes `results` as `run_dir/results.json`.

    Args:
        run_dir: str or path-like. The run directory.
        results: dict. The keys of `DESCRIPTION_KEYS` and `OUTCOME_KEYS`.
    """
    path = pathlib.Path(run_dir) / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2) + "\n")
