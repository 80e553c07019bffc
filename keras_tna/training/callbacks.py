"""The callbacks a training run adds to `fit`: its last-good backup, epoch extras."""

import json
import math
import os
import time

import keras

from keras_tna import distribute
from keras_tna.runs import layout


class BackupKeepingLastGood(distribute.BackupAndRestore):
    """`BackupAndRestore` that never saves a diverged state and keeps its backup.

    Its backup (weights, both optimizers, epoch counter) is the run's last
    good checkpoint; the finished epochs and the accumulated training time
    are stored beside it in `progress.json`. Only the chief writes (see
    `keras_tna.distribute.BackupAndRestore`).
    """

    def __init__(self, backup_dir, strategy, guard, clock):
        super().__init__(
            backup_dir, strategy, save_freq="epoch", delete_checkpoint=False
        )
        self.guard = guard
        self.clock = clock
        self.progress_path = os.path.join(backup_dir, layout.PROGRESS_FILE)
        self.previous_wall_time = 0.0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.isfile(self.progress_path):
            with open(self.progress_path) as f:
                progress = json.load(f)
            self.previous_wall_time = progress["wall_time_s"]
            self._current_epoch = progress["epoch"]
            print(
                f"Resuming from the checkpoint after epoch {progress['epoch']} "
                f"in {self.backup_dir}",
                flush=True,
            )

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if self.guard.diverged_at is not None or (
            loss is not None and not math.isfinite(float(loss))
        ):
            return
        super().on_epoch_end(epoch, logs)
        if self.is_chief:
            with open(self.progress_path, "w") as f:
                json.dump({"epoch": epoch + 1, "wall_time_s": self.wall_time()}, f)

    def wall_time(self):
        return self.previous_wall_time + (time.time() - self.clock)

    @property
    def weights_path(self):
        return self._weights_path


class EpochExtras(keras.callbacks.Callback):
    """Adds the learning rate and the epoch's duration to the epoch logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(optimizer.learning_rate)
        )
        logs["epoch_time_s"] = time.time() - self._start
