"""keras_tna: Twin Network Augmentation for Keras 3.

Train a base network together with a twin (cross-entropy on each plus a loss
matching their logits), keep only the base at inference.

Examples:

>>> from keras_tna import TwinModel  # doctest: +SKIP
>>> model = TwinModel(base, twin, alpha=5e-3)  # doctest: +SKIP
>>> model.fit(train_ds, validation_data=test_ds, epochs=200)  # doctest: +SKIP
>>> model.base.save("base.keras")  # doctest: +SKIP
"""

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
        "keras_tna.twin_model": ("METRIC_NAMES", "TwinModel"),
        "keras_tna.twins": ("make_twin",),
    },
    globals(),
    submodules=("callbacks", "data", "distribute", "losses", "models"),
)

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
