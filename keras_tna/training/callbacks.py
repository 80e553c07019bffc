"""The callbacks a training run adds to `fit`: its checkpoints, epoch extras."""

import math
import os
import time

import keras

from keras_tna import distribute
from keras_tna.runs import layout
from keras_tna.runs import record as run_record


class RunCheckpoint(keras.callbacks.Callback):
    """Writes the run's checkpoint unit after every epoch with a finite loss.

    Each unit (`keras_tna.runs.record.RunRecord.save_checkpoint`) holds the
    weights with both optimizers' states, the finished epochs and training
    time, and the history rows up to that epoch; `history.csv` is rewritten
    beside it. A diverged epoch gets its history row but no checkpoint, so
    the last checkpoint is the last good epoch. Under "multi_worker" every
    worker saves the weights (saving may involve collective operations), only
    the chief into the run directory.

    Args:
        record: `RunRecord`. The run directory.
        checkpoint: `Checkpoint` or None. Where the run resumes from.
        strategy: tf.distribute.Strategy.
        guard: `keras_tna.callbacks.DivergenceGuard`. Its verdict is read.
        clock: float. `time.time()` when this session of the run started.
    """

    def __init__(self, record, checkpoint, strategy, guard, clock):
        super().__init__()
        self.record = record
        self.strategy = strategy
        self.is_chief = distribute.is_chief(strategy)
        self.guard = guard
        self.clock = clock
        self.rows = list(checkpoint.rows) if checkpoint is not None else []
        self.previous_wall_time = (
            checkpoint.wall_time_s if checkpoint is not None else 0.0
        )

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if int(r[layout.EPOCH_COLUMN]) < epoch]
        self.rows.append(run_record.history_row(epoch, logs))
        loss = (logs or {}).get("loss")
        good = self.guard.diverged_at is None and (
            loss is None or math.isfinite(float(loss))
        )
        if not self.is_chief:
            if good:
                with distribute.worker_dir(self.record.checkpoints_dir, self.strategy) as d:
                    self.model.save_weights(os.path.join(d, layout.CHECKPOINT_WEIGHTS_FILE))
            return
        if good:
            self.record.save_checkpoint(
                epoch + 1, self.wall_time(), self.rows, self.model.save_weights
            )
        else:
            self.record.write_history(self.rows)

    def wall_time(self):
        """Training time of the run so far, earlier sessions included."""
        return self.previous_wall_time + (time.time() - self.clock)


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
        logs[layout.LEARNING_RATE_COLUMN] = float(
            keras.ops.convert_to_numpy(optimizer.learning_rate)
        )
        logs[layout.EPOCH_TIME_COLUMN] = time.time() - self._start
