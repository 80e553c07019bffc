"""keras_tna: Twin Network Augmentation for Keras 3.

Train a base network together with a twin (cross-entropy on each plus a loss
matching their logits), keep only the base at inference.

Examples:

>>> from keras_tna import TwinModel  # doctest: +SKIP
>>> model = TwinModel(base, twin, alpha=5e-3)  # doctest: +SKIP
>>> model.fit(train_ds, validation_data=test_ds, epochs=200)  # doctest: +SKIP
>>> model.base.save("base.keras")  # doctest: +SKIP
"""

from keras_tna import callbacks, losses, models
from keras_tna.callbacks import DivergenceGuard, LateMatching
from keras_tna.losses import LogitMatching, MutualKL
from keras_tna.twin_model import METRIC_NAMES, TwinModel
from keras_tna.twins import make_twin

__version__ = "0.1.0"


# Import laziness (JAX data engineer): `keras_tna.data` is imported on first
# use, not here, because its tf.data pipelines import TensorFlow and the
# TensorFlow-free path (`keras_tna.data.arrays`, for JAX machines without
# TensorFlow) must import without it. `keras_tna.data.load(...)` is unchanged.
# `keras_tna.distribute` (tf.distribute) is reached the same way.
def __getattr__(name):
    if name in ("data", "distribute"):
        import importlib

        return importlib.import_module(f"keras_tna.{name}")
    raise AttributeError(f"module 'keras_tna' has no attribute {name!r}")

__all__ = [
    "TwinModel",
    "make_twin",
    "LogitMatching",
    "MutualKL",
    "LateMatching",
    "DivergenceGuard",
    "METRIC_NAMES",
    "callbacks",
    "data",
    "losses",
    "models",
]
