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

    With `restore_last_good=True` it also keeps, in memory, a copy of the
    model's weights and optimizer state at the start of training and after
    every epoch that ended with a finite loss, and puts that copy back when
    training diverged (`restored_epoch` says after which epoch, None for the
    start of the fit). This is
    what `TwinModel.fit` does unless it is given a `DivergenceGuard`.

    Args:
        monitor: str. The log entry to watch. Defaults to `"loss"`.
        restore_last_good: bool. Restore the weights and optimizer state of
            the last epoch that ended with a finite loss when training
            diverges. Defaults to `False`.

    Examples:

    >>> guard = DivergenceGuard()
    >>> guard.diverged_at is None
    True
    """

    def __init__(self, monitor="loss", restore_last_good=False):
        super().__init__()
        self.monitor = monitor
        self.restore_last_good = bool(restore_last_good)
        self.diverged_at = None
        self.restored = False
        self.restored_epoch = None
        self._epoch = 0
        self._good = None

    def on_train_begin(self, logs=None):
        self.diverged_at = None
        self.restored = False
        self.restored_epoch = None
        if self.restore_last_good:
            self._good = (None, self._snapshot())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and not math.isfinite(float(value)):
            self.diverged_at = (self._epoch, batch)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if self.diverged_at is None and value is not None and not math.isfinite(
            float(value)
        ):
            self.diverged_at = (epoch, None)
            self.model.stop_training = True
        if self.restore_last_good and self.diverged_at is None:
            self._good = (epoch + 1, self._snapshot())

    def on_train_end(self, logs=None):
        if self.restore_last_good and self.diverged_at is not None and self._good:
            epoch, values = self._good
            for variable, value in zip(self._state_variables(), values):
                variable.assign(value)
            self.restored = True
            self.restored_epoch = epoch

    def _state_variables(self):
        model = self.model
        seen, variables = set(), []
        optimizer = getattr(model, "optimizer", None)  # a TwinModel's owns both
        groups = [model.weights] + ([optimizer.variables] if optimizer is not None else [])
        for group in groups:
            for v in group:
                if id(v) not in seen:
                    seen.add(id(v))
                    variables.append(v)
        return variables

    def _snapshot(self):
        return [keras.ops.convert_to_numpy(v.value) for v in self._state_variables()]

    @property
    def message(self):
        if self.diverged_at is None:
            return None
        epoch, batch = self.diverged_at
        where = f"epoch {epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
        text = (
            f"Training diverged: {self.monitor} became non-finite at {where}. "
            f"Lower alpha (the paper saw non-convergence from {DIVERGENCE_ALPHA:g}) "
            "or the learning rate, and check the inputs and labels for NaN/inf."
        )
        if self.restored and self.restored_epoch is None:
            text += (
                " The weights and optimizer state from the start of this fit "
                "were restored."
            )
        elif self.restored:
            text += (
                " The weights and optimizer state after epoch "
                f"{self.restored_epoch}, the last good one, were restored."
            )
        return text
