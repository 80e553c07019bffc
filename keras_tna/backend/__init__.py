"""Backend-specific code: the one place a backend name is tested.

`steps()` returns the step object of the running Keras backend; `TwinModel`
asks for it once, when it is built, and never tests a backend name itself.
Each backend's module defines `STEPS` with the same methods:

- `train_step(model, *args)`, `test_step(model, *args)`: keras' step
  signatures of that backend (`(data)` on TensorFlow and PyTorch,
  `(state, data)` on JAX).
- `build_optimizers(model)`: creates both optimizers' variables
  (`model.optimizer` is the `TwinOptimizer` of `twin_optimizer.py`, the one
  owner of both optimizers on every backend).
- `num_replicas()`: replicas of the current `tf.distribute` strategy (1 on
  JAX and PyTorch).
- `assert_labels(model, y, num_classes, marker)`: `y` with a check, inside the
  step, that the class ids are whole and in `[0, num_classes)`; a failure's
  error text holds `marker` (`keras_tna.checks.during_fit`).
- `compile_fn(fn, static_argnames)`: `fn` compiled for the device (`jax.jit`
  on JAX; as it is on TensorFlow, where keras' step traces it, and on
  PyTorch, which runs eagerly).

`compile_fn(fn, ...)` at module level serves code outside TwinModel (the
TensorFlow-free data path) on any backend.
"""

import importlib

import keras

from keras_tna.backend.twin_optimizer import TwinOptimizer

__all__ = [
    "TwinOptimizer",
    "compile_fn",
    "require_tensorflow",
    "serialize_optimizer",
    "steps",
]

_MODULES = {
    "tensorflow": "keras_tna.backend.tf_step",
    "jax": "keras_tna.backend.jax_step",
    "torch": "keras_tna.backend.torch_step",
}


def steps(backend=None):
    """The step object of a Keras backend.

    Args:
        backend: str or None. `"tensorflow"`, `"jax"` or `"torch"`; None: the running
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
            "TwinModel trains on the TensorFlow, JAX and PyTorch backends. "
            "Set KERAS_BACKEND to one of them. Received: "
            f"KERAS_BACKEND={name!r}"
        )
    return importlib.import_module(_MODULES[name]).STEPS


def compile_fn(fn, static_argnames=()):
    """`fn` compiled for the running backend's device, for batch transforms.

    `jax.jit` on JAX; on TensorFlow, PyTorch and backends TwinModel does not
    train on, `fn` as it is.

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


def serialize_optimizer(optimizer):
    """An optimizer's config that deserializes on every Keras backend.

    On PyTorch, `keras.optimizers.SGD(...)` is an instance of a backend class
    (`keras.src.backend.torch.optimizers.torch_sgd.SGD`), and
    `keras.saving.serialize_keras_object` records that module: the file then
    imports torch when loaded on TensorFlow (a segmentation fault there, see
    `tests/conftest.py`) or JAX (torch ops inside the JAX step). Here every such
    class, nested ones included (`LossScaleOptimizer`'s inner optimizer), is
    written as its public `keras.optimizers` name, which each backend maps to
    its own class again.

    Args:
        optimizer: keras.optimizers.Optimizer or None.

    Returns:
        dict (None for None): the serialized optimizer.

    Examples:

    >>> import keras
    >>> serialize_optimizer(keras.optimizers.SGD(0.1))["module"]
    'keras.optimizers'
    """
    return _public_modules(keras.saving.serialize_keras_object(optimizer))


def _public_modules(config):
    if isinstance(config, list):
        return [_public_modules(item) for item in config]
    if not isinstance(config, dict):
        return config
    config = {key: _public_modules(value) for key, value in config.items()}
    module = config.get("module")
    if isinstance(module, str) and module.startswith("keras.src.backend."):
        public = getattr(keras.optimizers, config.get("class_name", ""), None)
        if public is not None:
            config.update(module="keras.optimizers", registered_name=None)
    return config
