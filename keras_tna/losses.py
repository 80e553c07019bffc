"""The loss terms of Twin Network Augmentation and of its relatives.

Each term is a `keras.losses.Loss`, so keras' reductions, sample weights and the
`tf.distribute` scaling (division by the number of replicas) apply to it exactly
as they apply to the cross-entropy terms.

Two matching losses ship with keras_tna, selected by name in `TwinModel`:

- `"tna"`: `LogitMatching`, the paper's eq. (1) term `||o_A - o_B||_2^2`.
- `"dml"`: `MutualKL`, Deep Mutual Learning's eq. (2) term, both directions.
"""

import keras
from keras import ops

from keras_tna import settings


@keras.saving.register_keras_serializable(package="keras_tna")
class LogitMatching(keras.losses.Loss):
    """Squared L2 distance between two networks' logits (TNA's matching term).

    For a batch of logits `o_A`, `o_B` of shape `(batch, classes)` the value is
    `mean_over_batch(sum_over_classes((o_A - o_B) ** 2))`, the reduction of the
    original TNA code. `keras.losses.MeanSquaredError` also averages over the
    classes, so it is a factor `classes` smaller: `alpha` with `LogitMatching`
    equals `alpha * classes` with `MeanSquaredError`.

    The value is computed in float32 whatever the dtype policy, and the
    gradient flows into both arguments (no stop-gradient).

    Args:
        name: str. Name of the loss. Defaults to `"logit_matching"`.
        reduction: str. Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"` (the mean over the batch).

    Examples:

    >>> import numpy as np
    >>> a = np.array([[1.0, 2.0], [0.0, 0.0]], "float32")
    >>> b = np.array([[0.0, 0.0], [1.0, 1.0]], "float32")
    >>> float(LogitMatching()(a, b))  # ((1 + 4) + (1 + 1)) / 2
    3.5
    """

    def __init__(self, name="logit_matching", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction, dtype="float32")

    def call(self, y_true, y_pred):
        return ops.sum(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="keras_tna")
class MutualKL(keras.losses.Loss):
    """Deep Mutual Learning's term for a pair: `KL(p_B||p_A) + KL(p_A||p_B)`.

    Each direction holds the peer's probabilities constant (stop-gradient), so
    network A receives the gradient of `KL(p_B || p_A)` only and network B that
    of `KL(p_A || p_B)` only, as in Zhang et al. (2018) and the paper's eq. (2).
    With a temperature `T` the probabilities are `softmax(o / T)` and the value is
    multiplied by `T ** 2` (Hinton et al., 2015) so gradients keep their scale.

    Args:
        temperature: float. Softmax temperature, > 0. Defaults to `1.0`.
        name: str. Name of the loss. Defaults to `"mutual_kl"`.
        reduction: str. Keras reduction over the batch. Defaults to
            `"sum_over_batch_size"`.

    Examples:

    >>> import numpy as np
    >>> a = np.array([[2.0, 0.0]], "float32")
    >>> float(MutualKL()(a, a))
    0.0
    """

    def __init__(
        self, temperature=1.0, name="mutual_kl", reduction="sum_over_batch_size"
    ):
        settings.check("temperature", temperature)
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        t = self.temperature
        log_p_a = ops.log_softmax(y_pred / t, axis=-1)
        log_p_b = ops.log_softmax(y_true / t, axis=-1)
        return (t * t) * (
            _kl(ops.stop_gradient(log_p_b), log_p_a)
            + _kl(ops.stop_gradient(log_p_a), log_p_b)
        )

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def _kl(log_p, log_q):
    """Per-sample `KL(p || q)` from log-probabilities."""
    return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)


MATCHING_LOSSES = {"tna": LogitMatching, "dml": MutualKL}


def get_matching_loss(matching, temperature=1.0):
    """Returns the matching loss for a name or a `keras.losses.Loss`.

    Args:
        matching: str or `keras.losses.Loss`. `"tna"` (logit L2 matching) or
            `"dml"` (mutual KL), or any loss called as `loss(twin_logits,
            base_logits)`.
        temperature: float. Softmax temperature, used by `"dml"` only.

    Returns:
        A `keras.losses.Loss`.

    Examples:

    >>> get_matching_loss("tna").name
    'logit_matching'
    """
    if isinstance(matching, keras.losses.Loss):
        return matching
    if matching == "dml":
        return MutualKL(temperature=temperature)
    if matching in MATCHING_LOSSES:
        return MATCHING_LOSSES[matching]()
    raise ValueError(
        f"Unknown matching {matching!r}: use one of {sorted(MATCHING_LOSSES)} "
        f"or pass a keras.losses.Loss. Received: matching={matching!r}"
    )
