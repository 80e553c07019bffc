"""keras_tna: Twin Network Augmentation for Keras 3.

Train a base network together with a twin (cross-entropy on each plus a loss
matching their logits), keep only the base at inference.

Examples:

>>> from keras_tna import TwinModel  # doctest: +SKIP
>>> model = TwinModel(base, twin, alpha=5e-3)  # doctest: +SKIP
>>> model.fit(train_ds, validation_data=test_ds, epochs=200)  # doctest: +SKIP
>>> model.base.save("base.keras")  # doctest: +SKIP
"""

from keras_tna import callbacks, data, losses, models
from keras_tna.callbacks import DivergenceGuard, LateMatching
from keras_tna.losses import LogitMatching, MutualKL
from keras_tna.twin_model import METRIC_NAMES, TwinModel
from keras_tna.twins import make_twin

__version__ = "0.1.0"

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
