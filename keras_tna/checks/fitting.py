"""`CheckedFit`: `TwinModel`'s `fit` and `evaluate`, checked and guarded.

What a fit adds around `keras.Model.fit`: the model compiles itself with the
defaults when needed; the data is checked against the networks before any
step (`keras_tna.checks.data`), the networks are built on the first batch
and both optimizers built; every fit gets the callbacks it needs
(`LateMatching`, a `DivergenceGuard` unless one is given, `FrozenTwinCheck`
for a frozen twin, `StepCounter`); a failure inside the step is re-raised as
one line (`reraise_step_error`). `evaluate` gets the same data checks.
"""

import inspect
import warnings

import keras

from keras_tna.callbacks import DivergenceGuard, LateMatching
from keras_tna.checks.arguments import check_batch_size, check_logit_shapes
from keras_tna.checks.data import (
    check_data,
    check_sample_labels,
    check_validation_data,
    count_classes,
    first_batch,
)
from keras_tna.checks.during_fit import FrozenTwinCheck, StepCounter, reraise_step_error


class CheckedFit:
    """The `fit` and `evaluate` of `keras_tna.TwinModel` (a mixin before `keras.Model`).

    It reads the model's `alpha`, `freeze_twin`, `matching_start_epoch`,
    `base` and `twin`, and calls its `compile` and `build_optimizers`.
    """

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, after checking the data and building optimizers.

        Compiles with the defaults if needed, checks the data against the
        networks before any step (see `keras_tna.checks`: labels, input
        shapes, NaN/inf inputs, empty data, `validation_data`), builds both
        optimizers (so that `keras.callbacks.BackupAndRestore` restores both)
        and adds the `LateMatching` callback that sets `alpha_variable` each
        epoch.

        Divergence: unless `callbacks` holds a `keras_tna.DivergenceGuard`,
        `fit` adds `DivergenceGuard(restore_last_good=True)`: when the loss
        becomes NaN/inf, training stops, the weights and optimizer state of
        the last epoch that ended with a finite loss (or of the start of this
        `fit`) are put back and a warning names the epoch and batch and what
        to lower. Pass your own `DivergenceGuard()` to keep the diverged
        weights (or `DivergenceGuard(monitor="none")` to switch it off).
        """
        bound = _bind_fit_arguments(self, x, y, args, kwargs)
        check_batch_size(bound.get("batch_size"))
        self._prepare(x, y, bound)
        check_validation_data(self, bound.get("validation_data"))
        callbacks = list(callbacks or [])
        if not any(isinstance(c, LateMatching) for c in callbacks):
            callbacks.append(LateMatching(self.matching_start_epoch))
        guard = None
        if not any(isinstance(c, DivergenceGuard) for c in callbacks):
            guard = DivergenceGuard(restore_last_good=True)
            callbacks.append(guard)
        if self.freeze_twin:
            callbacks.append(FrozenTwinCheck(count_classes(self)))
        epochs = bound.get("epochs", 1)
        if self.alpha > 0 and self.matching_start_epoch >= epochs:
            warnings.warn(
                f"matching_start_epoch={self.matching_start_epoch} but fit runs "
                f"epochs 0 to {epochs - 1}: the matching loss never switches on. "
                "Lower matching_start_epoch or train longer.",
                stacklevel=2,
            )
        steps = StepCounter()
        callbacks.append(steps)
        try:
            history = super().fit(x, y, *args, callbacks=callbacks, **kwargs)
        except Exception as error:
            reraise_step_error(error)
            if isinstance(error, UnboundLocalError) and "logs" in str(error):
                # keras' JAX trainer fails so on data that yields no batch
                steps.check_ran()
            raise
        steps.check_ran()
        if guard is not None and guard.diverged_at is not None:
            warnings.warn(guard.message, stacklevel=2)
        return history

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._prepare(x, y, {"sample_weight": kwargs.get("sample_weight")})
        try:
            return super().evaluate(x, y, *args, **kwargs)
        except Exception as error:
            reraise_step_error(error)
            raise

    def _prepare(self, x, y, arguments=None):
        if not self.compiled:
            self.compile()
        arguments = arguments or {}
        check_data(
            self, x, y, arguments.get("sample_weight"), fit_kwargs=arguments
        )
        x_first, y_first = first_batch(x, y)
        if not self.built and x_first is not None:
            self.base(x_first[:1])
            self.twin(x_first[:1])
            self.built = True
        check_logit_shapes(self.base, self.twin, x_first)
        check_sample_labels(y_first, count_classes(self))
        if self.built:  # else keras builds both, with the networks, on the first batch
            self.build_optimizers()


def _bind_fit_arguments(model, x, y, args, kwargs):
    """`fit`'s arguments by name, whether passed by position or keyword."""
    try:
        bound = inspect.signature(keras.Model.fit).bind(
            model, x, y, *args, **kwargs
        )
    except TypeError:
        return dict(kwargs)
    arguments = dict(bound.arguments)
    arguments.update(arguments.pop("kwargs", {}))
    arguments.setdefault("epochs", 1)
    arguments.setdefault("initial_epoch", 0)
    return arguments
