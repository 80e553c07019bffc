"""Callbacks for twin training: late matching and divergence detection."""

import math

import keras

from keras_tna.methods import DIVERGENCE_ALPHA


class LateMatching(keras.callbacks.Callback):
    """Switches the matching loss on at a given epoch (the paper's Fig. 5).

    Before every epoch it sets the model's `alpha_variable` to `0` while
    `epoch < start_epoch` and to `model.alpha` from then on. The value lives in
    a variable, so the traced train step is never retraced. `TwinModel.fit`
    adds this callback with `start_epoch=model.matching_start_epoch` unless one
    is already given; resumed runs (`initial_epoch`, `BackupAndRestore`) get the
    right value because keras passes the true epoch index.

    Args:
        start_epoch: int. First epoch (0-based) with matching.

    Examples:

    >>> cb = LateMatching(start_epoch=50)
    >>> cb.start_epoch
    50
    """

    def __init__(self, start_epoch=0):
        super().__init__()
        if int(start_epoch) != start_epoch or start_epoch < 0:
            raise ValueError(
                "`start_epoch` must be an integer >= 0. "
                f"Received: start_epoch={start_epoch!r}"
            )
        self.start_epoch = int(start_epoch)

    def on_epoch_begin(self, epoch, logs=None):
        alpha = self.model.alpha if epoch >= self.start_epoch else 0.0
        self.model.alpha_variable.assign(alpha)


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when the loss stops being finite.

    The paper saw non-convergence with alpha from 5e-2 up: the loss blows up
    to inf/NaN. This callback checks the running loss after every batch and
    at the end of every epoch, sets `model.stop_training` and records
    `diverged_at` (epoch, batch), so that a training program can report it
    and keep its last good checkpoint.

    Args:
        monitor: str. The log entry to watch. Defaults to `"loss"`.

    Examples:

    >>> guard = DivergenceGuard()
    >>> guard.diverged_at is None
    True
    """

    def __init__(self, monitor="loss"):
        super().__init__()
        self.monitor = monitor
        self.diverged_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and not math.isfinite(float(value)):
            self.diverged_at = (self._epoch, batch)
            self.model.stop_training = True

    @property
    def message(self):
        if self.diverged_at is None:
            return None
        epoch, batch = self.diverged_at
        return (
            f"Training diverged: {self.monitor} became non-finite at epoch "
            f"{epoch + 1}, batch {batch + 1}. Lower alpha (the paper saw "
            f"non-convergence from {DIVERGENCE_ALPHA:g}) or the learning rate."
        )
