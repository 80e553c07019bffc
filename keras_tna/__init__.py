"""keras_tna: Twin Network Augmentation for Keras 3.

Train a base network together with a twin (cross-entropy on each plus a loss
matching their logits), keep only the base at inference.

Examples:

>>> from keras_tna import TwinModel  # doctest: +SKIP
>>> model = TwinModel(base, twin, alpha=5e-3)  # doctest: +SKIP
>>> model.fit(train_ds, validation_data=test_ds, epochs=200)  # doctest: +SKIP
>>> model.base.save("base.keras")  # doctest: +SKIP
"""

import sys

from keras_tna import tf_logs
from keras_tna.lazy import lazy_attributes

__version__ = "0.1.0"

# Every name is loaded on first use: `import keras_tna` (and so any
# `keras_tna.<module>`, e.g. the flags of apps/train.py) imports neither Keras
# nor TensorFlow, so `apps/train.py --help` and its flag errors answer at once.
# `keras_tna.data` (tf.data) and `keras_tna.distribute` (tf.distribute) are
# reached the same way; `keras_tna.TwinModel`, `keras_tna.data.load(...)`
# and `from keras_tna import TwinModel` are unchanged.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "keras_tna.callbacks": ("DivergenceGuard", "LateMatching"),
        "keras_tna.losses": ("LogitMatching", "MutualKL"),
        "keras_tna.twin_metrics": ("METRIC_NAMES",),
        "keras_tna.twin_model": ("TwinModel",),
        "keras_tna.twins": ("make_twin",),
    },
    globals(),
    submodules=("callbacks", "data", "distribute", "losses", "models"),
    # These names load Keras: TensorFlow's start-up notices are dropped first.
    before_import=tf_logs.quiet_tensorflow_start,
)

# The modules whose classes `keras.models.load_model` must find registered
# ("keras_tna>TwinModel", the matching losses, the networks' custom layers).
SAVEABLE_MODULES = ("keras_tna.twin_model", "keras_tna.losses", "keras_tna.models.layers")


def register_saveables():
    """Registers keras_tna's saveable classes with Keras (imports Keras).

    `keras.models.load_model` finds only registered classes. This runs by
    itself when Keras is imported before keras_tna (`import keras` or
    `import tensorflow` first) and whenever `keras_tna.TwinModel` is used;
    call it before loading a `.keras` file otherwise.

    Examples:

    ```python
    import keras_tna
    keras_tna.register_saveables()
    model = keras.models.load_model("twin_model.keras")
    ```
    """
    import importlib

    for module in SAVEABLE_MODULES:
        importlib.import_module(module)


def load_model(filepath, **kwargs):
    """`keras.saving.load_model`, after registering keras_tna's classes.

    Keras finds only registered classes, and it never imports a package it
    does not know: a `.keras` file holding a `TwinModel` (or a network with
    keras_tna layers) loads with this function in any order of imports, or
    with `keras.saving.load_model` once keras_tna's classes are registered
    (`import keras` before `import keras_tna`, or `register_saveables()`).

    Args:
        filepath: str or pathlib.Path. The `.keras` file.
        **kwargs: Passed to `keras.saving.load_model`.

    Returns:
        The loaded model.

    Examples:

    ```python
    import keras_tna
    model = keras_tna.load_model("twin_model.keras")
    ```
    """
    register_saveables()
    import keras

    return keras.saving.load_model(filepath, **kwargs)


if sys.modules.get("keras") is not None:  # Keras loaded (not blocked with None)
    register_saveables()

__all__ = [
    "TwinModel",
    "make_twin",
    "LogitMatching",
    "MutualKL",
    "LateMatching",
    "DivergenceGuard",
    "METRIC_NAMES",
    "register_saveables",
    "load_model",
    "callbacks",
    "data",
    "losses",
    "models",
]
