"""Backend-specific code: the one place a backend name is tested.

`steps()` returns the step object of the running Keras backend; `TwinModel`
asks for it once, when it is built, and never tests a backend name itself.
Each backend's module defines `STEPS` with the same methods:

- `train_step(model, *args)`, `test_step(model, *args)`: keras' step
  signatures of that backend (`(data)` on TensorFlow, `(state, data)` on JAX).
- `build_optimizers(model)`: creates both optimizers' variables
  (`model.optimizer` is the `TwinOptimizer` of `twin_optimizer.py`, the one
  owner of both optimizers on every backend).
- `num_replicas()`: replicas of the current `tf.distribute` strategy (1 on JAX).
- `assert_labels(model, y, num_classes, marker)`: `y` with a check, inside the
  step, that the class ids are whole and in `[0, num_classes)`; a failure's
  error text holds `marker` (`keras_tna.checks.during_fit`).
- `compile_fn(fn, static_argnames)`: `fn` compiled for the device (`jax.jit`
  on JAX; as it is on TensorFlow, where keras' step traces it).

`compile_fn(fn, ...)` at module level serves code outside TwinModel (the
TensorFlow-free data path) on any backend.
"""

import importlib

import keras

from keras_tna.backend.twin_optimizer import TwinOptimizer  # noqa: F401

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


def compile_fn(fn, static_argnames=()):
    """`fn` compiled for the running backend's device, for batch transforms.

    `jax.jit` on JAX; on TensorFlow, and on backends TwinModel does not train
    on, `fn` as it is.

    Args:
        fn: callable on tensors.
        static_argnames: sequence of str. Arguments that are Python values.

    Returns:
        A callable.

    Examples:

    >>> double = compile_fn(lambda x: x * 2)
    >>> int(double(3))
    6
    """
    name = keras.backend.backend()
    if name not in _MODULES:
        return fn
    return steps(name).compile_fn(fn, static_argnames)


def require_tensorflow(feature):
    """Raises ValueError unless Keras runs on TensorFlow (for TF-only features).

    Args:
        feature: str. What needs TensorFlow, for the message.

    Examples:

    >>> require_tensorflow("tf.distribute")  # on the TensorFlow backend: nothing
    """
    name = keras.backend.backend()
    if name != "tensorflow":
        raise ValueError(
            f"{feature} needs the TensorFlow backend (KERAS_BACKEND=tensorflow). "
            f"Received: backend={name!r}"
        )
