"""A model's step across replicas: synchronised BatchNorm statistics, XLA.

`synchronize_batchnorm` (batch statistics over the global batch, off by
default as in the paper) and `check_jit_compile` (XLA on request, refused
where it fails under a strategy). Part of `keras_tna.distribute`, which
re-exports every public name.
"""

import keras

from keras_tna import backend


def synchronize_batchnorm(model, synchronized=True):
    """Switches a model's BatchNormalization layers to synchronised statistics.

    With `synchronized=True` the batch mean and variance of each
    `keras.layers.BatchNormalization` are computed over the global batch
    (an all-reduce across replicas each step) instead of over each replica's
    share. Off by default, as in the paper's setting (statistics per
    device). On one device it changes nothing. The layers are changed in
    place, nested models included; do it before the first `fit` (the step
    is traced then) and the setting is saved with the model's config.
    TensorFlow backend only.

    Args:
        model: keras.Model or keras.Layer.
        synchronized: bool. Defaults to `True`.

    Returns:
        int, the number of BatchNormalization layers set.

    Examples:

    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                         keras.layers.BatchNormalization()])
    >>> keras_tna.distribute.synchronize_batchnorm(net)
    1
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    if synchronized:
        backend.require_tensorflow(
            "Synchronised BatchNorm (keras' BatchNormalization(synchronized=True))"
        )
    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(synchronized)
            count += 1
    return count


_JIT_VALUES = {"auto": "auto", "true": True, "false": False}


def check_jit_compile(jit_compile, strategy):
    """Resolves the XLA setting for `compile(jit_compile=...)`, refusing what fails.

    `"auto"` keeps keras' choice: XLA off on CPU-only machines and under
    `tf.distribute` strategies, on otherwise (one GPU/TPU). `True` asks for
    XLA, which usually pays on GPUs (measure; it made the two-network step
    1.45x slower on a CPU); it is refused with several replicas on the CPU
    devices of one machine, where the compiled step fails ("Trying to access
    resource ... located in device CPU:1 from device CPU:0").

    Args:
        jit_compile: bool or str. `True`/`False`/`"auto"` (or the strings
            `"true"`/`"false"`, as in a flagfile).
        strategy: tf.distribute.Strategy.

    Returns:
        `True`, `False` or `"auto"`.

    Examples:

    >>> keras_tna.distribute.check_jit_compile("auto", tf.distribute.get_strategy())
    'auto'
    >>> keras_tna.distribute.check_jit_compile("true", tf.distribute.get_strategy())
    True
    """
    key = str(jit_compile).lower() if isinstance(jit_compile, (str, bool)) else None
    if key not in _JIT_VALUES:
        raise ValueError(
            f"jit_compile must be one of {list(_JIT_VALUES)} (or a bool). "
            f"Received: jit_compile={jit_compile!r}"
        )
    value = _JIT_VALUES[key]
    try:
        local_devices = tuple(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError, NotImplementedError):  # the default one
        local_devices = ()
    if (
        value is True
        and len(local_devices) > 1
        and all("CPU" in d.upper() for d in local_devices)
    ):
        raise ValueError(
            "jit_compile=True (XLA) fails with several replicas on the CPUs of "
            f"one machine ({type(strategy).__name__} over {len(local_devices)} "
            "CPU devices: XLA cannot reach the other replicas' variables); use "
            "jit_compile='auto' or 'false' here, 'true' on GPUs. Received: "
            f"jit_compile={jit_compile!r}"
        )
    return value
