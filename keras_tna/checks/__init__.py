"""Checks of `TwinModel`'s arguments and data, each with a one-line answer.

Every check raises `ValueError` or `TypeError` with one line that names the
problem, the fix and what was received (`Received: ...`), before any training
step runs. Data checks never iterate a `tf.data.Dataset` (one extra pass would
advance its reshuffling): they read its `element_spec` and `cardinality`, and
values that only the pipeline can show (labels out of range, fractional float
labels) are checked inside the step by `labels_in_step`, whose failure
`reraise_step_error` turns into the same kind of one-line error.

- `arguments`: the networks, hyper-parameters, optimizers and loss (build and
  compile time).
- `data`: what `fit`/`evaluate` are given (arrays, datasets, labels, weights).
- `during_fit`: the label check inside the step, and the callbacks that check
  a fit as it runs (`FrozenTwinCheck`, `StepCounter`).
- `fitting`: `CheckedFit`, `TwinModel`'s `fit` and `evaluate`: the checks
  above run before the first step, the callbacks every fit adds, step errors
  re-raised.
"""

from keras_tna.checks.arguments import (
    check_alpha,
    check_batch_size,
    check_bool,
    check_input_shapes,
    check_logit_shapes,
    check_loss,
    check_networks,
    check_optimizers,
    check_start_epoch,
    check_temperature,
)
from keras_tna.checks.data import (
    check_data,
    check_labels,
    check_sample_labels,
    check_validation_data,
    count_classes,
    first_batch,
)
from keras_tna.checks.during_fit import (
    FrozenTwinCheck,
    StepCounter,
    labels_in_step,
    reraise_step_error,
)
from keras_tna.checks.fitting import CheckedFit

__all__ = [
    "check_alpha",
    "check_batch_size",
    "check_bool",
    "check_data",
    "check_input_shapes",
    "check_labels",
    "check_logit_shapes",
    "check_loss",
    "check_networks",
    "check_optimizers",
    "check_sample_labels",
    "check_start_epoch",
    "check_temperature",
    "check_validation_data",
    "CheckedFit",
    "count_classes",
    "first_batch",
    "FrozenTwinCheck",
    "labels_in_step",
    "reraise_step_error",
    "StepCounter",
]
