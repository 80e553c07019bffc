"""TwinModel's backend-specific steps: the one place a backend name is tested.

`steps()` returns the step object of the running Keras backend; `TwinModel`
asks for it once, when it is built, and never tests a backend name itself.
Each backend's module defines `STEPS` with the same methods:

- `train_step(model, *args)`, `test_step(model, *args)`: keras' step
  signatures of that backend (`(data)` on TensorFlow, `(state, data)` on JAX).
- `after_compile(model)`: adapts `model.optimizer` after `compile` (JAX wraps
  the base's and the twin's optimizers into one `TwinOptimizer`).
- `build_optimizers(model)`: creates both optimizers' variables.
- `num_replicas()`: replicas of the current `tf.distribute` strategy (1 on JAX).
- `assert_labels(model, y, num_classes, marker)`: `y` with a check, inside the
  step, that the class ids are whole and in `[0, num_classes)`; a failure's
  error text holds `marker` (`keras_tna.checks.during_fit`).
"""

import importlib

import keras

_MODULES = {
    "tensorflow": "keras_tna.backend.tf_step",
    "jax": "keras_tna.backend.jax_step",
}


def steps(backend=None):
    """The step object of a Keras backend.

    Args:
        backend: str or None. `"tensorflow"` or `"jax"`; None: the running
            backend (`keras.backend.backend()`).

    Returns:
        The backend module's `STEPS` object.

    Raises:
        NotImplementedError: a backend TwinModel does not train on.

    Examples:

    >>> type(steps("tensorflow")).__name__
    'TensorFlowSteps'
    """
    name = backend or keras.backend.backend()
    if name not in _MODULES:
        raise NotImplementedError(
            "TwinModel trains on the TensorFlow and JAX backends. Received: "
            f"KERAS_BACKEND={name!r}"
        )
    return importlib.import_module(_MODULES[name]).STEPS
